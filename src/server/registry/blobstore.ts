// The embedded registry's content-addressed blob store on the filesystem, and its upload sessions.
// Bytes are written to a temp file, fsynced and renamed into place, so a crash never leaves a half blob served.

import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseDigest, type DigestAlgorithm } from '../../oci/index.js';
import { RegistryServerError } from './errors.js';

/** An upload session id: a UUID, so it can never name a path outside the uploads directory. */
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a string that can be an upload session id. */
export function isUploadId(value: string): boolean {
  return UPLOAD_ID.test(value);
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A file-name-safe key of a repository name. */
function repositoryKey(repository: string): string {
  return createHash('sha256').update(repository).digest('hex').slice(0, 32);
}

/** The running digest of an upload session, kept while the process lives so closing it needs no second read. */
interface UploadHash {
  readonly hash: Hash;
  size: number;
}

/** Blobs up to this size are kept in memory once read: manifests, configs, signatures. */
export const CACHED_BLOB_MAX_BYTES = 64 * 1024;
/** Bytes of small blobs kept in memory at most, least recently read dropped first. */
const CACHE_BUDGET_BYTES = 32 * 1024 * 1024;

/**
 * Small blobs by digest, least recently used first. A digest names its bytes forever, so an
 * entry can never be stale, even with replicas sharing the directory: whether a repository may
 * see the blob is asked of the metadata database on every request, before the bytes are wanted.
 */
class SmallBlobCache {
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;

  get(digest: string): Buffer | undefined {
    const bytes = this.#entries.get(digest);
    if (bytes !== undefined) {
      this.#entries.delete(digest);
      this.#entries.set(digest, bytes);
    }
    return bytes;
  }

  set(digest: string, bytes: Buffer): void {
    if (bytes.byteLength > CACHED_BLOB_MAX_BYTES || this.#entries.has(digest)) return;
    this.#entries.set(digest, bytes);
    this.#bytes += bytes.byteLength;
    for (const [key, value] of this.#entries) {
      if (this.#bytes <= CACHE_BUDGET_BYTES) break;
      this.#entries.delete(key);
      this.#bytes -= value.byteLength;
    }
  }

  delete(digest: string): void {
    const bytes = this.#entries.get(digest);
    if (bytes === undefined) return;
    this.#entries.delete(digest);
    this.#bytes -= bytes.byteLength;
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * Blobs at `ROOT/blobs/ALG/XX/HEX` (two-character fan-out keeps directories small) and upload
 * sessions at `ROOT/uploads/ID`. The store knows bytes only; which repository may see a blob is
 * the metadata database's business. Safe for concurrent use: a blob is published by an atomic
 * rename of a fully written, fsynced file, and publishing the same digest twice is harmless.
 */
export class FsBlobStore {
  readonly #root: string;
  readonly #hashes = new Map<string, UploadHash>();
  readonly #small = new SmallBlobCache();
  /** Upload sessions whose received chunks are being flushed to disk in the background. */
  readonly #flushing = new Map<string, Promise<void>>();

  private constructor(root: string) {
    this.#root = root;
  }

  /** Opens (creating) the store under `root`. */
  static async open(root: string): Promise<FsBlobStore> {
    await mkdir(join(root, 'blobs'), { recursive: true });
    await mkdir(join(root, 'uploads'), { recursive: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
    return new FsBlobStore(root);
  }

  #blobPath(digest: string): string {
    const { algorithm, encoded } = parseDigest(digest);
    return join(this.#root, 'blobs', algorithm, encoded.slice(0, 2), encoded);
  }

  /**
   * An upload session's file: `uploads/<repository key>.<id>`, so a session opened for one
   * repository is unknown to every other without a database lookup.
   */
  #uploadPath(repository: string, id: string): string {
    if (!isUploadId(id)) throw new RegistryServerError('BLOB_UPLOAD_UNKNOWN', `upload ${id.slice(0, 64)} is unknown`);
    return join(this.#root, 'uploads', `${repositoryKey(repository)}.${id}`);
  }

  /** The size of a stored blob, or undefined when absent. */
  async size(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.#blobPath(digest))).size;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** An open handle on a stored blob (the caller closes it; reads stay valid if gc unlinks the file meanwhile), or undefined when absent. */
  async openBlob(digest: string): Promise<FileHandle | undefined> {
    try {
      return await open(this.#blobPath(digest), 'r');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /**
   * The whole of a small stored blob (a manifest, a config, a signature), or undefined when
   * absent; kept in memory after the first read when it is at most CACHED_BLOB_MAX_BYTES. The
   * caller must not modify the buffer.
   */
  async readAll(digest: string): Promise<Buffer | undefined> {
    const cached = this.#small.get(digest);
    if (cached !== undefined) return cached;
    try {
      const bytes = await readFile(this.#blobPath(digest));
      this.#small.set(digest, bytes);
      return bytes;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /**
   * Writes `source` as a new blob whose digest must be `expected` (when given; else sha256 of
   * the bytes). Returns digest and size. A mismatch removes the temp file and throws
   * DIGEST_INVALID; `maxBytes` bounds the body (SIZE_INVALID past it).
   */
  async write(source: AsyncIterable<Uint8Array>, expected: { digest?: string; maxBytes?: number } = {}): Promise<{ digest: string; size: number }> {
    const algorithm: DigestAlgorithm = expected.digest === undefined ? 'sha256' : parseDigest(expected.digest).algorithm;
    const temp = join(this.#root, 'tmp', randomUUID());
    const hash = createHash(algorithm);
    let size = 0;
    try {
      await pipeline(source, async function* (chunks: AsyncIterable<Uint8Array>) {
        for await (const chunk of chunks) {
          size += chunk.byteLength;
          if (expected.maxBytes !== undefined && size > expected.maxBytes) throw new RegistryServerError('SIZE_INVALID', `body exceeds ${expected.maxBytes} bytes`);
          hash.update(chunk);
          yield chunk;
        }
      }, createWriteStream(temp, { flags: 'wx', highWaterMark: 8 << 20 }));
      const digest = `${algorithm}:${hash.digest('hex')}`;
      if (expected.digest !== undefined && digest !== expected.digest) {
        throw new RegistryServerError('DIGEST_INVALID', `content digest ${digest} does not match ${expected.digest}`);
      }
      await this.#publish(temp, digest);
      return { digest, size };
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** fsyncs a complete temp file and renames it to its digest's path. */
  async #publish(temp: string, digest: string): Promise<void> {
    const handle = await open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const target = this.#blobPath(digest);
    const dir = join(target, '..');
    await mkdir(dir, { recursive: true });
    await rename(temp, target);
    await fsyncDirectory(dir);
  }

  /** Removes a blob (garbage collection and DELETE); absent is fine. */
  async remove(digest: string): Promise<void> {
    this.#small.delete(digest);
    try {
      await unlink(this.#blobPath(digest));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  /** Starts an upload session for `repository` and returns its id. */
  async startUpload(repository: string): Promise<string> {
    const id = randomUUID();
    await (await open(this.#uploadPath(repository, id), 'wx')).close();
    this.#hashes.set(id, { hash: createHash('sha256'), size: 0 });
    return id;
  }

  /** Bytes received so far by an upload session; throws BLOB_UPLOAD_UNKNOWN when the repository has no such session. */
  async uploadSize(repository: string, id: string): Promise<number> {
    try {
      return (await stat(this.#uploadPath(repository, id))).size;
    } catch (err) {
      if (isMissing(err)) throw new RegistryServerError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is unknown`);
      throw err;
    }
  }

  /**
   * Appends a chunk at `offset`, which must be the current size (distribution-spec v1.1.1,
   * chunked upload: out-of-order chunks are refused with 416). Returns the new size. The running
   * sha256 is updated as bytes land; after a restart it is gone and closing re-reads the file.
   */
  async appendUpload(repository: string, id: string, offset: number, source: AsyncIterable<Uint8Array>, maxBytes?: number): Promise<number> {
    const path = this.#uploadPath(repository, id);
    const current = await this.uploadSize(repository, id);
    if (offset !== current) throw new RegistryServerError('RANGE_INVALID', `chunk starts at ${offset}, but ${current} bytes were received`);
    const running = this.#hashes.get(id);
    const hashing = running !== undefined && running.size === current ? running : undefined;
    if (hashing === undefined) this.#hashes.delete(id);
    let size = current;
    try {
      await pipeline(source, async function* (chunks: AsyncIterable<Uint8Array>) {
        for await (const chunk of chunks) {
          size += chunk.byteLength;
          if (maxBytes !== undefined && size - current > maxBytes) throw new RegistryServerError('SIZE_INVALID', `chunk exceeds ${maxBytes} bytes`);
          hashing?.hash.update(chunk);
          yield chunk;
        }
      }, createWriteStream(path, { flags: 'a', highWaterMark: 8 << 20 }));
    } catch (err) {
      // What reached the file is unknown now: closing will hash the file itself.
      this.#hashes.delete(id);
      throw err;
    }
    if (hashing !== undefined) hashing.size = size;
    this.#flushInBackground(id, path);
    return size;
  }

  /**
   * Starts writing an upload's received chunks to disk while the client sends the next one, so
   * closing the upload, which must fsync everything before it answers, has little left to flush.
   * A failure here is not reported: the fsync at close is the one that counts.
   */
  #flushInBackground(id: string, path: string): void {
    const flush = (this.#flushing.get(id) ?? Promise.resolve())
      .then(async () => {
        const handle = await open(path, 'r');
        try {
          await handle.datasync();
        } finally {
          await handle.close();
        }
      })
      .catch(() => undefined)
      .finally(() => {
        if (this.#flushing.get(id) === flush) this.#flushing.delete(id);
      });
    this.#flushing.set(id, flush);
  }

  /** Completes an upload: the received bytes must hash to `digest`; the blob is published and the session removed. */
  async finishUpload(repository: string, id: string, digest: string): Promise<{ digest: string; size: number }> {
    const path = this.#uploadPath(repository, id);
    const fileSize = await this.uploadSize(repository, id);
    const { algorithm } = parseDigest(digest);
    const running = this.#hashes.get(id);
    let actual: string;
    if (running !== undefined && running.size === fileSize && algorithm === 'sha256') {
      actual = `sha256:${running.hash.copy().digest('hex')}`;
    } else {
      const hash: Hash = createHash(algorithm);
      for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) hash.update(chunk);
      actual = `${algorithm}:${hash.digest('hex')}`;
    }
    if (actual !== digest) throw new RegistryServerError('DIGEST_INVALID', `uploaded content digest ${actual} does not match ${digest}`);
    await this.#flushing.get(id);
    await this.#publish(path, digest);
    this.#hashes.delete(id);
    return { digest, size: fileSize };
  }

  /** Cancels an upload session; absent is fine. */
  async cancelUpload(repository: string, id: string): Promise<void> {
    this.#hashes.delete(id);
    await rm(this.#uploadPath(repository, id), { force: true });
  }

  /** Every upload session file and when it last changed (for expiry by gc). */
  async listUploads(): Promise<Array<{ file: string; modified: number }>> {
    const out: Array<{ file: string; modified: number }> = [];
    for (const file of await readdir(join(this.#root, 'uploads'))) {
      try {
        out.push({ file, modified: (await stat(join(this.#root, 'uploads', file))).mtimeMs });
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    }
    return out;
  }

  /** Removes one upload session file by its name in `uploads/` (gc expiry). */
  async removeUploadFile(file: string): Promise<void> {
    if (file.includes('/') || file.startsWith('.')) return;
    await rm(join(this.#root, 'uploads', file), { force: true });
  }

  /** Size and modification time of a stored blob, or undefined. */
  async stat(digest: string): Promise<{ size: number; modified: number } | undefined> {
    try {
      const info = await stat(this.#blobPath(digest));
      return { size: info.size, modified: info.mtimeMs };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Every stored blob with its size and modification time (files that are not digests are skipped). */
  async *listBlobs(): AsyncGenerator<{ digest: string; size: number; modified: number }, void, undefined> {
    const base = join(this.#root, 'blobs');
    for (const algorithm of await readdir(base)) {
      if (algorithm !== 'sha256' && algorithm !== 'sha512') continue;
      for (const fan of await readdir(join(base, algorithm))) {
        let files: string[];
        try {
          files = await readdir(join(base, algorithm, fan));
        } catch (err) {
          if (isMissing(err)) continue;
          throw err;
        }
        for (const hex of files) {
          const digest = `${algorithm}:${hex}`;
          try {
            parseDigest(digest);
          } catch {
            continue; // not a blob this store wrote
          }
          const info = await this.stat(digest);
          if (info !== undefined) yield { digest, ...info };
        }
      }
    }
  }

  /** Removes temp files left by writes that a crash interrupted (call at start-up, before serving). */
  async removeTemporaryFiles(): Promise<void> {
    await rm(join(this.#root, 'tmp'), { recursive: true, force: true });
    await mkdir(join(this.#root, 'tmp'), { recursive: true });
  }
}
