import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NOTATION_E2E } from '../../test/support/shared.js';
import { derNull, derOid, derSequence } from './asn1.js';
import { EKU_CLIENT_AUTH, EKU_CODE_SIGNING, EKU_EMAIL_PROTECTION, EKU_OCSP_SIGNING, EKU_SERVER_AUTH, EKU_TIME_STAMPING } from './certificate.js';
import type { Certificate } from './certificate.js';
import { validateCodeSigningChain, validateTimestampingChain } from './chain.js';
import { ChainError } from './errors.js';
import { generateTestCertificate } from './generate.js';
import { decodeCertificates } from './pem.js';
import { DAY, makeIntermediate, makeLeaf, makeRoot, NOW, resign, testKey } from './support.test.js';
import type { Issued } from './support.test.js';

const CONFIG = join(NOTATION_E2E, 'config');
const certs = (...issued: Issued[]): Certificate[] => issued.map((i) => i.certificate);

/** Asserts a ChainError CHAIN_INVALID, optionally blaming the certificate at `index`. */
function rejects(run: () => void, index?: number, fragment?: RegExp): void {
  assert.throws(run, (e: unknown) => {
    if (!(e instanceof ChainError) || e.code !== 'CHAIN_INVALID') throw e;
    if (index !== undefined) assert.equal(e.index, index, e.message);
    if (fragment !== undefined) assert.match(e.message, fragment);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}

describe('validateCodeSigningChain', () => {
  const root = makeRoot();
  const inter = makeIntermediate(root);
  const leaf = makeLeaf(inter);
  const directLeaf = makeLeaf(root, 'Direct Leaf');
  const at = { at: NOW };

  describe('accepts', () => {
    it('a self-signed generate-test certificate alone', () => {
      validateCodeSigningChain([generateTestCertificate({ name: 'solo', now: NOW }).certificate], { at: new Date(NOW.getTime() + 1000) });
    });
    it('the Notation e2e certificate alone', () => {
      validateCodeSigningChain(decodeCertificates(readFileSync(join(CONFIG, 'localkeys/e2e.crt')), 'e2e.crt'), { at: NOW });
    });
    it('a leaf and its root', () => validateCodeSigningChain(certs(directLeaf, root), at));
    it('a leaf, an intermediate and the root', () => validateCodeSigningChain(certs(leaf, inter, root), at));
    it('without `at`, certificates outside their validity', () => validateCodeSigningChain(certs(leaf, inter, root)));
    it('the Notation e2e CRL chain', () => validateCodeSigningChain(decodeCertificates(readFileSync(join(CONFIG, 'crl/certchain_with_crl.pem')), 'chain')));
    it('a leaf with basic constraints cA=false, nonRepudiation and codeSigning plus a custom EKU', () => {
      const l = makeLeaf(root, 'Extra', { basicConstraints: { cA: false }, keyUsage: { usages: ['digitalSignature', 'nonRepudiation'] }, extKeyUsage: { oids: [EKU_CODE_SIGNING, '1.3.6.1.4.1.311.10.3.13'] } });
      validateCodeSigningChain(certs(l, root), at);
    });
    it('a leaf with anyExtendedKeyUsage, which notation-core-go v1.3.0 does not forbid', () => {
      validateCodeSigningChain(certs(makeLeaf(root, 'Any', { extKeyUsage: { oids: ['2.5.29.37.0'] } }), root), at);
    });
    it('a leaf without extended key usage', () => {
      validateCodeSigningChain(certs(makeLeaf(root, 'NoEku', { extKeyUsage: undefined }), root), at);
    });
    it('pathLenConstraint 0 on the intermediate right above the leaf', () => {
      const i0 = makeIntermediate(root, 'Path0', { basicConstraints: { cA: true, pathLenConstraint: 0 } });
      validateCodeSigningChain(certs(makeLeaf(i0), i0, root), at);
    });
    it('pathLenConstraint 2 on a root above two intermediates', () => {
      const r1 = makeRoot('Root1', { basicConstraints: { cA: true, pathLenConstraint: 2 } });
      const i1 = makeIntermediate(r1, 'I1');
      const i2 = makeIntermediate(i1, 'I2', { key: testKey('ec-256', 2) });
      validateCodeSigningChain(certs(makeLeaf(i2), i2, i1, r1), at);
    });
    it('every allowed leaf key type', () => {
      for (const kind of ['ec-256', 'ec-384', 'ec-521', 'rsa-2048', 'rsa-3072'] as const) {
        validateCodeSigningChain(certs(makeLeaf(root, kind, { key: testKey(kind) }), root), at);
      }
    });
  });

  describe('rejects', () => {
    it('an empty chain', () => rejects(() => validateCodeSigningChain([], at)));
    it('a chain in the wrong order', () => rejects(() => validateCodeSigningChain(certs(root, inter, leaf), at), 0));
    it('a chain with root and intermediate swapped', () => rejects(() => validateCodeSigningChain(certs(leaf, root, inter), at), 0, /is not issued by/));
    it('a chain without its root', () => rejects(() => validateCodeSigningChain(certs(leaf, inter), at), 1, /root certificate .* is not self-signed/));
    it('a chain missing its intermediate', () => rejects(() => validateCodeSigningChain(certs(leaf, root), at), 0, /"CN=Leaf,O=Sigil Test,ST=WA,C=US" is not issued by "CN=Root,O=Sigil Test,C=US": its issuer is "CN=Intermediate,O=Sigil Test,C=US"/));
    it('a leaf issued by another key with the same issuer name', () => {
      const impostor = makeRoot('Root', { key: testKey('ec-256', 3) });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(impostor), root), at), 0, /signature does not verify/);
    });
    it('a lone certificate that is not self-issued', () => rejects(() => validateCodeSigningChain(certs(directLeaf), at), 0, /only certificate/));
    it('a self-signed intermediate', () => {
      const selfInter = makeRoot('Intermediate', { key: testKey('ec-256', 1) });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(selfInter), selfInter, root), at), 1, /intermediate certificate .* is self-signed/);
    });
    it('a self-signed CA leaf in front of its own root', () => rejects(() => validateCodeSigningChain(certs(root, root), at), 0, /leaf certificate .* is self-signed/));
    it('a CA certificate as the leaf', () => rejects(() => validateCodeSigningChain(certs(inter, root), at), 0, /is a CA certificate .* but appears as the leaf/));
    it('a root CA alone', () => rejects(() => validateCodeSigningChain(certs(root), at), 0, /appears as the leaf/));
    for (const [oid, name] of [[EKU_SERVER_AUTH, 'serverAuth'], [EKU_CLIENT_AUTH, 'clientAuth'], [EKU_EMAIL_PROTECTION, 'emailProtection'], [EKU_TIME_STAMPING, 'timeStamping'], [EKU_OCSP_SIGNING, 'OCSPSigning']] as const) {
      it(`a leaf with the ${name} extended key usage`, () => {
        rejects(() => validateCodeSigningChain(certs(makeLeaf(root, name, { extKeyUsage: { oids: [EKU_CODE_SIGNING, oid] } }), root), at), 0, new RegExp(`extended key usage ${name}`));
      });
    }
    it('a leaf whose key usage is not critical', () => rejects(() => validateCodeSigningChain(certs(makeLeaf(root, 'NC', { keyUsage: { usages: ['digitalSignature'], critical: false } }), root), at), 0, /not marked critical/));
    it('a leaf without key usage', () => rejects(() => validateCodeSigningChain(certs(makeLeaf(root, 'NoKU', { keyUsage: undefined }), root), at), 0, /no key usage/));
    it('a leaf with keyCertSign', () => rejects(() => validateCodeSigningChain(certs(makeLeaf(root, 'KCS', { keyUsage: { usages: ['digitalSignature', 'keyCertSign'] } }), root), at), 0, /key usage keyCertSign/));
    it('a leaf with keyEncipherment', () => rejects(() => validateCodeSigningChain(certs(makeLeaf(root, 'KE', { keyUsage: { usages: ['digitalSignature', 'keyEncipherment'] } }), root), at), 0));
    it('a leaf without digitalSignature', () => rejects(() => validateCodeSigningChain(certs(makeLeaf(root, 'NR', { keyUsage: { usages: ['nonRepudiation'] } }), root), at), 0, /digitalSignature/));
    it('an intermediate with cA=false', () => {
      const notCa = makeIntermediate(root, 'NotCA', { basicConstraints: { cA: false } });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(notCa), notCa, root), at), 1, /"CN=NotCA,O=Sigil Test,C=US" is not a CA certificate \(basic constraints cA=false\) but appears as an intermediate/);
    });
    it('an intermediate without basic constraints', () => {
      const noBc = makeIntermediate(root, 'NoBC', { basicConstraints: undefined });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(noBc), noBc, root), at), 1, /basic constraints missing/);
    });
    it('an intermediate without keyCertSign', () => {
      const i = makeIntermediate(root, 'NoKCS', { keyUsage: { usages: ['digitalSignature'] } });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(i), i, root), at), 1, /keyCertSign/);
    });
    it('an intermediate whose key usage is not critical', () => {
      const i = makeIntermediate(root, 'NCKU', { keyUsage: { usages: ['keyCertSign'], critical: false } });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(i), i, root), at), 1, /not marked critical/);
    });
    it('an intermediate without key usage', () => {
      const i = makeIntermediate(root, 'NoKU', { keyUsage: undefined });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(i), i, root), at), 1, /no key usage/);
    });
    it('a root that is not a CA', () => {
      const fakeRoot = makeRoot('Fake', { basicConstraints: undefined, keyUsage: { usages: ['digitalSignature'] } });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(fakeRoot), fakeRoot), at), 1, /appears as the root/);
    });
    it('a violated pathLenConstraint on the root', () => {
      const r0 = makeRoot('Root0', { basicConstraints: { cA: true, pathLenConstraint: 0 } });
      const i = makeIntermediate(r0, 'Under0');
      rejects(() => validateCodeSigningChain(certs(makeLeaf(i), i, r0), at), 2, /pathLenConstraint 0 but 1 intermediate/);
    });
    it('a violated pathLenConstraint on an intermediate', () => {
      const i1 = makeIntermediate(root, 'I1', { basicConstraints: { cA: true, pathLenConstraint: 0 } });
      const i2 = makeIntermediate(i1, 'I2', { key: testKey('ec-256', 2) });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(i2), i2, i1, root), at), 2, /pathLenConstraint/);
    });
    it('an expired leaf at `at`', () => {
      rejects(() => validateCodeSigningChain(certs(leaf, inter, root), { at: new Date(NOW.getTime() + 31 * DAY) }), 0, /expired at/);
    });
    it('a not-yet-valid intermediate at `at`', () => {
      const future = makeIntermediate(root, 'Future', { notBefore: new Date(NOW.getTime() + DAY) });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(future), future, root), at), 1, /not valid before/);
    });
    it('an expired root at `at`', () => {
      const old = makeRoot('Old', { notAfter: new Date(NOW.getTime() - DAY) });
      rejects(() => validateCodeSigningChain(certs(makeLeaf(old), old), at), 1);
    });
    it('the expired Notation e2e certificate at now', () => {
      rejects(() => validateCodeSigningChain(decodeCertificates(readFileSync(join(CONFIG, 'localkeys/expired_e2e.crt')), 'expired'), at), 0);
    });
    it('an RSA-1024 leaf', () => rejects(() => validateCodeSigningChain(certs(makeLeaf(root, 'Small', { key: testKey('rsa-1024') }), root), at), 0, /RSA key size 1024/));
    it('an Ed25519 leaf', () => {
      const ed = generateKeyPairSync('ed25519');
      rejects(() => validateCodeSigningChain(certs(makeLeaf(root, 'Ed', { key: ed }), root), at), 0, /unsupported key/);
    });
    it('a SHA-1 signed leaf and an MD5 signed root', () => {
      const rsaRoot = makeRoot('RSA Root', { key: testKey('rsa-2048') });
      const l = makeLeaf(rsaRoot, 'Leaf', { key: testKey('rsa-2048', 1) });
      validateCodeSigningChain(certs(l, rsaRoot), at);
      const sha1 = derSequence(derOid('1.2.840.113549.1.1.5'), derNull());
      const md5 = derSequence(derOid('1.2.840.113549.1.1.4'), derNull());
      rejects(() => validateCodeSigningChain([resign(l.certificate, rsaRoot.privateKey, sha1, 'sha1'), rsaRoot.certificate], at), 0, /sha1WithRSAEncryption, which is insecure/);
      rejects(() => validateCodeSigningChain([l.certificate, resign(rsaRoot.certificate, rsaRoot.privateKey, md5, 'md5')], at), 1, /md5WithRSAEncryption/);
    });
    it('a SHA-1 self-signed lone certificate (stricter than Go, which allows SHA-1 there)', () => {
      const solo = generateTestCertificate({ name: 'sha1', now: NOW });
      const weak = resign(solo.certificate, solo.privateKey, derSequence(derOid('1.2.840.113549.1.1.5'), derNull()), 'sha1');
      rejects(() => validateCodeSigningChain([weak], { at: new Date(NOW.getTime() + 1000) }), 0, /insecure/);
    });
  });

  it('names the offending certificate on the error', () => {
    try {
      validateCodeSigningChain(certs(inter, root), at);
      assert.fail('expected a ChainError');
    } catch (e) {
      assert.ok(e instanceof ChainError);
      assert.equal(e.subject, inter.certificate.subject);
      assert.equal(e.index, 0);
      assert.ok(e.message.includes(JSON.stringify(inter.certificate.subject)));
    }
  });
});

describe('validateTimestampingChain', () => {
  const root = makeRoot('TSA Root');
  const inter = makeIntermediate(root, 'TSA CA', { keyUsage: { usages: ['keyCertSign'], critical: false } });
  const tsa = (overrides: Parameters<typeof makeLeaf>[2] = {}): Issued =>
    makeLeaf(inter, 'TSA', { keyUsage: { usages: ['digitalSignature'], critical: false }, extKeyUsage: { oids: [EKU_TIME_STAMPING], critical: true }, ...overrides });
  const at = { at: NOW };

  it('accepts a TSA chain whose key usages are not critical', () => validateTimestampingChain(certs(tsa(), inter, root), at));
  it('accepts a self-signed TSA certificate alone', () => {
    const k = testKey('rsa-2048');
    const solo = makeRoot('Solo TSA', { key: k, basicConstraints: undefined, keyUsage: { usages: ['digitalSignature'] }, extKeyUsage: { oids: [EKU_TIME_STAMPING], critical: true } });
    validateTimestampingChain(certs(solo), at);
  });
  it('rejects a TSA leaf whose extended key usage is not critical', () => rejects(() => validateTimestampingChain(certs(tsa({ extKeyUsage: { oids: [EKU_TIME_STAMPING] } }), inter, root), at), 0, /not marked critical/));
  it('rejects a TSA leaf with codeSigning', () => rejects(() => validateTimestampingChain(certs(tsa({ extKeyUsage: { oids: [EKU_CODE_SIGNING], critical: true } }), inter, root), at), 0, /only extended key usage/));
  it('rejects a TSA leaf with a second extended key usage', () => rejects(() => validateTimestampingChain(certs(tsa({ extKeyUsage: { oids: [EKU_TIME_STAMPING, '1.2.3.4'], critical: true } }), inter, root), at), 0));
  it('rejects a TSA leaf without extended key usage', () => rejects(() => validateTimestampingChain(certs(tsa({ extKeyUsage: undefined }), inter, root), at), 0, /has none/));
  it('rejects a TSA leaf without key usage', () => rejects(() => validateTimestampingChain(certs(tsa({ keyUsage: undefined }), inter, root), at), 0, /no key usage/));
  it('rejects a TSA root CA alone (DigiCert)', () => {
    rejects(() => validateTimestampingChain(decodeCertificates(readFileSync(join(CONFIG, 'timestamp/DigiCertTSARootSHA384.cer')), 'digicert')), 0, /appears as the leaf/);
  });
  it('rejects a code-signing leaf as a TSA leaf', () => rejects(() => validateTimestampingChain(certs(makeLeaf(inter), inter, root), at), 0));
  it('rejects an expired TSA certificate at `at`', () => rejects(() => validateTimestampingChain(certs(tsa(), inter, root), { at: new Date(NOW.getTime() + 60 * DAY) }), 0));
});
