import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { collect, emptyJson, testBlob, testIndex, testManifest, type TestContent } from '../../test/support/target-conformance.js';
import type { ByteStream, OperationOptions, ReadOnlyTarget, ReferrerLister, ReferrersOptions, Storage } from './content.js';
import { copy, copyGraph, DEFAULT_COPY_CONCURRENCY, type CopyEvent } from './copy.js';
import type { Descriptor } from './descriptor.js';
import { ContentError, CopyError, DigestError } from './errors.js';
import { OciLayout } from './layout.js';
import { MAX_REFERRERS_DEPTH } from './limits.js';
import { MEDIA_TYPE_NOTARY_SIGNATURE } from './mediatype.js';
import { NOTATION_LAYOUTS } from '../../test/support/shared.js';

const SUBJECT_DIGEST = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
const LAYER_DIGEST = 'sha256:6de5fe1f75e4b1094c98086f403d5fd8117776ebe5aad1609281403d13dea070';
const ARTIFACT_TYPE_SBOM = 'application/vnd.sigil.test.sbom+json';

const temporaryRoots: string[] = [];
const options = () => ({ signal: AbortSignal.timeout(60_000) });

after(async () => {
  await Promise.all(temporaryRoots.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function freshLayout(label: string): Promise<OciLayout> {
  const dir = await mkdtemp(join(tmpdir(), `sigil-copy-${label}-`));
  temporaryRoots.push(dir);
  return OciLayout.open(join(dir, 'layout'), { create: true });
}

async function pushAll(layout: OciLayout, ...contents: TestContent[]): Promise<void> {
  for (const content of contents) await layout.push(content.descriptor, content.bytes, options());
}

/** Pushes an image manifest with `layers` distinct layers (and optional subject) and returns it. */
async function pushImage(layout: OciLayout, label: string, extra: { subject?: Descriptor; artifactType?: string; layers?: number; layerSize?: number } = {}): Promise<TestContent> {
  const config = emptyJson(extra.artifactType === MEDIA_TYPE_NOTARY_SIGNATURE ? MEDIA_TYPE_NOTARY_SIGNATURE : undefined);
  const layers = Array.from({ length: extra.layers ?? 1 }, (_, i) => testBlob(`${label}/layer-${i}`, extra.layerSize ?? 256));
  const manifest = testManifest(
    config.descriptor,
    layers.map((l) => l.descriptor),
    {
      ...(extra.subject === undefined ? {} : { subject: extra.subject }),
      // Notation 1.x form: signature manifests say what they are in config.mediaType only.
      ...(extra.artifactType === undefined || extra.artifactType === MEDIA_TYPE_NOTARY_SIGNATURE ? {} : { artifactType: extra.artifactType }),
    },
  );
  await pushAll(layout, config, ...layers, manifest);
  return manifest;
}

async function digestsAt(layout: OciLayout): Promise<string[]> {
  const names = await readdir(join(layout.root, 'blobs', 'sha256')).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return names.filter((name) => !name.startsWith('.')).map((hex) => `sha256:${hex}`).sort();
}

function recorder(): { events: CopyEvent[]; onProgress: (event: CopyEvent) => void; of: (type: CopyEvent['type']) => string[] } {
  const events: CopyEvent[] = [];
  return {
    events,
    onProgress: (event) => events.push(event),
    of: (type) => events.filter((e) => e.type === type).map((e) => e.descriptor.digest),
  };
}

/** A Storage that forwards to a layout and measures how many calls are in flight. */
class InstrumentedStorage implements Storage {
  readonly inner: Storage;
  readonly pushDelayMs: number;
  inFlightPushes = 0;
  maxInFlightPushes = 0;
  inFlightCalls = 0;
  maxInFlightCalls = 0;
  pushes: string[] = [];
  onPush: ((desc: Descriptor) => void) | undefined;

  constructor(inner: Storage, pushDelayMs = 0) {
    this.inner = inner;
    this.pushDelayMs = pushDelayMs;
  }

  async #track<T>(push: boolean, action: () => Promise<T>): Promise<T> {
    this.inFlightCalls++;
    this.maxInFlightCalls = Math.max(this.maxInFlightCalls, this.inFlightCalls);
    if (push) {
      this.inFlightPushes++;
      this.maxInFlightPushes = Math.max(this.maxInFlightPushes, this.inFlightPushes);
    }
    try {
      return await action();
    } finally {
      this.inFlightCalls--;
      if (push) this.inFlightPushes--;
    }
  }

  fetch(desc: Descriptor, opts: OperationOptions): Promise<ByteStream> {
    return this.inner.fetch(desc, opts);
  }

  exists(desc: Descriptor, opts: OperationOptions): Promise<boolean> {
    return this.#track(false, () => this.inner.exists(desc, opts));
  }

  push(desc: Descriptor, content: ByteStream | Uint8Array, opts: OperationOptions): Promise<void> {
    return this.#track(true, async () => {
      this.pushes.push(desc.digest);
      this.onPush?.(desc);
      await delay(this.pushDelayMs, undefined, { signal: opts.signal });
      await this.inner.push(desc, content, opts);
    });
  }
}

describe('copy from Notation-made layouts', () => {
  for (const name of ['e2e-valid-signature', 'e2e-invalid-signature', 'e2e-expired-signature']) {
    it(`copies ${name} with referrers to a new layout with the same digests and referrers`, async () => {
      const src = await OciLayout.open(join(NOTATION_LAYOUTS, name));
      const dst = await freshLayout(name);
      const progress = recorder();
      const root = await copy(src, 'v1', dst, 'v1', { ...options(), referrers: true, onProgress: progress.onProgress });
      assert.equal(root.digest, SUBJECT_DIGEST);
      assert.equal((await dst.resolve('v1', options())).digest, SUBJECT_DIGEST);
      const srcReferrers = await collect(src.referrers(root, options()));
      const dstReferrers = await collect(dst.referrers(root, options()));
      assert.equal(srcReferrers.length, 1);
      assert.deepEqual(dstReferrers, srcReferrers);
      assert.equal(dstReferrers[0]?.artifactType, MEDIA_TYPE_NOTARY_SIGNATURE);
      // Everything but the source's referrers-tag index (not part of any graph) arrives.
      const tagIndex = (await src.resolve(`sha256-${SUBJECT_DIGEST.slice(7)}`, options())).digest;
      const expected = (await readdir(join(NOTATION_LAYOUTS, name, 'blobs', 'sha256'))).map((hex) => `sha256:${hex}`).filter((d) => d !== tagIndex).sort();
      assert.deepEqual(await digestsAt(dst), expected);
      assert.deepEqual(progress.events.filter((e) => e.type === 'referrer').map((e) => [e.descriptor.digest, e.type === 'referrer' ? e.subject.digest : '']), [[srcReferrers[0]?.digest, SUBJECT_DIGEST]]);
      assert.deepEqual(progress.of('copied').sort(), expected);
      // every transfer's bytes add up to its size
      for (const started of progress.events.filter((e) => e.type === 'start')) {
        const sum = progress.events.filter((e) => e.type === 'bytes' && e.descriptor.digest === started.descriptor.digest).reduce((n, e) => n + (e.type === 'bytes' ? e.bytes : 0), 0);
        assert.equal(sum, started.descriptor.size, started.descriptor.digest);
      }
      assert.deepEqual(await collect(dst.tags(options())), ['v1']);
    });
  }

  it('copies only the image graph without referrers', async () => {
    const src = await OciLayout.open(join(NOTATION_LAYOUTS, 'e2e-valid-signature'));
    const dst = await freshLayout('no-referrers');
    const progress = recorder();
    await copy(src, 'v1', dst, 'v1', { ...options(), onProgress: progress.onProgress });
    assert.deepEqual(await digestsAt(dst), [
      'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      LAYER_DIGEST,
      SUBJECT_DIGEST,
    ]);
    assert.deepEqual(await collect(dst.referrers({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: SUBJECT_DIGEST, size: 517 }, options())), []);
    assert.equal(progress.events.filter((e) => e.type === 'referrer').length, 0);
  });

  it('fails with CopyError at the source when a source blob is corrupted, leaving the manifest uncopied', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sigil-copy-corrupt-'));
    temporaryRoots.push(dir);
    await cp(join(NOTATION_LAYOUTS, 'e2e-valid-signature'), join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'src', 'blobs', 'sha256', LAYER_DIGEST.slice(7)), 'awesome notatioN\n');
    const src = await OciLayout.open(join(dir, 'src'));
    const dst = await freshLayout('corrupt-dst');
    await assert.rejects(copy(src, 'v1', dst, 'v1', { ...options(), referrers: true }), (err: unknown) => {
      assert.ok(err instanceof CopyError, String(err));
      assert.equal(err.code, 'COPY_FAILED');
      assert.equal(err.side, 'source');
      assert.equal(err.descriptor?.digest, LAYER_DIGEST);
      assert.ok(err.cause instanceof DigestError);
      assert.equal(err.cause.code, 'DIGEST_MISMATCH');
      assert.match(err.message, /^copy sha256:6de5fe1f\w+ failed at source: /);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    const present = await digestsAt(dst);
    assert.ok(!present.includes(LAYER_DIGEST) && !present.includes(SUBJECT_DIGEST), `dst holds ${present.join(', ')}`);
    await assert.rejects(dst.resolve('v1', options()), { code: 'NOT_FOUND' });
  });

  it('fails with CopyError at the source when the source reference does not resolve', async () => {
    const src = await OciLayout.open(join(NOTATION_LAYOUTS, 'e2e'));
    const dst = await freshLayout('missing-ref');
    await assert.rejects(copy(src, 'v2', dst, 'v2', options()), (err: unknown) => {
      assert.ok(err instanceof CopyError);
      assert.equal(err.side, 'source');
      assert.equal(err.reference, 'v2');
      assert.equal(err.descriptor, undefined);
      assert.ok(err.cause instanceof ContentError && err.cause.code === 'NOT_FOUND');
      return true;
    });
  });
});

describe('copy of a multi-platform image with its referrers graph', () => {
  async function buildSource() {
    const src = await freshLayout('graph-src');
    const amd64 = await pushImage(src, 'amd64', { layers: 2 });
    const arm64 = await pushImage(src, 'arm64', { layers: 2 });
    const index = testIndex([
      { ...amd64.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
      { ...arm64.descriptor, platform: { architecture: 'arm64', os: 'linux' } },
    ]);
    await src.pushReference(index.descriptor, index.bytes, 'multi', options());
    const amd64Signature = await pushImage(src, 'amd64-signature', { subject: amd64.descriptor, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE });
    const arm64Signature = await pushImage(src, 'arm64-signature', { subject: arm64.descriptor, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE });
    const indexSbom = await pushImage(src, 'index-sbom', { subject: index.descriptor, artifactType: ARTIFACT_TYPE_SBOM });
    const signatureOfSignature = await pushImage(src, 'signature-of-signature', { subject: amd64Signature.descriptor, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE });
    const signatureOfSbom = await pushImage(src, 'signature-of-sbom', { subject: indexSbom.descriptor, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE });
    return { src, amd64, arm64, index, amd64Signature, arm64Signature, indexSbom, signatureOfSignature, signatureOfSbom };
  }

  it('copies both platform manifests, each signature, the index sbom and the signatures of signatures', async () => {
    const graph = await buildSource();
    const dst = await freshLayout('graph-dst');
    const progress = recorder();
    const root = await copy(graph.src, 'multi', dst, 'release', { ...options(), referrers: true, onProgress: progress.onProgress });
    assert.equal(root.digest, graph.index.descriptor.digest);
    assert.equal((await dst.resolve('release', options())).digest, graph.index.descriptor.digest);
    assert.deepEqual(await digestsAt(dst), await digestsAt(graph.src));
    const referrersOf = async (subject: TestContent) => (await collect(dst.referrers(subject.descriptor, options()))).map((d) => d.digest).sort();
    assert.deepEqual(await referrersOf(graph.amd64), [graph.amd64Signature.descriptor.digest]);
    assert.deepEqual(await referrersOf(graph.arm64), [graph.arm64Signature.descriptor.digest]);
    assert.deepEqual(await referrersOf(graph.index), [graph.indexSbom.descriptor.digest]);
    assert.deepEqual(await referrersOf(graph.amd64Signature), [graph.signatureOfSignature.descriptor.digest]);
    assert.deepEqual(await referrersOf(graph.indexSbom), [graph.signatureOfSbom.descriptor.digest]);
    const referrerEvents = progress.events.flatMap((e) => (e.type === 'referrer' ? [[e.subject.digest, e.descriptor.digest]] : []));
    assert.deepEqual(
      referrerEvents.sort(),
      [
        [graph.amd64.descriptor.digest, graph.amd64Signature.descriptor.digest],
        [graph.arm64.descriptor.digest, graph.arm64Signature.descriptor.digest],
        [graph.index.descriptor.digest, graph.indexSbom.descriptor.digest],
        [graph.amd64Signature.descriptor.digest, graph.signatureOfSignature.descriptor.digest],
        [graph.indexSbom.descriptor.digest, graph.signatureOfSbom.descriptor.digest],
      ].sort(),
    );
    // the empty config is shared by every manifest and still copied once
    const copiedTwice = progress.of('copied').filter((d, i, all) => all.indexOf(d) !== i);
    assert.deepEqual(copiedTwice, []);
  });

  it('skips what the destination already has and still copies referrers added since', async () => {
    const graph = await buildSource();
    const dst = await freshLayout('skip-dst');
    await copy(graph.src, 'multi', dst, 'multi', options());
    // a new signature arrives at the source after the first copy
    const late = await pushImage(graph.src, 'late-signature', { subject: graph.arm64.descriptor, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE });
    const progress = recorder();
    await copy(graph.src, 'multi', dst, 'multi', { ...options(), referrers: true, onProgress: progress.onProgress });
    assert.ok(progress.of('skipped').includes(graph.index.descriptor.digest), 'the index is skipped');
    assert.ok(progress.of('skipped').includes(graph.amd64.descriptor.digest), 'platform manifests are skipped');
    assert.ok(!progress.of('start').includes(graph.index.descriptor.digest));
    assert.ok(progress.of('copied').includes(late.descriptor.digest), 'the late signature is copied');
    assert.ok(progress.of('copied').includes(graph.signatureOfSignature.descriptor.digest));
    // and a third run transfers nothing at all
    const again = recorder();
    await copy(graph.src, 'multi', dst, 'multi', { ...options(), referrers: true, onProgress: again.onProgress });
    assert.deepEqual(again.of('start'), []);
    assert.deepEqual(again.of('copied'), []);
    assert.ok(again.of('skipped').includes(late.descriptor.digest));
  });

  it('stops at MAX_REFERRERS_DEPTH and survives a source that lists a cycle', async () => {
    const src = await freshLayout('deep-src');
    const image = await pushImage(src, 'deep-image');
    await src.tag(image.descriptor, 'v1', options());
    const chain: TestContent[] = [];
    let subject = image;
    for (let level = 1; level <= MAX_REFERRERS_DEPTH + 2; level++) {
      subject = await pushImage(src, `deep-${level}`, { subject: subject.descriptor, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE });
      chain.push(subject);
    }
    // A source that also lists each subject as its own referrer, and the image as everyone's.
    const cyclic: ReadOnlyTarget & ReferrerLister = {
      fetch: (desc, opts) => src.fetch(desc, opts),
      exists: (desc, opts) => src.exists(desc, opts),
      resolve: (reference, opts) => src.resolve(reference, opts),
      async *referrers(of: Descriptor, opts: ReferrersOptions) {
        yield* src.referrers(of, opts);
        yield of;
        yield image.descriptor;
      },
    };
    const dst = await freshLayout('deep-dst');
    await copy(cyclic, 'v1', dst, 'v1', { ...options(), referrers: true });
    for (const [i, referrer] of chain.entries()) {
      const level = i + 1;
      assert.equal(await dst.exists(referrer.descriptor, options()), level <= MAX_REFERRERS_DEPTH, `level ${level}`);
    }
  });
});

describe('copy concurrency, skipping and cancellation', () => {
  async function wideImage(label: string, layers: number) {
    const src = await freshLayout(label);
    const manifest = await pushImage(src, label, { layers, layerSize: 4096 });
    await src.tag(manifest.descriptor, 'wide', options());
    return { src, manifest };
  }

  for (const concurrency of [1, 3, undefined]) {
    it(`keeps at most ${concurrency ?? `the default ${DEFAULT_COPY_CONCURRENCY}`} transfers in flight`, async () => {
      const { src, manifest } = await wideImage(`wide-${concurrency ?? 'default'}`, 12);
      const dst = new InstrumentedStorage(await freshLayout('wide-dst'), 15);
      await copyGraph(src, dst, manifest.descriptor, { ...options(), ...(concurrency === undefined ? {} : { concurrency }) });
      const bound = concurrency ?? DEFAULT_COPY_CONCURRENCY;
      assert.equal(dst.pushes.length, 14, 'config, 12 layers and the manifest');
      assert.ok(dst.maxInFlightPushes <= bound, `max ${dst.maxInFlightPushes} pushes in flight`);
      assert.ok(dst.maxInFlightCalls <= bound, `max ${dst.maxInFlightCalls} calls in flight`);
      assert.equal(dst.maxInFlightPushes, bound, 'and uses the slots it has');
      assert.equal(dst.pushes.at(-1), manifest.descriptor.digest, 'the manifest goes last');
    });
  }

  it('copies a blob reached twice only once and emits skipped for what the destination has', async () => {
    const { src, manifest } = await wideImage('dedupe', 3);
    const dstLayout = await freshLayout('dedupe-dst');
    const config = emptyJson();
    await dstLayout.push(config.descriptor, config.bytes, options());
    const dst = new InstrumentedStorage(dstLayout);
    const progress = recorder();
    await copyGraph(src, dst, manifest.descriptor, { ...options(), onProgress: progress.onProgress });
    assert.deepEqual(progress.of('skipped'), [config.descriptor.digest]);
    assert.equal(new Set(dst.pushes).size, dst.pushes.length);
    assert.equal(dst.pushes.length, 4);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const { src } = await wideImage('pre-aborted', 1);
    const dst = await freshLayout('pre-aborted-dst');
    const controller = new AbortController();
    controller.abort(new Error('stopped by the user'));
    await assert.rejects(copy(src, 'wide', dst, 'wide', { signal: controller.signal }), /stopped by the user/);
    assert.deepEqual(await digestsAt(dst), []);
  });

  it('rejects with the signal reason when aborted mid-copy and starts no more transfers', async () => {
    const { src, manifest } = await wideImage('mid-abort', 12);
    const dst = new InstrumentedStorage(await freshLayout('mid-abort-dst'), 50);
    const controller = new AbortController();
    const reason = new Error('cancelled');
    dst.onPush = () => {
      if (dst.pushes.length === 2) controller.abort(reason);
    };
    const started = Date.now();
    await assert.rejects(copyGraph(src, dst, manifest.descriptor, { signal: controller.signal, concurrency: 2 }), (err: unknown) => err === reason);
    assert.ok(Date.now() - started < 2000, 'promptly');
    assert.equal(dst.pushes.length, 2);
    assert.equal(dst.inFlightCalls, 0, 'nothing left running');
  });

  it('fails with CopyError at the destination when a push fails', async () => {
    const { src, manifest } = await wideImage('dst-fails', 3);
    const failing = new InstrumentedStorage(await freshLayout('dst-fails-dst'));
    const broken = manifest.descriptor;
    failing.onPush = (desc) => {
      if (desc.digest === broken.digest) throw new ContentError('IO_FAILED', 'disk full');
    };
    await assert.rejects(copyGraph(src, failing, manifest.descriptor, options()), (err: unknown) => {
      assert.ok(err instanceof CopyError);
      assert.equal(err.side, 'destination');
      assert.equal(err.descriptor?.digest, broken.digest);
      assert.equal(err.message, `copy ${broken.digest} failed at destination: disk full`);
      return true;
    });
  });
});
