// Manifests and indexes: OCI image manifest and index (with artifactType and subject), Docker
// schema 2 manifest and manifest list (read), and the pre-1.1 OCI artifact manifest (read).
// image-spec v1.1.0 manifest.md and image-index.md; Docker Image Manifest V2 Schema 2.

import { decodeAnnotations, decodeDescriptor, isMediaType, isRecord, type Descriptor } from './descriptor.js';
import { digestOf, printable } from './digest.js';
import { ManifestError } from './errors.js';
import { MAX_MANIFEST_BYTES } from './limits.js';
import {
  MEDIA_TYPE_ARTIFACT_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_IMAGE_INDEX,
  MEDIA_TYPE_IMAGE_MANIFEST,
  MANIFEST_MEDIA_TYPES,
} from './mediatype.js';

/** image-spec v1.1.0 manifest.md (also carries Docker schema 2 manifests, which have the same shape). */
export interface ImageManifest {
  readonly kind: 'manifest';
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** image-spec v1.1.0 image-index.md (also carries Docker manifest lists). */
export interface ImageIndex {
  readonly kind: 'index';
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The artifact manifest of image-spec v1.1.0-rc1..rc2, removed before GA; read only. */
export interface ArtifactManifest {
  readonly kind: 'artifact';
  readonly mediaType: typeof MEDIA_TYPE_ARTIFACT_MANIFEST;
  readonly artifactType: string;
  readonly blobs: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Any manifest Sigil understands, discriminated by `kind`. */
export type Manifest = ImageManifest | ImageIndex | ArtifactManifest;

function fail(message: string): never {
  throw new ManifestError('MANIFEST_INVALID', message);
}

function parseJsonObject(bytes: Uint8Array, name: string): Record<string, unknown> {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new ManifestError('MANIFEST_INVALID', `${name}: ${bytes.byteLength} bytes exceeds the ${MAX_MANIFEST_BYTES}-byte manifest limit`);
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new ManifestError('MANIFEST_INVALID', `${name}: not valid UTF-8 JSON (${printable((cause as Error).message, 120)})`, { cause });
  }
  if (!isRecord(value)) fail(`${name}: must be a JSON object`);
  return value;
}

function descriptorList(value: unknown, path: string): Descriptor[] {
  if (!Array.isArray(value)) fail(`${path}: must be an array`);
  return value.map((item, i) => decodeDescriptor(item, `${path}[${i}]`));
}

/**
 * The media type of a manifest when the transport gave none (OCI layouts give it in the
 * descriptor; registries in Content-Type): the `mediaType` field, or the shape.
 */
export function detectManifestMediaType(bytes: Uint8Array): string {
  const doc = parseJsonObject(bytes, 'manifest');
  if (typeof doc.mediaType === 'string') return doc.mediaType;
  if (Array.isArray(doc.manifests)) return MEDIA_TYPE_IMAGE_INDEX;
  if (Array.isArray(doc.blobs)) return MEDIA_TYPE_ARTIFACT_MANIFEST;
  return MEDIA_TYPE_IMAGE_MANIFEST;
}

/**
 * Decodes and validates a manifest or index of the given media type; throws
 * ManifestError(MANIFEST_INVALID or MEDIA_TYPE_UNSUPPORTED) naming the field.
 * `name` says which document it is in messages (a reference or digest).
 */
export function decodeManifest(bytes: Uint8Array, mediaType: string, name = 'manifest'): Manifest {
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw new ManifestError('MEDIA_TYPE_UNSUPPORTED', `${name}: unsupported manifest media type "${printable(mediaType)}"`);
  }
  const doc = parseJsonObject(bytes, name);
  // image-spec v1.1.0 manifest.md: mediaType SHOULD be set and, when set, MUST match the descriptor's.
  if (doc.mediaType !== undefined && doc.mediaType !== mediaType) {
    // String() on an arbitrary JSON object can throw ({"toString": 1}); only strings are shown.
    if (typeof doc.mediaType !== 'string') fail(`${name}.mediaType: must be a string`);
    fail(`${name}: mediaType "${printable(doc.mediaType)}" does not match the content type "${mediaType}"`);
  }
  const common: { annotations?: Record<string, string>; subject?: Descriptor; artifactType?: string } = {};
  if (doc.annotations !== undefined) common.annotations = decodeAnnotations(doc.annotations, `${name}.annotations`);
  if (doc.subject !== undefined) common.subject = decodeDescriptor(doc.subject, `${name}.subject`);
  if (doc.artifactType !== undefined) {
    if (!isMediaType(doc.artifactType)) fail(`${name}.artifactType: not a media type`);
    common.artifactType = doc.artifactType;
  }

  if (mediaType === MEDIA_TYPE_ARTIFACT_MANIFEST) {
    if (common.artifactType === undefined) fail(`${name}.artifactType: required in an artifact manifest`);
    const blobs = doc.blobs === undefined ? [] : descriptorList(doc.blobs, `${name}.blobs`);
    return Object.freeze({ kind: 'artifact', mediaType, ...common, artifactType: common.artifactType, blobs });
  }
  if (doc.schemaVersion !== 2) fail(`${name}.schemaVersion: must be 2`);
  if (mediaType === MEDIA_TYPE_IMAGE_INDEX || mediaType === MEDIA_TYPE_DOCKER_MANIFEST_LIST) {
    if (mediaType === MEDIA_TYPE_DOCKER_MANIFEST_LIST && (common.subject || common.artifactType)) {
      fail(`${name}: Docker manifest lists cannot carry subject or artifactType`);
    }
    const manifests = descriptorList(doc.manifests, `${name}.manifests`);
    return Object.freeze({ kind: 'index', schemaVersion: 2, mediaType, ...common, manifests });
  }
  const config = decodeDescriptor(doc.config, `${name}.config`);
  // Docker schema 2 requires layers; image-spec v1.1.0 allows an empty array (artifacts) but not absence.
  const layers = descriptorList(doc.layers, `${name}.layers`);
  if (mediaType === MEDIA_TYPE_DOCKER_MANIFEST && (common.subject || common.artifactType)) {
    fail(`${name}: Docker schema 2 manifests cannot carry subject or artifactType`);
  }
  return Object.freeze({ kind: 'manifest', schemaVersion: 2, mediaType, ...common, config, layers });
}

/** Serializes a manifest to the bytes that get pushed (compact JSON, `kind` dropped). */
export function encodeManifest(manifest: Manifest): Uint8Array {
  const { kind: _kind, ...doc } = manifest;
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** A descriptor for manifest bytes of a known media type (sha256). */
export function describeManifest(bytes: Uint8Array, mediaType: string, extra: Partial<Pick<Descriptor, 'artifactType' | 'annotations'>> = {}): Descriptor {
  return Object.freeze({ mediaType, digest: digestOf(bytes), size: bytes.byteLength, ...extra });
}

/** The content a manifest points down at (config and layers, index entries, artifact blobs); not the subject. */
export function successorsOf(manifest: Manifest): readonly Descriptor[] {
  switch (manifest.kind) {
    case 'manifest':
      return [manifest.config, ...manifest.layers];
    case 'index':
      return manifest.manifests;
    case 'artifact':
      return manifest.blobs;
  }
}

/**
 * The artifact type of a manifest as the referrers API reports it (distribution-spec v1.1,
 * Listing Referrers): `artifactType`, else for an image manifest `config.mediaType`. This is
 * also how Notation 1.x signature manifests (no artifactType) are recognised.
 */
export function artifactTypeOf(manifest: Manifest): string | undefined {
  if (manifest.artifactType !== undefined) return manifest.artifactType;
  return manifest.kind === 'manifest' ? manifest.config.mediaType : undefined;
}

/** The descriptor the referrers API lists for a referrer manifest: artifactType and annotations copied in. */
export function referrerDescriptor(manifest: Manifest, desc: Descriptor): Descriptor {
  const artifactType = artifactTypeOf(manifest);
  const out: Record<string, unknown> = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  if (artifactType !== undefined) out.artifactType = artifactType;
  if (manifest.annotations !== undefined) out.annotations = manifest.annotations;
  return Object.freeze(out) as unknown as Descriptor;
}
