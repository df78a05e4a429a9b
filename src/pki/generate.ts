// Certificate issuing for `sigil cert generate-test` and for tests: RFC 5280 v3 certificates
// signed with RSA PKCS#1 v1.5 or ECDSA, built with the DER writer in asn1.ts.

import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  decodeDer,
  derBitString,
  derBoolean,
  derExplicit,
  derImplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derTime,
  derUtf8String,
  readBitString,
} from './asn1.js';
import {
  ATTRIBUTE_TYPE_OIDS,
  decodeCertificate,
  EKU_CODE_SIGNING,
  KEY_USAGE_NAMES,
  OID_AUTHORITY_KEY_IDENTIFIER,
  OID_BASIC_CONSTRAINTS,
  OID_EXT_KEY_USAGE,
  OID_KEY_USAGE,
  OID_SUBJECT_KEY_IDENTIFIER,
} from './certificate.js';
import type { Certificate, KeyUsageName } from './certificate.js';
import { splitRelativeDistinguishedNames } from './dn.js';
import type { DistinguishedName, DistinguishedNameAttribute } from './dn.js';
import { CertificateError, DistinguishedNameError, KeyError } from './errors.js';
import type { HashAlgorithm } from './keyspec.js';

/** What createCertificate issues. */
export interface CreateCertificateOptions {
  /**
   * The subject: DN text such as `C=US, ST=WA, L=Seattle, O=Notary, CN=e2e` (RDNs are encoded in
   * the order written; C as PrintableString, everything else UTF8String), or parsed attributes.
   */
  readonly subject: string | DistinguishedName;
  /** The key the certificate certifies. */
  readonly publicKey: KeyObject;
  /** The issuing CA and its private key; omitted for a self-signed certificate. */
  readonly issuer?: { readonly certificate: Certificate; readonly privateKey: KeyObject };
  /** The private key of `publicKey`, which signs a self-signed certificate. */
  readonly signingKey?: KeyObject;
  /** Positive, at most 20 octets (RFC 5280 §4.1.2.2); default: 127 random bits. */
  readonly serialNumber?: bigint;
  /** Start of validity; sub-second precision is dropped. */
  readonly notBefore: Date;
  /** End of validity; sub-second precision is dropped. */
  readonly notAfter: Date;
  /** basicConstraints; `critical` defaults to true (RFC 5280 §4.2.1.9 for CA certificates). */
  readonly basicConstraints?: { readonly cA: boolean; readonly pathLenConstraint?: number; readonly critical?: boolean };
  /** keyUsage; `critical` defaults to true, as the Notary Project requires. */
  readonly keyUsage?: { readonly usages: readonly KeyUsageName[]; readonly critical?: boolean };
  /** extKeyUsage; `critical` defaults to false. */
  readonly extKeyUsage?: { readonly oids: readonly string[]; readonly critical?: boolean };
  /** Hash of the signature; default SHA-256 for RSA, and by curve for ECDSA (P-256 → SHA-256, …). */
  readonly signatureHash?: HashAlgorithm;
  /** subjectAltName (RFC 5280 §4.2.1.6) dNSName and iPAddress entries (IPv4 or IPv6 text); non-critical. */
  readonly subjectAltNames?: { readonly dns?: readonly string[]; readonly ip?: readonly string[] };
}

const EC_DEFAULT_HASH: Readonly<Record<string, HashAlgorithm>> = Object.freeze({ prime256v1: 'SHA-256', secp384r1: 'SHA-384', secp521r1: 'SHA-512' });

// RFC 4055 §5 (RSA, parameters NULL) and RFC 5758 §3.2 (ECDSA, parameters absent).
const RSA_SIGNATURE_OIDS: Readonly<Record<HashAlgorithm, string>> = Object.freeze({
  'SHA-256': '1.2.840.113549.1.1.11',
  'SHA-384': '1.2.840.113549.1.1.12',
  'SHA-512': '1.2.840.113549.1.1.13',
});
const ECDSA_SIGNATURE_OIDS: Readonly<Record<HashAlgorithm, string>> = Object.freeze({
  'SHA-256': '1.2.840.10045.4.3.2',
  'SHA-384': '1.2.840.10045.4.3.3',
  'SHA-512': '1.2.840.10045.4.3.4',
});

function badOptions(message: string): never {
  throw new CertificateError('CERTIFICATE_INVALID', message);
}

function signatureAlgorithmFor(key: KeyObject, requested: HashAlgorithm | undefined): { identifier: Uint8Array; hash: HashAlgorithm } {
  if (key.asymmetricKeyType === 'rsa') {
    const hash = requested ?? 'SHA-256';
    return { identifier: derSequence(derOid(RSA_SIGNATURE_OIDS[hash]), derNull()), hash };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const hash = requested ?? EC_DEFAULT_HASH[curve];
    if (hash === undefined) throw new KeyError('KEY_UNSUPPORTED', `EC curve ${curve} is not supported for issuing; use P-256, P-384 or P-521`);
    return { identifier: derSequence(derOid(ECDSA_SIGNATURE_OIDS[hash])), hash };
  }
  throw new KeyError('KEY_UNSUPPORTED', `key type ${String(key.asymmetricKeyType)} cannot sign certificates here; use an RSA or EC key`);
}

function encodeAttribute(attr: DistinguishedNameAttribute): Uint8Array {
  const oid = ATTRIBUTE_TYPE_OIDS[attr.type.toUpperCase()] ?? (/^\d+(\.\d+)+$/.test(attr.type) ? attr.type : undefined);
  if (oid === undefined) {
    throw new DistinguishedNameError('DN_INVALID', `subject attribute type ${JSON.stringify(attr.type)} is not supported; use CN, O, OU, L, ST, C, STREET, POSTALCODE, SERIALNUMBER or a dotted OID`);
  }
  let value: Uint8Array;
  try {
    // RFC 5280 Appendix A: CountryName is a PrintableString.
    value = oid === '2.5.4.6' ? derPrintableString(attr.value) : derUtf8String(attr.value);
  } catch (e) {
    throw new DistinguishedNameError('DN_INVALID', `subject attribute C=${JSON.stringify(attr.value)} must be a PrintableString`, { cause: e });
  }
  return derSequence(derOid(oid), value);
}

function encodeSubject(subject: string | DistinguishedName): Uint8Array {
  let rdns: readonly (readonly DistinguishedNameAttribute[])[];
  if (typeof subject === 'string') {
    if (subject.includes('=#')) throw new DistinguishedNameError('DN_INVALID', `subject ${JSON.stringify(subject)} uses a hex-encoded (=#) value, which is not supported`);
    try {
      rdns = splitRelativeDistinguishedNames(subject);
    } catch (e) {
      throw new DistinguishedNameError('DN_INVALID', `subject ${JSON.stringify(subject)} does not follow RFC 4514: ${(e as Error).message}`, { cause: e });
    }
  } else {
    rdns = subject.map((a) => [a]);
  }
  if (rdns.length === 0) throw new DistinguishedNameError('DN_INVALID', 'subject has no attributes; a certificate needs a non-empty subject');
  return derSequence(...rdns.map((rdn) => derSet(...rdn.map(encodeAttribute))));
}

/** RFC 5280 §4.2.1.6 subjectAltName. */
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  // DER (X.690 §11.5): critical=FALSE, the DEFAULT, is left out.
  return critical ? derSequence(derOid(oid), derBoolean(true), derOctetString(value)) : derSequence(derOid(oid), derOctetString(value));
}

function keyUsageBits(usages: readonly KeyUsageName[]): Uint8Array {
  const bits = new Set(usages.map((u) => {
    const bit = KEY_USAGE_NAMES.indexOf(u);
    if (bit < 0) badOptions(`key usage ${JSON.stringify(u)} is not one of ${KEY_USAGE_NAMES.join(', ')}`);
    return bit;
  }));
  // RFC 5280 §4.2.1.3: at least one bit; DER (X.690 §11.2.2) drops trailing zero bits.
  if (bits.size === 0) badOptions('key usage must name at least one usage');
  const highest = Math.max(...bits);
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7));
  return derBitString(bytes, bytes.length * 8 - (highest + 1));
}

function keyIdentifier(spkiDer: Uint8Array): Uint8Array {
  // RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value.
  const { bytes } = readBitString(decodeDer(spkiDer).children[1], 'subject public key');
  return createHash('sha1').update(bytes).digest();
}

/** The 4 or 16 octets of an IPv4 or IPv6 address in text form, as iPAddress holds them. */
function ipOctets(ip: string): Uint8Array {
  if (isIPv4(ip)) return Uint8Array.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) badOptions(`subjectAltNames ip ${JSON.stringify(ip)} is not an IPv4 or IPv6 address`);
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

function subjectAltName(names: NonNullable<CreateCertificateOptions['subjectAltNames']>): Uint8Array {
  const entries: Uint8Array[] = [];
  for (const dns of names.dns ?? []) {
    // dNSName is an IA5String: ASCII only (RFC 5280 §4.2.1.6; IDNs go in as A-labels).
    if (dns === '' || !/^[\x21-\x7e]+$/.test(dns)) badOptions(`subjectAltNames dns ${JSON.stringify(dns)} must be a non-empty ASCII name`);
    entries.push(derImplicit(2, new TextEncoder().encode(dns)));
  }
  for (const ip of names.ip ?? []) entries.push(derImplicit(7, ipOctets(ip)));
  if (entries.length === 0) badOptions('subjectAltNames must name at least one dns or ip entry (RFC 5280 §4.2.1.6)');
  return derSequence(...entries);
}

function wholeSeconds(d: Date, what: string): Date {
  if (Number.isNaN(d.getTime())) badOptions(`${what} is not a valid date`);
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/**
 * Issues an X.509 v3 certificate: signed by `issuer` when given, else self-signed with
 * `signingKey`; adds subjectKeyIdentifier and authorityKeyIdentifier. Throws CertificateError,
 * DistinguishedNameError or KeyError for options it cannot honour.
 */
export function createCertificate(options: CreateCertificateOptions): Certificate {
  const signer = options.issuer?.privateKey ?? options.signingKey;
  if (signer === undefined) badOptions('a self-signed certificate needs signingKey, the private key of publicKey');
  if (signer.type !== 'private') throw new KeyError('KEY_INVALID', 'the signing key must be a private key');
  const notBefore = wholeSeconds(options.notBefore, 'notBefore');
  const notAfter = wholeSeconds(options.notAfter, 'notAfter');
  if (notAfter < notBefore) badOptions(`notAfter ${notAfter.toISOString()} is before notBefore ${notBefore.toISOString()}`);

  let serial = options.serialNumber;
  if (serial === undefined) {
    // 127 random bits: positive, and unpredictable as the CA/Browser Forum asks of public CAs.
    serial = BigInt(`0x${randomBytes(16).toString('hex')}`) >> 1n;
    if (serial === 0n) serial = 1n;
  }
  if (serial <= 0n || serial >= 1n << 159n) badOptions('serial number must be positive and at most 20 octets (RFC 5280 §4.1.2.2)');

  let spki: Uint8Array;
  try {
    spki = options.publicKey.export({ type: 'spki', format: 'der' });
  } catch (e) {
    throw new KeyError('KEY_INVALID', `the public key cannot be exported as SubjectPublicKeyInfo: ${(e as Error).message}`, { cause: e });
  }
  const algorithm = signatureAlgorithmFor(signer, options.signatureHash);
  const subject = encodeSubject(options.subject);
  const issuerName = options.issuer === undefined ? subject : options.issuer.certificate.rawSubject;
  const ski = keyIdentifier(spki);
  const aki =
    options.issuer === undefined
      ? ski
      : options.issuer.certificate.subjectKeyIdentifier !== undefined
        ? Buffer.from(options.issuer.certificate.subjectKeyIdentifier, 'hex')
        : keyIdentifier(options.issuer.certificate.rawSubjectPublicKeyInfo);

  const extensions: Uint8Array[] = [];
  const bc = options.basicConstraints;
  if (bc !== undefined) {
    const pathLen = bc.pathLenConstraint;
    if (pathLen !== undefined && (!Number.isSafeInteger(pathLen) || pathLen < 0)) badOptions('pathLenConstraint must be a non-negative integer');
    // RFC 5280 §4.2.1.9: pathLenConstraint only with cA asserted.
    if (pathLen !== undefined && !bc.cA) badOptions('pathLenConstraint needs cA: true');
    const fields = [...(bc.cA ? [derBoolean(true)] : []), ...(pathLen === undefined ? [] : [derInteger(pathLen)])];
    extensions.push(extension(OID_BASIC_CONSTRAINTS, bc.critical ?? true, derSequence(...fields)));
  }
  if (options.keyUsage !== undefined) extensions.push(extension(OID_KEY_USAGE, options.keyUsage.critical ?? true, keyUsageBits(options.keyUsage.usages)));
  if (options.extKeyUsage !== undefined) {
    if (options.extKeyUsage.oids.length === 0) badOptions('extended key usage must name at least one OID (RFC 5280 §4.2.1.12)');
    extensions.push(extension(OID_EXT_KEY_USAGE, options.extKeyUsage.critical ?? false, derSequence(...options.extKeyUsage.oids.map(derOid))));
  }
  if (options.subjectAltNames !== undefined) extensions.push(extension(OID_SUBJECT_ALT_NAME, false, subjectAltName(options.subjectAltNames)));
  extensions.push(extension(OID_SUBJECT_KEY_IDENTIFIER, false, derOctetString(ski)));
  extensions.push(extension(OID_AUTHORITY_KEY_IDENTIFIER, false, derSequence(derImplicit(0, aki))));

  // RFC 5280 §4.1: TBSCertificate, then the signature over its DER.
  const tbs = derSequence(
    derExplicit(0, derInteger(2)),
    derInteger(serial),
    algorithm.identifier,
    issuerName,
    derSequence(derTime(notBefore), derTime(notAfter)),
    subject,
    spki,
    derExplicit(3, derSequence(...extensions)),
  );
  let signature: Uint8Array;
  try {
    signature = sign(algorithm.hash.replace('-', '').toLowerCase(), tbs, signer);
  } catch (e) {
    throw new KeyError('KEY_INVALID', `signing the certificate failed: ${(e as Error).message}`, { cause: e });
  }
  const der = derSequence(tbs, algorithm.identifier, derBitString(signature));
  const issuerKey = options.issuer?.certificate.publicKey ?? options.publicKey;
  if (!new X509Certificate(der).verify(issuerKey)) {
    throw new KeyError('KEY_INVALID', options.issuer === undefined ? 'signingKey is not the private key of publicKey' : "the issuer's private key does not match its certificate");
  }
  return decodeCertificate(der);
}

/** A test signing key and certificate, as `notation cert generate-test` makes them. */
export interface TestCertificate {
  readonly certificate: Certificate;
  readonly privateKey: KeyObject;
  /** The private key as PKCS#8 PEM. */
  readonly privateKeyPem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Generates an RSA key and a self-signed, non-CA code-signing certificate matching notation's
 * `cert generate-test` (notation-core-go testhelper getCertTemplate): subject
 * `C=US, ST=WA, L=Seattle, O=Notary, CN=<name>`, valid 24 hours from `now`, key usage
 * digitalSignature (critical), extended key usage codeSigning, no basic constraints.
 */
export function generateTestCertificate(options: { readonly name: string; readonly rsaBits?: number; readonly now: Date }): TestCertificate {
  const bits = options.rsaBits ?? 2048;
  if (bits !== 2048 && bits !== 3072 && bits !== 4096) throw new KeyError('KEY_UNSUPPORTED', `RSA key size ${bits} is not supported; use 2048, 3072 or 4096 bits`);
  if (options.name === '') badOptions('the test certificate needs a non-empty name');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const certificate = createCertificate({
    subject: [
      { type: 'C', value: 'US' },
      { type: 'ST', value: 'WA' },
      { type: 'L', value: 'Seattle' },
      { type: 'O', value: 'Notary' },
      { type: 'CN', value: options.name },
    ],
    publicKey,
    signingKey: privateKey,
    notBefore: options.now,
    notAfter: new Date(options.now.getTime() + DAY_MS),
    keyUsage: { usages: ['digitalSignature'], critical: true },
    extKeyUsage: { oids: [EKU_CODE_SIGNING] },
  });
  return { certificate, privateKey, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
