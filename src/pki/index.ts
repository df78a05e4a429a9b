// The pki module: X.509 certificates, chains and distinguished names as the Notary Project uses them.
// Implements RFC 5280 structure and the signature-specification.md certificate requirements.

export { CertificateError, ChainError, DistinguishedNameError, KeyError, PkiError } from './errors.js';
export type { PkiErrorCode } from './errors.js';
export { hashAlgorithmOf, keySpecOf } from './keyspec.js';
export type { HashAlgorithm, KeySpec } from './keyspec.js';
