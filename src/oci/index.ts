// The oci module: the content model (descriptors, digests, manifests, references), the OCI layout store and copy.
// Implements image-spec v1.1.0 (descriptor, manifest, index, image layout) and the distribution-spec v1.1.0 referrers tag schema.

export {
  isBlobMounter,
  isDeleter,
  isReferencePusher,
  isReferrerLister,
  isTagLister,
  streamOf,
  toStream,
} from './content.js';
export type {
  BlobMounter,
  ByteStream,
  Deleter,
  Exister,
  Fetcher,
  OperationOptions,
  Pusher,
  ReadOnlyStorage,
  ReadOnlyTarget,
  ReferencePusher,
  ReferrerLister,
  ReferrersOptions,
  Resolver,
  Storage,
  TagLister,
  Tagger,
  Target,
} from './content.js';
export { copy, copyGraph, DEFAULT_COPY_CONCURRENCY } from './copy.js';
export type { CopyEvent, CopyOptions } from './copy.js';
export { contentKey, decodeDescriptor, isMediaType, isSameContent } from './descriptor.js';
export type { Descriptor, Platform } from './descriptor.js';
export { concatBytes, digestOf, isDigest, parseDigest, printable, readLimited, readVerified, verifyContent } from './digest.js';
export type { DigestAlgorithm, ExpectedContent, ParsedDigest } from './digest.js';
export { ContentError, CopyError, DigestError, LayoutError, ManifestError, OciError, ReferenceSyntaxError } from './errors.js';
export type { CopySide, OciErrorCode } from './errors.js';
export {
  ANNOTATION_REF_NAME,
  decodeLayoutIndex,
  decodeOciLayoutFile,
  encodeLayoutIndex,
  encodeOciLayoutFile,
  IMAGE_LAYOUT_VERSION,
  OciLayout,
} from './layout.js';
export type { OciLayoutFile, OpenLayoutOptions } from './layout.js';
export { MAX_ENVELOPE_BYTES, MAX_LAYOUT_INDEX_BYTES, MAX_MANIFEST_BYTES, MAX_METADATA_BYTES, MAX_REFERRERS_DEPTH } from './limits.js';
export {
  artifactTypeOf,
  decodeManifest,
  describeManifest,
  detectManifestMediaType,
  encodeManifest,
  referrerDescriptor,
  successorsOf,
} from './manifest.js';
export type { ArtifactManifest, ImageIndex, ImageManifest, Manifest } from './manifest.js';
export {
  EMPTY_JSON_DIGEST,
  isIndexMediaType,
  isManifestMediaType,
  mediaTypeOfContentType,
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPE_ARTIFACT_MANIFEST,
  MEDIA_TYPE_DOCKER_CONFIG,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_EMPTY_JSON,
  MEDIA_TYPE_IMAGE_CONFIG,
  MEDIA_TYPE_IMAGE_INDEX,
  MEDIA_TYPE_IMAGE_LAYER,
  MEDIA_TYPE_IMAGE_LAYER_GZIP,
  MEDIA_TYPE_IMAGE_MANIFEST,
  MEDIA_TYPE_NOTARY_SIGNATURE,
} from './mediatype.js';
export {
  formatReference,
  isLoopbackRegistry,
  isTag,
  parseDockerReference,
  parseLayoutReference,
  parseReference,
  referenceForTarget,
  withDefaultTag,
} from './reference.js';
export type { LayoutReference, Reference } from './reference.js';
export { addReferrer, emptyReferrersIndex, filterReferrers, referrersTag, removeReferrer } from './referrers.js';
