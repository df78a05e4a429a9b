import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { EKU_CODE_SIGNING, EKU_TIME_STAMPING, isSelfSigned } from './certificate.js';
import { validateCodeSigningChain, validateTimestampingChain } from './chain.js';
import { CertificateError, DistinguishedNameError, KeyError } from './errors.js';
import { createCertificate, generateTestCertificate } from './generate.js';
import { decodeCertificates, decodePrivateKeyPem, encodeCertificatesPem } from './pem.js';
import { DAY, HOUR, isPkiError, makeIntermediate, makeLeaf, makeRoot, NOW, openssl, testKey, withTempDir, writeTemp } from './support.test.js';
import type { Issued } from './support.test.js';

const attime = String(Math.floor(NOW.getTime() / 1000));

function opensslVerify(root: Issued, intermediates: readonly Issued[], leaf: Issued, extra: readonly string[] = []): string {
  return withTempDir((dir) => {
    const rootPath = writeTemp(dir, 'root.pem', encodeCertificatesPem([root.certificate]));
    const interPath = writeTemp(dir, 'inter.pem', encodeCertificatesPem(intermediates.map((i) => i.certificate)));
    const leafPath = writeTemp(dir, 'leaf.pem', encodeCertificatesPem([leaf.certificate]));
    const untrusted = intermediates.length > 0 ? ['-untrusted', interPath] : [];
    return openssl(['verify', '-x509_strict', '-attime', attime, ...extra, '-CAfile', rootPath, ...untrusted, leafPath]);
  });
}

function text(issued: Issued): string {
  return openssl(['x509', '-noout', '-text'], encodeCertificatesPem([issued.certificate]));
}

describe('createCertificate', () => {
  const kinds = ['ec-256', 'ec-384', 'ec-521', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
  for (const kind of kinds) {
    it(`issues a ${kind} root → intermediate → leaf chain that openssl verify accepts`, () => {
      const root = makeRoot(`${kind} Root`, { key: testKey(kind, 0) });
      const inter = makeIntermediate(root, `${kind} Intermediate`, { key: testKey(kind, 1), basicConstraints: { cA: true, pathLenConstraint: 0 } });
      const leaf = makeLeaf(inter, `${kind} Leaf`, { key: testKey(kind, 0) });
      assert.match(opensslVerify(root, [inter], leaf), /leaf\.pem: OK/);
      validateCodeSigningChain([leaf.certificate, inter.certificate, root.certificate], { at: NOW });
      const expected = kind.startsWith('ec') ? { 'ec-256': 'ecdsa-with-SHA256', 'ec-384': 'ecdsa-with-SHA384', 'ec-521': 'ecdsa-with-SHA512' }[kind as 'ec-256'] : 'sha256WithRSAEncryption';
      assert.equal(inter.certificate.signatureAlgorithm.name, expected);
    });
  }

  it('writes the extensions it was asked for, as openssl prints them', () => {
    const root = makeRoot();
    const inter = makeIntermediate(root, 'Intermediate', { basicConstraints: { cA: true, pathLenConstraint: 0 }, keyUsage: { usages: ['keyCertSign', 'cRLSign', 'digitalSignature'] } });
    const tsa = makeLeaf(inter, 'TSA', { keyUsage: { usages: ['digitalSignature', 'nonRepudiation'], critical: false }, extKeyUsage: { oids: [EKU_TIME_STAMPING], critical: true }, basicConstraints: { cA: false, critical: false } });
    const interText = text(inter);
    assert.match(interText, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0/);
    assert.match(interText, /X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign/);
    assert.match(interText, new RegExp(`X509v3 Authority Key Identifier: \\n\\s+(keyid:)?${root.certificate.subjectKeyIdentifier?.toUpperCase().match(/../g)?.join(':')}`));
    const tsaText = text(tsa);
    assert.match(tsaText, /X509v3 Basic Constraints: \n\s+CA:FALSE/);
    assert.match(tsaText, /X509v3 Key Usage: \n\s+Digital Signature, Non Repudiation/);
    assert.match(tsaText, /X509v3 Extended Key Usage: critical\n\s+Time Stamping/);
    assert.match(tsaText, /X509v3 Subject Key Identifier: \n\s+[0-9A-F:]{59}/);
    assert.equal(tsa.certificate.authorityKeyIdentifier, inter.certificate.subjectKeyIdentifier);
    validateTimestampingChain([tsa.certificate, inter.certificate, root.certificate], { at: NOW });
    assert.match(opensslVerify(root, [inter], tsa, ['-purpose', 'timestampsign']), /OK/);
  });

  it('encodes the subject in the order written, C as PrintableString and the rest as UTF8String', () => {
    const { certificate } = makeRoot('Zoë', {});
    assert.deepEqual(certificate.subjectRdns.map((a) => [a.type, a.value]), [['C', 'US'], ['O', 'Sigil Test'], ['CN', 'Zoë']]);
    const parsed = openssl(['asn1parse', '-inform', 'DER'], certificate.rawSubject);
    assert.match(parsed, /countryName\n.*PRINTABLESTRING\s+:US/);
    assert.match(parsed, /organizationName\n.*UTF8STRING\s+:Sigil Test/);
    assert.equal(certificate.subject, 'CN=Zoë,O=Sigil Test,C=US');
  });

  it('honours signatureHash for RSA and uses the curve hash for ECDSA by default', () => {
    const key = testKey('rsa-2048');
    const base = { subject: 'CN=x', publicKey: key.publicKey, signingKey: key.privateKey, notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY) };
    assert.equal(createCertificate({ ...base, signatureHash: 'SHA-384' }).signatureAlgorithm.name, 'sha384WithRSAEncryption');
    assert.equal(createCertificate({ ...base, signatureHash: 'SHA-512' }).signatureAlgorithm.name, 'sha512WithRSAEncryption');
    const ec = testKey('ec-256');
    assert.equal(createCertificate({ ...base, publicKey: ec.publicKey, signingKey: ec.privateKey, signatureHash: 'SHA-512' }).signatureAlgorithm.name, 'ecdsa-with-SHA512');
  });

  it('writes GeneralizedTime from 2050 and keeps whole seconds', () => {
    const key = testKey('ec-256');
    const cert = createCertificate({
      subject: 'CN=long',
      publicKey: key.publicKey,
      signingKey: key.privateKey,
      notBefore: new Date('2049-12-31T23:59:59.750Z'),
      notAfter: new Date('2122-12-19T02:43:39Z'),
      serialNumber: 0x51n,
    });
    assert.equal(cert.notBefore.toISOString(), '2049-12-31T23:59:59.000Z');
    assert.equal(cert.notAfter.toISOString(), '2122-12-19T02:43:39.000Z');
    assert.equal(cert.serialNumber, '51');
    assert.match(openssl(['asn1parse', '-inform', 'DER'], cert.der), /UTCTIME\s+:491231235959Z[\s\S]*GENERALIZEDTIME\s+:21221219024339Z/);
  });

  it('picks distinct random serial numbers by default', () => {
    const a = makeRoot().certificate.serialNumber;
    const b = makeRoot().certificate.serialNumber;
    assert.notEqual(a, b);
  });

  const ec = testKey('ec-256');
  const other = testKey('ec-256', 1);
  const base = { subject: 'CN=x', publicKey: ec.publicKey, signingKey: ec.privateKey, notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY) };
  const refusals: Array<[string, () => unknown, (e: unknown) => boolean]> = [
    ['a self-signed certificate without signingKey', () => createCertificate({ ...base, signingKey: undefined }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['a signingKey that is not the key of publicKey', () => createCertificate({ ...base, signingKey: other.privateKey }), isPkiError(KeyError, 'KEY_INVALID')],
    ['an issuer private key that does not match its certificate', () => createCertificate({ ...base, issuer: { certificate: makeRoot().certificate, privateKey: other.privateKey } }), isPkiError(KeyError, 'KEY_INVALID')],
    ['a public key as the signing key', () => createCertificate({ ...base, signingKey: ec.publicKey }), isPkiError(KeyError, 'KEY_INVALID')],
    ['an Ed25519 signing key', () => {
      const ed = generateKeyPairSync('ed25519');
      return createCertificate({ ...base, publicKey: ed.publicKey, signingKey: ed.privateKey });
    }, isPkiError(KeyError, 'KEY_UNSUPPORTED')],
    ['notAfter before notBefore', () => createCertificate({ ...base, notAfter: new Date(NOW.getTime() - HOUR) }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['an invalid date', () => createCertificate({ ...base, notBefore: new Date(Number.NaN) }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['pathLenConstraint without cA', () => createCertificate({ ...base, basicConstraints: { cA: false, pathLenConstraint: 1 } }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['a negative pathLenConstraint', () => createCertificate({ ...base, basicConstraints: { cA: true, pathLenConstraint: -1 } }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['an empty key usage', () => createCertificate({ ...base, keyUsage: { usages: [] } }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['an empty extended key usage', () => createCertificate({ ...base, extKeyUsage: { oids: [] } }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['a zero serial number', () => createCertificate({ ...base, serialNumber: 0n }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['a 21-octet serial number', () => createCertificate({ ...base, serialNumber: 1n << 160n }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['an unknown subject attribute type', () => createCertificate({ ...base, subject: 'CN=x, FOO=bar' }), isPkiError(DistinguishedNameError, 'DN_INVALID')],
    ['a country that is not a PrintableString', () => createCertificate({ ...base, subject: 'C=U@' }), isPkiError(DistinguishedNameError, 'DN_INVALID')],
    ['a hex-encoded subject value', () => createCertificate({ ...base, subject: 'CN=#0c0178' }), isPkiError(DistinguishedNameError, 'DN_INVALID')],
    ['an empty subject', () => createCertificate({ ...base, subject: '' }), isPkiError(DistinguishedNameError, 'DN_INVALID')],
    ['an empty subjectAltNames', () => createCertificate({ ...base, subjectAltNames: {} }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['a subjectAltNames ip that is not an address', () => createCertificate({ ...base, subjectAltNames: { ip: ['localhost'] } }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
    ['a non-ASCII subjectAltNames dns name', () => createCertificate({ ...base, subjectAltNames: { dns: ['bücher.example'] } }), isPkiError(CertificateError, 'CERTIFICATE_INVALID')],
  ];
  for (const [why, run, check] of refusals) {
    it(`refuses ${why}`, () => {
      assert.throws(run, check);
    });
  }
});

describe('createCertificate subjectAltNames', () => {
  it('writes dNSName and iPAddress entries that openssl and node:crypto read back', () => {
    const root = makeRoot('SAN Root');
    const leaf = makeLeaf(root, 'localhost', {
      extKeyUsage: { oids: ['1.3.6.1.5.5.7.3.1'] },
      subjectAltNames: { dns: ['localhost', 'sigil-admission.sigil-system.svc'], ip: ['127.0.0.1', '::1', '2001:db8::ff00:42:8329', '::ffff:10.0.0.1'] },
    });
    assert.match(
      text(leaf),
      /X509v3 Subject Alternative Name: \n\s+DNS:localhost, DNS:sigil-admission\.sigil-system\.svc, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:FF00:42:8329, IP Address:0:0:0:0:0:FFFF:A00:1/,
    );
    const x509 = new X509Certificate(leaf.certificate.der);
    assert.equal(x509.checkHost('sigil-admission.sigil-system.svc'), 'sigil-admission.sigil-system.svc');
    assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x509.checkIP('::1'), '::1');
    assert.equal(x509.checkHost('example.com'), undefined);
  });
});

describe('generateTestCertificate', () => {
  const made = generateTestCertificate({ name: 'e2e', now: NOW });
  const { certificate } = made;

  it('makes what notation cert generate-test makes', () => {
    assert.equal(certificate.subject, 'CN=e2e,O=Notary,L=Seattle,ST=WA,C=US');
    assert.equal(certificate.issuer, certificate.subject);
    assert.equal(certificate.notBefore.toISOString(), NOW.toISOString());
    assert.equal(certificate.notAfter.getTime() - certificate.notBefore.getTime(), DAY);
    assert.deepEqual(certificate.keyUsage, { critical: true, usages: ['digitalSignature'] });
    assert.deepEqual(certificate.extKeyUsage, { critical: false, oids: [EKU_CODE_SIGNING] });
    assert.equal(certificate.basicConstraints, undefined);
    assert.equal(certificate.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(certificate.signatureAlgorithm.name, 'sha256WithRSAEncryption');
    assert.equal(isSelfSigned(certificate), true);
    validateCodeSigningChain([certificate], { at: new Date(NOW.getTime() + HOUR) });
  });

  it('returns the private key as PKCS#8 PEM that matches the certificate', () => {
    assert.match(made.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const key = decodePrivateKeyPem(made.privateKeyPem, 'e2e.key');
    assert.equal(key.asymmetricKeyType, 'rsa');
    const pem = encodeCertificatesPem([certificate]);
    assert.equal(decodeCertificates(Buffer.from(pem), 'e2e.crt')[0]?.sha256Fingerprint, certificate.sha256Fingerprint);
    withTempDir((dir) => {
      const keyPath = writeTemp(dir, 'e2e.key', made.privateKeyPem);
      const certPath = writeTemp(dir, 'e2e.crt', pem);
      assert.equal(openssl(['x509', '-noout', '-modulus', '-in', certPath]), openssl(['rsa', '-noout', '-modulus', '-in', keyPath]));
    });
  });

  it('honours rsaBits and refuses sizes Notation does not sign with', () => {
    assert.equal(generateTestCertificate({ name: 'big', rsaBits: 3072, now: NOW }).certificate.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
    assert.throws(() => generateTestCertificate({ name: 'small', rsaBits: 1024, now: NOW }), isPkiError(KeyError, 'KEY_UNSUPPORTED'));
  });

  it('escapes a name that holds DN special characters', () => {
    const odd = generateTestCertificate({ name: 'a,b+c', now: NOW }).certificate;
    assert.equal(odd.subjectRdns.at(-1)?.value, 'a,b+c');
    assert.equal(odd.subject, 'CN=a\\,b\\+c,O=Notary,L=Seattle,ST=WA,C=US');
  });
});
