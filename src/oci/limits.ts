// Bounds on untrusted input, each with where its number comes from (STYLE.md rule 14).

/** Manifests and indexes: 4 MiB, the distribution-spec v1.1 recommendation that registries accept at least this much, and notation-go's maxManifestSizeLimit. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Pages of the referrers API and tags list: 4 MiB, as oras-go's default maxMetadataBytes. */
export const MAX_METADATA_BYTES = 4 * 1024 * 1024;

/** Signature envelopes: 32 MiB, notation-go's maxBlobSizeLimit. */
export const MAX_ENVELOPE_BYTES = 32 * 1024 * 1024;

/** OCI layout `index.json`: far larger than any real layout needs, small enough to parse in memory. */
export const MAX_LAYOUT_INDEX_BYTES = 64 * 1024 * 1024;

/** Depth of a referrers graph walked by copy and discover: signatures of signatures are 2 deep; 16 is generous and stops cycles. */
export const MAX_REFERRERS_DEPTH = 16;
