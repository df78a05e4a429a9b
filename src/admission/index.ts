// The admission module: Kyverno verifyImages policies, AdmissionReview requests and answers, image
// extraction and digest patches, PolicyReports. Implements admission.k8s.io/v1 and kyverno.io/v1 ClusterPolicy/Policy.

export { AdmissionError, ImageReferenceError, PatchError, PolicyError, RegistryBackoffError, ReviewError } from './errors.js';
export type { AdmissionErrorCode, PolicyProblem } from './errors.js';
export { ADMISSION_TRUST_STORE_NAME, AUTOGEN_CONTROLLERS_ANNOTATION, deepFreeze, DEFAULT_WEBHOOK_TIMEOUT_SECONDS, normalizeFailureAction, policyKey, TRUST_POLICY_ANNOTATION } from './model.js';
export type { ApplyRules, AttestorSet, CertificatesAttestor, CosignAttestor, CosignImageVerification, DocumentOrigin, ExceptionTarget, FailureAction, FailureActionOverride, FailurePolicy, ImageRegistryCredentials, ImageVerification, KeylessAttestor, KeysAttestor, KyvernoPolicy, LabelSelector, LabelSelectorRequirement, MatchResources, NestedAttestor, NotaryAttestor, NotaryImageVerification, ObjectMetadata, Operation, PodController, PolicyDocument, PolicyException, PolicySpec, ResourceDescription, ResourceFilter, Rule, RuleTrustPolicy, Subject, UserInfo } from './model.js';
export { decodePolicyDocuments, MAX_ATTESTOR_NESTING, MAX_DOCUMENTS, MAX_FLOW_NESTING, MAX_POLICY_TEXT_BYTES, MAX_YAML_ALIAS_COUNT } from './policy.js';
export { findException, isInPolicyScope, labelMap, matchesKind, matchesLabelSelector, matchesRule, parseKindSelector, resolveFailureAction } from './match.js';
export type { KindSelector, MatchRequest } from './match.js';
export { CONTAINER_FIELDS, decodeScopedVerifyImagesAnnotation, decodeVerifyImagesAnnotation, encodeScopedVerifyImagesAnnotation, encodeVerifyImagesAnnotation, extractImages, formatTarget, normalizeImage, POD_CONTROLLER_KINDS, podSpecPointer, VERIFY_IMAGES_ANNOTATION, VERIFY_IMAGES_SCOPED_ANNOTATION } from './images.js';
export type { ContainerField, ExtractedImage, ImageVerificationStatus, NormalizedImage, ScopedVerifyImagesAnnotation, VerifyImagesAnnotation } from './images.js';
export { evaluateImages } from './engine.js';
export type { EvaluateImagesInput, EvaluationRequest, ImageCheck, ImageEvaluation, ImageRuleResult, VerifyImage, VerifyImageContext } from './engine.js';
export { createNotaryImageVerifier } from './verifier.js';
export type { ImageCredentials, ImageSource, NotaryImageVerifierOptions } from './verifier.js';
export { credentialSources, imagePullSecretNames, verificationOfAttestor } from './credentials.js';
export type { CredentialSources } from './credentials.js';
export { DEFAULT_CACHE_MAX_ENTRIES, DEFAULT_CACHE_TTL_MS, VerificationCache } from './cache.js';
export type { CacheAnswer, VerificationCacheOptions, VerificationKey, VerificationResult } from './cache.js';
export { DEFAULT_INITIAL_BACKOFF_MS, DEFAULT_MAX_BACKOFF_MS, DEFAULT_MAX_RETRY_AFTER_MS, DEFAULT_REGISTRY_CONCURRENCY, isUnhealthyRegistryFailure, RegistryLimiter } from './registry-limits.js';
export type { RegistryLimitsOptions, RegistryPermit, RegistryStatus } from './registry-limits.js';
export { autogenRules, effectiveRules, encodeRule, MAX_AUTOGEN_RULE_NAME_LENGTH } from './autogen.js';
export { matchesAnyWildcard, wildcardMatch } from './wildcard.js';
export { annotationPatch, annotationPatches, applyPatch, decodePatch, digestPatches, encodePatch, escapePointerToken, parsePointer } from './patch.js';
export type { DigestPin, JsonValue as PatchJsonValue, PatchOperation } from './patch.js';
export { ADMISSION_REVIEW_API_VERSION, ADMISSION_REVIEW_KIND, ADMISSION_REVIEW_MEDIA_TYPE, decodeAdmissionReview, denyMessage, encodeAdmissionResponse, MAX_ADMISSION_REVIEW_BYTES, MAX_ADMISSION_REVIEW_DEPTH, requestSummary } from './review.js';
export type { AdmissionOperation, AdmissionPatchOperation, AdmissionRequest, AdmissionResponseInput, DeniedResource, GroupVersionKind, GroupVersionResource, JsonObject, JsonValue, RequestSummary, RuleFailure, UserInfo as RequestUserInfo } from './review.js';
export { buildPolicyReport, POLICY_REPORT_API_VERSION, POLICY_REPORT_MANAGER, POLICY_REPORT_SOURCE } from './report.js';
export type { PolicyReport, PolicyReportInput, PolicyResult, PolicyResultInput, PolicySeverity, ReportResult, ReportSummary, ReportTimestamp, ResourceReference } from './report.js';
export { NOOP_OBSERVER } from './observer.js';
export type { AdmissionObserver, CacheLookup } from './observer.js';
export { buildVerificationRecord, compositeKey, NOTHING_VERIFIED_BEFORE, policyFingerprint, recordImageKey, recordPatches, scopedPolicyKey, unbackedClaims, VERIFIED_POLICIES_ANNOTATION, verifiedBefore } from './record.js';
export type { VerificationRecord, VerifiedBefore } from './record.js';
