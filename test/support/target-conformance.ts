// The conformance suite every content target passes: the OCI layout, the remote repository and the
// embedded registry's store. Modelled on oras-go's interface tests (registry/remote/interface_test.go).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  digestOf,
  EMPTY_JSON_DIGEST,
  MEDIA_TYPE_EMPTY_JSON,
  MEDIA_TYPE_IMAGE_CONFIG,
  MEDIA_TYPE_IMAGE_INDEX,
  MEDIA_TYPE_IMAGE_LAYER,
  MEDIA_TYPE_IMAGE_MANIFEST,
  MEDIA_TYPE_NOTARY_SIGNATURE,
  type ByteStream,
  type Deleter,
  type Descriptor,
  type ReferrerLister,
  type TagLister,
  type Target,
} from '../../src/oci/index.js';

/** A target under test with every optional capability it may have, and how to dispose of it. */
export interface ConformanceSetup {
  readonly target: Target & Partial<ReferrerLister & Deleter & TagLister>;
  cleanup(): Promise<void>;
}

/**
 * Codes that mean "no such content": the oci module's NOT_FOUND, and the distribution-spec
 * v1.1.1 error codes a registry answers a 404 with (NAME_UNKNOWN when the repository has nothing yet).
 */
export const NOT_FOUND_CODES: ReadonlySet<string> = new Set(['NOT_FOUND', 'BLOB_UNKNOWN', 'MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);

/**
 * Codes that mean "the bytes do not match the descriptor": the oci module's own checks, and
 * distribution-spec v1.1.1 DIGEST_INVALID / SIZE_INVALID when the registry catches it.
 */
export const CONTENT_MISMATCH_CODES: ReadonlySet<string> = new Set(['DIGEST_MISMATCH', 'SIZE_MISMATCH', 'DIGEST_INVALID', 'SIZE_INVALID']);

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** True when `err` says the content does not exist (for `assert.rejects`). */
export function isNotFoundError(err: unknown): boolean {
  return err instanceof Error && NOT_FOUND_CODES.has(String(errorCode(err)));
}

/** Deterministic pseudo-random bytes: a SHA-256 counter stream seeded by `label`. */
export function deterministicBytes(label: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (let block = 0; offset < size; block++) {
    const chunk = createHash('sha256').update(`${label}\0${block}`).digest();
    out.set(chunk.subarray(0, Math.min(chunk.byteLength, size - offset)), offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Yields `bytes` in chunks of `chunkSize`, asynchronously, as a network body would. */
export async function* chunked(bytes: Uint8Array, chunkSize: number): ByteStream {
  for (let offset = 0; offset < bytes.byteLength; offset += chunkSize) {
    await Promise.resolve();
    yield bytes.subarray(offset, offset + chunkSize);
  }
}

/** Reads a whole stream (for tests; production code uses readVerified). */
export async function readAll(stream: ByteStream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Collects an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Bytes plus the descriptor that names them. */
export interface TestContent {
  readonly descriptor: Descriptor;
  readonly bytes: Uint8Array;
}

/** A blob of deterministic content. */
export function testBlob(label: string, size: number, mediaType = MEDIA_TYPE_IMAGE_LAYER): TestContent {
  const bytes = deterministicBytes(label, size);
  return { descriptor: { mediaType, digest: digestOf(bytes), size: bytes.byteLength }, bytes };
}

/** The `{}` blob (image-spec v1.1.0, Guidance for an Empty Descriptor) under the given media type. */
export function emptyJson(mediaType = MEDIA_TYPE_EMPTY_JSON): TestContent {
  const bytes = new TextEncoder().encode('{}');
  return { descriptor: { mediaType, digest: EMPTY_JSON_DIGEST, size: 2 }, bytes };
}

/** Serializes a JSON document and describes it. */
export function testJson(mediaType: string, document: object, extra: Partial<Descriptor> = {}): TestContent {
  const bytes = new TextEncoder().encode(JSON.stringify(document));
  return { descriptor: { mediaType, digest: digestOf(bytes), size: bytes.byteLength, ...extra }, bytes };
}

/** An image manifest over the given config and layers (and subject), per image-spec v1.1.0 manifest.md. */
export function testManifest(
  config: Descriptor,
  layers: readonly Descriptor[],
  options: { subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> } = {},
): TestContent {
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST };
  if (options.artifactType !== undefined) doc.artifactType = options.artifactType;
  doc.config = config;
  doc.layers = layers;
  if (options.subject !== undefined) doc.subject = { mediaType: options.subject.mediaType, digest: options.subject.digest, size: options.subject.size };
  if (options.annotations !== undefined) doc.annotations = options.annotations;
  return testJson(MEDIA_TYPE_IMAGE_MANIFEST, doc);
}

/** An image index over the given manifests (image-spec v1.1.0 image-index.md). */
export function testIndex(manifests: readonly Descriptor[], options: { subject?: Descriptor } = {}): TestContent {
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests };
  if (options.subject !== undefined) doc.subject = options.subject;
  return testJson(MEDIA_TYPE_IMAGE_INDEX, doc);
}

const ARTIFACT_TYPE_SBOM = 'application/vnd.sigil.test.sbom+json';

/**
 * Registers the cases every store must pass. `setup` runs once before the cases and must
 * return an empty target; `cleanup` runs after them. Cases use distinct content and tags, so
 * they do not depend on one another's order, and capabilities the target lacks are skipped.
 */
export function describeTargetConformance(name: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`${name} conforms to the content target interfaces`, () => {
    let fixture: ConformanceSetup | undefined;
    const target = (): ConformanceSetup['target'] => {
      if (fixture === undefined) throw new Error('conformance setup did not run');
      return fixture.target;
    };
    const opts = (t: TestContext) => ({ signal: t.signal });
    const push = async (t: TestContext, content: TestContent) => target().push(content.descriptor, content.bytes, opts(t));
    /** Pushes an image with one layer: config, layer, manifest; returns the manifest. */
    const pushImage = async (t: TestContext, label: string, extra: Parameters<typeof testManifest>[2] = {}): Promise<TestContent> => {
      const config = testJson(MEDIA_TYPE_IMAGE_CONFIG, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, label });
      const layer = testBlob(`${label}/layer`, 1024);
      await push(t, config);
      await push(t, layer);
      const manifest = testManifest(config.descriptor, [layer.descriptor], extra);
      await push(t, manifest);
      return manifest;
    };

    before(async () => {
      fixture = await setup();
    });
    after(async () => {
      await fixture?.cleanup();
    });

    it('pushes a blob given as bytes and fetches the same bytes back', async (t) => {
      const blob = testBlob('bytes-round-trip', 4096);
      await push(t, blob);
      assert.equal(await target().exists(blob.descriptor, opts(t)), true);
      const fetched = await readAll(await target().fetch(blob.descriptor, opts(t)));
      assert.deepEqual(Buffer.from(fetched), Buffer.from(blob.bytes));
    });

    it('pushes a blob given as a chunked stream and fetches the same bytes back', async (t) => {
      const blob = testBlob('stream-round-trip', 1024 * 1024 + 17);
      await target().push(blob.descriptor, chunked(blob.bytes, 64 * 1024), opts(t));
      assert.equal(await target().exists(blob.descriptor, opts(t)), true);
      const fetched = await readAll(await target().fetch(blob.descriptor, opts(t)));
      assert.equal(fetched.byteLength, blob.bytes.byteLength);
      assert.equal(digestOf(fetched), blob.descriptor.digest);
    });

    it('accepts a second push of content it already holds', async (t) => {
      const blob = testBlob('pushed-twice', 300);
      await push(t, blob);
      await target().push(blob.descriptor, chunked(blob.bytes, 100), opts(t));
      assert.equal(digestOf(await readAll(await target().fetch(blob.descriptor, opts(t)))), blob.descriptor.digest);
    });

    it('pushes an empty blob', async (t) => {
      const blob = testBlob('empty', 0);
      await push(t, blob);
      assert.equal(await target().exists(blob.descriptor, opts(t)), true);
      assert.equal((await readAll(await target().fetch(blob.descriptor, opts(t)))).byteLength, 0);
    });

    it('reports exists false for content never pushed', async (t) => {
      await pushImage(t, 'exists-false-seed'); // so a registry repository exists
      const blob = testBlob('never-pushed', 64);
      assert.equal(await target().exists(blob.descriptor, opts(t)), false);
      const manifest = testManifest(emptyJson().descriptor, [blob.descriptor]);
      assert.equal(await target().exists(manifest.descriptor, opts(t)), false);
    });

    it('fails to fetch a missing blob or manifest with a not-found code', async (t) => {
      await pushImage(t, 'not-found-seed');
      const blob = testBlob('missing-blob', 64);
      await assert.rejects(async () => readAll(await target().fetch(blob.descriptor, opts(t))), isNotFoundError);
      const manifest = testManifest(emptyJson().descriptor, [blob.descriptor]);
      await assert.rejects(async () => readAll(await target().fetch(manifest.descriptor, opts(t))), isNotFoundError);
    });

    it('fails to resolve an unknown tag or digest with a not-found code', async (t) => {
      await pushImage(t, 'resolve-missing-seed');
      await assert.rejects(target().resolve('no-such-tag', opts(t)), isNotFoundError);
      const manifest = testManifest(emptyJson().descriptor, [testBlob('resolve-missing', 8).descriptor]);
      await assert.rejects(target().resolve(manifest.descriptor.digest, opts(t)), isNotFoundError);
    });

    it('rejects a push whose bytes do not match the digest and stores nothing', async (t) => {
      const claimed = testBlob('claimed', 2048);
      const actual = testBlob('actual', 2048);
      await assert.rejects(target().push(claimed.descriptor, chunked(actual.bytes, 512), opts(t)), (err: unknown) => {
        assert.ok(err instanceof Error, 'rejects with an Error');
        assert.ok(CONTENT_MISMATCH_CODES.has(String(errorCode(err))), `code ${String(errorCode(err))} names a content mismatch`);
        return true;
      });
      assert.equal(await target().exists(claimed.descriptor, opts(t)), false);
      assert.equal(await target().exists({ ...claimed.descriptor, digest: actual.descriptor.digest }, opts(t)), false);
    });

    it('rejects a push whose bytes are longer or shorter than the size and stores nothing', async (t) => {
      const blob = testBlob('wrong-size', 1000);
      const longer = { ...blob.descriptor, size: 999 };
      await assert.rejects(target().push(longer, blob.bytes, opts(t)), (err: unknown) => CONTENT_MISMATCH_CODES.has(String(errorCode(err))));
      const shorter = testBlob('wrong-size-short', 1000);
      await assert.rejects(target().push(shorter.descriptor, shorter.bytes.subarray(0, 500), opts(t)), (err: unknown) => CONTENT_MISMATCH_CODES.has(String(errorCode(err))));
      assert.equal(await target().exists(blob.descriptor, opts(t)), false);
      assert.equal(await target().exists(shorter.descriptor, opts(t)), false);
    });

    it('pushes a manifest, tags it, and resolves it by tag and by digest', async (t) => {
      const manifest = await pushImage(t, 'tag-and-resolve');
      await target().tag(manifest.descriptor, 'v1', opts(t));
      for (const reference of ['v1', manifest.descriptor.digest]) {
        const resolved = await target().resolve(reference, opts(t));
        assert.equal(resolved.digest, manifest.descriptor.digest, `resolve ${reference}`);
        assert.equal(resolved.size, manifest.descriptor.size, `resolve ${reference}`);
        assert.equal(resolved.mediaType, MEDIA_TYPE_IMAGE_MANIFEST, `resolve ${reference}`);
      }
      const fetched = await readAll(await target().fetch(manifest.descriptor, opts(t)));
      assert.deepEqual(Buffer.from(fetched), Buffer.from(manifest.bytes));
      assert.equal(await target().exists(manifest.descriptor, opts(t)), true);
    });

    it('moves a tag to the manifest it was last given', async (t) => {
      const first = await pushImage(t, 'retag-first');
      const second = await pushImage(t, 'retag-second');
      await target().tag(first.descriptor, 'moving', opts(t));
      assert.equal((await target().resolve('moving', opts(t))).digest, first.descriptor.digest);
      await target().tag(second.descriptor, 'moving', opts(t));
      assert.equal((await target().resolve('moving', opts(t))).digest, second.descriptor.digest);
      assert.equal((await target().resolve(first.descriptor.digest, opts(t))).digest, first.descriptor.digest, 'the untagged manifest stays');
    });

    it('pushes an image index after its platform manifests and resolves it by tag', async (t) => {
      const amd64 = await pushImage(t, 'index-amd64');
      const arm64 = await pushImage(t, 'index-arm64');
      const index = testIndex([
        { ...amd64.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm64.descriptor, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ]);
      await push(t, index);
      await target().tag(index.descriptor, 'multi', opts(t));
      const resolved = await target().resolve('multi', opts(t));
      assert.equal(resolved.digest, index.descriptor.digest);
      assert.equal(resolved.mediaType, MEDIA_TYPE_IMAGE_INDEX);
      const fetched = JSON.parse(new TextDecoder().decode(await readAll(await target().fetch(resolved, opts(t))))) as { manifests: Descriptor[] };
      assert.deepEqual(
        fetched.manifests.map((m) => m.digest),
        [amd64.descriptor.digest, arm64.descriptor.digest],
      );
      for (const child of [amd64, arm64]) assert.equal(await target().exists(child.descriptor, opts(t)), true);
    });

    it('lists referrers with and without an artifactType filter, including the Notation 1.x config form', async (t) => {
      const lister = target().referrers?.bind(target());
      if (lister === undefined) return t.skip('target does not list referrers');
      const subject = await pushImage(t, 'referrers-subject');
      await target().tag(subject.descriptor, 'referred', opts(t));
      const empty = emptyJson();
      await push(t, empty);
      const sbomLayer = testBlob('referrers-sbom', 200, 'application/spdx+json');
      await push(t, sbomLayer);
      const sbom = testManifest(empty.descriptor, [sbomLayer.descriptor], {
        artifactType: ARTIFACT_TYPE_SBOM,
        subject: subject.descriptor,
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
      });
      await push(t, sbom);
      // Notation 1.x signature manifests carry no artifactType: config.mediaType says what they are.
      const signatureConfig = emptyJson(MEDIA_TYPE_NOTARY_SIGNATURE);
      await push(t, signatureConfig);
      const envelope = testBlob('referrers-envelope', 300, 'application/jose+json');
      await push(t, envelope);
      const signature = testManifest(signatureConfig.descriptor, [envelope.descriptor], { subject: subject.descriptor });
      await push(t, signature);

      const all = await collect(lister(subject.descriptor, opts(t)));
      const byDigest = new Map(all.map((d) => [d.digest, d]));
      assert.equal(all.length, 2, `two referrers, got ${JSON.stringify(all)}`);
      assert.equal(byDigest.get(sbom.descriptor.digest)?.artifactType, ARTIFACT_TYPE_SBOM);
      assert.equal(byDigest.get(sbom.descriptor.digest)?.annotations?.['org.opencontainers.image.created'], '2024-01-01T00:00:00Z');
      assert.equal(byDigest.get(signature.descriptor.digest)?.artifactType, MEDIA_TYPE_NOTARY_SIGNATURE);
      for (const pushed of [sbom, signature]) {
        const listed = byDigest.get(pushed.descriptor.digest);
        assert.equal(listed?.mediaType, MEDIA_TYPE_IMAGE_MANIFEST);
        assert.equal(listed?.size, pushed.descriptor.size);
      }

      const signatures = await collect(lister(subject.descriptor, { ...opts(t), artifactType: MEDIA_TYPE_NOTARY_SIGNATURE }));
      assert.deepEqual(signatures.map((d) => d.digest), [signature.descriptor.digest]);
      const sboms = await collect(lister(subject.descriptor, { ...opts(t), artifactType: ARTIFACT_TYPE_SBOM }));
      assert.deepEqual(sboms.map((d) => d.digest), [sbom.descriptor.digest]);
      const none = await collect(lister(subject.descriptor, { ...opts(t), artifactType: 'application/vnd.sigil.test.absent' }));
      assert.deepEqual(none, []);
    });

    it('lists no referrers for a manifest nothing refers to', async (t) => {
      const lister = target().referrers?.bind(target());
      if (lister === undefined) return t.skip('target does not list referrers');
      const lonely = await pushImage(t, 'referrers-none');
      assert.deepEqual(await collect(lister(lonely.descriptor, opts(t))), []);
    });

    it('deletes a manifest so it no longer exists, resolves or appears among referrers', async (t) => {
      const remove = target().delete?.bind(target());
      if (remove === undefined) return t.skip('target cannot delete');
      const subject = await pushImage(t, 'delete-subject');
      const doomed = await pushImage(t, 'delete-referrer', { artifactType: ARTIFACT_TYPE_SBOM, subject: subject.descriptor });
      const kept = await pushImage(t, 'delete-kept-referrer', { artifactType: ARTIFACT_TYPE_SBOM, subject: subject.descriptor });
      const lister = target().referrers?.bind(target());
      if (lister !== undefined) {
        const before = (await collect(lister(subject.descriptor, opts(t)))).map((d) => d.digest).sort();
        assert.deepEqual(before, [doomed.descriptor.digest, kept.descriptor.digest].sort());
      }
      await remove(doomed.descriptor, opts(t));
      assert.equal(await target().exists(doomed.descriptor, opts(t)), false);
      await assert.rejects(target().resolve(doomed.descriptor.digest, opts(t)), isNotFoundError);
      await assert.rejects(async () => readAll(await target().fetch(doomed.descriptor, opts(t))), isNotFoundError);
      assert.equal(await target().exists(subject.descriptor, opts(t)), true, 'the subject stays');
      if (lister !== undefined) {
        const afterDelete = (await collect(lister(subject.descriptor, opts(t)))).map((d) => d.digest);
        assert.deepEqual(afterDelete, [kept.descriptor.digest]);
      }
    });

    it('deletes a tagged manifest and its tag', async (t) => {
      const remove = target().delete?.bind(target());
      if (remove === undefined) return t.skip('target cannot delete');
      const manifest = await pushImage(t, 'delete-tagged');
      await target().tag(manifest.descriptor, 'doomed', opts(t));
      await remove(manifest.descriptor, opts(t));
      assert.equal(await target().exists(manifest.descriptor, opts(t)), false);
      await assert.rejects(target().resolve('doomed', opts(t)), isNotFoundError);
    });

    it('lists tags in lexical order, after `last` when given', async (t) => {
      const listTags = target().tags?.bind(target());
      if (listTags === undefined) return t.skip('target does not list tags');
      const manifest = await pushImage(t, 'tags-list');
      const names = ['zz-list-c', 'zz-list-a', 'zz-list-b', 'zz-list-A'];
      for (const name of names) await target().tag(manifest.descriptor, name, opts(t));
      const tags = await collect(listTags(opts(t)));
      assert.deepEqual(tags, [...tags].sort(), 'sorted');
      assert.equal(new Set(tags).size, tags.length, 'no duplicates');
      for (const name of names) assert.ok(tags.includes(name), `lists ${name}`);
      const rest = await collect(listTags({ ...opts(t), last: 'zz-list-a' }));
      assert.deepEqual(rest.filter((tag) => tag.startsWith('zz-list-')), ['zz-list-b', 'zz-list-c']);
    });
  });
}
