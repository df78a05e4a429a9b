// Garbage collection on a real embedded registry: what goes, what stays, and the lock that makes it safe while serving.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testBlob, testJson, testManifest } from '../../../test/support/target-conformance.js';
import { MEDIA_TYPE_IMAGE_CONFIG, readVerified } from '../../oci/index.js';
import { RegistryClient } from '../../registry/index.js';
import { parseDuration } from './config.js';
import { openEmbeddedDatabase } from './database.js';
import { ContentLock } from './gc.js';
import { RegistryServer } from './server.js';

let root: string;
let server: RegistryServer;
let host: string;
const client = new RegistryClient();
const opts = () => ({ signal: AbortSignal.timeout(30_000) });

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sigil-gc-'));
  server = await RegistryServer.open({ root, database: await openEmbeddedDatabase(join(root, 'db')) });
  host = `127.0.0.1:${(await server.listen(0)).port}`;
});
after(async () => {
  await client.close();
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

async function blobFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const fan of await readdir(join(root, 'blobs', 'sha256')).catch(() => [] as string[])) {
    for (const hex of await readdir(join(root, 'blobs', 'sha256', fan))) out.push(`sha256:${hex}`);
  }
  return out.sort();
}

describe('registry gc', () => {
  it('removes unreferenced blobs, deleted manifests and expired uploads, and keeps what tags reach', async () => {
    const repo = client.repository(host, 'gc/app');
    const config = testJson(MEDIA_TYPE_IMAGE_CONFIG, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    const layer = testBlob('gc/kept-layer', 3000);
    const kept = testManifest(config.descriptor, [layer.descriptor]);
    for (const c of [config, layer]) await repo.push(c.descriptor, c.bytes, opts());
    await repo.pushReference(kept.descriptor, kept.bytes, 'v1', opts());
    const orphan = testBlob('gc/orphan', 5000);
    await repo.push(orphan.descriptor, orphan.bytes, opts());
    const doomedLayer = testBlob('gc/doomed-layer', 4000);
    const doomed = testManifest(config.descriptor, [doomedLayer.descriptor]);
    await repo.push(doomedLayer.descriptor, doomedLayer.bytes, opts());
    await repo.pushReference(doomed.descriptor, doomed.bytes, 'old', opts());
    await repo.delete(doomed.descriptor, opts());
    const upload = await fetch(`http://${host}/v2/gc/app/blobs/uploads/`, { method: 'POST' });
    await upload.arrayBuffer();

    const young = await server.collectGarbage();
    assert.deepEqual(young, { uploadsRemoved: 0, linksRemoved: 0, blobsRemoved: 0, bytesFreed: 0 }, 'everything is inside the grace period');

    const dry = await server.collectGarbage({ graceMs: 0, uploadTtlMs: 0, dryRun: true });
    assert.equal(dry.linksRemoved, 2);
    // A dry run removes no links, so only the deleted manifest's own blob shows as garbage yet.
    assert.equal(dry.blobsRemoved, 1);
    assert.equal((await blobFiles()).length, 6);

    const report = await server.collectGarbage({ graceMs: 0, uploadTtlMs: 0 });
    assert.equal(report.uploadsRemoved, 1);
    assert.equal(report.linksRemoved, 2, 'the orphan and the deleted manifest layer');
    assert.equal(report.blobsRemoved, 3, 'orphan, doomed layer and doomed manifest');
    assert.equal(report.bytesFreed, orphan.bytes.byteLength + doomedLayer.bytes.byteLength + doomed.bytes.byteLength);
    assert.deepEqual(await blobFiles(), [config.descriptor.digest, kept.descriptor.digest, layer.descriptor.digest].sort());
    const resolved = await repo.resolve('v1', opts());
    for (const d of [resolved, config.descriptor, layer.descriptor]) await readVerified(await repo.fetch(d, opts()), d);
    assert.equal(await repo.exists(orphan.descriptor, opts()), false);
    assert.equal((await fetch(upload.headers.get('location') ? `http://${host}${upload.headers.get('location') ?? ''}` : '')).status, 404);
  });

  it('keeps a blob file that a push refreshed after gc judged it', async () => {
    const repo = client.repository(host, 'gc/race');
    const blob = testBlob('gc/race', 100);
    await repo.push(blob.descriptor, blob.bytes, opts());
    await repo.delete(blob.descriptor, opts()); // unlinked: the file is garbage now
    const file = join(root, 'blobs', 'sha256', blob.descriptor.digest.slice(7, 9), blob.descriptor.digest.slice(7));
    await utimes(file, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    await repo.push(blob.descriptor, blob.bytes, opts()); // pushed again: linked and fresh
    const report = await server.collectGarbage();
    assert.equal(report.blobsRemoved, 0);
    await readVerified(await repo.fetch(blob.descriptor, opts()), blob.descriptor);
  });
});

describe('ContentLock', () => {
  it('lets shared holders run together and an exclusive holder alone, in arrival order', async () => {
    const lock = new ContentLock();
    const events: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const a = lock.shared(async () => {
      events.push('a+');
      await gate;
      events.push('a-');
    });
    const b = lock.shared(async () => {
      events.push('b+');
      events.push('b-');
    });
    const x = lock.exclusive(async () => {
      events.push('x');
    });
    const c = lock.shared(async () => {
      events.push('c');
    });
    await b;
    release();
    await Promise.all([a, x, c]);
    assert.deepEqual(events, ['a+', 'b+', 'b-', 'a-', 'x', 'c']);
  });
});

describe('parseDuration', () => {
  const cases: Array<[string, number]> = [['0', 0], ['90s', 90_000], ['15m', 900_000], ['24h', 86_400_000], ['7d', 604_800_000], ['250ms', 250], ['30', 30_000]];
  for (const [text, ms] of cases) it(`reads ${text}`, () => assert.equal(parseDuration('--grace', text), ms));
  it('names the flag on bad input', () => assert.throws(() => parseDuration('--grace', 'soon'), /--grace soon: expected a duration/));
});
