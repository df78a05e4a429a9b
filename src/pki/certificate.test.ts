import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NOTATION_E2E } from '../../test/support/shared.js';
import { decodeDer, derBitString, derExplicit, derInteger, derNull, derOid, derSequence } from './asn1.js';
import {
  ATTRIBUTE_TYPE_OIDS,
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
} from './certificate.js';
import type { Certificate, KeyUsageName } from './certificate.js';
import { splitRelativeDistinguishedNames } from './dn.js';
import { CertificateError } from './errors.js';
import { createCertificate } from './generate.js';
import { decodeCertificates, encodeCertificatesPem } from './pem.js';
import { DAY, isPkiError, makeLeaf, makeRoot, NOW, openssl, resign, testKey, withTempDir, writeTemp } from './support.test.js';

const CONFIG = join(NOTATION_E2E, 'config');
const certInvalid = isPkiError(CertificateError, 'CERTIFICATE_INVALID');

/** Every certificate file of the Notation e2e testdata that holds valid certificates. */
const REAL_FILES = [
  'localkeys/e2e.crt',
  'localkeys/expired_e2e.crt',
  'localkeys/new_e2e.crt',
  'crl/root.crt',
  'crl/certchain_with_crl.pem',
  'ocsp/certchain_with_ocsp.pem',
  'ocsp/ocsp.crt',
  'timestamp/DigiCertTSARootSHA384.cer',
  'timestamp/globalsignTSARoot.cer',
  'timestamp/intermediate.pem',
  'timestamp/notSelfIssued.crt',
  'timestamp/CertChain.pem',
];

const KU_TEXT: Readonly<Record<string, KeyUsageName>> = {
  'Digital Signature': 'digitalSignature',
  'Non Repudiation': 'nonRepudiation',
  'Key Encipherment': 'keyEncipherment',
  'Data Encipherment': 'dataEncipherment',
  'Key Agreement': 'keyAgreement',
  'Certificate Sign': 'keyCertSign',
  'CRL Sign': 'cRLSign',
  'Encipher Only': 'encipherOnly',
  'Decipher Only': 'decipherOnly',
};
const EKU_TEXT: Readonly<Record<string, string>> = {
  'Code Signing': EKU_CODE_SIGNING,
  'Time Stamping': EKU_TIME_STAMPING,
  'TLS Web Server Authentication': EKU_SERVER_AUTH,
  'TLS Web Client Authentication': EKU_CLIENT_AUTH,
  'E-mail Protection': EKU_EMAIL_PROTECTION,
  'OCSP Signing': EKU_OCSP_SIGNING,
};

/** What `openssl x509` says about a certificate, in this module's terms. */
function opensslView(cert: Certificate): Record<string, unknown> {
  const pem = encodeCertificatesPem([cert]);
  // Without dn_rev: RDNs in DER order; oid: numeric types; escaped as RFC 2253 (which go-ldap reads).
  const nameopt = 'esc_2253,esc_ctrl,utf8,sep_comma_plus,oid';
  const out = openssl(['x509', '-noout', '-subject', '-issuer', '-serial', '-dates', '-dateopt', 'iso_8601', '-fingerprint', '-sha256', '-nameopt', nameopt, '-ext', 'basicConstraints,keyUsage,extendedKeyUsage,subjectKeyIdentifier,authorityKeyIdentifier'], pem);
  const text = openssl(['x509', '-noout', '-text'], pem);
  const field = (name: string): string => (new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1] ?? '').trim();
  const ext = (title: string): { critical: boolean; body: string } | undefined => {
    const m = new RegExp(`^X509v3 ${title}: ?(critical)?\\n((?:    .*\\n?)*)`, 'm').exec(out);
    return m === null ? undefined : { critical: m[1] === 'critical', body: (m[2] ?? '').trim() };
  };
  const names = (s: string): string[][] => splitRelativeDistinguishedNames(s).flat().map((a) => [a.type, a.value]);
  const bc = ext('Basic Constraints');
  const ku = ext('Key Usage');
  const eku = ext('Extended Key Usage');
  const ski = ext('Subject Key Identifier');
  const aki = ext('Authority Key Identifier');
  const date = (s: string): string => new Date(s.replace(' ', 'T')).toISOString();
  return {
    subjectRdns: names(field('subject')),
    issuerRdns: names(field('issuer')),
    serialNumber: BigInt(`0x${field('serial')}`).toString(16),
    notBefore: date(field('notBefore')),
    notAfter: date(field('notAfter')),
    sha256Fingerprint: field('sha256 Fingerprint').replaceAll(':', '').toLowerCase(),
    signatureAlgorithm: /Signature Algorithm: (\S+)/.exec(text)?.[1],
    basicConstraints:
      bc && {
        critical: bc.critical,
        cA: bc.body.startsWith('CA:TRUE'),
        ...(/pathlen:(\d+)/.exec(bc.body) ? { pathLenConstraint: Number(/pathlen:(\d+)/.exec(bc.body)?.[1]) } : {}),
      },
    keyUsage: ku && { critical: ku.critical, usages: ku.body.split(', ').map((u) => KU_TEXT[u] ?? u) },
    extKeyUsage: eku && { critical: eku.critical, oids: eku.body.split(', ').map((u) => EKU_TEXT[u] ?? u) },
    subjectKeyIdentifier: ski?.body.replaceAll(':', '').toLowerCase(),
    authorityKeyIdentifier: aki && /^(?:keyid:)?([0-9A-F:]+)$/m.exec(aki.body)?.[1]?.replaceAll(':', '').toLowerCase(),
  };
}

function ourView(cert: Certificate): Record<string, unknown> {
  const oids = (dn: Certificate['subjectRdns']): string[][] => dn.map((a) => [ATTRIBUTE_TYPE_OIDS[a.type] ?? a.type, a.value]);
  return {
    subjectRdns: oids(cert.subjectRdns),
    issuerRdns: oids(cert.issuerRdns),
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    sha256Fingerprint: cert.sha256Fingerprint,
    signatureAlgorithm: cert.signatureAlgorithm.name,
    basicConstraints: cert.basicConstraints && { ...cert.basicConstraints },
    keyUsage: cert.keyUsage && { critical: cert.keyUsage.critical, usages: [...cert.keyUsage.usages] },
    extKeyUsage: cert.extKeyUsage && { critical: cert.extKeyUsage.critical, oids: [...cert.extKeyUsage.oids] },
    subjectKeyIdentifier: cert.subjectKeyIdentifier,
    authorityKeyIdentifier: cert.authorityKeyIdentifier,
  };
}

describe('decodeCertificate on Notation e2e certificates', () => {
  for (const file of REAL_FILES) {
    it(`matches openssl x509 for ${file}`, () => {
      const certs = decodeCertificates(readFileSync(join(CONFIG, file)), file);
      assert.ok(certs.length >= 1);
      for (const cert of certs) assert.deepEqual(ourView(cert), opensslView(cert));
    });
  }

  // Go's pkix.Name.String(): fixed type order (C, ST, L, STREET, POSTALCODE, O, OU, CN), reversed.
  const goNames: Array<[string, string, string]> = [
    ['localkeys/e2e.crt', 'CN=e2e,O=Notary,L=Seattle,ST=WA,C=US', 'CN=e2e,O=Notary,L=Seattle,ST=WA,C=US'],
    ['localkeys/expired_e2e.crt', 'O=Internet Widgits Pty Ltd,ST=Some-State,C=AU', 'O=Internet Widgits Pty Ltd,ST=Some-State,C=AU'],
    ['localkeys/new_e2e.crt', 'O=Internet Widgits Pty Ltd,ST=Some-State,C=AU', 'O=Internet Widgits Pty Ltd,ST=Some-State,C=AU'],
    ['timestamp/globalsignTSARoot.cer', 'CN=GlobalSign,OU=GlobalSign Root CA - R6,O=GlobalSign', 'CN=GlobalSign,OU=GlobalSign Root CA - R6,O=GlobalSign'],
    ['timestamp/DigiCertTSARootSHA384.cer', 'CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US', 'CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US'],
    ['timestamp/notSelfIssued.crt', 'CN=test,O=Notary,L=Seattle,ST=WA,C=US', 'CN=test,O=Notary,L=,ST=,C=US'],
    ['crl/root.crt', 'CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US', 'CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US'],
  ];
  for (const [file, subject, issuer] of goNames) {
    it(`prints ${file} names as Go does`, () => {
      const [cert] = decodeCertificates(readFileSync(join(CONFIG, file)), file);
      assert.equal(cert?.subject, subject);
      assert.equal(cert?.issuer, issuer);
    });
  }

  it('reads e2e.crt as notation generate-test made it', () => {
    const [cert] = decodeCertificates(readFileSync(join(CONFIG, 'localkeys/e2e.crt')), 'e2e.crt');
    assert.ok(cert);
    assert.equal(cert.version, 3);
    assert.equal(cert.serialNumber, '51');
    assert.equal(cert.sha256Fingerprint, 'e38aea13f2b051f7183cca64a51ee676f4d4456f41d9fecf15eb367efc7343b9');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(cert.isSelfIssued, true);
    assert.deepEqual(cert.subjectRdns.map((a) => a.type), ['C', 'ST', 'L', 'O', 'CN']);
    assert.equal(Buffer.from(cert.rawSubject).toString('hex'), Buffer.from(cert.rawIssuer).toString('hex'));
  });
});

describe('Go pkix.Name.String() of unusual names', () => {
  const key = testKey('ec-256');
  const issue = (subject: string): Certificate =>
    createCertificate({ subject, publicKey: key.publicKey, signingKey: key.privateKey, notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY) });

  const cases: Array<[string, string]> = [
    ['C=US, O=Acme, OU=b, OU=a, CN=x, 1.2.840.113549.1.9.1=dev@example.com', 'CN=x,OU=b+OU=a,O=Acme,C=US,1.2.840.113549.1.9.1=#0c0f646576406578616d706c652e636f6d'],
    ['CN=\\#a\\, b\\+c\\ ', 'CN=\\#a\\, b\\+c\\ '],
    ['CN=first, CN=second', 'CN=second'],
    ['CN=x, SERIALNUMBER=123, POSTALCODE=98101, STREET=1 Main, L=Seattle', 'SERIALNUMBER=123,CN=x,POSTALCODE=98101,STREET=1 Main,L=Seattle'],
    ['0.9.2342.19200300.100.1.25=example, 0.9.2342.19200300.100.1.1=u1, O=Acme', 'O=Acme,0.9.2342.19200300.100.1.1=#13027531,0.9.2342.19200300.100.1.25=#13076578616d706c65'],
    ['CN=, O=x', 'O=x'],
    ['O=a*b', 'O=a*b'],
    ['1.2.3.4=a*b', '1.2.3.4=#0c03612a62'],
  ];
  for (const [subject, expected] of cases) {
    it(`prints ${JSON.stringify(subject)} as ${JSON.stringify(expected)}`, () => {
      assert.equal(issue(subject).subject, expected);
    });
  }

  it('re-encodes an openssl IA5String emailAddress as Go does', () => {
    const pem = withTempDir((dir) => {
      const keyPath = writeTemp(dir, 'k.pem', key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      return openssl(['req', '-x509', '-new', '-key', keyPath, '-subj', '/C=US/O=Acme/emailAddress=a.b/CN=x', '-days', '1']);
    });
    const [cert] = decodeCertificates(Buffer.from(pem), 'openssl');
    // The DER holds an IA5String; Go prints the value re-marshalled, which for "a.b" is a PrintableString.
    assert.equal(cert?.subject, 'CN=x,O=Acme,C=US,1.2.840.113549.1.9.1=#1303612e62');
    assert.deepEqual(cert?.subjectRdns.map((a) => a.type), ['C', 'O', '1.2.840.113549.1.9.1', 'CN']);
  });
});

/** Rebuilds a certificate from edited TBS fields, re-signed by `key` with ECDSA SHA-256. */
function rebuild(cert: Certificate, edit: (fields: Uint8Array[]) => void): Uint8Array {
  const tbs = decodeDer(cert.der).children[0];
  const fields = (tbs?.children ?? []).map((c) => c.bytes);
  edit(fields);
  const algorithm = decodeDer(cert.der).children[1]?.bytes ?? new Uint8Array();
  return derSequence(derSequence(...fields), algorithm, derBitString(Uint8Array.of(0x30, 0x00)));
}

describe('decodeCertificate rejects malformed certificates', () => {
  const root = makeRoot();
  const good = root.certificate;
  const extensionsOf = (fields: Uint8Array[]): Uint8Array[] => {
    const ext = decodeDer(fields.at(-1) as Uint8Array);
    return (ext.children[0]?.children ?? []).map((c) => c.bytes);
  };

  const cases: Array<[string, () => Uint8Array]> = [
    ['trailing bytes', () => Uint8Array.from([...good.der, 0])],
    ['inner and outer signature algorithms that differ', () => {
      const [tbs, , sig] = decodeDer(good.der).children;
      return derSequence(tbs?.bytes ?? new Uint8Array(), derSequence(derOid('1.2.840.10045.4.3.3')), sig?.bytes ?? new Uint8Array());
    }],
    ['a negative serial number', () => rebuild(good, (f) => { f[1] = derInteger(-5); })],
    ['version 4', () => rebuild(good, (f) => { f[0] = derExplicit(0, derInteger(3)); })],
    ['extensions in a v1 certificate', () => rebuild(good, (f) => { f.shift(); })],
    ['a duplicate extension', () => rebuild(good, (f) => {
      const exts = extensionsOf(f);
      f[f.length - 1] = derExplicit(3, derSequence(...exts, exts[0] as Uint8Array));
    })],
    ['a malformed basic constraints value', () => rebuild(good, (f) => {
      const exts = extensionsOf(f);
      exts[0] = derSequence(derOid('2.5.29.19'), Uint8Array.of(0x04, 0x02, 0x05, 0x00));
      f[f.length - 1] = derExplicit(3, derSequence(...exts));
    })],
    ['a missing subject public key info', () => rebuild(good, (f) => { f.splice(6, 1); })],
    ['a validity with one time', () => rebuild(good, (f) => { f[4] = derSequence(decodeDer(f[4] as Uint8Array).children[0]?.bytes ?? new Uint8Array()); })],
    ['an unknown trailing TBS field', () => rebuild(good, (f) => { f.push(derNull()); })],
    ['an empty input', () => new Uint8Array()],
  ];
  for (const [why, make] of cases) {
    it(`rejects ${why}`, () => {
      assert.throws(() => decodeCertificate(make()), certInvalid);
    });
  }

  it('accepts the rebuilt certificate when nothing is edited (the helper is sound)', () => {
    assert.equal(decodeCertificate(rebuild(good, () => undefined)).subject, good.subject);
  });

  it('throws only CertificateError for mutated and truncated certificates (fast-check)', () => {
    const der = good.der;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(der.length), (edits, cut) => {
        const bytes = Uint8Array.from(der);
        for (const [at, value] of edits) bytes[at] = value;
        for (const input of [bytes, bytes.subarray(0, cut)]) {
          try {
            decodeCertificate(input);
          } catch (e) {
            if (!(e instanceof CertificateError) || e.code !== 'CERTIFICATE_INVALID') throw e;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('isIssuedBy, isSelfSigned, isValidAt', () => {
  const read = (file: string): Certificate[] => decodeCertificates(readFileSync(join(CONFIG, file)), file);

  it('follows the e2e CRL chain leaf → intermediate → root', () => {
    const [leaf, inter, root] = read('crl/certchain_with_crl.pem') as [Certificate, Certificate, Certificate];
    assert.equal(isIssuedBy(leaf, inter), true);
    assert.equal(isIssuedBy(inter, root), true);
    assert.equal(isIssuedBy(root, root), true);
    assert.equal(isIssuedBy(leaf, root), false);
    assert.equal(isIssuedBy(inter, leaf), false);
    assert.equal(isSelfSigned(root), true);
    assert.equal(isSelfSigned(leaf), false);
  });

  it('treats a self-signed leaf as self-signed but not as its own issuer (Go CheckSignatureFrom needs a CA)', () => {
    const [e2e] = read('localkeys/e2e.crt') as [Certificate];
    assert.equal(isSelfSigned(e2e), true);
    assert.equal(isIssuedBy(e2e, e2e), false);
  });

  it('rejects a certificate whose subject differs from its issuer as self-signed', () => {
    const [cert] = read('timestamp/notSelfIssued.crt') as [Certificate];
    assert.equal(cert.isSelfIssued, false);
    assert.equal(isSelfSigned(cert), false);
  });

  it('refuses MD5 and SHA-1 signatures even when they verify', () => {
    const key = testKey('rsa-2048');
    const root = makeRoot('RSA Root', { key });
    const leaf = makeLeaf(root);
    for (const [oid, hash] of [['1.2.840.113549.1.1.5', 'sha1'], ['1.2.840.113549.1.1.4', 'md5']] as const) {
      const weakLeaf = resign(leaf.certificate, key.privateKey, derSequence(derOid(oid), derNull()), hash);
      assert.equal(isIssuedBy(weakLeaf, root.certificate), false, hash);
      const weakRoot = resign(root.certificate, key.privateKey, derSequence(derOid(oid), derNull()), hash);
      assert.equal(isSelfSigned(weakRoot), false, hash);
    }
    assert.equal(isIssuedBy(leaf.certificate, root.certificate), true);
  });

  it('includes both ends of the validity period', () => {
    const { certificate } = makeRoot();
    assert.equal(isValidAt(certificate, certificate.notBefore), true);
    assert.equal(isValidAt(certificate, certificate.notAfter), true);
    assert.equal(isValidAt(certificate, new Date(certificate.notAfter.getTime() + 1)), false);
    assert.equal(isValidAt(certificate, new Date(certificate.notBefore.getTime() - 1)), false);
  });
});
