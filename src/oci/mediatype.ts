// Media types Sigil reads and writes, named as the specs name them.
// image-spec v1.1.0 media-types.md; Docker Image Manifest V2 Schema 2; Notary Project signature-specification.

/** image-spec v1.1.0: OCI image manifest. */
export const MEDIA_TYPE_IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** image-spec v1.1.0: OCI image index. */
export const MEDIA_TYPE_IMAGE_INDEX = 'application/vnd.oci.image.index.v1+json';
/** image-spec v1.1.0: OCI image config. */
export const MEDIA_TYPE_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** image-spec v1.1.0: gzip-compressed layer. */
export const MEDIA_TYPE_IMAGE_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** image-spec v1.1.0: uncompressed layer. */
export const MEDIA_TYPE_IMAGE_LAYER = 'application/vnd.oci.image.layer.v1.tar';
/** image-spec v1.1.0, Guidance for an Empty Descriptor: the `{}` blob. */
export const MEDIA_TYPE_EMPTY_JSON = 'application/vnd.oci.empty.v1+json';
/** The artifact manifest of image-spec v1.1.0-rc releases, read only (Notation ≤ 1.0 could write it). */
export const MEDIA_TYPE_ARTIFACT_MANIFEST = 'application/vnd.oci.artifact.manifest.v1+json';
/** Docker Image Manifest V2, Schema 2. */
export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker Manifest List (the schema 2 multi-platform index). */
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** Docker schema 2 image config. */
export const MEDIA_TYPE_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
/** Notary Project signature-specification: artifact type of a signature manifest. */
export const MEDIA_TYPE_NOTARY_SIGNATURE = 'application/vnd.cncf.notary.signature';

/** The `{}` blob every empty descriptor points at (image-spec v1.1.0, Guidance for an Empty Descriptor). */
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/** Media types served by the manifests endpoint, in the order Sigil lists them in `Accept`. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.freeze([
  MEDIA_TYPE_IMAGE_MANIFEST,
  MEDIA_TYPE_IMAGE_INDEX,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_ARTIFACT_MANIFEST,
]);

/** The media type of a Content-Type header, parameters dropped (`application/json; charset=utf-8` → `application/json`); undefined when empty. */
export function mediaTypeOfContentType(header: string | undefined): string | undefined {
  const value = header?.split(';')[0]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** True when content of this media type is a manifest or index (fetched from `/manifests/`), not a blob. */
export function isManifestMediaType(mediaType: string): boolean {
  return MANIFEST_MEDIA_TYPES.includes(mediaType);
}

/** True when this media type is an index (OCI image index or Docker manifest list). */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_IMAGE_INDEX || mediaType === MEDIA_TYPE_DOCKER_MANIFEST_LIST;
}
