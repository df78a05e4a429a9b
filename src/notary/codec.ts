// Signature envelopes by media type (signature-specification.md, Signature Envelope): decode and
// encode JWS or COSE, check raw signature bytes, and sign with a local key.

import { constants, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { MAX_ENVELOPE_BYTES } from '../oci/index.js';
import { keySpecOf, type KeySpec } from '../pki/index.js';
import { signRaw } from '../keys/index.js';
import { algorithmByName, type AlgorithmInfo, type SignatureAlgorithm } from './algorithm.js';
import { decodeCose, encodeCose } from './cose.js';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, type DecodedEnvelope, type EnvelopeMediaType, type RawSigner, type SignRequest } from './envelope.js';
import { EnvelopeError, SigningError } from './errors.js';
import { decodeJws, encodeJws, type EnvelopeEncodeOptions } from './jws.js';

export type { EnvelopeEncodeOptions } from './jws.js';

/** True when Sigil reads and writes envelopes of this media type. */
export function isEnvelopeMediaType(mediaType: string): mediaType is EnvelopeMediaType {
  return mediaType === JWS_MEDIA_TYPE || mediaType === COSE_MEDIA_TYPE;
}

function unsupported(mediaType: string): EnvelopeError {
  return new EnvelopeError('ENVELOPE_UNSUPPORTED', `signature envelope media type ${JSON.stringify(mediaType)} is not supported; use ${JWS_MEDIA_TYPE} or ${COSE_MEDIA_TYPE}`);
}

/**
 * Decodes an envelope of the given media type (matched exactly, as notation-core-go's envelope
 * registry does); throws EnvelopeError: ENVELOPE_UNSUPPORTED for another media type,
 * ENVELOPE_INVALID beyond MAX_ENVELOPE_BYTES, and whatever the format's decoder finds.
 */
export function decodeEnvelope(mediaType: string, bytes: Uint8Array): DecodedEnvelope {
  if (!isEnvelopeMediaType(mediaType)) throw unsupported(mediaType);
  if (bytes.length > MAX_ENVELOPE_BYTES) {
    throw new EnvelopeError('ENVELOPE_INVALID', `signature envelope of ${bytes.length} bytes exceeds the ${MAX_ENVELOPE_BYTES}-byte limit`);
  }
  return mediaType === JWS_MEDIA_TYPE ? decodeJws(bytes) : decodeCose(bytes);
}

/** Signs a request into an envelope of the given media type; throws EnvelopeError(ENVELOPE_UNSUPPORTED) for another one, SigningError for a bad request or signer. */
export async function encodeEnvelope(mediaType: string, request: SignRequest, sign: RawSigner, options: EnvelopeEncodeOptions = {}): Promise<Uint8Array> {
  if (!isEnvelopeMediaType(mediaType)) throw unsupported(mediaType);
  return mediaType === JWS_MEDIA_TYPE ? encodeJws(request, sign, options) : encodeCose(request, sign, options);
}

function nodeHash(algorithm: AlgorithmInfo): string {
  return algorithm.hash.replace('-', '').toLowerCase();
}

/**
 * Checks raw signature bytes over `data` with the signing certificate's public key. RSASSA-PSS
 * uses MGF1 with the same hash; JWS accepts any salt length, as golang-jwt verifies with
 * PSSSaltLengthAuto, while COSE requires salt length = hash length, as go-cose does. ECDSA takes
 * r‖s (IEEE P1363) of exactly the curve's size. False, never an exception, for a key that does
 * not match the algorithm or bytes that do not verify.
 */
export function verifySignatureBytes(algorithm: SignatureAlgorithm, publicKey: KeyObject, data: Uint8Array, signature: Uint8Array, envelope: EnvelopeMediaType): boolean {
  const info = algorithmByName(algorithm);
  if (info === undefined || signature.length !== info.signatureSize) return false;
  try {
    // notation-core-go base envelope: alg must be the one the key derives (algorithm substitution).
    if (keySpecOf(publicKey) !== info.keySpec) return false;
    if (info.jws.startsWith('PS')) {
      const saltLength = envelope === JWS_MEDIA_TYPE ? constants.RSA_PSS_SALTLEN_AUTO : constants.RSA_PSS_SALTLEN_DIGEST;
      return cryptoVerify(nodeHash(info), data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
    }
    return cryptoVerify(nodeHash(info), data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    // node:crypto throws for keys it cannot use this way; that signature does not verify.
    return false;
  }
}

/**
 * A RawSigner over a local private key: RSASSA-PSS with salt length = hash length (valid for
 * both envelopes) or ECDSA r‖s. Throws SigningError(SIGNING_FAILED) when the key is not the
 * algorithm's key spec.
 */
export function createRawSigner(privateKey: KeyObject, algorithm: SignatureAlgorithm): RawSigner {
  const info = algorithmByName(algorithm);
  if (info === undefined) throw new SigningError('SIGNING_FAILED', `unsupported signature algorithm ${JSON.stringify(algorithm)}`);
  if (privateKey.type !== 'private') throw new SigningError('SIGNING_FAILED', 'signing needs a private key');
  let spec: KeySpec;
  try {
    spec = keySpecOf(privateKey);
  } catch (cause) {
    throw new SigningError('SIGNING_FAILED', `the signing key cannot be used: ${(cause as Error).message}`, { cause });
  }
  if (spec !== info.keySpec) throw new SigningError('SIGNING_FAILED', `a ${spec} key cannot sign with ${info.name}, which needs a ${info.keySpec} key`);
  // The signing itself is keys/'s: one implementation of the Notary raw-signature rules.
  return (data) =>
    signRaw(privateKey, spec, data).catch((cause: unknown) => {
      throw new SigningError('SIGNING_FAILED', `signing with the local key failed: ${(cause as Error).message}`, { cause });
    });
}
