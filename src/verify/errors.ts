// Errors raised by the verify module. Codes are API: add, never rename or reuse (STYLE.md rule 5).

/** Closed set of error codes the verify module raises. */
export type VerifyErrorCode = 'MAX_SIGNATURES_INVALID' | 'REFERRERS_UNSUPPORTED' | 'SIZE_EXCEEDS_LIMIT';

/** Base class of every error the verify module throws. */
export class VerifyError extends Error {
  readonly code: VerifyErrorCode;
  constructor(code: VerifyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
