// The verify module: "is this artifact trusted?" — trust policy selection, signature discovery
// and retrieval, per-signature verification and one report. Implements notation-go's Verify flow.

export { VerifyError } from './errors.js';
export type { VerifyErrorCode } from './errors.js';
export { DEFAULT_MAX_SIGNATURES, fetchSignature, listSignatures, statementFor, verifyArtifact } from './verify.js';
export type { SignatureAttempt, SignatureSource, VerificationReport, VerifyArtifactRequest } from './verify.js';
