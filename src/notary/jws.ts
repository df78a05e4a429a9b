// The JWS signature envelope (signature-envelope-jws.md): RFC 7515 flattened JSON serialization
// with exactly one signature, read and written byte-compatibly with notation-core-go
// signature/jws (golang-jwt v4 underneath). Also home to what the COSE codec and the payload
// codec share with it: strict JSON, RFC 3339 times and the signed-attribute rules of
// signature-specification.md, so that both envelopes apply one rule set.

import { isAscii } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import { MAX_ENVELOPE_BYTES } from '../oci/index.js';
import { keySpecOf, type KeySpec } from '../pki/index.js';
import { ALGORITHMS, algorithmByName, type AlgorithmInfo } from './algorithm.js';
import {
  JWS_MEDIA_TYPE,
  PAYLOAD_CONTENT_TYPE,
  type DecodedEnvelope,
  type ExtendedAttribute,
  type RawSigner,
  type SignRequest,
  type SigningScheme,
} from './envelope.js';
import { EnvelopeError, SigningError, type NotaryErrorCode } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Strict JSON (RFC 8259)

/**
 * Deepest nesting of arrays and objects the JSON parser accepts. A Notary envelope needs 3
 * levels (envelope → header → x5c) and a payload 3; Go's encoding/json stops at 10000, but
 * Sigil's parser recurses, and 1000 levels stay far inside Node's stack while leaving extended
 * attributes room no real signer uses.
 */
export const MAX_JSON_DEPTH = 1000;

/** A JSON number kept with its source text, so a decoder can tell `1` from `1.0` (Go's int64 can). */
export class JsonNumber {
  readonly text: string;
  readonly value: number;
  constructor(text: string, value: number) {
    this.text = text;
    this.value = value;
    Object.freeze(this);
  }

  /** True when the number is written as a JSON integer (no fraction, no exponent). */
  isInteger(): boolean {
    return /^-?(?:0|[1-9][0-9]*)$/.test(this.text);
  }
}

/** How `parseJson` reports problems and numbers. */
export interface JsonParseOptions {
  /** The error code thrown for malformed input. */
  readonly code: NotaryErrorCode;
  /** Names the document in messages, e.g. `jws envelope: protected header`. */
  readonly what: string;
  /** `value` (default): numbers are JS numbers; `text`: JsonNumber instances. */
  readonly numbers?: 'value' | 'text';
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A string body with no backslash or control character, up to its closing quote (one native pass). */
const PLAIN_STRING = /[^"\\\u0000-\u001f]*"/y;

class JsonParser {
  readonly #text: string;
  readonly #options: JsonParseOptions;
  #pos = 0;

  constructor(text: string, options: JsonParseOptions) {
    this.#text = text;
    this.#options = options;
  }

  parse(): unknown {
    this.#space();
    const value = this.#value(0);
    this.#space();
    if (this.#pos !== this.#text.length) this.#fail('unexpected data after the JSON value');
    return value;
  }

  #fail(message: string): never {
    throw new EnvelopeError(this.#options.code, `${this.#options.what}: invalid JSON at offset ${this.#pos}: ${message}`);
  }

  #space(): void {
    for (;;) {
      const c = this.#text.charCodeAt(this.#pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.#pos++;
    }
  }

  #value(depth: number): unknown {
    const c = this.#text[this.#pos];
    switch (c) {
      case '{':
        return this.#object(depth + 1);
      case '[':
        return this.#array(depth + 1);
      case '"':
        return this.#string();
      case 't':
        return this.#literal('true', true);
      case 'f':
        return this.#literal('false', false);
      case 'n':
        return this.#literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.#number();
        return this.#fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
    }
  }

  #literal(word: string, value: boolean | null): boolean | null {
    if (!this.#text.startsWith(word, this.#pos)) this.#fail(`expected ${word}`);
    this.#pos += word.length;
    return value;
  }

  #number(): number | JsonNumber {
    NUMBER.lastIndex = this.#pos;
    const match = NUMBER.exec(this.#text);
    if (match === null) return this.#fail('malformed number');
    const text = match[0];
    const value = Number(text);
    // Go's encoding/json fails on a number float64 cannot hold (1e400).
    if (!Number.isFinite(value)) this.#fail(`number ${text} is out of range`);
    this.#pos += text.length;
    return this.#options.numbers === 'text' ? new JsonNumber(text, value) : value;
  }

  #string(): string {
    const text = this.#text;
    this.#pos++;
    // Fast path: most strings (base64 certificates, the payload) have no escapes, so find the
    // closing quote natively and check the span once instead of walking it in JavaScript.
    PLAIN_STRING.lastIndex = this.#pos;
    if (PLAIN_STRING.test(text)) {
      const span = text.slice(this.#pos, PLAIN_STRING.lastIndex - 1);
      this.#pos = PLAIN_STRING.lastIndex;
      return span;
    }
    let out = '';
    let start = this.#pos;
    let escaped = false;
    for (;;) {
      if (this.#pos >= text.length) this.#fail('unterminated string');
      const c = text.charCodeAt(this.#pos);
      if (c === 0x22) {
        out += text.slice(start, this.#pos);
        this.#pos++;
        // Go's encoding/json turns an escaped lone surrogate into U+FFFD; so does Sigil, so two
        // keys Go reads as one are duplicates here too.
        return escaped ? out.replace(LONE_SURROGATE, '\uFFFD') : out;
      }
      if (c < 0x20) this.#fail('control character in string');
      if (c !== 0x5c) {
        this.#pos++;
        continue;
      }
      escaped = true;
      out += text.slice(start, this.#pos);
      const e = text[this.#pos + 1];
      this.#pos += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = text.slice(this.#pos, this.#pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.#fail('malformed \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.#pos += 4;
          break;
        }
        default:
          this.#pos -= 2;
          this.#fail('malformed escape');
      }
      start = this.#pos;
    }
  }

  #array(depth: number): unknown[] {
    if (depth > MAX_JSON_DEPTH) this.#fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
    this.#pos++;
    const items: unknown[] = [];
    this.#space();
    if (this.#text[this.#pos] === ']') {
      this.#pos++;
      return items;
    }
    for (;;) {
      this.#space();
      items.push(this.#value(depth));
      this.#space();
      const c = this.#text[this.#pos++];
      if (c === ']') return items;
      if (c !== ',') {
        this.#pos--;
        this.#fail('expected , or ]');
      }
    }
  }

  #object(depth: number): Record<string, unknown> {
    if (depth > MAX_JSON_DEPTH) this.#fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
    this.#pos++;
    const entries: [string, unknown][] = [];
    const seen = new Set<string>();
    this.#space();
    if (this.#text[this.#pos] === '}') {
      this.#pos++;
      return {};
    }
    for (;;) {
      this.#space();
      if (this.#text[this.#pos] !== '"') this.#fail('expected a string key');
      const keyAt = this.#pos;
      const key = this.#string();
      // JSON.parse and Go keep the last of two equal keys; a signed document that two parsers
      // read differently is a parser-differential, so a duplicate is an error.
      if (seen.has(key)) {
        this.#pos = keyAt;
        this.#fail(`duplicate key ${JSON.stringify(key)}`);
      }
      seen.add(key);
      this.#space();
      if (this.#text[this.#pos] !== ':') this.#fail('expected :');
      this.#pos++;
      this.#space();
      entries.push([key, this.#value(depth)]);
      this.#space();
      const c = this.#text[this.#pos++];
      if (c === '}') break;
      if (c !== ',') {
        this.#pos--;
        this.#fail('expected , or }');
      }
    }
    // Object.fromEntries defines own properties, so "__proto__" stays an ordinary key.
    return Object.fromEntries(entries);
  }
}

/**
 * Parses one JSON text strictly: RFC 8259 grammar only, no duplicate keys in any object,
 * nesting at most MAX_JSON_DEPTH, nothing after the value. Throws EnvelopeError(options.code).
 */
export function parseJson(text: string, options: JsonParseOptions): unknown {
  // Fast path for the common case (an envelope or payload: long base64 strings, no escapes, and
  // numbers kept as text only when they are plain integers): the native parser checks the grammar
  // and a scan checks what it does not. Anything either refuses goes to the strict parser, which
  // alone decides what is wrong and says so.
  if (!text.includes('\\')) {
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      return new JsonParser(text, options).parse();
    }
    if (options.numbers !== 'text') {
      if (passesStrictChecks(text, false)) return value;
    } else if (passesStrictChecks(text, true)) {
      // Every number was written as a safe integer in canonical form, so its text is exactly
      // String(value) and the JsonNumber the strict parser would have made can be rebuilt.
      return withJsonNumbers(value);
    }
  }
  return new JsonParser(text, options).parse();
}

/** parseJson without its fast path: the reference the fast path is tested against. */
export function parseJsonStrictly(text: string, options: JsonParseOptions): unknown {
  return new JsonParser(text, options).parse();
}

/** A canonical JSON integer that a double holds exactly (and not -0, whose text String() loses). */
const SAFE_INTEGER_TEXT = /^(?:0|-?[1-9][0-9]{0,14})$/;

/** Replaces, in place, every number of a JSON.parse result with its JsonNumber; only for texts of safe canonical integers. */
function withJsonNumbers(value: unknown): unknown {
  if (typeof value === 'number') return new JsonNumber(String(value), value);
  if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      const item = object[key];
      // defineProperty, not assignment: a "__proto__" key is an own property here and must stay one.
      if (typeof item === 'number') Object.defineProperty(object, key, { value: new JsonNumber(String(item), item), writable: true, enumerable: true, configurable: true });
      else withJsonNumbers(item);
    }
  }
  return value;
}

/**
 * For a text JSON.parse accepted and that holds no backslash (so every string ends at the next
 * quote and is spelled as it decodes): true when no object repeats a key, nesting stays within
 * MAX_JSON_DEPTH and every number is finite — the strict parser's rules beyond the grammar.
 */
function passesStrictChecks(text: string, integersOnly: boolean): boolean {
  // One entry per open container: the keys seen so far for an object (an array while it is small,
  // which allocates less than a Set; a Set past SMALL_OBJECT_KEYS, so no object is quadratic),
  // null for an array.
  const open: Array<string[] | Set<string> | null> = [];
  let expectKey = false;
  let i = 0;
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return false;
      if (expectKey) {
        const keys = open[open.length - 1] as string[] | Set<string>;
        const key = text.slice(i + 1, end);
        if (Array.isArray(keys)) {
          if (keys.includes(key)) return false;
          keys.push(key);
          if (keys.length > SMALL_OBJECT_KEYS) open[open.length - 1] = new Set(keys);
        } else {
          if (keys.has(key)) return false;
          keys.add(key);
        }
        expectKey = false;
      }
      i = end + 1;
    } else if (c === 0x7b || c === 0x5b) {
      if (open.length >= MAX_JSON_DEPTH) return false;
      open.push(c === 0x7b ? [] : null);
      expectKey = c === 0x7b;
      i++;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      expectKey = false;
      i++;
    } else if (c === 0x2c) {
      expectKey = open[open.length - 1] !== null;
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) return false;
      const number = text.slice(i, NUMBER.lastIndex);
      if (!Number.isFinite(Number(number))) return false;
      if (integersOnly && !SAFE_INTEGER_TEXT.test(number)) return false;
      i = NUMBER.lastIndex;
    } else {
      i++;
    }
  }
  return true;
}

/** Objects with more keys than this are checked for duplicates through a Set. */
const SMALL_OBJECT_KEYS = 16;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 strictly (no replacement characters, a BOM kept so the JSON parser rejects it). */
export function decodeUtf8(bytes: Uint8Array, code: NotaryErrorCode, what: string): string {
  // ASCII (every envelope and payload Notation writes) is its own UTF-8 and decodes at memcpy speed.
  if (isAscii(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new EnvelopeError(code, `${what}: not valid UTF-8`, { cause });
  }
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Go's encoding/json string escaping: HTML-safe (<, >, &), U+2028/9 escaped, \b and \f short (Go ≥ 1.22). */
function goQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16).padStart(4, '0')}`;
    // A lone surrogate cannot be UTF-8; Go writes U+FFFD for invalid UTF-8.
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Serializes a JSON value as Go's json.Marshal does for map[string]any: compact, object keys
 * sorted bytewise by UTF-8, Go's string escaping. This is how golang-jwt writes the JWS
 * protected header and payload, so Sigil's bytes match Notation's for the same content.
 * Throws TypeError for values JSON cannot carry.
 */
export function encodeGoJson(value: unknown, depth = 0): string {
  if (depth > MAX_JSON_DEPTH) throw new TypeError(`json: nesting deeper than ${MAX_JSON_DEPTH} levels`);
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`json: unsupported number ${value}`);
    // ECMAScript and Go's float64 encoder pick the same shortest digits and the same
    // exponent thresholds (1e-6, 1e21).
    return JSON.stringify(value);
  }
  if (value instanceof JsonNumber) return value.text;
  if (typeof value === 'string') return goQuote(value);
  if (Array.isArray(value)) return `[${value.map((item) => encodeGoJson(item, depth + 1)).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort(utf8Compare);
    return `{${keys.map((k) => `${goQuote(k)}:${encodeGoJson(value[k], depth + 1)}`).join(',')}}`;
  }
  throw new TypeError(`json: unsupported value of type ${typeof value}`);
}

const ASCII = /^[\u0000-\u007f]*$/;
const foldTables = new WeakMap<readonly string[], Map<string, string>>();

/**
 * Go's encoding/json matches struct fields case-insensitively (Unicode simple folding), so
 * `"ALG"` would fill `alg`. Folding each character through lower then upper case matches Go's
 * foldName for the ASCII keys the Notary structs use (including K → k and ſ → S).
 */
function foldKey(key: string): string {
  // ASCII keys fold by upper-casing; only non-ASCII characters (K, ſ, …) need the general rule.
  if (ASCII.test(key)) return key.toUpperCase();
  let out = '';
  for (const ch of key) {
    const folded = ch.toLowerCase().toUpperCase();
    out += [...folded].length === 1 ? folded : ch;
  }
  return out;
}

/**
 * Rejects keys that Go would read as one of `known` but are spelled differently: Notation and
 * Sigil would otherwise read different values from the same signed document.
 */
export function rejectCaseVariants(object: Record<string, unknown>, known: readonly string[], code: NotaryErrorCode, what: string): void {
  let byFold = foldTables.get(known);
  if (byFold === undefined) {
    byFold = new Map(known.map((k) => [foldKey(k), k]));
    foldTables.set(known, byFold);
  }
  for (const key of Object.keys(object)) {
    // A key spelled exactly as a known one is that key (no two known keys fold alike).
    if (known.includes(key)) continue;
    const canonical = byFold.get(foldKey(key));
    if (canonical !== undefined && canonical !== key) {
      throw new EnvelopeError(code, `${what}: key ${JSON.stringify(key)} differs from ${JSON.stringify(canonical)} only in case, which Go's encoding/json would read as ${JSON.stringify(canonical)}`);
    }
  }
}

/** True for a JSON object value (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Base64 (RFC 4648)

const BASE64URL_CHARS = /^[A-Za-z0-9_-]*$/;
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** A plain Uint8Array view of a Buffer's bytes: no second copy of every certificate and signature. */
function asUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Decodes base64url without padding (RFC 7515 §2, Go's base64.RawURLEncoding, which golang-jwt
 * uses): `=` or characters outside the URL-safe alphabet fail. Like Go's non-strict decoder,
 * non-zero trailing bits are tolerated: the JWS signature covers the text, not the bytes.
 */
export function decodeBase64Url(text: string, what: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64url');
  // Node's decoder skips what is not base64; text that re-encodes to itself is canonical, so
  // valid. Anything else (trailing bits set, or not base64url at all) gets the full check.
  if (bytes.toString('base64url') !== text && (!BASE64URL_CHARS.test(text) || text.length % 4 === 1)) {
    throw new EnvelopeError('ENVELOPE_INVALID', `${what}: must be base64url without padding (RFC 7515 section 2)`);
  }
  return asUint8Array(bytes);
}

/**
 * Decodes standard base64 with padding (RFC 4648 §4), as Go's encoding/json writes []byte
 * fields (x5c, io.cncf.notary.timestampSignature). Unlike Go, line breaks are not skipped.
 */
export function decodeBase64Std(text: string, what: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  // As in decodeBase64Url: a canonical round trip proves the text valid without the slower scan.
  if (bytes.toString('base64') !== text && (text.length % 4 !== 0 || !BASE64_CHARS.test(text))) {
    throw new EnvelopeError('ENVELOPE_INVALID', `${what}: must be standard base64 with padding (RFC 4648 section 4)`);
  }
  return asUint8Array(bytes);
}

// ---------------------------------------------------------------------------------------------
// Times

/** Go's zero time.Time (0001-01-01T00:00:00Z), which notation-core-go treats as "not set". */
export const GO_ZERO_TIME_MS = -62135596800000;

const RFC3339 = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(?:Z|([+-])([0-9]{2}):([0-9]{2}))$/;

/**
 * Parses an RFC 3339 date-time as Go's time.Time.UnmarshalJSON does (Go ≥ 1.20): upper-case `T`
 * and `Z`, any offset, optional fraction (kept to the millisecond), and ranges checked (no hour
 * 24, no leap second, real days of the month). Returns undefined when the text is not one.
 */
export function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const fraction = m[7] === undefined ? 0 : Number(`${m[7].slice(1)}00`.slice(0, 3));
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const daysInMonth = month === 2 ? (isLeapYear(year) ? 29 : 28) : (DAYS_IN_MONTH[month - 1] as number);
  if (day > daysInMonth || offsetHours > 23 || offsetMinutes > 59) return undefined;
  // Date.UTC reads years 0-99 as 1900-1999; setUTCFullYear takes the year as written.
  let utc = Date.UTC(year, month - 1, day, hour, minute, second, fraction);
  if (year < 100) {
    const date = new Date(utc);
    date.setUTCFullYear(year, month - 1, day);
    utc = date.getTime();
  }
  const sign = m[8] === '-' ? -1 : 1;
  return new Date(utc - sign * (offsetHours * 60 + offsetMinutes) * 60_000);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Formats a time as RFC 3339 in UTC to the second (`2024-12-31T08:05:29Z`); years must be 0–9999 as in Go. */
export function formatRfc3339(time: Date): string {
  const year = time.getUTCFullYear();
  if (year < 0 || year > 9999) throw new SigningError('SIGNING_FAILED', `time ${time.toISOString()} is outside the years 0000-9999 RFC 3339 can express`);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${String(year).padStart(4, '0')}-${two(time.getUTCMonth() + 1)}-${two(time.getUTCDate())}T${two(time.getUTCHours())}:${two(time.getUTCMinutes())}:${two(time.getUTCSeconds())}Z`;
}

// ---------------------------------------------------------------------------------------------
// Signed-attribute rules both envelopes share (signature-specification.md, Signed Attributes;
// notation-core-go signature/jws/jws.go and signature/cose/envelope.go)

/** The protected header holding the signing scheme. */
export const HEADER_SIGNING_SCHEME = 'io.cncf.notary.signingScheme';
/** The signing time for `notary.x509`. */
export const HEADER_SIGNING_TIME = 'io.cncf.notary.signingTime';
/** The signing time for `notary.x509.signingAuthority`. */
export const HEADER_AUTHENTIC_SIGNING_TIME = 'io.cncf.notary.authenticSigningTime';
/** The optional "best by use" time. */
export const HEADER_EXPIRY = 'io.cncf.notary.expiry';
/** The unprotected header naming the signing client. */
export const HEADER_SIGNING_AGENT = 'io.cncf.notary.signingAgent';
/** The unprotected header holding the RFC 3161 TimeStampToken. */
export const HEADER_TIMESTAMP_SIGNATURE = 'io.cncf.notary.timestampSignature';

/** True for one of the two signing schemes signing-scheme.md defines. */
export function isSigningScheme(value: unknown): value is SigningScheme {
  return value === 'notary.x509' || value === 'notary.x509.signingAuthority';
}

/** The header a signing scheme keeps its signing time in (signing-scheme.md). */
export function signingTimeHeaderOf(scheme: SigningScheme): string {
  return scheme === 'notary.x509' ? HEADER_SIGNING_TIME : HEADER_AUTHENTIC_SIGNING_TIME;
}

/**
 * Applies the signing-time rules of notation-core-go jws.go validateProtectedHeaders and base
 * envelope validateSigningAndExpiryTime: `notary.x509` needs signingTime and must not carry
 * authenticSigningTime, signingAuthority the reverse; expiry, when set, after the signing time.
 * `expiry` at Go's zero time counts as unset, as in Go.
 */
export function checkSigningTimes(
  scheme: SigningScheme,
  times: { readonly signingTime: Date | undefined; readonly authenticSigningTime: Date | undefined; readonly expiry: Date | undefined },
  what: string,
): { signingTime: Date; expiry: Date | undefined } {
  const [wanted, unwanted] = scheme === 'notary.x509' ? [times.signingTime, times.authenticSigningTime] : [times.authenticSigningTime, times.signingTime];
  const [wantedName, unwantedName] = scheme === 'notary.x509' ? [HEADER_SIGNING_TIME, HEADER_AUTHENTIC_SIGNING_TIME] : [HEADER_AUTHENTIC_SIGNING_TIME, HEADER_SIGNING_TIME];
  if (unwanted !== undefined) throw new EnvelopeError('ENVELOPE_INVALID', `${what}: ${unwantedName} must not be present for the ${scheme} signing scheme`);
  if (wanted === undefined || wanted.getTime() === GO_ZERO_TIME_MS) {
    throw new EnvelopeError('ENVELOPE_INVALID', `${what}: ${wantedName} is required for the ${scheme} signing scheme (signing-time not present)`);
  }
  const expiry = times.expiry === undefined || times.expiry.getTime() === GO_ZERO_TIME_MS ? undefined : times.expiry;
  if (expiry !== undefined && expiry.getTime() <= wanted.getTime()) {
    throw new EnvelopeError('ENVELOPE_INVALID', `${what}: expiry cannot be equal or before the signing time`);
  }
  return { signingTime: wanted, expiry };
}

/**
 * Applies the `crit` rules (signature-specification.md; notation-core-go jws.go
 * validateCriticalHeaders): non-empty; lists signingScheme, expiry when set, and
 * authenticSigningTime for signingAuthority; every other entry must be an extended attribute
 * that is present. A standard header listed otherwise fails, as Go reports it: "marked critical
 * but not present".
 */
export function checkCritical(
  crit: readonly (string | number)[],
  rules: { readonly scheme: SigningScheme; readonly hasExpiry: boolean; readonly isExtended: (label: string | number) => boolean },
  what: string,
): void {
  if (crit.length === 0) throw new EnvelopeError('ENVELOPE_INVALID', `${what}: crit must not be empty`);
  const required = new Set<string | number>([HEADER_SIGNING_SCHEME]);
  if (rules.hasExpiry) required.add(HEADER_EXPIRY);
  if (rules.scheme === 'notary.x509.signingAuthority') required.add(HEADER_AUTHENTIC_SIGNING_TIME);
  for (const label of crit) {
    if (required.delete(label)) continue;
    if (!rules.isExtended(label)) {
      throw new EnvelopeError('ENVELOPE_INVALID', `${what}: ${JSON.stringify(label)} header is marked critical but not present as an extended attribute`);
    }
  }
  if (required.size > 0) {
    throw new EnvelopeError('ENVELOPE_INVALID', `${what}: these required headers are not marked as critical: ${[...required].join(', ')}`);
  }
}

/** Options for encoding an envelope. */
export interface EnvelopeEncodeOptions {
  /**
   * Returns the DER of an RFC 3161 TimeStampToken over the raw signature bytes, stored as
   * `io.cncf.notary.timestampSignature` (signature-specification.md, Unsigned Attributes).
   * Only for `notary.x509`. Default: no timestamp.
   */
  readonly timestamp?: (signature: Uint8Array) => Promise<Uint8Array>;
}

/** A sign request after validation, with times truncated to the second as notation-core-go does. */
export interface PreparedSignRequest {
  readonly algorithm: AlgorithmInfo;
  readonly signingScheme: SigningScheme;
  readonly signingTime: Date;
  readonly expiry: Date | undefined;
  readonly extendedAttributes: readonly ExtendedAttribute[];
  readonly payload: Uint8Array;
  readonly certificateChain: readonly Uint8Array[];
  readonly signingAgent: string | undefined;
}

function truncateToSecond(time: Date, what: string): Date {
  const ms = time.getTime();
  if (!Number.isFinite(ms)) throw new SigningError('SIGNING_FAILED', `${what} is not a valid date`);
  return new Date(Math.floor(ms / 1000) * 1000);
}

/**
 * Validates a sign request as notation-core-go base envelope validateSignRequest and the
 * envelope Sign functions do, before anything is signed: payload present with the Notary
 * content type, signing scheme known, times valid (truncated to the second), expiry after the
 * signing time, a chain whose leaf key matches the algorithm, and extended attributes that
 * collide with no header the codec writes (`reserved`). Throws SigningError(SIGNING_FAILED).
 */
export function prepareSignRequest(request: SignRequest, reserved: readonly (string | number)[], what: string): PreparedSignRequest {
  const fail = (message: string, cause?: unknown): never => {
    throw new SigningError('SIGNING_FAILED', `${what}: ${message}`, cause === undefined ? undefined : { cause });
  };
  if (request.payload.contentType !== PAYLOAD_CONTENT_TYPE) fail(`payload content type must be ${PAYLOAD_CONTENT_TYPE}`);
  if (request.payload.content.length === 0) fail('payload content is empty');
  if (!isSigningScheme(request.signingScheme)) fail(`unsupported signing scheme ${JSON.stringify(request.signingScheme)}`);
  const algorithm = algorithmByName(request.signatureAlgorithm) ?? fail(`unsupported signature algorithm ${JSON.stringify(request.signatureAlgorithm)}`);
  const signingTime = truncateToSecond(request.signingTime, 'signing time');
  if (signingTime.getTime() === GO_ZERO_TIME_MS) fail('signing time is not set');
  const expiry = request.expiry === undefined ? undefined : truncateToSecond(request.expiry, 'expiry');
  if (expiry !== undefined && expiry.getTime() <= signingTime.getTime()) fail('expiry cannot be equal or before the signing time');
  const leaf = request.certificateChain[0] ?? fail('the certificate chain is empty');
  let keySpec: KeySpec | undefined;
  try {
    keySpec = keySpecOf(new X509Certificate(leaf).publicKey);
  } catch (cause) {
    fail(`the signing certificate cannot be used: ${(cause as Error).message}`, cause);
  }
  if (keySpec !== algorithm.keySpec) fail(`the signing certificate holds a ${String(keySpec)} key, which does not sign with ${algorithm.name}`);
  const taken = new Set<string | number>(reserved);
  for (const attribute of request.extendedAttributes ?? []) {
    if (taken.has(attribute.key)) fail(`extended attribute ${JSON.stringify(attribute.key)} collides with a header Sigil writes, or repeats`);
    taken.add(attribute.key);
  }
  if (request.certificateChain.some((der) => der.length === 0)) fail('the certificate chain holds an empty certificate');
  return Object.freeze({
    algorithm,
    signingScheme: request.signingScheme,
    signingTime,
    expiry,
    extendedAttributes: Object.freeze([...(request.extendedAttributes ?? [])]),
    payload: request.payload.content,
    certificateChain: request.certificateChain,
    signingAgent: request.signingAgent === '' ? undefined : request.signingAgent,
  });
}

/** Signs `data` and checks the raw signature has the algorithm's exact size, so a DER-encoded ECDSA signature never lands in an envelope. */
export async function signChecked(sign: RawSigner, data: Uint8Array, algorithm: AlgorithmInfo, what: string): Promise<Uint8Array> {
  let signature: Uint8Array;
  try {
    signature = await sign(data);
  } catch (cause) {
    if (cause instanceof SigningError) throw cause;
    throw new SigningError('SIGNING_FAILED', `${what}: the signer failed: ${(cause as Error).message}`, { cause });
  }
  if (signature.length !== algorithm.signatureSize) {
    throw new SigningError('SIGNING_FAILED', `${what}: the signer returned ${signature.length} bytes, but ${algorithm.name} signatures are ${algorithm.signatureSize} bytes (ECDSA must be r||s, IEEE P1363)`);
  }
  return signature;
}

/** Runs the optional timestamp hook (notary.x509 only, signature-specification.md); undefined when there is none. */
export async function timestampOf(options: EnvelopeEncodeOptions, scheme: SigningScheme, signature: Uint8Array, what: string): Promise<Uint8Array | undefined> {
  if (options.timestamp === undefined) return undefined;
  if (scheme !== 'notary.x509') throw new SigningError('SIGNING_FAILED', `${what}: timestamping is only supported for the notary.x509 signing scheme`);
  let token: Uint8Array;
  try {
    token = await options.timestamp(signature);
  } catch (cause) {
    if (cause instanceof SigningError) throw cause;
    throw new SigningError('SIGNING_FAILED', `${what}: timestamping failed: ${(cause as Error).message}`, { cause });
  }
  // Notation aborts signing when the TSA gives no token; an empty one is no countersignature.
  if (token.length === 0) throw new SigningError('SIGNING_FAILED', `${what}: the timestamp hook returned an empty token`);
  return token;
}

// ---------------------------------------------------------------------------------------------
// The JWS envelope

const WHAT = 'jws envelope';
const TOP_LEVEL_KEYS = ['payload', 'protected', 'header', 'signature'] as const;
const UNPROTECTED_KEYS = ['x5c', HEADER_SIGNING_AGENT, HEADER_TIMESTAMP_SIGNATURE] as const;
/** notation-core-go jws/types.go headerKeys: the protected headers that are not extended attributes. */
const STANDARD_PROTECTED_KEYS = ['alg', 'cty', 'crit', HEADER_EXPIRY, HEADER_SIGNING_TIME, HEADER_SIGNING_SCHEME, HEADER_AUTHENTIC_SIGNING_TIME] as const;
const STANDARD_PROTECTED = new Set<string>(STANDARD_PROTECTED_KEYS);

function invalid(message: string, code: NotaryErrorCode = 'ENVELOPE_INVALID'): EnvelopeError {
  return new EnvelopeError(code, `${WHAT}: ${message}`);
}

function requireString(object: Record<string, unknown>, key: string, where: string): string {
  const value = object[key];
  if (typeof value !== 'string') throw invalid(`${where}${key} ${value === undefined ? 'is missing' : 'must be a string'}`);
  return value;
}

function decodeTimeHeader(header: Record<string, unknown>, key: string): Date | undefined {
  if (!Object.hasOwn(header, key)) return undefined;
  const value = header[key];
  const time = typeof value === 'string' ? parseRfc3339(value) : undefined;
  if (time === undefined) throw invalid(`protected header ${key} must be an RFC 3339 date-time`);
  return time;
}

function decodeProtectedHeader(bytes: Uint8Array): {
  algorithm: AlgorithmInfo;
  contentType: string;
  signingScheme: SigningScheme;
  signingTime: Date;
  expiry: Date | undefined;
  extendedAttributes: ExtendedAttribute[];
  keys: string[];
} {
  const what = `${WHAT}: protected header`;
  const header = parseJson(decodeUtf8(bytes, 'ENVELOPE_INVALID', what), { code: 'ENVELOPE_INVALID', what });
  if (!isJsonObject(header)) throw invalid('protected header must be a JSON object');
  rejectCaseVariants(header, STANDARD_PROTECTED_KEYS, 'ENVELOPE_INVALID', what);

  // golang-jwt WithValidMethods and notation-core-go validMethods: only the six algorithms.
  const alg = requireString(header, 'alg', 'protected header ');
  const algorithm = ALGORITHMS.find((a) => a.jws === alg);
  if (algorithm === undefined) throw invalid(`signature algorithm ${JSON.stringify(alg)} is not supported; want one of ${ALGORITHMS.map((a) => a.jws).join(', ')}`, 'ALGORITHM_UNSUPPORTED');

  // notation-go ValidatePayloadContentType: any other cty is an integrity failure.
  const contentType = requireString(header, 'cty', 'protected header ');
  if (contentType !== PAYLOAD_CONTENT_TYPE) throw invalid(`payload content type ${JSON.stringify(contentType)} is not supported; want ${PAYLOAD_CONTENT_TYPE}`);

  const scheme = requireString(header, HEADER_SIGNING_SCHEME, 'protected header ');
  if (!isSigningScheme(scheme)) throw invalid(`unsupported signing scheme ${JSON.stringify(scheme)}`, 'ENVELOPE_UNSUPPORTED');

  const crit = header.crit;
  if (crit === undefined) throw invalid('protected header crit is missing');
  if (!Array.isArray(crit) || !crit.every((c): c is string => typeof c === 'string')) throw invalid('protected header crit must be an array of strings');

  const times = checkSigningTimes(
    scheme,
    {
      signingTime: decodeTimeHeader(header, HEADER_SIGNING_TIME),
      authenticSigningTime: decodeTimeHeader(header, HEADER_AUTHENTIC_SIGNING_TIME),
      expiry: decodeTimeHeader(header, HEADER_EXPIRY),
    },
    what,
  );
  const extendedKeys = Object.keys(header).filter((k) => !STANDARD_PROTECTED.has(k));
  checkCritical(crit, { scheme, hasExpiry: times.expiry !== undefined, isExtended: (k) => typeof k === 'string' && extendedKeys.includes(k) }, what);
  const extendedAttributes = extendedKeys.map((key) => Object.freeze({ key, value: header[key], critical: crit.includes(key) }));
  return { algorithm, contentType, signingScheme: scheme, ...times, extendedAttributes, keys: Object.keys(header) };
}

/**
 * The JSON document each decoded JWS payload object was parsed into (numbers as JsonNumber), so
 * that decodePayload need not parse the same bytes again. Keyed by the frozen payload object, the
 * document is the one read from the envelope as received, even if its content bytes are later
 * changed; nothing else can reach it.
 */
const parsedDocuments = new WeakMap<object, unknown>();

function withParsedDocument<T extends object>(payload: T, document: unknown): T {
  parsedDocuments.set(payload, document);
  return payload;
}

/** The document decodeJws parsed `payload` (an envelope's `content.payload`) into; undefined for any other object. */
export function parsedPayloadDocument(payload: object): unknown {
  return parsedDocuments.get(payload);
}

/** The x5c entries decoded last with their DER, newest first: a repeat signer's chain is found by comparing text. */
const recentX5c: Array<{ readonly text: string; readonly der: Uint8Array }> = [];
const RECENT_X5C = 8;

function decodeX5cEntry(text: string, what: string): Uint8Array {
  // Copies through Buffer.from, which draws small buffers from Node's pool: a fresh
  // ArrayBuffer (Uint8Array.slice) costs as much as decoding the base64 again.
  for (const recent of recentX5c) if (recent.text === text) return asUint8Array(Buffer.from(recent.der));
  const der = decodeBase64Std(text, what);
  recentX5c.unshift({ text, der: asUint8Array(Buffer.from(der)) });
  if (recentX5c.length > RECENT_X5C) recentX5c.pop();
  return der;
}

/**
 * Decodes a JWS envelope (flattened JSON serialization) and checks every rule of
 * signature-envelope-jws.md and notation-core-go signature/jws; throws EnvelopeError
 * (ENVELOPE_INVALID, ENVELOPE_UNSUPPORTED, ALGORITHM_UNSUPPORTED or PAYLOAD_INVALID). The
 * signature itself is not checked: pass `signedBytes` to verifySignatureBytes.
 */
export function decodeJws(bytes: Uint8Array): DecodedEnvelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw invalid(`${bytes.length} bytes exceeds the ${MAX_ENVELOPE_BYTES}-byte envelope limit`);
  const envelope = parseJson(decodeUtf8(bytes, 'ENVELOPE_INVALID', WHAT), { code: 'ENVELOPE_INVALID', what: WHAT });
  if (!isJsonObject(envelope)) throw invalid('must be a JSON object');
  // Unknown top-level keys are ignored, as Go's encoding/json does for the jwsEnvelope struct.
  rejectCaseVariants(envelope, TOP_LEVEL_KEYS, 'ENVELOPE_INVALID', WHAT);
  const protectedText = requireString(envelope, 'protected', '');
  const payloadText = requireString(envelope, 'payload', '');
  const signatureText = requireString(envelope, 'signature', '');

  const header = envelope.header;
  if (!isJsonObject(header)) throw invalid(`header ${header === undefined ? 'is missing' : 'must be a JSON object'}`);
  rejectCaseVariants(header, UNPROTECTED_KEYS, 'ENVELOPE_INVALID', `${WHAT}: header`);
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0) throw invalid('header x5c must be a non-empty array: the certificate chain is not set');
  const certificateChain = x5c.map((entry, i) => {
    if (typeof entry !== 'string' || entry.length === 0) throw invalid(`header x5c[${i}] must be a non-empty string`);
    return decodeX5cEntry(entry, `${WHAT}: header x5c[${i}]`);
  });
  const agent = header[HEADER_SIGNING_AGENT];
  if (agent !== undefined && typeof agent !== 'string') throw invalid(`header ${HEADER_SIGNING_AGENT} must be a string`);
  const timestampText = header[HEADER_TIMESTAMP_SIGNATURE];
  if (timestampText !== undefined && typeof timestampText !== 'string') throw invalid(`header ${HEADER_TIMESTAMP_SIGNATURE} must be a base64 string`);
  const timestamp = timestampText === undefined ? undefined : decodeBase64Std(timestampText, `${WHAT}: header ${HEADER_TIMESTAMP_SIGNATURE}`);

  const attributes = decodeProtectedHeader(decodeBase64Url(protectedText, `${WHAT}: protected`));
  // RFC 7515 section 7.2.1: protected and unprotected header parameter names must be disjoint.
  const both = attributes.keys.find((k) => Object.hasOwn(header, k));
  if (both !== undefined) throw invalid(`header parameter ${JSON.stringify(both)} appears in both the protected and the unprotected header`);

  const payload = decodeBase64Url(payloadText, `${WHAT}: payload`);
  // notation-core-go base validatePayload: "content not present"; golang-jwt parses the payload
  // as the JWT claims object.
  if (payload.length === 0) throw invalid('payload is empty', 'PAYLOAD_INVALID');
  // Numbers as text, as the payload decoder reads them, so that it can take this parse over.
  const claims = parseJson(decodeUtf8(payload, 'PAYLOAD_INVALID', `${WHAT}: payload`), { code: 'PAYLOAD_INVALID', what: `${WHAT}: payload`, numbers: 'text' });
  if (!isJsonObject(claims)) throw invalid('payload must be a JSON object', 'PAYLOAD_INVALID');

  const signature = decodeBase64Url(signatureText, `${WHAT}: signature`);
  if (signature.length === 0) throw invalid('signature is empty');

  return Object.freeze({
    mediaType: JWS_MEDIA_TYPE,
    content: Object.freeze({
      signerInfo: Object.freeze({
        signedAttributes: Object.freeze({
          signingScheme: attributes.signingScheme,
          signingTime: attributes.signingTime,
          expiry: attributes.expiry,
          extendedAttributes: Object.freeze(attributes.extendedAttributes),
        }),
        unsignedAttributes: Object.freeze({
          signingAgent: agent,
          timestampSignature: timestamp === undefined || timestamp.length === 0 ? undefined : timestamp,
        }),
        signatureAlgorithm: attributes.algorithm.name,
        certificateChain: Object.freeze(certificateChain),
        signature,
      }),
      payload: withParsedDocument(Object.freeze({ contentType: attributes.contentType, content: payload }), claims),
    }),
    // RFC 7515 section 5.1: the JWS Signing Input is ASCII(protected || '.' || payload), as sent.
    signedBytes: asUint8Array(Buffer.from(`${protectedText}.${payloadText}`, 'ascii')),
  });
}

function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/**
 * Signs a request into a JWS envelope laid out as notation-core-go writes it: protected header
 * and payload re-serialized as golang-jwt does (compact, keys sorted), `crit` in Notation's order
 * (signingScheme, critical extended attributes, authenticSigningTime, expiry), times in UTC to
 * the second, and `header` holding x5c and the signing agent. Throws SigningError for a request
 * that cannot produce a valid envelope.
 */
export async function encodeJws(request: SignRequest, sign: RawSigner, options: EnvelopeEncodeOptions = {}): Promise<Uint8Array> {
  const reserved = [...STANDARD_PROTECTED_KEYS, ...UNPROTECTED_KEYS];
  const prepared = prepareSignRequest(request, reserved, WHAT);
  const folded = new Set(reserved.map(foldKey));
  for (const attribute of prepared.extendedAttributes) {
    if (typeof attribute.key !== 'string') throw new SigningError('SIGNING_FAILED', `${WHAT}: extended attribute key ${String(attribute.key)} must be a string`);
    // decodeJws rejects case variants of the standard keys, so never write one.
    if (folded.has(foldKey(attribute.key))) throw new SigningError('SIGNING_FAILED', `${WHAT}: extended attribute ${JSON.stringify(attribute.key)} differs from a standard header only in case`);
  }

  let claims: unknown;
  try {
    claims = parseJson(decodeUtf8(prepared.payload, 'PAYLOAD_INVALID', 'payload'), { code: 'PAYLOAD_INVALID', what: 'payload' });
  } catch (cause) {
    throw new SigningError('SIGNING_FAILED', `${WHAT}: the payload must be JSON: ${(cause as Error).message}`, { cause });
  }
  if (!isJsonObject(claims)) throw new SigningError('SIGNING_FAILED', `${WHAT}: the payload must be a JSON object`);

  const crit: string[] = [HEADER_SIGNING_SCHEME];
  for (const attribute of prepared.extendedAttributes) if (attribute.critical) crit.push(attribute.key as string);
  if (prepared.signingScheme === 'notary.x509.signingAuthority') crit.push(HEADER_AUTHENTIC_SIGNING_TIME);
  if (prepared.expiry !== undefined) crit.push(HEADER_EXPIRY);
  const entries: [string, unknown][] = [
    ['alg', prepared.algorithm.jws],
    ['cty', PAYLOAD_CONTENT_TYPE],
    ['crit', crit],
    [HEADER_SIGNING_SCHEME, prepared.signingScheme],
    [signingTimeHeaderOf(prepared.signingScheme), formatRfc3339(prepared.signingTime)],
  ];
  if (prepared.expiry !== undefined) entries.push([HEADER_EXPIRY, formatRfc3339(prepared.expiry)]);
  for (const attribute of prepared.extendedAttributes) entries.push([attribute.key as string, attribute.value]);

  let protectedJson: Buffer;
  let payloadText: string;
  try {
    protectedJson = Buffer.from(encodeGoJson(Object.fromEntries(entries)), 'utf8');
    payloadText = base64Url(Buffer.from(encodeGoJson(claims), 'utf8'));
  } catch (cause) {
    throw new SigningError('SIGNING_FAILED', `${WHAT}: an extended attribute is not JSON: ${(cause as Error).message}`, { cause });
  }
  try {
    // The decoder is the one statement of the rules: never ask the signer to sign a header it rejects.
    decodeProtectedHeader(protectedJson);
  } catch (cause) {
    throw new SigningError('SIGNING_FAILED', `${WHAT}: the protected header would be invalid: ${(cause as Error).message}`, { cause });
  }
  const protectedText = base64Url(protectedJson);
  const signingInput = new Uint8Array(Buffer.from(`${protectedText}.${payloadText}`, 'ascii'));
  const signature = await signChecked(sign, signingInput, prepared.algorithm, WHAT);
  const timestamp = await timestampOf(options, prepared.signingScheme, signature, WHAT);

  // Field order of notation-core-go jws/types.go jwsEnvelope and jwsUnprotectedHeader.
  const header: string[] = [];
  if (timestamp !== undefined) header.push(`${goQuote(HEADER_TIMESTAMP_SIGNATURE)}:"${Buffer.from(timestamp).toString('base64')}"`);
  header.push(`"x5c":[${prepared.certificateChain.map((der) => `"${Buffer.from(der).toString('base64')}"`).join(',')}]`);
  if (prepared.signingAgent !== undefined) header.push(`${goQuote(HEADER_SIGNING_AGENT)}:${goQuote(prepared.signingAgent)}`);
  const json = `{"payload":"${payloadText}","protected":"${protectedText}","header":{${header.join(',')}},"signature":"${base64Url(signature)}"}`;
  return new Uint8Array(Buffer.from(json, 'utf8'));
}
