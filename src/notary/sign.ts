// Producing Notary signatures: payload → envelope → signature manifest, and pushing them next to
// the artifact (signature-specification.md; notation-go notation.go Sign).

import { isSameContent, type Descriptor, type Exister, type OperationOptions, type Pusher } from '../oci/index.js';
import { validateCodeSigningChain } from '../pki/index.js';
import type { Signer } from '../keys/index.js';
import { algorithmForKeySpec } from './algorithm.js';
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
  const annotations: Record<string, string> = { ...artifact.annotations };
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (key.startsWith(RESERVED_PREFIX)) throw new NotaryError('USER_METADATA_INVALID', `user metadata key "${key}" is reserved: keys starting with ${RESERVED_PREFIX} cannot be used`);
    if (key in annotations) throw new NotaryError('USER_METADATA_INVALID', `user metadata key "${key}" is given more than once`);
    annotations[key] = value;
  }
  const { mediaType, digest, size } = artifact;
  return Object.freeze({ mediaType, digest, size, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) });
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
    throw new SigningError('SIGNING_FAILED', 'expiry must be after the signing time');
  }
  const algorithm = algorithmForKeySpec(signer.keySpec);
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
  const decoded = decodeEnvelope(request.envelopeMediaType, envelope);
  const leaf = chain[0];
  if (leaf === undefined || !verifySignatureBytes(algorithm.name, leaf.publicKey, decoded.signedBytes, decoded.content.signerInfo.signature, request.envelopeMediaType)) {
    throw new SigningError('SIGNING_FAILED', 'the signer produced a signature that does not verify with its own certificate');
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
