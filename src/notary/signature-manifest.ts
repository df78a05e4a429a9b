// Signature manifests: how a Notary signature is stored in a registry or OCI layout
// (signature-specification.md, Storage): an image manifest whose only layer is the envelope and
// whose subject is the signed manifest.

import { createHash } from 'node:crypto';
import {
  decodeManifest,
  describeManifest,
  encodeManifest,
  EMPTY_JSON_DIGEST,
  MEDIA_TYPE_ARTIFACT_MANIFEST,
  MEDIA_TYPE_EMPTY_JSON,
  MEDIA_TYPE_IMAGE_MANIFEST,
  MEDIA_TYPE_NOTARY_SIGNATURE,
  digestOf,
  type Descriptor,
  type ImageManifest,
} from '../oci/index.js';
import type { EnvelopeMediaType } from './envelope.js';
import { SignatureManifestError } from './errors.js';
import { formatRfc3339 } from './jws.js';

/** Annotation holding the SHA-256 thumbprints of the signing chain, leaf first. */
export const ANNOTATION_THUMBPRINT = 'io.cncf.notary.x509chain.thumbprint#S256';
/** image-spec annotation for the creation time; Notation sets it to the signing time. */
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

/** The empty JSON object `{}`, the config of every signature manifest. */
export const EMPTY_JSON = new TextEncoder().encode('{}');

/** A signature manifest ready to push: push `config` and `envelope` blobs first, then `manifest`. */
export interface PackedSignature {
  readonly manifest: { readonly descriptor: Descriptor; readonly bytes: Uint8Array };
  readonly config: { readonly descriptor: Descriptor; readonly bytes: Uint8Array };
  readonly envelope: { readonly descriptor: Descriptor; readonly bytes: Uint8Array };
}

/** A signature manifest after reading: where its envelope is and what it signs. */
export interface SignatureManifest {
  /** The envelope layer; its media type says the envelope format (possibly one Sigil cannot read). */
  readonly envelope: Descriptor;
  readonly subject: Descriptor | undefined;
  readonly annotations: Readonly<Record<string, string>>;
}

/** `["<hex>", …]`: lowercase SHA-256 of each DER certificate, as notation-go writes it (the spec example is uppercase). */
export function thumbprintsOf(chain: readonly Uint8Array[]): string {
  return JSON.stringify(chain.map((der) => createHash('sha256').update(der).digest('hex')));
}

/**
 * Packs an envelope as a signature manifest in the form the Notary Project specification and
 * Notation 2 write: `artifactType` = application/vnd.cncf.notary.signature, the empty config,
 * the envelope as the only layer, `subject` = the signed manifest.
 */
export function packSignature(options: {
  readonly subject: Descriptor;
  readonly envelope: { readonly mediaType: EnvelopeMediaType; readonly bytes: Uint8Array };
  readonly certificateChain: readonly Uint8Array[];
  readonly signingTime: Date;
  readonly annotations?: Readonly<Record<string, string>>;
}): PackedSignature {
  const envelopeDescriptor: Descriptor = Object.freeze({ mediaType: options.envelope.mediaType, digest: digestOf(options.envelope.bytes), size: options.envelope.bytes.byteLength });
  const config: Descriptor = Object.freeze({ mediaType: MEDIA_TYPE_EMPTY_JSON, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON.byteLength });
  const subject: Descriptor = Object.freeze({ mediaType: options.subject.mediaType, digest: options.subject.digest, size: options.subject.size });
  const annotations = {
    ...options.annotations,
    [ANNOTATION_THUMBPRINT]: thumbprintsOf(options.certificateChain),
    // RFC 3339 in UTC to the second, as Notation writes it.
    [ANNOTATION_CREATED]: formatRfc3339(options.signingTime),
  };
  const manifest: ImageManifest = {
    kind: 'manifest',
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_IMAGE_MANIFEST,
    artifactType: MEDIA_TYPE_NOTARY_SIGNATURE,
    config,
    layers: [envelopeDescriptor],
    subject,
    annotations,
  };
  const bytes = encodeManifest(manifest);
  return Object.freeze({
    manifest: Object.freeze({ descriptor: describeManifest(bytes, MEDIA_TYPE_IMAGE_MANIFEST, { artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, annotations }), bytes }),
    config: Object.freeze({ descriptor: config, bytes: EMPTY_JSON }),
    envelope: Object.freeze({ descriptor: envelopeDescriptor, bytes: options.envelope.bytes }),
  });
}

/**
 * Reads a signature manifest. Accepted as notation-go's signatureReferrers does: an image manifest
 * with `artifactType` notary and the empty config (Notation 2), or with no `artifactType` and
 * `config.mediaType` notary (Notation 1.x), or the pre-1.1 artifact manifest; exactly one layer.
 */
export function decodeSignatureManifest(bytes: Uint8Array, mediaType: string, name: string): SignatureManifest {
  let manifest;
  try {
    manifest = decodeManifest(bytes, mediaType, name);
  } catch (error) {
    throw new SignatureManifestError('SIGNATURE_MANIFEST_INVALID', (error as Error).message, { cause: error });
  }
  let layers: readonly Descriptor[];
  if (manifest.kind === 'manifest' && manifest.mediaType === MEDIA_TYPE_IMAGE_MANIFEST) {
    const v2 = manifest.artifactType === MEDIA_TYPE_NOTARY_SIGNATURE && manifest.config.mediaType === MEDIA_TYPE_EMPTY_JSON;
    const v1 = manifest.artifactType === undefined && manifest.config.mediaType === MEDIA_TYPE_NOTARY_SIGNATURE;
    if (!v1 && !v2) throw new SignatureManifestError('SIGNATURE_MANIFEST_INVALID', `${name}: not a Notary signature manifest (artifactType ${manifest.artifactType ?? 'unset'}, config media type ${manifest.config.mediaType})`);
    layers = manifest.layers;
  } else if (manifest.kind === 'artifact' && manifest.mediaType === MEDIA_TYPE_ARTIFACT_MANIFEST && manifest.artifactType === MEDIA_TYPE_NOTARY_SIGNATURE) {
    layers = manifest.blobs;
  } else {
    throw new SignatureManifestError('SIGNATURE_MANIFEST_INVALID', `${name}: media type ${mediaType} cannot hold a Notary signature`);
  }
  // notation-go registry/repository.go: a signature manifest has exactly one layer, the envelope.
  if (layers.length !== 1) throw new SignatureManifestError('SIGNATURE_MANIFEST_INVALID', `${name}: a signature manifest must have exactly one layer, found ${layers.length}`);
  // An unknown layer media type is not rejected here: as in notation-go, the envelope parser
  // refuses it, which makes it the signature's integrity failure rather than a retrieval error.
  const envelope = layers[0] as Descriptor;
  return Object.freeze({
    envelope,
    subject: manifest.subject,
    annotations: Object.freeze({ ...manifest.annotations }),
  });
}
