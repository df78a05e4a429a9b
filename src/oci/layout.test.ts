import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  chunked,
  collect,
  describeTargetConformance,
  emptyJson,
  readAll,
  testBlob,
  testIndex,
  testManifest,
  type TestContent,
} from '../../test/support/target-conformance.js';
import { ContentError, DigestError, LayoutError, ReferenceSyntaxError } from './errors.js';
import { ANNOTATION_REF_NAME, OciLayout, decodeLayoutIndex, decodeOciLayoutFile, encodeLayoutIndex } from './layout.js';
import { MEDIA_TYPE_IMAGE_INDEX, MEDIA_TYPE_IMAGE_MANIFEST, MEDIA_TYPE_NOTARY_SIGNATURE } from './mediatype.js';
import { referrersTag } from './referrers.js';
import { NOTATION_LAYOUTS } from '../../test/support/shared.js';

const SUBJECT_DIGEST = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
const VALID_SIGNATURE_DIGEST = 'sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f';
const SIGNATURE_BY_LAYOUT: Readonly<Record<string, string | undefined>> = {
  e2e: undefined,
  'e2e-valid-signature': VALID_SIGNATURE_DIGEST,
  'e2e-invalid-signature': 'sha256:321fcc674d6771dd0e5bd21e599f2df3a482de99a400fd3a3fe371221b97a9c9',
  'e2e-expired-signature': 'sha256:3829708badae8e4b14e1adbc2fac7182bc0c27c5b6f54153e8b68a12eab10a1e',
};

const execFileAsync = promisify(execFile);
const options = () => ({ signal: AbortSignal.timeout(60_000) });
const temporaryRoots: string[] = [];

async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `sigil-layout-${label}-`));
  temporaryRoots.push(dir);
  return dir;
}

async function freshLayout(label: string): Promise<OciLayout> {
  return OciLayout.open(join(await tempDir(label), 'layout'), { create: true });
}

/** A writable copy of a Notation layout (the shared originals are read only). */
async function copyOfNotationLayout(name: string): Promise<string> {
  const dir = join(await tempDir(name), name);
  await cp(join(NOTATION_LAYOUTS, name), dir, { recursive: true });
  return dir;
}

async function readIndexEntries(root: string) {
  return decodeLayoutIndex(await readFile(join(root, 'index.json'))).manifests;
}

async function editIndex(root: string, edit: (entries: ReturnType<typeof decodeLayoutIndex>['manifests']) => unknown[]): Promise<void> {
  const entries = await readIndexEntries(root);
  await writeFile(join(root, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: edit(entries) }));
}

function isCode(errorClass: new (...args: never[]) => Error, code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof errorClass, `expected ${errorClass.name}, got ${String(err)}`);
    assert.equal((err as { code?: unknown }).code, code, String(err));
    return true;
  };
}

async function pushAll(layout: OciLayout, ...contents: TestContent[]): Promise<void> {
  for (const content of contents) await layout.push(content.descriptor, content.bytes, options());
}

after(async () => {
  await Promise.all(temporaryRoots.map((dir) => rm(dir, { recursive: true, force: true })));
});

describeTargetConformance('OciLayout', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sigil-layout-conformance-'));
  return { target: await OciLayout.open(root, { create: true }), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('OciLayout on Notation-made layouts', () => {
  for (const [name, signature] of Object.entries(SIGNATURE_BY_LAYOUT)) {
    it(`opens ${name} read only and resolves v1 and its referrers`, async () => {
      const root = join(NOTATION_LAYOUTS, name);
      const before = await readdir(root, { recursive: true });
      const layout = await OciLayout.open(root);
      const v1 = await layout.resolve('v1', options());
      assert.deepEqual(v1, { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: SUBJECT_DIGEST, size: 517 });
      const referrers = await collect(layout.referrers(v1, options()));
      assert.deepEqual(
        referrers.map((r) => r.digest),
        signature === undefined ? [] : [signature],
      );
      for (const referrer of referrers) assert.equal(referrer.artifactType, MEDIA_TYPE_NOTARY_SIGNATURE);
      assert.deepEqual(await readdir(root, { recursive: true }), before, 'nothing written');
    });
  }

  it('finds the e2e-valid-signature signature once, with the Notation artifact type and annotations', async () => {
    const layout = await OciLayout.open(join(NOTATION_LAYOUTS, 'e2e-valid-signature'));
    const subject = await layout.resolve('v1', options());
    const [signature, ...rest] = await collect(layout.referrers(subject, options()));
    assert.deepEqual(rest, []);
    assert.equal(signature?.digest, VALID_SIGNATURE_DIGEST);
    assert.equal(signature?.mediaType, MEDIA_TYPE_IMAGE_MANIFEST);
    assert.equal(signature?.size, 728);
    assert.equal(signature?.artifactType, MEDIA_TYPE_NOTARY_SIGNATURE);
    assert.equal(signature?.annotations?.['org.opencontainers.image.created'], '2023-06-27T05:30:33Z');
    const filtered = await collect(layout.referrers(subject, { ...options(), artifactType: MEDIA_TYPE_NOTARY_SIGNATURE }));
    assert.deepEqual(filtered.map((r) => r.digest), [VALID_SIGNATURE_DIGEST]);
    assert.deepEqual(await collect(layout.referrers(subject, { ...options(), artifactType: 'application/vnd.example.other' })), []);
  });

  it('finds the signature by subject scan alone when the referrers tag is gone', async () => {
    const root = await copyOfNotationLayout('e2e-valid-signature');
    await editIndex(root, (entries) => entries.filter((e) => e.annotations?.[ANNOTATION_REF_NAME] !== referrersTag(SUBJECT_DIGEST)));
    const layout = await OciLayout.open(root);
    const referrers = await collect(layout.referrers(await layout.resolve('v1', options()), options()));
    assert.deepEqual(referrers.map((r) => [r.digest, r.artifactType]), [[VALID_SIGNATURE_DIGEST, MEDIA_TYPE_NOTARY_SIGNATURE]]);
  });

  it('finds the signature by the referrers tag schema alone when its untagged entry is gone', async () => {
    const root = await copyOfNotationLayout('e2e-valid-signature');
    await editIndex(root, (entries) => entries.filter((e) => e.digest !== VALID_SIGNATURE_DIGEST));
    const layout = await OciLayout.open(root);
    const referrers = await collect(layout.referrers(await layout.resolve('v1', options()), options()));
    assert.deepEqual(referrers.map((r) => [r.digest, r.artifactType]), [[VALID_SIGNATURE_DIGEST, MEDIA_TYPE_NOTARY_SIGNATURE]]);
  });

  it('resolves a digest from index.json, or from the blobs by reading the manifest', async () => {
    const root = await copyOfNotationLayout('e2e-valid-signature');
    const original = await OciLayout.open(join(NOTATION_LAYOUTS, 'e2e-valid-signature'));
    assert.deepEqual(await original.resolve(VALID_SIGNATURE_DIGEST, options()), { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: VALID_SIGNATURE_DIGEST, size: 728 });
    await editIndex(root, () => []);
    const layout = await OciLayout.open(root);
    assert.deepEqual(await layout.resolve(VALID_SIGNATURE_DIGEST, options()), { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: VALID_SIGNATURE_DIGEST, size: 728 });
    // a layer is a blob, not a manifest
    await assert.rejects(layout.resolve('sha256:6de5fe1f75e4b1094c98086f403d5fd8117776ebe5aad1609281403d13dea070', options()), isCode(ContentError, 'NOT_FOUND'));
    await assert.rejects(layout.resolve('v1', options()), (err: unknown) => {
      isCode(ContentError, 'NOT_FOUND')(err);
      assert.match((err as Error).message, new RegExp(`${root}.*v1`));
      return true;
    });
  });

  it('rejects a stored blob whose bytes were altered while it is read', async () => {
    const root = await copyOfNotationLayout('e2e-valid-signature');
    const layerPath = join(root, 'blobs/sha256/6de5fe1f75e4b1094c98086f403d5fd8117776ebe5aad1609281403d13dea070');
    await writeFile(layerPath, 'awesome notatioN\n');
    const layout = await OciLayout.open(root);
    const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: 'sha256:6de5fe1f75e4b1094c98086f403d5fd8117776ebe5aad1609281403d13dea070', size: 17 };
    await assert.rejects(async () => readAll(await layout.fetch(desc, options())), isCode(DigestError, 'DIGEST_MISMATCH'));
  });

  it('deletes a signature from index.json, its referrers index and the blobs', async () => {
    const root = await copyOfNotationLayout('e2e-valid-signature');
    const layout = await OciLayout.open(root);
    const subject = await layout.resolve('v1', options());
    const [signature] = await collect(layout.referrers(subject, options()));
    assert.ok(signature);
    await layout.delete(signature, options());
    assert.deepEqual(await collect(layout.referrers(subject, options())), []);
    assert.equal(await layout.exists(signature, options()), false);
    assert.deepEqual(await collect(layout.tags(options())), ['v1'], 'the emptied referrers index loses its tag');
    await assert.rejects(layout.delete(signature, options()), isCode(ContentError, 'NOT_FOUND'));
  });
});

describe('OciLayout.open', () => {
  let base: string;
  before(async () => {
    base = await tempDir('open');
  });

  async function layoutDir(name: string, files: Record<string, string>): Promise<string> {
    const dir = join(base, name);
    await mkdir(join(dir, 'blobs'), { recursive: true });
    for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
    return dir;
  }
  const goodMarker = '{"imageLayoutVersion":"1.0.0"}';
  const goodIndex = '{"schemaVersion":2,"manifests":[]}';

  const invalid: ReadonlyArray<[string, Record<string, string>, RegExp]> = [
    ['missing oci-layout', { 'index.json': goodIndex }, /oci-layout: missing/],
    ['wrong layout version', { 'oci-layout': '{"imageLayoutVersion":"2.0.0"}', 'index.json': goodIndex }, /imageLayoutVersion "2.0.0"/],
    ['oci-layout not JSON', { 'oci-layout': 'imageLayoutVersion=1.0.0', 'index.json': goodIndex }, /oci-layout: not valid UTF-8 JSON/],
    ['missing index.json', { 'oci-layout': goodMarker }, /index.json: missing/],
    ['index.json not JSON', { 'oci-layout': goodMarker, 'index.json': '{"schemaVersion":2,' }, /index.json: not valid UTF-8 JSON/],
    ['index.json schemaVersion 1', { 'oci-layout': goodMarker, 'index.json': '{"schemaVersion":1,"manifests":[]}' }, /schemaVersion must be 2/],
    ['index.json without manifests', { 'oci-layout': goodMarker, 'index.json': '{"schemaVersion":2}' }, /manifests must be an array/],
    ['index.json with a manifest media type', { 'oci-layout': goodMarker, 'index.json': `{"schemaVersion":2,"mediaType":"${MEDIA_TYPE_IMAGE_MANIFEST}","manifests":[]}` }, /mediaType/],
    [
      'index.json with a bad descriptor',
      { 'oci-layout': goodMarker, 'index.json': '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:abc","size":1}]}' },
      /manifests\[0\]\.digest/,
    ],
  ];
  for (const [label, files, message] of invalid) {
    it(`rejects a layout with ${label} as LAYOUT_INVALID naming the path`, async () => {
      const dir = await layoutDir(label.replaceAll(' ', '-'), files);
      await assert.rejects(OciLayout.open(dir), (err: unknown) => {
        isCode(LayoutError, 'LAYOUT_INVALID')(err);
        assert.ok((err as Error).message.includes(dir), (err as Error).message);
        assert.match((err as Error).message, message);
        return true;
      });
    });
  }

  it('rejects a missing directory unless asked to create it', async () => {
    const dir = join(base, 'absent');
    await assert.rejects(OciLayout.open(dir), isCode(LayoutError, 'LAYOUT_INVALID'));
    const layout = await OciLayout.open(dir, { create: true });
    assert.equal(layout.root, dir);
    assert.deepEqual(decodeOciLayoutFile(await readFile(join(dir, 'oci-layout'))), { imageLayoutVersion: '1.0.0' });
    assert.deepEqual(decodeLayoutIndex(await readFile(join(dir, 'index.json'))).manifests, []);
    assert.deepEqual((await readdir(dir)).sort(), ['blobs', 'index.json', 'oci-layout']);
    await OciLayout.open(dir); // and it opens again without create
  });

  it('keeps an existing index.json when opened with create', async () => {
    const root = await copyOfNotationLayout('e2e');
    const layout = await OciLayout.open(root, { create: true });
    assert.equal((await layout.resolve('v1', options())).digest, SUBJECT_DIGEST);
  });

  it('round-trips index.json through the codec with mediaType added', () => {
    const entries = [{ mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: SUBJECT_DIGEST, size: 517, annotations: { [ANNOTATION_REF_NAME]: 'v1' } }];
    const decoded = decodeLayoutIndex(encodeLayoutIndex({ manifests: entries }));
    assert.equal(decoded.mediaType, MEDIA_TYPE_IMAGE_INDEX);
    assert.deepEqual(decoded.manifests, entries);
  });
});

describe('OciLayout index.json bookkeeping', () => {
  const config = emptyJson();
  const image = (label: string, extra: Parameters<typeof testManifest>[2] = {}) => {
    const layer = testBlob(label, 100);
    return { layer, manifest: testManifest(config.descriptor, [layer.descriptor], extra) };
  };

  it('records a pushed manifest with a subject as an untagged index.json entry', async () => {
    const layout = await freshLayout('untagged');
    const subject = image('subject');
    const signature = image('signature', { subject: subject.manifest.descriptor, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE });
    await pushAll(layout, config, subject.layer, subject.manifest, signature.layer, signature.manifest);
    await layout.tag(subject.manifest.descriptor, 'v1', options());
    const entries = await readIndexEntries(layout.root);
    assert.deepEqual(
      entries.map((e) => [e.digest, e.annotations?.[ANNOTATION_REF_NAME]]),
      [
        [signature.manifest.descriptor.digest, undefined],
        [subject.manifest.descriptor.digest, 'v1'],
      ],
    );
  });

  it('drops the untagged entries of platform manifests once their index is pushed', async () => {
    const layout = await freshLayout('index');
    const amd64 = image('amd64');
    const arm64 = image('arm64');
    const index = testIndex([amd64.manifest.descriptor, arm64.manifest.descriptor]);
    await pushAll(layout, config, amd64.layer, arm64.layer, amd64.manifest, arm64.manifest);
    assert.equal((await readIndexEntries(layout.root)).length, 2);
    await layout.pushReference(index.descriptor, index.bytes, 'multi', options());
    assert.deepEqual(
      (await readIndexEntries(layout.root)).map((e) => [e.digest, e.annotations?.[ANNOTATION_REF_NAME]]),
      [[index.descriptor.digest, 'multi']],
    );
  });

  it('keeps a manifest reachable as an untagged entry when its tag moves away', async () => {
    const layout = await freshLayout('retag');
    const first = image('first');
    const second = image('second');
    await pushAll(layout, config, first.layer, second.layer);
    await layout.pushReference(first.manifest.descriptor, first.manifest.bytes, 'latest', options());
    await layout.pushReference(second.manifest.descriptor, second.manifest.bytes, 'latest', options());
    const entries = await readIndexEntries(layout.root);
    assert.deepEqual(
      entries.map((e) => [e.digest, e.annotations?.[ANNOTATION_REF_NAME]]).sort(),
      [
        [first.manifest.descriptor.digest, undefined],
        [second.manifest.descriptor.digest, 'latest'],
      ].sort(),
    );
  });

  it('rejects tags that are not tags and tagging content it does not hold', async () => {
    const layout = await freshLayout('bad-tag');
    const { layer, manifest } = image('bad-tag');
    await pushAll(layout, config, layer, manifest);
    await assert.rejects(layout.tag(manifest.descriptor, 'bad tag', options()), isCode(ReferenceSyntaxError, 'REFERENCE_INVALID'));
    await assert.rejects(layout.tag(manifest.descriptor, '', options()), isCode(ReferenceSyntaxError, 'REFERENCE_INVALID'));
    const absent = image('absent').manifest;
    await assert.rejects(layout.tag(absent.descriptor, 'v1', options()), isCode(ContentError, 'NOT_FOUND'));
  });

  it('rejects pushing a manifest that does not decode, storing nothing', async () => {
    const layout = await freshLayout('bad-manifest');
    const bytes = new TextEncoder().encode('{"schemaVersion":2,"config":{}}');
    const desc = { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: (await import('./digest.js')).digestOf(bytes), size: bytes.byteLength };
    await assert.rejects(layout.push(desc, bytes, options()), (err: unknown) => (err as { code?: string }).code === 'DESCRIPTOR_INVALID' || (err as { code?: string }).code === 'MANIFEST_INVALID');
    assert.equal(await layout.exists(desc, options()), false);
    assert.deepEqual(await readIndexEntries(layout.root), []);
  });
});

describe('OciLayout under concurrency and failure', () => {
  const config = emptyJson();
  const layer = testBlob('concurrency', 64);
  const manifest = testManifest(config.descriptor, [layer.descriptor]);

  it('keeps every tag when 50 tag() calls race in one process', async () => {
    const layout = await freshLayout('tags-one-process');
    await pushAll(layout, config, layer, manifest);
    const names = Array.from({ length: 50 }, (_, i) => `parallel-${String(i).padStart(2, '0')}`);
    // Two layout objects over one directory: the lock file, not only the in-process queue, must serialize them.
    const twin = await OciLayout.open(layout.root);
    await Promise.all(names.map((name, i) => (i % 2 === 0 ? layout : twin).tag(manifest.descriptor, name, options())));
    assert.deepEqual(await collect(layout.tags(options())), names);
    await assert.rejects(readFile(join(layout.root, 'index.json.lock')), { code: 'ENOENT' });
  });

  it('keeps every tag when two child processes and this one tag concurrently', async () => {
    const layout = await freshLayout('tags-processes');
    await pushAll(layout, config, layer, manifest);
    const moduleUrl = new URL('./layout.js', import.meta.url).href;
    const script = `
      const [moduleUrl, root, prefix, digest, size, mediaType] = process.argv.slice(1);
      const { OciLayout } = await import(moduleUrl);
      const layout = await OciLayout.open(root);
      const desc = { mediaType, digest, size: Number(size) };
      const signal = AbortSignal.timeout(60000);
      await Promise.all(Array.from({ length: 50 }, (_, i) => layout.tag(desc, prefix + '-' + String(i).padStart(2, '0'), { signal })));
    `;
    const child = (prefix: string) =>
      execFileAsync(process.execPath, ['--input-type=module', '-e', script, moduleUrl, layout.root, prefix, manifest.descriptor.digest, String(manifest.descriptor.size), MEDIA_TYPE_IMAGE_MANIFEST], {
        timeout: 60_000,
      });
    const here = Promise.all(Array.from({ length: 50 }, (_, i) => layout.tag(manifest.descriptor, `parent-${String(i).padStart(2, '0')}`, options())));
    await Promise.all([child('alpha'), child('beta'), here]);
    const tags = await collect(layout.tags(options()));
    assert.equal(tags.length, 150);
    for (const prefix of ['alpha', 'beta', 'parent']) assert.equal(tags.filter((t) => t.startsWith(`${prefix}-`)).length, 50, prefix);
    assert.equal(fileURLToPath(moduleUrl).endsWith('layout.js'), true);
  });

  it('breaks a lock file left behind by a writer that died', async () => {
    const layout = await freshLayout('stale-lock');
    await pushAll(layout, config, layer, manifest);
    const lockPath = join(layout.root, 'index.json.lock');
    await writeFile(lockPath, 'dead-writer');
    const { utimes } = await import('node:fs/promises');
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath, old, old);
    await layout.tag(manifest.descriptor, 'after-crash', options());
    assert.deepEqual(await collect(layout.tags(options())), ['after-crash']);
  });

  it('waits for a live lock and gives up when the signal aborts', async () => {
    const layout = await freshLayout('live-lock');
    await pushAll(layout, config, layer, manifest);
    await writeFile(join(layout.root, 'index.json.lock'), 'live-writer');
    await assert.rejects(layout.tag(manifest.descriptor, 'blocked', { signal: AbortSignal.timeout(200) }), { name: 'TimeoutError' });
    await rm(join(layout.root, 'index.json.lock'));
    await layout.tag(manifest.descriptor, 'unblocked', options());
    assert.deepEqual(await collect(layout.tags(options())), ['unblocked']);
  });

  it('leaves no file behind when a streamed push fails its digest check', async () => {
    const layout = await freshLayout('mismatch');
    const claimed = testBlob('claimed', 512 * 1024);
    const actual = testBlob('actual', 512 * 1024);
    await assert.rejects(layout.push(claimed.descriptor, chunked(actual.bytes, 64 * 1024), options()), isCode(DigestError, 'DIGEST_MISMATCH'));
    await assert.rejects(layout.push(claimed.descriptor, chunked(actual.bytes.subarray(1), 64 * 1024), options()), isCode(DigestError, 'SIZE_MISMATCH'));
    assert.deepEqual(await readdir(join(layout.root, 'blobs', 'sha256')), []);
  });

  it('leaves no file behind when a push is aborted mid-stream', async () => {
    const layout = await freshLayout('abort');
    const blob = testBlob('aborted', 512 * 1024);
    const controller = new AbortController();
    async function* slow() {
      let sent = 0;
      for await (const chunk of chunked(blob.bytes, 64 * 1024)) {
        if ((sent += chunk.byteLength) > 128 * 1024) controller.abort();
        yield chunk;
      }
    }
    await assert.rejects(layout.push(blob.descriptor, slow(), { signal: controller.signal }), { name: 'AbortError' });
    assert.deepEqual(await readdir(join(layout.root, 'blobs', 'sha256')), []);
  });
});
