// Pins the pki module's public surface (STYLE.md rule 2): dropping or adding an export fails here.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as pki from './index.js';
import {
  CertificateError,
  ChainError,
  createCertificate,
  decodeCertificate,
  decodeCertificates,
  decodeDer,
  decodeDerElements,
  decodePrivateKeyPem,
  DistinguishedNameError,
  EKU_CLIENT_AUTH,
  EKU_CODE_SIGNING,
  EKU_EMAIL_PROTECTION,
  EKU_OCSP_SIGNING,
  EKU_SERVER_AUTH,
  EKU_TIME_STAMPING,
  encodeCertificatesPem,
  formatDistinguishedName,
  generateTestCertificate,
  hashAlgorithmOf,
  isIssuedBy,
  isSelfSigned,
  isSubsetOf,
  isValidAt,
  KEY_USAGE_NAMES,
  KeyError,
  keySpecOf,
  MAX_DER_DEPTH,
  parseDistinguishedName,
  PkiError,
  validateCodeSigningChain,
  validateTimestampingChain,
  validateTrustedIdentityName,
} from './index.js';
import type {
  BasicConstraints,
  Certificate,
  CertificateExtension,
  ChainValidationOptions,
  CreateCertificateOptions,
  DerNode,
  DistinguishedName,
  DistinguishedNameAttribute,
  ExtendedKeyUsage,
  HashAlgorithm,
  KeySpec,
  KeyUsage,
  KeyUsageName,
  PkiErrorCode,
  SignatureAlgorithm,
  TagClass,
  TestCertificate,
} from './index.js';

describe('pki index', () => {
  it('exports exactly the public values', () => {
    const values = {
      CertificateError,
      ChainError,
      createCertificate,
      decodeCertificate,
      decodeCertificates,
      decodeDer,
      decodeDerElements,
      decodePrivateKeyPem,
      DistinguishedNameError,
      EKU_CLIENT_AUTH,
      EKU_CODE_SIGNING,
      EKU_EMAIL_PROTECTION,
      EKU_OCSP_SIGNING,
      EKU_SERVER_AUTH,
      EKU_TIME_STAMPING,
      encodeCertificatesPem,
      formatDistinguishedName,
      generateTestCertificate,
      hashAlgorithmOf,
      isIssuedBy,
      isSelfSigned,
      isSubsetOf,
      isValidAt,
      KEY_USAGE_NAMES,
      KeyError,
      keySpecOf,
      MAX_DER_DEPTH,
      parseDistinguishedName,
      PkiError,
      validateCodeSigningChain,
      validateTimestampingChain,
      validateTrustedIdentityName,
    };
    assert.deepEqual(Object.keys(pki).sort(), Object.keys(values).sort());
    for (const [name, value] of Object.entries(values)) assert.equal(pki[name as keyof typeof pki], value, name);
  });

  it('keeps the EKU OIDs of RFC 5280 §4.2.1.12', () => {
    assert.deepEqual(
      [EKU_SERVER_AUTH, EKU_CLIENT_AUTH, EKU_CODE_SIGNING, EKU_EMAIL_PROTECTION, EKU_TIME_STAMPING, EKU_OCSP_SIGNING],
      ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.3', '1.3.6.1.5.5.7.3.4', '1.3.6.1.5.5.7.3.8', '1.3.6.1.5.5.7.3.9'],
    );
  });

  it('keeps the error hierarchy and codes', () => {
    for (const cls of [CertificateError, ChainError, DistinguishedNameError, KeyError]) assert.ok(new cls('DER_INVALID', 'x') instanceof PkiError);
    const codes: PkiErrorCode[] = ['DER_INVALID', 'PEM_INVALID', 'CERTIFICATE_INVALID', 'CERTIFICATE_NOT_FOUND', 'CHAIN_INVALID', 'DN_INVALID', 'KEY_UNSUPPORTED', 'KEY_INVALID'];
    assert.equal(codes.length, 8);
    const chainError = new ChainError('CHAIN_INVALID', 'x', { index: 1, subject: 'CN=a' });
    assert.deepEqual([chainError.name, chainError.index, chainError.subject], ['ChainError', 1, 'CN=a']);
  });

  it('exports the types the other modules use', () => {
    // Compile-time pins: each exported type is named once here.
    type Pinned = [
      BasicConstraints,
      Certificate,
      CertificateExtension,
      ChainValidationOptions,
      CreateCertificateOptions,
      DerNode,
      DistinguishedName,
      DistinguishedNameAttribute,
      ExtendedKeyUsage,
      HashAlgorithm,
      KeySpec,
      KeyUsage,
      KeyUsageName,
      PkiErrorCode,
      SignatureAlgorithm,
      TagClass,
      TestCertificate,
    ];
    const count: Pinned['length'] = 17;
    assert.equal(count, 17);
  });
});
