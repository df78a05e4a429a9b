// Content descriptors: the typed pointer (media type, digest, size) everything in OCI is addressed by.
// image-spec v1.1.0 descriptor.md.

import { parseDigest, printable } from './digest.js';
import { ManifestError } from './errors.js';

/** image-spec v1.1.0 descriptor.md#platform-variants (used in index entries). */
export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
  readonly variant?: string;
}

/** image-spec v1.1.0 descriptor.md#properties. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  /** base64 of the content, when embedded (image-spec v1.1.0 descriptor.md#embedded-content). */
  readonly data?: string;
  readonly artifactType?: string;
  readonly platform?: Platform;
}

/** The three fields that identify content; use when comparing descriptors. */
export function contentKey(desc: Pick<Descriptor, 'digest'>): string {
  return desc.digest;
}

/** True when both descriptors name the same content (same digest and size). */
export function isSameContent(a: Descriptor, b: Descriptor): boolean {
  return a.digest === b.digest && a.size === b.size;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** image-spec v1.1.0 descriptor.md: media types follow RFC 6838 (type "/" subtype, restricted names). */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** True when `value` is a syntactically valid media type. */
export function isMediaType(value: unknown): value is string {
  return typeof value === 'string' && MEDIA_TYPE.test(value);
}

function decodeStringMap(value: unknown, path: string): Record<string, string> {
  if (!isRecord(value)) throw new ManifestError('DESCRIPTOR_INVALID', `${path}: must be an object of strings`);
  const entries = Object.entries(value);
  for (const [key, item] of entries) {
    if (typeof item !== 'string') throw new ManifestError('DESCRIPTOR_INVALID', `${path}.${printable(key)}: must be a string`);
  }
  // Object.fromEntries defines own properties, so a "__proto__" key is kept rather than
  // silently dropped by assignment (JSON.parse yields it as an ordinary key).
  return Object.fromEntries(entries) as Record<string, string>;
}

function decodePlatform(value: unknown, path: string): Platform {
  if (!isRecord(value)) throw new ManifestError('DESCRIPTOR_INVALID', `${path}: must be an object`);
  const { architecture, os, variant } = value;
  if (typeof architecture !== 'string' || typeof os !== 'string') {
    throw new ManifestError('DESCRIPTOR_INVALID', `${path}: architecture and os must be strings`);
  }
  const platform: Record<string, unknown> = { architecture, os };
  if (typeof variant === 'string') platform.variant = variant;
  if (typeof value['os.version'] === 'string') platform['os.version'] = value['os.version'];
  const features = value['os.features'];
  if (Array.isArray(features) && features.every((f) => typeof f === 'string')) platform['os.features'] = features;
  return platform as unknown as Platform;
}

/**
 * Decodes and validates one descriptor found at `path` in a document; throws
 * ManifestError(DESCRIPTOR_INVALID) naming the path. Unknown fields are dropped, as
 * image-spec lets consumers ignore them.
 */
export function decodeDescriptor(value: unknown, path = 'descriptor'): Descriptor {
  if (!isRecord(value)) throw new ManifestError('DESCRIPTOR_INVALID', `${path}: must be an object`);
  const { mediaType, digest, size, urls, annotations, data, artifactType, platform } = value;
  if (!isMediaType(mediaType)) throw new ManifestError('DESCRIPTOR_INVALID', `${path}.mediaType: missing or not a media type`);
  if (typeof digest !== 'string') throw new ManifestError('DESCRIPTOR_INVALID', `${path}.digest: missing or not a string`);
  try {
    parseDigest(digest);
  } catch (cause) {
    throw new ManifestError('DESCRIPTOR_INVALID', `${path}.digest: ${(cause as Error).message}`, { cause });
  }
  // image-spec: size is int64; JSON numbers beyond 2^53 cannot be represented exactly here.
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ManifestError('DESCRIPTOR_INVALID', `${path}.size: must be a non-negative integer`);
  }
  const desc: Record<string, unknown> = { mediaType, digest, size };
  if (urls !== undefined) {
    if (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string')) {
      throw new ManifestError('DESCRIPTOR_INVALID', `${path}.urls: must be an array of strings`);
    }
    desc.urls = urls;
  }
  if (annotations !== undefined) desc.annotations = decodeStringMap(annotations, `${path}.annotations`);
  if (data !== undefined) {
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) {
      throw new ManifestError('DESCRIPTOR_INVALID', `${path}.data: must be base64`);
    }
    desc.data = data;
  }
  if (artifactType !== undefined) {
    if (!isMediaType(artifactType)) throw new ManifestError('DESCRIPTOR_INVALID', `${path}.artifactType: not a media type`);
    desc.artifactType = artifactType;
  }
  if (platform !== undefined) desc.platform = decodePlatform(platform, `${path}.platform`);
  return Object.freeze(desc) as unknown as Descriptor;
}

/** Decodes a string map (annotations) at `path`, exported for manifest decoders. */
export { decodeStringMap as decodeAnnotations, isRecord };
