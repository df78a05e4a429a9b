// X.509 v3 certificates (RFC 5280 §4.1) decoded into what Notation looks at: names in Go's
// pkix.Name.String() form, validity, key, and the basic constraints, key usage and extended key
// usage extensions the Notary Project certificate requirements are written against.

import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  decodeDer,
  isContext,
  isUniversal,
  readBitString,
  readBoolean,
  readInteger,
  readOctetString,
  readOid,
  readSequence,
  readString,
  readTime,
  UNIVERSAL,
} from './asn1.js';
import type { DerNode } from './asn1.js';
import { escapeDistinguishedNameValue } from './dn.js';
import type { DistinguishedName, DistinguishedNameAttribute } from './dn.js';
import { CertificateError, PkiError } from './errors.js';

/** id-kp-codeSigning (RFC 5280 §4.2.1.12). */
export const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
/** id-kp-timeStamping (RFC 5280 §4.2.1.12). */
export const EKU_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';
/** id-kp-serverAuth (RFC 5280 §4.2.1.12). */
export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
/** id-kp-clientAuth (RFC 5280 §4.2.1.12). */
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** id-kp-emailProtection (RFC 5280 §4.2.1.12). */
export const EKU_EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';
/** id-kp-OCSPSigning (RFC 5280 §4.2.1.12). */
export const EKU_OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';

/** subjectKeyIdentifier extension (RFC 5280 §4.2.1.2). */
export const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
/** keyUsage extension (RFC 5280 §4.2.1.3). */
export const OID_KEY_USAGE = '2.5.29.15';
/** basicConstraints extension (RFC 5280 §4.2.1.9). */
export const OID_BASIC_CONSTRAINTS = '2.5.29.19';
/** authorityKeyIdentifier extension (RFC 5280 §4.2.1.1). */
export const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
/** extKeyUsage extension (RFC 5280 §4.2.1.12). */
export const OID_EXT_KEY_USAGE = '2.5.29.37';

/** Key usage bits in RFC 5280 §4.2.1.3 order (bit 0 first). */
export const KEY_USAGE_NAMES = Object.freeze([
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const);

/** A key usage bit by its RFC 5280 name. */
export type KeyUsageName = (typeof KEY_USAGE_NAMES)[number];

/** The signature algorithm of a certificate: its OID and the name OpenSSL prints for it. */
export interface SignatureAlgorithm {
  readonly oid: string;
  readonly name: string;
  /** DER of the AlgorithmIdentifier parameters, if any (RSASSA-PSS keeps its hash there). */
  readonly parameters: Uint8Array | undefined;
}

/** One extension as it appears in the certificate (RFC 5280 §4.1.2.9). */
export interface CertificateExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue octets (the DER of the extension's own structure). */
  readonly value: Uint8Array;
}

/** The basicConstraints extension (RFC 5280 §4.2.1.9). */
export interface BasicConstraints {
  readonly critical: boolean;
  readonly cA: boolean;
  readonly pathLenConstraint?: number;
}

/** The keyUsage extension (RFC 5280 §4.2.1.3). */
export interface KeyUsage {
  readonly critical: boolean;
  readonly usages: readonly KeyUsageName[];
}

/** The extKeyUsage extension (RFC 5280 §4.2.1.12). */
export interface ExtendedKeyUsage {
  readonly critical: boolean;
  readonly oids: readonly string[];
}

/** A decoded X.509 certificate. */
export interface Certificate {
  /** The certificate's DER encoding. */
  readonly der: Uint8Array;
  readonly version: 1 | 2 | 3;
  /** Lowercase hex, no leading zeros. */
  readonly serialNumber: string;
  readonly signatureAlgorithm: SignatureAlgorithm;
  /** Go's pkix.Name.String() of the subject, e.g. `CN=e2e,O=Notary,L=Seattle,ST=WA,C=US`. */
  readonly subject: string;
  /** Subject attributes in DER order, types as Go prints them (`CN`, `ST`, …) or dotted OIDs. */
  readonly subjectRdns: DistinguishedName;
  readonly rawSubject: Uint8Array;
  /** Go's pkix.Name.String() of the issuer. */
  readonly issuer: string;
  readonly issuerRdns: DistinguishedName;
  readonly rawIssuer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: KeyObject;
  readonly rawSubjectPublicKeyInfo: Uint8Array;
  /** Lowercase hex SHA-256 of `der`. */
  readonly sha256Fingerprint: string;
  readonly basicConstraints: BasicConstraints | undefined;
  readonly keyUsage: KeyUsage | undefined;
  readonly extKeyUsage: ExtendedKeyUsage | undefined;
  /** Lowercase hex of the subjectKeyIdentifier, if present. */
  readonly subjectKeyIdentifier: string | undefined;
  /** Lowercase hex of the authorityKeyIdentifier's keyIdentifier, if present. */
  readonly authorityKeyIdentifier: string | undefined;
  readonly extensions: readonly CertificateExtension[];
  /** The subject and issuer Names are byte-for-byte equal. */
  readonly isSelfIssued: boolean;
}

// Go's pkix attributeTypeNames: the only types Name.String() prints by name.
const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = Object.freeze({
  '2.5.4.6': 'C',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.3': 'CN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.17': 'POSTALCODE',
});

/** Attribute type OIDs by the short names Go prints (and S, the alias of ST). */
export const ATTRIBUTE_TYPE_OIDS: Readonly<Record<string, string>> = Object.freeze({
  ...Object.fromEntries(Object.entries(ATTRIBUTE_NAMES).map(([oid, name]) => [name, oid])),
  S: '2.5.4.8',
});

// Names as `openssl x509 -text` prints them; `hash` drives the MD5/SHA-1 rejection of Go's
// CheckSignatureFrom, and `undefined` marks algorithms Go cannot verify at all.
const SIGNATURE_ALGORITHMS: Readonly<Record<string, { name: string; hash: string | undefined }>> = Object.freeze({
  '1.2.840.113549.1.1.2': { name: 'md2WithRSAEncryption', hash: 'MD2' },
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption', hash: 'MD5' },
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', hash: 'SHA-1' },
  '1.2.840.113549.1.1.10': { name: 'rsassaPss', hash: undefined },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', hash: 'SHA-512' },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', hash: 'SHA-1' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', hash: 'SHA-512' },
  '1.2.840.10040.4.3': { name: 'dsaWithSHA1', hash: 'SHA-1' },
  '2.16.840.1.101.3.4.3.2': { name: 'dsa_with_SHA256', hash: 'SHA-256' },
  '1.3.101.112': { name: 'ED25519', hash: 'Ed25519' },
});

const HASH_OIDS: Readonly<Record<string, { hash: string; size: number }>> = Object.freeze({
  '2.16.840.1.101.3.4.2.1': { hash: 'SHA-256', size: 32 },
  '2.16.840.1.101.3.4.2.2': { hash: 'SHA-384', size: 48 },
  '2.16.840.1.101.3.4.2.3': { hash: 'SHA-512', size: 64 },
});
const OID_MGF1 = '1.2.840.113549.1.1.8';
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_ED25519 = '1.3.101.112';
const OID_DSA_SHA256 = '2.16.840.1.101.3.4.3.2';

function invalid(message: string): never {
  throw new CertificateError('CERTIFICATE_INVALID', message);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

interface ParsedName {
  readonly rdns: readonly (readonly { oid: string; value: string }[])[];
}

function parseName(node: DerNode | undefined, what: string): ParsedName {
  const rdns = readSequence(node, what).map((set) => {
    if (!isUniversal(set, UNIVERSAL.SET) || !set.constructed) invalid(`${what} has an RDN that is not a SET`);
    return set.children.map((atv) => {
      const [type, value, extra] = readSequence(atv, `${what} attribute`);
      if (extra !== undefined) invalid(`${what} has an attribute with extra fields`);
      return { oid: readOid(type, `${what} attribute type`), value: readString(value, `${what} attribute value`) };
    });
  });
  return { rdns };
}

function rdnsOf(name: ParsedName): DistinguishedName {
  return Object.freeze(name.rdns.flat().map((a): DistinguishedNameAttribute => Object.freeze({ type: ATTRIBUTE_NAMES[a.oid] ?? a.oid, value: a.value })));
}

// encoding/asn1 Marshal of a Go string: PrintableString when every character allows it ('*' and
// '&' do not), else UTF8String. Go prints unknown attribute types as OID=#<hex of that DER>.
function goMarshalString(value: string): string {
  const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value);
  const body = Buffer.from(value, printable ? 'latin1' : 'utf8');
  const len = body.length < 0x80 ? Buffer.of(body.length) : (() => {
    const octets: number[] = [];
    for (let v = body.length; v > 0; v = Math.floor(v / 256)) octets.unshift(v & 0xff);
    return Buffer.of(0x80 | octets.length, ...octets);
  })();
  return Buffer.concat([Buffer.of(printable ? 0x13 : 0x0c), len, body]).toString('hex');
}

const STANDARD_ORDER = ['2.5.4.6', '2.5.4.8', '2.5.4.7', '2.5.4.9', '2.5.4.17', '2.5.4.10', '2.5.4.11'] as const;

/**
 * Go's pkix.Name.String() for a parsed Name: FillFromRDNSequence sorts the nine known types into
 * fields, String() puts every other attribute first as its own RDN, then ToRDNSequence emits C,
 * ST, L, STREET, POSTALCODE, O, OU (all values of a type in one RDN), the last CN and the last
 * SERIALNUMBER; RDNSequence.String() prints that sequence reversed.
 */
function goNameString(name: ParsedName): string {
  const all = name.rdns.flat();
  const sequence: { oid: string; value: string }[][] = [];
  for (const atv of all) if (ATTRIBUTE_NAMES[atv.oid] === undefined) sequence.push([atv]);
  for (const oid of STANDARD_ORDER) {
    const values = all.filter((a) => a.oid === oid);
    if (values.length > 0) sequence.push(values);
  }
  for (const oid of ['2.5.4.3', '2.5.4.5']) {
    const last = all.filter((a) => a.oid === oid).at(-1);
    if (last !== undefined && last.value !== '') sequence.push([last]);
  }
  return sequence
    .reverse()
    .map((rdn) =>
      rdn
        .map((a) => {
          const short = ATTRIBUTE_NAMES[a.oid];
          return short === undefined ? `${a.oid}=#${goMarshalString(a.value)}` : `${short}=${escapeDistinguishedNameValue(a.value)}`;
        })
        .join('+'),
    )
    .join(',');
}

function parseAlgorithm(node: DerNode | undefined, what: string): { oid: string; parameters: DerNode | undefined } {
  const [oid, parameters, extra] = readSequence(node, what);
  if (extra !== undefined) invalid(`${what} has extra fields`);
  return { oid: readOid(oid, `${what} OID`), parameters };
}

function parseBasicConstraints(value: Uint8Array, critical: boolean): BasicConstraints {
  const fields = [...readSequence(decodeDer(value), 'basic constraints')];
  let cA = false;
  if (isUniversal(fields[0], UNIVERSAL.BOOLEAN)) cA = readBoolean(fields.shift(), 'basic constraints cA');
  if (fields.length === 0) return Object.freeze({ critical, cA });
  const pathLen = readInteger(fields.shift(), 'basic constraints pathLenConstraint');
  if (fields.length > 0) invalid('basic constraints has extra fields');
  // RFC 5280 §4.2.1.9: pathLenConstraint is INTEGER (0..MAX).
  if (pathLen < 0n || pathLen > BigInt(Number.MAX_SAFE_INTEGER)) invalid('basic constraints pathLenConstraint is out of range');
  return Object.freeze({ critical, cA, pathLenConstraint: Number(pathLen) });
}

function parseKeyUsage(value: Uint8Array, critical: boolean): KeyUsage {
  const { bytes } = readBitString(decodeDer(value), 'key usage');
  // Go reads bits 0–8 and ignores any beyond; so does Sigil.
  const usages = KEY_USAGE_NAMES.filter((_, bit) => (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) === 1);
  return Object.freeze({ critical, usages: Object.freeze(usages) });
}

function parseExtKeyUsage(value: Uint8Array, critical: boolean): ExtendedKeyUsage {
  const oids = readSequence(decodeDer(value), 'extended key usage').map((n) => readOid(n, 'extended key usage OID'));
  return Object.freeze({ critical, oids: Object.freeze(oids) });
}

function parseAuthorityKeyIdentifier(value: Uint8Array): string | undefined {
  const fields = readSequence(decodeDer(value), 'authority key identifier');
  const keyId = fields[0];
  if (!isContext(keyId, 0)) return undefined;
  if (keyId.constructed) invalid('authority key identifier keyIdentifier is constructed');
  return hex(keyId.content);
}

function parseExtensions(node: DerNode): CertificateExtension[] {
  const list = readSequence(node.children[0], 'extensions');
  if (node.children.length !== 1) invalid('extensions field holds more than one element');
  const seen = new Set<string>();
  return list.map((ext) => {
    const fields = [...readSequence(ext, 'extension')];
    const oid = readOid(fields.shift(), 'extension OID');
    // RFC 5280 §4.2: a certificate must not include more than one instance of an extension.
    if (seen.has(oid)) invalid(`certificate contains duplicate extension ${oid}`);
    seen.add(oid);
    const critical = isUniversal(fields[0], UNIVERSAL.BOOLEAN) ? readBoolean(fields.shift(), `extension ${oid} critical flag`) : false;
    const value = readOctetString(fields.shift(), `extension ${oid} value`);
    if (fields.length > 0) invalid(`extension ${oid} has extra fields`);
    return Object.freeze({ oid, critical, value });
  });
}

function decode(input: Uint8Array): Certificate {
  // Decode a private copy, so every subarray below (extension values, names) is ours, not the caller's.
  const der = Uint8Array.from(input);
  const top = decodeDer(der);
  const [tbs, outerAlgorithm, signature, extra] = readSequence(top, 'certificate');
  if (extra !== undefined) invalid('certificate has fields after the signature');
  const fields = [...readSequence(tbs, 'tbsCertificate')];
  let version: 1 | 2 | 3 = 1;
  if (isContext(fields[0], 0)) {
    const tagged = fields.shift() as DerNode;
    if (!tagged.constructed || tagged.children.length !== 1) invalid('certificate version is malformed');
    const v = readInteger(tagged.children[0], 'certificate version');
    if (v < 0n || v > 2n) invalid(`certificate version ${v + 1n} is not 1, 2 or 3`);
    version = (Number(v) + 1) as 1 | 2 | 3;
  }
  const serial = readInteger(fields.shift(), 'serial number');
  // Go 1.23+ rejects negative serial numbers (RFC 5280 §4.1.2.2: a positive integer).
  if (serial < 0n) invalid('serial number is negative');
  const innerAlgorithm = fields.shift();
  const algorithm = parseAlgorithm(innerAlgorithm, 'signature algorithm');
  // RFC 5280 §4.1.1.2: the outer signatureAlgorithm must equal the TBS signature field; Go compares bytes.
  if (outerAlgorithm === undefined || innerAlgorithm === undefined || !bytesEqual(outerAlgorithm.bytes, innerAlgorithm.bytes)) {
    invalid('inner and outer signature algorithm identifiers differ');
  }
  const issuerNode = fields.shift();
  const issuer = parseName(issuerNode, 'issuer');
  const validity = readSequence(fields.shift(), 'validity');
  if (validity.length !== 2) invalid('validity must hold exactly notBefore and notAfter');
  const notBefore = readTime(validity[0], 'notBefore');
  const notAfter = readTime(validity[1], 'notAfter');
  const subjectNode = fields.shift();
  const subject = parseName(subjectNode, 'subject');
  const spkiNode = fields.shift();
  const spki = readSequence(spkiNode, 'subject public key info');
  if (spki.length !== 2) invalid('subject public key info must hold an algorithm and a key');
  const keyAlgorithm = parseAlgorithm(spki[0], 'public key algorithm');
  readBitString(spki[1], 'subject public key');
  // RFC 5280 §4.1.2.8: unique identifiers only in v2 and v3 certificates; nothing reads them.
  for (const tag of [1, 2]) {
    if (isContext(fields[0], tag)) {
      if (version === 1) invalid('unique identifiers present in a v1 certificate');
      fields.shift();
    }
  }
  let extensions: CertificateExtension[] = [];
  if (isContext(fields[0], 3)) {
    if (version !== 3) invalid(`extensions present in a v${version} certificate`);
    const node = fields.shift() as DerNode;
    if (!node.constructed) invalid('extensions field is not constructed');
    extensions = parseExtensions(node);
  }
  if (fields.length > 0) invalid('tbsCertificate has unexpected trailing fields');
  const { bytes: signatureBytes, unusedBits } = readBitString(signature, 'signature value');
  if (unusedBits !== 0 || signatureBytes.length === 0) invalid('signature value is not a whole number of bytes');

  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from((spkiNode as DerNode).bytes), format: 'der', type: 'spki' });
  } catch (e) {
    throw new CertificateError('CERTIFICATE_INVALID', `public key (algorithm ${keyAlgorithm.oid}) cannot be read: ${String((e as Error).message)}`, { cause: e });
  }

  const find = (oid: string): CertificateExtension | undefined => extensions.find((e) => e.oid === oid);
  const bc = find(OID_BASIC_CONSTRAINTS);
  const ku = find(OID_KEY_USAGE);
  const eku = find(OID_EXT_KEY_USAGE);
  const ski = find(OID_SUBJECT_KEY_IDENTIFIER);
  const aki = find(OID_AUTHORITY_KEY_IDENTIFIER);
  const ownDer = der;
  const rawIssuer = Uint8Array.from((issuerNode as DerNode).bytes);
  const rawSubject = Uint8Array.from((subjectNode as DerNode).bytes);
  return Object.freeze({
    der: ownDer,
    version,
    serialNumber: serial.toString(16),
    signatureAlgorithm: Object.freeze({
      oid: algorithm.oid,
      name: SIGNATURE_ALGORITHMS[algorithm.oid]?.name ?? algorithm.oid,
      parameters: algorithm.parameters && Uint8Array.from(algorithm.parameters.bytes),
    }),
    subject: goNameString(subject),
    subjectRdns: rdnsOf(subject),
    rawSubject,
    issuer: goNameString(issuer),
    issuerRdns: rdnsOf(issuer),
    rawIssuer,
    notBefore,
    notAfter,
    publicKey,
    rawSubjectPublicKeyInfo: Uint8Array.from((spkiNode as DerNode).bytes),
    sha256Fingerprint: createHash('sha256').update(ownDer).digest('hex'),
    basicConstraints: bc && parseBasicConstraints(bc.value, bc.critical),
    keyUsage: ku && parseKeyUsage(ku.value, ku.critical),
    extKeyUsage: eku && parseExtKeyUsage(eku.value, eku.critical),
    subjectKeyIdentifier: ski && hex(readOctetString(decodeDer(ski.value), 'subject key identifier')),
    authorityKeyIdentifier: aki && parseAuthorityKeyIdentifier(aki.value),
    extensions: Object.freeze(extensions),
    isSelfIssued: bytesEqual(rawSubject, rawIssuer),
  });
}

/** Decodes one DER certificate; throws CertificateError CERTIFICATE_INVALID if it breaks RFC 5280 structure. */
export function decodeCertificate(der: Uint8Array): Certificate {
  // A Certificate is immutable and a pure function of its DER, so repeat signers (the common case:
  // one key signs every image) reuse the parsed object; parsing the public key alone costs ~100 µs.
  // The few certificates met last are found by comparing bytes (tens of nanoseconds), the rest
  // through a SHA-256 of the DER (over a microsecond, a third of a fast verification's budget).
  for (let i = 0; i < recentCertificates.length; i++) {
    const cert = recentCertificates[i] as Certificate;
    if (cert.der.byteLength === der.byteLength && Buffer.compare(cert.der, der) === 0) return cert;
  }
  const key = createHash('sha256').update(der).digest('base64');
  let cert = decodedCache.get(key);
  if (cert !== undefined) {
    decodedCache.delete(key);
    decodedCache.set(key, cert); // most recently used last
  } else {
    try {
      // A copy: the cached object must not change when the caller reuses its buffer.
      cert = decode(Uint8Array.from(der));
    } catch (e) {
      const reason = e instanceof PkiError ? e.message : `unexpected error: ${String(e)}`;
      throw new CertificateError('CERTIFICATE_INVALID', `certificate is not valid: ${reason}`, { cause: e });
    }
    decodedCache.set(key, cert);
    if (decodedCache.size > MAX_DECODED_CERTIFICATES) decodedCache.delete(decodedCache.keys().next().value as string);
  }
  recentCertificates.unshift(cert);
  if (recentCertificates.length > RECENT_CERTIFICATES) recentCertificates.pop();
  return cert;
}

/** Bound on the decoded-certificate cache: far more distinct signers and CAs than one process meets. */
const MAX_DECODED_CERTIFICATES = 1024;
const decodedCache = new Map<string, Certificate>();
/** The certificates decoded last, newest first: a signer's leaf and its CAs. */
const RECENT_CERTIFICATES = 8;
const recentCertificates: Certificate[] = [];

/** Why a certificate is not issued by a candidate parent; chain.ts turns these into messages. */
export type IssuanceProblem =
  | { readonly kind: 'issuer-name' }
  | { readonly kind: 'parent-not-ca'; readonly basicConstraints: 'missing' | 'cA=false' }
  | { readonly kind: 'parent-no-key-cert-sign' }
  | { readonly kind: 'insecure-algorithm'; readonly algorithm: string }
  | { readonly kind: 'unsupported-algorithm'; readonly algorithm: string }
  | { readonly kind: 'signature' };

// Go's getSignatureAlgorithmFromAI: RSASSA-PSS only with SHA-256/384/512, MGF1 of the same hash,
// salt length equal to the hash length and the default trailer; anything else is unknown to Go.
function pssHashOf(params: DerNode | undefined): string | undefined {
  try {
    const fields = readSequence(params, 'RSASSA-PSS parameters');
    let hash: { hash: string; size: number } | undefined;
    let mgfHash: string | undefined;
    let salt = 20n;
    let trailer = 1n;
    for (const f of fields) {
      const inner = f.children[0];
      if (f.tagClass !== 'context' || !f.constructed || f.children.length !== 1) return undefined;
      if (f.tagNumber === 0) {
        const alg = parseAlgorithm(inner, 'PSS hash');
        if (alg.parameters !== undefined && !(isUniversal(alg.parameters, UNIVERSAL.NULL) && alg.parameters.content.length === 0)) return undefined;
        hash = HASH_OIDS[alg.oid];
      } else if (f.tagNumber === 1) {
        const mgf = parseAlgorithm(inner, 'PSS mask generation');
        if (mgf.oid !== OID_MGF1) return undefined;
        const mgfAlg = parseAlgorithm(mgf.parameters, 'MGF1 hash');
        if (mgfAlg.parameters !== undefined && !(isUniversal(mgfAlg.parameters, UNIVERSAL.NULL) && mgfAlg.parameters.content.length === 0)) return undefined;
        mgfHash = HASH_OIDS[mgfAlg.oid]?.hash;
      } else if (f.tagNumber === 2) {
        salt = readInteger(inner, 'PSS salt length');
      } else if (f.tagNumber === 3) {
        trailer = readInteger(inner, 'PSS trailer field');
      } else {
        return undefined;
      }
    }
    if (hash === undefined || mgfHash !== hash.hash || salt !== BigInt(hash.size) || trailer !== 1n) return undefined;
    return hash.hash;
  } catch {
    // Malformed parameters mean Go cannot name the algorithm; report it as unsupported.
    return undefined;
  }
}

/** The hash a certificate's signature uses, or undefined when Go could not verify it at all. */
function signatureHashOf(cert: Certificate): string | undefined {
  const { oid } = cert.signatureAlgorithm;
  const { parameters } = cert.signatureAlgorithm;
  if (oid === OID_RSASSA_PSS) return parameters === undefined ? undefined : pssHashOf(decodeDer(parameters));
  // RFC 8410 §3: Ed25519 parameters must be absent. Go does not verify DSA signatures.
  if (oid === OID_ED25519 && parameters !== undefined) return undefined;
  if (oid === OID_DSA_SHA256 || oid === '1.2.840.10040.4.3') return undefined;
  return SIGNATURE_ALGORITHMS[oid]?.hash;
}

const INSECURE_HASHES = new Set(['MD2', 'MD5', 'SHA-1']);

const x509Cache = new WeakMap<Certificate, X509Certificate | null>();
/** Results of signature checks per certificate object and verifying key (both immutable, so the answer is too). */
const verifiedCache = new WeakMap<Certificate, WeakMap<KeyObject, boolean>>();

function signatureVerifies(cert: Certificate, key: KeyObject): boolean {
  let byKey = verifiedCache.get(cert);
  if (byKey === undefined) {
    byKey = new WeakMap();
    verifiedCache.set(cert, byKey);
  }
  const known = byKey.get(key);
  if (known !== undefined) return known;
  const result = checkSignature(cert, key);
  byKey.set(key, result);
  return result;
}

function checkSignature(cert: Certificate, key: KeyObject): boolean {
  let x509 = x509Cache.get(cert);
  if (x509 === undefined) {
    try {
      x509 = new X509Certificate(cert.der);
    } catch {
      // OpenSSL refused a certificate our decoder accepted; it cannot be verified, so it is not issued.
      x509 = null;
    }
    x509Cache.set(cert, x509);
  }
  if (x509 === null) return false;
  try {
    return x509.verify(key);
  } catch {
    // verify throws for key types that cannot check this signature; that is a failed check.
    return false;
  }
}

function algorithmProblem(cert: Certificate): IssuanceProblem | undefined {
  const hash = signatureHashOf(cert);
  if (hash === undefined) return { kind: 'unsupported-algorithm', algorithm: cert.signatureAlgorithm.name };
  if (INSECURE_HASHES.has(hash)) return { kind: 'insecure-algorithm', algorithm: cert.signatureAlgorithm.name };
  return undefined;
}

/**
 * Why `child` is not issued by `parent`, or undefined when it is. Mirrors notation-core-go
 * isIssuedBy: Go's CheckSignatureFrom (a v3 parent needs basic constraints with cA, a parent with
 * key usage needs keyCertSign, MD5/SHA-1 signatures are refused) plus RawIssuer == parent RawSubject.
 */
export function issuanceProblem(child: Certificate, parent: Certificate): IssuanceProblem | undefined {
  if (!bytesEqual(child.rawIssuer, parent.rawSubject)) return { kind: 'issuer-name' };
  // RFC 5280 §4.2.1.9: without cA the certified key must not verify certificate signatures.
  if (parent.version === 3 && parent.basicConstraints === undefined) return { kind: 'parent-not-ca', basicConstraints: 'missing' };
  if (parent.basicConstraints !== undefined && !parent.basicConstraints.cA) return { kind: 'parent-not-ca', basicConstraints: 'cA=false' };
  // RFC 5280 §4.2.1.3; Go treats a key usage with no bits like an absent one.
  if (parent.keyUsage !== undefined && parent.keyUsage.usages.length > 0 && !parent.keyUsage.usages.includes('keyCertSign')) {
    return { kind: 'parent-no-key-cert-sign' };
  }
  const algorithm = algorithmProblem(child);
  if (algorithm !== undefined) return algorithm;
  return signatureVerifies(child, parent.publicKey) ? undefined : { kind: 'signature' };
}

/** Why `cert` is not self-signed (self-issued, signature verifies with its own key), or undefined. */
export function selfSignatureProblem(cert: Certificate): IssuanceProblem | undefined {
  if (!cert.isSelfIssued) return { kind: 'issuer-name' };
  const algorithm = algorithmProblem(cert);
  if (algorithm !== undefined) return algorithm;
  return signatureVerifies(cert, cert.publicKey) ? undefined : { kind: 'signature' };
}

/**
 * True when `parent` issued `child`: names match, `parent` may sign certificates, and the
 * signature (not MD5 or SHA-1) verifies with the parent's key, as Go's CheckSignatureFrom checks.
 */
export function isIssuedBy(child: Certificate, parent: Certificate): boolean {
  return issuanceProblem(child, parent) === undefined;
}

/**
 * True when `cert` is self-issued and its signature (not MD5 or SHA-1) verifies with its own key;
 * unlike isIssuedBy(cert, cert) this does not require the certificate to be a CA, so a
 * self-signed leaf such as `notation cert generate-test` makes counts.
 */
export function isSelfSigned(cert: Certificate): boolean {
  return selfSignatureProblem(cert) === undefined;
}

/** True when `at` lies within the certificate's validity period, both ends included (RFC 5280 §4.1.2.5). */
export function isValidAt(cert: Certificate, at: Date): boolean {
  return at.getTime() >= cert.notBefore.getTime() && at.getTime() <= cert.notAfter.getTime();
}
