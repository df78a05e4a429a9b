// A strict CBOR (RFC 8949) decoder and a deterministic encoder, covering what COSE_Sign1
// (RFC 9052) needs. The rules mirror the decoding mode go-cose v1.3.0 (cbor.go) builds on
// fxamacker/cbor v2, so Sigil accepts and rejects the same COSE envelopes Notation does.

import { EnvelopeError } from './errors.js';

/**
 * Deepest nesting of arrays, maps and tags the decoder accepts: fxamacker/cbor's default
 * MaxNestedLevels (32), which go-cose inherits. A COSE_Sign1 envelope needs 3 levels; the bound
 * keeps recursion shallow on hostile input.
 */
export const MAX_CBOR_NESTING = 32;

/** Most elements one array may declare: fxamacker/cbor's default MaxArrayElements (131072). */
export const MAX_CBOR_ARRAY_ELEMENTS = 131072;

/** Most pairs one map may declare: fxamacker/cbor's default MaxMapPairs (131072). */
export const MAX_CBOR_MAP_PAIRS = 131072;

/** A tagged data item (RFC 8949 §3.4), e.g. tag 1 (epoch-based date/time) around an integer. */
export class CborTag {
  readonly tag: number | bigint;
  readonly value: CborValue;
  constructor(tag: number | bigint, value: CborValue) {
    this.tag = tag;
    this.value = value;
    Object.freeze(this);
  }
}

/**
 * A floating-point data item (major type 7, RFC 8949 §3.3). Kept apart from integers so a
 * float where COSE wants an int (an `alg` of -37.0) is seen for what it is, as in Go.
 */
export class CborFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
    Object.freeze(this);
  }
}

/** A map key: an integer or a text string, the only labels COSE allows (RFC 9052 §1.5). */
export type CborKey = number | bigint | string;

/** A CBOR map, keys in the order they were decoded (or inserted). */
export type CborMap = ReadonlyMap<CborKey, CborValue>;

/**
 * A decoded CBOR data item: integers as `number` (bigint beyond ±2^53), byte strings as
 * Uint8Array, text strings as string, simple values as boolean/null/undefined.
 */
export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborFloat
  | CborTag
  | CborMap
  | readonly CborValue[];

/** True for a decoded CBOR map (narrows without widening the key type to `any`). */
export function isCborMap(value: CborValue): value is CborMap {
  return value instanceof Map;
}

/** What the decoder accepts beyond the defaults. */
export interface CborDecodeOptions {
  /**
   * Whether tags may appear. go-cose decodes the COSE_Sign1 array with tags forbidden (only the
   * leading tag 18, which the caller strips, is allowed), and the protected header with tags allowed.
   * Default true.
   */
  readonly allowTags?: boolean;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function malformed(message: string, offset: number): EnvelopeError {
  return new EnvelopeError('ENVELOPE_INVALID', `cbor: ${message} at byte ${offset}`);
}

/** Normalises an integer to `number` when exact, so 5 and 5n are one map key. */
function normalizeInt(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

class Decoder {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #allowTags: boolean;
  #offset = 0;

  constructor(bytes: Uint8Array, options: CborDecodeOptions) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#allowTags = options.allowTags ?? true;
  }

  decodeAll(): CborValue {
    const value = this.#item(0);
    if (this.#offset !== this.#bytes.length) throw malformed(`${this.#bytes.length - this.#offset} trailing bytes`, this.#offset);
    return value;
  }

  #need(count: number): void {
    if (this.#bytes.length - this.#offset < count) throw malformed('unexpected end of data', this.#offset);
  }

  /** An unsigned integer of 1, 2, 4 or 8 bytes: a number when exact, a bigint only beyond 2^53 - 1. */
  #uint(size: number): number | bigint {
    this.#need(size);
    const at = this.#offset;
    this.#offset += size;
    switch (size) {
      case 1:
        return this.#view.getUint8(at);
      case 2:
        return this.#view.getUint16(at);
      case 4:
        return this.#view.getUint32(at);
      default:
        return normalizeInt(this.#view.getBigUint64(at));
    }
  }

  /**
   * Reads the argument of a head. Non-preferred (longer than needed) arguments are accepted:
   * fxamacker/cbor has no option to reject them, so go-cose accepts them too, and COSE signs the
   * protected header's bytes as received, never a re-encoding.
   */
  #argument(info: number, start: number): number | bigint {
    if (info < 24) return info;
    if (info === 24) return this.#uint(1);
    if (info === 25) return this.#uint(2);
    if (info === 26) return this.#uint(4);
    if (info === 27) return this.#uint(8);
    if (info === 31) throw malformed('indefinite-length items are not allowed (go-cose IndefLengthForbidden)', start);
    throw malformed(`reserved additional information ${info}`, start);
  }

  /** A length that must fit in what is left of the input. */
  #length(info: number, start: number, unit: number): number {
    const length = this.#argument(info, start);
    // A bigint length is beyond 2^53 - 1, so beyond any input.
    if (typeof length === 'bigint' || length > Math.floor((this.#bytes.length - this.#offset) / unit)) throw malformed('length exceeds the remaining data', start);
    return length;
  }

  #item(depth: number): CborValue {
    const start = this.#offset;
    this.#need(1);
    const initial = this.#bytes[this.#offset++] ?? 0;
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
      case 1: {
        const argument = this.#argument(info, start);
        // Numbers stay numbers while exact (normalizeInt's range); the rest is bigint arithmetic.
        if (typeof argument === 'number' && (major === 0 || argument < Number.MAX_SAFE_INTEGER)) return major === 0 ? argument : -1 - argument;
        const big = BigInt(argument);
        const value = major === 0 ? big : -1n - big;
        // go-cose decodes integers with IntDecConvertSigned: anything outside int64 fails.
        if (value > INT64_MAX || value < INT64_MIN) throw malformed('integer overflows int64', start);
        return normalizeInt(value);
      }
      case 2: {
        const length = this.#length(info, start, 1);
        // A copy, never a view of the input; small copies come from Node's buffer pool, a fresh
        // ArrayBuffer per certificate and signature being the decoder's largest cost. Returned as
        // a plain Uint8Array (a Buffer's slice() would alias).
        const copy = Buffer.from(this.#bytes.subarray(this.#offset, this.#offset + length));
        const value = new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength);
        this.#offset += length;
        return value;
      }
      case 3: {
        const length = this.#length(info, start, 1);
        const raw = this.#bytes.subarray(this.#offset, this.#offset + length);
        this.#offset += length;
        try {
          return utf8.decode(raw);
        } catch (cause) {
          throw new EnvelopeError('ENVELOPE_INVALID', `cbor: text string is not valid UTF-8 at byte ${start}`, { cause });
        }
      }
      case 4: {
        if (depth + 1 > MAX_CBOR_NESTING) throw malformed(`nesting deeper than ${MAX_CBOR_NESTING} levels`, start);
        const count = this.#length(info, start, 1);
        if (count > MAX_CBOR_ARRAY_ELEMENTS) throw malformed(`array of ${count} elements exceeds ${MAX_CBOR_ARRAY_ELEMENTS}`, start);
        const items: CborValue[] = [];
        for (let i = 0; i < count; i++) items.push(this.#item(depth + 1));
        return Object.freeze(items);
      }
      case 5: {
        if (depth + 1 > MAX_CBOR_NESTING) throw malformed(`nesting deeper than ${MAX_CBOR_NESTING} levels`, start);
        const count = this.#length(info, start, 2);
        if (count > MAX_CBOR_MAP_PAIRS) throw malformed(`map of ${count} pairs exceeds ${MAX_CBOR_MAP_PAIRS}`, start);
        const map = new Map<CborKey, CborValue>();
        for (let i = 0; i < count; i++) {
          const keyAt = this.#offset;
          const key = this.#item(depth + 1);
          if (typeof key !== 'number' && typeof key !== 'bigint' && typeof key !== 'string') {
            throw malformed('map keys must be integers or text strings', keyAt);
          }
          // go-cose decodes with DupMapKeyEnforcedAPF; RFC 9052 §3: duplicate labels are malformed.
          if (map.has(key)) throw malformed(`duplicate map key ${typeof key === 'string' ? JSON.stringify(key) : String(key)}`, keyAt);
          map.set(key, this.#item(depth + 1));
        }
        return map;
      }
      case 6: {
        if (!this.#allowTags) throw malformed('tags are not allowed here', start);
        if (depth + 1 > MAX_CBOR_NESTING) throw malformed(`nesting deeper than ${MAX_CBOR_NESTING} levels`, start);
        const tag = this.#argument(info, start);
        const value = this.#item(depth + 1);
        checkBuiltinTag(tag, value, start);
        return new CborTag(tag, value);
      }
      default:
        return this.#simple(info, start);
    }
  }

  #simple(info: number, start: number): CborValue {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 24: {
        const value = Number(this.#uint(1));
        // RFC 8949 §3.3: simple values 0..31 in the two-byte form are not well-formed.
        if (value < 32) throw malformed(`simple value ${value} in two-byte form`, start);
        throw malformed(`unassigned simple value ${value}`, start);
      }
      case 25:
        this.#need(2);
        this.#offset += 2;
        return new CborFloat(halfToNumber(this.#view.getUint16(this.#offset - 2)));
      case 26:
        this.#need(4);
        this.#offset += 4;
        return new CborFloat(this.#view.getFloat32(this.#offset - 4));
      case 27:
        this.#need(8);
        this.#offset += 8;
        return new CborFloat(this.#view.getFloat64(this.#offset - 8));
      case 31:
        throw malformed('unexpected break', start);
      default:
        if (info < 20) throw malformed(`unassigned simple value ${info}`, start);
        throw malformed(`reserved additional information ${info}`, start);
    }
  }
}

/** RFC 8949 §3.4.1–3.4.3: the content types fxamacker/cbor checks for the tags it knows. */
function checkBuiltinTag(tag: number | bigint, value: CborValue, start: number): void {
  const ok =
    tag === 0 ? typeof value === 'string'
    : tag === 1 ? typeof value === 'number' || typeof value === 'bigint' || value instanceof CborFloat
    : tag === 2 || tag === 3 ? value instanceof Uint8Array
    : true;
  if (!ok) throw malformed(`tag ${String(tag)} has content of the wrong type`, start);
}

/**
 * Decodes exactly one CBOR data item; throws EnvelopeError(ENVELOPE_INVALID) on malformed input,
 * indefinite lengths, duplicate or non-int/tstr map keys, integers beyond int64, invalid UTF-8,
 * unassigned simple values, nesting beyond MAX_CBOR_NESTING, and trailing bytes.
 */
export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = {}): CborValue {
  return new Decoder(bytes, options).decodeAll();
}

const textEncoder = new TextEncoder();

/**
 * Uninitialised bytes as a plain Uint8Array; below 4 KiB from Node's buffer pool, since a fresh
 * ArrayBuffer per encoding costs more than the encoding (an envelope check makes one).
 */
function scratch(size: number): Uint8Array {
  const buffer = Buffer.allocUnsafe(size);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
const TWO_32 = 2 ** 32;

/** Writes into one growing buffer: a head is a few byte stores, not an allocation. */
class Encoder {
  #buffer: Uint8Array;
  #length = 0;

  constructor(capacity: number) {
    this.#buffer = scratch(capacity);
  }

  /** The encoding; a view of the encoder's own buffer, which nothing else writes. */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  #reserve(count: number): void {
    const needed = this.#length + count;
    if (needed <= this.#buffer.length) return;
    const grown = scratch(Math.max(needed, this.#buffer.length * 2));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  #byte(value: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = value;
  }

  #raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** `count` bytes of `value` (below 2^32), big-endian. */
  #be(value: number, count: number): void {
    this.#reserve(count);
    for (let i = count - 1; i >= 0; i--) {
      this.#buffer[this.#length + i] = value & 0xff;
      value = Math.floor(value / 256);
    }
    this.#length += count;
  }

  /** Preferred serialization of a head (RFC 8949 §4.2.1): the shortest argument that holds the value. */
  #head(major: number, argument: number | bigint): void {
    const m = major << 5;
    if (typeof argument === 'bigint') {
      // Only arguments beyond 2^53 - 1 arrive as bigint (the 8-byte form).
      this.#byte(m | 27);
      this.#be(Number(argument >> 32n), 4);
      this.#be(Number(argument & 0xffffffffn), 4);
    } else if (argument < 24) this.#byte(m | argument);
    else if (argument < 0x100) {
      this.#byte(m | 24);
      this.#byte(argument);
    } else if (argument < 0x10000) {
      this.#byte(m | 25);
      this.#be(argument, 2);
    } else if (argument < TWO_32) {
      this.#byte(m | 26);
      this.#be(argument, 4);
    } else {
      this.#byte(m | 27);
      this.#be(Math.floor(argument / TWO_32), 4);
      this.#be(argument % TWO_32, 4);
    }
  }

  #integer(value: number | bigint): void {
    if (typeof value === 'number') {
      // A safe integer: its head argument is exact as a number.
      if (value >= 0) this.#head(0, value);
      else this.#head(1, -1 - value);
      return;
    }
    if (value >= 0n) {
      if (value > UINT64_MAX) throw new RangeError(`cbor: integer ${value} does not fit in 64 bits`);
      this.#head(0, normalizeInt(value));
    } else {
      if (-1n - value > UINT64_MAX) throw new RangeError(`cbor: integer ${value} does not fit in 64 bits`);
      this.#head(1, normalizeInt(-1n - value));
    }
  }

  #float(value: number): void {
    // fxamacker/cbor's default (ShortestFloatNone) writes every float64 as 8 bytes; so does Sigil.
    const b = new Uint8Array(9);
    b[0] = 0xfb;
    new DataView(b.buffer).setFloat64(1, value);
    this.#raw(b);
  }

  /** `depth` counts the arrays, maps and tags around `value`, as the decoder does. */
  value(value: CborValue, depth: number): void {
    const container = Array.isArray(value) || value instanceof Map || value instanceof CborTag;
    if (container && depth + 1 > MAX_CBOR_NESTING) throw new RangeError(`cbor: nesting deeper than ${MAX_CBOR_NESTING} levels`);
    if (value === false) this.#byte(0xf4);
    else if (value === true) this.#byte(0xf5);
    else if (value === null) this.#byte(0xf6);
    else if (value === undefined) this.#byte(0xf7);
    else if (typeof value === 'number') {
      if (Number.isSafeInteger(value)) this.#integer(value);
      else if (Number.isInteger(value) && value >= -(2 ** 64) && value < 2 ** 64) this.#integer(BigInt(value));
      else this.#float(value);
    } else if (typeof value === 'bigint') this.#integer(value);
    else if (typeof value === 'string') {
      const bytes = textEncoder.encode(value);
      this.#head(3, bytes.length);
      this.#raw(bytes);
    } else if (value instanceof Uint8Array) {
      this.#head(2, value.length);
      this.#raw(value);
    } else if (value instanceof CborFloat) this.#float(value.value);
    else if (value instanceof CborTag) {
      const tag = typeof value.tag === 'bigint' ? normalizeInt(value.tag) : value.tag;
      if (tag < 0 || tag > UINT64_MAX) throw new RangeError(`cbor: tag ${value.tag} is not an unsigned 64-bit integer`);
      this.#head(6, tag);
      this.value(value.value, depth + 1);
    } else if (Array.isArray(value)) {
      const items = value as readonly CborValue[];
      this.#head(4, items.length);
      for (const item of items) this.value(item, depth + 1);
    } else if (value instanceof Map) {
      this.#map(value as CborMap, depth);
    } else {
      throw new TypeError('cbor: unsupported value');
    }
  }

  /**
   * RFC 7049 §3.9 canonical order, as go-cose's encMode (SortCanonical): shorter encoded keys
   * first, equal lengths bytewise. Two keys with one encoding (5 and 5n) are a duplicate.
   */
  #map(map: CborMap, depth: number): void {
    const entries = [...map.entries()].map(([key, item]) => ({ key: encodeCbor(key), item }));
    entries.sort((a, b) => a.key.length - b.key.length || Buffer.compare(a.key, b.key));
    for (let i = 1; i < entries.length; i++) {
      if (Buffer.compare(entries[i - 1]!.key, entries[i]!.key) === 0) throw new RangeError('cbor: duplicate map key');
    }
    this.#head(5, entries.length);
    for (const { key, item } of entries) {
      this.#raw(key);
      this.value(item, depth + 1);
    }
  }
}

/**
 * Encodes a value deterministically: definite lengths, shortest heads, maps in RFC 7049
 * canonical key order. Integral numbers within 64 bits become integers, other numbers float64.
 * Throws RangeError/TypeError for values CBOR cannot carry (a programming error, not bad input).
 */
export function encodeCbor(value: CborValue, sizeHint = 64): Uint8Array {
  const encoder = new Encoder(sizeHint);
  encoder.value(value, 0);
  return encoder.bytes();
}
