import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as admission from './index.js';

// STYLE.md rule 2: the public surface changes only on purpose.
describe('admission index', () => {
  it('exports exactly the public values', () => {
    assert.deepEqual(Object.keys(admission).sort(), ['ADMISSION_REVIEW_API_VERSION', 'ADMISSION_REVIEW_KIND', 'ADMISSION_REVIEW_MEDIA_TYPE', 'ADMISSION_TRUST_STORE_NAME', 'AUTOGEN_CONTROLLERS_ANNOTATION', 'AdmissionError', 'CONTAINER_FIELDS', 'DEFAULT_WEBHOOK_TIMEOUT_SECONDS', 'ImageReferenceError', 'MAX_ADMISSION_REVIEW_BYTES', 'MAX_ADMISSION_REVIEW_DEPTH', 'MAX_ATTESTOR_NESTING', 'MAX_AUTOGEN_RULE_NAME_LENGTH', 'MAX_DOCUMENTS', 'MAX_FLOW_NESTING', 'MAX_POLICY_TEXT_BYTES', 'MAX_YAML_ALIAS_COUNT', 'POD_CONTROLLER_KINDS', 'POLICY_REPORT_API_VERSION', 'POLICY_REPORT_MANAGER', 'POLICY_REPORT_SOURCE', 'PatchError', 'PolicyError', 'ReviewError', 'TRUST_POLICY_ANNOTATION', 'VERIFY_IMAGES_ANNOTATION', 'VERIFY_IMAGES_SCOPED_ANNOTATION', 'annotationPatch', 'annotationPatches', 'applyPatch', 'autogenRules', 'buildPolicyReport', 'createNotaryImageVerifier', 'decodeAdmissionReview', 'decodePatch', 'decodePolicyDocuments', 'decodeScopedVerifyImagesAnnotation', 'decodeVerifyImagesAnnotation', 'deepFreeze', 'denyMessage', 'digestPatches', 'effectiveRules', 'encodeAdmissionResponse', 'encodePatch', 'encodeRule', 'encodeScopedVerifyImagesAnnotation', 'encodeVerifyImagesAnnotation', 'evaluateImages', 'escapePointerToken', 'extractImages', 'findException', 'formatTarget', 'isInPolicyScope', 'matchesAnyWildcard', 'matchesKind', 'matchesLabelSelector', 'matchesRule', 'normalizeFailureAction', 'normalizeImage', 'parseKindSelector', 'parsePointer', 'podSpecPointer', 'policyKey', 'requestSummary', 'resolveFailureAction', 'wildcardMatch', 'NOOP_OBSERVER', 'buildVerificationRecord', 'NOTHING_VERIFIED_BEFORE', 'recordImageKey', 'recordPatches', 'scopedPolicyKey', 'unbackedClaims', 'verifiedBefore'].sort());
  });
});
