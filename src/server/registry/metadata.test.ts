// The metadata store's read cache (embedded database, one writer): every write makes the next
// read go to the database, a read in flight across a write is not kept, answers are frozen.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openEmbeddedDatabase } from './database.js';
import { MetadataStore, type SqlDatabase } from './metadata.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const SUBJECT = `sha256:${'5'.repeat(64)}`;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let db: SqlDatabase;
let meta: MetadataStore;

before(async () => {
  db = await openEmbeddedDatabase(undefined);
  meta = await MetadataStore.open(db, { cacheReads: true });
});
after(() => meta.close());

describe('MetadataStore read cache', () => {
  it('sees a blob linked and unlinked after it was read', async () => {
    assert.equal(await meta.blobSize('a/b', D1), undefined);
    await meta.linkBlob('a/b', D1, 7);
    assert.equal(await meta.blobSize('a/b', D1), 7);
    assert.equal(await meta.blobSize('a/c', D1), undefined, 'another repository does not see it');
    assert.equal(await meta.unlinkBlob('a/b', D1), true);
    assert.equal(await meta.blobSize('a/b', D1), undefined);
  });

  it('follows a tag that moves and a manifest that is deleted', async () => {
    await meta.putManifest({ repository: 'a/b', digest: D1, mediaType: MANIFEST, size: 10, children: [], tag: 'v1' });
    assert.equal((await meta.manifestByTag('a/b', 'v1'))?.digest, D1);
    await meta.putManifest({ repository: 'a/b', digest: D2, mediaType: MANIFEST, size: 11, children: [], tag: 'v1' });
    assert.equal((await meta.manifestByTag('a/b', 'v1'))?.digest, D2);
    assert.equal((await meta.manifest('a/b', D2))?.size, 11);
    assert.equal(await meta.deleteManifest('a/b', D2), true);
    assert.equal(await meta.manifest('a/b', D2), undefined);
    assert.equal(await meta.manifestByTag('a/b', 'v1'), undefined);
    assert.equal(await meta.deleteTag('a/b', 'nope'), false);
  });

  it('lists a referrer pushed after the list was read, and drops a deleted one', async () => {
    assert.deepEqual(await meta.referrers('r/s', SUBJECT), []);
    await meta.putManifest({ repository: 'r/s', digest: D1, mediaType: MANIFEST, size: 3, subject: SUBJECT, artifactType: 'application/x-sig', annotations: { a: 'b' }, children: [] });
    const listed = await meta.referrers('r/s', SUBJECT);
    assert.deepEqual(listed.map((r) => r.digest), [D1]);
    assert.deepEqual((await meta.referrers('r/s', SUBJECT, 'application/x-other')).map((r) => r.digest), []);
    assert.deepEqual((await meta.referrers('r/s', SUBJECT, 'application/x-sig')).map((r) => r.digest), [D1]);
    assert.ok(Object.isFrozen(listed) && Object.isFrozen(listed[0]) && Object.isFrozen(listed[0]?.annotations), 'cached answers cannot be changed by a caller');
    await meta.deleteManifest('r/s', D1);
    assert.deepEqual(await meta.referrers('r/s', SUBJECT), []);
  });

  it('does not keep an answer read while a write went through', async () => {
    // A database whose first SELECT answers "absent" only after the INSERT committed, like a
    // read that raced the write.
    let releaseSelect: (() => void) | undefined;
    let selects = 0;
    const racing: SqlDatabase = {
      async query<T>(sql: string, params?: readonly unknown[]) {
        if (sql.startsWith('SELECT size FROM repository_blobs')) {
          selects++;
          if (selects === 1) {
            await new Promise<void>((resolve) => (releaseSelect = resolve));
            return { rows: [] as T[] };
          }
        }
        return db.query<T>(sql, params);
      },
      transaction: (run) => db.transaction(run),
      close: async () => undefined,
    };
    const store = await MetadataStore.open(racing, { cacheReads: true });
    const stale = store.blobSize('race/x', D2);
    while (releaseSelect === undefined) await new Promise((resolve) => setImmediate(resolve));
    await store.linkBlob('race/x', D2, 42);
    releaseSelect();
    assert.equal(await stale, undefined, 'the racing read answers what it read');
    assert.equal(await store.blobSize('race/x', D2), 42, 'but its answer was not kept');
    assert.equal(selects, 2);
  });

  it('is off unless asked for: every read goes to the database', async () => {
    let selects = 0;
    const counting: SqlDatabase = {
      query: <T>(sql: string, params?: readonly unknown[]) => {
        if (sql.startsWith('SELECT')) selects++;
        return db.query<T>(sql, params);
      },
      transaction: (run) => db.transaction(run),
      close: async () => undefined,
    };
    const store = await MetadataStore.open(counting);
    await store.blobSize('off/x', D1);
    await store.blobSize('off/x', D1);
    assert.equal(selects, 2);
  });
});
