// The embedded registry: an OCI Distribution v1.1 registry with the referrers API.
// Implements distribution-spec v1.1.1 (pull, push, content discovery, content management) over a blob store and SQL metadata.

export { BasicAuthenticator, decodeHtpasswd, DEFAULT_TOKEN_TTL_SECONDS, grants, parseScopes, TokenAuthority } from './auth.js';
export type { Htpasswd, TokenAccess, TokenClaims } from './auth.js';
export { FsBlobStore, isUploadId } from './blobstore.js';
export { DEFAULT_ADDR, loadRegistryServeConfig, loadRegistryServeConfigWithFiles, parseAddr, parseDuration } from './config.js';
export type { RegistryServeConfig, RegistryServeFlags } from './config.js';
export { openDatabase, openEmbeddedDatabase, openPostgresDatabase } from './database.js';
export { ERROR_STATUS, errorBody, RegistryServerError } from './errors.js';
export type { RegistryServerErrorCode } from './errors.js';
export { MetadataStore } from './metadata.js';
export type { ManifestRecord, ManifestWrite, SqlDatabase, SqlExecutor } from './metadata.js';
export { collectGarbage, ContentLock, DEFAULT_GC_GRACE_MS, DEFAULT_UPLOAD_TTL_MS } from './gc.js';
export type { GarbageCollectionOptions, GarbageCollectionReport } from './gc.js';
export { liveServerAt, parseRoute, RegistryServer, runGarbageCollection } from './server.js';
export type { RegistryServerOptions, ServerLogger } from './server.js';
