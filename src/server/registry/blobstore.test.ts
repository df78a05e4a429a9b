// The blob store on a real filesystem: the in-memory copy of small blobs, and what removes it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../oci/index.js';
import { CACHED_BLOB_MAX_BYTES, FsBlobStore } from './blobstore.js';

let root: string;
let store: FsBlobStore;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sigil-blobstore-'));
  store = await FsBlobStore.open(root);
});
after(() => rm(root, { recursive: true, force: true }));

async function put(bytes: Buffer): Promise<string> {
  const { digest } = await store.write(Readable.from([bytes]), { digest: digestOf(bytes) });
  return digest;
}

function pathOf(digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
}

describe('FsBlobStore small-blob cache', () => {
  it('answers a small blob from memory once read, byte for byte', async () => {
    const bytes = randomBytes(1000);
    const digest = await put(bytes);
    assert.ok((await store.readAll(digest))?.equals(bytes));
    // A digest names its bytes forever: the copy in memory is the same bytes as the file was.
    await unlink(pathOf(digest));
    assert.ok((await store.readAll(digest))?.equals(bytes));
  });

  it('forgets a blob that is removed', async () => {
    const digest = await put(randomBytes(500));
    assert.ok((await store.readAll(digest)) !== undefined);
    await store.remove(digest);
    assert.equal(await store.readAll(digest), undefined);
  });

  it('reads a blob over the size bound from disk every time', async () => {
    const bytes = randomBytes(CACHED_BLOB_MAX_BYTES + 1);
    const digest = await put(bytes);
    assert.ok((await store.readAll(digest))?.equals(bytes));
    await unlink(pathOf(digest));
    assert.equal(await store.readAll(digest), undefined);
  });

  it('answers undefined for a blob never stored', async () => {
    assert.equal(await store.readAll(digestOf(Buffer.from('never stored'))), undefined);
  });
});
