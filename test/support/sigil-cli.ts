// Runs the real sigil binary as users do, and builds the small OCI layouts the CLI tests copy.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { freePort } from './docker-registry.js';

/** The package's bin, from dist/test/support. */
export const SIGIL = fileURLToPath(new URL('../../../bin/sigil.js', import.meta.url));

/** What one run of the binary did. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary with `env` added to this process's environment and `stdin` piped in. */
export function runSigil(args: readonly string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SIGIL, ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** Asserts success and returns the result. */
export function ok(result: Result): Result {
  assert.equal(result.code, 0, `sigil failed: ${result.stderr}`);
  return result;
}

/** A failure prints exactly one `Error: …` line on stderr and exits 1. */
export function failsWithOneLine(result: Result, pattern: RegExp): void {
  assert.equal(result.code, 1, `expected failure, got ${result.code}: ${result.stdout}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `want one error line, got: ${result.stderr}`);
  assert.match(lines[0] ?? '', /^Error: /);
  assert.match(lines[0] ?? '', pattern);
}

/** Builds a small real image (gzipped tar layer, OCI config) as an OCI layout at `dir`, tag `v1`. */
export async function buildImageLayout(dir: string): Promise<string> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (bytes: Buffer) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(dir, 'blobs', 'sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  // A one-file tar: 512-byte header + content padded to 512 + two zero blocks.
  const content = randomBytes(3000);
  const header = Buffer.alloc(512);
  header.write('hello.bin', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(content.length.toString(8).padStart(11, '0') + '\0', 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\x0000', 257);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const tar = Buffer.concat([header, content, Buffer.alloc(512 - (content.length % 512)), Buffer.alloc(1024)]);
  const layer = await put(gzipSync(tar));
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const config = await put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] }, config: {} })));
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  const manifest = await put(manifestBytes);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }),
  );
  return manifest.digest;
}

/** A `sigil registry serve` process started by startSigilRegistry. */
export interface SigilRegistry {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  /** Sends SIGTERM (if it still runs) and resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts `sigil registry serve` on a free loopback port over `root`; resolves once it says it is listening. */
export async function startSigilRegistry(root: string, extraArgs: readonly string[] = []): Promise<SigilRegistry> {
  const port = await freePort();
  const child = spawn(process.execPath, [SIGIL, 'registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', root, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sigil registry serve did not start: ${output}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sigil registry serve exited with ${code}: ${output}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    host: `127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
