// Crash safety and concurrency of `sigil registry serve`, as a real process: kill -9 in the middle
// of a chunked upload and of manifest pushes, restart on the same data, and check that everything
// acknowledged is there and verifies; then 100 clients pushing overlapping content at once.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../test/support/docker-registry.js';
import { testBlob, testJson, testManifest, type TestContent } from '../../../test/support/target-conformance.js';
import { digestOf, MEDIA_TYPE_IMAGE_CONFIG, MEDIA_TYPE_IMAGE_MANIFEST, readVerified } from '../../oci/index.js';
import { RegistryClient } from '../../registry/index.js';

const SIGIL = fileURLToPath(new URL('../../../../bin/sigil.js', import.meta.url));
const opts = () => ({ signal: AbortSignal.timeout(60_000) });

interface Running {
  readonly host: string;
  readonly child: ChildProcess;
}

/** Every registry process started, so a failed test cannot leave one running (it would keep the test file alive). */
const children: ChildProcess[] = [];

async function serve(root: string, port: number): Promise<Running> {
  const child = spawn(process.execPath, [SIGIL, 'registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', root], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`registry did not start: ${output}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`registry exited with ${code}: ${output}`));
    });
  });
  return { host: `127.0.0.1:${port}`, child };
}

async function kill9(running: Running): Promise<void> {
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGKILL');
  await exited;
}

async function stop(running: Running): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => running.child.once('exit', (code) => resolve(code)));
  running.child.kill('SIGTERM');
  return exited;
}

let root: string;
let port: number;
const clients: RegistryClient[] = [];
function client(): RegistryClient {
  const made = new RegistryClient({ transport: { maxRetries: 0 } });
  clients.push(made);
  return made;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sigil-registry-crash-'));
  port = await freePort();
});
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(clients.map((c) => c.close()));
  await rm(root, { recursive: true, force: true });
});

function image(label: string): { config: TestContent; layer: TestContent; manifest: TestContent } {
  const config = testJson(MEDIA_TYPE_IMAGE_CONFIG, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, label });
  const layer = testBlob(`${label}/layer`, 2048);
  return { config, layer, manifest: testManifest(config.descriptor, [layer.descriptor]) };
}

describe('kill -9 and restart', { timeout: 120_000 }, () => {
  it('keeps everything acknowledged and serves nothing half-written', async () => {
    let running = await serve(root, port);
    const acknowledged: Array<{ tag: string; image: ReturnType<typeof image> }> = [];
    let repo = client().repository(running.host, 'crash/app');
    for (let i = 0; i < 5; i++) {
      const made = image(`acked-${i}`);
      for (const c of [made.config, made.layer]) await repo.push(c.descriptor, c.bytes, opts());
      await repo.pushReference(made.manifest.descriptor, made.manifest.bytes, `v${i}`, opts());
      acknowledged.push({ tag: `v${i}`, image: made });
    }

    // A chunked upload in flight: one PATCH acknowledged, a second one streaming when the process dies.
    const start = await rawRequest(running.host, 'POST', '/v2/crash/app/blobs/uploads/');
    const location = start.headers.location ?? '';
    const big = testBlob('crash/big', 3 * 1024 * 1024);
    const first = await rawRequest(running.host, 'PATCH', location, big.bytes.subarray(0, 1024 * 1024), { 'content-range': `0-${1024 * 1024 - 1}` });
    assert.equal(first.status, 202);
    const nextLocation = first.headers.location ?? location;
    const streaming = rawRequest(running.host, 'PATCH', nextLocation, big.bytes.subarray(1024 * 1024), { 'content-range': `${1024 * 1024}-${big.bytes.byteLength - 1}` }, true).catch(() => undefined);

    // Manifest pushes in flight too.
    const inFlight = Array.from({ length: 10 }, async (_, i) => {
      const made = image(`in-flight-${i}`);
      try {
        for (const c of [made.config, made.layer]) await repo.push(c.descriptor, c.bytes, opts());
        await repo.pushReference(made.manifest.descriptor, made.manifest.bytes, `f${i}`, opts());
        acknowledged.push({ tag: `f${i}`, image: made });
      } catch {
        // killed mid-push: not acknowledged, so nothing is owed
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await kill9(running);
    await Promise.all([...inFlight, streaming]);

    running = await serve(root, port);
    repo = client().repository(running.host, 'crash/app');
    for (const { tag, image: made } of acknowledged) {
      const resolved = await repo.resolve(tag, opts());
      assert.equal(resolved.digest, made.manifest.descriptor.digest, `${tag} survived`);
      for (const c of [made.manifest, made.config, made.layer]) {
        await readVerified(await repo.fetch(c.descriptor, opts()), c.descriptor);
      }
    }
    // The interrupted upload resumes from what it holds, or is cleanly gone; it never shows as a blob.
    assert.equal(await repo.exists(big.descriptor, opts()), false);
    const status = await rawRequest(running.host, 'GET', nextLocation);
    if (status.status === 204) {
      const held = Number((status.headers.range ?? '0-0').split('-')[1]) + 1;
      const rest = await rawRequest(running.host, 'PATCH', status.headers.location ?? nextLocation, big.bytes.subarray(held), { 'content-range': `${held}-${big.bytes.byteLength - 1}` });
      assert.equal(rest.status, 202);
      const done = await rawRequest(running.host, 'PUT', `${rest.headers.location ?? nextLocation}?digest=${big.descriptor.digest}`);
      assert.equal(done.status, 201, 'the resumed upload completes with the right digest');
      await readVerified(await repo.fetch(big.descriptor, opts()), big.descriptor);
    } else {
      assert.equal(status.status, 404);
    }
    assert.equal(await stop(running), 0, 'SIGTERM shuts down cleanly');
  });
});

describe('concurrency', { timeout: 120_000 }, () => {
  it('ends consistent when 100 clients push overlapping blobs and the same tags at once', async () => {
    const running = await serve(root, port);
    try {
      const shared = image('shared');
      const variants = Array.from({ length: 5 }, (_, i) => {
        const config = testJson(MEDIA_TYPE_IMAGE_CONFIG, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, variant: i });
        return { config, manifest: testManifest(config.descriptor, [shared.layer.descriptor]) };
      });
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const repo = client().repository(running.host, 'busy/app');
          const variant = variants[i % variants.length];
          if (variant === undefined) return;
          await repo.push(shared.layer.descriptor, shared.layer.bytes, opts());
          await repo.push(variant.config.descriptor, variant.config.bytes, opts());
          await repo.pushReference(variant.manifest.descriptor, variant.manifest.bytes, `t${i % 3}`, opts());
        }),
      );
      const repo = client().repository(running.host, 'busy/app');
      const manifests = new Set(variants.map((v) => v.manifest.descriptor.digest));
      for (const tag of ['t0', 't1', 't2']) {
        const resolved = await repo.resolve(tag, opts());
        assert.ok(manifests.has(resolved.digest), `${tag} points at one of the pushed manifests`);
        const bytes = await readVerified(await repo.fetch(resolved, opts()), resolved);
        assert.equal(digestOf(bytes), resolved.digest);
        const manifest = JSON.parse(Buffer.from(bytes).toString()) as { config: { digest: string }; layers: Array<{ digest: string }>; mediaType: string };
        assert.equal(manifest.mediaType, MEDIA_TYPE_IMAGE_MANIFEST);
        for (const d of [manifest.config, ...manifest.layers]) assert.ok(await repo.exists({ mediaType: 'application/octet-stream', digest: d.digest, size: 0 }, opts()), `${d.digest} is there`);
      }
      assert.deepEqual(await collectTags(repo), ['t0', 't1', 't2']);
    } finally {
      await stop(running);
    }
  });
});

describe('gc while serving', { timeout: 120_000 }, () => {
  it('runs through the running registry, and a kill -9 during gc loses nothing referenced', async (t) => {
    // A data directory of its own: the tests above leave unacknowledged pushes behind, which gc would count.
    const root = await mkdtemp(join(tmpdir(), 'sigil-registry-gc-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    let running = await serve(root, port);
    const repo = client().repository(running.host, 'gc/app');
    const kept = image('gc-kept');
    for (const c of [kept.config, kept.layer]) await repo.push(c.descriptor, c.bytes, opts());
    await repo.pushReference(kept.manifest.descriptor, kept.manifest.bytes, 'v1', opts());
    const orphans = Array.from({ length: 50 }, (_, i) => testBlob(`gc-orphan-${i}`, 1000));
    for (const o of orphans) await repo.push(o.descriptor, o.bytes, opts());

    const first = await runSigil(['registry', 'gc', '--root', root, '--grace', '0', '--upload-ttl', '0', '--dry-run']);
    assert.match(first, /through the running registry\): would remove 0 blobs \(0 bytes\), 50 unused blob links, 0 expired uploads/);

    const gc = runSigil(['registry', 'gc', '--root', root, '--grace', '0']).catch(() => 'interrupted');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await kill9(running);
    await gc;

    running = await serve(root, port);
    const again = client().repository(running.host, 'gc/app');
    const resolved = await again.resolve('v1', opts());
    for (const d of [resolved, kept.config.descriptor, kept.layer.descriptor]) await readVerified(await again.fetch(d, opts()), d);
    const finish = await runSigil(['registry', 'gc', '--root', root, '--grace', '0']);
    assert.match(finish, /through the running registry\): removed \d+ blobs/);
    for (const o of orphans) assert.equal(await again.exists(o.descriptor, opts()), false, 'orphans are gone after a full gc');
    await stop(running);
    const offline = await runSigil(['registry', 'gc', '--root', root]);
    assert.match(offline, /on the data directory\): removed 0 blobs/);
  });
});

/** Runs the sigil binary to completion and returns stdout; rejects on a non-zero exit. */
function runSigil(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SIGIL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`sigil ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

async function collectTags(repo: ReturnType<RegistryClient['repository']>): Promise<string[]> {
  const out: string[] = [];
  for await (const tag of repo.tags(opts())) out.push(tag);
  return out;
}

/** One HTTP request without the client's checks (to drive uploads by hand); `slow` trickles the body. */
function rawRequest(host: string, method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}, slow = false): Promise<{ status: number; headers: Record<string, string | undefined> }> {
  const url = new URL(path, `http://${host}`);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, 'content-length': String(body?.byteLength ?? 0) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: { location: res.headers.location, range: res.headers.range } }));
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (!slow) req.end(body);
    else {
      // A trickle that the kill interrupts midway.
      let offset = 0;
      const timer = setInterval(() => {
        if (offset >= body.byteLength) {
          clearInterval(timer);
          req.end();
          return;
        }
        req.write(body.subarray(offset, offset + 64 * 1024));
        offset += 64 * 1024;
      }, 5);
      req.on('error', () => clearInterval(timer));
      req.on('close', () => clearInterval(timer));
    }
  });
}
