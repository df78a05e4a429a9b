import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode as cbor2Decode, encode as cbor2Encode } from 'cbor2';
import fc from 'fast-check';
import { CborFloat, CborTag, decodeCbor, encodeCbor, isCborMap, MAX_CBOR_ARRAY_ELEMENTS, MAX_CBOR_NESTING, type CborValue } from './cbor.js';
import { EnvelopeError } from './errors.js';

/** cbor2 serializes a Node Buffer through toJSON; hand it plain Uint8Arrays, as CBOR byte strings. */
function plainBytes(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  if (Array.isArray(value)) return value.map(plainBytes);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [plainBytes(k), plainBytes(v)]));
  return value;
}

function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s/g, ''), 'hex'));
}

function assertMalformed(bytes: Uint8Array, options?: { allowTags?: boolean }): void {
  assert.throws(
    () => decodeCbor(bytes, options),
    (e: unknown) => e instanceof EnvelopeError && e.code === 'ENVELOPE_INVALID',
    Buffer.from(bytes.subarray(0, 32)).toString('hex'),
  );
}

describe('decodeCbor reads RFC 8949 Appendix A examples', () => {
  const cases: [string, CborValue][] = [
    ['00', 0],
    ['17', 23],
    ['1818', 24],
    ['1903e8', 1000],
    ['1a000f4240', 1000000],
    ['1b000000e8d4a51000', 1000000000000],
    ['1b7fffffffffffffff', 9223372036854775807n],
    ['20', -1],
    ['3863', -100],
    ['3b7fffffffffffffff', -9223372036854775808n],
    ['f93c00', new CborFloat(1)],
    ['f97bff', new CborFloat(65504)],
    ['fa47c35000', new CborFloat(100000)],
    ['fb3ff199999999999a', new CborFloat(1.1)],
    ['f90001', new CborFloat(5.960464477539063e-8)],
    ['f97c00', new CborFloat(Infinity)],
    ['f9fc00', new CborFloat(-Infinity)],
    ['f4', false],
    ['f5', true],
    ['f6', null],
    ['f7', undefined],
    ['c074323031332d30332d32315432303a30343a30305a', new CborTag(0, '2013-03-21T20:04:00Z')],
    ['c11a514b67b0', new CborTag(1, 1363896240)],
    ['c1fb41d452d9ec200000', new CborTag(1, new CborFloat(1363896240.5))],
    ['d74401020304', new CborTag(23, Uint8Array.of(1, 2, 3, 4))],
    ['40', new Uint8Array(0)],
    ['4401020304', Uint8Array.of(1, 2, 3, 4)],
    ['60', ''],
    ['6161', 'a'],
    ['6449455446', 'IETF'],
    ['62225c', '"\\'],
    ['62c3bc', 'ü'],
    ['63e6b0b4', '水'],
    ['64f0908591', '𐅑'],
    ['80', []],
    ['83010203', [1, 2, 3]],
    ['8301820203820405', [1, [2, 3], [4, 5]]],
    ['a0', new Map()],
    ['a201020304', new Map([[1, 2], [3, 4]])],
    ['a26161016162820203', new Map<string, CborValue>([['a', 1], ['b', [2, 3]]])],
    ['826161a161626163', ['a', new Map([['b', 'c']])]],
  ];
  for (const [bytes, value] of cases) {
    it(`decodes ${bytes}`, () => assert.deepEqual(decodeCbor(hex(bytes)), value));
  }

  it('decodes NaN half floats', () => assert.ok(Number.isNaN((decodeCbor(hex('f97e00')) as CborFloat).value)));

  it('accepts non-preferred heads, as fxamacker/cbor (and so go-cose) does', () => {
    assert.equal(decodeCbor(hex('1801')), 1);
    assert.equal(decodeCbor(hex('1b0000000000000001')), 1);
    assert.deepEqual(decodeCbor(hex('5800')), new Uint8Array(0));
    assert.deepEqual(decodeCbor(hex('990001 01')), [1]);
  });

  it('keeps a byte-order mark in a text string', () => assert.equal(decodeCbor(hex('63efbbbf')), '\ufeff'));
});

describe('decodeCbor rejects what go-cose rejects', () => {
  const cases: [string, string][] = [
    ['an indefinite-length byte string', '5f42010243030405ff'],
    ['an indefinite-length text string', '7f657374726561646d696e67ff'],
    ['an indefinite-length array', '9f018202039f0405ffff'],
    ['an indefinite-length map', 'bf61610161629f0203ffff'],
    ['a lone break', 'ff'],
    ['reserved additional information 28', '1c'],
    ['reserved additional information 30 in a float', 'fe'],
    ['a simple value 0..31 in two-byte form', 'f818'],
    ['an unassigned simple value', 'f0'],
    ['an unassigned two-byte simple value', 'f8ff'],
    ['a positive integer beyond int64', '1b8000000000000000'],
    ['a negative integer beyond int64', '3b8000000000000000'],
    ['a duplicate map key', 'a2010001 01'],
    ['a duplicate map key written two ways', 'a20100180100'],
    ['a duplicate text key', 'a2616100616101'],
    ['a byte string map key', 'a14101 00'],
    ['an array map key', 'a18001'],
    ['a float map key', 'a1f93c0001'],
    ['a boolean map key', 'a1f401'],
    ['invalid UTF-8', '62c328'],
    ['a UTF-16 surrogate in UTF-8', '63eda080'],
    ['trailing bytes', '0000'],
    ['a truncated integer', '1a0001'],
    ['a truncated byte string', '44010203'],
    ['a truncated array', '830102'],
    ['a length beyond the data', '5bffffffffffffffff00'],
    ['a map count beyond the data', 'bbffffffffffffffff'],
    ['empty input', ''],
    ['tag 0 around a non-string', 'c001'],
    ['tag 1 around a string', 'c16161'],
    ['tag 2 around a non-bstr', 'c201'],
  ];
  for (const [why, bytes] of cases) {
    it(`rejects ${why}`, () => assertMalformed(hex(bytes)));
  }

  it('rejects tags where the caller forbids them', () => {
    assertMalformed(hex('c11a514b67b0'), { allowTags: false });
    assertMalformed(hex('81c100'), { allowTags: false });
    assert.deepEqual(decodeCbor(hex('81c100'), { allowTags: true }), [new CborTag(1, 0)]);
  });

  it(`accepts ${MAX_CBOR_NESTING} levels of nesting and rejects one more`, () => {
    const nested = (levels: number): Uint8Array => Uint8Array.from([...new Array<number>(levels).fill(0x81), 0x00]);
    assert.doesNotThrow(() => decodeCbor(nested(MAX_CBOR_NESTING)));
    assertMalformed(nested(MAX_CBOR_NESTING + 1));
    assertMalformed(Uint8Array.from([...new Array<number>(100_000).fill(0x81), 0x00]));
    assertMalformed(Uint8Array.from([...new Array<number>(MAX_CBOR_NESTING + 1).fill(0xc6), 0x00]));
  });

  it(`rejects an array of more than ${MAX_CBOR_ARRAY_ELEMENTS} elements`, () => {
    const count = MAX_CBOR_ARRAY_ELEMENTS + 1;
    const bytes = new Uint8Array(5 + count);
    bytes.set([0x9a, (count >>> 24) & 0xff, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff]);
    assertMalformed(bytes);
  });

  it('only ever throws EnvelopeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (bytes, allowTags) => {
        try {
          decodeCbor(bytes, { allowTags });
        } catch (e) {
          assert.ok(e instanceof EnvelopeError, String(e));
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('encodeCbor', () => {
  it('writes the shortest head for every integer and length (RFC 8949 section 4.2.1)', () => {
    const cases: [CborValue, string][] = [
      [0, '00'],
      [23, '17'],
      [24, '1818'],
      [255, '18ff'],
      [256, '190100'],
      [65535, '19ffff'],
      [65536, '1a00010000'],
      [4294967295, '1affffffff'],
      [4294967296, '1b0000000100000000'],
      [18446744073709551615n, '1bffffffffffffffff'],
      [-1, '20'],
      [-24, '37'],
      [-25, '3818'],
      [-18446744073709551616n, '3bffffffffffffffff'],
      [-37, '3824'],
      [1.5, 'fb3ff8000000000000'],
      [new CborFloat(1), 'fb3ff0000000000000'],
      ['a'.repeat(24), `7818${'61'.repeat(24)}`],
      [new Uint8Array(256), `590100${'00'.repeat(256)}`],
      [new CborTag(1, 1735632329), 'c11a6773a5c9'],
      [new CborTag(18, []), 'd280'],
      [[false, true, null, undefined], '84f4f5f6f7'],
    ];
    for (const [value, bytes] of cases) assert.equal(Buffer.from(encodeCbor(value)).toString('hex'), bytes);
  });

  it('orders map keys as RFC 7049 canonical CBOR: shorter encodings first, then bytewise', () => {
    const map = new Map<string | number, CborValue>([['aa', 0], ['z', 0], [100, 0], [-1, 0], [10, 0], ['io.cncf.notary.signingScheme', 0], [33, 0]]);
    const decoded = decodeCbor(encodeCbor(map));
    assert.ok(isCborMap(decoded));
    assert.deepEqual([...decoded.keys()], [10, -1, 33, 100, 'z', 'aa', 'io.cncf.notary.signingScheme']);
  });

  it('refuses two keys with one encoding, and values CBOR cannot carry', () => {
    assert.throws(() => encodeCbor(new Map<number | bigint, CborValue>([[5, 0], [5n, 1]])), RangeError);
    assert.throws(() => encodeCbor(18446744073709551616n), RangeError);
    assert.throws(() => encodeCbor({} as unknown as CborValue), TypeError);
  });

  it('round-trips through decodeCbor and agrees with cbor2 both ways', () => {
    const reference = { decode: (bytes: Uint8Array): unknown => cbor2Decode(bytes, { preferMap: true }) };
    const referenceEncoder = { encode: (value: unknown): Uint8Array => cbor2Encode(plainBytes(value)) };
    const leaf = fc.oneof(
      fc.integer(),
      fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
      fc.string({ unit: 'grapheme' }),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    );
    const value = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('value'), { maxLength: 5 }),
        fc.uniqueArray(fc.tuple(fc.oneof(fc.integer(), fc.string()), tie('value')), { maxLength: 5, selector: ([k]) => k }).map((entries) => new Map(entries)),
      ),
    })).value;
    const normalize = (v: unknown): unknown => {
      if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      if (v instanceof Uint8Array) return new Uint8Array(v);
      if (Array.isArray(v)) return v.map(normalize);
      if (v instanceof Map) return new Map([...(v as Map<unknown, unknown>)].map(([k, x]) => [normalize(k), normalize(x)]));
      return v;
    };
    fc.assert(
      fc.property(value, (v) => {
        const ours = encodeCbor(v as CborValue);
        const expected = normalize(v);
        assert.deepEqual(decodeCbor(ours), expected);
        assert.deepEqual(normalize(reference.decode(Buffer.from(ours))), expected);
        assert.deepEqual(decodeCbor(new Uint8Array(referenceEncoder.encode(v))), expected);
      }),
      { numRuns: 1000 },
    );
  });
});
