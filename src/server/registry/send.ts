// Streams a byte range of an open file into an HTTP response with two reusable buffers: one is
// read from the file while the other is being written to the socket. A fs.ReadStream allocates a
// fresh buffer for every chunk and goes through two stream layers; this serves a large blob at
// about twice its rate (bench/registry.ts).

import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

/** Bytes per read: large enough that a syscall and a socket write move a lot, small enough to pool. */
const CHUNK_BYTES = 1024 * 1024;
/** Free buffers kept for the next download; more concurrent downloads allocate and drop theirs. */
const POOL_LIMIT = 16;

const pool: Buffer[] = [];

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

function giveBack(buffer: Buffer): void {
  if (pool.length < POOL_LIMIT) pool.push(buffer);
}

/**
 * Writes bytes `start`..`end` (inclusive) of `file` to `res` and ends it. Resolves once the last
 * byte was handed to the socket, or as soon as the client went away (the rest is not read). A
 * file shorter than the range (it cannot be, for a content-addressed blob, but a disk can lie)
 * destroys the response, so the client sees a truncated body rather than a wrong one.
 */
export async function sendFileRange(file: FileHandle, start: number, end: number, res: ServerResponse): Promise<void> {
  const length = end - start + 1;
  if (length <= CHUNK_BYTES) {
    // A range of at most one chunk (the server answers blobs up to 64 KiB from memory; this is the
    // rest of the small ones, and short ranges): one read into a buffer of its own size, none pooled.
    const bytes = Buffer.allocUnsafe(Math.max(0, length));
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await file.read(bytes, filled, length - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled < length) res.destroy(new Error(`the file ended ${length - filled} bytes early`));
    else res.end(bytes);
    return;
  }
  let closed = res.destroyed;
  let wake: (() => void) | undefined;
  const onClose = () => {
    closed = true;
    wake?.();
  };
  res.once('close', onClose);
  const buffers = [takeBuffer(), takeBuffer()] as const;
  // The write still in flight from each buffer; a buffer is refilled only once its write is done.
  const inFlight: Array<Promise<void> | undefined> = [undefined, undefined];
  const settle = (write: Promise<void> | undefined) =>
    write === undefined || closed ? undefined : Promise.race([write, new Promise<void>((resolve) => (wake = resolve))]);
  let reusable = true;
  try {
    let position = start;
    for (let which = 0; position <= end && !closed; which ^= 1) {
      await settle(inFlight[which]);
      if (closed) break;
      const buffer = buffers[which] as Buffer;
      const { bytesRead } = await file.read(buffer, 0, Math.min(CHUNK_BYTES, end - position + 1), position);
      if (bytesRead === 0) {
        res.destroy(new Error(`the file ended ${end - position + 1} bytes early`));
        reusable = false;
        return;
      }
      position += bytesRead;
      if (closed) break;
      const chunk = bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead);
      inFlight[which] = new Promise<void>((resolve) => res.write(chunk, () => resolve()));
    }
    await settle(inFlight[0]);
    await settle(inFlight[1]);
    if (!closed) res.end();
  } finally {
    res.off('close', onClose);
    // A buffer whose write never completed may still be referenced by the socket: let it go.
    if (reusable && !closed) for (const buffer of buffers) giveBack(buffer);
  }
}
