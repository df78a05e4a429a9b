import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { matchesAnyWildcard, wildcardMatch } from './wildcard.js';

describe('wildcardMatch follows Kyverno ext/wildcard', () => {
  const cases: [pattern: string, text: string, matched: boolean][] = [
    ['', '', true],
    ['', 'ghcr.io/app', false],
    ['*', '', true],
    ['*', 'docker.io/nginx:latest', true],
    ['ghcr.io/*', 'ghcr.io/org/team/app:v1', true],
    ['ghcr.io/*', 'ghcr.io/', true],
    ['ghcr.io/*', 'ghcr.io', false],
    ['ghcr.io/org/*', 'ghcr.io/other/app:v1', false],
    ['*/org/*', 'ghcr.io/org/app:v1', true],
    ['ghcr.io/org/app:*', 'ghcr.io/org/app:v1', true],
    ['ghcr.io/org/app:*', 'ghcr.io/org/app@sha256:abcd', false],
    ['docker.io/nginx:latest', 'docker.io/nginx:latest', true],
    ['docker.io/nginx:latest', 'docker.io/nginx:latest2', false],
    ['docker.io/nginx:latest', 'docker.io/nginx:lates', false],
    // '.' is literal, unlike go-wildcard v2.
    ['ghcr.io/*', 'ghcrXio/app', false],
    // '?' is exactly one character, '/' included, and never zero characters.
    ['app:v?', 'app:v1', true],
    ['app:v?', 'app:v', false],
    ['app:v?', 'app:v12', false],
    ['a?c', 'a/c', true],
    ['my-?-x', 'my--x', false],
    ['??', 'ab', true],
    ['??', 'a', false],
    ['a*?', 'a', false],
    ['a*?', 'ab', true],
    ['a*?b', 'ab', false],
    ['a*?b', 'axb', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['a*b*b', 'abb', true],
    ['a*a', 'a', false],
    ['*a*a*', 'aa', true],
    ['*a*a*', 'a', false],
    ['**', '', true],
    ['x**y', 'xy', true],
    ['x**y', 'x-y', true],
    // one character per code point, outside the BMP too
    ['?', '😀', true],
    ['??', '😀', false],
  ];
  for (const [pattern, text, matched] of cases) {
    it(`${JSON.stringify(pattern)} ${matched ? 'matches' : 'does not match'} ${JSON.stringify(text)}`, () => {
      assert.equal(wildcardMatch(pattern, text), matched);
    });
  }

  it('matchesAnyWildcard is true when any pattern matches', () => {
    assert.equal(matchesAnyWildcard(['ghcr.io/*', 'docker.io/*'], 'docker.io/nginx:latest'), true);
    assert.equal(matchesAnyWildcard(['ghcr.io/*'], 'docker.io/nginx:latest'), false);
    assert.equal(matchesAnyWildcard([], 'docker.io/nginx:latest'), false);
  });
});

describe('wildcardMatch stays fast on pathological input', () => {
  const timed = (pattern: string, text: string): { matched: boolean; ms: number } => {
    const start = performance.now();
    const matched = wildcardMatch(pattern, text);
    return { matched, ms: performance.now() - start };
  };

  it('handles many stars against a long run that almost matches', () => {
    const { matched, ms } = timed(`${'*a'.repeat(50)}*b`, 'a'.repeat(20_000));
    assert.equal(matched, false);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('handles the classic regex blowup shape (a*)^n against a^n', () => {
    const { matched, ms } = timed(`${'a*'.repeat(200)}b`, 'a'.repeat(5_000));
    assert.equal(matched, false);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('handles long ? runs and long literals', () => {
    assert.equal(wildcardMatch('?'.repeat(10_000), 'x'.repeat(10_000)), true);
    assert.equal(wildcardMatch(`*${'?'.repeat(500)}*z`, 'y'.repeat(20_000)), false);
  });
});

describe('wildcardMatch agrees with a regular-expression model on small inputs', () => {
  const toRegExp = (pattern: string): RegExp =>
    new RegExp(
      `^${Array.from(pattern)
        .map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[\\^$.|+()[\]{}*?/-]/g, '\\$&')))
        .join('')}$`,
      'u',
    );
  it('gives the same answer for patterns and texts over a tiny alphabet', () => {
    // An astral character too: literal patterns are matched over UTF-16 units, `?` over code points.
    const alphabet = fc.constantFrom('a', 'b', '/', '.', '*', '?', '\u{1F600}');
    const textAlphabet = fc.constantFrom('a', 'b', '/', '.', '\u{1F600}');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 8 }), fc.array(textAlphabet, { maxLength: 10 }), (p, t) => {
        const pattern = p.join('');
        const text = t.join('');
        assert.equal(wildcardMatch(pattern, text), toRegExp(pattern).test(text), `${pattern} vs ${text}`);
      }),
      { numRuns: 3000 },
    );
  });
});
