// Errors raised by the pki module. Codes are API: add, never rename or reuse (STYLE.md rule 5).

/** Closed set of error codes the pki module raises. */
export type PkiErrorCode =
  | 'DER_INVALID'
  | 'PEM_INVALID'
  | 'CERTIFICATE_INVALID'
  | 'CERTIFICATE_NOT_FOUND'
  | 'CHAIN_INVALID'
  | 'DN_INVALID'
  | 'KEY_UNSUPPORTED'
  | 'KEY_INVALID';

/** Base class of every error the pki module throws; `code` is stable, the message is for people. */
export class PkiError extends Error {
  readonly code: PkiErrorCode;
  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bytes are not valid DER or PEM, or a certificate does not follow RFC 5280's structure. */
export class CertificateError extends PkiError {}

/** A certificate chain breaks the Notary Project certificate requirements. */
export class ChainError extends PkiError {
  /** Position in the chain (0 = leaf) of the certificate that breaks a rule, when one does. */
  readonly index: number | undefined;
  /** Subject (Go pkix.Name.String() form) of that certificate, when one does. */
  readonly subject: string | undefined;
  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown; index?: number; subject?: string }) {
    super(code, message, options);
    this.index = options?.index;
    this.subject = options?.subject;
  }
}

/** A distinguished name string does not follow the Notary Project trusted identity rules. */
export class DistinguishedNameError extends PkiError {}

/** A key is of a type or size the Notary Project signature specification does not allow. */
export class KeyError extends PkiError {}
