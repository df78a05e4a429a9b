// The pki module: X.509 certificates, chains and distinguished names as the Notary Project uses them.
// Implements RFC 5280 structure and the signature-specification.md certificate requirements.

export { decodeDer, decodeDerElements, MAX_DER_DEPTH } from './asn1.js';
export type { DerNode, TagClass } from './asn1.js';
export {
  decodeCertificate,
  EKU_CLIENT_AUTH,
  EKU_CODE_SIGNING,
  EKU_EMAIL_PROTECTION,
  EKU_OCSP_SIGNING,
  EKU_SERVER_AUTH,
  EKU_TIME_STAMPING,
  isIssuedBy,
  isSelfSigned,
  isValidAt,
  KEY_USAGE_NAMES,
} from './certificate.js';
export type {
  BasicConstraints,
  Certificate,
  CertificateExtension,
  ExtendedKeyUsage,
  KeyUsage,
  KeyUsageName,
  SignatureAlgorithm,
} from './certificate.js';
export { validateCodeSigningChain, validateTimestampingChain } from './chain.js';
export type { ChainValidationOptions } from './chain.js';
export { formatDistinguishedName, isSubsetOf, parseDistinguishedName, validateTrustedIdentityName } from './dn.js';
export type { DistinguishedName, DistinguishedNameAttribute } from './dn.js';
export { CertificateError, ChainError, DistinguishedNameError, KeyError, PkiError } from './errors.js';
export type { PkiErrorCode } from './errors.js';
export { createCertificate, generateTestCertificate } from './generate.js';
export type { CreateCertificateOptions, TestCertificate } from './generate.js';
export { hashAlgorithmOf, keySpecOf } from './keyspec.js';
export type { HashAlgorithm, KeySpec } from './keyspec.js';
export { decodeCertificates, decodePrivateKeyPem, encodeCertificatesPem } from './pem.js';
