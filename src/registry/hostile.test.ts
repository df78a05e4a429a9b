// The registry client against misbehaving registries: content that lies about its digest, endless
// and oversized bodies, redirect loops, stalls, rate limits, error statuses and foreign Link headers.
// Each registry is a handler mounted on a real loopback server (STYLE.md rule 16); no HTTP mocking.

import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { chunked, collect, readAll, testBlob, testJson, testManifest } from '../../test/support/target-conformance.js';
import {
  DigestError,
  digestOf,
  MEDIA_TYPE_IMAGE_CONFIG,
  MEDIA_TYPE_IMAGE_INDEX,
  MEDIA_TYPE_IMAGE_MANIFEST,
  type OciErrorCode,
} from '../oci/index.js';
import { basicAuthorization, type CredentialStore } from './auth.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import type { TransportSettings } from './defaults.js';
import { RegistryError, type RegistryErrorCode } from './errors.js';
import type { Repository } from './repository.js';

// ---- the fake registry: a handler on a real loopback server ----

/** One request the fake registry received. */
interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

interface FakeRegistry {
  /** `127.0.0.1:PORT`, as a reference names the registry. */
  readonly host: string;
  /** Every request received, in order. */
  readonly requests: SeenRequest[];
  /** TCP connections accepted so far. */
  readonly connections: () => number;
  close(): Promise<void>;
}

const registries: FakeRegistry[] = [];
const clients: RegistryClient[] = [];

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(registries.map((r) => r.close()));
});

/** Starts a loopback HTTP server whose handler plays the registry; it is closed in the file's `after` hook. */
async function startFakeRegistry(handler: Handler): Promise<FakeRegistry> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(() => res.destroy());
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const registry: FakeRegistry = {
    host: `127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    close: async () => {
      // Hanging handlers never end their responses: drop their connections instead of waiting.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  registries.push(registry);
  return registry;
}

/** Sends a JSON answer. */
function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(bytes.byteLength), ...headers }).end(bytes);
}

/** Sends bytes with a Content-Length. */
function bytesAnswer(res: ServerResponse, status: number, body: Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-length': String(body.byteLength), ...headers }).end(body);
}

/** Writes `total` bytes (forever when undefined) in 64 KiB chunks, honouring backpressure, until the client goes away. */
function pump(res: ServerResponse, total?: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  const next = (): void => {
    while (!res.destroyed) {
      if (total !== undefined && written >= total) {
        res.end();
        return;
      }
      const piece = total === undefined ? chunk : chunk.subarray(0, Math.min(chunk.byteLength, total - written));
      written += piece.byteLength;
      if (!res.write(piece)) {
        res.once('drain', next);
        return;
      }
    }
  };
  next();
}

/** Drains a request body (a registry reads an upload before answering it). */
async function drain(req: IncomingMessage): Promise<number> {
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) total += chunk.byteLength;
  return total;
}

// ---- the client under test ----

/** Short limits so every misbehaviour ends fast; tests override what they exercise. */
const FAST: Partial<TransportSettings> = {
  connectTimeoutMs: 1000,
  requestTimeoutMs: 1000,
  headersTimeoutMs: 1000,
  bodyIdleTimeoutMs: 500,
  retryBaseDelayMs: 10,
  retryMaxDelayMs: 50,
};

function client(transport: Partial<TransportSettings> = {}, options: Omit<RegistryClientOptions, 'transport'> = {}): RegistryClient {
  const made = new RegistryClient({ ...options, transport: { ...FAST, ...transport } });
  clients.push(made);
  return made;
}

function repositoryOn(registry: FakeRegistry, transport: Partial<TransportSettings> = {}, options: Omit<RegistryClientOptions, 'transport'> = {}): Repository {
  return client(transport, options).repository(registry.host, 'app');
}

/** A caller deadline far beyond every client timeout: if it fires, the client failed to bound the operation. */
const opts = () => ({ signal: AbortSignal.timeout(10_000) });

function assertOneLine(message: string): void {
  assert.ok(!message.includes('\n') && !message.includes('\r'), `message is one line: ${JSON.stringify(message)}`);
}

/** For assert.rejects: a RegistryError with `code` and a one-line message naming the registry. */
function registryError(code: RegistryErrorCode, registry?: FakeRegistry | string): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${inspect(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    assertOneLine(err.message);
    if (registry !== undefined) {
      const host = typeof registry === 'string' ? registry : registry.host;
      assert.equal(err.registry, host);
      assert.ok(err.message.includes(host), `message names ${host}: ${err.message}`);
    }
    return true;
  };
}

/** For assert.rejects: the oci module's DigestError with a content-mismatch `code`. */
function contentError(code: OciErrorCode & ('DIGEST_MISMATCH' | 'SIZE_MISMATCH')): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof DigestError, `expected a DigestError, got ${inspect(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    assertOneLine(err.message);
    return true;
  };
}

async function elapsedMs(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

// ---- test content ----

const config = testJson(MEDIA_TYPE_IMAGE_CONFIG, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
const layer = testBlob('hostile/layer', 1000);
const manifest = testManifest(config.descriptor, [layer.descriptor]);
/** The manifest with one byte changed: same length, different digest. */
const tampered = (() => {
  const bytes = Buffer.from(manifest.bytes);
  const at = bytes.indexOf(layer.descriptor.digest) + 'sha256:'.length;
  bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30;
  assert.notEqual(digestOf(bytes), manifest.descriptor.digest);
  return bytes;
})();
const TEN_MIB = 10 * 1024 * 1024;
const manifestHeaders = { 'content-type': MEDIA_TYPE_IMAGE_MANIFEST };

describe('a registry whose content does not match its digest', { timeout: 10_000 }, () => {
  it('rejects a manifest fetched by digest whose bytes hash differently', async () => {
    const registry = await startFakeRegistry((_req, res) => bytesAnswer(res, 200, tampered, manifestHeaders));
    const repo = repositoryOn(registry);
    await assert.rejects(async () => readAll(await repo.fetch(manifest.descriptor, opts())), contentError('DIGEST_MISMATCH'));
  });

  it('rejects a blob whose bytes hash differently', async () => {
    const wrong = Buffer.from(layer.bytes);
    wrong[0] = (wrong[0] ?? 0) ^ 0xff;
    const registry = await startFakeRegistry((_req, res) => bytesAnswer(res, 200, wrong, { 'content-type': 'application/octet-stream' }));
    const repo = repositoryOn(registry);
    await assert.rejects(async () => readAll(await repo.fetch(layer.descriptor, opts())), contentError('DIGEST_MISMATCH'));
  });

  it('rejects a tag whose manifest GET carries a Docker-Content-Digest that disagrees with the bytes', async () => {
    const registry = await startFakeRegistry((req, res) => {
      // HEAD without Docker-Content-Digest makes the client GET the manifest and hash it.
      if (req.method === 'HEAD') return void res.writeHead(200, { ...manifestHeaders, 'content-length': String(manifest.bytes.byteLength) }).end();
      bytesAnswer(res, 200, manifest.bytes, { ...manifestHeaders, 'docker-content-digest': digestOf('something else') });
    });
    const repo = repositoryOn(registry);
    await assert.rejects(repo.resolve('v1', opts()), registryError('DIGEST_INVALID', registry));
    assert.deepEqual(
      registry.requests.map((r) => r.method),
      ['HEAD', 'GET'],
    );
  });

  it('rejects a digest reference whose manifest GET returns other bytes', async () => {
    const registry = await startFakeRegistry((req, res) => {
      if (req.method === 'HEAD') return void res.writeHead(200, { ...manifestHeaders, 'content-length': String(tampered.byteLength) }).end();
      bytesAnswer(res, 200, tampered, manifestHeaders);
    });
    const repo = repositoryOn(registry);
    await assert.rejects(repo.resolve(manifest.descriptor.digest, opts()), registryError('DIGEST_INVALID', registry));
  });
});

describe('a registry that sends too much', { timeout: 10_000 }, () => {
  it('stops reading an endless blob body past its size and closes the connection', async () => {
    let socketClosed: Promise<void> | undefined;
    const registry = await startFakeRegistry((req, res) => {
      if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': String(layer.descriptor.size) }).end();
      socketClosed = new Promise((resolve) => req.socket.once('close', () => resolve()));
      // No Content-Length: Node sends the body chunked, and this one never ends.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      pump(res);
    });
    const repo = repositoryOn(registry);
    await assert.rejects(async () => readAll(await repo.fetch(layer.descriptor, opts())), contentError('SIZE_MISMATCH'));
    assert.ok(socketClosed !== undefined, 'the registry saw the GET');
    await socketClosed;
    // The registry is still up and answers on a new connection.
    assert.equal(await repo.exists(layer.descriptor, opts()), true);
  });

  it('refuses a blob whose Content-Length differs from the descriptor before reading it', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(TEN_MIB) });
      pump(res, TEN_MIB);
    });
    const repo = repositoryOn(registry);
    await assert.rejects(repo.fetch(layer.descriptor, opts()), registryError('RESPONSE_INVALID', registry));
  });

  it('refuses a 10 MiB manifest announced by Content-Length', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      res.writeHead(200, { ...manifestHeaders, 'content-length': String(TEN_MIB) });
      pump(res, TEN_MIB);
    });
    const repo = repositoryOn(registry);
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), registryError('RESPONSE_TOO_LARGE', registry));
  });

  it('cuts off a 10 MiB chunked manifest at the manifest limit', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      res.writeHead(200, manifestHeaders);
      pump(res, TEN_MIB);
    });
    const repo = repositoryOn(registry);
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), registryError('RESPONSE_TOO_LARGE', registry));
  });

  it('cuts off a 10 MiB chunked manifest fetched to resolve a tag', async () => {
    const registry = await startFakeRegistry((req, res) => {
      if (req.method === 'HEAD') return void res.writeHead(200, manifestHeaders).end();
      res.writeHead(200, manifestHeaders);
      pump(res, TEN_MIB);
    });
    const repo = repositoryOn(registry);
    await assert.rejects(repo.resolve('v1', opts()), registryError('RESPONSE_TOO_LARGE', registry));
  });

  it('refuses to resolve a tag whose HEAD claims a 10 MiB manifest', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      res.writeHead(200, { ...manifestHeaders, 'content-length': String(TEN_MIB), 'docker-content-digest': manifest.descriptor.digest }).end();
    });
    const repo = repositoryOn(registry);
    await assert.rejects(repo.resolve('v1', opts()), registryError('RESPONSE_TOO_LARGE', registry));
    assert.deepEqual(
      registry.requests.map((r) => r.method),
      ['HEAD'],
    );
  });
});

describe('a registry that redirects in circles', { timeout: 10_000 }, () => {
  it('stops a redirect to itself at the redirect limit', async () => {
    const registry = await startFakeRegistry((req, res) => res.writeHead(302, { location: req.url ?? '/' }).end());
    const repo = repositoryOn(registry, { maxRedirects: 4 });
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), registryError('REDIRECT_LIMIT', registry));
    assert.equal(registry.requests.length, 5, 'the first request and 4 redirects');
  });

  it('stops an A→B→A redirect loop at the redirect limit', async () => {
    const hosts = { b: '' };
    const a = await startFakeRegistry((req, res) => res.writeHead(302, { location: `http://${hosts.b}${req.url ?? '/'}` }).end());
    const b = await startFakeRegistry((req, res) => res.writeHead(307, { location: `http://${a.host}${req.url ?? '/'}` }).end());
    hosts.b = b.host;
    const repo = repositoryOn(a, { maxRedirects: 5 });
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), registryError('REDIRECT_LIMIT', a));
    assert.equal(a.requests.length + b.requests.length, 6);
    assert.ok(b.requests.length >= 2, 'both ends of the loop were visited');
  });

  it('follows the default limit of 10 redirects', async () => {
    const registry = await startFakeRegistry((req, res) => res.writeHead(301, { location: req.url ?? '/' }).end());
    const repo = repositoryOn(registry);
    await assert.rejects(repo.resolve('v1', opts()), registryError('REDIRECT_LIMIT', registry));
    assert.equal(registry.requests.length, 11);
  });
});

describe('a registry that stalls', { timeout: 10_000 }, () => {
  it('times out a manifest request the registry accepts and never answers', async () => {
    const registry = await startFakeRegistry(() => {});
    const repo = repositoryOn(registry, { requestTimeoutMs: 300 });
    const ms = await elapsedMs(() => assert.rejects(repo.resolve('v1', opts()), registryError('TIMEOUT', registry)));
    assert.ok(ms < 10_000);
  });

  it('times out a blob request whose headers never come', async () => {
    const registry = await startFakeRegistry(() => {});
    const repo = repositoryOn(registry, { headersTimeoutMs: 300 });
    await assert.rejects(repo.fetch(layer.descriptor, opts()), registryError('TIMEOUT', registry));
  });

  it('times out a manifest whose body stalls after the headers', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      res.writeHead(200, { ...manifestHeaders, 'content-length': String(manifest.bytes.byteLength) });
      res.write(manifest.bytes.subarray(0, 10));
    });
    const repo = repositoryOn(registry, { requestTimeoutMs: 400 });
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), registryError('TIMEOUT', registry));
  });

  it('times out a blob whose body stalls after the headers', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(layer.descriptor.size) });
      res.write(layer.bytes.subarray(0, 100));
    });
    const repo = repositoryOn(registry, { bodyIdleTimeoutMs: 300 });
    const stream = await repo.fetch(layer.descriptor, opts());
    await assert.rejects(readAll(stream), registryError('TIMEOUT', registry));
  });
});

describe('a registry that asks the client to come back later', { timeout: 10_000 }, () => {
  it('retries a GET after two 503s and succeeds', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      if (registry.requests.length <= 2) return json(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'try later' }] });
      bytesAnswer(res, 200, manifest.bytes, manifestHeaders);
    });
    const repo = repositoryOn(registry);
    const bytes = await readAll(await repo.fetch(manifest.descriptor, opts()));
    assert.deepEqual(new Uint8Array(bytes), manifest.bytes);
    assert.equal(registry.requests.length, 3);
  });

  it('gives up with SERVER_ERROR after the retries are spent', async () => {
    const registry = await startFakeRegistry((_req, res) => json(res, 503, {}));
    const repo = repositoryOn(registry, { maxRetries: 2 });
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), registryError('SERVER_ERROR', registry));
    assert.equal(registry.requests.length, 3);
  });

  it('waits as long as a 429 Retry-After says before retrying', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      if (registry.requests.length === 1) return json(res, 429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }, { 'retry-after': '1' });
      bytesAnswer(res, 200, manifest.bytes, manifestHeaders);
    });
    const repo = repositoryOn(registry);
    const ms = await elapsedMs(async () => readAll(await repo.fetch(manifest.descriptor, opts())));
    assert.equal(registry.requests.length, 2);
    assert.ok(ms >= 900, `waited ${Math.round(ms)} ms for Retry-After: 1`);
  });

  it('fails with TOOMANYREQUESTS at once when Retry-After exceeds retryAfterMaxMs', async () => {
    const registry = await startFakeRegistry((_req, res) => json(res, 429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'pull limit' }] }, { 'retry-after': '3600' }));
    const repo = repositoryOn(registry, { retryAfterMaxMs: 500 });
    const ms = await elapsedMs(() => assert.rejects(repo.fetch(manifest.descriptor, opts()), registryError('TOOMANYREQUESTS', registry)));
    assert.equal(registry.requests.length, 1);
    assert.ok(ms < 10_000);
    // The wait it asked for travels with the error, for callers that back off (the admission limiter).
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), (err: unknown) => err instanceof RegistryError && err.retryAfterMs === 3_600_000);
  });

  it('does not retry a PATCH that streamed a chunk of an upload', async () => {
    const big = testBlob('hostile/chunked', 3000);
    const registry = await startFakeRegistry(async (req, res) => {
      await drain(req);
      if (req.method === 'POST') return void res.writeHead(202, { location: '/v2/app/blobs/uploads/session-1', 'content-length': '0' }).end();
      if (req.method === 'PATCH') return json(res, 503, {});
      res.writeHead(204).end(); // DELETE of the cancelled session
    });
    const repo = repositoryOn(registry, {}, { repository: { monolithicUploadMaxBytes: 100, uploadChunkBytes: 4096 } });
    await assert.rejects(repo.push(big.descriptor, chunked(big.bytes, 500), opts()), registryError('SERVER_ERROR', registry));
    assert.deepEqual(
      registry.requests.map((r) => r.method),
      ['POST', 'PATCH', 'DELETE'],
    );
  });

  it('does not retry a PUT of a streamed body, but retries the same PUT of bytes', async () => {
    const registry = await startFakeRegistry(async (req, res) => {
      await drain(req);
      if (registry.requests.length <= 2) return json(res, 503, {});
      res.writeHead(201, { 'content-length': '0' }).end();
    });
    const c = client();
    const url = new URL(`http://${registry.host}/v2/app/blobs/uploads/session-1?digest=${layer.descriptor.digest}`);
    const request = { method: 'PUT' as const, url, signal: opts().signal, scopes: [], repository: 'app' };
    const streamed = await c.send(registry.host, { ...request, body: chunked(layer.bytes, 100), headers: { 'content-length': String(layer.descriptor.size) } });
    await readAll(streamed.body);
    assert.equal(streamed.status, 503);
    assert.equal(registry.requests.length, 1, 'a streamed body is sent once');
    const replayed = await c.send(registry.host, { ...request, body: layer.bytes });
    await readAll(replayed.body);
    assert.equal(replayed.status, 201);
    assert.equal(registry.requests.length, 3, 'bytes are sent again after the 503');
  });
});

describe('a registry that refuses', { timeout: 10_000 }, () => {
  it('reports a 401 without a challenge as UNAUTHORIZED with a sigil login hint', async () => {
    const registry = await startFakeRegistry((_req, res) => json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    const repo = repositoryOn(registry);
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), (err: unknown) => {
      registryError('UNAUTHORIZED', registry)(err);
      assert.ok((err as RegistryError).message.includes(`sigil login ${registry.host}`), (err as RegistryError).message);
      return true;
    });
  });

  it('reports a 403 as DENIED', async () => {
    const registry = await startFakeRegistry((_req, res) => json(res, 403, {}));
    const repo = repositoryOn(registry);
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), registryError('DENIED', registry));
  });

  it('keeps a 404 body code MANIFEST_UNKNOWN and its details, on one line', async () => {
    const body = { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown\nto this registry', detail: { tag: 'v1' } }] };
    const registry = await startFakeRegistry((_req, res) => json(res, 404, body));
    const repo = repositoryOn(registry);
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), (err: unknown) => {
      registryError('MANIFEST_UNKNOWN', registry)(err);
      const error = err as RegistryError;
      assert.equal(error.status, 404);
      assert.equal(error.repository, 'app');
      assert.deepEqual(error.details, body.errors);
      return true;
    });
  });

  it('reports a 500 as SERVER_ERROR without retrying', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' }).end('<html><body>\n<h1>Internal Server Error</h1>\n</body></html>');
    });
    const repo = repositoryOn(registry);
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), registryError('SERVER_ERROR', registry));
    assert.equal(registry.requests.length, 1);
  });

  it('reports a refused connection as UNREACHABLE', async () => {
    const closed = await startFakeRegistry(() => {});
    await closed.close();
    const repo = client().repository(closed.host, 'app');
    await assert.rejects(repo.resolve('v1', opts()), registryError('UNREACHABLE', closed));
  });

  it('reports a caller abort while waiting for the answer as ABORTED', async () => {
    const registry = await startFakeRegistry(() => {});
    const repo = repositoryOn(registry, { requestTimeoutMs: 5000, headersTimeoutMs: 5000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(repo.resolve('v1', { signal: controller.signal }), registryError('ABORTED', registry));
  });

  it('reports a caller abort while reading a blob body as ABORTED', async () => {
    const registry = await startFakeRegistry((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(layer.descriptor.size) });
      res.write(layer.bytes.subarray(0, 100));
    });
    const repo = repositoryOn(registry, { bodyIdleTimeoutMs: 5000 });
    const controller = new AbortController();
    const stream = await repo.fetch(layer.descriptor, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(readAll(stream), registryError('ABORTED', registry));
  });
});

describe('errors never carry credentials', { timeout: 10_000 }, () => {
  const password = 'hunter2-very-secret';
  const credentials: CredentialStore = { get: async () => ({ username: 'alice', password }) };
  const basic = basicAuthorization('alice', password);
  const token = 'tok-3f1c9a-secret';

  function assertNoSecret(err: unknown): void {
    const message = (err as Error).message;
    for (const secret of [basic, basic.slice('Basic '.length), password, token]) {
      assert.ok(!message.includes(secret), `message leaks a credential: ${message}`);
    }
  }

  it('reports refused Basic credentials as UNAUTHORIZED without the Authorization value', async () => {
    const registry = await startFakeRegistry((_req, res) => json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }, { 'www-authenticate': 'Basic realm="fake"' }));
    const repo = repositoryOn(registry, {}, { credentials });
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), (err: unknown) => {
      registryError('UNAUTHORIZED', registry)(err);
      assertNoSecret(err);
      return true;
    });
    assert.equal(registry.requests[1]?.headers.authorization, basic, 'the credentials were sent');
  });

  it('reports a 403 to a Bearer token as DENIED without the token', async () => {
    const registry = await startFakeRegistry((req, res) => {
      if (req.url?.startsWith('/token')) return json(res, 200, { token, expires_in: 300 });
      if (req.headers.authorization === undefined) {
        return json(res, 401, {}, { 'www-authenticate': `Bearer realm="http://${registry.host}/token",service="fake"` });
      }
      json(res, 403, { errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] });
    });
    const repo = repositoryOn(registry, {}, { credentials });
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), (err: unknown) => {
      registryError('DENIED', registry)(err);
      assertNoSecret(err);
      return true;
    });
    assert.equal(registry.requests.at(-1)?.headers.authorization, `Bearer ${token}`, 'the token was sent');
  });

  it('keeps an Authorization value that a registry echoes in its error body out of the message', async () => {
    const registry = await startFakeRegistry((req, res) => {
      if (req.headers.authorization === undefined) return json(res, 401, {}, { 'www-authenticate': 'Basic realm="fake"' });
      json(res, 403, { errors: [{ code: 'DENIED', message: `no access for ${req.headers.authorization}` }] });
    });
    const repo = repositoryOn(registry, {}, { credentials });
    await assert.rejects(repo.fetch(manifest.descriptor, opts()), (err: unknown) => {
      registryError('DENIED', registry)(err);
      assertNoSecret(err);
      return true;
    });
  });
});

describe('a registry whose listings break the spec', { timeout: 10_000 }, () => {
  it('rejects a referrers answer that is not an image index', async () => {
    const registry = await startFakeRegistry((_req, res) => bytesAnswer(res, 200, manifest.bytes, { 'content-type': MEDIA_TYPE_IMAGE_INDEX }));
    const repo = repositoryOn(registry);
    await assert.rejects(collect(repo.referrers(manifest.descriptor, opts())), registryError('RESPONSE_INVALID', registry));
  });

  it('rejects a referrers answer that is not JSON, on one line', async () => {
    const registry = await startFakeRegistry((_req, res) => bytesAnswer(res, 200, Buffer.from('<html>\nnope\n</html>'), { 'content-type': MEDIA_TYPE_IMAGE_INDEX }));
    const repo = repositoryOn(registry);
    await assert.rejects(collect(repo.referrers(manifest.descriptor, opts())), registryError('RESPONSE_INVALID', registry));
  });

  it('falls back to the tag schema when the referrers endpoint answers 200 with something other than an index', async () => {
    // GHCR answers the referrers path with a redirect to a UI page: 200, but no image index.
    const registry = await startFakeRegistry((req, res) => {
      if (req.url?.includes('/referrers/')) return bytesAnswer(res, 200, Buffer.from('<html>hello</html>'), { 'content-type': 'text/html' });
      return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
    });
    const repo = repositoryOn(registry);
    assert.deepEqual(await collect(repo.referrers(manifest.descriptor, opts())), []);
    assert.equal(repo.referrersApi, false);
    assert.ok(registry.requests.some((r) => r.path.endsWith(`/manifests/${manifest.descriptor.digest.replace(':', '-')}`)), 'the tag schema was read');
  });

  it('keeps the tag-schema index when a registry sends OCI-Subject without having the referrers API', async () => {
    // Docker Hub and pre-GA ECR did this, and clients that trusted the header lost referrers.
    const stored = new Map<string, Buffer>();
    const registry = await startFakeRegistry(async (req, res) => {
      const path = req.url ?? '';
      if (path.includes('/referrers/')) return json(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'no route' }] });
      const tag = /\/manifests\/([^/?]+)$/.exec(path)?.[1] ?? '';
      if (req.method === 'PUT') {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        stored.set(tag, Buffer.concat(chunks));
        return bytesAnswer(res, 201, Buffer.alloc(0), { 'oci-subject': manifest.descriptor.digest, 'docker-content-digest': digestOf(Buffer.concat(chunks)) });
      }
      const body = stored.get(tag);
      if (body === undefined) return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
      return bytesAnswer(res, 200, body, { 'content-type': MEDIA_TYPE_IMAGE_INDEX });
    });
    const repo = repositoryOn(registry);
    const signature = testManifest(config.descriptor, [layer.descriptor], { subject: manifest.descriptor });
    await repo.push(signature.descriptor, signature.bytes, opts());
    const index = JSON.parse(stored.get(manifest.descriptor.digest.replace(':', '-'))?.toString() ?? '{}') as { manifests?: Array<{ digest: string }> };
    assert.deepEqual(index.manifests?.map((m) => m.digest), [signature.descriptor.digest]);
  });

  it('rejects a tag list whose Link header points to another host', async () => {
    const elsewhere = await startFakeRegistry((_req, res) => json(res, 200, { name: 'app', tags: ['stolen'] }));
    const registry = await startFakeRegistry((_req, res) =>
      json(res, 200, { name: 'app', tags: ['v1'] }, { link: `<http://${elsewhere.host}/v2/app/tags/list?n=1000&last=v1>; rel="next"` }),
    );
    const repo = repositoryOn(registry);
    await assert.rejects(collect(repo.tags(opts())), registryError('RESPONSE_INVALID', registry));
    assert.equal(elsewhere.requests.length, 0, 'the other host was never asked');
  });

  it('rejects a referrers page whose Link header points to another host', async () => {
    const elsewhere = await startFakeRegistry((_req, res) => json(res, 200, { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests: [] }));
    const registry = await startFakeRegistry((_req, res) =>
      json(
        res,
        200,
        { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests: [] },
        { 'content-type': MEDIA_TYPE_IMAGE_INDEX, link: `<http://${elsewhere.host}/v2/app/referrers/${manifest.descriptor.digest}?page=2>; rel="next"` },
      ),
    );
    const repo = repositoryOn(registry);
    await assert.rejects(collect(repo.referrers(manifest.descriptor, opts())), registryError('RESPONSE_INVALID', registry));
    assert.equal(elsewhere.requests.length, 0, 'the other host was never asked');
  });
});

describe('connection reuse', () => {
  it('resolves a tag ten times over one kept-alive connection (undici would close after each HEAD)', async () => {
    const manifest = testJson(MEDIA_TYPE_IMAGE_MANIFEST, { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, layers: [] });
    const registry = await startFakeRegistry((req, res) => {
      res.writeHead(200, { 'content-type': MEDIA_TYPE_IMAGE_MANIFEST, 'content-length': String(manifest.bytes.byteLength), 'docker-content-digest': manifest.descriptor.digest });
      res.end(req.method === 'HEAD' ? undefined : manifest.bytes);
    });
    const repo = client().repository(registry.host, 'app');
    for (let i = 0; i < 10; i++) assert.equal((await repo.resolve('v1', opts())).digest, manifest.descriptor.digest);
    assert.deepEqual(new Set(registry.requests.map((r) => r.method)), new Set(['HEAD']));
    // One, or two when the pool opens another while the first is still being released; without
    // reset: false it is one per HEAD.
    assert.ok(registry.connections() <= 2, `${registry.connections()} connections for 10 HEAD requests`);
  });
});
