// Errors raised by the keys module. Codes are API: add, never rename or reuse (STYLE.md rule 5).

/** Closed set of error codes the keys module raises. */
export type KeysErrorCode = 'SIGNING_KEYS_INVALID' | 'KEY_NOT_FOUND' | 'KEY_EXISTS' | 'KEY_INVALID' | 'KEY_UNSUPPORTED';

/** Base class of every error the keys module throws; `code` is stable, the message is for people. */
export class KeysError extends Error {
  readonly code: KeysErrorCode;
  constructor(code: KeysErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** `signingkeys.json` is malformed, or names a key that does not exist or already exists. */
export class SigningKeysError extends KeysError {}

/** Key material cannot sign: unreadable, unsupported, or not the key of its certificate. */
export class SigningKeyError extends KeysError {}
