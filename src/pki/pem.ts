// PEM (RFC 7468) and DER certificate files, and PEM private keys, as Notation reads them
// (notation-core-go x509/cert.go ReadCertificateFile, x509/key.go).

import { createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { decodeDerElements } from './asn1.js';
import type { DerNode } from './asn1.js';
import { decodeCertificate } from './certificate.js';
import type { Certificate } from './certificate.js';
import { CertificateError, KeyError } from './errors.js';
import type { PkiError } from './errors.js';

interface PemBlock {
  readonly label: string;
  readonly headers: readonly string[];
  readonly body: string;
  readonly text: string;
}

const BEGIN = /-----BEGIN ([^-\r\n]*(?:-[^-\r\n]+)*)-----/g;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Every PEM block in `text`; text outside blocks is ignored as RFC 7468 §2 allows. */
function pemBlocks(text: string, source: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  BEGIN.lastIndex = 0;
  for (let m = BEGIN.exec(text); m !== null; m = BEGIN.exec(text)) {
    const label = m[1] ?? '';
    const endMarker = `-----END ${label}-----`;
    const endAt = text.indexOf(endMarker, BEGIN.lastIndex);
    if (endAt < 0) throw new CertificateError('PEM_INVALID', `${source}: PEM block "${label}" has no matching END line`);
    const inner = text.slice(BEGIN.lastIndex, endAt);
    const lines = inner.split(/\r?\n/);
    // RFC 1421 headers (Proc-Type, DEK-Info) precede a blank line; encrypted legacy keys use them.
    const headers: string[] = [];
    let start = 0;
    while (start < lines.length && (lines[start] as string).trim() === '') start++;
    if (lines.slice(start).some((l) => /^[A-Za-z-]+:/.test(l))) {
      while (start < lines.length && /^[A-Za-z-]+:/.test(lines[start] as string)) headers.push(lines[start++] as string);
    }
    const body = lines.slice(start).join('').replace(/[ \t\r]/g, '');
    if (!BASE64.test(body)) throw new CertificateError('PEM_INVALID', `${source}: PEM block "${label}" is not valid base64`);
    blocks.push({ label, headers, body, text: text.slice(m.index, endAt + endMarker.length) });
    BEGIN.lastIndex = endAt + endMarker.length;
  }
  return blocks;
}

function isPem(text: string): boolean {
  return text.includes('-----BEGIN ');
}

function certificateAt(der: Uint8Array, source: string, index: number, total: () => number): Certificate {
  try {
    return decodeCertificate(der);
  } catch (e) {
    const which = total() > 1 || index > 0 ? `certificate ${index + 1}` : 'certificate';
    throw new CertificateError('CERTIFICATE_INVALID', `${source}: ${which} is not valid: ${(e as Error).message.replace(/^certificate is not valid: /, '')}`, { cause: e });
  }
}

/**
 * Decodes the certificates in a file: one or more PEM `CERTIFICATE` blocks (other blocks are
 * skipped, as notation-core-go does) or one or more concatenated DER certificates. Throws
 * CertificateError naming `source`: PEM_INVALID, CERTIFICATE_INVALID, or CERTIFICATE_NOT_FOUND
 * when the file holds no certificate.
 */
export function decodeCertificates(bytes: Uint8Array, source: string): Certificate[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let certificates: Certificate[];
  if (isPem(text)) {
    const blocks = pemBlocks(text, source).filter((b) => b.label === 'CERTIFICATE');
    certificates = blocks.map((b, i) => certificateAt(Buffer.from(b.body, 'base64'), source, i, () => blocks.length));
  } else if (text.trim() === '') {
    certificates = [];
  } else {
    let elements: DerNode[];
    try {
      elements = decodeDerElements(bytes);
    } catch (e) {
      throw new CertificateError('CERTIFICATE_INVALID', `${source}: neither PEM nor DER certificates: ${(e as PkiError).message}`, { cause: e });
    }
    certificates = elements.map((el, i) => certificateAt(el.bytes, source, i, () => elements.length));
  }
  if (certificates.length === 0) throw new CertificateError('CERTIFICATE_NOT_FOUND', `${source}: no certificate found; expected PEM CERTIFICATE blocks or DER`);
  return certificates;
}

/** PEM `CERTIFICATE` blocks for the certificates, in order, base64 wrapped at 64 columns (RFC 7468 §2). */
export function encodeCertificatesPem(certificates: readonly Certificate[]): string {
  return certificates
    .map((c) => {
      const b64 = Buffer.from(c.der).toString('base64');
      const lines = b64.match(/.{1,64}/g) ?? [];
      return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
    })
    .join('');
}

const PRIVATE_KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

/**
 * Decodes the first unencrypted private key in PEM text: PKCS#8 `PRIVATE KEY`, PKCS#1
 * `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`. Throws KeyError KEY_INVALID naming `source`.
 */
export function decodePrivateKeyPem(text: string | Uint8Array, source: string): KeyObject {
  const pem = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('latin1');
  let blocks: PemBlock[];
  try {
    blocks = pemBlocks(pem, source);
  } catch (e) {
    throw new KeyError('KEY_INVALID', (e as PkiError).message, { cause: e });
  }
  const block = blocks.find((b) => PRIVATE_KEY_LABELS.has(b.label) || b.label === 'ENCRYPTED PRIVATE KEY');
  if (block === undefined) throw new KeyError('KEY_INVALID', `${source}: no PEM private key found; expected a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block`);
  if (block.label === 'ENCRYPTED PRIVATE KEY' || block.headers.some((h) => /^Proc-Type:.*ENCRYPTED/i.test(h))) {
    throw new KeyError('KEY_INVALID', `${source}: the private key is encrypted; decrypt it first (openssl pkcs8 -topk8 -nocrypt)`);
  }
  try {
    return createPrivateKey({ key: block.text, format: 'pem' });
  } catch (e) {
    throw new KeyError('KEY_INVALID', `${source}: the ${block.label} block cannot be read: ${(e as Error).message}`, { cause: e });
  }
}
