// The embedded registry's HTTP API: distribution-spec v1.1.1 pull, push, content discovery (tags,
// referrers) and content management, over the filesystem blob store and the SQL metadata store.

import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  artifactTypeOf,
  decodeManifest,
  isDigest,
  isManifestMediaType,
  isTag,
  MAX_MANIFEST_BYTES,
  mediaTypeOfContentType,
  MEDIA_TYPE_IMAGE_INDEX,
  OciError,
  parseDigest,
  printable,
  streamOf,
  successorsOf,
  type Manifest,
} from '../../oci/index.js';
import { grants, type BasicAuthenticator, type TokenAuthority, type TokenClaims } from './auth.js';
import { CACHED_BLOB_MAX_BYTES, FsBlobStore, isUploadId } from './blobstore.js';
import { errorBody, RegistryServerError } from './errors.js';
import { collectGarbage, ContentLock, type GarbageCollectionOptions, type GarbageCollectionReport } from './gc.js';
import { MetadataStore, type ManifestRecord, type SqlDatabase } from './metadata.js';
import { RegistryMetrics } from './metrics.js';
import { sendFileRange } from './send.js';

/** distribution-spec v1.1.1, "Pulling manifests": the repository name grammar, each path component. */
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
/** Names longer than this are refused (Distribution's limit; many clients assume it). */
const MAX_NAME_LENGTH = 255;
/** Tags per page when the client gives no `n`, and the most it may ask for (Distribution caps at 1000 too). */
const DEFAULT_TAG_PAGE = 1000;
const MAX_TAG_PAGE = 10_000;

/** What a log line gets: the subset of pino the server uses. */
export interface ServerLogger {
  info(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** Options of the embedded registry. */
export interface RegistryServerOptions {
  /** Data directory: blobs and upload sessions live under it. */
  readonly root: string;
  /** The metadata database (see database.ts). */
  readonly database: SqlDatabase;
  /** Refuse every write with 405 UNSUPPORTED (default false). */
  readonly readOnly?: boolean;
  readonly logger?: ServerLogger;
  /** An idle connection (a slow-loris client) is closed after this long; default 60 s. */
  readonly idleTimeoutMs?: number;
  /** Require Basic credentials from this htpasswd (default: anonymous access). */
  readonly auth?: BasicAuthenticator;
  /**
   * Require Bearer tokens from this token service, which the server itself serves at `/token`
   * (Docker token authentication); takes precedence over `auth`.
   */
  readonly tokens?: TokenAuthority;
  /**
   * Refuse a data directory another live server uses (default true: the embedded database allows
   * one process). Replicas sharing PostgreSQL and one blob directory pass false.
   */
  readonly exclusive?: boolean;
  /** Serve HTTPS with this PEM certificate chain and key (default: plain HTTP). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
}

/** Where a serving process announces itself in its data directory. */
const SERVER_FILE = 'server.json';
/** The token service, outside the /v2/ namespace. */
const TOKEN_PATH = '/token';
/** Prometheus metrics, outside the /v2/ namespace. */
const METRICS_PATH = '/metrics';
/** The administrative gc endpoint, outside the /v2/ namespace. */
const GC_PATH = '/_sigil/gc';

/** The live server announced in `root/server.json`, or undefined (none, or its process is gone). */
export async function liveServerAt(root: string): Promise<{ pid: number; host: string; port: number; tls: boolean } | undefined> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(join(root, SERVER_FILE), 'utf8'));
  } catch {
    return undefined; // absent or torn: no live server announced
  }
  const { pid, host, port, tls } = (doc ?? {}) as { pid?: unknown; host?: unknown; port?: unknown; tls?: unknown };
  if (typeof pid !== 'number' || typeof host !== 'string' || typeof port !== 'number' || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined; // the process died (kill -9) and left the file
  }
  return { pid, host, port, tls: tls === true };
}

/** POSTs to the running server's gc endpoint on loopback; its own TLS certificate is not checked (it is our process on this machine). */
function postToServer(live: { host: string; port: number; tls: boolean }, path: string): Promise<{ status: number; text: string }> {
  const host = live.host === '0.0.0.0' || live.host === '::' ? '127.0.0.1' : live.host;
  return new Promise((resolve, reject) => {
    const options = { host, port: live.port, path, method: 'POST', rejectUnauthorized: false, timeout: 3_600_000 };
    const onResponse = (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    };
    const req = live.tls ? httpsRequest(options, onResponse) : httpRequest(options, onResponse);
    req.on('error', reject);
    req.end();
  });
}

/**
 * Runs gc on the data directory: through the running server when there is one (POST /_sigil/gc
 * on loopback), else by opening the stores directly.
 */
export async function runGarbageCollection(root: string, openDatabase: () => Promise<SqlDatabase>, options: GarbageCollectionOptions = {}): Promise<GarbageCollectionReport & { readonly via: 'server' | 'direct' }> {
  const live = await liveServerAt(root);
  if (live !== undefined) {
    const query = new URLSearchParams();
    if (options.graceMs !== undefined) query.set('graceMs', String(options.graceMs));
    if (options.uploadTtlMs !== undefined) query.set('uploadTtlMs', String(options.uploadTtlMs));
    if (options.dryRun) query.set('dryRun', 'true');
    const { status, text } = await postToServer(live, `${GC_PATH}?${query.toString()}`);
    if (status !== 200) throw new RegistryServerError('INTERNAL', `the running registry (pid ${live.pid}) refused gc: ${status} ${printable(text, 200)}`);
    return { ...(JSON.parse(text) as GarbageCollectionReport), via: 'server' };
  }
  const server = await RegistryServer.open({ root, database: await openDatabase() });
  try {
    return { ...(await server.collectGarbage(options)), via: 'direct' };
  } finally {
    await server.close();
  }
}

/** The methods each route answers, for the Allow header of a 405. */
const ALLOWED_METHODS: Readonly<Record<Route['kind'], string>> = Object.freeze({
  base: 'GET, HEAD',
  uploads: 'POST',
  upload: 'GET, PATCH, PUT, DELETE',
  blob: 'GET, HEAD, DELETE',
  manifest: 'GET, HEAD, PUT, DELETE',
  tags: 'GET',
  referrers: 'GET',
});

/** One parsed API route. */
type Route =
  | { kind: 'base' }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string };

function fail(code: ConstructorParameters<typeof RegistryServerError>[0], message: string): never {
  throw new RegistryServerError(code, message);
}

function checkName(name: string): string {
  if (name.length > MAX_NAME_LENGTH || !NAME.test(name)) fail('NAME_INVALID', `invalid repository name "${printable(name, 80)}"`);
  return name;
}

function checkDigest(digest: string): string {
  try {
    parseDigest(digest);
  } catch {
    fail('DIGEST_INVALID', `invalid digest "${printable(digest, 80)}"`);
  }
  return digest;
}

/**
 * Parses the request path, undecoded: a name is checked against the grammar as sent, so
 * `%2e%2e`, `..`, absolute paths and NUL never reach the stores (they fail NAME_INVALID).
 */
export function parseRoute(pathname: string, method = 'GET'): Route {
  if (pathname === '/v2/' || pathname === '/v2') return { kind: 'base' };
  if (!pathname.startsWith('/v2/')) fail('NAME_UNKNOWN', 'not a registry API path');
  const rest = pathname.slice(4);
  let match: RegExpExecArray | null;
  if ((match = /^(.+)\/blobs\/uploads\/?$/.exec(rest))) return { kind: 'uploads', name: checkName(match[1] ?? '') };
  if ((match = /^(.+)\/blobs\/uploads\/([^/]+)$/.exec(rest))) {
    const id = match[2] ?? '';
    if (!isUploadId(id)) fail('BLOB_UPLOAD_UNKNOWN', `upload ${printable(id, 64)} is unknown`);
    return { kind: 'upload', name: checkName(match[1] ?? ''), id };
  }
  if ((match = /^(.+)\/blobs\/([^/]+)$/.exec(rest))) return { kind: 'blob', name: checkName(match[1] ?? ''), digest: checkDigest(match[2] ?? '') };
  if ((match = /^(.+)\/manifests\/([^/]+)$/.exec(rest))) {
    const reference = match[2] ?? '';
    if (!isTag(reference) && !isDigest(reference)) {
      // distribution-spec v1.1.1, Pulling manifests: what is not there is 404, even a reference no tag could be
      // (the conformance suite pulls ".INVALID_MANIFEST_NAME"); only a push is told its reference is invalid.
      if (method !== 'PUT') fail('MANIFEST_UNKNOWN', `manifest ${printable(reference, 80)} is unknown`);
      fail(reference.includes(':') ? 'DIGEST_INVALID' : 'MANIFEST_INVALID', `invalid tag or digest "${printable(reference, 80)}"`);
    }
    return { kind: 'manifest', name: checkName(match[1] ?? ''), reference };
  }
  if ((match = /^(.+)\/tags\/list$/.exec(rest))) return { kind: 'tags', name: checkName(match[1] ?? '') };
  if ((match = /^(.+)\/referrers\/([^/]+)$/.exec(rest))) return { kind: 'referrers', name: checkName(match[1] ?? ''), digest: checkDigest(match[2] ?? '') };
  fail('NAME_UNKNOWN', 'not a registry API path');
}

/** Layer media types whose content lives elsewhere (image-spec v1.1.0 layer.md, Docker foreign layers). */
function isNonDistributable(mediaType: string): boolean {
  return mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.') || mediaType === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
}

/** Reads a request body of at most `limit` bytes into memory (manifests). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw new RegistryServerError('SIZE_INVALID', `body of ${declared} bytes exceeds the ${limit}-byte limit`, { status: 413 });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > limit) throw new RegistryServerError('SIZE_INVALID', `body exceeds the ${limit}-byte limit`, { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** `start-end` of a Content-Range (distribution-spec v1.1.1 uses it without the `bytes ` unit; both are accepted). */
function parseContentRange(value: string): { start: number; end: number } | undefined {
  const match = /^(?:bytes )?(\d+)-(\d+)$/.exec(value.trim());
  if (match === null) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  return Number.isSafeInteger(start) && Number.isSafeInteger(end) && end >= start ? { start, end } : undefined;
}

/**
 * The embedded registry. `open` builds it over a data directory and a database; `listen` serves
 * it; `handle` is the request handler, usable on any node:http server. No request can crash
 * the process: every failure becomes a spec error answer.
 */
export class RegistryServer {
  readonly #blobs: FsBlobStore;
  readonly #meta: MetadataStore;
  readonly #readOnly: boolean;
  readonly #logger: ServerLogger | undefined;
  readonly #idleTimeoutMs: number;
  readonly #root: string;
  readonly #lock = new ContentLock();
  readonly #metrics: RegistryMetrics;
  readonly #auth: BasicAuthenticator | undefined;
  readonly #tokens: TokenAuthority | undefined;
  readonly #tls: RegistryServerOptions['tls'];
  #server: Server | undefined;

  private constructor(blobs: FsBlobStore, meta: MetadataStore, options: RegistryServerOptions) {
    this.#blobs = blobs;
    this.#meta = meta;
    this.#readOnly = options.readOnly ?? false;
    this.#logger = options.logger;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.#root = options.root;
    this.#metrics = new RegistryMetrics(async () => (await blobs.listUploads()).length);
    this.#auth = options.auth;
    this.#tokens = options.tokens;
    this.#tls = options.tls;
  }

  /** The data directory. */
  get root(): string {
    return this.#root;
  }

  /** Runs one garbage collection (safe while serving; see gc.ts). */
  async collectGarbage(options: GarbageCollectionOptions = {}): Promise<GarbageCollectionReport> {
    return collectGarbage(this.#blobs, this.#meta, this.#lock, options);
  }

  /**
   * Opens the stores (creating the schema and directories) and removes temp files a crash left
   * behind. Refuses a data directory another live `sigil registry serve` is using: the embedded
   * database must have one process.
   */
  static async open(options: RegistryServerOptions): Promise<RegistryServer> {
    const other = options.exclusive === false ? undefined : await liveServerAt(options.root);
    if (other !== undefined) throw new RegistryServerError('DENIED', `${options.root} is served by another sigil registry (pid ${other.pid}, ${other.host}:${other.port})`);
    const blobs = await FsBlobStore.open(options.root);
    await blobs.removeTemporaryFiles();
    // The embedded database has this process as its only writer, so reads can be answered from memory until the next write.
    const meta = await MetadataStore.open(options.database, { cacheReads: options.exclusive !== false });
    return new RegistryServer(blobs, meta, options);
  }

  /** Starts serving on `host:port` (port 0 picks a free one); resolves with the address. */
  async listen(port: number, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
    // Node checks headersTimeout only every connectionsCheckingInterval (30 s by default), which would let a
    // slow-loris client that trickles header bytes live far longer than the idle timeout.
    const settings = { requestTimeout: 0, headersTimeout: Math.min(30_000, this.#idleTimeoutMs), connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(this.#idleTimeoutMs / 2))) };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const server: Server = this.#tls === undefined ? createServer(settings, onRequest) : createTlsServer({ ...settings, cert: this.#tls.cert, key: this.#tls.key }, onRequest);
    server.setTimeout(this.#idleTimeoutMs, (socket) => socket.destroy());
    server.keepAliveTimeout = 5_000;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    await writeFile(join(this.#root, SERVER_FILE), JSON.stringify({ pid: process.pid, host: address.address, port: address.port, tls: this.#tls !== undefined }));
    return { host: address.address, port: address.port };
  }

  /** Stops accepting connections, lets in-flight requests finish, then closes the database. */
  async close(): Promise<void> {
    const server = this.#server;
    if (server !== undefined) {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(join(this.#root, SERVER_FILE), { force: true });
    }
    await this.#meta.close();
  }

  /** Handles one request; never throws. Every exchange is counted in /metrics and logged at info. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let routeKind = 'unknown';
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.#metrics.observe(req, res, routeKind, seconds);
      this.#logger?.info({ method: req.method, route: routeKind, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
    });
    res.setHeader('docker-distribution-api-version', 'registry/2.0');
    try {
      const url = new URL(req.url ?? '/', 'http://registry');
      const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
      if (rawPath.includes('\0')) fail('NAME_INVALID', 'NUL in path');
      if (rawPath === GC_PATH) {
        routeKind = 'gc';
        return await this.#gcRequest(req, res, url);
      }
      if (rawPath === TOKEN_PATH && this.#tokens !== undefined) {
        routeKind = 'token';
        return await this.#issueToken(req, res, url);
      }
      // Everything else, /v2/ and /metrics included, needs credentials when an htpasswd is configured.
      if (this.#tokens === undefined && this.#auth !== undefined) await this.#auth.authenticate(req.headers.authorization);
      if (this.#tokens !== undefined && rawPath === METRICS_PATH) this.#tokens.verify(req.headers.authorization);
      if (rawPath === METRICS_PATH) {
        routeKind = 'metrics';
        if (req.method !== 'GET') fail('UNSUPPORTED', 'metrics are GET');
        return this.#send(req, res, 200, { 'content-type': this.#metrics.registry.contentType }, await this.#metrics.registry.metrics());
      }
      const route = parseRoute(rawPath, req.method);
      routeKind = route.kind;
      const claims = this.#tokens === undefined ? undefined : this.#authorize(route, req);
      await this.#dispatch(route, req, res, url, claims);
    } catch (err) {
      this.#answerError(req, res, err);
    }
  }

  /** The action a route needs in a token (Docker token authentication: pull, push, delete). */
  #actionOf(route: Route, method: string): string | undefined {
    if (route.kind === 'base') return undefined;
    if (method === 'DELETE' && (route.kind === 'blob' || route.kind === 'manifest')) return 'delete';
    if (route.kind === 'uploads' || route.kind === 'upload' || method === 'PUT' || method === 'PATCH' || method === 'POST') return 'push';
    return 'pull';
  }

  /** Checks the Bearer token for a route; a missing, bad or too narrow token is a 401 whose challenge names the scope. */
  #authorize(route: Route, req: IncomingMessage): TokenClaims {
    const tokens = this.#tokens as TokenAuthority;
    const action = this.#actionOf(route, req.method ?? 'GET');
    const scope = action === undefined || route.kind === 'base' ? undefined : `repository:${route.name}:${action === 'push' ? 'pull,push' : action}`;
    const realm = `${this.#tls === undefined ? 'http' : 'https'}://${req.headers.host ?? 'localhost'}${TOKEN_PATH}`;
    const challenge = tokens.challenge(realm, scope);
    try {
      const claims = tokens.verify(req.headers.authorization);
      if (action !== undefined && route.kind !== 'base' && !grants(claims, route.name, action)) {
        throw new RegistryServerError('UNAUTHORIZED', `the token does not grant ${action} on ${route.name}`);
      }
      return claims;
    } catch (err) {
      if (err instanceof RegistryServerError && err.code === 'UNAUTHORIZED') throw new RegistryServerError('UNAUTHORIZED', err.message, { challenge });
      throw err;
    }
  }

  /** GET /token: the registry's own token service (Docker token authentication specification, "Requesting a Token"). */
  async #issueToken(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET') fail('UNSUPPORTED', 'tokens are issued on GET');
    const tokens = this.#tokens as TokenAuthority;
    const service = url.searchParams.get('service');
    if (service !== null && service !== tokens.service) fail('DENIED', `tokens are issued for service "${tokens.service}" only`);
    try {
      const issued = await tokens.issue(req.headers.authorization, url.searchParams.getAll('scope'));
      return this.#send(req, res, 200, { 'content-type': 'application/json' }, JSON.stringify({ token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt }));
    } catch (err) {
      if (err instanceof RegistryServerError && err.code === 'UNAUTHORIZED') throw new RegistryServerError('UNAUTHORIZED', 'wrong username or password', { challenge: 'Basic realm="sigil-registry"' });
      throw err;
    }
  }

  /** POST /_sigil/gc from loopback: how `sigil registry gc` reaches a running server (the database has one process). */
  async #gcRequest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const remote = req.socket.remoteAddress ?? '';
    if (req.method !== 'POST') fail('UNSUPPORTED', 'gc is POST');
    if (remote !== '127.0.0.1' && remote !== '::1' && remote !== '::ffff:127.0.0.1') fail('DENIED', 'gc is only accepted from loopback');
    this.#requireWritable();
    const number = (key: string) => {
      const value = url.searchParams.get(key);
      return value === null ? undefined : Number(value);
    };
    const graceMs = number('graceMs');
    const uploadTtlMs = number('uploadTtlMs');
    const report = await this.collectGarbage({
      ...(graceMs === undefined || Number.isNaN(graceMs) ? {} : { graceMs }),
      ...(uploadTtlMs === undefined || Number.isNaN(uploadTtlMs) ? {} : { uploadTtlMs }),
      dryRun: url.searchParams.get('dryRun') === 'true',
    });
    req.resume();
    return this.#send(req, res, 200, { 'content-type': 'application/json' }, JSON.stringify(report));
  }

  #answerError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    let error: RegistryServerError;
    if (err instanceof RegistryServerError) error = err;
    else if (err instanceof OciError && (err.code === 'MANIFEST_INVALID' || err.code === 'MEDIA_TYPE_UNSUPPORTED' || err.code === 'DESCRIPTOR_INVALID')) error = new RegistryServerError('MANIFEST_INVALID', err.message);
    else if (err instanceof OciError && err.code === 'DIGEST_INVALID') error = new RegistryServerError('DIGEST_INVALID', err.message);
    else {
      this.#logger?.error({ method: req.method, url: req.url, error: err instanceof Error ? err.stack : String(err) }, 'request failed');
      error = new RegistryServerError('INTERNAL', 'internal error');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = errorBody(error);
    if (error.allow !== undefined) res.setHeader('allow', error.allow);
    if (error.code === 'UNAUTHORIZED') {
      const challenge = error.challenge ?? this.#auth?.challenge;
      if (challenge !== undefined) res.setHeader('www-authenticate', challenge);
    }
    res.writeHead(error.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    // An unread request body (a refused upload) would otherwise be parsed as the next request.
    if (!req.complete) req.resume();
  }

  #requireWritable(): void {
    if (this.#readOnly) throw new RegistryServerError('UNSUPPORTED', 'the registry is read-only');
  }

  async #dispatch(route: Route, req: IncomingMessage, res: ServerResponse, url: URL, claims: TokenClaims | undefined): Promise<void> {
    const method = req.method ?? 'GET';
    // RFC 9110 §15.5.6: a 405 names the methods the resource allows.
    const unsupported = () => {
      throw new RegistryServerError('UNSUPPORTED', `${method} is not supported here`, { allow: ALLOWED_METHODS[route.kind] });
    };
    switch (route.kind) {
      case 'base':
        if (method !== 'GET' && method !== 'HEAD') unsupported();
        return this.#send(req, res, 200, { 'content-type': 'application/json' }, '{}');
      case 'uploads':
        if (method !== 'POST') unsupported();
        this.#requireWritable();
        return this.#startUpload(route.name, req, res, url, claims);
      case 'upload':
        return this.#upload(route.name, route.id, method, req, res, url);
      case 'blob':
        if (method === 'GET' || method === 'HEAD') return this.#getBlob(route.name, route.digest, req, res);
        if (method === 'DELETE') {
          this.#requireWritable();
          if (!(await this.#meta.unlinkBlob(route.name, route.digest))) fail('BLOB_UNKNOWN', `blob ${route.digest} is unknown`);
          return this.#send(req, res, 202, {});
        }
        return unsupported();
      case 'manifest':
        if (method === 'GET' || method === 'HEAD') return this.#getManifest(route.name, route.reference, req, res);
        if (method === 'PUT') {
          this.#requireWritable();
          return this.#putManifest(route.name, route.reference, req, res);
        }
        if (method === 'DELETE') {
          this.#requireWritable();
          const deleted = isDigest(route.reference) ? await this.#meta.deleteManifest(route.name, route.reference) : await this.#meta.deleteTag(route.name, route.reference);
          if (!deleted) fail('MANIFEST_UNKNOWN', `manifest ${route.reference} is unknown`);
          return this.#send(req, res, 202, {});
        }
        return unsupported();
      case 'tags':
        if (method !== 'GET') unsupported();
        return this.#listTags(route.name, req, res, url);
      case 'referrers':
        if (method !== 'GET') unsupported();
        return this.#listReferrers(route.name, route.digest, req, res, url);
    }
  }

  #send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string | number>, body?: string | Buffer): void {
    const bytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-length': bytes?.byteLength ?? 0, ...headers });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }

  // ---- blobs ----

  async #getBlob(name: string, digest: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const size = await this.#meta.blobSize(name, digest);
    if (size === undefined) fail('BLOB_UNKNOWN', `blob ${digest} is unknown`);
    const headers = { 'content-type': 'application/octet-stream', 'docker-content-digest': digest, 'accept-ranges': 'bytes', etag: `"${digest}"` };
    if (req.method === 'HEAD') return this.#send(req, res, 200, { ...headers, 'content-length': size });
    let range: { start: number; end: number } | undefined;
    const rangeHeader = req.headers.range;
    if (rangeHeader !== undefined) {
      const match = /^bytes=(\d*)-(\d*)$/.exec(rangeHeader.trim());
      const start = match?.[1] === '' ? size - Number(match?.[2] ?? 0) : Number(match?.[1]);
      const end = match?.[1] !== '' && match?.[2] !== '' && match?.[2] !== undefined ? Math.min(Number(match[2]), size - 1) : size - 1;
      if (match === null || !Number.isSafeInteger(start) || start < 0 || start > end || start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': 0 });
        res.end();
        return;
      }
      range = { start, end };
    }
    if (size <= CACHED_BLOB_MAX_BYTES) {
      // Small blobs (configs, signatures) come from memory after their first read.
      const bytes = await this.#blobs.readAll(digest);
      if (bytes === undefined) fail('BLOB_UNKNOWN', `blob ${digest} is unknown`);
      if (range === undefined) return this.#send(req, res, 200, headers, bytes);
      return this.#send(req, res, 206, { ...headers, 'content-range': `bytes ${range.start}-${range.end}/${size}` }, bytes.subarray(range.start, range.end + 1));
    }
    const file = await this.#blobs.openBlob(digest);
    if (file === undefined) fail('BLOB_UNKNOWN', `blob ${digest} is unknown`);
    try {
      if (range === undefined) res.writeHead(200, { ...headers, 'content-length': size });
      else res.writeHead(206, { ...headers, 'content-length': range.end - range.start + 1, 'content-range': `bytes ${range.start}-${range.end}/${size}` });
      await sendFileRange(file, range?.start ?? 0, range?.end ?? size - 1, res);
    } finally {
      await file.close();
    }
  }

  async #startUpload(name: string, req: IncomingMessage, res: ServerResponse, url: URL, claims: TokenClaims | undefined): Promise<void> {
    const mount = url.searchParams.get('mount');
    const from = url.searchParams.get('from');
    // With tokens, a mount needs pull on the source repository too; without it the client just uploads.
    const mayMount = claims === undefined || (from !== null && grants(claims, from, 'pull'));
    if (mount !== null && mayMount) {
      checkDigest(mount);
      // distribution-spec v1.1.1, Mounting a blob: with `from`, mount from that repository; without, the registry may mount from anywhere.
      const source = from === null ? await this.#meta.blobKnownAnywhere(mount) : await this.#meta.blobSize(checkName(from), mount).then((size) => (size === undefined ? undefined : { size }));
      const mounted = source !== undefined && (await this.#lock.shared(async () => {
        if ((await this.#blobs.size(mount)) !== source.size) return false;
        await this.#meta.linkBlob(name, mount, source.size);
        return true;
      }));
      if (mounted) {
        return this.#send(req, res, 201, { location: `/v2/${name}/blobs/${mount}`, 'docker-content-digest': mount });
      }
    }
    const digest = url.searchParams.get('digest');
    if (digest !== null) {
      // distribution-spec v1.1.1, Pushing a blob monolithically: POST with ?digest= carries the whole blob.
      checkDigest(digest);
      await this.#lock.shared(async () => {
        const stored = await this.#blobs.write(req, { digest });
        await this.#meta.linkBlob(name, stored.digest, stored.size);
      });
      return this.#send(req, res, 201, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
    }
    const id = await this.#blobs.startUpload(name);
    req.resume();
    return this.#send(req, res, 202, { location: `/v2/${name}/blobs/uploads/${id}`, range: '0-0', 'docker-upload-uuid': id });
  }

  async #upload(name: string, id: string, method: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const location = `/v2/${name}/blobs/uploads/${id}`;
    const rangeOf = (size: number) => (size === 0 ? '0-0' : `0-${size - 1}`);
    switch (method) {
      case 'GET': {
        const size = await this.#blobs.uploadSize(name, id);
        return this.#send(req, res, 204, { location, range: rangeOf(size), 'docker-upload-uuid': id });
      }
      case 'PATCH': {
        this.#requireWritable();
        const size = await this.#append(name, id, req);
        return this.#send(req, res, 202, { location, range: rangeOf(size), 'docker-upload-uuid': id });
      }
      case 'PUT': {
        this.#requireWritable();
        const digest = url.searchParams.get('digest');
        if (digest === null) fail('DIGEST_INVALID', 'closing an upload needs ?digest=');
        checkDigest(digest);
        const length = req.headers['content-length'];
        // A body sent with Transfer-Encoding: chunked has no Content-Length but is a body all the same (RFC 9112 §6.1).
        if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) await this.#append(name, id, req);
        else req.resume();
        // finishUpload answers BLOB_UPLOAD_UNKNOWN for a session of another repository.
        await this.#lock.shared(async () => {
          const stored = await this.#blobs.finishUpload(name, id, digest);
          await this.#meta.linkBlob(name, stored.digest, stored.size);
        });
        return this.#send(req, res, 201, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
      }
      case 'DELETE':
        this.#requireWritable();
        await this.#blobs.uploadSize(name, id);
        await this.#blobs.cancelUpload(name, id);
        req.resume();
        return this.#send(req, res, 204, {});
      default:
        throw new RegistryServerError('UNSUPPORTED', `${method} is not supported on uploads`, { allow: ALLOWED_METHODS.upload });
    }
  }

  /** Appends a request body to an upload, honouring Content-Range (416 when out of order or inconsistent). */
  async #append(name: string, id: string, req: IncomingMessage): Promise<number> {
    const current = await this.#blobs.uploadSize(name, id);
    const header = req.headers['content-range'];
    let offset = current;
    if (header !== undefined) {
      const range = parseContentRange(header);
      const length = req.headers['content-length'];
      if (range === undefined || (length !== undefined && Number(length) !== range.end - range.start + 1)) {
        throw new RegistryServerError('RANGE_INVALID', `invalid Content-Range "${printable(header, 40)}"`);
      }
      offset = range.start;
    }
    return this.#blobs.appendUpload(name, id, offset, req);
  }

  // ---- manifests ----

  async #resolve(name: string, reference: string): Promise<ManifestRecord> {
    const record = isDigest(reference) ? await this.#meta.manifest(name, reference) : await this.#meta.manifestByTag(name, reference);
    if (record === undefined) fail('MANIFEST_UNKNOWN', `manifest ${reference} is unknown`);
    return record;
  }

  async #getManifest(name: string, reference: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record = await this.#resolve(name, reference);
    const headers = { 'content-type': record.mediaType, 'docker-content-digest': record.digest, etag: `"${record.digest}"` };
    if (req.method === 'HEAD') return this.#send(req, res, 200, { ...headers, 'content-length': record.size });
    const bytes = await this.#blobs.readAll(record.digest);
    if (bytes === undefined) fail('MANIFEST_UNKNOWN', `manifest ${reference} is unknown`);
    return this.#send(req, res, 200, headers, bytes);
  }

  async #putManifest(name: string, reference: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const mediaType = mediaTypeOfContentType(req.headers['content-type']);
    if (mediaType === undefined || !isManifestMediaType(mediaType)) {
      req.resume();
      fail('MANIFEST_INVALID', `unsupported manifest media type "${printable(mediaType ?? '', 80)}"`);
    }
    const bytes = await readBody(req, MAX_MANIFEST_BYTES);
    const manifest: Manifest = decodeManifest(bytes, mediaType, 'manifest');
    const byDigest = isDigest(reference);
    // distribution-spec v1.1.1, Pushing Manifests: everything it points at must be in the repository, except the subject.
    // Non-distributable layers (image-spec v1.1 deprecated them, Docker's "foreign" layers) are never pushed; the conformance suite expects 201.
    const children = successorsOf(manifest).filter((d) => !isNonDistributable(d.mediaType)).map((d) => d.digest);
    const artifactType = artifactTypeOf(manifest);
    const stored = await this.#lock.shared(async () => {
      const missing = await this.#meta.missing(name, children);
      if (missing.length > 0) fail('MANIFEST_BLOB_UNKNOWN', `manifest references ${missing[0] ?? ''}, which the repository does not have`);
      const written = await this.#blobs.write(streamOf(bytes), byDigest ? { digest: reference } : {});
      await this.#meta.putManifest({
        repository: name,
        digest: written.digest,
        mediaType,
        size: written.size,
        ...(manifest.subject === undefined ? {} : { subject: manifest.subject.digest }),
        ...(artifactType === undefined ? {} : { artifactType }),
        ...(manifest.annotations === undefined ? {} : { annotations: manifest.annotations }),
        children,
        ...(byDigest ? {} : { tag: reference }),
      });
      return written;
    });
    return this.#send(req, res, 201, {
      location: `/v2/${name}/manifests/${stored.digest}`,
      'docker-content-digest': stored.digest,
      ...(manifest.subject === undefined ? {} : { 'oci-subject': manifest.subject.digest }),
    });
  }

  // ---- content discovery ----

  async #listTags(name: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const n = url.searchParams.get('n');
    const last = url.searchParams.get('last') ?? undefined;
    if (n !== null && (!/^\d+$/.test(n) || Number(n) > MAX_TAG_PAGE)) fail('UNSUPPORTED', `invalid page size n=${printable(n, 20)}`);
    const limit = n === null ? DEFAULT_TAG_PAGE : Number(n);
    if (!(await this.#meta.repositoryExists(name))) fail('NAME_UNKNOWN', `repository ${name} is unknown`);
    const page = limit === 0 ? { tags: [], more: false } : await this.#meta.tags(name, { ...(last === undefined ? {} : { last }), limit });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const lastTag = page.tags.at(-1);
    if (page.more && lastTag !== undefined) headers.link = `</v2/${name}/tags/list?n=${limit}&last=${encodeURIComponent(lastTag)}>; rel="next"`;
    return this.#send(req, res, 200, headers, JSON.stringify({ name, tags: page.tags }));
  }

  async #listReferrers(name: string, digest: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const artifactType = url.searchParams.get('artifactType') ?? undefined;
    const records = await this.#meta.referrers(name, digest, artifactType);
    const manifests = records.map((r) => ({
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.size,
      ...(r.artifactType === undefined ? {} : { artifactType: r.artifactType }),
      ...(r.annotations === undefined ? {} : { annotations: r.annotations }),
    }));
    const headers: Record<string, string> = { 'content-type': MEDIA_TYPE_IMAGE_INDEX };
    if (artifactType !== undefined) headers['oci-filters-applied'] = 'artifactType';
    return this.#send(req, res, 200, headers, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests }));
  }
}
