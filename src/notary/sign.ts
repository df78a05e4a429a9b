// Producing Notary signatures: payload → envelope → signature manifest, and pushing them next to
// the artifact (signature-specification.md; notation-go notation.go Sign).

import { isSameContent, type Descriptor, type Exister, type OperationOptions, type Pusher } from '../oci/index.js';
import { validateCodeSigningChain } from '../pki/index.js';
import type { Signer } from '../keys/index.js';
import { ALGORITHMS } from './algorithm.js';
import { decodeEnvelope, encodeEnvelope, verifySignatureBytes } from './codec.js';
import { PAYLOAD_CONTENT_TYPE, type EnvelopeMediaType } from './envelope.js';
import { NotaryError, SigningError } from './errors.js';
import { encodePayload } from './payload.js';
import { packSignature, type PackedSignature } from './signature-manifest.js';

/** Annotation keys with this prefix are reserved for the Notary Project (notation-go addUserMetadataToDescriptor). */
const RESERVED_PREFIX = 'io.cncf.notary';

/** What to sign and with what. */
export interface SignArtifactRequest {
  /** The resolved manifest descriptor of the artifact; always a digest, never a tag. */
  readonly artifact: Descriptor;
  readonly signer: Signer;
  readonly envelopeMediaType: EnvelopeMediaType;
  readonly signingTime: Date;
  /** `--expiry`: the signature is not valid after this instant. */
  readonly expiry?: Date | undefined;
  /** `--user-metadata k=v`: signed into the payload's targetArtifact annotations. */
  readonly userMetadata?: Readonly<Record<string, string>> | undefined;
  /** `io.cncf.notary.signingAgent`. */
  readonly signingAgent: string;
}

/** Adds user metadata to the target descriptor, refusing reserved and duplicate keys as Notation does. */
export function withUserMetadata(artifact: Descriptor, metadata: Readonly<Record<string, string>> | undefined): Descriptor {
  // A Map, not an object: keys such as `__proto__` or `toString` are data here, never the prototype's.
  const annotations = new Map<string, string>(Object.entries(artifact.annotations ?? {}));
  for (const [key, value] of Object.entries(metadata ?? {})) {
    // notation-go notation.go addUserMetadataToDescriptor: the reserved prefix, then collisions.
    if (key.startsWith(RESERVED_PREFIX)) throw new NotaryError('USER_METADATA_INVALID', `user metadata key "${key}" has the reserved prefix ${RESERVED_PREFIX}; use another key`);
    if (annotations.has(key)) throw new NotaryError('USER_METADATA_INVALID', `user metadata key "${key}" is already present in the target artifact; use another key`);
    if (typeof value !== 'string') throw new NotaryError('USER_METADATA_INVALID', `user metadata value of "${key}" must be a string`);
    annotations.set(key, value);
  }
  const { mediaType, digest, size } = artifact;
  return Object.freeze({ mediaType, digest, size, ...(annotations.size > 0 ? { annotations: Object.freeze(Object.fromEntries(annotations)) } : {}) });
}

/**
 * Signs an artifact and packs the signature manifest. The chain must meet the certificate
 * requirements at the signing time, and the new envelope is decoded and verified before it is
 * returned, as notation-go does, so a broken signer never produces a pushed signature.
 */
export async function signArtifact(request: SignArtifactRequest): Promise<PackedSignature> {
  const { signer } = request;
  const chain = signer.certificateChain;
  try {
    validateCodeSigningChain(chain, { at: request.signingTime });
  } catch (error) {
    throw new SigningError('SIGNING_FAILED', `the signing certificate chain cannot be used: ${(error as Error).message}`, { cause: error });
  }
  if (request.expiry !== undefined && request.expiry.getTime() <= request.signingTime.getTime()) {
    throw new SigningError('SIGNING_FAILED', 'expiry cannot be equal or before the signing time');
  }
  // A plugin-backed signer reports its key spec itself; an unknown one cannot pick an algorithm.
  const algorithm = ALGORITHMS.find((a) => a.keySpec === signer.keySpec);
  if (algorithm === undefined) throw new SigningError('SIGNING_FAILED', `the signer's key spec ${JSON.stringify(signer.keySpec)} is not one of ${ALGORITHMS.map((a) => a.keySpec).join(', ')}`);
  const target = withUserMetadata(request.artifact, request.userMetadata);
  const envelope = await encodeEnvelope(
    request.envelopeMediaType,
    {
      payload: { contentType: PAYLOAD_CONTENT_TYPE, content: encodePayload(target) },
      signingScheme: 'notary.x509',
      signingTime: request.signingTime,
      expiry: request.expiry,
      signingAgent: request.signingAgent,
      signatureAlgorithm: algorithm.name,
      certificateChain: chain.map((c) => c.der),
    },
    (data) => signer.sign(data),
  );
  let decoded;
  try {
    decoded = decodeEnvelope(request.envelopeMediaType, envelope);
  } catch (error) {
    throw new SigningError('SIGNING_FAILED', `the new signature envelope does not decode: ${(error as Error).message}`, { cause: error });
  }
  const leaf = chain[0];
  if (leaf === undefined || !verifySignatureBytes(algorithm.name, leaf.publicKey, decoded.signedBytes, decoded.content.signerInfo.signature, request.envelopeMediaType)) {
    throw new SigningError('SIGNING_FAILED', 'the signer produced a signature that does not verify with its own certificate; check that the key belongs to the certificate');
  }
  return packSignature({
    subject: request.artifact,
    envelope: { mediaType: request.envelopeMediaType, bytes: envelope },
    certificateChain: chain.map((c) => c.der),
    signingTime: request.signingTime,
  });
}

/** Pushes a packed signature: the config and envelope blobs first, then the manifest (whose subject makes it a referrer). */
export async function pushSignature(target: Pusher & Exister, packed: PackedSignature, options: OperationOptions): Promise<void> {
  for (const blob of [packed.config, packed.envelope]) {
    if (!(await target.exists(blob.descriptor, options))) await target.push(blob.descriptor, blob.bytes, options);
  }
  await target.push(packed.manifest.descriptor, packed.manifest.bytes, options);
}

/** True when two descriptors name the same manifest content, media type included (oras content.Equal). */
export function isSameArtifact(a: Descriptor, b: Descriptor): boolean {
  return a.mediaType === b.mediaType && isSameContent(a, b);
}
