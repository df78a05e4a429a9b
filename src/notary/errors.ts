// Errors raised by the notary module. Codes are API: add, never rename or reuse (STYLE.md rule 5).

/** Closed set of error codes the notary module raises. */
export type NotaryErrorCode =
  | 'ENVELOPE_INVALID'
  | 'ENVELOPE_UNSUPPORTED'
  | 'PAYLOAD_INVALID'
  | 'ALGORITHM_UNSUPPORTED'
  | 'SIGNATURE_MANIFEST_INVALID'
  | 'TRUST_POLICY_INVALID'
  | 'TRUST_POLICY_NOT_FOUND'
  | 'NO_APPLICABLE_TRUST_POLICY'
  | 'TRUST_STORE_INVALID'
  | 'TRUST_STORE_NOT_FOUND'
  | 'SIGNING_FAILED'
  | 'USER_METADATA_INVALID';

/** Base class of every error the notary module throws; `code` is stable, the message is for people. */
export class NotaryError extends Error {
  readonly code: NotaryErrorCode;
  constructor(code: NotaryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A JWS or COSE signature envelope, or the Notary payload inside it, breaks the signature specification. */
export class EnvelopeError extends NotaryError {}

/** A signature manifest is not one the Notary Project signature specification describes. */
export class SignatureManifestError extends NotaryError {}

/** A trust policy document breaks trust-store-trust-policy.md, or none applies to an artifact. */
export class TrustPolicyError extends NotaryError {}

/** A named trust store is missing, empty or holds something other than certificates it may hold. */
export class TrustStoreError extends NotaryError {}

/** Producing a signature failed (the key, the chain or the request is unusable). */
export class SigningError extends NotaryError {}
