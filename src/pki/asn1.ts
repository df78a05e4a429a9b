// A strict DER (ITU-T X.690 §10) reader and the writer helpers certificate issuing needs.
// Strict means: definite lengths only, minimal length and tag encodings, no trailing bytes, and a
// bounded nesting depth, so hostile input cannot make the reader loop or recurse without limit.

import { CertificateError } from './errors.js';

/** Deepest nesting decodeDer accepts; an X.509 certificate needs about 10 levels. */
export const MAX_DER_DEPTH = 32;

/** Tag classes of X.690 §8.1.2.2. */
export type TagClass = 'universal' | 'application' | 'context' | 'private';

/** One decoded DER element; `children` holds the decoded content of a constructed element. */
export interface DerNode {
  readonly tagClass: TagClass;
  readonly constructed: boolean;
  readonly tagNumber: number;
  /** The whole encoding: identifier, length and content octets. */
  readonly bytes: Uint8Array;
  /** The content octets only. */
  readonly content: Uint8Array;
  /** The elements inside a constructed element, in order; empty for a primitive one. */
  readonly children: readonly DerNode[];
}

/** Universal tag numbers used by X.509 (X.680 §8.4). */
export const UNIVERSAL = Object.freeze({
  BOOLEAN: 1,
  INTEGER: 2,
  BIT_STRING: 3,
  OCTET_STRING: 4,
  NULL: 5,
  OID: 6,
  UTF8_STRING: 12,
  SEQUENCE: 16,
  SET: 17,
  NUMERIC_STRING: 18,
  PRINTABLE_STRING: 19,
  T61_STRING: 20,
  IA5_STRING: 22,
  UTC_TIME: 23,
  GENERALIZED_TIME: 24,
  BMP_STRING: 30,
} as const);

const CLASSES: readonly TagClass[] = ['universal', 'application', 'context', 'private'];

function fail(message: string): never {
  throw new CertificateError('DER_INVALID', message);
}

/** Reads one element at `offset`; returns it and the offset just past it. */
function readElement(buf: Uint8Array, offset: number, depth: number): { node: DerNode; end: number } {
  if (depth > MAX_DER_DEPTH) fail(`DER nesting deeper than ${MAX_DER_DEPTH} levels at offset ${offset}`);
  const start = offset;
  const first = buf[offset];
  if (first === undefined) fail(`DER element expected at offset ${offset} but the input ended`);
  offset++;
  const tagClass = CLASSES[first >> 6] as TagClass;
  const constructed = (first & 0x20) !== 0;
  let tagNumber = first & 0x1f;
  if (tagNumber === 0x1f) {
    // X.690 §8.1.2.4: high tag numbers in base 128; DER (§10.1) and minimality forbid a leading
    // 0x80 octet and the long form for numbers below 31.
    tagNumber = 0;
    for (let i = 0; ; i++) {
      const b = buf[offset++];
      if (b === undefined) fail(`DER tag at offset ${start} is truncated`);
      if (i === 0 && b === 0x80) fail(`DER tag at offset ${start} is not minimally encoded`);
      if (i >= 3) fail(`DER tag at offset ${start} is too large`);
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    if (tagNumber < 0x1f) fail(`DER tag at offset ${start} is not minimally encoded`);
  }
  const lenByte = buf[offset++];
  if (lenByte === undefined) fail(`DER length at offset ${start} is missing`);
  let length: number;
  if (lenByte < 0x80) {
    length = lenByte;
  } else if (lenByte === 0x80) {
    fail(`DER element at offset ${start} uses an indefinite length, which DER forbids`);
  } else {
    const count = lenByte & 0x7f;
    // Four length octets already describe 4 GiB, far beyond any input this reader is given.
    if (count > 4) fail(`DER length at offset ${start} uses ${count} octets`);
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = buf[offset++];
      if (b === undefined) fail(`DER length at offset ${start} is truncated`);
      if (i === 0 && b === 0) fail(`DER length at offset ${start} is not minimally encoded`);
      length = length * 256 + b;
    }
    // X.690 §10.1: the definite form must use the fewest octets; short form covers 0..127.
    if (length < 0x80) fail(`DER length at offset ${start} is not minimally encoded`);
  }
  const end = offset + length;
  if (end > buf.length) fail(`DER element at offset ${start} claims ${length} content octets but only ${buf.length - offset} remain`);
  const content = buf.subarray(offset, end);
  const children: DerNode[] = [];
  if (constructed) {
    let at = 0;
    while (at < content.length) {
      const child = readElement(content, at, depth + 1);
      children.push(child.node);
      at = child.end;
    }
  }
  return {
    node: Object.freeze({ tagClass, constructed, tagNumber, bytes: buf.subarray(start, end), content, children: Object.freeze(children) }),
    end,
  };
}

/** Decodes exactly one DER element; trailing bytes are an error. */
export function decodeDer(bytes: Uint8Array): DerNode {
  const { node, end } = readElement(bytes, 0, 0);
  if (end !== bytes.length) fail(`${bytes.length - end} trailing bytes after the DER element`);
  return node;
}

/** Decodes a concatenation of DER elements (as in a file of several DER certificates). */
export function decodeDerElements(bytes: Uint8Array): DerNode[] {
  const out: DerNode[] = [];
  let at = 0;
  while (at < bytes.length) {
    const { node, end } = readElement(bytes, at, 0);
    out.push(node);
    at = end;
  }
  return out;
}

/** True when `node` carries the universal tag `tagNumber`. */
export function isUniversal(node: DerNode | undefined, tagNumber: number): node is DerNode {
  return node !== undefined && node.tagClass === 'universal' && node.tagNumber === tagNumber;
}

/** True when `node` is a context-specific element `[tagNumber]`. */
export function isContext(node: DerNode | undefined, tagNumber: number): node is DerNode {
  return node !== undefined && node.tagClass === 'context' && node.tagNumber === tagNumber;
}

const CONSTRUCTED_UNIVERSAL = new Set<number>([UNIVERSAL.SEQUENCE, UNIVERSAL.SET]);

/** Checks that `node` is the universal element `tagNumber` (in DER, strings are always primitive). */
export function expectUniversal(node: DerNode | undefined, tagNumber: number, what: string): DerNode {
  if (node === undefined) fail(`${what} is missing`);
  if (!isUniversal(node, tagNumber)) fail(`${what} has the wrong ASN.1 type`);
  if (node.constructed !== CONSTRUCTED_UNIVERSAL.has(tagNumber)) fail(`${what} has the wrong constructed bit for its type`);
  return node;
}

/** The elements of a SEQUENCE. */
export function readSequence(node: DerNode | undefined, what: string): readonly DerNode[] {
  return expectUniversal(node, UNIVERSAL.SEQUENCE, what).children;
}

/** An INTEGER as a bigint; X.690 §8.3.2 forbids redundant leading 0x00 or 0xff octets. */
export function readInteger(node: DerNode | undefined, what: string): bigint {
  const c = expectUniversal(node, UNIVERSAL.INTEGER, what).content;
  if (c.length === 0) fail(`${what} is an empty INTEGER`);
  if (c.length > 1 && ((c[0] === 0 && ((c[1] as number) & 0x80) === 0) || (c[0] === 0xff && ((c[1] as number) & 0x80) !== 0))) {
    fail(`${what} is not a minimally encoded INTEGER`);
  }
  let value = 0n;
  for (const b of c) value = (value << 8n) | BigInt(b);
  if (((c[0] as number) & 0x80) !== 0) value -= 1n << BigInt(c.length * 8);
  return value;
}

/** A BOOLEAN; DER (X.690 §11.1) allows only 0x00 and 0xff. */
export function readBoolean(node: DerNode | undefined, what: string): boolean {
  const c = expectUniversal(node, UNIVERSAL.BOOLEAN, what).content;
  if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) fail(`${what} is not a DER BOOLEAN`);
  return c[0] === 0xff;
}

/** Checks a NULL. */
export function readNull(node: DerNode | undefined, what: string): void {
  if (expectUniversal(node, UNIVERSAL.NULL, what).content.length !== 0) fail(`${what} is a NULL with content`);
}

/** An OCTET STRING's content. */
export function readOctetString(node: DerNode | undefined, what: string): Uint8Array {
  return expectUniversal(node, UNIVERSAL.OCTET_STRING, what).content;
}

/** A BIT STRING; DER (X.690 §11.2.1) requires the unused trailing bits to be zero. */
export function readBitString(node: DerNode | undefined, what: string): { bytes: Uint8Array; unusedBits: number } {
  const c = expectUniversal(node, UNIVERSAL.BIT_STRING, what).content;
  const unusedBits = c[0];
  if (unusedBits === undefined || unusedBits > 7) fail(`${what} is not a valid BIT STRING`);
  const bytes = c.subarray(1);
  const last = bytes[bytes.length - 1];
  if (last === undefined ? unusedBits !== 0 : (last & ((1 << unusedBits) - 1)) !== 0) fail(`${what} is not a valid DER BIT STRING`);
  return { bytes, unusedBits };
}

/** An OBJECT IDENTIFIER in dotted form; X.690 §8.19.2 forbids leading 0x80 octets in a subidentifier. */
export function readOid(node: DerNode | undefined, what: string): string {
  const c = expectUniversal(node, UNIVERSAL.OID, what).content;
  if (c.length === 0) fail(`${what} is an empty OBJECT IDENTIFIER`);
  const arcs: bigint[] = [];
  let value = 0n;
  let fresh = true;
  for (const b of c) {
    if (fresh && b === 0x80) fail(`${what} is not a minimally encoded OBJECT IDENTIFIER`);
    fresh = false;
    value = (value << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
      fresh = true;
    }
  }
  if (!fresh) fail(`${what} is a truncated OBJECT IDENTIFIER`);
  const first = arcs[0] as bigint;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

// Go's crypto/x509 parseASN1String is the model: the same string types, checked the same way, so a
// certificate Notation accepts is one Sigil accepts and its names read the same.
function isGoPrintable(b: number): boolean {
  return (
    (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) ||
    (b >= 0x27 && b <= 0x29) || (b >= 0x2b && b <= 0x2f) ||
    b === 0x20 || b === 0x3a || b === 0x3d || b === 0x3f ||
    // Not PrintableString characters, but Go accepts them because real certificates use them.
    b === 0x2a || b === 0x26
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes as Latin-1 characters, without spreading (a large spread would overflow the stack). */
function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** A directory string (UTF8, Printable, IA5, T61, BMP or Numeric String) as Go's x509 parser reads it. */
export function readString(node: DerNode | undefined, what: string): string {
  if (node === undefined) fail(`${what} is missing`);
  if (node.tagClass !== 'universal' || node.constructed) fail(`${what} is not a string`);
  const c = node.content;
  switch (node.tagNumber) {
    case UNIVERSAL.UTF8_STRING:
      try {
        return utf8.decode(c);
      } catch {
        return fail(`${what} is not valid UTF-8`);
      }
    case UNIVERSAL.PRINTABLE_STRING:
      if (!c.every(isGoPrintable)) fail(`${what} is not a valid PrintableString`);
      return latin1(c);
    case UNIVERSAL.IA5_STRING:
      if (!c.every((b) => b < 0x80)) fail(`${what} is not a valid IA5String`);
      return latin1(c);
    case UNIVERSAL.NUMERIC_STRING:
      if (!c.every((b) => (b >= 0x30 && b <= 0x39) || b === 0x20)) fail(`${what} is not a valid NumericString`);
      return latin1(c);
    case UNIVERSAL.T61_STRING:
      // Go (and BoringSSL) read T.61 as Latin-1, which it almost equals.
      return latin1(c);
    case UNIVERSAL.BMP_STRING: {
      if (c.length % 2 !== 0) fail(`${what} is not a valid BMPString`);
      let n = c.length;
      if (n >= 2 && c[n - 1] === 0 && c[n - 2] === 0) n -= 2;
      let text = '';
      for (let i = 0; i < n; i += 2) {
        const u = ((c[i] as number) << 8) | (c[i + 1] as number);
        if (u === 0xfffe || u === 0xffff || (u >= 0xfdd0 && u <= 0xfdef) || (u >= 0xd800 && u <= 0xdfff)) fail(`${what} is not a valid BMPString`);
        text += String.fromCharCode(u);
      }
      return text;
    }
    default:
      return fail(`${what} has unsupported string type ${node.tagNumber}`);
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function makeDate(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number, zone: string, what: string): Date {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) fail(`${what} is not a valid time`);
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const hh = Number(zone.slice(1, 3));
    const mm = Number(zone.slice(3, 5));
    // Go re-formats the parsed time and compares; "+0000" comes back as "Z", so it is rejected.
    if (hh > 23 || mm > 59 || (hh === 0 && mm === 0)) fail(`${what} has an invalid time zone offset`);
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (hh * 60 + mm);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute - offsetMinutes, second, ms);
  return d;
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{0,8}[1-9]))?(Z|[+-]\d{4})$/;

/**
 * A UTCTime or GeneralizedTime. RFC 5280 §4.1.2.5 wants seconds and "Z"; like Go's cryptobyte
 * reader this also takes minute precision and ±hhmm offsets in UTCTime, and fractional seconds
 * without trailing zeros in GeneralizedTime, which some issuers emit.
 */
export function readTime(node: DerNode | undefined, what: string): Date {
  if (node === undefined) fail(`${what} is missing`);
  const text = latin1(node.content);
  if (isUniversal(node, UNIVERSAL.UTC_TIME) && !node.constructed) {
    const m = UTC_TIME.exec(text);
    if (m === null) fail(`${what} is not a valid UTCTime`);
    const yy = Number(m[1]);
    // RFC 5280 §4.1.2.5.1: YY ≥ 50 means 19YY, otherwise 20YY.
    return makeDate(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? '0'), 0, m[7] as string, what);
  }
  if (isUniversal(node, UNIVERSAL.GENERALIZED_TIME) && !node.constructed) {
    const m = GENERALIZED_TIME.exec(text);
    if (m === null) fail(`${what} is not a valid GeneralizedTime`);
    const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
    return makeDate(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms, m[8] as string, what);
  }
  return fail(`${what} is not a UTCTime or GeneralizedTime`);
}

// ---- writer ----

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Uint8Array.of(0x80 | out.length, ...out);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Encodes one element from its identifier octet (tag number below 31) and content. */
export function derTlv(identifier: number, content: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(identifier), encodeLength(content.length), content]);
}

/** A SEQUENCE of already encoded elements. */
export function derSequence(...elements: readonly Uint8Array[]): Uint8Array {
  return derTlv(0x30, concat(elements));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  }
  return a.length - b.length;
}

/** A SET OF already encoded elements, sorted by encoding as DER requires (X.690 §11.6). */
export function derSet(...elements: readonly Uint8Array[]): Uint8Array {
  return derTlv(0x31, concat([...elements].sort(compareBytes)));
}

/** An INTEGER in minimal two's complement. */
export function derInteger(value: bigint | number): Uint8Array {
  let v = BigInt(value);
  const bytes: number[] = [];
  if (v === 0n) bytes.push(0);
  if (v > 0n) {
    for (; v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
    if (((bytes[0] as number) & 0x80) !== 0) bytes.unshift(0);
  } else if (v < 0n) {
    for (; v < -1n || bytes.length === 0 || ((bytes[0] as number) & 0x80) === 0; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  }
  return derTlv(0x02, Uint8Array.from(bytes));
}

/** A BOOLEAN (0xff for true, as DER requires). */
export function derBoolean(value: boolean): Uint8Array {
  return derTlv(0x01, Uint8Array.of(value ? 0xff : 0));
}

/** A NULL. */
export function derNull(): Uint8Array {
  return Uint8Array.of(0x05, 0x00);
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function derOid(oid: string): Uint8Array {
  if (!/^[0-2](\.(0|[1-9]\d*))+$/.test(oid)) throw new CertificateError('DER_INVALID', `"${oid}" is not a dotted object identifier`);
  const arcs = oid.split('.').map(BigInt);
  const [a, b] = arcs as [bigint, bigint];
  if (a < 2n && b >= 40n) throw new CertificateError('DER_INVALID', `"${oid}" is not a valid object identifier`);
  const out: number[] = [];
  for (const arc of [a * 40n + b, ...arcs.slice(2)]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  }
  return derTlv(0x06, Uint8Array.from(out));
}

/** An OCTET STRING. */
export function derOctetString(bytes: Uint8Array): Uint8Array {
  return derTlv(0x04, bytes);
}

/** A BIT STRING of whole bytes, or with `unusedBits` trailing bits unused. */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  return derTlv(0x03, concat([Uint8Array.of(unusedBits), bytes]));
}

/** A UTF8String. */
export function derUtf8String(text: string): Uint8Array {
  return derTlv(0x0c, new TextEncoder().encode(text));
}

/** True when every character of `text` may appear in a PrintableString (X.680 §41.4). */
export function isPrintableString(text: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text);
}

/** A PrintableString; throws DER_INVALID for characters outside its set. */
export function derPrintableString(text: string): Uint8Array {
  if (!isPrintableString(text)) throw new CertificateError('DER_INVALID', `"${text}" has characters a PrintableString cannot hold`);
  return derTlv(0x13, new TextEncoder().encode(text));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function timeDigits(d: Date): string {
  return `${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}Z`;
}

/** A UTCTime (YYMMDDHHMMSSZ) for years 1950–2049; sub-second precision is dropped. */
export function derUtcTime(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new CertificateError('DER_INVALID', `year ${y} cannot be written as a UTCTime`);
  return derTlv(0x17, new TextEncoder().encode(pad(y % 100, 2) + timeDigits(d)));
}

/** A GeneralizedTime (YYYYMMDDHHMMSSZ); sub-second precision is dropped. */
export function derGeneralizedTime(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new CertificateError('DER_INVALID', `year ${y} cannot be written as a GeneralizedTime`);
  return derTlv(0x18, new TextEncoder().encode(pad(y, 4) + timeDigits(d)));
}

/** A certificate time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function derTime(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  return y >= 1950 && y <= 2049 ? derUtcTime(d) : derGeneralizedTime(d);
}

/** An EXPLICIT context tag `[n]` around one encoded element (tag numbers below 31). */
export function derExplicit(tagNumber: number, element: Uint8Array): Uint8Array {
  return derTlv(0xa0 | tagNumber, element);
}

/** An IMPLICIT context tag `[n]` holding raw content (tag numbers below 31). */
export function derImplicit(tagNumber: number, content: Uint8Array, constructed = false): Uint8Array {
  return derTlv((constructed ? 0xa0 : 0x80) | tagNumber, content);
}
