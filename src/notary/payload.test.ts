import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Descriptor } from '../oci/index.js';
import { SHARED_TESTDATA } from '../../test/support/shared.js';
import { decodeCose } from './cose.js';
import { EnvelopeError } from './errors.js';
import { decodeJws } from './jws.js';
import { decodePayload, encodePayload } from './payload.js';

const SIGNATURES = join(SHARED_TESTDATA, 'notation-e2e/signatures');
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString();
}

function assertPayloadInvalid(input: string | Uint8Array): void {
  assert.throws(
    () => decodePayload(typeof input === 'string' ? Buffer.from(input) : input),
    (e: unknown) => e instanceof EnvelopeError && e.code === 'PAYLOAD_INVALID',
    typeof input === 'string' ? input.slice(0, 120) : 'bytes',
  );
}

function payloadWith(target: Record<string, unknown> | string): string {
  return `{"targetArtifact":${typeof target === 'string' ? target : JSON.stringify(target)}}`;
}

describe('encodePayload', () => {
  it('writes the bytes notation-go writes for the blob it signed (Go struct order)', () => {
    const cose = decodeCose(readFileSync(join(SIGNATURES, 'blob.cose.sig')));
    const expected = cose.content.payload.content;
    const target: Descriptor = { mediaType: 'application/octet-stream', digest: 'sha256:c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4', size: 11357 };
    assert.deepEqual(encodePayload(target), expected);
  });

  it('keeps only mediaType, digest, size and annotations (notation-go SanitizeTargetArtifact), annotations sorted', () => {
    const target: Descriptor = {
      mediaType: MANIFEST,
      digest: DIGEST,
      size: 481,
      urls: ['https://example.com'],
      artifactType: 'application/vnd.example',
      data: 'e30=',
      platform: { architecture: 'amd64', os: 'linux' },
      annotations: { 'z.key': '<b>', 'a.key': 'é' },
    };
    assert.equal(text(encodePayload(target)), `{"targetArtifact":{"mediaType":"${MANIFEST}","digest":"${DIGEST}","size":481,"annotations":{"a.key":"é","z.key":"\\u003cb\\u003e"}}}`);
  });

  it('omits empty annotations, as Go omitempty does', () => {
    assert.equal(text(encodePayload({ mediaType: MANIFEST, digest: DIGEST, size: 1, annotations: {} })), `{"targetArtifact":{"mediaType":"${MANIFEST}","digest":"${DIGEST}","size":1}}`);
  });

  it('refuses descriptors a payload cannot carry', () => {
    const bad: unknown[] = [
      { mediaType: '', digest: DIGEST, size: 1 },
      { mediaType: MANIFEST, digest: 'sha256:abc', size: 1 },
      { mediaType: MANIFEST, digest: DIGEST, size: -1 },
      { mediaType: MANIFEST, digest: DIGEST, size: 1.5 },
      { mediaType: MANIFEST, digest: DIGEST, size: 1, annotations: { k: 1 } },
    ];
    for (const descriptor of bad) {
      assert.throws(() => encodePayload(descriptor as Descriptor), (e: unknown) => e instanceof EnvelopeError && e.code === 'PAYLOAD_INVALID', JSON.stringify(descriptor));
    }
  });
});

describe('decodePayload', () => {
  it('reads the payloads of real Notation signatures', () => {
    for (const decoded of [decodeJws(readFileSync(join(SIGNATURES, 'blob.jws.sig'))), decodeCose(readFileSync(join(SIGNATURES, 'blob.cose.sig')))]) {
      assert.deepEqual(decodePayload(decoded.content.payload.content), {
        targetArtifact: { mediaType: 'application/octet-stream', digest: 'sha256:c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4', size: 11357 },
      });
    }
  });

  it('accepts sha384 and sha512 digests, which Notation uses for blobs signed with larger keys', () => {
    for (const digest of [`sha384:${'ab'.repeat(48)}`, `sha512:${'ab'.repeat(64)}`, 'blake3:ABCxyz-_='])
      assert.equal(decodePayload(Buffer.from(payloadWith({ mediaType: 'application/octet-stream', digest, size: 0 }))).targetArtifact.digest, digest);
  });

  it('keeps annotations and drops other descriptor fields and unknown keys', () => {
    const decoded = decodePayload(
      Buffer.from(`{"other":[1.5],"targetArtifact":{"mediaType":"${MANIFEST}","digest":"${DIGEST}","size":9007199254740991,"annotations":{"io.wabbit-networks.buildId":"123"},"artifactType":"x/y","urls":["u"],"extra":{}}}`),
    );
    assert.deepEqual(decoded, { targetArtifact: { mediaType: MANIFEST, digest: DIGEST, size: 9007199254740991, annotations: { 'io.wabbit-networks.buildId': '123' } } });
  });

  it('accepts media types with parameters, which Notation does not validate', () => {
    assert.equal(decodePayload(Buffer.from(payloadWith({ mediaType: 'text/plain; charset=utf-8', digest: DIGEST, size: 1 }))).targetArtifact.mediaType, 'text/plain; charset=utf-8');
  });

  const good = { mediaType: MANIFEST, digest: DIGEST, size: 1 };
  const cases: [string, string | Uint8Array][] = [
    ['not JSON', 'payload'],
    ['an empty document', ''],
    ['a JSON array', '[]'],
    ['a JSON string', '"x"'],
    ['no targetArtifact', '{}'],
    ['targetArtifact null', '{"targetArtifact":null}'],
    ['targetArtifact an array', '{"targetArtifact":[]}'],
    ['a key differing from targetArtifact only in case', `{"TargetArtifact":${JSON.stringify(good)}}`],
    ['both targetArtifact and a case variant', `{"targetArtifact":${JSON.stringify(good)},"targetartifact":${JSON.stringify(good)}}`],
    ['no mediaType', payloadWith({ digest: DIGEST, size: 1 })],
    ['an empty mediaType', payloadWith({ ...good, mediaType: '' })],
    ['a numeric mediaType', payloadWith({ ...good, mediaType: 1 })],
    ['no digest', payloadWith({ mediaType: MANIFEST, size: 1 })],
    ['a digest without an algorithm', payloadWith({ ...good, digest: 'abc' })],
    ['a digest with upper-case hex', payloadWith({ ...good, digest: DIGEST.toUpperCase().replace('SHA256', 'sha256') })],
    ['a short sha256 digest', payloadWith({ ...good, digest: 'sha256:abcd' })],
    ['a sha384 digest of the wrong length', payloadWith({ ...good, digest: `sha384:${'ab'.repeat(32)}` })],
    ['no size', payloadWith({ mediaType: MANIFEST, digest: DIGEST })],
    ['size 1.0, which Go cannot read into int64', payloadWith(`{"mediaType":"${MANIFEST}","digest":"${DIGEST}","size":1.0}`)],
    ['size 1e3', payloadWith(`{"mediaType":"${MANIFEST}","digest":"${DIGEST}","size":1e3}`)],
    ['a negative size', payloadWith({ ...good, size: -1 })],
    ['a size as a string', payloadWith({ ...good, size: '1' })],
    ['a size beyond 2^53', payloadWith(`{"mediaType":"${MANIFEST}","digest":"${DIGEST}","size":9007199254740993}`)],
    ['a key differing from size only in case', payloadWith({ ...good, Size: 2 })],
    ['annotations that are an array', payloadWith({ ...good, annotations: [] })],
    ['an annotation that is a number', payloadWith({ ...good, annotations: { k: 1 } })],
    ['duplicate keys', payloadWith(`{"mediaType":"${MANIFEST}","digest":"${DIGEST}","size":1,"size":2}`)],
    ['duplicate annotation keys', payloadWith(`{"mediaType":"${MANIFEST}","digest":"${DIGEST}","size":1,"annotations":{"k":"a","k":"b"}}`)],
    ['100000 levels of nesting', `{"x":${'['.repeat(100_000)}${']'.repeat(100_000)},"targetArtifact":${JSON.stringify(good)}}`],
    ['trailing data', `${payloadWith(good)} x`],
    ['invalid UTF-8', Uint8Array.from([...Buffer.from('{"targetArtifact":{"mediaType":"'), 0xff, ...Buffer.from('"}}')])],
  ];
  for (const [why, input] of cases) {
    it(`rejects ${why} with PAYLOAD_INVALID`, () => assertPayloadInvalid(input));
  }

  it('round-trips every descriptor encodePayload accepts', () => {
    const descriptor = fc.record(
      {
        mediaType: fc.stringMatching(/^[a-z]{1,10}\/[a-z0-9.+-]{1,20}$/),
        digest: fc.oneof(fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`), fc.stringMatching(/^[a-f0-9]{128}$/).map((h) => `sha512:${h}`)),
        size: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        annotations: fc.dictionary(fc.string({ minLength: 1 }), fc.string({ unit: 'grapheme' }), { minKeys: 1, maxKeys: 4 }),
      },
      { requiredKeys: ['mediaType', 'digest', 'size'] },
    );
    fc.assert(
      fc.property(descriptor, (d) => {
        // fast-check may build objects without a prototype; decoded objects always have one.
        const expected = d.annotations === undefined ? { ...d } : { ...d, annotations: Object.fromEntries(Object.entries(d.annotations)) };
        assert.deepEqual(decodePayload(encodePayload(d)).targetArtifact, expected);
      }),
    );
  });

  it('only ever throws EnvelopeError on random input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.json().map((j) => Buffer.from(j)), fc.json().map((j) => Buffer.from(`{"targetArtifact":${j}}`))), (bytes) => {
        try {
          decodePayload(bytes);
        } catch (e) {
          assert.ok(e instanceof EnvelopeError && e.code === 'PAYLOAD_INVALID', String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
