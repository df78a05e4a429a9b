import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatDistinguishedName, isSubsetOf, parseDistinguishedName, validateTrustedIdentityName } from './dn.js';
import type { DistinguishedName } from './dn.js';
import { DistinguishedNameError } from './errors.js';
import { isPkiError } from './support.test.js';

const dnInvalid = isPkiError(DistinguishedNameError, 'DN_INVALID');
const attrs = (dn: DistinguishedName): string[][] => dn.map((a) => [a.type, a.value]);

describe('parseDistinguishedName', () => {
  // reference/notation.md §4.6 and notation-go trustpolicy_test.go cases.
  const accepted: Array<[string, string[][]]> = [
    ['C=US,ST=California,O=Notary Project', [['C', 'US'], ['ST', 'California'], ['O', 'Notary Project']]],
    ['C=US, ST=WA, L=Seattle, O=Notary, CN=e2e', [['C', 'US'], ['ST', 'WA'], ['L', 'Seattle'], ['O', 'Notary'], ['CN', 'e2e']]],
    [' CN=e2e , L = Seattle ,ST=WA,C=US ', [['CN', 'e2e'], ['L', 'Seattle'], ['ST', 'WA'], ['C', 'US']]],
    ['C=US,S=California,O=Notary Project', [['C', 'US'], ['ST', 'California'], ['O', 'Notary Project']]],
    ['C=US,ST=WA,O=  My.  Org', [['C', 'US'], ['ST', 'WA'], ['O', 'My.  Org']]],
    ['C=US,ST=WA,O=My "special" Org \\, \\; \\\\ others', [['C', 'US'], ['ST', 'WA'], ['O', 'My "special" Org , ; \\ others']]],
    ['O=\\ padded\\ ', [['O', ' padded ']]],
    ['CN=\\#hash,O=a\\+b\\<c\\>d\\=e', [['CN', '#hash'], ['O', 'a+b<c>d=e']]],
    ['CN=caf\\c3\\A9', [['CN', 'café']]],
    ['C=US;ST=WA;O=X', [['C', 'US'], ['ST', 'WA'], ['O', 'X']]],
    ['C=US,ST=WA,O=X,', [['C', 'US'], ['ST', 'WA'], ['O', 'X']]],
    ['C=US,ST=WA,O=MyOrg,CustomRDN=CustomValue', [['C', 'US'], ['ST', 'WA'], ['O', 'MyOrg'], ['CustomRDN', 'CustomValue']]],
    ['CN=a=b', [['CN', 'a=b']]],
    ['CN=,O=x', [['CN', ''], ['O', 'x']]],
    ['C=US,O=', [['C', 'US']]],
    ['c=us', [['c', 'us']]],
    ['', []],
    ['CN=Zoë 😀', [['CN', 'Zoë 😀']]],
  ];
  for (const [text, expected] of accepted) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.deepEqual(attrs(parseDistinguishedName(text)), expected);
    });
  }

  const rejected: Array<[string, string]> = [
    ['C=US,ST=WA,O=#0c0141', 'a hex (=#) value'],
    ['C=US,ST=WA,O=x\\=#y', '"=#" anywhere, as notation-go checks'],
    ['C=US+ST=WA,O=X', 'a multi-valued RDN'],
    ['C=US,C=IN,ST=WA,O=X', 'a duplicate attribute'],
    ['C=US,ST=WA,S=WA,O=X', 'ST twice through its S alias'],
    ['C=US,WA,O=X', 'an attribute without a type'],
    ['=US', 'an empty type'],
    ['C=US,ST', 'a trailing attribute without "="'],
    ['O=X\\', 'a dangling backslash'],
    ['O=\\zz', 'an escape that is neither special nor hex'],
    ['O=\\4', 'a one-digit hex escape'],
    ['O=\\ff', 'a hex escape that is not UTF-8'],
    ['C=US,O=X+', 'a trailing "+"'],
  ];
  for (const [text, why] of rejected) {
    it(`rejects ${why}: ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseDistinguishedName(text), dnInvalid);
    });
  }

  it('throws only DistinguishedNameError on any text (fast-check)', () => {
    const piece = fc.oneof(fc.constantFrom(...'=,+;\\# "<>'.split(''), 'C=', 'ST=', '\\2c', '\\c3'), fc.string({ unit: 'grapheme', maxLength: 3 }));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (parts) => {
        try {
          parseDistinguishedName(parts.join(''));
        } catch (e) {
          if (!(e instanceof DistinguishedNameError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        try {
          parseDistinguishedName(text);
        } catch (e) {
          if (!(e instanceof DistinguishedNameError)) throw e;
        }
      }),
    );
  });

  it('reads back what formatDistinguishedName writes (fast-check)', () => {
    const value = fc
      .array(fc.oneof(fc.constantFrom(...',+";<>\\ #='.split('')), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), { minLength: 1, maxLength: 12 })
      .map((p) => p.join(''))
      .filter((v) => !v.includes('=#'));
    const type = fc.stringMatching(/^[A-RT-Z][A-Za-z0-9]{0,5}$/);
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ type, value }), { selector: (a) => a.type, maxLength: 6 }), (dn) => {
        assert.deepEqual(attrs(parseDistinguishedName(formatDistinguishedName(dn))), attrs(dn));
      }),
    );
  });
});

describe('validateTrustedIdentityName', () => {
  it('accepts C, ST (or S) and O, with or without other attributes', () => {
    assert.equal(validateTrustedIdentityName('C=US, ST=WA, O=Notary').length, 3);
    assert.equal(validateTrustedIdentityName('C=US,S=California,O=Notary Project')[1]?.type, 'ST');
    assert.equal(validateTrustedIdentityName('CN=e2e,O=Notary,L=Seattle,ST=WA,C=US').length, 5);
  });

  const missing: Array<[string, string]> = [
    ['C=US,ST=WA', 'O'],
    [' CN=e2e,O=Notary,L=Seattle,C=US', 'ST'],
    ['ST=WA,O=Notary', 'C'],
    ['C=,ST=WA,O=Notary', 'C'],
    ['c=US,ST=WA,O=Notary', 'C'],
    ['CN=ratify.default', 'C'],
    ['', 'C'],
  ];
  for (const [text, field] of missing) {
    it(`rejects ${JSON.stringify(text)} for missing ${field}`, () => {
      assert.throws(() => validateTrustedIdentityName(text), dnInvalid);
    });
  }

  it("words the missing-attribute error as notation does (users grep for it)", () => {
    assert.throws(() => validateTrustedIdentityName('C=US,ST=WA'), {
      message: `distinguished name (DN) "C=US,ST=WA" has no mandatory RDN attribute for "O", it must contain 'C', 'ST', and 'O' RDN attributes at a minimum`,
    });
  });

  it('validates an already parsed DN', () => {
    const dn = parseDistinguishedName('C=US,O=X');
    assert.throws(() => validateTrustedIdentityName(dn), dnInvalid);
    assert.equal(validateTrustedIdentityName(parseDistinguishedName('C=US,ST=WA,O=X')).length, 3);
  });

  it('passes on syntax errors from parsing', () => {
    assert.throws(() => validateTrustedIdentityName('C=US+ST=WA,O=X'), dnInvalid);
  });
});

describe('isSubsetOf', () => {
  const cert = parseDistinguishedName('CN=e2e,O=Notary,L=Seattle,ST=WA,C=US');
  const cases: Array<[string, boolean]> = [
    ['C=US,ST=WA,O=Notary', true],
    ['C=US, ST=WA, L=Seattle, O=Notary, CN=e2e', true],
    ['O=Notary,C=US,S=WA', true],
    ['C=US,ST=WA,O=notary', false],
    ['C=US,ST=WA,O=Notary,OU=Eng', false],
    ['C=US,ST=OR,O=Notary', false],
    ['C=US,ST=WA,O=Notary ,CN=e2e\\ ', false],
    ['', true],
  ];
  for (const [required, expected] of cases) {
    it(`${expected ? 'matches' : 'does not match'} ${JSON.stringify(required)}`, () => {
      assert.equal(isSubsetOf(parseDistinguishedName(required), cert), expected);
    });
  }

  it('treats a missing attribute as the empty value, as notation-go IsSubsetDN does', () => {
    assert.equal(isSubsetOf(parseDistinguishedName('CN=,O=Notary'), parseDistinguishedName('O=Notary')), true);
  });
});

describe('formatDistinguishedName', () => {
  it("escapes values as Go's RDNSequence.String does", () => {
    assert.equal(
      formatDistinguishedName([
        { type: 'CN', value: ' #lead, "q" +<x>; \\ ' },
        { type: 'O', value: 'a#b' },
      ]),
      'CN=\\ #lead\\, \\"q\\" \\+\\<x\\>\\; \\\\\\ ,O=a#b',
    );
  });
});
