import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NOTATION_E2E } from '../../test/support/shared.js';
import { CertificateError, KeyError, PkiError } from './errors.js';
import { decodeCertificates, decodePrivateKeyPem, encodeCertificatesPem } from './pem.js';
import { isPkiError, makeLeaf, makeRoot, openssl } from './support.test.js';

const CONFIG = join(NOTATION_E2E, 'config');
const file = (name: string): Buffer => readFileSync(join(CONFIG, name));

describe('decodeCertificates', () => {
  it('reads one PEM certificate', () => {
    const certs = decodeCertificates(file('localkeys/e2e.crt'), 'e2e.crt');
    assert.equal(certs.length, 1);
    assert.equal(certs[0]?.subject, 'CN=e2e,O=Notary,L=Seattle,ST=WA,C=US');
  });

  it('reads a PEM chain in file order', () => {
    const certs = decodeCertificates(file('crl/certchain_with_crl.pem'), 'chain');
    assert.deepEqual(
      certs.map((c) => c.subjectRdns.find((a) => a.type === 'CN')?.value),
      ['LeafCert', 'IntermediateCA', 'RootCA'],
    );
  });

  it('reads DER files, one certificate or several concatenated', () => {
    const digicert = file('timestamp/DigiCertTSARootSHA384.cer');
    const globalsign = file('timestamp/globalsignTSARoot.cer');
    assert.equal(decodeCertificates(digicert, 'digicert').length, 1);
    const both = decodeCertificates(Buffer.concat([digicert, globalsign]), 'both');
    assert.deepEqual(both.map((c) => c.subjectRdns.at(-1)?.value), ['DigiCert Trusted Root G4', 'GlobalSign']);
  });

  it('skips text around blocks and blocks of other types, as notation-core-go does', () => {
    const pem = encodeCertificatesPem(decodeCertificates(file('localkeys/e2e.crt'), 'e2e'));
    const mixed = `subject=CN=e2e\n${file('localkeys/e2e.key').toString()}\r\n${pem.replaceAll('\n', '\r\n')}trailing words\n`;
    assert.equal(decodeCertificates(Buffer.from(mixed), 'mixed').length, 1);
  });

  it('round-trips through encodeCertificatesPem and agrees with openssl', () => {
    const certs = decodeCertificates(file('ocsp/certchain_with_ocsp.pem'), 'ocsp');
    const pem = encodeCertificatesPem(certs);
    assert.ok(pem.split('\n').every((l) => l.length <= 64));
    assert.deepEqual(decodeCertificates(Buffer.from(pem), 'again').map((c) => c.sha256Fingerprint), certs.map((c) => c.sha256Fingerprint));
    const [first] = certs;
    assert.ok(first);
    assert.equal(openssl(['x509', '-outform', 'PEM'], encodeCertificatesPem([first])), encodeCertificatesPem([first]));
  });

  const failures: Array<[string, () => Uint8Array, 'CERTIFICATE_NOT_FOUND' | 'CERTIFICATE_INVALID' | 'PEM_INVALID']> = [
    ['an empty file (Empty.txt)', () => file('timestamp/Empty.txt'), 'CERTIFICATE_NOT_FOUND'],
    ['whitespace only', () => Buffer.from(' \n\t\n'), 'CERTIFICATE_NOT_FOUND'],
    ['PEM without CERTIFICATE blocks', () => file('localkeys/e2e.key'), 'CERTIFICATE_NOT_FOUND'],
    ['an empty CERTIFICATE block (invalid.crt)', () => file('timestamp/invalid.crt'), 'CERTIFICATE_INVALID'],
    ['a block without END', () => Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n'), 'PEM_INVALID'],
    ['a mismatched END label', () => Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n'), 'PEM_INVALID'],
    ['bad base64', () => Buffer.from('-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----\n'), 'PEM_INVALID'],
    ['text that is neither PEM nor DER', () => Buffer.from('hello world'), 'CERTIFICATE_INVALID'],
    ['a DER certificate with trailing garbage', () => Buffer.concat([file('timestamp/globalsignTSARoot.cer'), Buffer.from([0x30])]), 'CERTIFICATE_INVALID'],
  ];
  for (const [why, input, code] of failures) {
    it(`rejects ${why} with ${code} naming the source`, () => {
      assert.throws(() => decodeCertificates(input(), 'some/file.pem'), (e: unknown) => {
        isPkiError(CertificateError, code)(e);
        assert.ok((e as Error).message.startsWith('some/file.pem: '), (e as Error).message);
        return true;
      });
    });
  }

  it('says which certificate of a bundle is broken', () => {
    const root = makeRoot();
    const pem = encodeCertificatesPem([makeLeaf(root).certificate, root.certificate]) + '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n';
    assert.throws(() => decodeCertificates(Buffer.from(pem), 'bundle.pem'), /^CertificateError: bundle\.pem: certificate 3 is not valid/);
  });

  it('throws only CertificateError on arbitrary bytes and PEM-like text (fast-check)', () => {
    const pemish = fc
      .array(fc.oneof(fc.constantFrom('-----BEGIN CERTIFICATE-----\n', '-----END CERTIFICATE-----\n', 'MII', '==', '\n', 'A'), fc.string({ maxLength: 5 })), { maxLength: 12 })
      .map((p) => Buffer.from(p.join('')));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), pemish), (bytes) => {
        try {
          decodeCertificates(bytes, 'fuzz');
        } catch (e) {
          if (!(e instanceof CertificateError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodePrivateKeyPem', () => {
  it('reads the e2e PKCS#8 key and the CRL leaf key, matching their certificates', () => {
    for (const [key, cert] of [['localkeys/e2e.key', 'localkeys/e2e.crt'], ['crl/leaf.key', 'crl/certchain_with_crl.pem']] as const) {
      const privateKey = decodePrivateKeyPem(file(key).toString(), key);
      const [certificate] = decodeCertificates(file(cert), cert);
      assert.deepEqual(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }), certificate?.publicKey.export({ type: 'spki', format: 'der' }));
    }
  });

  it('reads PKCS#1 RSA and SEC1 EC keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    assert.ok(rsa.startsWith('-----BEGIN RSA PRIVATE KEY-----'));
    assert.equal(decodePrivateKeyPem(rsa, 'rsa.pem').asymmetricKeyType, 'rsa');
    assert.equal(decodePrivateKeyPem(Buffer.from(ec), 'ec.pem').asymmetricKeyDetails?.namedCurve, 'secp384r1');
    assert.equal(decodePrivateKeyPem(`${encodeCertificatesPem([makeRoot().certificate])}${ec}`, 'both.pem').type, 'private');
  });

  const bad: Array<[string, () => string]> = [
    ['no key block', () => file('localkeys/e2e.crt').toString()],
    ['an encrypted PKCS#8 key', () =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString()],
    ['an encrypted legacy key', () =>
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString()],
    ['a corrupt key body', () => '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'],
    ['broken PEM', () => '-----BEGIN PRIVATE KEY-----\nAAAA\n'],
  ];
  for (const [why, text] of bad) {
    it(`rejects ${why} with KeyError KEY_INVALID`, () => {
      assert.throws(() => decodePrivateKeyPem(text(), 'key.pem'), (e: unknown) => isPkiError(KeyError, 'KEY_INVALID')(e) && e instanceof PkiError && e.message.startsWith('key.pem: '));
    });
  }
});
