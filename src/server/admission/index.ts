// The admission webhook server: `sigil admission serve` over HTTPS.
// Implements admission.k8s.io/v1 AdmissionReview webhooks (/validate, /mutate) and Kyverno's apiCall verifier contract (/checkimages).

export { ADMISSION_SERVICE, createRegistryImageVerifier, DEFAULT_ADMISSION_ADDR, ensureTlsDir, expandPaths, generateServingTls, loadAdmissionServeConfig, loadPolicyFiles, servingNames, TLS_DIR_FILES } from './config.js';
export type { AdmissionServeConfig, AdmissionServeFlags, GeneratedTls, LoadedPolicies } from './config.js';
export { AdmissionServer, MAX_CHECK_IMAGES, MAX_CHECK_IMAGES_BYTES } from './server.js';
export type { AdmissionPolicySet, AdmissionServerOptions, CheckImageResult, CheckImagesResponse } from './server.js';
