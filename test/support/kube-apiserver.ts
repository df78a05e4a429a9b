// A fake kube-apiserver for the kube client and the admission server's cluster source: just enough
// of the API on loopback HTTPS — list with pagination, watch streams with bookmarks, 410 Gone, Status errors, bearer and client-cert auth.

import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createCertificate, EKU_CLIENT_AUTH, EKU_SERVER_AUTH, encodeCertificatesPem, type Certificate } from '../../src/pki/index.js';

type Json = Record<string, unknown>;

/** A CA and the certificates it issued, PEM. */
export interface TestPki {
  readonly caPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
}

function pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A P-256 CA, a serving certificate for 127.0.0.1/localhost, and a client certificate (CN=sigil-test, O=system:masters). */
export function createTestPki(now = new Date()): TestPki {
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + 24 * 3600_000);
  const caKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ca: Certificate = createCertificate({
    subject: 'CN=fake-kube-ca',
    publicKey: caKey.publicKey,
    signingKey: caKey.privateKey,
    notBefore,
    notAfter,
    basicConstraints: { cA: true },
    keyUsage: { usages: ['keyCertSign', 'cRLSign'] },
  });
  const issue = (subject: string, eku: string, names?: { dns: string[]; ip: string[] }) => {
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const cert = createCertificate({
      subject,
      publicKey: key.publicKey,
      issuer: { certificate: ca, privateKey: caKey.privateKey },
      notBefore,
      notAfter,
      keyUsage: { usages: ['digitalSignature'] },
      extKeyUsage: { oids: [eku] },
      ...(names === undefined ? {} : { subjectAltNames: names }),
    });
    return { cert: encodeCertificatesPem([cert]), key: pem(key.privateKey) };
  };
  const server = issue('CN=kube-apiserver', EKU_SERVER_AUTH, { dns: ['localhost', 'kubernetes.default.svc'], ip: ['127.0.0.1'] });
  const client = issue('O=system:masters, CN=sigil-test', EKU_CLIENT_AUTH);
  return { caPem: encodeCertificatesPem([ca]), serverCertPem: server.cert, serverKeyPem: server.key, clientCertPem: client.cert, clientKeyPem: client.key };
}

interface Target {
  /** `GROUP/VERSION/PLURAL` (`/v1/namespaces` for core). */
  readonly collection: string;
  readonly apiVersion: string;
  readonly namespace?: string;
  readonly name?: string;
}

interface StoredEvent {
  readonly rv: number;
  readonly collection: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Json;
}

interface Watcher {
  readonly collection: string;
  readonly namespace?: string;
  readonly response: ServerResponse;
  readonly bookmarks: boolean;
}

/** One request as the fake saw it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization?: string;
  readonly clientCertificate: boolean;
}

/** An injected failure: the next `times` requests matching answer `status` with a Status body. */
interface Failure {
  readonly match: (request: RecordedRequest) => boolean;
  readonly status: number;
  readonly reason: string;
  times: number;
}

/** Parses `/api/v1/...` and `/apis/G/V/...` into the collection, namespace and name. */
function parseTarget(path: string): Target | undefined {
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let rest: string[];
  let apiVersion: string;
  if (parts[0] === 'api' && parts[1] !== undefined) {
    apiVersion = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts[1] !== undefined && parts[2] !== undefined) {
    apiVersion = `${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  } else return undefined;
  const group = apiVersion.includes('/') ? apiVersion : `/${apiVersion}`;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    return { collection: `${group}/${rest[2]}`, apiVersion, namespace: rest[1], ...(rest[3] === undefined ? {} : { name: rest[3] }) };
  }
  if (rest[0] === undefined) return undefined;
  return { collection: `${group}/${rest[0]}`, apiVersion, ...(rest[1] === undefined ? {} : { name: rest[1] }) };
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined ? name : `${namespace}/${name}`;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Json = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function matchesLabels(object: Json, selector: string | null): boolean {
  if (selector === null || selector === '') return true;
  const labels = ((object.metadata as Json | undefined)?.labels ?? {}) as Record<string, string>;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k !== undefined && labels[k] === v;
  });
}

/** Options of FakeKubeApiServer.start. */
export interface FakeKubeApiServerOptions {
  /** Bearer tokens accepted (mutable through `tokens`); none set and no client CA means no authentication. */
  readonly tokens?: readonly string[];
  /** Accept client certificates this CA issued. */
  readonly clientCa?: string;
  readonly pki?: TestPki;
}

/** The fake API server. Objects are JSON; resourceVersions are one global counter, as etcd's revision. */
export class FakeKubeApiServer {
  readonly pki: TestPki;
  readonly url: string;
  /** Accepted bearer tokens; tests add and remove them to rotate. */
  readonly tokens: Set<string>;
  readonly requests: RecordedRequest[] = [];
  /** Collections (`GROUP/VERSION/PLURAL`) answering 404, as when a CRD is not installed. */
  readonly missingCollections = new Set<string>();
  /** Collections discovery lists even before they hold an object. */
  readonly servedCollections = new Set<string>();
  readonly #server: Server;
  readonly #clientCa: boolean;
  readonly #objects = new Map<string, Map<string, Json>>();
  readonly #events: StoredEvent[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #failures: Failure[] = [];
  readonly #stalls: ((request: RecordedRequest) => boolean)[] = [];
  #watchesOpened = 0;
  #rv = 100;
  #compactedRv = 0;

  private constructor(server: Server, pki: TestPki, options: FakeKubeApiServerOptions) {
    this.#server = server;
    this.pki = pki;
    this.tokens = new Set(options.tokens ?? []);
    this.#clientCa = options.clientCa !== undefined;
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Starts a fake on 127.0.0.1 with a fresh PKI (or the given one). */
  static async start(options: FakeKubeApiServerOptions = {}): Promise<FakeKubeApiServer> {
    const pki = options.pki ?? createTestPki();
    const server = createServer({
      cert: pki.serverCertPem,
      key: pki.serverKeyPem,
      ...(options.clientCa === undefined ? {} : { ca: options.clientCa, requestCert: true, rejectUnauthorized: false }),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeKubeApiServer(server, pki, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      fake.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) fake.#status(res, 500, 'InternalError', String(error));
        else res.destroy();
      });
    });
    return fake;
  }

  /** The current resourceVersion. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Creates or replaces an object in `collectionPath` (`/api/v1/namespaces`, `/apis/g/v/namespaces/ns/plural`), as a watch would see it. */
  put(collectionPath: string, object: Json): Json {
    const target = parseTarget(collectionPath);
    if (target === undefined) throw new Error(`bad path ${collectionPath}`);
    const metadata = (object.metadata ?? {}) as Json;
    const name = String(metadata.name);
    const namespace = target.namespace ?? (typeof metadata.namespace === 'string' ? metadata.namespace : undefined);
    const existing = this.#collection(target.collection).get(keyOf(namespace, name));
    return this.#store(target.collection, namespace, object, existing === undefined ? 'ADDED' : 'MODIFIED', existing);
  }

  /** Deletes an object, as a watch would see it. */
  remove(collectionPath: string, name: string, namespace?: string): void {
    const target = parseTarget(collectionPath);
    if (target === undefined) throw new Error(`bad path ${collectionPath}`);
    const ns = target.namespace ?? namespace;
    const objects = this.#collection(target.collection);
    const existing = objects.get(keyOf(ns, name));
    if (existing === undefined) return;
    objects.delete(keyOf(ns, name));
    this.#record(target.collection, 'DELETED', { ...existing, metadata: { ...(existing.metadata as Json), resourceVersion: String(++this.#rv) } });
  }

  /** One object as stored. */
  object(collectionPath: string, name: string, namespace?: string): Json | undefined {
    const target = parseTarget(collectionPath);
    return target === undefined ? undefined : this.#collection(target.collection).get(keyOf(target.namespace ?? namespace, name));
  }

  /** Forgets history up to now: a watch or continue token from an older resourceVersion gets 410 Expired. */
  compact(): void {
    this.#compactedRv = this.#rv;
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that asked for bookmarks. */
  bookmark(): void {
    for (const w of this.#watchers) {
      if (w.bookmarks) w.response.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Bookmark', metadata: { resourceVersion: String(this.#rv) } } })}\n`);
    }
  }

  /** Sends an ERROR event with code 410 to every open watch and ends it, as the watch cache does when it falls behind. */
  expireWatches(): void {
    for (const w of this.#watchers) {
      w.response.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 } })}\n`);
    }
    this.#watchers.clear();
  }

  /** Destroys every open watch connection mid-stream. */
  dropWatches(): void {
    for (const w of this.#watchers) w.response.socket?.destroy();
    this.#watchers.clear();
  }

  /** Forgets every injected failure and stall. */
  clearFailures(): void {
    this.#failures.length = 0;
    this.#stalls.length = 0;
  }

  /** The next request for which `match` holds gets no answer at all (until close). */
  stallNext(match: (request: RecordedRequest) => boolean): void {
    this.#stalls.push(match);
  }

  /** Watch streams opened so far. */
  get watchesOpened(): number {
    return this.#watchesOpened;
  }

  /** Open watch streams. */
  get watchCount(): number {
    return this.#watchers.size;
  }

  /** The next `times` requests for which `match` holds answer `status` with a Status of `reason`. */
  failNext(match: (request: RecordedRequest) => boolean, status: number, reason: string, times = 1): void {
    this.#failures.push({ match, status, reason, times });
  }

  async close(): Promise<void> {
    for (const w of this.#watchers) w.response.socket?.destroy();
    this.#watchers.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #collection(collection: string): Map<string, Json> {
    let objects = this.#objects.get(collection);
    if (objects === undefined) this.#objects.set(collection, (objects = new Map<string, Json>()));
    return objects;
  }

  #store(collection: string, namespace: string | undefined, object: Json, type: 'ADDED' | 'MODIFIED', existing: Json | undefined): Json {
    const metadata = { ...((object.metadata ?? {}) as Json) };
    const existingMeta = (existing?.metadata ?? {}) as Json;
    metadata.resourceVersion = String(++this.#rv);
    metadata.uid = existingMeta.uid ?? randomUUID();
    metadata.creationTimestamp = existingMeta.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (namespace !== undefined) metadata.namespace = namespace;
    const stored = { ...object, metadata };
    this.#collection(collection).set(keyOf(namespace, String(metadata.name)), stored);
    this.#record(collection, type, stored);
    return stored;
  }

  #record(collection: string, type: StoredEvent['type'], object: Json): void {
    const event = { rv: this.#rv, collection, type, object };
    this.#events.push(event);
    const namespace = (object.metadata as Json).namespace;
    for (const w of this.#watchers) {
      if (w.collection === collection && (w.namespace === undefined || w.namespace === namespace)) w.response.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  #status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://fake');
    const socket = req.socket as TLSSocket;
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }),
      clientCertificate: this.#clientCa && socket.authorized,
    };
    this.requests.push(recorded);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const bodyText = Buffer.concat(chunks).toString('utf8');

    const bearer = recorded.authorization?.startsWith('Bearer ') ? recorded.authorization.slice('Bearer '.length) : undefined;
    const needsAuth = this.tokens.size > 0 || this.#clientCa;
    if (needsAuth && !(bearer !== undefined && this.tokens.has(bearer)) && !recorded.clientCertificate) {
      return this.#status(res, 401, 'Unauthorized', 'Unauthorized');
    }
    const stall = this.#stalls.findIndex((m) => m(recorded));
    if (stall >= 0) {
      this.#stalls.splice(stall, 1);
      return;
    }
    const failure = this.#failures.find((f) => f.times > 0 && f.match(recorded));
    if (failure !== undefined) {
      failure.times--;
      return this.#status(res, failure.status, failure.reason, `injected ${failure.status}`);
    }
    const discovery = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))\/?$/.exec(url.pathname);
    if (discovery !== null && recorded.method === 'GET') {
      // Discovery: the resources of a group version, as far as this fake knows them.
      const groupVersion = discovery[1] ?? discovery[2] ?? '';
      const prefix = groupVersion.includes('/') ? `${groupVersion}/` : `/${groupVersion}/`;
      const names = [...this.#objects.keys(), ...this.servedCollections].filter((c) => c.startsWith(prefix) && !this.missingCollections.has(c)).map((c) => c.slice(prefix.length));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: [...new Set(names)].map((name) => ({ name })) }));
      return;
    }
    const target = parseTarget(url.pathname);
    if (target === undefined || this.missingCollections.has(target.collection)) {
      return this.#status(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    const objects = this.#collection(target.collection);
    const kindOf = (plural: string) => plural;
    const method = recorded.method;
    if (method === 'GET' && target.name === undefined && url.searchParams.get('watch') === 'true') return this.#watch(target, url.searchParams, res);
    if (method === 'GET' && target.name === undefined) return this.#list(target, url.searchParams, res);
    const send = (code: number, object: Json) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(object));
    };
    const resource = target.collection.split('/').pop() ?? '';
    if (method === 'POST' && target.name === undefined) {
      const object = JSON.parse(bodyText) as Json;
      const name = String((object.metadata as Json | undefined)?.name);
      if (objects.has(keyOf(target.namespace, name))) return this.#status(res, 409, 'AlreadyExists', `${kindOf(resource)} "${name}" already exists`);
      return send(201, this.#store(target.collection, target.namespace, object, 'ADDED', undefined));
    }
    if (target.name === undefined) return this.#status(res, 405, 'MethodNotAllowed', 'method not allowed');
    const key = keyOf(target.namespace, target.name);
    const existing = objects.get(key);
    if (existing === undefined) return this.#status(res, 404, 'NotFound', `${resource} "${target.name}" not found`);
    switch (method) {
      case 'GET':
        return send(200, existing);
      case 'PUT': {
        const object = JSON.parse(bodyText) as Json;
        const sent = (object.metadata as Json | undefined)?.resourceVersion;
        if (sent !== undefined && sent !== (existing.metadata as Json).resourceVersion) {
          return this.#status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${target.name}": the object has been modified; please apply your changes to the latest version and try again`);
        }
        return send(200, this.#store(target.collection, target.namespace, object, 'MODIFIED', existing));
      }
      case 'PATCH': {
        if (req.headers['content-type'] !== 'application/merge-patch+json') return this.#status(res, 415, 'UnsupportedMediaType', 'only merge patches');
        return send(200, this.#store(target.collection, target.namespace, mergePatch(existing, JSON.parse(bodyText)) as Json, 'MODIFIED', existing));
      }
      case 'DELETE':
        this.remove(url.pathname.slice(0, url.pathname.lastIndexOf('/')), target.name, target.namespace);
        return send(200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      default:
        return this.#status(res, 405, 'MethodNotAllowed', 'method not allowed');
    }
  }

  #selected(target: Target, query: URLSearchParams): Json[] {
    return [...this.#collection(target.collection).entries()]
      .filter(([, o]) => target.namespace === undefined || (o.metadata as Json).namespace === target.namespace)
      .filter(([, o]) => matchesLabels(o, query.get('labelSelector')))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
  }

  #list(target: Target, query: URLSearchParams, res: ServerResponse): void {
    const all = this.#selected(target, query);
    const limit = Number(query.get('limit') ?? '0');
    let offset = 0;
    let rv = this.#rv;
    const token = query.get('continue');
    if (token !== null) {
      const decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { rv: number; offset: number };
      if (decoded.rv < this.#compactedRv) return this.#status(res, 410, 'Expired', 'The provided continue parameter is too old');
      offset = decoded.offset;
      rv = decoded.rv;
    }
    const page = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
    const next = limit > 0 && offset + limit < all.length ? Buffer.from(JSON.stringify({ rv, offset: offset + limit })).toString('base64') : undefined;
    const plural = target.collection.split('/').pop() ?? '';
    const kind = plural === 'namespaces' ? 'NamespaceList' : plural === 'secrets' ? 'SecretList' : 'List';
    res.writeHead(200, { 'content-type': 'application/json' });
    // Items go out without apiVersion and kind, as the real API server sends them in a typed list.
    const items = page.map((o) => {
      const { apiVersion: _a, kind: _k, ...rest } = o;
      return kind === 'List' ? o : rest;
    });
    res.end(JSON.stringify({ kind, apiVersion: target.apiVersion, metadata: { resourceVersion: String(rv), ...(next === undefined ? {} : { continue: next }) }, items }));
  }

  #watch(target: Target, query: URLSearchParams, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const sent = query.get('resourceVersion');
    const from = sent === null || sent === '' ? undefined : Number(sent);
    if (from !== undefined && from < this.#compactedRv) {
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `too old resource version: ${from} (${this.#compactedRv})`, reason: 'Expired', code: 410 } })}\n`);
      return;
    }
    if (from === undefined) {
      for (const object of this.#selected(target, query)) res.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
    } else {
      for (const e of this.#events) {
        if (e.rv > from && e.collection === target.collection && (target.namespace === undefined || (e.object.metadata as Json).namespace === target.namespace)) {
          res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
        }
      }
    }
    const watcher: Watcher = { collection: target.collection, ...(target.namespace === undefined ? {} : { namespace: target.namespace }), response: res, bookmarks: query.get('allowWatchBookmarks') === 'true' };
    this.#watchers.add(watcher);
    this.#watchesOpened++;
    const seconds = Number(query.get('timeoutSeconds') ?? '0');
    const timer = seconds > 0 ? setTimeout(() => {
      this.#watchers.delete(watcher);
      res.end();
    }, seconds * 1000) : undefined;
    res.on('close', () => {
      if (timer !== undefined) clearTimeout(timer);
      this.#watchers.delete(watcher);
    });
  }
}

/** Polls `check` every 10 ms until it returns true, failing after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
