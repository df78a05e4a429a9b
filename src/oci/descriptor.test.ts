import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contentKey, decodeAnnotations, decodeDescriptor, isMediaType, isSameContent, type Descriptor } from './descriptor.js';
import { ManifestError } from './errors.js';

const SHA256 = `sha256:${'0123456789abcdef'.repeat(4)}`;
const SHA512 = `sha512:${'fedcba9876543210'.repeat(8)}`;
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

function isDescriptorInvalid(e: unknown): boolean {
  return e instanceof ManifestError && e.code === 'DESCRIPTOR_INVALID';
}

describe('decodeDescriptor accepts image-spec descriptors', () => {
  const valid: Array<[string, unknown, Descriptor]> = [
    ['the three required fields', { mediaType: LAYER, digest: SHA256, size: 10 }, { mediaType: LAYER, digest: SHA256, size: 10 }],
    ['a sha512 digest', { mediaType: LAYER, digest: SHA512, size: 10 }, { mediaType: LAYER, digest: SHA512, size: 10 }],
    ['size 0', { mediaType: LAYER, digest: SHA256, size: 0 }, { mediaType: LAYER, digest: SHA256, size: 0 }],
    [
      'the largest exact size',
      { mediaType: LAYER, digest: SHA256, size: Number.MAX_SAFE_INTEGER },
      { mediaType: LAYER, digest: SHA256, size: Number.MAX_SAFE_INTEGER },
    ],
    [
      'urls, annotations, data and artifactType',
      {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: SHA256,
        size: 2,
        urls: ['https://example.com/blob'],
        annotations: { 'org.opencontainers.image.title': 'x', empty: '' },
        data: 'e30=',
        artifactType: 'application/vnd.example+type',
      },
      {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: SHA256,
        size: 2,
        urls: ['https://example.com/blob'],
        annotations: { 'org.opencontainers.image.title': 'x', empty: '' },
        data: 'e30=',
        artifactType: 'application/vnd.example+type',
      },
    ],
    ['empty data', { mediaType: LAYER, digest: SHA256, size: 0, data: '' }, { mediaType: LAYER, digest: SHA256, size: 0, data: '' }],
    ['empty urls and annotations', { mediaType: LAYER, digest: SHA256, size: 1, urls: [], annotations: {} }, { mediaType: LAYER, digest: SHA256, size: 1, urls: [], annotations: {} }],
    [
      'a full platform',
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: SHA256,
        size: 1,
        platform: { architecture: 'arm64', os: 'linux', variant: 'v8', 'os.version': '10.0.17763.1', 'os.features': ['win32k'] },
      },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: SHA256,
        size: 1,
        platform: { architecture: 'arm64', os: 'linux', variant: 'v8', 'os.version': '10.0.17763.1', 'os.features': ['win32k'] },
      },
    ],
    [
      'unknown fields, which are dropped',
      { mediaType: LAYER, digest: SHA256, size: 1, extra: { deep: true }, 'x-vendor': 1 },
      { mediaType: LAYER, digest: SHA256, size: 1 },
    ],
    [
      'unknown platform fields, which are dropped',
      { mediaType: LAYER, digest: SHA256, size: 1, platform: { architecture: 'amd64', os: 'linux', features: ['sse4'] } },
      { mediaType: LAYER, digest: SHA256, size: 1, platform: { architecture: 'amd64', os: 'linux' } },
    ],
    [
      'an annotation named __proto__, kept as an ordinary key',
      JSON.parse(`{"mediaType":"${LAYER}","digest":"${SHA256}","size":1,"annotations":{"__proto__":"x","k":"v"}}`),
      { mediaType: LAYER, digest: SHA256, size: 1, annotations: Object.fromEntries([['__proto__', 'x'], ['k', 'v']]) },
    ],
  ];
  for (const [why, input, expected] of valid) {
    it(`accepts ${why}`, () => {
      const desc = decodeDescriptor(input);
      assert.deepEqual(desc, expected);
      assert.ok(Object.isFrozen(desc));
    });
  }

  it('round-trips through JSON', () => {
    const desc = decodeDescriptor({ mediaType: LAYER, digest: SHA256, size: 5, annotations: { a: 'b' }, artifactType: 'application/x.y' });
    assert.deepEqual(decodeDescriptor(JSON.parse(JSON.stringify(desc))), desc);
  });
});

describe('decodeDescriptor rejects what image-spec forbids', () => {
  const base = { mediaType: LAYER, digest: SHA256, size: 1 };
  const invalid: Array<[string, unknown]> = [
    ['null', null],
    ['an array', [base]],
    ['a string', SHA256],
    ['a number', 1],
    ['undefined', undefined],
    ['a missing mediaType', { digest: SHA256, size: 1 }],
    ['a non-string mediaType', { ...base, mediaType: 1 }],
    ['an empty mediaType', { ...base, mediaType: '' }],
    ['a mediaType without subtype', { ...base, mediaType: 'application' }],
    ['a mediaType with two slashes', { ...base, mediaType: 'a/b/c' }],
    ['a mediaType with a space', { ...base, mediaType: 'application/ json' }],
    ['a mediaType with parameters', { ...base, mediaType: 'application/json; charset=utf-8' }],
    ['a missing digest', { mediaType: LAYER, size: 1 }],
    ['a non-string digest', { ...base, digest: 1 }],
    ['a digest without algorithm', { ...base, digest: '0123456789abcdef'.repeat(4) }],
    ['a short digest', { ...base, digest: 'sha256:abc' }],
    ['an upper-case digest', { ...base, digest: SHA256.toUpperCase() }],
    ['an unsupported algorithm', { ...base, digest: `md5:${'a'.repeat(32)}` }],
    ['a missing size', { mediaType: LAYER, digest: SHA256 }],
    ['a string size', { ...base, size: '1' }],
    ['a negative size', { ...base, size: -1 }],
    ['a fractional size', { ...base, size: 1.5 }],
    ['a size of 2^53', { ...base, size: 2 ** 53 }],
    ['an infinite size', { ...base, size: Number.POSITIVE_INFINITY }],
    ['a NaN size', { ...base, size: Number.NaN }],
    ['a null size', { ...base, size: null }],
    ['urls that are not an array', { ...base, urls: 'https://example.com' }],
    ['urls holding a non-string', { ...base, urls: ['https://example.com', 1] }],
    ['annotations that are an array', { ...base, annotations: ['a'] }],
    ['annotations that are a string', { ...base, annotations: 'a=b' }],
    ['an annotation value that is a number', { ...base, annotations: { a: 1 } }],
    ['an annotation value that is null', { ...base, annotations: { a: null } }],
    ['an annotation value that is an object', { ...base, annotations: { a: { b: 'c' } } }],
    ['data that is not base64', { ...base, data: '***' }],
    ['data that is not a string', { ...base, data: 1 }],
    ['an artifactType that is not a media type', { ...base, artifactType: 'signature' }],
    ['an artifactType that is not a string', { ...base, artifactType: 1 }],
    ['a platform that is not an object', { ...base, platform: 'linux/amd64' }],
    ['a platform without os', { ...base, platform: { architecture: 'amd64' } }],
    ['a platform without architecture', { ...base, platform: { os: 'linux' } }],
    ['a platform with a numeric os', { ...base, platform: { architecture: 'amd64', os: 1 } }],
  ];
  for (const [why, input] of invalid) {
    it(`rejects ${why}`, () => assert.throws(() => decodeDescriptor(input), isDescriptorInvalid));
  }

  it('names the path of the bad field', () => {
    assert.throws(
      () => decodeDescriptor({ ...base, digest: 'sha256:abc' }, 'manifest.layers[1]'),
      (e: unknown) => isDescriptorInvalid(e) && (e as Error).message.startsWith('manifest.layers[1].digest:'),
    );
  });

  it('throws only ManifestError for any JSON value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ mediaType: fc.jsonValue(), digest: fc.jsonValue(), size: fc.jsonValue(), annotations: fc.jsonValue(), platform: fc.jsonValue() }, { requiredKeys: [] })), (value) => {
        try {
          decodeDescriptor(value);
        } catch (e) {
          if (!isDescriptorInvalid(e)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('decodeAnnotations', () => {
  it('keeps every string entry', () => {
    assert.deepEqual(decodeAnnotations({ a: 'b', '': '' }, 'x'), { a: 'b', '': '' });
  });

  it('round-trips any string map through JSON, __proto__ keys included', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.string(), fc.constant('__proto__')), fc.string(), { noNullPrototype: true }), (map) => {
        const parsed: unknown = JSON.parse(JSON.stringify(map));
        assert.deepEqual(decodeAnnotations(parsed, 'x'), parsed);
      }),
      { numRuns: 300 },
    );
  });
});

describe('isMediaType', () => {
  const table: Array<[unknown, boolean]> = [
    ['application/vnd.oci.image.manifest.v1+json', true],
    ['application/vnd.cncf.notary.signature', true],
    ['application/jose+json', true],
    ['text/plain', true],
    ['a/b', true],
    [`a/${'b'.repeat(127)}`, true],
    [`a/${'b'.repeat(128)}`, false],
    ['', false],
    ['text', false],
    ['/plain', false],
    ['text/', false],
    ['text/plain; charset=utf-8', false],
    ['text/.plain', false],
    [' text/plain', false],
    [1, false],
    [null, false],
  ];
  for (const [value, expected] of table) {
    it(`says ${JSON.stringify(value)?.slice(0, 40)} is ${expected ? '' : 'not '}a media type`, () => assert.equal(isMediaType(value), expected));
  }
});

describe('content identity', () => {
  const a: Descriptor = { mediaType: LAYER, digest: SHA256, size: 1 };
  it('compares digest and size, not media type or annotations', () => {
    assert.equal(isSameContent(a, { ...a, mediaType: 'application/octet-stream', annotations: { x: 'y' } }), true);
    assert.equal(isSameContent(a, { ...a, size: 2 }), false);
    assert.equal(isSameContent(a, { ...a, digest: SHA512 }), false);
  });
  it('keys content by digest', () => assert.equal(contentKey(a), SHA256));
});
