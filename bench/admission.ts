// Benchmark for issue #5: the admission webhook (AdmissionServer over HTTPS on loopback) deciding
// Pods with 3 Notation-signed images held by `sigil registry serve` (the embedded registry, in its
// own process; BENCH_REGISTRY=docker-registry uses Debian's Distribution instead), with the load
// generated in a worker thread by keep-alive HTTPS connections with a minimal HTTP/1.1 client:
//   (i)   (measured last) the raw cost of one signature verification in process (Verifier.verifySignature on the
//         e2e JWS envelope, and verifyArtifact over the OCI layout) — the floor of the cold path;
//   (ii)  warm cache: /validate with digest-pinned images (what the validating webhook sees after
//         mutateDigest; no registry call), closed loop at BENCH_CONCURRENCY in flight for
//         requests/s and open loop at 2,000 requests/s offered for the latency at the target rate;
//         /mutate with tag-only images (tags resolved on every request);
//   (iii) cache off (`cache: false`): /validate with pinned images, every image verified on every
//         request, at 1 and at BENCH_CONCURRENCY in flight, next to a plain HTTP round trip to the
//         registry measured in the same run (the floor under each registry call);
//   (iv)  a burst of BENCH_BURST concurrent /validate admissions of one never-verified image,
//         counting verifications from the server's metrics before and after.
// Targets (issue #5, 2-core machine): warm /validate p99 < 5 ms and >= 2,000 requests/s; cold
// p99 < 50 ms; the burst runs exactly one verification. A missed target prints MISSED; the exit
// code stays 0 (benchmarks are not tests).
// Run: npm run bench:admission   (BENCH_SECONDS per phase, BENCH_REQUESTS per phase at most,
// BENCH_CONCURRENCY, BENCH_BURST, BENCH_PHASES=raw,warm,mutate,cold,burst; e.g. BENCH_SECONDS=0.5
// for a smoke run)

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Pool } from 'undici';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { notaryPolicyYaml } from '../test/support/admission.js';
import { startDockerRegistry } from '../test/support/docker-registry.js';
import { copyWritable, NOTATION_E2E, NOTATION_LAYOUTS, SHARED_TESTDATA } from '../test/support/shared.js';
import { SIGIL, startSigilRegistry } from '../test/support/sigil-cli.js';
import { applyPatch, decodePatch, ADMISSION_TRUST_STORE_NAME } from '../src/admission/index.js';
import { decodeCertificates } from '../src/pki/index.js';
import { JWS_MEDIA_TYPE, TRUST_POLICY_VERSION, Verifier, type TrustPolicyDocument, type TrustStore } from '../src/notary/index.js';
import { MEDIA_TYPE_IMAGE_MANIFEST, OciLayout, type Descriptor } from '../src/oci/index.js';
import { RegistryClient } from '../src/registry/index.js';
import { verifyArtifact } from '../src/verify/index.js';
import { AdmissionMetrics, AdmissionServer, createRegistryImageVerifier, ensureTlsDir, loadPolicyFiles, TLS_DIR_FILES } from '../src/server/admission/index.js';

/** Seconds each load phase runs at most (after a warm-up of a tenth of that, at least 0.2 s). */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
/** Requests each load phase sends at most; whichever of this and SECONDS comes first ends it. */
const MAX_REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40_000);
/** Keep-alive connections, each with one request in flight (pipelining 1), in the load phases. */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
/** Concurrent admissions of one new image in the burst. */
const BURST = Number(process.env.BENCH_BURST ?? 200);
/** BENCH_REGISTRY: `sigil` (default: `sigil registry serve`, the embedded registry) or `docker-registry` (Debian's Distribution). */
const REGISTRY = process.env.BENCH_REGISTRY ?? 'sigil';
/** Which phases run (BENCH_PHASES, comma-separated; default all): raw, warm, mutate, cold, burst. One alone is handy under --cpu-prof. */
const PHASES = new Set((process.env.BENCH_PHASES ?? 'raw,warm,mutate,cold,burst').split(',').map((p) => p.trim()));

const TARGET_WARM_P99_MS = 5;
const TARGET_WARM_RPS = 2000;
const TARGET_COLD_P99_MS = 50;
/** Connections of the open-loop phase: enough that a short stall does not queue requests in the client. */
const PACED_CONNECTIONS = Math.max(CONCURRENCY, 16);

/** The Notation e2e layout signed with e2e.crt; its tag v1 is the signed manifest. */
const SIGNED_LAYOUT = 'e2e-valid-signature';
const SIGNED_MANIFEST: Descriptor = { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9', size: 517 };
const SIGNED_ENVELOPE_DIGEST = 'sha256:c9af07e038b2b1a463e648986ad7273157511ffeba0b689f33e5472bae471f50';

// ---------------------------------------------------------------------------------------------
// The load generator: runs in a worker thread so the client's TLS, HTTP and JSON work do not share
// the server's event loop.

/** One load phase, as the main thread asks for it. */
interface LoadSpec {
  readonly origin: string;
  readonly ca: string;
  readonly path: string;
  readonly body: string;
  readonly concurrency: number;
  readonly seconds: number;
  readonly maxRequests: number;
  /** Seconds of unrecorded load first (connections, JIT); 0 for none. */
  readonly warmupSeconds: number;
  /**
   * Open loop: send at this many requests per second whatever the answers do, and time each
   * request from when it was due (so a stalled server is charged for the requests it held up);
   * `concurrency` is then the connection count. Undefined: closed loop, `concurrency` requests in flight.
   */
  readonly rate?: number;
}

/** What a load phase measured. */
interface LoadResult {
  /** Latency of every recorded request, in milliseconds (open loop: from when it was issued). */
  readonly latencies: Float64Array;
  /** Open loop only: latency of every recorded request from when it was due. */
  readonly dueLatencies?: Float64Array;
  readonly seconds: number;
  /** Requests that were not a 200 with `"allowed":true`, and the first such answer. */
  readonly refused: number;
  readonly firstRefusal?: string;
  /** Requests answered during the warm-up, not recorded. */
  readonly warmupRequests: number;
}

/** One keep-alive TLS connection of RawHttpsClient, carrying one request at a time. */
class RawConnection {
  readonly #socket: TLSSocket;
  #chunks: Buffer[] = [];
  #received = 0;
  #current: { resolve: (answer: { status: number; text: string }) => void; reject: (error: Error) => void } | undefined;
  closed = false;

  constructor(url: URL, ca: string, onClose: (connection: RawConnection) => void) {
    this.#socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca, servername: 'localhost' });
    this.#socket.setNoDelay(true);
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    const fail = (error: Error) => {
      this.closed = true;
      const current = this.#current;
      this.#current = undefined;
      current?.reject(error);
      onClose(this);
    };
    this.#socket.on('error', fail);
    this.#socket.on('close', () => fail(new Error('the server closed the connection')));
  }

  send(request: Buffer): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      this.#current = { resolve, reject };
      this.#socket.write(request);
    });
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#received += chunk.byteLength;
    const bytes = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#received);
    const headerEnd = bytes.indexOf('\r\n\r\n');
    if (headerEnd === -1) return;
    const head = bytes.toString('latin1', 0, headerEnd);
    const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head)?.[1];
    if (length === undefined) {
      this.#socket.destroy(new Error(`an answer without Content-Length: ${head.slice(0, 200)}`));
      return;
    }
    const end = headerEnd + 4 + Number(length);
    if (bytes.byteLength < end) {
      this.#chunks = [bytes];
      return;
    }
    if (bytes.byteLength > end) {
      this.#socket.destroy(new Error('bytes past the answer on a connection with one request in flight'));
      return;
    }
    this.#chunks = [];
    this.#received = 0;
    const current = this.#current;
    this.#current = undefined;
    current?.resolve({ status: Number(head.slice(9, 12)), text: bytes.toString('utf8', headerEnd + 4) });
  }

  close(): void {
    this.closed = true;
    this.#socket.destroy();
  }
}

/**
 * Keep-alive HTTPS connections that each carry one request at a time, the request's bytes built
 * once, answers read by their Content-Length: a fraction of a general HTTP client's work per
 * request, so the load generator's own pauses weigh less in the latencies it reports. (The
 * admission server always answers with Content-Length; anything else fails the phase.)
 */
class RawHttpsClient {
  readonly #url: URL;
  readonly #ca: string;
  readonly #request: Buffer;
  readonly #idle: RawConnection[] = [];
  readonly #all = new Set<RawConnection>();
  readonly #waiting: Array<(connection: RawConnection) => void> = [];
  readonly #connections: number;

  constructor(origin: string, ca: string, path: string, body: string, connections: number) {
    this.#url = new URL(origin);
    this.#ca = ca;
    this.#connections = connections;
    const payload = Buffer.from(body);
    this.#request = Buffer.concat([
      Buffer.from(`POST ${path} HTTP/1.1\r\nhost: ${this.#url.host}\r\ncontent-type: application/json\r\ncontent-length: ${payload.byteLength}\r\n\r\n`, 'latin1'),
      payload,
    ]);
  }

  async request(): Promise<{ status: number; text: string }> {
    const connection = await this.#take();
    try {
      return await connection.send(this.#request);
    } finally {
      this.#give(connection);
    }
  }

  #take(): Promise<RawConnection> {
    const idle = this.#idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.#all.size < this.#connections) {
      const connection = new RawConnection(this.#url, this.#ca, (c) => {
        this.#all.delete(c);
        const at = this.#idle.indexOf(c);
        if (at !== -1) this.#idle.splice(at, 1);
      });
      this.#all.add(connection);
      return Promise.resolve(connection);
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #give(connection: RawConnection): void {
    if (connection.closed) {
      // Whoever waits gets a new connection in its place.
      const next = this.#waiting.shift();
      if (next !== undefined) void this.#take().then(next);
      return;
    }
    const next = this.#waiting.shift();
    if (next !== undefined) next(connection);
    else this.#idle.push(connection);
  }

  close(): void {
    for (const connection of this.#all) connection.close();
  }
}

async function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  const client = new RawHttpsClient(spec.origin, spec.ca, spec.path, spec.body, spec.concurrency);
  let refused = 0;
  let firstRefusal: string | undefined;
  let answered = 0;
  const once = async (): Promise<void> => {
    const response = await client.request();
    const text = response.text;
    answered++;
    if (response.status !== 200 || !text.includes('"allowed":true')) {
      refused++;
      firstRefusal ??= `${response.status}: ${text.slice(0, 400)}`;
    }
  };
  const run = async (seconds: number, maxRequests: number, record: number[] | undefined): Promise<number> => {
    const start = performance.now();
    const end = start + seconds * 1000;
    let started = 0;
    await Promise.all(
      Array.from({ length: spec.concurrency }, async () => {
        while (started < maxRequests && performance.now() < end) {
          started++;
          const t0 = performance.now();
          await once();
          record?.push(performance.now() - t0);
        }
      }),
    );
    return (performance.now() - start) / 1000;
  };
  // Each request is timed twice: from when it was issued (the pacer issues on schedule, on its own
  // thread, whatever the server does, so a server stall still shows: the requests issued during it
  // wait for a connection or an answer) and from when it was due (which adds the pacer's own
  // lateness: its 1 ms wake-ups and its thread's pauses).
  const paced = async (rate: number, seconds: number, maxRequests: number, record: number[] | undefined, recordDue: number[] | undefined): Promise<number> => {
    const start = performance.now();
    const end = start + seconds * 1000;
    const interval = 1000 / rate;
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    for (let now = start; now < end && sent < maxRequests; now = performance.now()) {
      const due = Math.min(maxRequests, Math.floor((now - start) / interval) + 1);
      for (; sent < due; sent++) {
        const scheduled = start + sent * interval;
        const issued = performance.now();
        const request: Promise<void> = once().then(() => {
          const done = performance.now();
          record?.push(done - issued);
          recordDue?.push(done - scheduled);
          inFlight.delete(request);
        });
        inFlight.add(request);
      }
      await sleep(1);
    }
    await Promise.all(inFlight);
    return (performance.now() - start) / 1000;
  };
  const measure = (seconds: number, record: number[] | undefined, recordDue?: number[]): Promise<number> =>
    spec.rate === undefined ? run(seconds, spec.maxRequests, record) : paced(spec.rate, seconds, spec.maxRequests, record, recordDue);
  try {
    if (spec.warmupSeconds > 0) {
      await measure(spec.warmupSeconds, undefined);
      refused = 0;
      firstRefusal = undefined;
    }
    const warmupRequests = answered;
    const latencies: number[] = [];
    const dueLatencies: number[] = [];
    const seconds = await measure(spec.seconds, latencies, dueLatencies);
    return {
      latencies: Float64Array.from(latencies),
      ...(spec.rate === undefined ? {} : { dueLatencies: Float64Array.from(dueLatencies) }),
      seconds,
      refused,
      warmupRequests,
      ...(firstRefusal === undefined ? {} : { firstRefusal }),
    };
  } finally {
    client.close();
  }
}

if (!isMainThread) {
  const port = parentPort;
  if (port === null || workerData !== 'sigil-bench-admission-load') throw new Error('bench/admission: started as a worker without its port');
  port.on('message', (spec: LoadSpec) => {
    generateLoad(spec).then(
      (result) => port.postMessage({ result }, [result.latencies.buffer as ArrayBuffer, ...(result.dueLatencies === undefined ? [] : [result.dueLatencies.buffer as ArrayBuffer])]),
      (error: unknown) => port.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
}

/** The worker thread the load runs in; `load` runs one phase at a time. */
class LoadWorker {
  readonly #worker = new Worker(new URL(import.meta.url), { workerData: 'sigil-bench-admission-load' });

  load(spec: LoadSpec): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.#worker.once('error', onError);
      this.#worker.once('message', (message: { result?: LoadResult; error?: string }) => {
        this.#worker.off('error', onError);
        if (message.result !== undefined) resolve(message.result);
        else reject(new Error(`load worker: ${message.error ?? 'no answer'}`));
      });
      this.#worker.postMessage(spec);
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// Set-up: the registry process, signed images, TLS, the policy, AdmissionReview bodies

/** Cleanups run in reverse order at the end, or on SIGINT. */
const cleanups: Array<() => Promise<void>> = [];

async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`clean-up: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function runSigil(args: readonly string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SIGIL, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sigil ${args.join(' ')} exited with ${code}: ${stderr}`))));
  });
}

/** Starts `sigil registry serve` (test/support/sigil-cli.ts), stopped at clean-up. */
async function serveRegistry(root: string): Promise<string> {
  const registry = await startSigilRegistry(root);
  cleanups.push(() => registry.stop());
  return registry.host;
}

interface Review {
  request: { uid: string; object: { metadata: Record<string, unknown>; spec: { containers: Array<Record<string, unknown>> } } };
}

/** The shared pod-create.json AdmissionReview with one container per image (copies of its own container). */
async function podReview(images: readonly string[]): Promise<Review> {
  const review = JSON.parse(await readFile(join(SHARED_TESTDATA, 'admission', 'pod-create.json'), 'utf8')) as Review;
  const template = review.request.object.spec.containers[0];
  if (template === undefined) throw new Error('pod-create.json has no container');
  review.request.object.spec.containers = images.map((image, i) => ({ ...structuredClone(template), name: `app-${i}`, image }));
  return review;
}

async function post(origin: string, ca: string, path: string, body: string): Promise<{ status: number; text: string }> {
  const pool = new Pool(origin, { connections: 1, connect: { ca, servername: 'localhost' } });
  try {
    const response = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: response.statusCode, text: await response.body.text() };
  } finally {
    await pool.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements

/** Mean milliseconds of one plain HTTP round trip to the registry (`GET /v2/` on a kept-alive connection). */
async function registryRoundTrip(host: string, count = 200): Promise<number> {
  const pool = new Pool(`http://${host}`, { connections: 1 });
  const once = async (): Promise<void> => {
    const response = await pool.request({ path: '/v2/', method: 'GET' });
    await response.body.text();
  };
  try {
    for (let i = 0; i < 20; i++) await once();
    const start = performance.now();
    for (let i = 0; i < count; i++) await once();
    return (performance.now() - start) / count;
  } finally {
    await pool.close();
  }
}

/** Runs `op` for `seconds` (after a warm-up of a fifth of that) and returns microseconds per operation. */
async function microsPerOp(op: () => Promise<void>, seconds: number): Promise<number> {
  const loop = async (budget: number): Promise<number> => {
    const start = performance.now();
    const end = start + budget * 1000;
    let n = 0;
    let now = start;
    while (now < end) {
      await op();
      n++;
      now = performance.now();
    }
    return ((now - start) * 1000) / n;
  };
  await loop(seconds / 5);
  return loop(seconds);
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

/** p50, p99 (ms) and requests/s of a phase. */
interface PhaseStats {
  readonly label: string;
  readonly requests: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly rps: number;
  readonly refused: number;
  /** Open loop: p50 and p99 from when each request was due. */
  readonly due?: { readonly p50: number; readonly p99: number };
}

function stats(label: string, result: LoadResult): PhaseStats {
  const sorted = result.latencies.slice().sort();
  const dueSorted = result.dueLatencies?.slice().sort();
  const due = dueSorted === undefined ? undefined : { p50: percentile(dueSorted, 0.5), p99: percentile(dueSorted, 0.99) };
  const phase = { label, requests: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? NaN, rps: sorted.length / result.seconds, refused: result.refused, ...(due === undefined ? {} : { due }) };
  console.log(
    `  ${label}: ${phase.requests} requests in ${result.seconds.toFixed(2)} s, ${phase.rps.toFixed(0)}/s; p50 ${phase.p50.toFixed(2)} ms, p99 ${phase.p99.toFixed(2)} ms, max ${phase.max.toFixed(2)} ms` +
      (due === undefined ? '' : `; from when due: p50 ${due.p50.toFixed(2)} ms, p99 ${due.p99.toFixed(2)} ms`) +
      (result.refused > 0 ? `; ${result.refused} NOT ALLOWED, first: ${result.firstRefusal ?? ''}` : ''),
  );
  return phase;
}

/** The 1-minute load average: others' work on the machine shows here, and in the tail latencies. */
function loadAverage(): string {
  return (loadavg()[0] ?? NaN).toFixed(2);
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'sigil-bench-admission-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  console.log(`${availableParallelism()} CPUs, load average ${loadAverage()} at the start; load phases ${SECONDS} s or ${MAX_REQUESTS} requests each, ${CONCURRENCY} keep-alive HTTPS connections (pipelining 1) from a worker thread`);

  // The registry, and the signed layout pushed into four repositories: three for the Pod, one kept new for the burst.
  let host: string;
  let registryName: string;
  if (REGISTRY === 'docker-registry') {
    const distribution = await startDockerRegistry();
    cleanups.push(() => distribution.stop());
    host = distribution.host;
    registryName = 'docker-registry (Distribution, referrers tag schema)';
  } else {
    host = await serveRegistry(join(work, 'registry'));
    registryName = 'sigil registry serve (embedded PGlite)';
  }
  const env = { SIGIL_CONFIG: join(work, 'sigil'), DOCKER_CONFIG: join(work, 'docker') };
  const layout = join(work, 'layout');
  await copyWritable(join(NOTATION_LAYOUTS, SIGNED_LAYOUT), layout);
  const repositories = ['bench/app-a', 'bench/app-b', 'bench/app-c'];
  for (const repository of repositories) await runSigil(['cp', '-r', '--from-oci-layout', `${layout}:v1`, `${host}/${repository}:v1`], env);
  console.log(`registry: ${registryName} on ${host}, ${SIGNED_LAYOUT} pushed to ${repositories.join(', ')}`);

  const cert = await readFile(join(NOTATION_E2E, 'config/localkeys/e2e.crt'), 'utf8');
  const policyFile = join(work, 'policy.yaml');
  await writeFile(policyFile, notaryPolicyYaml({ name: 'check-images', rule: 'check-notary', host, cert }));
  const { policies, exceptions } = await loadPolicyFiles([policyFile]);
  const statement = policies[0]?.spec.rules[0]?.trustPolicy.statement;
  if (statement === undefined) throw new Error('the policy has no rule with a trust policy');

  // (i) one signature verification in process, with the statement and trust store the webhook builds for the rule.
  const trusted = decodeCertificates(Buffer.from(cert), 'e2e.crt');
  const trustStore: TrustStore = {
    getCertificates: async (type, name) => {
      if (type !== 'ca' || name !== ADMISSION_TRUST_STORE_NAME) throw new Error(`no trust store ${type}:${name}`);
      return trusted;
    },
  };
  const verifier = new Verifier({ trustStore });
  const envelope = { mediaType: JWS_MEDIA_TYPE, bytes: await readFile(join(layout, 'blobs', 'sha256', SIGNED_ENVELOPE_DIGEST.slice('sha256:'.length))) };
  const verifySignature = async (): Promise<void> => {
    const outcome = await verifier.verifySignature({ envelope, statement, artifact: SIGNED_MANIFEST });
    if (outcome.status !== 'passed') throw new Error(`the e2e signature does not verify: ${outcome.failure?.message}`);
  };
  const oci = await OciLayout.open(layout);
  const trustPolicy: TrustPolicyDocument = { version: TRUST_POLICY_VERSION, trustPolicies: [statement] };
  const verifyFromLayout = async (): Promise<void> => {
    const report = await verifyArtifact({ source: oci, artifact: SIGNED_MANIFEST, scope: `${host}/bench/app-a`, trustPolicy, verifier, signal: AbortSignal.timeout(10_000) });
    if (report.status !== 'verified') throw new Error(`the e2e layout does not verify: ${report.message}`);
  };
  await verifySignature();
  await verifyFromLayout();

  // Two webhooks on the same policies: the default verification cache, and the cache off.
  const material = await ensureTlsDir(join(work, 'tls'), new Date());
  const ca = await readFile(join(work, 'tls', TLS_DIR_FILES.ca), 'utf8');
  const start = async (cache: boolean): Promise<{ origin: string; metrics: AdmissionMetrics }> => {
    const metrics = new AdmissionMetrics();
    const client = new RegistryClient();
    const server = new AdmissionServer({
      tls: { cert: material.cert, key: material.key },
      verifyImage: createRegistryImageVerifier(client, { observer: metrics, ...(cache ? {} : { cache: false }) }),
      policies: { policies, exceptions },
      metrics,
    });
    const { port } = await server.listen(0, '127.0.0.1');
    cleanups.push(async () => {
      await server.close();
      await client.close();
    });
    return { origin: `https://127.0.0.1:${port}`, metrics };
  };
  const warm = await start(true);
  const cold = await start(false);
  const worker = new LoadWorker();
  cleanups.push(() => worker.close());

  // Bodies: tag-only images (what /mutate sees), and the same Pod after /mutate's patch (digests pinned, the record annotations added).
  const tagged = await podReview(repositories.map((r) => `${host}/${r}:v1`));
  const taggedBody = JSON.stringify(tagged);
  const mutated = await post(warm.origin, ca, '/mutate', taggedBody);
  const response = (JSON.parse(mutated.text) as { response?: { allowed?: boolean; patch?: string } }).response;
  if (mutated.status !== 200 || response?.allowed !== true || response.patch === undefined) throw new Error(`/mutate did not admit the Pod with a patch: ${mutated.status} ${mutated.text.slice(0, 400)}`);
  const pinned = structuredClone(tagged);
  pinned.request.object = applyPatch(tagged.request.object, decodePatch(response.patch)) as Review['request']['object'];
  const pinnedImages = pinned.request.object.spec.containers.map((c) => String(c.image));
  if (!pinnedImages.every((i) => i.endsWith(`@${SIGNED_MANIFEST.digest}`))) throw new Error(`/mutate did not pin every image: ${pinnedImages.join(', ')}`);
  const pinnedBody = JSON.stringify(pinned);
  console.log(`AdmissionReview: pod-create.json with 3 containers, ${taggedBody.length} bytes tag-only, ${pinnedBody.length} bytes pinned with the record annotations`);

  const phase = (origin: string, path: string, body: string, concurrency = CONCURRENCY, seconds = SECONDS, maxRequests = MAX_REQUESTS): LoadSpec => ({
    origin,
    ca,
    path,
    body,
    concurrency,
    seconds,
    maxRequests,
    warmupSeconds: Math.max(0.2, seconds / 10),
  });

  // (ii) warm
  let warmValidate: PhaseStats | undefined;
  let warmPaced: PhaseStats | undefined;
  let warmMutate: PhaseStats | undefined;
  if (PHASES.has('warm') || PHASES.has('mutate')) {
    console.log(`(ii) warm cache`);
    const verificationsBefore = await warm.metrics.value('sigil_verifications_total');
    if (PHASES.has('warm')) {
      const registryBefore = await warm.metrics.value('sigil_registry_requests_total');
      const idle = performance.eventLoopUtilization();
      const closed = await worker.load(phase(warm.origin, '/validate', pinnedBody));
      warmValidate = stats(`/validate, pinned digests, closed loop (${CONCURRENCY} in flight)`, closed);
      // The server's thread (this one) was busy this share of the phase: its cost per request.
      const busy = performance.eventLoopUtilization(idle);
      const busyMicros = (busy.active * 1000) / (warmValidate.requests + closed.warmupRequests);
      console.log(`  server event loop ${(busy.utilization * 100).toFixed(0)}% busy: ${busyMicros.toFixed(0)} µs of its time per request (TLS, HTTP, decode, evaluate, encode, metrics; time other processes took the core counts too)`);
      // The server's own view of the same requests (body read to answer written, from its histogram):
      // what it spends, apart from queueing, TLS, the network and the load generator.
      const served = async () => ({
        count: await warm.metrics.value('sigil_admission_review_duration_seconds_count', { webhook: 'validate' }),
        within1: await warm.metrics.value('sigil_admission_review_duration_seconds_bucket', { webhook: 'validate', le: '0.001' }),
        within5: await warm.metrics.value('sigil_admission_review_duration_seconds_bucket', { webhook: 'validate', le: '0.005' }),
      });
      const servedBefore = await served();
      warmPaced = stats(
        `/validate, pinned digests, open loop at ${TARGET_WARM_RPS}/s offered (${PACED_CONNECTIONS} connections; latency from when each request was issued)`,
        await worker.load({ ...phase(warm.origin, '/validate', pinnedBody, PACED_CONNECTIONS), rate: TARGET_WARM_RPS }),
      );
      const servedAfter = await served();
      const reviews = servedAfter.count - servedBefore.count;
      const over = (within: number) => (((reviews - within) / Math.max(1, reviews)) * 100).toFixed(2);
      console.log(`  inside the server (its histogram, warm-up included): ${over(servedAfter.within1 - servedBefore.within1)}% of ${reviews} reviews took over 1 ms, ${over(servedAfter.within5 - servedBefore.within5)}% over 5 ms`);
      console.log(`  registry calls during the pinned /validate phases: ${(await warm.metrics.value('sigil_registry_requests_total')) - registryBefore}`);
    }
    if (PHASES.has('mutate')) {
      const registryBefore = await warm.metrics.value('sigil_registry_requests_total');
      warmMutate = stats('/mutate, tag-only (tags resolved on every request; identical resolutions in flight share one call)', await worker.load(phase(warm.origin, '/mutate', taggedBody)));
      console.log(`  registry calls during the tag-only /mutate phase: ${(await warm.metrics.value('sigil_registry_requests_total')) - registryBefore}`);
    }
    console.log(`  verifications during the warm phases: ${(await warm.metrics.value('sigil_verifications_total')) - verificationsBefore}`);
  }

  // (iii) cache off
  let coldValidate: PhaseStats | undefined;
  let coldSingle: PhaseStats | undefined;
  let roundTrip: number | undefined;
  let callsPerVerification: number | undefined;
  if (PHASES.has('cold')) {
    console.log(`(iii) cache off (cache: false): every image verified on every request`);
    roundTrip = await registryRoundTrip(host);
    console.log(`  loopback round trip to the registry, plain undici GET /v2/ one at a time: ${roundTrip.toFixed(2)} ms (the floor under every registry call)`);
    const verificationsBefore = await cold.metrics.value('sigil_verifications_total');
    coldSingle = stats('/validate, pinned digests, 1 in flight (the latency of one cold admission)', await worker.load(phase(cold.origin, '/validate', pinnedBody, 1)));
    coldValidate = stats(`/validate, pinned digests, ${CONCURRENCY} in flight`, await worker.load(phase(cold.origin, '/validate', pinnedBody)));
    const verifications = (await cold.metrics.value('sigil_verifications_total')) - verificationsBefore;
    const perImage = (await cold.metrics.value('sigil_verification_duration_seconds_sum')) / (await cold.metrics.value('sigil_verification_duration_seconds_count'));
    const registryCalls = await cold.metrics.value('sigil_registry_requests_total');
    callsPerVerification = registryCalls / verifications;
    console.log(`  ${verifications} verifications (warm-up included), ${(registryCalls / verifications).toFixed(1)} registry calls each, mean ${(perImage * 1000).toFixed(2)} ms each as the verifier timed them (registry calls included)`);
    const calls: string[] = [];
    for (const operation of ['resolve', 'referrers', 'fetch']) {
      const count = await cold.metrics.value('sigil_registry_request_duration_seconds_count', { operation });
      const sum = await cold.metrics.value('sigil_registry_request_duration_seconds_sum', { operation });
      if (count > 0) calls.push(`${operation} ${count} × ${((sum / count) * 1000).toFixed(2)} ms`);
    }
    console.log(`  registry calls, mean duration as the verifier timed them (queueing in its per-registry limit excluded): ${calls.join(', ')}`);
  }

  // (iv) burst: a repository pushed just now, so its verdict is in no cache.
  let burstStats: PhaseStats | undefined;
  let burstVerifications: number | undefined;
  if (PHASES.has('burst')) {
    console.log(`(iv) burst: ${BURST} concurrent /validate admissions naming one new image (plus the two warm ones)`);
    await runSigil(['cp', '-r', '--from-oci-layout', `${layout}:v1`, `${host}/bench/new:v1`], env);
    const burstReview = await podReview([`${host}/bench/new@${SIGNED_MANIFEST.digest}`, pinnedImages[1] ?? '', pinnedImages[2] ?? '']);
    const counters = async () => ({
      verifications: await warm.metrics.value('sigil_verifications_total'),
      hit: await warm.metrics.value('sigil_verification_cache_lookups_total', { result: 'hit' }),
      shared: await warm.metrics.value('sigil_verification_cache_lookups_total', { result: 'shared' }),
      miss: await warm.metrics.value('sigil_verification_cache_lookups_total', { result: 'miss' }),
    });
    const before = await counters();
    const burst = await worker.load({ ...phase(warm.origin, '/validate', JSON.stringify(burstReview), BURST, 60, BURST), warmupSeconds: 0 });
    const after = await counters();
    burstVerifications = after.verifications - before.verifications;
    burstStats = stats(`burst of ${BURST} (${BURST} connections, TLS handshakes included)`, burst);
    console.log(
      `  sigil_verifications_total ${before.verifications} -> ${after.verifications} (+${burstVerifications}); ` +
        `sigil_verification_cache_lookups_total hit +${after.hit - before.hit}, shared +${after.shared - before.shared}, miss +${after.miss - before.miss}`,
    );
  }

  // (i) last: its tight loops of verifications in this thread leave garbage (and promotions) that
  // would otherwise be collected during the load phases and charged to the server's latency.
  let signatureMicros: number | undefined;
  let artifactMicros: number | undefined;
  if (PHASES.has('raw')) {
    const rawSeconds = Math.max(0.5, SECONDS / 2);
    signatureMicros = await microsPerOp(verifySignature, rawSeconds);
    artifactMicros = await microsPerOp(verifyFromLayout, rawSeconds);
    console.log(`(i) one verification in process (e2e JWS, RSA-2048 self-signed e2e.crt, Kyverno's strict statement):`);
    console.log(`  Verifier.verifySignature ${signatureMicros.toFixed(0)} µs/op; verifyArtifact over the OCI layout (referrers, fetch, verify) ${artifactMicros.toFixed(0)} µs/op`);
  }

  // Summary
  const ms = (x: number | undefined) => (x === undefined ? 'skipped' : `${x.toFixed(2)} ms`);
  const perSecond = (x: number | undefined) => (x === undefined ? 'skipped' : `${x.toFixed(0)}/s`);
  const met = (value: number | undefined, ok: (v: number) => boolean) => (value === undefined ? '' : ok(value) ? 'met' : 'MISSED');
  const phases = [warmValidate, warmPaced, warmMutate, coldSingle, coldValidate, burstStats].filter((p) => p !== undefined);
  const refused = phases.reduce((n, p) => n + p.refused, 0);
  console.log(`\nsummary (the warm targets apply to /validate with pinned digests; registry: ${registryName}; load average ${loadAverage()} at the end)`);
  console.log(
    table(
      ['measure', 'value', 'target', 'result'],
      [
        [`warm /validate pinned p99 at ${TARGET_WARM_RPS}/s offered`, ms(warmPaced?.p99), `< ${TARGET_WARM_P99_MS} ms`, met(warmPaced?.p99, (v) => v < TARGET_WARM_P99_MS)],
        [`warm /validate pinned throughput (${CONCURRENCY} in flight)`, perSecond(warmValidate?.rps), `>= ${TARGET_WARM_RPS}/s`, met(warmValidate?.rps, (v) => v >= TARGET_WARM_RPS)],
        ['cold /validate pinned p99 (cache off, 1 in flight)', ms(coldSingle?.p99), `< ${TARGET_COLD_P99_MS} ms`, met(coldSingle?.p99, (v) => v < TARGET_COLD_P99_MS)],
        [`cold /validate pinned p99 (cache off, ${CONCURRENCY} in flight)`, ms(coldValidate?.p99), `< ${TARGET_COLD_P99_MS} ms`, met(coldValidate?.p99, (v) => v < TARGET_COLD_P99_MS)],
        [`burst of ${BURST}: verifications`, burstVerifications === undefined ? 'skipped' : String(burstVerifications), '== 1', met(burstVerifications, (v) => v === 1)],
        ['answers not allowed', String(refused), '0', met(refused, (v) => v === 0)],
        [`warm /validate pinned p50 at ${TARGET_WARM_RPS}/s offered`, ms(warmPaced?.p50), '', ''],
        [`warm /validate pinned p50 / p99 at ${TARGET_WARM_RPS}/s, from when due`, `${ms(warmPaced?.due?.p50)} / ${ms(warmPaced?.due?.p99)}`, '', ''],
        [`warm /validate pinned p50 / p99 (${CONCURRENCY} in flight)`, `${ms(warmValidate?.p50)} / ${ms(warmValidate?.p99)}`, '', ''],
        ['warm /mutate tag-only p50 / p99', `${ms(warmMutate?.p50)} / ${ms(warmMutate?.p99)}`, '', ''],
        ['warm /mutate tag-only throughput', perSecond(warmMutate?.rps), '', ''],
        ['cold /validate pinned p50 (1 in flight)', ms(coldSingle?.p50), '', ''],
        [`cold /validate pinned p50 (${CONCURRENCY} in flight)`, ms(coldValidate?.p50), '', ''],
        [`cold /validate pinned throughput (${CONCURRENCY} in flight)`, perSecond(coldValidate?.rps), '', ''],
        ['burst p50 / p99', `${ms(burstStats?.p50)} / ${ms(burstStats?.p99)}`, '', ''],
        ['one verifySignature (in process)', signatureMicros === undefined ? 'skipped' : `${signatureMicros.toFixed(0)} µs`, '', ''],
        ['one verifyArtifact over the layout', artifactMicros === undefined ? 'skipped' : `${artifactMicros.toFixed(0)} µs`, '', ''],
      ],
    ),
  );
  if (roundTrip !== undefined && callsPerVerification !== undefined && coldSingle !== undefined) {
    // One image's verification makes its registry calls one after another; the Pod's three run side by side.
    const floor = callsPerVerification * roundTrip + (signatureMicros ?? 0) / 1000;
    console.log(
      `cold floor for one Pod: ${callsPerVerification.toFixed(1)} sequential registry calls × ${roundTrip.toFixed(2)} ms round trip${signatureMicros === undefined ? '' : ' + one verifySignature'} = ${ms(floor)}; ` +
        `cold p50 (1 in flight) is ${(coldSingle.p50 / floor).toFixed(1)}x that`,
    );
  }
  if (signatureMicros !== undefined && coldSingle !== undefined) {
    const floor = (3 * signatureMicros) / 1000;
    console.log(
      `cold p50 (1 in flight) / one verifySignature = ${((coldSingle.p50 * 1000) / signatureMicros).toFixed(1)}x; ` +
        `/ the Pod's 3 verifySignature (${ms(floor)}) = ${(coldSingle.p50 / floor).toFixed(1)}x` +
        (artifactMicros === undefined ? '' : `; / 3 verifyArtifact over the layout (${ms((3 * artifactMicros) / 1000)}) = ${((coldSingle.p50 * 1000) / (3 * artifactMicros)).toFixed(1)}x`) +
        (warmPaced === undefined ? '' : `; warm p50 (${TARGET_WARM_RPS}/s offered) / one verifySignature = ${((warmPaced.p50 * 1000) / signatureMicros).toFixed(2)}x`),
    );
  }
}

if (isMainThread) {
  process.once('SIGINT', () => {
    console.error('interrupted: cleaning up');
    void cleanUp().finally(() => process.exit(130));
  });
  try {
    await main();
  } finally {
    await cleanUp();
  }
}
