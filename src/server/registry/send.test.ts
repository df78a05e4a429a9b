// sendFileRange over real sockets: whole files and ranges byte for byte, clients that leave
// mid-body, a file shorter than its range, and concurrent downloads sharing the buffer pool.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendFileRange } from './send.js';

let dir: string;
let server: Server;
let port: number;
/** Every sendFileRange call the server made, settled or not. */
const sends: Array<Promise<void>> = [];
const files = new Map<string, Buffer>();

/** `GET /NAME?start=S&end=E&claim=N`: sends S..E of file NAME, claiming N bytes in Content-Length. */
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sigil-send-'));
  for (const [name, size] of [['small', 10], ['odd', 5 * 1024 * 1024 + 123], ['two', 2 * 1024 * 1024], ['empty', 0]] as const) {
    const bytes = randomBytes(size);
    files.set(name, bytes);
    await writeFile(join(dir, name), bytes);
  }
  for (let i = 0; i < 8; i++) {
    const bytes = randomBytes(3 * 1024 * 1024 + i);
    files.set(`many${i}`, bytes);
    await writeFile(join(dir, `many${i}`), bytes);
  }
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const name = url.pathname.slice(1);
    const size = files.get(name)?.byteLength ?? 0;
    const start = Number(url.searchParams.get('start') ?? 0);
    const end = Number(url.searchParams.get('end') ?? size - 1);
    const claim = Number(url.searchParams.get('claim') ?? end - start + 1);
    const sent = (async () => {
      const file = await open(join(dir, name), 'r');
      try {
        res.writeHead(200, { 'content-length': claim });
        await sendFileRange(file, start, end, res);
      } finally {
        await file.close();
      }
    })();
    sends.push(sent);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** The body of GET `path`, and the error the exchange ended with, if any. */
function get(path: string): Promise<{ body: Buffer; error?: Error }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ body: Buffer.concat(chunks) }));
      res.on('error', (error) => resolve({ body: Buffer.concat(chunks), error }));
      res.on('aborted', () => resolve({ body: Buffer.concat(chunks), error: new Error('aborted') }));
    });
    req.on('error', (error) => resolve({ body: Buffer.alloc(0), error }));
    req.end();
  });
}

describe('sendFileRange', () => {
  it('sends whole files byte for byte, across both buffers and a short last read', async () => {
    for (const name of ['small', 'odd', 'two', 'empty']) {
      const { body, error } = await get(`/${name}`);
      assert.equal(error, undefined, name);
      assert.ok(body.equals(files.get(name) as Buffer), `${name}: ${body.byteLength} bytes`);
    }
  });

  it('sends ranges that start and end inside chunks', async () => {
    const odd = files.get('odd') as Buffer;
    for (const [start, end] of [[0, 0], [1000, 3 * 1024 * 1024 + 7], [1024 * 1024, 2 * 1024 * 1024 - 1], [odd.byteLength - 1, odd.byteLength - 1]] as const) {
      const { body } = await get(`/odd?start=${start}&end=${end}`);
      assert.ok(body.equals(odd.subarray(start, end + 1)), `${start}-${end}: got ${body.byteLength} bytes`);
    }
  });

  it('stops reading when the client leaves mid-body, and the next downloads are intact', async () => {
    const before = sends.length;
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/odd', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.once('error', reject);
      req.end();
    });
    const send = sends[before];
    assert.ok(send !== undefined);
    await send; // settles rather than waiting on a write that will never complete
    for (const name of ['odd', 'two']) {
      const { body } = await get(`/${name}`);
      assert.ok(body.equals(files.get(name) as Buffer), name);
    }
  });

  it('destroys the response when the file is shorter than the range it promised', async () => {
    const small = await get('/small?start=0&end=99&claim=100');
    assert.ok(small.error !== undefined, 'a small file read in one piece is checked too');
    const size = (files.get('two') as Buffer).byteLength;
    const { body, error } = await get(`/two?start=0&end=${size + 4096}&claim=${size + 4097}`);
    assert.ok(error !== undefined, 'the client sees a truncated body, not a complete one');
    assert.ok(body.byteLength <= size);
    assert.ok(body.equals((files.get('two') as Buffer).subarray(0, body.byteLength)));
  });

  it('serves concurrent downloads without mixing their buffers', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => get(`/many${i}`)));
    results.forEach(({ body }, i) => assert.ok(body.equals(files.get(`many${i}`) as Buffer), `many${i}`));
  });
});
