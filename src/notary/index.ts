// The notary module: Notary Project signatures — JWS and COSE envelopes, the payload, signature
// manifests, trust policy, trust store, signing and the per-signature verifier. Implements
// notaryproject/specifications v1.1 (signature-specification, signing-scheme, trust-store-trust-policy).

export { algorithmByName, algorithmForKeySpec, ALGORITHMS } from './algorithm.js';
export type { AlgorithmInfo, SignatureAlgorithm } from './algorithm.js';
export { createRawSigner, decodeEnvelope, encodeEnvelope, isEnvelopeMediaType, verifySignatureBytes } from './codec.js';
export type { EnvelopeEncodeOptions } from './codec.js';
export { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, PAYLOAD_CONTENT_TYPE } from './envelope.js';
export { formatRfc3339 } from './jws.js';
export type {
  DecodedEnvelope,
  EnvelopeContent,
  EnvelopeMediaType,
  ExtendedAttribute,
  RawSigner,
  SignedAttributes,
  SignerInfo,
  SigningScheme,
  SignRequest,
  UnsignedAttributes,
} from './envelope.js';
export { EnvelopeError, NotaryError, SignatureManifestError, SigningError, TrustPolicyError, TrustStoreError } from './errors.js';
export type { NotaryErrorCode } from './errors.js';
export { LEVELS, resolveVerificationLevel, VALIDATION_ACTIONS, VALIDATION_TYPES } from './levels.js';
export type { LevelSettings, ValidationAction, ValidationType, VerificationLevel, VerificationLevelName } from './levels.js';
export { decodePayload, encodePayload } from './payload.js';
export type { NotaryPayload } from './payload.js';
export { isSameArtifact, pushSignature, signArtifact, withUserMetadata } from './sign.js';
export type { SignArtifactRequest } from './sign.js';
export { ANNOTATION_CREATED, ANNOTATION_THUMBPRINT, decodeSignatureManifest, packSignature, thumbprintsOf } from './signature-manifest.js';
export type { PackedSignature, SignatureManifest } from './signature-manifest.js';
export {
  createTrustPolicyDocument,
  decodeTrustPolicyDocument,
  encodeTrustPolicyDocument,
  findApplicableTrustPolicy,
  TRUST_POLICY_VERSION,
} from './trustpolicy.js';
export type {
  SignatureVerification,
  TrustedIdentity,
  TrustPolicyDocument,
  TrustPolicyStatement,
  TrustPolicyStatementOptions,
  TrustStoreReference,
  VerifyTimestamp,
} from './trustpolicy.js';
export {
  addTrustStoreCertificates,
  deleteTrustStoreCertificates,
  FileTrustStore,
  isTrustStoreName,
  isTrustStoreType,
  listTrustStoreCertificates,
  TRUST_STORE_TYPES,
} from './truststore.js';
export type { TrustStore, TrustStoreEntry, TrustStoreType } from './truststore.js';
export { Verifier } from './verifier.js';
export type { SignatureFailureKind, ValidationResult, VerificationOutcome, VerifierOptions, VerifySignatureRequest } from './verifier.js';
