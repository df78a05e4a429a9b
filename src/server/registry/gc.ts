// Garbage collection of the embedded registry: expired upload sessions, blob links no manifest
// needs, and blob files nothing links. Safe while serving: see ContentLock.

import type { FsBlobStore } from './blobstore.js';
import type { MetadataStore } from './metadata.js';

/**
 * A readers-writer lock between publishing content (shared: many pushes at once) and gc's
 * delete step (exclusive). Without it, a push could rename a fresh copy of a blob over a file gc
 * has just judged unreferenced, and gc would delete the fresh copy before the push links it.
 */
export class ContentLock {
  #readers = 0;
  #writer = false;
  readonly #waiting: Array<{ exclusive: boolean; wake: () => void }> = [];

  /** Runs `task` while holding the shared side. */
  async shared<T>(task: () => Promise<T>): Promise<T> {
    if (this.#writer || this.#waiting.some((w) => w.exclusive)) await new Promise<void>((wake) => this.#waiting.push({ exclusive: false, wake }));
    else this.#readers++;
    try {
      return await task();
    } finally {
      this.#readers--;
      this.#next();
    }
  }

  /** Runs `task` alone. */
  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.#writer || this.#readers > 0) await new Promise<void>((wake) => this.#waiting.push({ exclusive: true, wake }));
    else this.#writer = true;
    try {
      return await task();
    } finally {
      this.#writer = false;
      this.#next();
    }
  }

  #next(): void {
    if (this.#writer || this.#readers > 0) return;
    const first = this.#waiting[0];
    if (first === undefined) return;
    if (first.exclusive) {
      this.#waiting.shift();
      this.#writer = true;
      first.wake();
      return;
    }
    while (this.#waiting[0] !== undefined && !this.#waiting[0].exclusive) {
      this.#readers++;
      this.#waiting.shift()?.wake();
    }
  }
}

/** Options of a gc run. */
export interface GarbageCollectionOptions {
  /** Upload sessions untouched this long are removed (default 24 h, as Distribution's upload purging). */
  readonly uploadTtlMs?: number;
  /** Content younger than this is kept even when unreferenced, since its manifest may be on the way (default 1 h). */
  readonly graceMs?: number;
  /** Only report what would go. */
  readonly dryRun?: boolean;
  readonly now?: number;
}

/** What a gc run removed (or would remove, in a dry run). */
export interface GarbageCollectionReport {
  readonly uploadsRemoved: number;
  readonly linksRemoved: number;
  readonly blobsRemoved: number;
  readonly bytesFreed: number;
}

/** Default upload session lifetime: 24 h. */
export const DEFAULT_UPLOAD_TTL_MS = 24 * 60 * 60 * 1000;
/** Default grace period for unreferenced content: 1 h. */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

/**
 * One mark-and-sweep: (1) upload sessions past their TTL go; (2) a blob link that no manifest of
 * its repository references, older than the grace period, goes (the blob was pushed but never
 * used, or its manifests were deleted); (3) a blob file that no repository links and no manifest
 * is stored as, older than the grace period, goes. Step 3 re-checks under the exclusive lock.
 */
export async function collectGarbage(blobs: FsBlobStore, meta: MetadataStore, lock: ContentLock, options: GarbageCollectionOptions = {}): Promise<GarbageCollectionReport> {
  const now = options.now ?? Date.now();
  const uploadTtl = options.uploadTtlMs ?? DEFAULT_UPLOAD_TTL_MS;
  const grace = options.graceMs ?? DEFAULT_GC_GRACE_MS;
  let uploadsRemoved = 0;
  for (const upload of await blobs.listUploads()) {
    if (now - upload.modified < uploadTtl) continue;
    uploadsRemoved++;
    if (!options.dryRun) await blobs.removeUploadFile(upload.file);
  }
  // Under the exclusive lock, so no manifest push is between its reference check and its insert.
  const linksRemoved = await lock.exclusive(async () =>
    options.dryRun ? (await meta.danglingLinks(new Date(now - grace))).length : meta.removeDanglingLinks(new Date(now - grace)),
  );
  let blobsRemoved = 0;
  let bytesFreed = 0;
  for await (const stored of blobs.listBlobs()) {
    if (now - stored.modified < grace) continue;
    if (await meta.isReferenced(stored.digest)) continue;
    const removed = await lock.exclusive(async () => {
      // Re-checked under the lock: a push may have linked it since.
      if (await meta.isReferenced(stored.digest)) return false;
      const current = await blobs.stat(stored.digest);
      if (current === undefined || now - current.modified < grace) return false;
      if (!options.dryRun) await blobs.remove(stored.digest);
      return true;
    });
    if (removed) {
      blobsRemoved++;
      bytesFreed += stored.size;
    }
  }
  return Object.freeze({ uploadsRemoved, linksRemoved, blobsRemoved, bytesFreed });
}
