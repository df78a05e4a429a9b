// The embedded registry: an OCI Distribution v1.1 registry with the referrers API.
// Implements distribution-spec v1.1.1 (pull, push, content discovery, content management) over a blob store and SQL metadata.

export { FsBlobStore, isUploadId } from './blobstore.js';
export { DEFAULT_ADDR, loadRegistryServeConfig, parseAddr } from './config.js';
export type { RegistryServeConfig, RegistryServeFlags } from './config.js';
export { openEmbeddedDatabase } from './database.js';
export { ERROR_STATUS, errorBody, RegistryServerError } from './errors.js';
export type { RegistryServerErrorCode } from './errors.js';
export { MetadataStore } from './metadata.js';
export type { ManifestRecord, ManifestWrite, SqlDatabase, SqlExecutor } from './metadata.js';
export { parseRoute, RegistryServer } from './server.js';
export type { RegistryServerOptions, ServerLogger } from './server.js';
