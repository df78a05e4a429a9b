// Benchmark for issue #2: `sigil cp` from an OCI layout into Debian's docker-registry on loopback,
// side by side with `skopeo copy` of the same content in the same run.
//   (i)  one 256 MiB single-layer image
//   (ii) 500 small images (4 KiB layers), one CLI invocation per image for both tools
// Each tool gets a fresh registry per workload so neither can reuse blobs the other pushed.
// Run: npm run bench:client   (env BENCH_SMALL_COUNT / BENCH_LARGE_MIB shrink it for a smoke run)

import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startDockerRegistry } from '../test/support/docker-registry.js';

const run = promisify(execFile);
const SIGIL = fileURLToPath(new URL('../../bin/sigil.js', import.meta.url));
const LARGE_MIB = Number(process.env.BENCH_LARGE_MIB ?? 256);
const SMALL_COUNT = Number(process.env.BENCH_SMALL_COUNT ?? 500);

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

async function writeBlob(root: string, bytes: Uint8Array): Promise<{ digest: string; size: number }> {
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(root, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.byteLength };
}

async function writeLargeBlob(root: string, mib: number): Promise<{ digest: string; size: number }> {
  const tmp = join(root, 'blobs', 'sha256', 'large.tmp');
  const file = await open(tmp, 'w');
  const hash = createHash('sha256');
  const chunk = 4 * 1024 * 1024;
  for (let written = 0; written < mib * 1024 * 1024; written += chunk) {
    const bytes = randomBytes(chunk);
    hash.update(bytes);
    await file.write(bytes);
  }
  await file.close();
  const hex = hash.digest('hex');
  const { rename } = await import('node:fs/promises');
  await rename(tmp, join(root, 'blobs', 'sha256', hex));
  return { digest: `sha256:${hex}`, size: mib * 1024 * 1024 };
}

async function image(root: string, layer: { digest: string; size: number }, n: number): Promise<Entry> {
  const config = await writeBlob(root, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: { Labels: { n: String(n) } } })));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  };
  const desc = await writeBlob(root, Buffer.from(JSON.stringify(manifest)));
  return { mediaType: manifest.mediaType, ...desc };
}

async function buildLayout(root: string, large: boolean): Promise<void> {
  await mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const manifests: Entry[] = [];
  if (large) {
    const big = await writeLargeBlob(root, LARGE_MIB);
    manifests.push({ ...(await image(root, big, -1)), annotations: { 'org.opencontainers.image.ref.name': 'big' } });
  } else {
    for (let i = 0; i < SMALL_COUNT; i++) {
      const layer = await writeBlob(root, randomBytes(4096));
      manifests.push({ ...(await image(root, layer, i)), annotations: { 'org.opencontainers.image.ref.name': `small${i}` } });
    }
  }
  await writeFile(join(root, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const sigilCopy = (layout: string, tag: string, host: string) =>
  run(process.execPath, [SIGIL, 'cp', '--quiet', '--from-oci-layout', `${layout}:${tag}`, `${host}/sigil/${tag}:v1`], { maxBuffer: 1 << 20 });
const sigilCopyAll = (layout: string, host: string) =>
  run(process.execPath, [SIGIL, 'cp', '--quiet', '--all-tags', '--from-oci-layout', layout, `${host}/sigil/all`], { maxBuffer: 1 << 20 });
const skopeoCopy = (layout: string, tag: string, host: string) =>
  run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${host}/skopeo/${tag}:v1`], { maxBuffer: 1 << 20 });

async function workload(name: string, tags: string[], layout: string): Promise<{ sigil: number; skopeo: number }> {
  const times = { sigil: 0, skopeo: 0 };
  for (const tool of ['sigil', 'skopeo'] as const) {
    const registry = await startDockerRegistry();
    try {
      times[tool] = await timed(async () => {
        for (const tag of tags) await (tool === 'sigil' ? sigilCopy : skopeoCopy)(layout, tag, registry.host);
      });
    } finally {
      await registry.stop();
    }
  }
  console.log(`${name}: sigil ${times.sigil.toFixed(2)} s, skopeo ${times.skopeo.toFixed(2)} s, ratio sigil/skopeo ${(times.sigil / times.skopeo).toFixed(2)} (target <= 1.00)`);
  return times;
}

/** Node's own start-up, measured here: the floor under any per-process sigil time. */
async function nodeStartup(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) times.push(await timed(async () => void (await run(process.execPath, ['-e', '0']))));
  return times.sort((a, b) => a - b)[2] ?? 0;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'sigil-bench-client-'));
  const bigLayout = join(work, 'big');
  const smallLayout = join(work, 'small');
  try {
    console.log(`building layouts: one ${LARGE_MIB} MiB image, and ${SMALL_COUNT} images with 4 KiB layers…`);
    await buildLayout(bigLayout, true);
    await buildLayout(smallLayout, false);
    const large = await workload(`(i) ${LARGE_MIB} MiB single-layer image`, ['big'], bigLayout);
    console.log(`    sigil throughput ${(LARGE_MIB / large.sigil).toFixed(0)} MiB/s, skopeo ${(LARGE_MIB / large.skopeo).toFixed(0)} MiB/s`);
    const tags = Array.from({ length: SMALL_COUNT }, (_, i) => `small${i}`);
    const small = await workload(`(ii) ${SMALL_COUNT} small images, one process per image`, tags, smallLayout);
    const startup = await nodeStartup();
    console.log(`    per image: sigil ${((small.sigil / SMALL_COUNT) * 1000).toFixed(0)} ms, skopeo ${((small.skopeo / SMALL_COUNT) * 1000).toFixed(0)} ms; bare node start-up alone ${(startup * 1000).toFixed(0)} ms`);
    const registry = await startDockerRegistry();
    let bulk = 0;
    try {
      bulk = await timed(async () => void (await sigilCopyAll(smallLayout, registry.host)));
    } finally {
      await registry.stop();
    }
    console.log(`(ii) ${SMALL_COUNT} small images, one sigil cp --all-tags: sigil ${bulk.toFixed(2)} s, skopeo (per image, it has no bulk copy from a layout) ${small.skopeo.toFixed(2)} s, ratio ${(bulk / small.skopeo).toFixed(2)} (target <= 1.00)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
