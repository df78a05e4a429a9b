// The embedded registry against what the OCI distribution-spec v1.1.1 conformance suite requires,
// clean-room: one test per requirement of spec.md, of the v1.1.1 conformance workflows (pull, push,
// content discovery, content management) and of the newer suite's blob, data and error checks,
// over raw HTTP so nothing a client library smooths over is hidden; plus hostile and read-only clients.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DISTRIBUTION_ERROR_CODES } from '../../registry/index.js';
import { openEmbeddedDatabase } from './database.js';
import { RegistryServer, type RegistryServerOptions } from './server.js';

// ---- content, built here rather than with the code under test ----

const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  nondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
  octets: 'application/octet-stream',
} as const;

/** distribution-spec v1.1.1, Error Codes: the `code` field MUST be one of these (the client keeps the same table). */
const SPEC_ERROR_CODES: readonly string[] = DISTRIBUTION_ERROR_CODES;

type Algorithm = 'sha256' | 'sha512';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

interface Content {
  readonly bytes: Buffer;
  readonly descriptor: Descriptor;
}

function digestOf(bytes: Uint8Array | string, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function blobOf(bytes: Buffer | string, mediaType: string = MT.octets, algorithm: Algorithm = 'sha256'): Content {
  const buffer = Buffer.from(bytes);
  return { bytes: buffer, descriptor: { mediaType, digest: digestOf(buffer, algorithm), size: buffer.byteLength } };
}

/** A JSON document serialised with tabs, as the conformance suite's Go MarshalIndent does, so exact bytes matter. */
function documentOf(mediaType: string, doc: object, algorithm: Algorithm = 'sha256'): Content {
  return blobOf(JSON.stringify(doc, null, '\t'), mediaType, algorithm);
}

const EMPTY_JSON = blobOf('{}', MT.empty);
let unique = 0;

function configOf(label: string, algorithm: Algorithm = 'sha256', extra: Record<string, unknown> = {}): Content {
  return documentOf(MT.config, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, author: `${label}-${++unique}`, ...extra }, algorithm);
}

function imageManifestOf(config: Descriptor, layers: readonly Descriptor[], extra: Record<string, unknown> = {}, algorithm: Algorithm = 'sha256'): Content {
  return documentOf(MT.manifest, { schemaVersion: 2, mediaType: MT.manifest, config, layers, ...extra }, algorithm);
}

function indexOf(manifests: readonly Descriptor[], extra: Record<string, unknown> = {}, algorithm: Algorithm = 'sha256'): Content {
  return documentOf(MT.index, { schemaVersion: 2, mediaType: MT.index, manifests, ...extra }, algorithm);
}

/** A config and a layer unique to `label`, and an image manifest over them; nothing is pushed. */
function imageOf(label: string, extra: Record<string, unknown> = {}, algorithm: Algorithm = 'sha256'): { config: Content; layer: Content; manifest: Content } {
  const config = configOf(label, algorithm);
  const layer = blobOf(randomBytes(300), MT.layer, algorithm);
  return { config, layer, manifest: imageManifestOf(config.descriptor, [layer.descriptor], extra, algorithm) };
}

// ---- the registry under test ----

interface Registry {
  readonly server: RegistryServer;
  readonly root: string;
  readonly origin: string;
  readonly port: number;
}

async function startRegistry(options: Partial<Omit<RegistryServerOptions, 'root' | 'database'>> = {}, existingRoot?: string): Promise<Registry> {
  const root = existingRoot ?? (await mkdtemp(join(tmpdir(), 'sigil-conformance-')));
  const server = await RegistryServer.open({ root, database: await openEmbeddedDatabase(join(root, 'db')), ...options });
  const { port } = await server.listen(0);
  return { server, root, origin: `http://127.0.0.1:${port}`, port };
}

async function stopRegistry(registry: Registry | undefined): Promise<void> {
  if (registry === undefined) return;
  await registry.server.close();
  await rm(registry.root, { recursive: true, force: true });
}

let main: Registry;
before(async () => {
  main = await startRegistry();
});
after(async () => {
  await stopRegistry(main);
});

let repositories = 0;
/** A repository name no other test uses. */
const repository = (label: string) => `conformance/${label}-${++repositories}`;

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  readonly text: string;
  /** The first error code of a distribution-spec error body, if the body is one. */
  readonly code: string | undefined;
}

type CallInit = RequestInit & { registry?: Registry; duplex?: 'half' };

/** One raw HTTP exchange with the registry; `path` may be a Location header (relative or absolute). */
async function call(path: string, init: CallInit = {}): Promise<Answer> {
  const { registry = main, ...rest } = init;
  const response = await fetch(new URL(path, registry.origin), { ...rest, signal: AbortSignal.timeout(20_000) });
  const body = Buffer.from(await response.arrayBuffer());
  const text = body.toString('utf8');
  let code: string | undefined;
  try {
    const first = (JSON.parse(text) as { errors?: Array<{ code?: unknown }> }).errors?.[0]?.code;
    if (typeof first === 'string') code = first;
  } catch {
    // not a JSON body: no error code to report
  }
  return { status: response.status, headers: response.headers, body, text, code };
}

/** Asserts a distribution-spec v1.1.1 "Error Codes" answer: status, body shape, and the first code. */
function assertSpecError(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, `status ${answer.status}, body ${answer.text.slice(0, 300)}`);
  const doc = JSON.parse(answer.text) as { errors?: unknown };
  assert.ok(Array.isArray(doc.errors) && doc.errors.length > 0, 'errors is a non-empty array');
  for (const entry of doc.errors as unknown[]) {
    const error = entry as { code?: unknown; message?: unknown };
    assert.equal(typeof error.code, 'string');
    assert.match(error.code as string, /^[A-Z_]+$/, 'code is upper case letters and underscores');
    assert.ok(SPEC_ERROR_CODES.includes(error.code as string), `code ${String(error.code)} is one of the spec's codes`);
    if (error.message !== undefined) assert.equal(typeof error.message, 'string');
  }
  assert.equal(answer.code, code);
}

function withDigest(location: string, digest: string, registry: Registry = main): string {
  const url = new URL(location, registry.origin);
  url.searchParams.set('digest', digest);
  return `${url.pathname}${url.search}`;
}

const octets = { 'content-type': MT.octets };

async function pushBlob(name: string, content: Content, registry: Registry = main): Promise<Answer> {
  const answer = await call(`/v2/${name}/blobs/uploads/?digest=${content.descriptor.digest}`, { method: 'POST', headers: octets, body: content.bytes, registry });
  assert.equal(answer.status, 201, `push of ${content.descriptor.digest}: ${answer.text}`);
  return answer;
}

/** POST for an upload session; returns its Location. */
async function startUpload(name: string, registry: Registry = main): Promise<string> {
  const answer = await call(`/v2/${name}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' }, registry });
  assert.equal(answer.status, 202, answer.text);
  const location = answer.headers.get('location');
  assert.ok(location, 'POST answers a Location');
  return location;
}

async function putManifest(name: string, reference: string, content: Content, registry: Registry = main): Promise<Answer> {
  return call(`/v2/${name}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': content.descriptor.mediaType }, body: content.bytes, registry });
}

async function pushManifest(name: string, reference: string, content: Content, registry: Registry = main): Promise<Answer> {
  const answer = await putManifest(name, reference, content, registry);
  assert.equal(answer.status, 201, `push of manifest ${reference}: ${answer.text}`);
  return answer;
}

/** Pushes an image's config and layer, then its manifest by `reference` (its digest when omitted). */
async function pushImage(name: string, label: string, options: { tag?: string; extra?: Record<string, unknown>; algorithm?: Algorithm } = {}): Promise<Content> {
  const image = imageOf(label, options.extra, options.algorithm);
  await pushBlob(name, image.config);
  await pushBlob(name, image.layer);
  await pushManifest(name, options.tag ?? image.manifest.descriptor.digest, image.manifest);
  return image.manifest;
}

async function assertBlobAbsent(name: string, digest: string, registry: Registry = main): Promise<void> {
  assert.equal((await call(`/v2/${name}/blobs/${digest}`, { method: 'HEAD', registry })).status, 404, `HEAD ${digest} is 404`);
}

async function assertBlobServed(name: string, content: Content, registry: Registry = main): Promise<void> {
  const got = await call(`/v2/${name}/blobs/${content.descriptor.digest}`, { registry });
  assert.equal(got.status, 200);
  assert.ok(got.body.equals(content.bytes), 'the blob comes back byte for byte');
}

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

async function listReferrers(name: string, digest: string, query = ''): Promise<{ answer: Answer; index: ReferrersIndex }> {
  const answer = await call(`/v2/${name}/referrers/${digest}${query}`);
  assert.equal(answer.status, 200, answer.text);
  // distribution-spec v1.1.1, Listing Referrers: Content-Type MUST be the image index media type.
  assert.equal(answer.headers.get('content-type'), MT.index);
  const index = JSON.parse(answer.text) as ReferrersIndex;
  assert.equal(index.schemaVersion, 2);
  assert.equal(index.mediaType, MT.index);
  assert.ok(Array.isArray(index.manifests));
  return { answer, index };
}

/** The descriptor the referrers API must list for a referrer (distribution-spec v1.1.1, Listing Referrers). */
function expectedReferrer(content: Content, artifactType: string | undefined, annotations: Record<string, string> | undefined): Descriptor {
  return {
    mediaType: content.descriptor.mediaType,
    digest: content.descriptor.digest,
    size: content.descriptor.size,
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(annotations === undefined ? {} : { annotations }),
  };
}

const byDigest = (a: Descriptor, b: Descriptor) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);

async function tagsOf(name: string, query = ''): Promise<{ answer: Answer; tags: string[] }> {
  const answer = await call(`/v2/${name}/tags/list${query}`);
  assert.equal(answer.status, 200, answer.text);
  const doc = JSON.parse(answer.text) as { name: string; tags: string[] | null };
  assert.equal(doc.name, name);
  return { answer, tags: doc.tags ?? [] };
}

// ---- raw sockets, for what fetch will not send ----

interface RawExchange {
  readonly text: string;
  /** True when the server closed the connection before the wait ran out. */
  readonly closedByServer: boolean;
}

/** Writes `steps` (strings or buffers; numbers are pauses in ms), optionally half-closes, and collects what comes back. */
function rawExchange(port: number, steps: ReadonlyArray<string | Buffer | number>, options: { end?: boolean; waitMs?: number } = {}): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closedByServer });
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    // A reset is an outcome this helper reports through closedByServer, not a failure of the helper.
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.once('connect', () => {
      void (async () => {
        for (const step of steps) {
          if (typeof step === 'number') await sleep(step);
          else if (!socket.destroyed) socket.write(step);
        }
        if (options.end === true && !socket.destroyed) socket.end();
        timer = setTimeout(() => finish(false), options.waitMs ?? 2_000);
      })();
    });
  });
}

/** Sends `text` one byte every `intervalMs` until the server closes the connection or `limitMs` passes. */
function trickle(port: number, text: string, intervalMs: number, limitMs: number): Promise<{ closedAfterMs: number | undefined; bytesSent: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let sent = 0;
    let done = false;
    let interval: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearInterval(interval);
      clearTimeout(limit);
      socket.destroy();
      resolve({ closedAfterMs: closed ? Date.now() - started : undefined, bytesSent: sent });
    };
    const limit = setTimeout(() => finish(false), limitMs);
    // The server cutting us off shows as a reset or a close; both end the trickle.
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.once('connect', () => {
      interval = setInterval(() => {
        if (sent < text.length && !socket.destroyed) socket.write(text.charAt(sent++));
      }, intervalMs);
    });
  });
}

/** GET on a connection of its own (no keep-alive pool), resolving with the status. */
function getOnFreshConnection(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function firstStatus(text: string): number | undefined {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

function rawRequest(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

async function tmpFilesOf(root: string): Promise<string[]> {
  try {
    return await readdir(join(root, 'tmp'));
  } catch {
    return []; // no temp directory: nothing left behind
  }
}

// ============================================================================================

describe('pull (distribution-spec v1.1.1, Pull; conformance 01_pull)', () => {
  it('answers GET /v2/ with 200', async () => {
    // distribution-spec v1.1.1, Determining Support (end-1): 200 OK means the registry implements the spec.
    assert.equal((await call('/v2/')).status, 200);
  });

  it('answers HEAD of an existing blob with 200, Docker-Content-Digest, Content-Length and no body', async () => {
    const name = repository('blob-head');
    const blob = blobOf(randomBytes(512));
    await pushBlob(name, blob);
    // distribution-spec v1.1.1, Checking if content exists: HEAD MUST return 200; SHOULD carry the digest and the size.
    const head = await call(`/v2/${name}/blobs/${blob.descriptor.digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), blob.descriptor.digest);
    assert.equal(head.headers.get('content-length'), '512');
    assert.equal(head.body.byteLength, 0);
  });

  it('answers GET of an existing blob with 200, its bytes, a Docker-Content-Digest matching them and Content-Length', async () => {
    const name = repository('blob-get');
    const blob = blobOf(randomBytes(512));
    await pushBlob(name, blob);
    const got = await call(`/v2/${name}/blobs/${blob.descriptor.digest}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(blob.bytes));
    // Pulling blobs: if present, Docker-Content-Digest MUST be a digest matching the response body.
    assert.equal(got.headers.get('docker-content-digest'), digestOf(got.body));
    assert.equal(got.headers.get('content-length'), '512');
  });

  it('answers HEAD and GET of a blob the repository lacks with 404 BLOB_UNKNOWN in the spec error format', async () => {
    const name = repository('blob-missing');
    await pushBlob(name, blobOf('something else'));
    const missing = digestOf('hello world'); // the suite's dummyDigest
    assertSpecError(await call(`/v2/${name}/blobs/${missing}`), 404, 'BLOB_UNKNOWN');
    const head = await call(`/v2/${name}/blobs/${missing}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    assert.equal(head.body.byteLength, 0, 'a HEAD answer has no body');
  });

  it('keeps a blob to the repository it was pushed to', async () => {
    const blob = blobOf(randomBytes(64));
    await pushBlob(repository('blob-owner'), blob);
    // Pulling blobs: "If the blob is not found in the repository, the response code MUST be 404".
    assertSpecError(await call(`/v2/${repository('blob-stranger')}/blobs/${blob.descriptor.digest}`), 404, 'BLOB_UNKNOWN');
  });

  it('serves a manifest by tag and by digest with 200, the pushed Content-Type, Docker-Content-Digest, Content-Length and its exact bytes', async () => {
    const name = repository('manifest-get');
    const manifest = await pushImage(name, 'manifest-get', { tag: 'tagtest0' });
    for (const reference of ['tagtest0', manifest.descriptor.digest]) {
      const got = await call(`/v2/${name}/manifests/${reference}`, { headers: { accept: MT.manifest } });
      assert.equal(got.status, 200, reference);
      assert.ok(got.body.equals(manifest.bytes), `${reference}: the exact bytes pushed`);
      assert.equal(got.headers.get('content-type'), MT.manifest);
      assert.equal(got.headers.get('docker-content-digest'), manifest.descriptor.digest);
      assert.equal(got.headers.get('content-length'), String(manifest.bytes.byteLength));
      const head = await call(`/v2/${name}/manifests/${reference}`, { method: 'HEAD', headers: { accept: MT.manifest } });
      assert.equal(head.status, 200, `HEAD ${reference}`);
      assert.equal(head.headers.get('content-type'), MT.manifest);
      assert.equal(head.headers.get('docker-content-digest'), manifest.descriptor.digest);
      assert.equal(head.headers.get('content-length'), String(manifest.bytes.byteLength));
      assert.equal(head.body.byteLength, 0);
    }
  });

  it('answers GET and HEAD of a missing manifest, by digest and by tag, with 404 MANIFEST_UNKNOWN', async () => {
    const name = repository('manifest-missing');
    await pushImage(name, 'manifest-missing', { tag: 'present' });
    for (const reference of [digestOf(randomBytes(1024)), 'missing-tag']) {
      assertSpecError(await call(`/v2/${name}/manifests/${reference}`), 404, 'MANIFEST_UNKNOWN');
      assert.equal((await call(`/v2/${name}/manifests/${reference}`, { method: 'HEAD' })).status, 404);
    }
  });

  it('answers GET and HEAD of the conformance suite nonexistent reference ".INVALID_MANIFEST_NAME" with 404', async () => {
    // conformance (v1.1.1) 01_pull and 02_push: nonexistentManifest = ".INVALID_MANIFEST_NAME"; HEAD and GET must be 404.
    const name = repository('invalid-manifest-name');
    await pushImage(name, 'invalid-manifest-name', { tag: 'present' });
    assert.equal((await call(`/v2/${name}/manifests/.INVALID_MANIFEST_NAME`, { method: 'HEAD' })).status, 404);
    assert.equal((await call(`/v2/${name}/manifests/.INVALID_MANIFEST_NAME`)).status, 404);
  });

  it('answers a pull from a repository that was never pushed with 404', async () => {
    // Pushing Manifests: "An attempt to pull a nonexistent repository MUST return response code 404 Not Found".
    const name = repository('never-pushed');
    assert.equal((await call(`/v2/${name}/manifests/latest`)).status, 404);
    assert.equal((await call(`/v2/${name}/blobs/${digestOf('x')}`)).status, 404);
  });

  it('answers the manifest Content-Type without the parameters the push carried', async () => {
    // Pulling manifests: the registry SHOULD NOT include parameters; Pushing Manifests: it SHOULD ignore them.
    const name = repository('content-type-params');
    const image = imageOf('content-type-params');
    await pushBlob(name, image.config);
    await pushBlob(name, image.layer);
    const put = await call(`/v2/${name}/manifests/v1`, { method: 'PUT', headers: { 'content-type': `${MT.manifest}; charset=utf-8` }, body: image.manifest.bytes });
    assert.equal(put.status, 201, put.text);
    assert.equal((await call(`/v2/${name}/manifests/v1`)).headers.get('content-type'), MT.manifest);
  });

  it('answers byte ranges of a blob with 206 and Content-Range, and unsatisfiable ranges with 416', async () => {
    // Pulling blobs: a registry SHOULD support Range (RFC 9110); the newer suite's "range requests" cases.
    const name = repository('range');
    const blob = blobOf(randomBytes(2048));
    await pushBlob(name, blob);
    const cases: Array<[string, number, number]> = [
      ['bytes=500-1499', 500, 1499],
      ['bytes=500-', 500, 2047],
      ['bytes=-500', 1548, 2047],
      ['bytes=2000-5000', 2000, 2047],
    ];
    for (const [range, start, end] of cases) {
      const got = await call(`/v2/${name}/blobs/${blob.descriptor.digest}`, { headers: { range } });
      assert.equal(got.status, 206, range);
      assert.ok(got.body.equals(blob.bytes.subarray(start, end + 1)), `${range}: the bytes of the range`);
      assert.equal(got.headers.get('content-length'), String(end - start + 1), range);
      assert.ok([`bytes ${start}-${end}/2048`, `bytes ${start}-${end}/*`].includes(got.headers.get('content-range') ?? ''), `${range}: Content-Range`);
    }
    for (const range of ['bytes=500-0', 'bytes=5000-10000']) {
      assert.equal((await call(`/v2/${name}/blobs/${blob.descriptor.digest}`, { headers: { range } })).status, 416, range);
    }
  });

  it('answers a manifest request with a malformed digest with 400 and a spec error code, or 404', async () => {
    // conformance (v1.1.1) 01_pull "Error codes": reference "sha256:totallywrong" is 400 with an OCI error body, or 404.
    const name = repository('totally-wrong');
    const answer = await call(`/v2/${name}/manifests/sha256:totallywrong`);
    assert.ok(answer.status === 400 || answer.status === 404, `status ${answer.status}`);
    if (answer.status === 400) assertSpecError(answer, 400, answer.code ?? '');
  });
});

describe('push: blobs (distribution-spec v1.1.1, Pushing blobs; conformance 02_push and the newer blob API checks)', () => {
  it('takes a monolithic POST ?digest= with 201, a pullable Location and Docker-Content-Digest', async () => {
    const name = repository('post-only');
    const blob = blobOf(randomBytes(512));
    const answer = await call(`/v2/${name}/blobs/uploads/?digest=${blob.descriptor.digest}`, { method: 'POST', headers: octets, body: blob.bytes });
    // Single POST: success MUST be 201 with Location, a pullable blob URL.
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.headers.get('docker-content-digest'), blob.descriptor.digest);
    const location = answer.headers.get('location');
    assert.ok(location);
    const pulled = await call(location);
    assert.equal(pulled.status, 200);
    assert.ok(pulled.body.equals(blob.bytes));
  });

  it('opens an upload session with POST: 202 and a Location holding a UUID', async () => {
    const name = repository('session');
    const answer = await call(`/v2/${name}/blobs/uploads/`, { method: 'POST' });
    // POST then PUT: 202 Accepted and a Location that MUST contain a UUID for the session.
    assert.equal(answer.status, 202);
    assert.match(answer.headers.get('location') ?? '', /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
  });

  it('closes a POST-then-PUT upload with 201 and a pullable Location', async () => {
    const name = repository('post-put');
    const blob = blobOf(randomBytes(512));
    const location = await startUpload(name);
    const put = await call(withDigest(location, blob.descriptor.digest), { method: 'PUT', headers: octets, body: blob.bytes });
    assert.equal(put.status, 201, put.text);
    assert.equal(put.headers.get('docker-content-digest'), blob.descriptor.digest);
    const pulled = await call(put.headers.get('location') ?? '');
    assert.equal(pulled.status, 200);
    assert.ok(pulled.body.equals(blob.bytes));
  });

  it('takes a chunked upload: each PATCH 202 with Location and Range 0-<end>, the closing PUT 201', async () => {
    const name = repository('chunked');
    const blob = blobOf(randomBytes(3000));
    let location = await startUpload(name);
    for (const [start, end] of [[0, 1023], [1024, 2047], [2048, 2999]] as const) {
      const patch = await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': `${start}-${end}` }, body: blob.bytes.subarray(start, end + 1) });
      // Pushing a blob in chunks: each chunk MUST answer 202 with Location and Range: 0-<end-of-range>.
      assert.equal(patch.status, 202, patch.text);
      assert.equal(patch.headers.get('range'), `0-${end}`);
      location = patch.headers.get('location') ?? '';
      assert.ok(location, 'PATCH answers a Location');
    }
    const put = await call(withDigest(location, blob.descriptor.digest), { method: 'PUT', headers: octets, body: Buffer.alloc(0) });
    assert.equal(put.status, 201, put.text);
    assert.ok(put.headers.get('location'));
    await assertBlobServed(name, blob);
  });

  it('takes the final chunk in the closing PUT', async () => {
    // Pushing a blob in chunks: "The final chunk MAY be uploaded using a PATCH request or it MAY be uploaded in the closing PUT".
    const name = repository('put-last-chunk');
    const blob = blobOf(randomBytes(2500));
    const location = await startUpload(name);
    const patch = await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '0-1249' }, body: blob.bytes.subarray(0, 1250) });
    assert.equal(patch.status, 202);
    const put = await call(withDigest(patch.headers.get('location') ?? location, blob.descriptor.digest), {
      method: 'PUT',
      headers: { ...octets, 'content-range': '1250-2499' },
      body: blob.bytes.subarray(1250),
    });
    assert.equal(put.status, 201, put.text);
    await assertBlobServed(name, blob);
  });

  it('answers chunks out of order with 416: a first chunk not at 0, a retried chunk, a chunk that skips ahead', async () => {
    // Pushing a blob in chunks: the first chunk MUST begin at 0; out of order MUST be 416 Requested Range Not Satisfiable.
    const name = repository('out-of-order');
    const blob = blobOf(randomBytes(3000));
    const location = await startUpload(name);
    const skipAhead = await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '1000-1999' }, body: blob.bytes.subarray(1000, 2000) });
    assert.equal(skipAhead.status, 416);
    assert.equal((await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '0-999' }, body: blob.bytes.subarray(0, 1000) })).status, 202);
    const retried = await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '0-999' }, body: blob.bytes.subarray(0, 1000) });
    assert.equal(retried.status, 416);
    const gap = await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '2000-2999' }, body: blob.bytes.subarray(2000) });
    assert.equal(gap.status, 416);
    const lastByPut = await call(withDigest(location, blob.descriptor.digest), { method: 'PUT', headers: { ...octets, 'content-range': '2000-2999' }, body: blob.bytes.subarray(2000) });
    assert.equal(lastByPut.status, 416, 'a closing PUT whose chunk is out of order is 416 too');
    assertSpecError(gap, 416, 'BLOB_UPLOAD_INVALID');
  });

  it('reports the upload status after a 416 with 204, Location and Range, and resumes from there', async () => {
    // Pushing a blob in chunks: after a 416, GET <location> MUST answer 204 with Location and Range: 0-<end-of-range>.
    const name = repository('resume');
    const blob = blobOf(randomBytes(2000));
    const location = await startUpload(name);
    await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '0-999' }, body: blob.bytes.subarray(0, 1000) });
    assert.equal((await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '0-999' }, body: blob.bytes.subarray(0, 1000) })).status, 416);
    const status = await call(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-999');
    const resumeAt = status.headers.get('location');
    assert.ok(resumeAt);
    const rest = await call(resumeAt, { method: 'PATCH', headers: { ...octets, 'content-range': '1000-1999' }, body: blob.bytes.subarray(1000) });
    assert.equal(rest.status, 202);
    assert.equal((await call(withDigest(rest.headers.get('location') ?? resumeAt, blob.descriptor.digest), { method: 'PUT', headers: octets, body: Buffer.alloc(0) })).status, 201);
    await assertBlobServed(name, blob);
  });

  it('takes a streamed PATCH without Content-Range and a closing PUT without a body', async () => {
    // conformance 02_push "Blob Upload Streamed"; the newer suite's "stream" blob API.
    const name = repository('stream');
    const blob = blobOf(randomBytes(4000));
    const location = await startUpload(name);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(blob.bytes.subarray(0, 1500));
        controller.enqueue(blob.bytes.subarray(1500));
        controller.close();
      },
    });
    const patch = await call(location, { method: 'PATCH', headers: octets, body: stream, duplex: 'half' });
    assert.equal(patch.status, 202, patch.text);
    assert.equal(patch.headers.get('range'), '0-3999');
    const put = await call(withDigest(patch.headers.get('location') ?? location, blob.descriptor.digest), { method: 'PUT', headers: octets, body: Buffer.alloc(0) });
    assert.equal(put.status, 201, put.text);
    await assertBlobServed(name, blob);
  });

  it('answers the status of an active upload with 204, Location and Range', async () => {
    // Pushing a blob in chunks, end-13: GET <location> of an active upload MUST be 204 with Location and Range.
    const name = repository('upload-status');
    const location = await startUpload(name);
    assert.equal((await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '0-41' }, body: randomBytes(42) })).status, 202);
    const status = await call(location);
    assert.equal(status.status, 204);
    assert.ok(status.headers.get('location'));
    assert.equal(status.headers.get('range'), '0-41');
  });

  it('cancels an upload with DELETE (204), after which the session answers 404 BLOB_UPLOAD_UNKNOWN', async () => {
    // The newer suite's "post cancel": DELETE <location> answers 204 No Content.
    const name = repository('cancel');
    const blob = blobOf(randomBytes(100));
    const location = await startUpload(name);
    await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '0-99' }, body: blob.bytes });
    assert.equal((await call(location, { method: 'DELETE' })).status, 204);
    assertSpecError(await call(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertSpecError(await call(location, { method: 'PATCH', headers: octets, body: blob.bytes }), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertSpecError(await call(withDigest(location, blob.descriptor.digest), { method: 'PUT', headers: octets, body: Buffer.alloc(0) }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertBlobAbsent(name, blob.descriptor.digest);
  });

  it('takes an empty (zero-byte) blob by POST ?digest= and by POST-then-PUT, and serves it', async () => {
    // The newer suite's "empty" blob (Data.EmptyBlob, on by default for 1.1).
    const empty = blobOf(Buffer.alloc(0));
    assert.equal(empty.descriptor.digest, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const monolithic = repository('empty-post');
    await pushBlob(monolithic, empty);
    const twoStep = repository('empty-post-put');
    const location = await startUpload(twoStep);
    assert.equal((await call(withDigest(location, empty.descriptor.digest), { method: 'PUT', headers: octets, body: Buffer.alloc(0) })).status, 201);
    for (const name of [monolithic, twoStep]) {
      const head = await call(`/v2/${name}/blobs/${empty.descriptor.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '0');
      const got = await call(`/v2/${name}/blobs/${empty.descriptor.digest}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.byteLength, 0);
      assert.equal(got.headers.get('docker-content-digest'), empty.descriptor.digest);
    }
  });

  it('takes and serves the empty JSON blob "{}"', async () => {
    // conformance (v1.1.1) 03_discovery "References setup" and the newer suite's "emptyJSON" blob.
    const name = repository('empty-json');
    assert.equal(EMPTY_JSON.descriptor.digest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    await pushBlob(name, EMPTY_JSON);
    await assertBlobServed(name, EMPTY_JSON);
  });

  it('takes sha512 blobs by POST ?digest=, POST-then-PUT and chunks, and serves them by their sha512 digest', async () => {
    // The newer suite's "blobs-sha512" run (Data.Sha512, on by default for 1.1).
    const name = repository('sha512-blobs');
    const single = blobOf(randomBytes(512), MT.octets, 'sha512');
    const twoStep = blobOf(randomBytes(512), MT.octets, 'sha512');
    const chunked = blobOf(randomBytes(2000), MT.octets, 'sha512');
    await pushBlob(name, single);
    const location = await startUpload(name);
    assert.equal((await call(withDigest(location, twoStep.descriptor.digest), { method: 'PUT', headers: octets, body: twoStep.bytes })).status, 201);
    const chunkAt = await startUpload(name);
    const patch = await call(chunkAt, { method: 'PATCH', headers: { ...octets, 'content-range': '0-999' }, body: chunked.bytes.subarray(0, 1000) });
    const put = await call(withDigest(patch.headers.get('location') ?? chunkAt, chunked.descriptor.digest), { method: 'PUT', headers: { ...octets, 'content-range': '1000-1999' }, body: chunked.bytes.subarray(1000) });
    assert.equal(put.status, 201, put.text);
    for (const blob of [single, twoStep, chunked]) {
      assert.match(blob.descriptor.digest, /^sha512:[0-9a-f]{128}$/);
      const head = await call(`/v2/${name}/blobs/${blob.descriptor.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('docker-content-digest'), blob.descriptor.digest);
      assert.equal(head.headers.get('content-length'), String(blob.bytes.byteLength));
      await assertBlobServed(name, blob);
    }
  });

  it('refuses with 400 a blob whose bytes do not match the digest, by every push method, and stores nothing', async () => {
    // The newer suite's "bad digest" blob API cases: the closing request MUST be 400 (DIGEST_INVALID, code-4).
    const name = repository('bad-digest');
    const flows: Record<string, (declared: string, body: Buffer) => Promise<Answer>> = {
      'post only': (declared, body) => call(`/v2/${name}/blobs/uploads/?digest=${declared}`, { method: 'POST', headers: octets, body }),
      'post+put': async (declared, body) => call(withDigest(await startUpload(name), declared), { method: 'PUT', headers: octets, body }),
      chunked: async (declared, body) => {
        const location = await startUpload(name);
        await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': `0-${body.byteLength - 1}` }, body });
        return call(withDigest(location, declared), { method: 'PUT', headers: octets, body: Buffer.alloc(0) });
      },
      'chunked and put chunk': async (declared, body) => {
        const location = await startUpload(name);
        await call(location, { method: 'PATCH', headers: { ...octets, 'content-range': '0-99' }, body: body.subarray(0, 100) });
        return call(withDigest(location, declared), { method: 'PUT', headers: { ...octets, 'content-range': `100-${body.byteLength - 1}` }, body: body.subarray(100) });
      },
      stream: async (declared, body) => {
        const location = await startUpload(name);
        await call(location, { method: 'PATCH', headers: octets, body });
        return call(withDigest(location, declared), { method: 'PUT', headers: octets, body: Buffer.alloc(0) });
      },
    };
    for (const [flow, push] of Object.entries(flows)) {
      const original = randomBytes(3000);
      const declared = digestOf(original);
      const sent = Buffer.concat([original, Buffer.from('oh no')]);
      const answer = await push(declared, sent);
      assert.equal(answer.status, 400, `${flow}: ${answer.text}`);
      assertSpecError(answer, 400, 'DIGEST_INVALID');
      await assertBlobAbsent(name, declared);
      await assertBlobAbsent(name, digestOf(sent));
    }
  });

  it('mounts a blob from another repository with 201, Location /v2/<name>/blobs/<digest> and Docker-Content-Digest', async () => {
    // Mounting a blob from another repository (end-11): success MUST be 201 with Location.
    const source = repository('mount-source');
    const target = repository('mount-target');
    const blob = blobOf(randomBytes(512));
    await pushBlob(source, blob);
    const mount = await call(`/v2/${target}/blobs/uploads/?mount=${blob.descriptor.digest}&from=${source}`, { method: 'POST' });
    assert.equal(mount.status, 201, mount.text);
    // conformance 02_push: the relative Location is exactly the blob URL in the target repository.
    assert.equal(mount.headers.get('location'), `/v2/${target}/blobs/${blob.descriptor.digest}`);
    assert.equal(mount.headers.get('docker-content-digest'), blob.descriptor.digest);
    await assertBlobServed(target, blob);
  });

  it('answers a mount without `from` with 201 (mounted) or 202 (an upload session)', async () => {
    // Mounting a blob: "The registry MAY treat the from parameter as optional"; the newer suite's "mount anonymous".
    const source = repository('anon-source');
    const target = repository('anon-target');
    const blob = blobOf(randomBytes(512));
    await pushBlob(source, blob);
    const mount = await call(`/v2/${target}/blobs/uploads/?mount=${blob.descriptor.digest}`, { method: 'POST' });
    assert.ok(mount.status === 201 || mount.status === 202, `status ${mount.status}`);
    assert.ok(mount.headers.get('location'));
    if (mount.status === 201) await assertBlobServed(target, blob);
  });

  it('answers a mount of a blob the source lacks with 202 and an upload Location in the target repository that takes the blob', async () => {
    // Mounting a blob: unable to mount SHOULD return 202, meaning the upload session has begun (newer suite "mount missing").
    const source = repository('missing-source');
    const target = repository('missing-target');
    await pushBlob(source, blobOf('unrelated'));
    const blob = blobOf(randomBytes(512));
    const mount = await call(`/v2/${target}/blobs/uploads/?mount=${blob.descriptor.digest}&from=${source}`, { method: 'POST' });
    assert.equal(mount.status, 202, mount.text);
    const location = mount.headers.get('location') ?? '';
    assert.ok(new URL(location, main.origin).pathname.startsWith(`/v2/${target}/blobs/uploads/`), location);
    assert.equal((await call(withDigest(location, blob.descriptor.digest), { method: 'PUT', headers: octets, body: blob.bytes })).status, 201);
    await assertBlobServed(target, blob);
    await assertBlobAbsent(source, blob.descriptor.digest);
  });

  it('answers a mount of the suite dummy digest without `from` with 202 and a session Location', async () => {
    // conformance (v1.1.1) 02_push: "Cross-mounting of a blob without the from argument should yield session id".
    const target = repository('dummy-mount');
    const mount = await call(`/v2/${target}/blobs/uploads/?mount=${digestOf('hello world')}`, { method: 'POST' });
    assert.equal(mount.status, 202);
    assert.ok(mount.headers.get('location'));
  });
});

describe('push: manifests (distribution-spec v1.1.1, Pushing Manifests; conformance 02_push, 03_discovery setup and newer data tests)', () => {
  it('takes a manifest by tag with 201, Docker-Content-Digest of its bytes and a pullable Location', async () => {
    const name = repository('put-tag');
    const image = imageOf('put-tag');
    await pushBlob(name, image.config);
    await pushBlob(name, image.layer);
    const put = await pushManifest(name, 'v1', image.manifest);
    assert.equal(put.headers.get('docker-content-digest'), image.manifest.descriptor.digest);
    const location = put.headers.get('location');
    assert.ok(location, 'Location MUST be set');
    // The newer suite's ManifestPut: GET Location is 200 with the exact bytes, Content-Type and Content-Length.
    const got = await call(location, { headers: { accept: `${MT.index}, ${MT.manifest}` } });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(image.manifest.bytes));
    assert.equal(got.headers.get('content-type'), MT.manifest);
    assert.equal(got.headers.get('content-length'), String(image.manifest.bytes.byteLength));
  });

  it('takes a manifest by digest with 201 and a Docker-Content-Digest equal to the client-provided digest', async () => {
    // Pushing Manifests: Docker-Content-Digest "MUST be equal to the client provided digest".
    const name = repository('put-digest');
    const image = imageOf('put-digest');
    await pushBlob(name, image.config);
    await pushBlob(name, image.layer);
    const put = await pushManifest(name, image.manifest.descriptor.digest, image.manifest);
    assert.equal(put.headers.get('docker-content-digest'), image.manifest.descriptor.digest);
    assert.ok(put.headers.get('location'));
  });

  it('stores the manifest in the exact byte representation the client sent', async () => {
    // Pushing Manifests: "The registry MUST store the manifest in the exact byte representation provided by the client".
    const name = repository('exact-bytes');
    const image = imageOf('exact-bytes');
    await pushBlob(name, image.config);
    await pushBlob(name, image.layer);
    const odd = Buffer.from(`  {"layers":[${JSON.stringify(image.layer.descriptor)}] ,\n"config":   ${JSON.stringify(image.config.descriptor)},"schemaVersion":2,"mediaType":"${MT.manifest}"}\n\n`);
    const content = blobOf(odd, MT.manifest);
    await pushManifest(name, 'odd', content);
    const got = await call(`/v2/${name}/manifests/odd`);
    assert.ok(got.body.equals(odd));
    assert.equal(got.headers.get('docker-content-digest'), content.descriptor.digest);
  });

  it('takes a manifest with an empty layers array, with or without a mediaType field', async () => {
    // Pushing Manifests: "the list of blobs MAY be empty"; conformance 02_push emptyLayerManifest has no mediaType field;
    // the newer suite's "no-layers" data test.
    const name = repository('no-layers');
    const config = configOf('no-layers');
    await pushBlob(name, config);
    const withoutMediaType = documentOf(MT.manifest, { schemaVersion: 2, config: config.descriptor, layers: [] });
    const withMediaType = imageManifestOf(config.descriptor, []);
    for (const [tag, content] of [['emptylayer', withoutMediaType], ['no-layers', withMediaType]] as const) {
      const put = await pushManifest(name, tag, content);
      assert.ok(put.headers.get('location'));
      const got = await call(`/v2/${name}/manifests/${tag}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(content.bytes));
      assert.equal(got.headers.get('content-type'), MT.manifest);
    }
  });

  it('takes one manifest under several tags, each resolving to it', async () => {
    // conformance 02_push "PUT should accept a manifest upload" (test0..test3) and 03_discovery "Populate registry with test tags".
    const name = repository('many-tags');
    const manifest = await pushImage(name, 'many-tags', { tag: 'test0' });
    for (const tag of ['test1', 'test2', 'test3']) await pushManifest(name, tag, manifest);
    for (const tag of ['test0', 'test1', 'test2', 'test3']) {
      assert.equal((await call(`/v2/${name}/manifests/${tag}`, { method: 'HEAD' })).headers.get('docker-content-digest'), manifest.descriptor.digest);
    }
    assert.deepEqual((await tagsOf(name)).tags, ['test0', 'test1', 'test2', 'test3']);
  });

  it('takes an image index pushed after its child manifests and serves it with the index Content-Type', async () => {
    // The newer suite's "index" data test: two platform images, then the index, by digest and by tag.
    const name = repository('index');
    const amd64 = await pushImage(name, 'index-amd64');
    const arm64 = await pushImage(name, 'index-arm64');
    const index = indexOf([
      { ...amd64.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
      { ...arm64.descriptor, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    const put = await pushManifest(name, index.descriptor.digest, index);
    assert.equal(put.headers.get('docker-content-digest'), index.descriptor.digest);
    await pushManifest(name, 'index', index);
    for (const reference of ['index', index.descriptor.digest]) {
      const got = await call(`/v2/${name}/manifests/${reference}`, { headers: { accept: MT.index } });
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('content-type'), MT.index);
      assert.ok(got.body.equals(index.bytes));
      const head = await call(`/v2/${name}/manifests/${reference}`, { method: 'HEAD', headers: { accept: MT.index } });
      assert.equal(head.headers.get('content-length'), String(index.bytes.byteLength));
    }
  });

  it('takes an index of indexes', async () => {
    // The newer suite's "nested-index" data test (Data.IndexList).
    const name = repository('nested-index');
    const inner = [];
    for (const label of ['a', 'b']) {
      const one = await pushImage(name, `nested-${label}-1`);
      const two = await pushImage(name, `nested-${label}-2`);
      const index = indexOf([one.descriptor, two.descriptor]);
      await pushManifest(name, index.descriptor.digest, index);
      inner.push(index.descriptor);
    }
    const outer = indexOf(inner);
    await pushManifest(name, 'index-of-index', outer);
    const got = await call(`/v2/${name}/manifests/index-of-index`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(outer.bytes));
  });

  it('takes an empty image index', async () => {
    // The newer suite's "empty-index" data test.
    const name = repository('empty-index');
    const index = indexOf([]);
    await pushManifest(name, index.descriptor.digest, index);
    await pushManifest(name, 'index', index);
    const got = await call(`/v2/${name}/manifests/index`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), MT.index);
    assert.ok(got.body.equals(index.bytes));
  });

  it('takes artifacts: artifactType with an empty config and a custom layer media type, and with only an empty JSON layer', async () => {
    // The newer suite's "artifact" and "artifact-without-layers" data tests; also an artifact index ("artifact-index").
    const name = repository('artifact');
    await pushBlob(name, EMPTY_JSON);
    const payload = blobOf(randomBytes(200), 'application/vnd.example.conf1');
    await pushBlob(name, payload);
    const artifact = imageManifestOf(EMPTY_JSON.descriptor, [payload.descriptor], { artifactType: 'application/vnd.example.conf1' });
    const bare = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType: 'application/vnd.example.conf1' });
    await pushManifest(name, 'artifact', artifact);
    await pushManifest(name, 'artifact-without-layers', bare);
    const artifactIndex = indexOf([artifact.descriptor, bare.descriptor], { artifactType: 'application/vnd.example.conf1' });
    await pushManifest(name, 'artifact-index', artifactIndex);
    for (const [tag, content] of [['artifact', artifact], ['artifact-without-layers', bare], ['artifact-index', artifactIndex]] as const) {
      const got = await call(`/v2/${name}/manifests/${tag}`);
      assert.equal(got.status, 200, tag);
      assert.ok(got.body.equals(content.bytes), tag);
    }
  });

  it('takes descriptors with a data field and documents with fields the spec does not define', async () => {
    // conformance (v1.1.1) setup: config descriptors carry `data` and `newUnspecifiedField`; the newer suite's
    // "data-field" and "custom-fields" data tests (unknown fields in the index, manifests and config).
    const name = repository('custom-fields');
    const config = configOf('custom-fields', 'sha256', { 'org.example.unknown': { nested: [1, 2, 3] } });
    const layer = blobOf(randomBytes(100), MT.layer);
    await pushBlob(name, config);
    await pushBlob(name, layer);
    const manifest = imageManifestOf(
      { ...config.descriptor, data: config.bytes.toString('base64'), newUnspecifiedField: Buffer.from('hello world').toString('base64') },
      [{ ...layer.descriptor, data: layer.bytes.toString('base64') }],
      { 'org.example.manifest-field': 'x' },
    );
    await pushManifest(name, manifest.descriptor.digest, manifest);
    const index = indexOf([{ ...manifest.descriptor, 'org.example.descriptor-field': true }], { 'org.example.index-field': 42 });
    await pushManifest(name, 'custom-fields', index);
    assert.ok((await call(`/v2/${name}/manifests/custom-fields`)).body.equals(index.bytes));
    assert.ok((await call(`/v2/${name}/manifests/${manifest.descriptor.digest}`)).body.equals(manifest.bytes));
  });

  it('takes an image whose non-distributable layers were not pushed', async () => {
    // The newer suite's "non-distributable-layers" data test (Data.Nondistributable, on by default for 1.1): two
    // layers of media type ...nondistributable... with urls are never pushed, and the manifest push must be 201.
    const name = repository('nondistributable');
    const layer = blobOf(randomBytes(256), MT.layer);
    const config = configOf('nondistributable');
    await pushBlob(name, layer);
    await pushBlob(name, config);
    const foreign = (size: number, mediaType: string) => {
      const digest = digestOf(randomBytes(256));
      return { mediaType, digest, size, urls: [`https://store.example.com/blobs/sha256/${digest.slice(7)}`] };
    };
    const manifest = imageManifestOf(config.descriptor, [foreign(123456, MT.nondistributable), foreign(12345, 'application/vnd.oci.image.layer.nondistributable.v1.tar'), layer.descriptor]);
    const put = await putManifest(name, 'non-distributable-image', manifest);
    assert.equal(put.status, 201, put.text);
  });

  it('takes a sha512 index and its sha512 manifests by digest and serves them by sha512 digest', async () => {
    // The newer suite's "sha512" data test: non-canonical digests are pushed and pulled by digest only.
    const name = repository('sha512-manifests');
    const children = [];
    for (const label of ['amd64', 'arm64']) {
      const image = imageOf(`sha512-${label}`, {}, 'sha512');
      await pushBlob(name, image.config);
      await pushBlob(name, image.layer);
      const put = await pushManifest(name, image.manifest.descriptor.digest, image.manifest);
      assert.equal(put.headers.get('docker-content-digest'), image.manifest.descriptor.digest);
      children.push(image.manifest.descriptor);
    }
    const index = indexOf(children, {}, 'sha512');
    const put = await pushManifest(name, index.descriptor.digest, index);
    assert.equal(put.headers.get('docker-content-digest'), index.descriptor.digest);
    const got = await call(`/v2/${name}/manifests/${index.descriptor.digest}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(index.bytes));
    assert.equal(got.headers.get('docker-content-digest'), index.descriptor.digest);
    for (const child of children) assert.equal((await call(`/v2/${name}/manifests/${child.digest}`, { method: 'HEAD' })).status, 200);
  });

  it('takes a manifest of nearly 4 MB (the newer suite\'s large manifest of 390 annotations)', async () => {
    // Pushing Manifests: implementations SHOULD expect to support manifest pushes of at least 4 megabytes.
    const name = repository('large-manifest');
    const image = imageOf('large-manifest');
    await pushBlob(name, image.config);
    await pushBlob(name, image.layer);
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 390; i++) annotations[`large-annotation-${i}`] = 'A'.repeat(10_000);
    const large = imageManifestOf(image.config.descriptor, [image.layer.descriptor], { annotations });
    assert.ok(large.bytes.byteLength > 3_900_000 && large.bytes.byteLength < 4 * 1024 * 1024, `size ${large.bytes.byteLength}`);
    await pushManifest(name, 'large-manifest', large);
    assert.ok((await call(`/v2/${name}/manifests/large-manifest`)).body.equals(large.bytes));
  });

  it('answers a manifest over its 4 MiB limit with 413', async () => {
    // Pushing Manifests: a registry enforcing a limit SHOULD answer 413 Payload Too Large.
    const answer = await call(`/v2/${repository('too-large')}/manifests/v1`, { method: 'PUT', headers: { 'content-type': MT.manifest }, body: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20) });
    assert.equal(answer.status, 413);
  });

  it('refuses a manifest whose layer the repository lacks with MANIFEST_BLOB_UNKNOWN', async () => {
    // Push: a registry MAY reject it; when it does, it MUST answer one or more MANIFEST_BLOB_UNKNOWN errors.
    const name = repository('missing-layer');
    const image = imageOf('missing-layer');
    await pushBlob(name, image.config);
    const answer = await putManifest(name, 'v1', image.manifest);
    if (answer.status !== 201) assertSpecError(answer, 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('refuses with 400 a manifest whose bytes do not match the digest it is pushed under, and a malformed digest', async () => {
    // The newer suite's "bad-digest-image" (two spaces appended) and "invalid-digest-format" ("sha256:baddigeststring").
    const name = repository('bad-manifest-digest');
    const image = imageOf('bad-manifest-digest');
    await pushBlob(name, image.config);
    await pushBlob(name, image.layer);
    const padded = blobOf(Buffer.concat([image.manifest.bytes, Buffer.from('  ')]), MT.manifest);
    assertSpecError(await putManifest(name, image.manifest.descriptor.digest, padded), 400, 'DIGEST_INVALID');
    assert.equal((await call(`/v2/${name}/manifests/${image.manifest.descriptor.digest}`)).status, 404);
    assert.equal((await call(`/v2/${name}/manifests/${padded.descriptor.digest}`)).status, 404);
    assert.equal((await putManifest(name, 'sha256:baddigeststring', image.manifest)).status, 400);
    const get = await call(`/v2/${name}/manifests/sha256:baddigeststring`);
    assert.ok(get.status === 400 || get.status === 404, `status ${get.status}`);
  });

  it('takes a tag of the maximum 128 characters', async () => {
    // Pulling manifests: a tag MUST be at most 128 characters matching [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
    const name = repository('long-tag');
    const tag = `_${'a.b-C'.repeat(26)}x`.slice(0, 128);
    assert.equal(tag.length, 128);
    const manifest = await pushImage(name, 'long-tag', { tag });
    assert.equal((await call(`/v2/${name}/manifests/${tag}`, { method: 'HEAD' })).headers.get('docker-content-digest'), manifest.descriptor.digest);
  });

  it('takes a manifest whose subject does not exist, answering OCI-Subject', async () => {
    // Push: a registry "MUST initially accept an otherwise valid manifest with a subject field that references a
    // manifest that does not exist in the repository"; the suite's refsManifestCLayerArtifact and "missing-subject".
    const name = repository('missing-subject');
    await pushBlob(name, EMPTY_JSON);
    const payload = blobOf(randomBytes(64), 'application/vnd.example.conf1');
    await pushBlob(name, payload);
    const subject = { mediaType: MT.manifest, size: 123, digest: digestOf('missing content') };
    const referrer = imageManifestOf(EMPTY_JSON.descriptor, [payload.descriptor], { artifactType: 'application/vnd.example.conf1', subject });
    const put = await pushManifest(name, referrer.descriptor.digest, referrer);
    assert.equal(put.headers.get('oci-subject'), subject.digest);
  });

  it('answers OCI-Subject on the push of an image manifest or an index with a subject, by digest and by tag', async () => {
    // Pushing Manifests with Subject: a registry supporting the referrers API MUST answer OCI-Subject: <subject digest>.
    const name = repository('oci-subject');
    const subject = await pushImage(name, 'oci-subject');
    await pushBlob(name, EMPTY_JSON);
    const byDigestPush = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType: 'application/vnd.example.a', subject: subject.descriptor });
    const byTagPush = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType: 'application/vnd.example.b', subject: subject.descriptor });
    const index = indexOf([byDigestPush.descriptor], { artifactType: 'application/vnd.food.stand', subject: subject.descriptor });
    assert.equal((await pushManifest(name, byDigestPush.descriptor.digest, byDigestPush)).headers.get('oci-subject'), subject.descriptor.digest);
    assert.equal((await pushManifest(name, 'tagged-artifact', byTagPush)).headers.get('oci-subject'), subject.descriptor.digest);
    assert.equal((await pushManifest(name, index.descriptor.digest, index)).headers.get('oci-subject'), subject.descriptor.digest);
  });
});

describe('content discovery: tags (distribution-spec v1.1.1, Listing Tags; conformance 03_discovery)', () => {
  it('lists tags with 200 as {"name", "tags"} in lexical order', async () => {
    const name = repository('tag-list');
    const manifest = await pushImage(name, 'tag-list', { tag: 'test2' });
    for (const tag of ['test0', 'test3', 'test1', 'latest']) await pushManifest(name, tag, manifest);
    const { tags } = await tagsOf(name);
    assert.deepEqual(tags, ['latest', 'test0', 'test1', 'test2', 'test3']);
  });

  it('limits the list to n, with a Link rel="next" when more remain, and answers n=0 with an empty list and no Link', async () => {
    // Listing Tags: without Link the response MUST include n results; n=0 MUST be empty and MUST NOT carry Link.
    const name = repository('tag-n');
    const manifest = await pushImage(name, 'tag-n', { tag: 'a' });
    for (const tag of ['b', 'c', 'd']) await pushManifest(name, tag, manifest);
    const page = await tagsOf(name, '?n=2');
    assert.deepEqual(page.tags, ['a', 'b']);
    assert.match(page.answer.headers.get('link') ?? '', /^<[^>]+>;\s*rel="next"$/);
    const zero = await tagsOf(name, '?n=0');
    assert.deepEqual(zero.tags, []);
    assert.equal(zero.answer.headers.get('link'), null);
    const all = await tagsOf(name, '?n=10');
    assert.deepEqual(all.tags, ['a', 'b', 'c', 'd']);
  });

  it('starts after `last`, non-inclusively, with n and without it', async () => {
    // Listing Tags: up to n tags after <tagname>, which is not included; n is OPTIONAL with last.
    const name = repository('tag-last');
    const manifest = await pushImage(name, 'tag-last', { tag: 'a' });
    for (const tag of ['b', 'c', 'd', 'e']) await pushManifest(name, tag, manifest);
    assert.deepEqual((await tagsOf(name, '?n=2&last=b')).tags, ['c', 'd']);
    assert.deepEqual((await tagsOf(name, '?last=c')).tags, ['d', 'e']);
  });

  it('visits every tag exactly once when following Link pages, whatever the case and punctuation', async () => {
    // Listing Tags: pages from n/last (and Link, which clients should prefer) must walk the one lexical order.
    const name = repository('tag-pages');
    const all = ['A', 'B', 'Z', 'a', 'b', 'z', '_x', '0', '9', 'a-b', 'a.b', 'a_b', 'a__b'];
    const manifest = await pushImage(name, 'tag-pages', { tag: 'seed' });
    for (const tag of all) await pushManifest(name, tag, manifest);
    const full = (await tagsOf(name)).tags;
    assert.deepEqual([...full].sort(), [...all, 'seed'].sort());
    const walked: string[] = [];
    let next: string | undefined = `/v2/${name}/tags/list?n=3`;
    for (let pages = 0; next !== undefined && pages < 20; pages++) {
      const answer = await call(next);
      walked.push(...(JSON.parse(answer.text) as { tags: string[] }).tags);
      next = /^<([^>]+)>/.exec(answer.headers.get('link') ?? '')?.[1];
    }
    assert.deepEqual(walked, full);
  });

  it('answers the tag list of a repository never pushed with 200 and no tags, or 404', async () => {
    // Listing Tags: 200 "assuming a repository is found"; the newer suite's empty tag list accepts 200 or 404.
    const answer = await call(`/v2/${repository('no-tags')}/tags/list`);
    assert.ok(answer.status === 200 || answer.status === 404, `status ${answer.status}`);
    if (answer.status === 404) assertSpecError(answer, 404, 'NAME_UNKNOWN');
    else assert.deepEqual((JSON.parse(answer.text) as { tags: string[] | null }).tags ?? [], []);
  });
});

describe('content discovery: referrers (distribution-spec v1.1.1, Listing Referrers; conformance 03_discovery and newer subject data tests)', () => {
  it('answers the referrers of an unknown digest with 200 and an empty image index', async () => {
    const name = repository('referrers-unknown');
    await pushImage(name, 'referrers-unknown');
    const { index } = await listReferrers(name, digestOf('hello world'));
    assert.deepEqual(index.manifests, []);
  });

  it('answers referrers in a repository never pushed with 200 and an empty index, never 404', async () => {
    // Listing Referrers: "the registry MUST NOT return a 404 Not Found to a referrers API requests" (newer suite TestEmptyReferrers).
    const { index } = await listReferrers(repository('referrers-empty-repo'), digestOf(randomBytes(16)));
    assert.deepEqual(index.manifests, []);
  });

  it('lists every referrer with mediaType, size, digest, artifactType (or the config media type) and annotations', async () => {
    // Listing Referrers: artifactType from the manifest, else config.mediaType for an image manifest, omitted for an
    // index without one; annotations MUST be included (conformance 03_discovery: 5 referrers, 1 annotation each).
    const name = repository('referrers');
    const subject = await pushImage(name, 'referrers-subject', { tag: 'tagtest0' });
    await pushBlob(name, EMPTY_JSON);
    const sbomConfig = blobOf('NHL Peanut Butter on my NHL bagel', 'application/vnd.nhl.peanut.butter.bagel');
    await pushBlob(name, sbomConfig);
    const key = 'org.opencontainers.conformance.test';
    const configTyped = imageManifestOf(sbomConfig.descriptor, [EMPTY_JSON.descriptor], { subject: subject.descriptor, annotations: { [key]: 'test config a' } });
    const layerTyped = imageManifestOf(EMPTY_JSON.descriptor, [sbomConfig.descriptor], { artifactType: 'application/vnd.nba.strawberry.jam.croissant', subject: subject.descriptor, annotations: { [key]: 'test layer b' } });
    await pushManifest(name, configTyped.descriptor.digest, configTyped);
    await pushManifest(name, layerTyped.descriptor.digest, layerTyped);
    const typedIndex = indexOf([configTyped.descriptor], { artifactType: 'application/vnd.food.stand', subject: subject.descriptor, annotations: { [key]: 'test index' } });
    const untypedIndex = indexOf([layerTyped.descriptor], { subject: subject.descriptor, annotations: { [key]: 'untyped index' } });
    await pushManifest(name, typedIndex.descriptor.digest, typedIndex);
    await pushManifest(name, untypedIndex.descriptor.digest, untypedIndex);
    const { index } = await listReferrers(name, subject.descriptor.digest);
    assert.deepEqual(
      [...index.manifests].sort(byDigest),
      [
        expectedReferrer(configTyped, 'application/vnd.nhl.peanut.butter.bagel', { [key]: 'test config a' }),
        expectedReferrer(layerTyped, 'application/vnd.nba.strawberry.jam.croissant', { [key]: 'test layer b' }),
        expectedReferrer(typedIndex, 'application/vnd.food.stand', { [key]: 'test index' }),
        expectedReferrer(untypedIndex, undefined, { [key]: 'untyped index' }),
      ].sort(byDigest),
    );
  });

  it('filters by artifactType and says so with OCI-Filters-Applied: artifactType', async () => {
    // Listing Referrers: "If filtering is requested and applied, the response MUST include OCI-Filters-Applied: artifactType".
    const name = repository('referrers-filter');
    const subject = await pushImage(name, 'referrers-filter');
    await pushBlob(name, EMPTY_JSON);
    const pushReferrer = async (artifactType: string) => {
      const referrer = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType, subject: subject.descriptor, annotations: { n: String(++unique) } });
      await pushManifest(name, referrer.descriptor.digest, referrer);
      return referrer;
    };
    const a1 = await pushReferrer('application/vnd.example.a');
    const a2 = await pushReferrer('application/vnd.example.a');
    await pushReferrer('application/vnd.example.b');
    const { answer, index } = await listReferrers(name, subject.descriptor.digest, '?artifactType=application/vnd.example.a');
    assert.ok((answer.headers.get('oci-filters-applied') ?? '').split(',').map((s) => s.trim()).includes('artifactType'));
    assert.deepEqual(index.manifests.map((d) => d.digest).sort(), [a1.descriptor.digest, a2.descriptor.digest].sort());
    assert.ok(index.manifests.every((d) => d.artifactType === 'application/vnd.example.a'));
  });

  it('lists the referrers of a subject that was never pushed', async () => {
    // conformance 03_discovery "GET request to missing manifest should yield 200": exactly the one referrer.
    const name = repository('referrers-missing-subject');
    await pushBlob(name, EMPTY_JSON);
    const subject = { mediaType: MT.manifest, size: 123, digest: digestOf(`missing ${++unique}`) };
    const referrer = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType: 'application/vnd.example.b', subject });
    await pushManifest(name, referrer.descriptor.digest, referrer);
    const { index } = await listReferrers(name, subject.digest);
    assert.deepEqual(index.manifests.map((d) => d.digest), [referrer.descriptor.digest]);
  });

  it('lists the referrers of a subject that is an image index', async () => {
    // The newer suite's "index-with-subject" data test: the subject is an index; referrers are an index and a manifest.
    const name = repository('referrers-index-subject');
    const one = await pushImage(name, 'index-subject-1');
    const two = await pushImage(name, 'index-subject-2');
    const subject = indexOf([one.descriptor, two.descriptor]);
    await pushManifest(name, 'index', subject);
    await pushBlob(name, EMPTY_JSON);
    const manifestReferrer = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType: 'application/vnd.example.conf1', subject: subject.descriptor });
    const indexReferrer = indexOf([manifestReferrer.descriptor], { artifactType: 'application/vnd.example.conf1', subject: subject.descriptor, annotations: { 'org.opencontainers.conformance': 'hello conformance test' } });
    assert.equal((await pushManifest(name, manifestReferrer.descriptor.digest, manifestReferrer)).headers.get('oci-subject'), subject.descriptor.digest);
    assert.equal((await pushManifest(name, 'tagged-artifact', indexReferrer)).headers.get('oci-subject'), subject.descriptor.digest);
    const { index } = await listReferrers(name, subject.descriptor.digest);
    assert.deepEqual(
      [...index.manifests].sort(byDigest),
      [
        expectedReferrer(manifestReferrer, 'application/vnd.example.conf1', undefined),
        expectedReferrer(indexReferrer, 'application/vnd.example.conf1', { 'org.opencontainers.conformance': 'hello conformance test' }),
      ].sort(byDigest),
    );
  });

  it('lists a referrer once when it is pushed by digest and again by tag', async () => {
    // The newer suite pushes every manifest by digest, then its tags; duplicate referrers would fail its list checks.
    const name = repository('referrers-once');
    const subject = await pushImage(name, 'referrers-once');
    await pushBlob(name, EMPTY_JSON);
    const referrer = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType: 'application/vnd.example.conf1', subject: subject.descriptor });
    await pushManifest(name, referrer.descriptor.digest, referrer);
    await pushManifest(name, 'tagged-artifact1', referrer);
    const { index } = await listReferrers(name, subject.descriptor.digest);
    assert.deepEqual(index.manifests.map((d) => d.digest), [referrer.descriptor.digest]);
  });

  it('lists only referrers of the same repository', async () => {
    // Listing Referrers: each descriptor is of a manifest "in the same <name> namespace".
    const here = repository('referrers-here');
    const there = repository('referrers-there');
    const subject = await pushImage(here, 'referrers-scope');
    await pushBlob(there, EMPTY_JSON);
    const referrer = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType: 'application/vnd.example.conf1', subject: subject.descriptor });
    await pushManifest(there, referrer.descriptor.digest, referrer);
    assert.deepEqual((await listReferrers(here, subject.descriptor.digest)).index.manifests, []);
    assert.equal((await listReferrers(there, subject.descriptor.digest)).index.manifests.length, 1);
  });

  it('stops listing a referrer once it is deleted', async () => {
    // Listing Referrers: descriptors are of manifests in the repository; a deleted one is not.
    const name = repository('referrers-deleted');
    const subject = await pushImage(name, 'referrers-deleted');
    await pushBlob(name, EMPTY_JSON);
    const referrer = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType: 'application/vnd.example.conf1', subject: subject.descriptor });
    await pushManifest(name, referrer.descriptor.digest, referrer);
    assert.equal((await call(`/v2/${name}/manifests/${referrer.descriptor.digest}`, { method: 'DELETE' })).status, 202);
    assert.deepEqual((await listReferrers(name, subject.descriptor.digest)).index.manifests, []);
  });

  it('answers referrers of a malformed digest with 400', async () => {
    // Listing Referrers: "If the request is invalid, such as a <digest> with an invalid syntax, a 400 Bad Request MUST be returned".
    const name = repository('referrers-bad-digest');
    assertSpecError(await call(`/v2/${name}/referrers/sha256:not-hex`), 400, 'DIGEST_INVALID');
  });
});

describe('content management (distribution-spec v1.1.1, Content Management; conformance 04_management and newer delete checks)', () => {
  it('deletes a manifest by digest with 202, after which it and every tag on it are 404', async () => {
    // Deleting Manifests: 202; "Once deleted, a GET to /v2/<name>/manifests/<digest> and any tag pointing to that digest will return a 404".
    const name = repository('delete-manifest');
    const manifest = await pushImage(name, 'delete-manifest', { tag: 'tagtest0' });
    await pushManifest(name, 'other', manifest);
    const before = (await tagsOf(name)).tags.length;
    assert.equal((await call(`/v2/${name}/manifests/${manifest.descriptor.digest}`, { method: 'DELETE' })).status, 202);
    for (const reference of [manifest.descriptor.digest, 'tagtest0', 'other']) {
      assertSpecError(await call(`/v2/${name}/manifests/${reference}`), 404, 'MANIFEST_UNKNOWN');
      assert.equal((await call(`/v2/${name}/manifests/${reference}`, { method: 'HEAD' })).status, 404, `HEAD ${reference}`);
    }
    // conformance 04_management: "GET request to tags list should reflect manifest deletion".
    assert.ok((await tagsOf(name)).tags.length < before);
    assert.equal((await call(`/v2/${name}/manifests/${manifest.descriptor.digest}`, { method: 'DELETE' })).status, 404, 'a second delete is 404');
  });

  it('deletes a tag with 202, after which the tag is 404 and the manifest remains by digest', async () => {
    // Deleting tags: 202; "Once deleted, a GET to /v2/<name>/manifests/<tag> will return a 404".
    const name = repository('delete-tag');
    const manifest = await pushImage(name, 'delete-tag', { tag: 'tagtest0' });
    await pushManifest(name, 'keep', manifest);
    assert.equal((await call(`/v2/${name}/manifests/tagtest0`, { method: 'DELETE' })).status, 202);
    assertSpecError(await call(`/v2/${name}/manifests/tagtest0`), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await call(`/v2/${name}/manifests/tagtest0`, { method: 'HEAD' })).status, 404);
    assert.equal((await call(`/v2/${name}/manifests/${manifest.descriptor.digest}`)).status, 200);
    assert.equal((await call(`/v2/${name}/manifests/keep`)).status, 200);
    assert.deepEqual((await tagsOf(name)).tags, ['keep']);
  });

  it('deletes a blob with 202, after which HEAD and GET are 404 and a second delete is 404 BLOB_UNKNOWN', async () => {
    // Deleting Blobs: 202 on success; "If the blob is not found, a 404 Not Found code MUST be returned".
    const name = repository('delete-blob');
    const blob = blobOf(randomBytes(512));
    await pushBlob(name, blob);
    assert.equal((await call(`/v2/${name}/blobs/${blob.descriptor.digest}`, { method: 'DELETE' })).status, 202);
    await assertBlobAbsent(name, blob.descriptor.digest);
    assertSpecError(await call(`/v2/${name}/blobs/${blob.descriptor.digest}`), 404, 'BLOB_UNKNOWN');
    assertSpecError(await call(`/v2/${name}/blobs/${blob.descriptor.digest}`, { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
  });

  it('deletes the config and layer of a deleted image (conformance 04_management "Blob delete")', async () => {
    const name = repository('delete-image-blobs');
    const image = imageOf('delete-image-blobs');
    await pushBlob(name, image.config);
    await pushBlob(name, image.layer);
    await pushManifest(name, 'tagtest0', image.manifest);
    assert.equal((await call(`/v2/${name}/manifests/tagtest0`, { method: 'DELETE' })).status, 202);
    assert.equal((await call(`/v2/${name}/manifests/${image.manifest.descriptor.digest}`, { method: 'DELETE' })).status, 202);
    for (const blob of [image.config, image.layer]) {
      assert.equal((await call(`/v2/${name}/blobs/${blob.descriptor.digest}`, { method: 'DELETE' })).status, 202);
      await assertBlobAbsent(name, blob.descriptor.digest);
    }
  });

  it('answers the delete of a manifest in a repository that does not exist, or of an unknown digest, with 404', async () => {
    // Deleting Manifests: "If the repository does not exist, the response MUST return 404 Not Found".
    assert.equal((await call(`/v2/${repository('delete-nowhere')}/manifests/${digestOf('x')}`, { method: 'DELETE' })).status, 404);
    const name = repository('delete-unknown');
    await pushImage(name, 'delete-unknown');
    assertSpecError(await call(`/v2/${name}/manifests/${digestOf(randomBytes(8))}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('error codes (distribution-spec v1.1.1, Error Codes)', () => {
  it('answers a malformed digest in a blob path with 400 DIGEST_INVALID', async () => {
    const name = repository('digest-invalid');
    for (const digest of ['sha256:xyz', `sha256:${'a'.repeat(63)}`, `sha256:${'A'.repeat(64)}`, 'nocolon']) {
      assertSpecError(await call(`/v2/${name}/blobs/${digest}`), 400, 'DIGEST_INVALID');
    }
  });

  it('answers a repository name outside the grammar with 400 NAME_INVALID on every endpoint', async () => {
    // Pulling manifests: <name> MUST match [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*.
    for (const name of ['UPPER/case', 'a/-leading', 'trailing./x', 'a//b', 'a___b']) {
      assertSpecError(await call(`/v2/${name}/manifests/latest`), 400, 'NAME_INVALID');
      assertSpecError(await call(`/v2/${name}/blobs/${digestOf('x')}`), 400, 'NAME_INVALID');
      assertSpecError(await call(`/v2/${name}/tags/list`), 400, 'NAME_INVALID');
      assertSpecError(await call(`/v2/${name}/blobs/uploads/`, { method: 'POST' }), 400, 'NAME_INVALID');
    }
  });

  it('answers a method an endpoint does not support with 405 UNSUPPORTED', async () => {
    const name = repository('unsupported');
    const digest = digestOf('x');
    const cases: Array<[string, string]> = [
      ['PUT', `/v2/${name}/blobs/${digest}`],
      ['POST', `/v2/${name}/tags/list`],
      ['DELETE', '/v2/'],
      ['PATCH', `/v2/${name}/manifests/latest`],
      ['POST', `/v2/${name}/referrers/${digest}`],
      ['GET', `/v2/${name}/blobs/uploads/`],
    ];
    for (const [method, path] of cases) {
      assertSpecError(await call(path, { method, ...(method === 'GET' ? {} : { body: '' }) }), 405, 'UNSUPPORTED');
    }
  });

  it('names the allowed methods in an Allow header of every 405 answer', async () => {
    // RFC 9110 §15.5.6 (HTTP, not the distribution-spec): "The origin server MUST generate an Allow header field in a 405 response".
    const answer = await call(`/v2/${repository('allow')}/blobs/${digestOf('x')}`, { method: 'PUT', body: '' });
    assert.equal(answer.status, 405);
    assert.ok(answer.headers.get('allow'), 'Allow is present');
  });
});

describe('bad input: request bodies and their framing', () => {
  it('refuses a monolithic POST whose body is longer than its Content-Length, storing nothing and not parsing the rest as a request', async () => {
    const name = repository('overlong-post');
    const sent = Buffer.from('hello, and then a great deal more than five bytes');
    const intended = digestOf(sent);
    const head = rawRequest('POST', `/v2/${name}/blobs/uploads/?digest=${intended}`, { 'Content-Type': MT.octets, 'Content-Length': 5 });
    const exchange = await rawExchange(main.port, [head, sent], { waitMs: 2_000 });
    // The handler's DIGEST_INVALID and node's parser refusing the trailing bytes race; either 400 comes first.
    assert.equal(firstStatus(exchange.text), 400, exchange.text.slice(0, 200));
    assert.ok(!/HTTP\/1\.1 20\d/.test(exchange.text), 'no answer is a success');
    assert.ok(exchange.closedByServer, 'the trailing bytes end the connection rather than being served as a request');
    await assertBlobAbsent(name, intended);
    await assertBlobAbsent(name, digestOf(sent.subarray(0, 5)));
  });

  it('refuses a monolithic PUT whose body is longer than its Content-Length, storing nothing', async () => {
    const name = repository('overlong-put');
    const location = await startUpload(name);
    const sent = Buffer.from('hello, and then a great deal more than five bytes');
    const intended = digestOf(sent);
    const head = rawRequest('PUT', withDigest(location, intended), { 'Content-Type': MT.octets, 'Content-Length': 5 });
    const exchange = await rawExchange(main.port, [head, sent], { waitMs: 2_000 });
    assert.equal(firstStatus(exchange.text), 400, exchange.text.slice(0, 200));
    assert.ok(!/HTTP\/1\.1 20\d/.test(exchange.text), 'no answer is a success');
    await assertBlobAbsent(name, intended);
    await assertBlobAbsent(name, digestOf(sent.subarray(0, 5)));
  });

  it('stores nothing for a monolithic POST whose body ends before its Content-Length, and leaves no temp file', async () => {
    const name = repository('truncated-post');
    const sent = randomBytes(10);
    const head = rawRequest('POST', `/v2/${name}/blobs/uploads/?digest=${digestOf(sent)}`, { 'Content-Type': MT.octets, 'Content-Length': 100 });
    const exchange = await rawExchange(main.port, [head, sent], { end: true, waitMs: 1_500 });
    assert.ok(!/HTTP\/1\.1 20\d/.test(exchange.text), `no success answer: ${exchange.text.slice(0, 100)}`);
    await sleep(100);
    await assertBlobAbsent(name, digestOf(sent));
    assert.deepEqual(await tmpFilesOf(main.root), []);
    assert.equal((await call('/v2/')).status, 200, 'the server keeps serving');
  });

  it('stores nothing for a monolithic PUT whose body ends before its Content-Length', async () => {
    const name = repository('truncated-put');
    const location = await startUpload(name);
    const sent = randomBytes(10);
    const head = rawRequest('PUT', withDigest(location, digestOf(sent)), { 'Content-Type': MT.octets, 'Content-Length': 100 });
    const exchange = await rawExchange(main.port, [head, sent], { end: true, waitMs: 1_500 });
    assert.ok(!/HTTP\/1\.1 20\d/.test(exchange.text), `no success answer: ${exchange.text.slice(0, 100)}`);
    await sleep(100);
    await assertBlobAbsent(name, digestOf(sent));
    // Closing the session again with the bytes that did arrive must not publish them as the blob either.
    const retry = await call(withDigest(location, digestOf(sent)), { method: 'PUT', headers: octets, body: Buffer.alloc(0) });
    assert.notEqual(retry.status, 201, 'the truncated bytes are not a blob');
  });

  it('reads the body of a closing PUT sent with Transfer-Encoding: chunked instead of discarding it', async () => {
    // HTTP/1.1 (RFC 9112 §6.1): a chunked request has a body; a server that will not read one answers 411 (RFC 9110
    // §15.5.12). The spec's PUT shows Content-Length, but a streamed monolithic PUT is an ordinary HTTP request.
    const name = repository('chunked-put');
    const blob = blobOf(randomBytes(2048));
    const location = await startUpload(name);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(blob.bytes.subarray(0, 1000));
        controller.enqueue(blob.bytes.subarray(1000));
        controller.close();
      },
    });
    const put = await call(withDigest(location, blob.descriptor.digest), { method: 'PUT', headers: octets, body, duplex: 'half' });
    assert.ok(put.status === 201 || put.status === 411, `status ${put.status}: ${put.text}`);
    if (put.status === 201) await assertBlobServed(name, blob);
  });

  it('stores nothing for a manifest PUT whose body ends before its Content-Length', async () => {
    const name = repository('truncated-manifest');
    const image = imageOf('truncated-manifest');
    await pushBlob(name, image.config);
    await pushBlob(name, image.layer);
    const head = rawRequest('PUT', `/v2/${name}/manifests/v1`, { 'Content-Type': MT.manifest, 'Content-Length': image.manifest.bytes.byteLength + 50 });
    const exchange = await rawExchange(main.port, [head, image.manifest.bytes], { end: true, waitMs: 1_500 });
    assert.ok(!/HTTP\/1\.1 20\d/.test(exchange.text), `no success answer: ${exchange.text.slice(0, 100)}`);
    assert.equal((await call(`/v2/${name}/manifests/v1`)).status, 404);
  });
});

describe('slow clients (idleTimeoutMs 500)', () => {
  let slow: Registry;
  before(async () => {
    slow = await startRegistry({ idleTimeoutMs: 500 });
  });
  after(async () => {
    await stopRegistry(slow);
  });

  const requestHead = 'GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\nAccept: */*\r\n\r\n';

  it('cuts off a client that sends its headers a byte at a time slower than the idle timeout, serving others meanwhile', async () => {
    const loris = trickle(slow.port, requestHead, 800, 5_000);
    await sleep(100);
    assert.equal(await getOnFreshConnection(slow.port, '/v2/'), 200, 'another client is served while the slow one trickles');
    const { closedAfterMs, bytesSent } = await loris;
    assert.ok(closedAfterMs !== undefined, 'the server closed the connection');
    assert.ok(closedAfterMs < 2_000, `closed after ${closedAfterMs} ms`);
    assert.ok(bytesSent < requestHead.length, 'before the request was complete');
  });

  it('cuts off a client that trickles header bytes faster than the idle timeout, within a few idle timeouts', async () => {
    // A slow-loris client is never idle: the bound has to be on the time to receive the headers, not on silence.
    const loris = trickle(slow.port, `${requestHead.slice(0, -2)}${'X-Pad: y\r\n'.repeat(500)}\r\n`, 100, 4_000);
    await sleep(200);
    assert.equal(await getOnFreshConnection(slow.port, '/v2/'), 200, 'another client is served while the slow one trickles');
    const { closedAfterMs } = await loris;
    assert.ok(closedAfterMs !== undefined && closedAfterMs < 3_000, `closed after ${String(closedAfterMs)} ms (limit 3000)`);
  });

  it('cuts off a client that stalls in the middle of a blob body after the idle timeout, storing nothing', async () => {
    const name = repository('stalled-body');
    const sent = randomBytes(10);
    const digest = digestOf(sent);
    const head = rawRequest('POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { 'Content-Type': MT.octets, 'Content-Length': 1000 });
    const started = Date.now();
    const exchange = await rawExchange(slow.port, [head, sent], { waitMs: 3_000 });
    assert.ok(exchange.closedByServer, 'the server closed the stalled connection');
    assert.ok(Date.now() - started < 2_500, `closed after ${Date.now() - started} ms`);
    assert.equal((await call(`/v2/${name}/blobs/${digest}`, { method: 'HEAD', registry: slow })).status, 404);
    assert.equal(await getOnFreshConnection(slow.port, '/v2/'), 200);
  });
});

describe('a read-only registry (readOnly: true)', () => {
  let readOnly: Registry;
  const name = 'conformance/read-only';
  let blob: Content;
  let manifest: Content;
  let referrer: Content;
  before(async () => {
    const writable = await startRegistry();
    try {
      blob = blobOf(randomBytes(256));
      await pushBlob(name, blob, writable);
      const image = imageOf('read-only');
      await pushBlob(name, image.config, writable);
      await pushBlob(name, image.layer, writable);
      manifest = image.manifest;
      await pushManifest(name, 'v1', manifest, writable);
      await pushBlob(name, EMPTY_JSON, writable);
      referrer = imageManifestOf(EMPTY_JSON.descriptor, [EMPTY_JSON.descriptor], { artifactType: 'application/vnd.example.conf1', subject: manifest.descriptor });
      await pushManifest(name, referrer.descriptor.digest, referrer, writable);
    } finally {
      await writable.server.close();
    }
    readOnly = await startRegistry({ readOnly: true }, writable.root);
  });
  after(async () => {
    await stopRegistry(readOnly);
  });

  it('refuses PUT, POST, PATCH and DELETE with 405 UNSUPPORTED', async () => {
    const other = blobOf(randomBytes(64));
    const upload = `/v2/${name}/blobs/uploads/0d4f5a8e-3c2b-4e1f-9a7d-6b5c4d3e2f10`;
    const writes: Array<[string, string, Record<string, string>, Buffer | undefined]> = [
      ['POST', `/v2/${name}/blobs/uploads/`, {}, undefined],
      ['POST', `/v2/${name}/blobs/uploads/?digest=${other.descriptor.digest}`, octets, other.bytes],
      ['POST', `/v2/${name}/blobs/uploads/?mount=${blob.descriptor.digest}&from=${name}`, {}, undefined],
      ['PATCH', upload, octets, other.bytes],
      ['PUT', `${upload}?digest=${other.descriptor.digest}`, octets, other.bytes],
      ['DELETE', upload, {}, undefined],
      ['PUT', `/v2/${name}/manifests/v2`, { 'content-type': MT.manifest }, manifest.bytes],
      ['DELETE', `/v2/${name}/manifests/v1`, {}, undefined],
      ['DELETE', `/v2/${name}/manifests/${manifest.descriptor.digest}`, {}, undefined],
      ['DELETE', `/v2/${name}/blobs/${blob.descriptor.digest}`, {}, undefined],
    ];
    for (const [method, path, headers, body] of writes) {
      assertSpecError(await call(path, { method, headers, ...(body === undefined ? {} : { body }), registry: readOnly }), 405, 'UNSUPPORTED');
    }
    await assertBlobAbsent(name, other.descriptor.digest, readOnly);
  });

  it('still serves GET and HEAD of blobs, manifests, tags and referrers', async () => {
    assert.equal((await call('/v2/', { registry: readOnly })).status, 200);
    await assertBlobServed(name, blob, readOnly);
    assert.equal((await call(`/v2/${name}/blobs/${blob.descriptor.digest}`, { method: 'HEAD', registry: readOnly })).status, 200);
    const got = await call(`/v2/${name}/manifests/v1`, { registry: readOnly });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(manifest.bytes));
    assert.equal((await call(`/v2/${name}/manifests/${manifest.descriptor.digest}`, { method: 'HEAD', registry: readOnly })).status, 200);
    const tags = await call(`/v2/${name}/tags/list`, { registry: readOnly });
    assert.deepEqual((JSON.parse(tags.text) as { tags: string[] }).tags, ['v1']);
    const referrers = await call(`/v2/${name}/referrers/${manifest.descriptor.digest}`, { registry: readOnly });
    assert.deepEqual((JSON.parse(referrers.text) as ReferrersIndex).manifests.map((d) => d.digest), [referrer.descriptor.digest]);
  });
});
