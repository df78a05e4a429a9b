// The registry module: a client for OCI Distribution registries (auth, transport, repositories).
// Implements distribution-spec v1.1.1 (pull, push, content discovery, content management) and Docker credentials.

export { basicAuthorization, normalizeScopes, parseChallenges, repositoryScope } from './auth.js';
export type { AuthChallenge, CredentialStore, Credentials } from './auth.js';
export { RegistryClient } from './client.js';
export type { OpenRepositoryOptions, RegistryClientOptions, RegistryRequest } from './client.js';
export { DOCKER_HUB_SERVER_ADDRESS, DockerCredentialStore, serverAddressOf } from './credentials.js';
export type { DockerCredentialStoreOptions } from './credentials.js';
export { DEFAULT_REPOSITORY_SETTINGS, DEFAULT_TRANSPORT_SETTINGS } from './defaults.js';
export type { RepositorySettings, TransportSettings } from './defaults.js';
export { DISTRIBUTION_ERROR_CODES, decodeErrorBody, isRegistryError, RegistryError } from './errors.js';
export type { DistributionErrorCode, RegistryErrorCode, RegistryErrorDetail } from './errors.js';
export { parseNextLink, Repository } from './repository.js';
export type { ReferrersCapability, RepositoryOptions } from './repository.js';
export { parseRetryAfter } from './transport.js';
export type { RegistryLogger } from './transport.js';
