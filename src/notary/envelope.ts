// The signature envelope model shared by the JWS and COSE codecs (signature-specification.md,
// Signature Envelope): what is signed, by whom, when, and the bytes the signature covers.

import type { SignatureAlgorithm } from './algorithm.js';

/** JWS JSON serialization envelope (signature-envelope-jws.md). */
export const JWS_MEDIA_TYPE = 'application/jose+json';
/** COSE_Sign1 envelope (signature-envelope-cose.md). */
export const COSE_MEDIA_TYPE = 'application/cose';
/** The envelope media types Sigil reads and writes. */
export type EnvelopeMediaType = typeof JWS_MEDIA_TYPE | typeof COSE_MEDIA_TYPE;
/** The only payload content type the Notary Project defines. */
export const PAYLOAD_CONTENT_TYPE = 'application/vnd.cncf.notary.payload.v1+json';

/** signing-scheme.md: plain X.509 (`signingTime`) or a signing authority (`authenticSigningTime`). */
export type SigningScheme = 'notary.x509' | 'notary.x509.signingAuthority';

/** A protected header beyond the ones the spec names; critical when listed in `crit`. */
export interface ExtendedAttribute {
  readonly key: string | number;
  /** JSON value for JWS; for COSE the decoded CBOR value (string, number, bytes, …). */
  readonly value: unknown;
  readonly critical: boolean;
}

/** The signed (protected) attributes of a signature. */
export interface SignedAttributes {
  readonly signingScheme: SigningScheme;
  /** `io.cncf.notary.signingTime` (notary.x509) or `io.cncf.notary.authenticSigningTime` (signingAuthority). */
  readonly signingTime: Date;
  /** `io.cncf.notary.expiry`, when set. */
  readonly expiry: Date | undefined;
  /** Everything else in the protected header, in document order (includes verificationPlugin[MinVersion]). */
  readonly extendedAttributes: readonly ExtendedAttribute[];
}

/** The unsigned (unprotected) attributes of a signature. */
export interface UnsignedAttributes {
  readonly signingAgent: string | undefined;
  /** DER of an RFC 3161 TimeStampToken over the signature bytes. */
  readonly timestampSignature: Uint8Array | undefined;
}

/** Who signed, how, and the signature itself (notation-core-go signature.SignerInfo). */
export interface SignerInfo {
  readonly signedAttributes: SignedAttributes;
  readonly unsignedAttributes: UnsignedAttributes;
  readonly signatureAlgorithm: SignatureAlgorithm;
  /** DER certificates, leaf first, root last, exactly as carried in `x5c` / `x5chain`. */
  readonly certificateChain: readonly Uint8Array[];
  /** The raw signature: RSASSA-PSS bytes, or ECDSA r‖s (IEEE P1363). */
  readonly signature: Uint8Array;
}

/** The decoded content of an envelope. */
export interface EnvelopeContent {
  readonly signerInfo: SignerInfo;
  readonly payload: { readonly contentType: string; readonly content: Uint8Array };
}

/** An envelope after decoding: its content and the exact bytes its signature covers. */
export interface DecodedEnvelope {
  readonly mediaType: EnvelopeMediaType;
  readonly content: EnvelopeContent;
  /** JWS: ASCII `protected.payload`; COSE: the CBOR-encoded Sig_structure (ToBeSigned). */
  readonly signedBytes: Uint8Array;
}

/** What to sign and how; the codec turns it into protected headers. */
export interface SignRequest {
  readonly payload: { readonly contentType: string; readonly content: Uint8Array };
  readonly signingScheme: SigningScheme;
  readonly signingTime: Date;
  readonly expiry?: Date | undefined;
  readonly extendedAttributes?: readonly ExtendedAttribute[] | undefined;
  readonly signingAgent?: string | undefined;
  readonly signatureAlgorithm: SignatureAlgorithm;
  /** DER certificates, leaf first. */
  readonly certificateChain: readonly Uint8Array[];
}

/** Produces the raw signature over `data` (the plugin protocol's RAW generate-signature contract). */
export type RawSigner = (data: Uint8Array) => Promise<Uint8Array>;
