import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeDer,
  decodeDerElements,
  derBitString,
  derBoolean,
  derExplicit,
  derGeneralizedTime,
  derImplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derTime,
  derUtcTime,
  derUtf8String,
  MAX_DER_DEPTH,
  readBitString,
  readBoolean,
  readInteger,
  readNull,
  readOctetString,
  readOid,
  readSequence,
  readString,
  readTime,
} from './asn1.js';
import { CertificateError, PkiError } from './errors.js';
import { isPkiError, openssl } from './support.test.js';

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const derInvalid = isPkiError(CertificateError, 'DER_INVALID');

describe('DER reader', () => {
  it('decodes nested elements with their offsets and content', () => {
    const node = decodeDer(hex('30 06 02 01 05 04 01 ff'));
    assert.equal(node.tagClass, 'universal');
    assert.equal(node.constructed, true);
    assert.equal(node.tagNumber, 16);
    assert.equal(node.children.length, 2);
    assert.equal(readInteger(node.children[0], 'n'), 5n);
    assert.deepEqual(readOctetString(node.children[1], 'o'), hex('ff'));
  });

  it('reads long-form lengths and high tag numbers', () => {
    const content = new Uint8Array(300).fill(7);
    const node = decodeDer(derOctetString(content));
    assert.equal(node.content.length, 300);
    const high = decodeDer(hex('9f 21 01 00'));
    assert.equal(high.tagClass, 'context');
    assert.equal(high.tagNumber, 33);
  });

  const rejects: Array<[string, string]> = [
    ['', 'empty input'],
    ['30', 'missing length'],
    ['30 80 00 00', 'indefinite length'],
    ['04 81 05 0102030405', 'long form for a short length'],
    ['04 82 00 80' + '00'.repeat(128), 'leading zero length octet'],
    ['04 85 0000000001 00', 'five length octets'],
    ['04 05 0102', 'content shorter than the length'],
    ['05 00 00', 'trailing byte'],
    ['1f 05 00', 'high tag form for a low tag number'],
    ['1f 80 21 00', 'high tag with a leading 0x80'],
    ['30 03 02 01', 'child running past its parent'],
  ];
  for (const [input, why] of rejects) {
    it(`rejects ${why}`, () => {
      assert.throws(() => decodeDer(hex(input)), derInvalid);
    });
  }

  it(`rejects nesting deeper than ${MAX_DER_DEPTH} levels and accepts exactly that depth`, () => {
    let ok: Uint8Array = derNull();
    for (let i = 0; i < MAX_DER_DEPTH; i++) ok = derSequence(ok);
    assert.doesNotThrow(() => decodeDer(ok));
    assert.throws(() => decodeDer(derSequence(ok)), derInvalid);
  });

  it('decodes concatenated elements', () => {
    const two = decodeDerElements(Uint8Array.from([...derNull(), ...derInteger(1)]));
    assert.equal(two.length, 2);
    assert.deepEqual(decodeDerElements(new Uint8Array(0)), []);
  });

  it('reads integers and rejects non-minimal ones', () => {
    for (const [h, v] of [['020100', 0n], ['02017f', 127n], ['02020080', 128n], ['0201ff', -1n], ['020180', -128n], ['0202ff7f', -129n]] as const) {
      assert.equal(readInteger(decodeDer(hex(h)), 'n'), v, h);
    }
    for (const h of ['0200', '0202007f', '0202ff80']) assert.throws(() => readInteger(decodeDer(hex(h)), 'n'), derInvalid, h);
  });

  it('reads DER booleans only', () => {
    assert.equal(readBoolean(decodeDer(hex('0101ff')), 'b'), true);
    assert.equal(readBoolean(decodeDer(hex('010100')), 'b'), false);
    assert.throws(() => readBoolean(decodeDer(hex('010101')), 'b'), derInvalid);
    assert.throws(() => readBoolean(decodeDer(hex('0102ffff')), 'b'), derInvalid);
  });

  it('checks NULL, bit string padding and the constructed bit of strings', () => {
    assert.doesNotThrow(() => readNull(decodeDer(hex('0500')), 'n'));
    assert.throws(() => readNull(decodeDer(hex('050100')), 'n'), derInvalid);
    assert.deepEqual(readBitString(decodeDer(hex('030206c0')), 'b'), { bytes: hex('c0'), unusedBits: 6 });
    assert.throws(() => readBitString(decodeDer(hex('030206c1')), 'b'), derInvalid, 'non-zero padding bits');
    assert.throws(() => readBitString(decodeDer(hex('030108')), 'b'), derInvalid, 'unused bits > 7');
    assert.throws(() => readBitString(decodeDer(hex('030101')), 'b'), derInvalid, 'unused bits without content');
    assert.throws(() => readOctetString(decodeDer(hex('2403040100')), 'o'), derInvalid, 'constructed OCTET STRING');
    assert.throws(() => readSequence(decodeDer(hex('1000')), 's'), derInvalid, 'primitive SEQUENCE');
  });

  it('reads object identifiers and rejects non-minimal subidentifiers', () => {
    assert.equal(readOid(decodeDer(hex('06092a864886f70d01010b')), 'o'), '1.2.840.113549.1.1.11');
    assert.equal(readOid(decodeDer(hex('0603551d13')), 'o'), '2.5.29.19');
    assert.throws(() => readOid(decodeDer(hex('0600')), 'o'), derInvalid);
    assert.throws(() => readOid(decodeDer(hex('0603558001')), 'o'), derInvalid);
    assert.throws(() => readOid(decodeDer(hex('060255 86'.replace(' ', ''))), 'o'), derInvalid, 'truncated');
  });

  it('reads strings as Go does', () => {
    assert.equal(readString(decodeDer(derUtf8String('Zoë')), 's'), 'Zoë');
    assert.equal(readString(decodeDer(hex('1303612a26')), 's'), 'a*&', 'Go accepts * and & in PrintableString');
    assert.throws(() => readString(decodeDer(hex('130140')), 's'), derInvalid, '@ is not printable');
    assert.equal(readString(decodeDer(hex('1603614062')), 's'), 'a@b');
    assert.throws(() => readString(decodeDer(hex('1601e9')), 's'), derInvalid);
    assert.equal(readString(decodeDer(hex('1401e9')), 's'), 'é', 'T61String as Latin-1');
    assert.equal(readString(decodeDer(hex('1e0600e900620000')), 's'), 'éb', 'BMPString, terminator stripped');
    assert.throws(() => readString(decodeDer(hex('1e02d800')), 's'), derInvalid, 'surrogate in BMPString');
    assert.equal(readString(decodeDer(hex('12033120 32'.replace(' ', ''))), 's'), '1 2');
    assert.throws(() => readString(decodeDer(hex('0c02c328')), 's'), derInvalid, 'invalid UTF-8');
    assert.throws(() => readString(decodeDer(hex('1a0161')), 's'), derInvalid, 'VisibleString is unsupported, as in Go');
  });

  const times: Array<[string, string | undefined]> = [
    ['250115120000Z', '2025-01-15T12:00:00.000Z'],
    ['500101000000Z', '1950-01-01T00:00:00.000Z'],
    ['491231235959Z', '2049-12-31T23:59:59.000Z'],
    ['2501151200Z', '2025-01-15T12:00:00.000Z'],
    ['250115120000+0130', '2025-01-15T10:30:00.000Z'],
    ['250115120000+0000', undefined],
    ['250230120000Z', undefined],
    ['250115250000Z', undefined],
    ['250115120060Z', undefined],
    ['240229000000Z', '2024-02-29T00:00:00.000Z'],
    ['230229000000Z', undefined],
    ['250115120000', undefined],
  ];
  for (const [text, expected] of times) {
    it(`${expected === undefined ? 'rejects' : 'reads'} UTCTime ${text}`, () => {
      const node = decodeDer(Uint8Array.from([0x17, text.length, ...Buffer.from(text)]));
      if (expected === undefined) assert.throws(() => readTime(node, 't'), derInvalid);
      else assert.equal(readTime(node, 't').toISOString(), expected);
    });
  }

  const generalized: Array<[string, string | undefined]> = [
    ['21221219024339Z', '2122-12-19T02:43:39.000Z'],
    ['20250115120000.5Z', '2025-01-15T12:00:00.500Z'],
    ['20250115120000.50Z', undefined],
    ['20250115120000.Z', undefined],
    ['20250115120000', undefined],
    ['00010101000000Z', '0001-01-01T00:00:00.000Z'],
  ];
  for (const [text, expected] of generalized) {
    it(`${expected === undefined ? 'rejects' : 'reads'} GeneralizedTime ${text}`, () => {
      const node = decodeDer(Uint8Array.from([0x18, text.length, ...Buffer.from(text)]));
      if (expected === undefined) assert.throws(() => readTime(node, 't'), derInvalid);
      else assert.equal(readTime(node, 't').toISOString(), expected);
    });
  }

  it('throws only CertificateError on random bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          const node = decodeDer(bytes);
          // Typed readers on whatever decoded must also fail cleanly.
          for (const read of [readInteger, readOid, readString, readTime, readBitString, readBoolean]) {
            try {
              read(node, 'x');
            } catch (e) {
              if (!(e instanceof CertificateError)) throw e;
            }
          }
        } catch (e) {
          if (!(e instanceof PkiError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('DER writer', () => {
  it('writes integers minimally and round-trips them (fast-check)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 200n), max: 1n << 200n }), (v) => {
        assert.equal(readInteger(decodeDer(derInteger(v)), 'n'), v);
      }),
    );
    assert.equal(toHex(derInteger(0)), '020100');
    assert.equal(toHex(derInteger(128)), '02020080');
    assert.equal(toHex(derInteger(-129n)), '0202ff7f');
  });

  it('round-trips object identifiers (fast-check)', () => {
    const arc = fc.bigInt({ min: 0n, max: 1n << 70n });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(arc, { maxLength: 8 }), (a, b, rest) => {
        const oid = [a, b, ...rest].join('.');
        assert.equal(readOid(decodeDer(derOid(oid)), 'o'), oid);
      }),
    );
    assert.equal(toHex(derOid('1.2.840.113549.1.1.11')), '06092a864886f70d01010b');
    assert.throws(() => derOid('1.40'), derInvalid);
    assert.throws(() => derOid('3.1'), derInvalid);
    assert.throws(() => derOid('1.02'), derInvalid);
  });

  it('sorts SET OF members by encoding (X.690 §11.6)', () => {
    assert.equal(toHex(derSet(derInteger(2), derInteger(1))), '3106020101020102');
  });

  it('writes times by RFC 5280 §4.1.2.5 and round-trips them', () => {
    const d = new Date('2049-12-31T23:59:59.999Z');
    assert.equal(Buffer.from(derTime(d)).toString('latin1').slice(2), '491231235959Z');
    const later = new Date('2050-01-01T00:00:00Z');
    assert.equal(Buffer.from(derTime(later)).toString('latin1').slice(2), '20500101000000Z');
    assert.throws(() => derUtcTime(later), derInvalid);
    fc.assert(
      fc.property(fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (date) => {
        const whole = new Date(Math.floor(date.getTime() / 1000) * 1000);
        assert.equal(readTime(decodeDer(derTime(date)), 't').getTime(), whole.getTime());
        assert.equal(readTime(decodeDer(derGeneralizedTime(date)), 't').getTime(), whole.getTime());
      }),
    );
  });

  it('writes what openssl asn1parse reads', () => {
    const der = derSequence(
      derBoolean(true),
      derNull(),
      derPrintableString('US'),
      derUtf8String('Zoë'),
      derBitString(Uint8Array.of(0x80), 7),
      derExplicit(0, derInteger(2)),
      derImplicit(1, Uint8Array.of(1, 2)),
      derOid('2.5.4.3'),
    );
    const out = openssl(['asn1parse', '-inform', 'DER'], der);
    for (const word of ['BOOLEAN', 'NULL', 'PRINTABLESTRING   :US', 'UTF8STRING', 'BIT STRING', 'cont [ 0 ]', 'cont [ 1 ]', 'commonName']) {
      assert.ok(out.includes(word), `${word} in\n${out}`);
    }
    assert.throws(() => derPrintableString('a@b'), derInvalid);
  });
});
