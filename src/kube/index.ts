// The kube module: a minimal Kubernetes API client (config loading, REST calls, watches, a ListWatch cache).
// Implements the Kubernetes API conventions: list/watch with resourceVersion, bookmarks, 410 Gone, Status errors.

export { KubeClient, PATCH_CONTENT_TYPES } from './client.js';
export type { KubeClientOptions, KubeList, KubeObject, KubeObjectMeta, KubeRequestOptions, KubeStatus, ListOptions, PatchOptions, WatchEvent, WatchOptions } from './client.js';
export { decodeKubeconfig, kubeconfigPath, loadDefaultKubeConfig, loadInClusterConfig, loadKubeconfig, SERVICE_ACCOUNT_DIR } from './config.js';
export type { BearerTokenSource, DefaultKubeConfigOptions, InClusterOptions, KubeAuth, KubeConfig, KubeconfigMaterial, KubeconfigOptions, KubeconfigSelection, TokenFileOptions } from './config.js';
export type { ExecPlugin } from './exec.js';
export { LIST_PAGE_SIZE, REQUEST_TIMEOUT_MS, TOKEN_REFRESH_MS, WATCH_TIMEOUT_SECONDS } from './defaults.js';
export { codeForStatus, isKubeError, KubeError } from './errors.js';
export type { KubeErrorCode, KubeErrorOptions } from './errors.js';
export { ListWatch, objectKey } from './listwatch.js';
export type { ListWatchChange, ListWatchOptions, ListWatchSource } from './listwatch.js';
export { apiVersionOf, groupVersionPath, NAMESPACES, resourcePath, SECRETS } from './paths.js';
export type { ResourceType } from './paths.js';
