// Repository against Debian's docker-registry (the Distribution registry, no referrers API): the
// shared target conformance suite, the referrers tag schema as distribution-spec v1.1.1 describes
// it, chunked uploads, cross-repository mounts and tag pagination.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startDockerRegistry, type RunningRegistry } from '../../test/support/docker-registry.js';
import {
  chunked,
  collect,
  describeTargetConformance,
  emptyJson,
  readAll,
  testBlob,
  testJson,
  testManifest,
  type TestContent,
} from '../../test/support/target-conformance.js';
import {
  copy,
  digestOf,
  MEDIA_TYPE_IMAGE_CONFIG,
  MEDIA_TYPE_IMAGE_INDEX,
  MEDIA_TYPE_NOTARY_SIGNATURE,
  referrersTag,
  type CopyEvent,
  type Descriptor,
} from '../oci/index.js';
import { RegistryClient } from './client.js';
import { RegistryError } from './errors.js';
import { parseNextLink, type Repository } from './repository.js';

let registry: RunningRegistry;
const clients: RegistryClient[] = [];

before(async () => {
  registry = await startDockerRegistry();
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await registry?.stop();
});

function client(options: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient {
  const made = new RegistryClient(options);
  clients.push(made);
  return made;
}

let repositories = 0;
/** A fresh repository name, so tests do not see each other's content. */
function freshName(label: string): string {
  return `sigil-test/${label}-${++repositories}`;
}

describeTargetConformance('Repository on docker-registry (auto: probes, falls back to the tag schema)', async () => ({
  target: client().repository(registry.host, freshName('conformance-auto')),
  cleanup: async () => {},
}));

describeTargetConformance('Repository on docker-registry (tag schema forced)', async () => ({
  target: client().repository(registry.host, freshName('conformance-tag'), { referrersCapability: 'tag-schema' }),
  cleanup: async () => {},
}));

describeTargetConformance('Repository on docker-registry (small chunks: every big blob goes through PATCH)', async () => ({
  target: client({ repository: { monolithicUploadMaxBytes: 1024, uploadChunkBytes: 100_000 } }).repository(registry.host, freshName('conformance-chunked')),
  cleanup: async () => {},
}));

const opts = () => ({ signal: AbortSignal.timeout(30_000) });

async function pushAll(repo: Repository, ...contents: TestContent[]): Promise<void> {
  for (const c of contents) await repo.push(c.descriptor, c.bytes, opts());
}

async function pushImage(repo: Repository, label: string): Promise<TestContent> {
  const config = testJson(MEDIA_TYPE_IMAGE_CONFIG, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, label });
  const layer = testBlob(`${label}/layer`, 512);
  const manifest = testManifest(config.descriptor, [layer.descriptor]);
  await pushAll(repo, config, layer, manifest);
  return manifest;
}

/**
 * A Notation 1.x style signature manifest (config.mediaType says what it is) whose subject is
 * `subject`. `configPushed` leaves out the shared config blob, for callers that pushed it already.
 */
async function pushSignature(repo: Repository, label: string, subject: Descriptor, { configPushed = false } = {}): Promise<TestContent> {
  const config = emptyJson(MEDIA_TYPE_NOTARY_SIGNATURE);
  const envelope = testBlob(`${label}/envelope`, 300, 'application/jose+json');
  const manifest = testManifest(config.descriptor, [envelope.descriptor], { subject, annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': `["${label}"]` } });
  await pushAll(repo, ...(configPushed ? [] : [config]), envelope, manifest);
  return manifest;
}

/** The referrers index under the tag schema, read straight from the registry's HTTP API. */
async function tagSchemaIndex(repository: string, subject: Descriptor): Promise<{ status: number; index?: { mediaType: string; manifests: Descriptor[] } }> {
  const response = await fetch(`http://${registry.host}/v2/${repository}/manifests/${referrersTag(subject.digest)}`, { headers: { accept: MEDIA_TYPE_IMAGE_INDEX } });
  if (response.status !== 200) {
    await response.arrayBuffer();
    return { status: response.status };
  }
  return { status: 200, index: (await response.json()) as { mediaType: string; manifests: Descriptor[] } };
}

describe('the referrers tag schema on a registry without the referrers API', () => {
  it('learns from a 404 that the registry has no referrers API', async () => {
    const repo = client().repository(registry.host, freshName('probe'));
    const subject = await pushImage(repo, 'probe');
    assert.equal(repo.referrersApi, undefined);
    assert.deepEqual(await collect(repo.referrers(subject.descriptor, opts())), []);
    assert.equal(repo.referrersApi, false);
  });

  it('adds each pushed referrer to the sha256-<hex> index with artifactType and annotations copied in', async () => {
    const name = freshName('add');
    const repo = client().repository(registry.host, name);
    const subject = await pushImage(repo, 'add-subject');
    const first = await pushSignature(repo, 'add-first', subject.descriptor);
    const second = await pushSignature(repo, 'add-second', subject.descriptor);
    const { index } = await tagSchemaIndex(name, subject.descriptor);
    assert.equal(index?.mediaType, MEDIA_TYPE_IMAGE_INDEX);
    assert.deepEqual(index?.manifests.map((m) => m.digest), [first.descriptor.digest, second.descriptor.digest]);
    for (const entry of index?.manifests ?? []) {
      assert.equal(entry.artifactType, MEDIA_TYPE_NOTARY_SIGNATURE, 'config.mediaType becomes the artifactType');
      assert.ok(entry.annotations?.['io.cncf.notary.x509chain.thumbprint#S256'], 'annotations are copied');
    }
  });

  it('does not add an entry twice when the same referrer is pushed again', async () => {
    const name = freshName('dedupe');
    const repo = client().repository(registry.host, name);
    const subject = await pushImage(repo, 'dedupe-subject');
    const signature = await pushSignature(repo, 'dedupe', subject.descriptor);
    await repo.push(signature.descriptor, signature.bytes, opts());
    const { index } = await tagSchemaIndex(name, subject.descriptor);
    assert.deepEqual(index?.manifests.map((m) => m.digest), [signature.descriptor.digest]);
  });

  it('deletes the superseded index so no untagged index is left behind', async () => {
    const name = freshName('superseded');
    const repo = client().repository(registry.host, name);
    const subject = await pushImage(repo, 'superseded-subject');
    await pushSignature(repo, 'superseded-first', subject.descriptor);
    const before = await repo.resolve(referrersTag(subject.descriptor.digest), opts());
    await pushSignature(repo, 'superseded-second', subject.descriptor);
    assert.equal(await repo.exists(before, opts()), false, 'the first index is gone');
  });

  it('keeps every entry when referrers of one subject are pushed concurrently from one process', async () => {
    const name = freshName('concurrent');
    const repo = client().repository(registry.host, name);
    const subject = await pushImage(repo, 'concurrent-subject');
    // The shared config goes first, once: docker-registry rewrites a blob's link file in place on
    // every commit, so a manifest PUT racing a second commit of the same blob can read an empty
    // link and answer DIGEST_INVALID. That is the peer's race, not what this test is about.
    await pushAll(repo, emptyJson(MEDIA_TYPE_NOTARY_SIGNATURE));
    const signatures = await Promise.all(Array.from({ length: 8 }, (_, i) => pushSignature(repo, `concurrent-${i}`, subject.descriptor, { configPushed: true })));
    const { index } = await tagSchemaIndex(name, subject.descriptor);
    assert.deepEqual(index?.manifests.map((m) => m.digest).sort(), signatures.map((s) => s.descriptor.digest).sort());
  });

  it('removes a deleted referrer from the index, and the tag with the last one', async () => {
    const name = freshName('remove');
    const repo = client().repository(registry.host, name);
    const subject = await pushImage(repo, 'remove-subject');
    const first = await pushSignature(repo, 'remove-first', subject.descriptor);
    const second = await pushSignature(repo, 'remove-second', subject.descriptor);
    await repo.delete(first.descriptor, opts());
    assert.deepEqual((await tagSchemaIndex(name, subject.descriptor)).index?.manifests.map((m) => m.digest), [second.descriptor.digest]);
    await repo.delete(second.descriptor, opts());
    assert.equal((await tagSchemaIndex(name, subject.descriptor)).status, 404);
    assert.deepEqual(await collect(repo.referrers(subject.descriptor, opts())), []);
  });

  it('lists referrers kept by the tag schema through a fresh repository that never pushed them', async () => {
    const name = freshName('fresh-reader');
    const writer = client().repository(registry.host, name);
    const subject = await pushImage(writer, 'fresh-subject');
    const signature = await pushSignature(writer, 'fresh-signature', subject.descriptor);
    const reader = client().repository(registry.host, name);
    const listed = await collect(reader.referrers(subject.descriptor, { ...opts(), artifactType: MEDIA_TYPE_NOTARY_SIGNATURE }));
    assert.deepEqual(listed.map((d) => d.digest), [signature.descriptor.digest]);
  });

  it('refuses a referrers tag that holds something other than an image index', async () => {
    const name = freshName('squatted');
    const repo = client().repository(registry.host, name);
    const subject = await pushImage(repo, 'squatted-subject');
    const squatter = await pushImage(repo, 'squatter');
    await repo.tag(squatter.descriptor, referrersTag(subject.descriptor.digest), opts());
    await assert.rejects(collect(repo.referrers(subject.descriptor, opts())), (err: unknown) => err instanceof RegistryError && err.code === 'RESPONSE_INVALID');
  });
});

describe('uploads', () => {
  it('streams a blob larger than the monolithic limit in PATCH chunks and commits it', async () => {
    const repo = client({ repository: { monolithicUploadMaxBytes: 64 * 1024, uploadChunkBytes: 300_000 } }).repository(registry.host, freshName('chunks'));
    const blob = testBlob('chunked-upload', 1_000_003);
    await repo.push(blob.descriptor, chunked(blob.bytes, 65_536), opts());
    assert.equal(digestOf(await readAll(await repo.fetch(blob.descriptor, opts()))), blob.descriptor.digest);
  });

  it('fails a chunked upload whose bytes turn out wrong, and nothing is committed', async () => {
    const repo = client({ repository: { monolithicUploadMaxBytes: 1024, uploadChunkBytes: 50_000 } }).repository(registry.host, freshName('chunks-bad'));
    const claimed = testBlob('chunked-claimed', 200_000);
    const actual = testBlob('chunked-actual', 200_000);
    await assert.rejects(repo.push(claimed.descriptor, chunked(actual.bytes, 10_000), opts()), (err: unknown) => err instanceof RegistryError && err.code === 'DIGEST_INVALID');
    assert.equal(await repo.exists(claimed.descriptor, opts()), false);
  });

  it('mounts a blob from another repository of the same registry', async () => {
    const c = client();
    const source = c.repository(registry.host, freshName('mount-from'));
    const blob = testBlob('mounted', 4096);
    await source.push(blob.descriptor, blob.bytes, opts());
    const destination = c.repository(registry.host, freshName('mount-to'));
    assert.equal(await destination.mount(blob.descriptor, source.repository, opts()), true);
    assert.equal(await destination.exists(blob.descriptor, opts()), true);
  });

  it('copies between repositories of one registry by mounting blobs, not transferring them', async () => {
    const c = client();
    const source = c.repository(registry.host, freshName('copy-mount-src'));
    const image = await pushImage(source, 'copy-mount');
    await source.tag(image.descriptor, 'v1', opts());
    const destination = c.repository(registry.host, freshName('copy-mount-dst'));
    const events: CopyEvent[] = [];
    await copy(source, 'v1', destination, 'v1', { ...opts(), onProgress: (e) => events.push(e) });
    assert.equal(events.filter((e) => e.type === 'mounted').length, 2, 'config and layer are mounted');
    assert.equal(events.filter((e) => e.type === 'bytes' && !e.descriptor.mediaType.includes('manifest')).length, 0, 'no blob bytes moved');
    assert.equal((await destination.resolve('v1', opts())).digest, image.descriptor.digest);
    assert.equal(await destination.mountFrom(image.descriptor, destination, opts()), false, 'never mounts from itself');
    const elsewhere = c.repository('127.0.0.1:1', source.repository);
    assert.equal(await destination.mountFrom(image.descriptor, elsewhere, opts()), false, 'never mounts across registries');
  });

  it('reports a mount the registry declines so the caller can push instead', async () => {
    const c = client();
    const destination = c.repository(registry.host, freshName('mount-declined'));
    const blob = testBlob('not-anywhere', 64);
    assert.equal(await destination.mount(blob.descriptor, 'sigil-test/nowhere', opts()), false);
    assert.equal(await destination.exists(blob.descriptor, opts()), false);
  });
});

describe('tags', () => {
  it('lists tags in lexical order although docker-registry returns them unsorted', async () => {
    const repo = client().repository(registry.host, freshName('unsorted'));
    const image = await pushImage(repo, 'unsorted');
    const names = Array.from({ length: 10 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    for (const tag of [...names].reverse()) await repo.tag(image.descriptor, tag, opts());
    assert.deepEqual(await collect(repo.tags(opts())), names);
    assert.deepEqual(await collect(repo.tags({ ...opts(), last: 't06' })), ['t07', 't08', 't09']);
  });

  it('follows Link pages until every tag is listed', async (t) => {
    // Distribution 2.8 ignores `n`, so paging is shown with a handler on a real loopback server.
    const pages: Record<string, { tags: string[]; next?: string }> = {
      '': { tags: ['a', 'b'], next: '</v2/app/tags/list?n=2&last=b>; rel="next"' },
      b: { tags: ['c', 'd'], next: '</v2/app/tags/list?n=2&last=d>; rel="next"' },
      d: { tags: ['e'] },
    };
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(url.search);
      const page = pages[url.searchParams.get('last') ?? ''];
      if (!url.pathname.endsWith('/tags/list') || page === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', ...(page.next ? { link: page.next } : {}) });
      res.end(JSON.stringify({ name: 'app', tags: page.tags }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const repo = client({ repository: { tagPageSize: 2 } }).repository(`127.0.0.1:${port}`, 'app');
    assert.deepEqual(await collect(repo.tags(opts())), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(seen, ['?n=2', '?n=2&last=b', '?n=2&last=d']);
  });

  it('rejects a tag that is not a tag before sending anything', async () => {
    const repo = client().repository(registry.host, freshName('badtag'));
    const image = testManifest(emptyJson().descriptor, []);
    for (const bad of ['', '-leading-dash', 'has space', 'x'.repeat(129), '../escape']) {
      await assert.rejects(repo.pushReference(image.descriptor, image.bytes, bad, opts()), (err: unknown) => err instanceof RegistryError && err.code === 'REFERENCE_INVALID', bad);
    }
  });
});

describe('parseNextLink', () => {
  const base = new URL('http://127.0.0.1:5000/v2/app/tags/list?n=2');
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined],
    ['</v2/app/tags/list?n=2&last=b>; rel="next"', 'http://127.0.0.1:5000/v2/app/tags/list?n=2&last=b'],
    ['<http://127.0.0.1:5000/v2/app/tags/list?last=c>; rel=next', 'http://127.0.0.1:5000/v2/app/tags/list?last=c'],
    ['</prev>; rel="prev", </next>; rel="next"', 'http://127.0.0.1:5000/next'],
    ['</only-prev>; rel="prev"', undefined],
    ['garbage', undefined],
  ];
  for (const [header, expected] of cases) {
    it(`reads ${JSON.stringify(header)}`, () => {
      assert.equal(parseNextLink(header, base)?.href, expected);
    });
  }
});
