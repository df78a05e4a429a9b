import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReferenceSyntaxError } from './errors.js';
import {
  formatReference,
  isLoopbackRegistry,
  isTag,
  parseDockerReference,
  parseLayoutReference,
  parseReference,
  referenceForTarget,
  withDefaultTag,
  type LayoutReference,
  type Reference,
} from './reference.js';

const SHA256 = `sha256:${'0123456789abcdef'.repeat(4)}`;
const SHA512 = `sha512:${'fedcba9876543210'.repeat(8)}`;

function isReferenceInvalid(e: unknown): boolean {
  return e instanceof ReferenceSyntaxError && e.code === 'REFERENCE_INVALID';
}

describe('parseReference accepts the distribution/reference grammar', () => {
  const valid: Array<[string, Reference]> = [
    ['ghcr.io/acme/app:v1', { registry: 'ghcr.io', repository: 'acme/app', tag: 'v1' }],
    ['docker.io/library/alpine:3.19', { registry: 'docker.io', repository: 'library/alpine', tag: '3.19' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/app', { registry: 'localhost:5000', repository: 'app' }],
    ['LOCALHOST:5000/app', { registry: 'LOCALHOST:5000', repository: 'app' }],
    ['Registry.Example.COM/app', { registry: 'Registry.Example.COM', repository: 'app' }],
    ['127.0.0.1:5000/a/b', { registry: '127.0.0.1:5000', repository: 'a/b' }],
    ['10.1.2.3/a', { registry: '10.1.2.3', repository: 'a' }],
    ['192.168.0.10:443/team/app:1.0', { registry: '192.168.0.10:443', repository: 'team/app', tag: '1.0' }],
    ['[::1]/a', { registry: '[::1]', repository: 'a' }],
    ['[::1]:5000/a', { registry: '[::1]:5000', repository: 'a' }],
    ['[2001:db8::1]:443/team/app:1.0', { registry: '[2001:db8::1]:443', repository: 'team/app', tag: '1.0' }],
    ['[fe80::1ff:fe23:4567:890a]/x', { registry: '[fe80::1ff:fe23:4567:890a]', repository: 'x' }],
    ['[2001:DB8:0:0:0:0:0:1]:5000/x', { registry: '[2001:DB8:0:0:0:0:0:1]:5000', repository: 'x' }],
    ['my-registry.local:8080/x', { registry: 'my-registry.local:8080', repository: 'x' }],
    ['xn--bcher-kva.example/app', { registry: 'xn--bcher-kva.example', repository: 'app' }],
    ['a.b/c', { registry: 'a.b', repository: 'c' }],
    ['reg:1/c', { registry: 'reg:1', repository: 'c' }],
    ['reg:65535/c', { registry: 'reg:65535', repository: 'c' }],
    ['registry.example.com/a/b/c/d/e/f/g', { registry: 'registry.example.com', repository: 'a/b/c/d/e/f/g' }],
    ['example.com/0/1', { registry: 'example.com', repository: '0/1' }],
    ['example.com/a.b', { registry: 'example.com', repository: 'a.b' }],
    ['example.com/a_b', { registry: 'example.com', repository: 'a_b' }],
    ['example.com/a__b', { registry: 'example.com', repository: 'a__b' }],
    ['example.com/a-b', { registry: 'example.com', repository: 'a-b' }],
    ['example.com/a---b', { registry: 'example.com', repository: 'a---b' }],
    ['example.com/a.b_c__d-e---f/g0.h1', { registry: 'example.com', repository: 'a.b_c__d-e---f/g0.h1' }],
    ['example.com/app:_', { registry: 'example.com', repository: 'app', tag: '_' }],
    ['example.com/app:V1.2.3-rc.1_build', { registry: 'example.com', repository: 'app', tag: 'V1.2.3-rc.1_build' }],
    [`example.com/app:${'T'.repeat(128)}`, { registry: 'example.com', repository: 'app', tag: 'T'.repeat(128) }],
    [`ghcr.io/acme/app@${SHA256}`, { registry: 'ghcr.io', repository: 'acme/app', digest: SHA256 }],
    [`ghcr.io/acme/app@${SHA512}`, { registry: 'ghcr.io', repository: 'acme/app', digest: SHA512 }],
    [`ghcr.io/acme/app:v1@${SHA256}`, { registry: 'ghcr.io', repository: 'acme/app', tag: 'v1', digest: SHA256 }],
    [`[::1]:5000/a/b:t@${SHA512}`, { registry: '[::1]:5000', repository: 'a/b', tag: 't', digest: SHA512 }],
    // 255 characters in all: "r.io" + "/" + 250.
    [`r.io/${'a'.repeat(250)}`, { registry: 'r.io', repository: 'a'.repeat(250) }],
  ];
  for (const [input, expected] of valid) {
    it(`parses ${input.length > 80 ? `${input.slice(0, 77)}...` : input}`, () => {
      const ref = parseReference(input);
      assert.deepEqual(ref, expected);
      assert.equal(formatReference(ref), input);
      assert.ok(Object.isFrozen(ref));
    });
  }
});

describe('parseReference rejects what the grammar does not allow', () => {
  const invalid: Array<[string, string]> = [
    ['', 'empty'],
    [' ', 'a space'],
    [' ghcr.io/a', 'leading whitespace'],
    ['ghcr.io/a ', 'trailing whitespace'],
    ['ghcr.io/a b', 'inner whitespace'],
    ['ghcr.io/a\n', 'a trailing newline'],
    ['ghcr.io/a\t:1', 'a tab'],
    ['ghcr.io/a\u0000', 'a NUL'],
    ['ghcr.io/a\u007f', 'a DEL'],
    ['ghcr.io/a\u00e9', 'non-ASCII letters'],
    ['ghcr.io/a\u00a0', 'a non-breaking space'],
    ['ghcr.io/app:v1\u200b', 'a zero-width space in the tag'],
    ['alpine', 'no registry'],
    ['alpine:3', 'no registry, with tag'],
    [`alpine@${SHA256}`, 'no registry, with digest'],
    ['user/app', 'a Docker Hub path without registry'],
    ['0123456789abcdef'.repeat(4), 'a bare image ID'],
    ['Foo/bar', 'upper case without registry'],
    ['ghcr.io/Foo', 'upper case in the repository'],
    ['ghcr.io/foo/Bar:1', 'upper case in a later component'],
    ['ghcr.io', 'a registry only'],
    ['localhost:5000', 'a registry with port only'],
    ['[::1]:5000', 'an IPv6 registry only'],
    ['ghcr.io/', "a trailing '/'"],
    ['/ghcr.io/a', "a leading '/'"],
    ['ghcr.io//a', "a '//' after the registry"],
    ['ghcr.io/a//b', "a '//' in the path"],
    ['ghcr.io/a/', "a '/' at the end of the path"],
    ['ghcr.io/a/:v1', "a '/' before the tag"],
    ['https://ghcr.io/a', 'a URL'],
    ['ghcr.io/../a', "a '..' component"],
    ['ghcr.io/a/..', "a trailing '..'"],
    ['ghcr.io/a/../b', "a '..' in the middle"],
    ['ghcr.io/./a', "a '.' component"],
    ['ghcr.io/a:', "a trailing ':'"],
    ['ghcr.io/a@', "a trailing '@'"],
    [`ghcr.io/a:@${SHA256}`, "an empty tag before '@'"],
    ['ghcr.io/a:v1@', "a tag and a trailing '@'"],
    [':v1', 'only a tag'],
    [`@${SHA256}`, 'only a digest'],
    [`ghcr.io/a:${'t'.repeat(129)}`, 'a 129-character tag'],
    ['ghcr.io/a:.v1', "a tag starting with '.'"],
    ['ghcr.io/a:-v1', "a tag starting with '-'"],
    ['ghcr.io/a:v+1', "a '+' in the tag"],
    ['ghcr.io/a:v1:v2', "a ':' in the tag"],
    ['ghcr.io/a:b/c', "a ':' in a path component"],
    ['ghcr.io/a@sha256:abc', 'a short digest'],
    [`ghcr.io/a@sha256:${'A'.repeat(64)}`, 'an upper-case digest'],
    [`ghcr.io/a@SHA256:${'a'.repeat(64)}`, 'an upper-case algorithm'],
    [`ghcr.io/a@md5:${'a'.repeat(32)}`, 'an unsupported algorithm'],
    [`ghcr.io/a@sha512:${'a'.repeat(64)}`, 'a sha512 digest of sha256 length'],
    [`ghcr.io/a@${SHA256}@${SHA256}`, "two '@'"],
    [`ghcr.io/a@${SHA256}:v1`, 'a tag after the digest'],
    ['ghcr.io/_a', "a component starting with '_'"],
    ['ghcr.io/a_', "a component ending with '_'"],
    ['ghcr.io/-a', "a component starting with '-'"],
    ['ghcr.io/a-', "a component ending with '-'"],
    ['ghcr.io/.a', "a component starting with '.'"],
    ['ghcr.io/a.', "a component ending with '.'"],
    ['ghcr.io/a___b', 'three underscores'],
    ['ghcr.io/a..b', 'two dots'],
    ['ghcr.io/a._b', 'mixed separators'],
    ['ghcr.io/a#b', "a '#'"],
    ['ghcr.io/a?b', "a '?'"],
    ['ghcr.io/a\\b', 'a backslash'],
    ['-ghcr.io/a', "a host label starting with '-'"],
    ['ghcr-.io/a', "a host label ending with '-'"],
    ['ghcr..io/a', 'an empty host label'],
    ['ghcr.io./a', "a host ending with '.'"],
    ['ghcr_io.x/a', "a '_' in the host"],
    ['ghcr.io:/a', 'an empty port'],
    ['ghcr.io:abc/a', 'a non-numeric port'],
    ['ghcr.io:65536/a', 'a port above 65535'],
    ['ghcr.io:5000:6000/a', 'two ports'],
    [':5000/a', 'a port without host'],
    ['::1/a', 'an IPv6 host without brackets'],
    ['[::1/a', "an IPv6 host without ']'"],
    ['[::1]x/a', "text after ']'"],
    ['[::g]/a', 'a non-hex IPv6 host'],
    ['[]/a', 'empty brackets'],
    ['[1:2]/a', 'a truncated IPv6 address'],
    ['[1.2.3.4]/a', 'an IPv4 address in brackets'],
    ['[::ffff:127.0.0.1]/a', 'an IPv4-mapped IPv6 address'],
    ['[fe80::1%eth0]/a', 'an IPv6 zone identifier'],
    [`r.io/${'a'.repeat(251)}`, 'a 256-character name'],
    [`r.io/${'a/'.repeat(126)}a`, 'a 257-character deep name'],
  ];
  for (const [input, why] of invalid) {
    it(`rejects ${why}`, () => {
      assert.throws(() => parseReference(input), isReferenceInvalid);
    });
  }

  it('names the input and the problem in a one-line message', () => {
    assert.throws(
      () => parseReference('Foo/bar'),
      (e: unknown) => isReferenceInvalid(e) && (e as Error).message === 'invalid reference "Foo/bar": repository name must be lower case',
    );
    assert.throws(
      () => parseReference('ghcr.io/a\nb'),
      (e: unknown) => isReferenceInvalid(e) && (e as Error).message.includes('"ghcr.io/a\\nb"') && !(e as Error).message.includes('\n'),
    );
  });

  it('keeps the digest error as the cause', () => {
    assert.throws(
      () => parseReference('ghcr.io/a@sha256:abc'),
      (e: unknown) => isReferenceInvalid(e) && (e as Error).cause instanceof Error && ((e as Error).cause as { code?: string }).code === 'DIGEST_INVALID',
    );
  });
});

describe('parseDockerReference normalises as docker pull does', () => {
  const table: Array<[string, Reference]> = [
    ['alpine', { registry: 'docker.io', repository: 'library/alpine' }],
    ['alpine:3.19', { registry: 'docker.io', repository: 'library/alpine', tag: '3.19' }],
    [`alpine@${SHA256}`, { registry: 'docker.io', repository: 'library/alpine', digest: SHA256 }],
    [`alpine:3@${SHA256}`, { registry: 'docker.io', repository: 'library/alpine', tag: '3', digest: SHA256 }],
    ['user/app:1', { registry: 'docker.io', repository: 'user/app', tag: '1' }],
    ['a/b/c', { registry: 'docker.io', repository: 'a/b/c' }],
    ['docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine' }],
    ['docker.io/user/app', { registry: 'docker.io', repository: 'user/app' }],
    ['index.docker.io/library/x', { registry: 'docker.io', repository: 'library/x' }],
    ['index.docker.io/x:1', { registry: 'docker.io', repository: 'library/x', tag: '1' }],
    ['index.docker.io/user/x', { registry: 'docker.io', repository: 'user/x' }],
    ['ghcr.io/acme/app:v1', { registry: 'ghcr.io', repository: 'acme/app', tag: 'v1' }],
    ['ghcr.io/app', { registry: 'ghcr.io', repository: 'app' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/app', { registry: 'localhost:5000', repository: 'app' }],
    ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app' }],
    ['127.0.0.1:5000/app', { registry: '127.0.0.1:5000', repository: 'app' }],
    // As in Docker: without a '/', "localhost:5000" is an image named localhost with tag 5000.
    ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000' }],
    [`${'0123456789abcdef'.repeat(4)}:v1`, { registry: 'docker.io', repository: `library/${'0123456789abcdef'.repeat(4)}`, tag: 'v1' }],
  ];
  for (const [input, expected] of table) {
    it(`normalises ${input.length > 60 ? `${input.slice(0, 57)}...` : input}`, () => {
      const ref = parseDockerReference(input);
      assert.deepEqual(ref, expected);
      assert.deepEqual(parseReference(formatReference(ref)), ref);
    });
  }

  const invalid: Array<[string, string]> = [
    ['', 'empty'],
    ['Foo/bar', 'upper case (not taken as a host, unlike distribution/reference)'],
    ['ALPINE', 'upper case'],
    ['0123456789abcdef'.repeat(4), 'a bare image ID'],
    ['alpine:', "a trailing ':'"],
    ['alpine@', "a trailing '@'"],
    ['alpine@sha256:abc', 'a bad digest'],
    ['/alpine', "a leading '/'"],
    ['user//app', "a '//'"],
    ['../alpine', "a '..' component"],
    ['a'.repeat(238), 'a name over 255 characters once docker.io/library/ is added'],
  ];
  for (const [input, why] of invalid) {
    it(`rejects ${why}`, () => {
      assert.throws(() => parseDockerReference(input), isReferenceInvalid);
    });
  }

  it('accepts a name of exactly 255 characters after normalisation', () => {
    const ref = parseDockerReference('a'.repeat(237));
    assert.equal(`${ref.registry}/${ref.repository}`.length, 255);
  });

  it('suggests the normalised name when parseReference lacks a registry', () => {
    assert.throws(() => parseReference('alpine:3'), (e: unknown) => isReferenceInvalid(e) && (e as Error).message.includes('"docker.io/library/alpine:3"'));
  });
});

describe('withDefaultTag, formatReference and referenceForTarget', () => {
  it('adds latest only when there is neither tag nor digest', () => {
    assert.deepEqual(withDefaultTag({ registry: 'docker.io', repository: 'library/alpine' }), { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' });
    assert.deepEqual(withDefaultTag({ registry: 'r.io', repository: 'a', tag: 'v1' }), { registry: 'r.io', repository: 'a', tag: 'v1' });
    assert.deepEqual(withDefaultTag({ registry: 'r.io', repository: 'a', digest: SHA256 }), { registry: 'r.io', repository: 'a', digest: SHA256 });
  });

  it('does not add a tag when normalising Docker references', () => {
    assert.equal(parseDockerReference('alpine').tag, undefined);
    assert.equal(withDefaultTag(parseDockerReference('alpine')).tag, 'latest');
  });

  const formats: Array<[Reference, string]> = [
    [{ registry: 'r.io', repository: 'a/b' }, 'r.io/a/b'],
    [{ registry: 'r.io', repository: 'a', tag: 'v1' }, 'r.io/a:v1'],
    [{ registry: 'r.io', repository: 'a', digest: SHA256 }, `r.io/a@${SHA256}`],
    [{ registry: '[::1]:5000', repository: 'a', tag: 'v1', digest: SHA512 }, `[::1]:5000/a:v1@${SHA512}`],
  ];
  for (const [ref, text] of formats) {
    it(`formats ${text.slice(0, 40)}`, () => assert.equal(formatReference(ref), text));
  }

  it('resolves the digest in preference to the tag', () => {
    assert.equal(referenceForTarget({ registry: 'r.io', repository: 'a', tag: 'v1', digest: SHA256 }), SHA256);
    assert.equal(referenceForTarget({ registry: 'r.io', repository: 'a', digest: SHA512 }), SHA512);
    assert.equal(referenceForTarget({ registry: 'r.io', repository: 'a', tag: 'v1' }), 'v1');
  });

  it('refuses a reference with neither tag nor digest', () => {
    assert.throws(() => referenceForTarget({ registry: 'r.io', repository: 'a' }), isReferenceInvalid);
  });
});

describe('isLoopbackRegistry', () => {
  const table: Array<[string, boolean]> = [
    ['localhost', true],
    ['localhost:5000', true],
    ['LocalHost:5000', true],
    ['127.0.0.1', true],
    ['127.0.0.1:5000', true],
    ['127.1.2.3:80', true],
    ['127.255.255.254', true],
    ['[::1]', true],
    ['[::1]:5000', true],
    ['[0:0:0:0:0:0:0:1]:5000', true],
    ['[::0001]', true],
    ['', false],
    ['localhost:', false],
    ['localhost:abc', false],
    ['localhost.example.com', false],
    ['localhost.', false],
    ['mylocalhost', false],
    ['example.com', false],
    ['ghcr.io:443', false],
    ['10.0.0.1', false],
    ['0.0.0.0', false],
    ['128.0.0.1', false],
    ['126.0.0.1', false],
    ['127.0.0', false],
    ['127.1', false],
    ['127.0.0.256', false],
    ['127.00.0.1', false],
    ['0x7f.0.0.1', false],
    ['127.0.0.1.nip.io', false],
    ['127.0.0.1.nip.io:5000', false],
    ['::1', false],
    ['[::1', false],
    ['[::1]x', false],
    ['[::1]:x', false],
    ['[::2]', false],
    ['[::]', false],
    ['[1::1]', false],
    ['[::ffff:127.0.0.1]', false],
  ];
  for (const [registry, expected] of table) {
    it(`${expected ? 'treats' : 'does not treat'} "${registry}" as loopback`, () => {
      assert.equal(isLoopbackRegistry(registry), expected);
    });
  }

  it('agrees with the registry of a parsed loopback reference', () => {
    assert.equal(isLoopbackRegistry(parseReference('[::1]:5000/a').registry), true);
    assert.equal(isLoopbackRegistry(parseReference('127.0.0.1:5000/a').registry), true);
    assert.equal(isLoopbackRegistry(parseReference('ghcr.io/a').registry), false);
  });
});

describe('parseLayoutReference', () => {
  const table: Array<[string, LayoutReference]> = [
    ['out', { path: 'out' }],
    ['out:v1', { path: 'out', reference: 'v1' }],
    [`out@${SHA256}`, { path: 'out', reference: SHA256 }],
    [`out@${SHA512}`, { path: 'out', reference: SHA512 }],
    ['./a/b:v1', { path: './a/b', reference: 'v1' }],
    ['/tmp/layout:V_1.0-rc', { path: '/tmp/layout', reference: 'V_1.0-rc' }],
    ['/tmp/a:b/c', { path: '/tmp/a:b/c' }],
    ['/tmp/a:b/c:d', { path: '/tmp/a:b/c', reference: 'd' }],
    ['dir:a:b', { path: 'dir:a', reference: 'b' }],
    ['x@y/z', { path: 'x@y/z' }],
    [`x@y/z@${SHA256}`, { path: 'x@y/z', reference: SHA256 }],
    [`dir:v1@${SHA256}`, { path: 'dir:v1', reference: SHA256 }],
    ['dir:bad tag', { path: 'dir:bad tag' }],
    ['dir:.hidden', { path: 'dir:.hidden' }],
    [`dir:${'t'.repeat(129)}`, { path: `dir:${'t'.repeat(129)}` }],
    ['/', { path: '/' }],
  ];
  for (const [input, expected] of table) {
    it(`splits ${input.slice(0, 60)}`, () => assert.deepEqual(parseLayoutReference(input), expected));
  }

  const invalid: Array<[string, string]> = [
    ['', 'empty'],
    ['dir:', "a trailing ':'"],
    ['dir@', "a trailing '@'"],
    ['dir@bad', 'an invalid digest'],
    ['dir@sha256:abc', 'a short digest'],
    [':v1', 'no path before the tag'],
    [`@${SHA256}`, 'no path before the digest'],
    ['dir\u0000x:v1', 'a NUL'],
  ];
  for (const [input, why] of invalid) {
    it(`rejects ${why}`, () => assert.throws(() => parseLayoutReference(input), isReferenceInvalid));
  }
});

// Generators for the properties: every part of the grammar, including its edge separators.
const lowerAlnum = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 6 });
const separator = fc.constantFrom('.', '_', '__', '-', '--', '---');
const pathComponent = fc
  .tuple(lowerAlnum, fc.array(fc.tuple(separator, lowerAlnum), { maxLength: 3 }))
  .map(([head, rest]) => head + rest.map(([s, a]) => s + a).join(''));
const path = fc.array(pathComponent, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/'));
const mixedAlnum = fc.string({ unit: fc.constantFrom(...'abcxyzABCXYZ0189'), minLength: 1, maxLength: 4 });
const domainComponent = fc
  .tuple(mixedAlnum, fc.option(fc.tuple(fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-'), maxLength: 4 }), mixedAlnum)))
  .map(([head, tail]) => (tail === null ? head : head + tail[0] + tail[1]));
const port = fc.integer({ min: 0, max: 65535 }).map(String);
const host = fc.oneof(
  fc.array(domainComponent, { minLength: 2, maxLength: 4 }).map((labels) => labels.join('.')),
  fc.tuple(domainComponent, port).map(([label, p]) => `${label}:${p}`),
  fc.constant('localhost'),
  fc.ipV4(),
  fc
    .ipV6()
    .filter((address) => !address.includes('.'))
    .map((address) => `[${address}]`),
);
const registry = fc.tuple(host, fc.option(port)).map(([h, p]) => (p === null || (/:\d+$/.test(h) && !h.startsWith('[')) ? h : `${h}:${p}`));
const tag = fc
  .tuple(fc.constantFrom(...'aZ09_'), fc.string({ unit: fc.constantFrom(...'aZ09_.-'), maxLength: 127 }))
  .map(([first, rest]) => first + rest);
const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const digest = fc.oneof(hex(64).map((h) => `sha256:${h}`), hex(128).map((h) => `sha512:${h}`));
const validReference = fc
  .record({ registry, repository: path, tag: fc.option(tag), digest: fc.option(digest) })
  .filter((r) => r.registry.length + 1 + r.repository.length <= 255)
  .map((r) => `${r.registry}/${r.repository}${r.tag === null ? '' : `:${r.tag}`}${r.digest === null ? '' : `@${r.digest}`}`);

/** Strings shaped like references: the grammar's alphabet plus characters it forbids. */
const referenceAlphabet = fc.string({ unit: fc.constantFrom(...'aZ09._-_/:@[]%# \n\u00e9'), maxLength: 40 });
/** A valid reference with one character inserted, removed or replaced. */
const mutatedReference = fc
  .tuple(validReference, fc.nat(), fc.string({ unit: 'binary-ascii', minLength: 0, maxLength: 1 }), fc.boolean())
  .map(([s, at, ch, replace]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + ch + s.slice(replace ? i + 1 : i);
  });
const anyString = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' }), fc.string({ unit: 'grapheme' }), referenceAlphabet, mutatedReference);

function onlySyntaxErrors(parse: (input: string) => unknown): (input: string) => void {
  return (input) => {
    try {
      parse(input);
    } catch (e) {
      if (!isReferenceInvalid(e)) throw e;
    }
  };
}

describe('reference properties', () => {
  it('formats every valid reference back to the same string', () => {
    fc.assert(
      fc.property(validReference, (input) => {
        assert.equal(formatReference(parseReference(input)), input);
      }),
      { numRuns: 1000 },
    );
  });

  it('parses a valid reference with a registry the same way in Docker mode, apart from Docker Hub', () => {
    fc.assert(
      fc.property(
        validReference.filter((s) => !/^(index\.)?docker\.io\//.test(s)),
        (input) => {
          assert.deepEqual(parseDockerReference(input), parseReference(input));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps the tag or digest a Resolver needs', () => {
    fc.assert(
      fc.property(validReference, (input) => {
        const ref = parseReference(input);
        if (ref.digest !== undefined) assert.equal(referenceForTarget(ref), ref.digest);
        else if (ref.tag !== undefined) assert.equal(referenceForTarget(ref), ref.tag);
        else assert.throws(() => referenceForTarget(ref), isReferenceInvalid);
      }),
      { numRuns: 300 },
    );
  });

  it('throws only ReferenceSyntaxError from parseReference', () => {
    fc.assert(fc.property(anyString, onlySyntaxErrors(parseReference)), { numRuns: 1000 });
  });

  it('throws only ReferenceSyntaxError from parseDockerReference', () => {
    fc.assert(fc.property(anyString, onlySyntaxErrors(parseDockerReference)), { numRuns: 1000 });
  });

  it('throws only ReferenceSyntaxError from parseLayoutReference', () => {
    fc.assert(fc.property(anyString, onlySyntaxErrors(parseLayoutReference)), { numRuns: 1000 });
  });

  it('answers isLoopbackRegistry for any string without throwing', () => {
    fc.assert(
      fc.property(anyString, (input) => {
        assert.equal(typeof isLoopbackRegistry(input), 'boolean');
      }),
      { numRuns: 500 },
    );
  });
});

describe('isTag', () => {
  for (const tag of ['v1', 'latest', '_x', '1.2.3-rc.1', 'A'.repeat(128)]) it(`accepts ${tag.slice(0, 20)}`, () => assert.equal(isTag(tag), true));
  for (const tag of ['', '-x', '.x', 'has space', 'a/b', 'sha256:abc', 'A'.repeat(129), 'é']) it(`refuses ${JSON.stringify(tag.slice(0, 20))}`, () => assert.equal(isTag(tag), false));
});
