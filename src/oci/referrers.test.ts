import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Descriptor } from './descriptor.js';
import { DigestError } from './errors.js';
import { decodeManifest, encodeManifest, type ImageIndex } from './manifest.js';
import { MEDIA_TYPE_IMAGE_INDEX, MEDIA_TYPE_IMAGE_MANIFEST, MEDIA_TYPE_NOTARY_SIGNATURE } from './mediatype.js';
import { parseReference } from './reference.js';
import { addReferrer, emptyReferrersIndex, filterReferrers, referrersTag, removeReferrer } from './referrers.js';
import { NOTATION_LAYOUTS } from '../../test/support/shared.js';

const HEX64 = '0123456789abcdef'.repeat(4);
const HEX128 = 'fedcba9876543210'.repeat(8);
const NOTATION_LAYOUT = join(NOTATION_LAYOUTS, 'e2e-valid-signature');

function referrer(n: number, artifactType?: string): Descriptor {
  const desc: Record<string, unknown> = { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: `sha256:${n.toString(16).padStart(64, '0')}`, size: 100 + n };
  if (artifactType !== undefined) desc.artifactType = artifactType;
  return desc as unknown as Descriptor;
}

describe('referrersTag follows distribution-spec v1.1 Referrers Tag Schema', () => {
  const table: Array<[string, string]> = [
    [`sha256:${HEX64}`, `sha256-${HEX64}`],
    [`sha512:${HEX128}`, `sha512-${HEX128.slice(0, 64)}`],
    [`sha256:${'a'.repeat(64)}`, `sha256-${'a'.repeat(64)}`],
  ];
  for (const [digest, tag] of table) {
    it(`maps ${digest.slice(0, 16)}... to ${tag.slice(0, 16)}...`, () => assert.equal(referrersTag(digest), tag));
  }

  it('truncates the encoded part, not the whole tag, to 64 characters', () => {
    const tag = referrersTag(`sha512:${HEX128}`);
    assert.equal(tag.length, 'sha512-'.length + 64);
    assert.ok(tag.startsWith('sha512-'));
  });

  it('always yields a valid tag', () => {
    fc.assert(
      fc.property(fc.constantFrom<[string, number]>(['sha256', 64], ['sha512', 128]), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 128, maxLength: 128 }), ([algorithm, length], hex) => {
        const tag = referrersTag(`${algorithm}:${hex.slice(0, length)}`);
        assert.equal(parseReference(`registry.example/repo:${tag}`).tag, tag);
        assert.ok(tag.length <= 128);
      }),
      { numRuns: 200 },
    );
  });

  const invalid = ['', 'sha256', `sha256:${HEX64.toUpperCase()}`, `sha384:${'a'.repeat(96)}`, `sha256:${HEX64}0`];
  for (const digest of invalid) {
    it(`rejects the digest ${JSON.stringify(digest.slice(0, 20))}`, () => {
      assert.throws(() => referrersTag(digest), (e: unknown) => e instanceof DigestError && e.code === 'DIGEST_INVALID');
    });
  }

  it('matches the tag Notation wrote for its referrers index', () => {
    const index = JSON.parse(readFileSync(`${NOTATION_LAYOUT}/index.json`, 'utf8')) as { manifests: Array<{ mediaType: string; annotations?: Record<string, string> }> };
    const tagged = index.manifests.find((m) => m.mediaType === MEDIA_TYPE_IMAGE_INDEX);
    assert.equal(tagged?.annotations?.['org.opencontainers.image.ref.name'], referrersTag('sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9'));
  });
});

describe('emptyReferrersIndex', () => {
  it('is an empty OCI image index that encodes and decodes', () => {
    const index = emptyReferrersIndex();
    assert.deepEqual(index, { kind: 'index', schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests: [] });
    assert.deepEqual(decodeManifest(encodeManifest(index), MEDIA_TYPE_IMAGE_INDEX), index);
  });

  it('returns a fresh frozen index each time', () => {
    assert.notEqual(emptyReferrersIndex(), emptyReferrersIndex());
    assert.ok(Object.isFrozen(emptyReferrersIndex()));
  });
});

describe('addReferrer', () => {
  it('appends a new referrer and leaves the input unchanged', () => {
    const start = addReferrer(emptyReferrersIndex(), referrer(1)) as ImageIndex;
    const next = addReferrer(start, referrer(2, MEDIA_TYPE_NOTARY_SIGNATURE));
    assert.deepEqual(next?.manifests, [referrer(1), referrer(2, MEDIA_TYPE_NOTARY_SIGNATURE)]);
    assert.deepEqual(start.manifests, [referrer(1)]);
    assert.ok(next !== undefined && Object.isFrozen(next));
  });

  it('returns undefined when the digest is already listed, whatever its other fields', () => {
    const index = addReferrer(emptyReferrersIndex(), referrer(1)) as ImageIndex;
    assert.equal(addReferrer(index, referrer(1)), undefined);
    assert.equal(addReferrer(index, { ...referrer(1), artifactType: 'application/x.other', annotations: { a: 'b' } }), undefined);
  });

  it('keeps the index fields other than manifests', () => {
    const index: ImageIndex = { ...emptyReferrersIndex(), annotations: { 'org.example': 'x' } };
    assert.deepEqual(addReferrer(index, referrer(3))?.annotations, { 'org.example': 'x' });
  });

  it('keeps each digest once however referrers are added', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 40 }), (ns) => {
        let index = emptyReferrersIndex();
        for (const n of ns) index = addReferrer(index, referrer(n)) ?? index;
        const digests = index.manifests.map((m) => m.digest);
        assert.equal(new Set(digests).size, digests.length);
        assert.deepEqual(digests, [...new Set(ns)].map((n) => referrer(n).digest));
      }),
      { numRuns: 200 },
    );
  });
});

describe('removeReferrer', () => {
  const index: ImageIndex = { ...emptyReferrersIndex(), manifests: [referrer(1), referrer(2), referrer(3)] };

  it('removes the digest and keeps the order of the rest', () => {
    assert.deepEqual(removeReferrer(index, referrer(2).digest)?.manifests, [referrer(1), referrer(3)]);
    assert.equal(index.manifests.length, 3);
  });

  it('returns undefined when the digest is not listed', () => {
    assert.equal(removeReferrer(index, referrer(9).digest), undefined);
    assert.equal(removeReferrer(emptyReferrersIndex(), referrer(1).digest), undefined);
  });

  it('removes every copy of a digest another client listed twice', () => {
    const doubled: ImageIndex = { ...index, manifests: [referrer(1), referrer(2), referrer(1)] };
    assert.deepEqual(removeReferrer(doubled, referrer(1).digest)?.manifests, [referrer(2)]);
  });

  it('undoes addReferrer', () => {
    const added = addReferrer(index, referrer(4));
    assert.ok(added);
    assert.deepEqual(removeReferrer(added, referrer(4).digest), index);
  });
});

describe('filterReferrers', () => {
  const all = [referrer(1, MEDIA_TYPE_NOTARY_SIGNATURE), referrer(2, 'application/spdx+json'), referrer(3), referrer(4, MEDIA_TYPE_NOTARY_SIGNATURE)];
  const table: Array<[string | undefined, Descriptor[]]> = [
    [undefined, all],
    [MEDIA_TYPE_NOTARY_SIGNATURE, [all[0] as Descriptor, all[3] as Descriptor]],
    ['application/spdx+json', [all[1] as Descriptor]],
    ['application/vnd.example.none', []],
  ];
  for (const [artifactType, expected] of table) {
    it(`keeps ${artifactType ?? 'every artifact type'}`, () => assert.deepEqual(filterReferrers(all, artifactType), expected));
  }

  it('returns a new array even when nothing is filtered', () => {
    const out = filterReferrers(all, undefined);
    assert.notEqual(out, all);
    out.pop();
    assert.equal(all.length, 4);
  });

  it('drops referrers without artifactType when filtering', () => {
    assert.ok(filterReferrers(all, MEDIA_TYPE_NOTARY_SIGNATURE).every((r) => r.artifactType !== undefined));
  });
});
