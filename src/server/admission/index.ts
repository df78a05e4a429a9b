// The admission webhook server: `sigil admission serve` over HTTPS.
// Implements admission.k8s.io/v1 AdmissionReview webhooks (/validate, /mutate) and Kyverno's apiCall verifier contract (/checkimages).

export { ADMISSION_SERVICE, createRegistryImageVerifier, DEFAULT_ADMISSION_ADDR, ensureTlsDir, expandPaths, generateServingTls, loadAdmissionServeConfig, loadPolicyFiles, MAX_CREDENTIAL_CLIENTS, readTlsPair, servingNames, TLS_DIR_FILES } from './config.js';
export type { AdmissionClusterConfig, AdmissionServeConfig, AdmissionServeFlags, GeneratedTls, LoadedPolicies, RegistryVerifierOptions } from './config.js';
export { secretCredentialsFor } from './registry-credentials.js';
export type { SecretCredentialSource } from './registry-credentials.js';
export { AdmissionServer, MAX_CHECK_IMAGES, MAX_CHECK_IMAGES_BYTES } from './server.js';
export type { AdmissionPolicySet, AdmissionServerOptions, CheckImageResult, CheckImagesResponse } from './server.js';
export { BACKGROUND_RESOURCE_TIMEOUT_MS, BACKGROUND_SCAN_KINDS, backgroundRequest, BackgroundScanner, DEFAULT_BACKGROUND_SCAN_INTERVAL_MS, FIRST_BACKGROUND_SCAN_DELAY_MS } from './background.js';
export type { BackgroundScannerOptions, BackgroundScanSummary, ScannedKind } from './background.js';
export { DEFAULT_MAX_REPORTS, ReportStore, ruleResults, writeReportFile } from './reports.js';
export type { ReportEntry, ReportSink, ReportStoreOptions } from './reports.js';
export { DEFAULT_RELOAD_INTERVAL_MS, fingerprintFiles, watchSources } from './reload.js';
export type { Watch, WatchOptions } from './reload.js';
export { ADMISSION_DURATION_BUCKETS, AdmissionMetrics, aggregateRuleResults, KYVERNO_DURATION_BUCKETS, metricValue, parseExposition } from './metrics.js';
export type { AdmissionWebhook, MetricSample, ObservedCheckImages, ObservedRequest, ObservedReview, RuleOutcome } from './metrics.js';
export { ADMISSION_MANIFEST_DEFAULTS, buildAdmissionManifests, buildSigilCrds, checkAdmissionManifestOptions, defaultAdmissionImage, encodeManifestsJson, encodeManifestsYaml, ManifestOptionError, MAX_WEBHOOK_TIMEOUT_SECONDS } from './manifests.js';
export type { AdmissionManifestOptions, KubeManifest, ManifestErrorCode, PolicyFile } from './manifests.js';
export { AdmissionCluster, CLUSTER_POLICY_REPORTS, clusterPolicyOrigin, ClusterPolicySource, decodeClusterPolicyObject, decodeDockerConfigSecret, DOCKER_CFG_SECRET_TYPE, DOCKER_CONFIG_JSON_SECRET_TYPE, MAX_REPORT_CONFLICT_RETRIES, mergePolicySets, NamespaceLabelCache, normalizeRegistryKey, POLICY_REPORTS, PolicyReportWriter, SECRET_CACHE_TTL_MS, SecretCredentials, SIGIL_CLUSTER_POLICIES, SIGIL_POLICIES, SIGIL_POLICY_EXCEPTIONS } from './cluster.js';
export type { AdmissionClusterOptions, ClusterPolicyProblem, ClusterPolicySourceOptions, NamespaceLabelCacheOptions, PolicyReportWriteResult, PolicyReportWriterOptions, RegistryCredentials, SecretCredentialsOptions, SigilPolicyResource, SkippedSecret } from './cluster.js';
