// A small Kubernetes API client over undici: get, list (following continue tokens), create,
// replace, patch, delete, and watch streams. Kubernetes API concepts: "Efficient detection of changes", "Retrieving large results sets in chunks".

import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from './config.js';
import {
  CONNECT_TIMEOUT_MS,
  LIST_PAGE_SIZE,
  MAX_ERROR_BODY_BYTES,
  MAX_LIST_PAGES,
  MAX_RESPONSE_BYTES,
  MAX_WATCH_EVENT_BYTES,
  REQUEST_TIMEOUT_MS,
  RETRY_AFTER_MAX_MS,
  RETRY_BASE_DELAY_MS,
  RETRY_MAX,
  USER_AGENT,
  WATCH_IDLE_MARGIN_MS,
  WATCH_TIMEOUT_SECONDS,
} from './defaults.js';
import { codeForStatus, KubeError } from './errors.js';
import { Agent, request, type Dispatcher } from './undici.js';

/** ObjectMeta, the fields Sigil reads; everything else is kept as sent. */
export interface KubeObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

/** Any API object: apiVersion, kind and metadata, plus whatever its type carries. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: KubeObjectMeta;
  readonly [field: string]: unknown;
}

/** meta/v1 Status, the body of every error response and of watch ERROR events. */
export interface KubeStatus {
  readonly kind?: string;
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: unknown;
}

/** A whole list, every page joined: items and the resourceVersion to watch from. */
export interface KubeList {
  readonly apiVersion?: string;
  readonly kind?: string;
  /** The list's resourceVersion (of the first page, as the chunking rules keep it consistent). */
  readonly resourceVersion: string;
  readonly items: readonly KubeObject[];
}

/** One event of a watch stream. ERROR carries the Status (410 Expired means: relist) and it as a KubeError. */
export type WatchEvent =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; readonly object: KubeObject }
  | { readonly type: 'ERROR'; readonly status: KubeStatus; readonly error: KubeError };

/** Options of KubeClient; defaults in defaults.ts. */
export interface KubeClientOptions {
  /** Whole-exchange timeout of every call but watch (default REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** `timeoutSeconds` of each watch (default WATCH_TIMEOUT_SECONDS). */
  readonly watchTimeoutSeconds?: number;
  /** Retries of a GET answered 429, 502, 503 or 504 (default RETRY_MAX); writes are never retried. */
  readonly maxRetries?: number;
  readonly userAgent?: string;
}

/** Every call takes the caller's signal; `timeoutMs` overrides the client's request timeout. */
export interface KubeRequestOptions {
  readonly signal: AbortSignal;
  readonly timeoutMs?: number;
}

/** Options of list. */
export interface ListOptions extends KubeRequestOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Objects per page (default LIST_PAGE_SIZE). */
  readonly limit?: number;
}

/** Options of watch. */
export interface WatchOptions {
  readonly signal: AbortSignal;
  /** Where to start: events after this version. Unset: the server sends synthetic ADDED events for every object first. */
  readonly resourceVersion?: string;
  /** Ask for BOOKMARK events (default true). */
  readonly allowWatchBookmarks?: boolean;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** The server ends the stream after this long (default the client's watchTimeoutSeconds). */
  readonly timeoutSeconds?: number;
}

/** The patch formats the API server accepts, by their Content-Type. */
export const PATCH_CONTENT_TYPES = Object.freeze({
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
});

/** Options of patch. */
export interface PatchOptions extends KubeRequestOptions {
  /** Patch format (default `merge`, RFC 7386). `apply` is server-side apply and needs fieldManager. */
  readonly type?: keyof typeof PATCH_CONTENT_TYPES;
  readonly fieldManager?: string;
  /** Server-side apply: take ownership of conflicting fields. */
  readonly force?: boolean;
}

type Query = Readonly<Record<string, string | undefined>>;

/** Statuses worth another GET: throttled, or a proxy or apiserver momentarily unable to answer. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Retry-After (ms; 0 when absent) of errors whose status may be retried. */
const retryAfterOf = new WeakMap<KubeError, number>();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One line, bounded: Status messages can hold newlines and long field paths. */
function oneLine(text: string, limit = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > limit ? `${flat.slice(0, limit)}…` : flat;
}

function decodeStatus(value: unknown): KubeStatus | undefined {
  if (!isRecord(value)) return undefined;
  const status: { -readonly [K in keyof KubeStatus]: KubeStatus[K] } = {};
  if (typeof value.kind === 'string') status.kind = value.kind;
  if (typeof value.status === 'string') status.status = value.status;
  if (typeof value.message === 'string') status.message = value.message;
  if (typeof value.reason === 'string') status.reason = value.reason;
  if (typeof value.code === 'number') status.code = value.code;
  if (value.details !== undefined) status.details = value.details;
  return status;
}

/** The KubeError a Status stands for; `what` names the request (`GET /api/v1/namespaces`). */
function statusError(what: string, httpStatus: number, status: KubeStatus | undefined, method: string | undefined, path: string): KubeError {
  const code = status?.code ?? httpStatus;
  const reason = status?.reason;
  const message = status?.message === undefined || status.message === '' ? '' : `: ${oneLine(status.message)}`;
  return new KubeError(codeForStatus(code), `${what}: ${code}${reason === undefined || reason === '' ? '' : ` ${reason}`}${message}`, {
    ...(method === undefined ? {} : { method }),
    path,
    status: code,
    ...(reason === undefined || reason === '' ? {} : { reason }),
  });
}

function decodeObject(value: unknown): KubeObject | undefined {
  return isRecord(value) && isRecord(value.metadata) ? (value as KubeObject) : undefined;
}

/**
 * A client for one API server. TLS (CA, client certificate, server name) comes from the
 * KubeConfig; each request gets the current bearer token. Every method takes a required
 * AbortSignal; all but watch also have a whole-exchange timeout. Errors are KubeErrors whose
 * message names the request, never the token.
 */
export class KubeClient {
  /** Where it connects and how, as loaded. */
  readonly config: KubeConfig;
  readonly #agent: Agent;
  readonly #requestTimeoutMs: number;
  readonly #watchTimeoutSeconds: number;
  readonly #maxRetries: number;
  readonly #userAgent: string;

  constructor(config: KubeConfig, options: KubeClientOptions = {}) {
    this.config = config;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.#watchTimeoutSeconds = options.watchTimeoutSeconds ?? WATCH_TIMEOUT_SECONDS;
    this.#maxRetries = options.maxRetries ?? RETRY_MAX;
    this.#userAgent = options.userAgent ?? USER_AGENT;
    this.#agent = new Agent({
      connect: {
        timeout: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
        rejectUnauthorized: !config.insecureSkipTlsVerify,
        ...(config.caCertificate === undefined ? {} : { ca: config.caCertificate }),
        ...(config.tlsServerName === undefined ? {} : { servername: config.tlsServerName }),
        ...(config.clientCertificate === undefined || config.clientKey === undefined ? {} : { cert: config.clientCertificate, key: config.clientKey }),
      },
    });
  }

  /** GET one object (`resourcePath(type, { namespace, name })`). */
  async get(path: string, options: KubeRequestOptions): Promise<KubeObject> {
    return this.#object('GET', path, {}, undefined, undefined, options);
  }

  /** GET any JSON document, unchecked: discovery (`/apis/GROUP/VERSION` APIResourceList), `/version`. */
  async getRaw(path: string, options: KubeRequestOptions): Promise<unknown> {
    return this.#json('GET', path, {}, undefined, undefined, options);
  }

  /** Lists a collection, following `continue` tokens until the last page. */
  async list(path: string, options: ListOptions): Promise<KubeList> {
    const items: KubeObject[] = [];
    let resourceVersion = '';
    let apiVersion: string | undefined;
    let kind: string | undefined;
    let token: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= MAX_LIST_PAGES) throw new KubeError('RESPONSE_INVALID', `GET ${path}: more than ${MAX_LIST_PAGES} list pages`, { method: 'GET', path });
      const body = await this.#json(
        'GET',
        path,
        { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, limit: String(options.limit ?? LIST_PAGE_SIZE), continue: token },
        undefined,
        undefined,
        options,
      );
      if (!isRecord(body) || !Array.isArray(body.items)) throw new KubeError('RESPONSE_INVALID', `GET ${path}: the response is not a list`, { method: 'GET', path });
      const metadata = isRecord(body.metadata) ? body.metadata : {};
      if (page === 0) {
        resourceVersion = typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : '';
        apiVersion = typeof body.apiVersion === 'string' ? body.apiVersion : undefined;
        kind = typeof body.kind === 'string' ? body.kind : undefined;
      }
      // Items of a list omit apiVersion and kind; the list's own say what they are (FooList → Foo).
      const itemKind = kind?.endsWith('List') ? kind.slice(0, -'List'.length) : undefined;
      for (const raw of body.items) {
        const item = decodeObject(raw);
        if (item === undefined) throw new KubeError('RESPONSE_INVALID', `GET ${path}: a list item has no metadata`, { method: 'GET', path });
        items.push(item.apiVersion !== undefined && item.kind !== undefined ? item : { ...item, apiVersion: item.apiVersion ?? apiVersion, kind: item.kind ?? itemKind });
      }
      token = typeof metadata.continue === 'string' && metadata.continue !== '' ? metadata.continue : undefined;
      if (token === undefined) break;
    }
    return { ...(apiVersion === undefined ? {} : { apiVersion }), ...(kind === undefined ? {} : { kind }), resourceVersion, items };
  }

  /** POST a new object to its collection path. 409 AlreadyExists is CONFLICT. */
  async create(collectionPath: string, object: unknown, options: KubeRequestOptions): Promise<KubeObject> {
    return this.#object('POST', collectionPath, {}, JSON.stringify(object), 'application/json', options);
  }

  /** PUT an object at its path; a stale `metadata.resourceVersion` gives CONFLICT (reason Conflict). */
  async replace(path: string, object: unknown, options: KubeRequestOptions): Promise<KubeObject> {
    return this.#object('PUT', path, {}, JSON.stringify(object), 'application/json', options);
  }

  /** PATCH an object: merge patch by default, or JSON patch, strategic merge or server-side apply. */
  async patch(path: string, patch: unknown, options: PatchOptions): Promise<KubeObject> {
    const type = options.type ?? 'merge';
    if (type === 'apply' && options.fieldManager === undefined) throw new KubeError('BAD_REQUEST', `PATCH ${path}: server-side apply needs a fieldManager`, { method: 'PATCH', path });
    const query = { fieldManager: options.fieldManager, force: options.force === undefined ? undefined : String(options.force) };
    return this.#object('PATCH', path, query, JSON.stringify(patch), PATCH_CONTENT_TYPES[type], options);
  }

  /** DELETE an object. */
  async delete(path: string, options: KubeRequestOptions): Promise<void> {
    await this.#json('DELETE', path, {}, undefined, undefined, options);
  }

  /**
   * Watches a collection: events from the newline-delimited JSON stream, in order, until the
   * server ends it (its timeoutSeconds) or the signal aborts. A stream that stalls longer than
   * timeoutSeconds plus WATCH_IDLE_MARGIN_MS fails with TIMEOUT. ERROR events are yielded, not thrown.
   */
  async *watch(path: string, options: WatchOptions): AsyncGenerator<WatchEvent, void, undefined> {
    const timeoutSeconds = options.timeoutSeconds ?? this.#watchTimeoutSeconds;
    const query = {
      watch: 'true',
      resourceVersion: options.resourceVersion,
      allowWatchBookmarks: String(options.allowWatchBookmarks ?? true),
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      timeoutSeconds: String(timeoutSeconds),
    };
    const what = `watch ${path}`;
    const response = await this.#send('GET', path, query, undefined, undefined, { signal: options.signal, watchIdleMs: timeoutSeconds * 1000 + WATCH_IDLE_MARGIN_MS });
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    let finished = false;
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        let start = 0;
        for (let newline = chunk.indexOf(10); newline >= 0; newline = chunk.indexOf(10, start)) {
          pending.push(chunk.subarray(start, newline));
          const line = Buffer.concat(pending).toString('utf8');
          pending.length = 0;
          pendingBytes = 0;
          start = newline + 1;
          if (line.trim() !== '') yield decodeWatchEvent(what, path, line);
        }
        if (start < chunk.length) {
          pending.push(chunk.subarray(start));
          pendingBytes += chunk.length - start;
          if (pendingBytes > MAX_WATCH_EVENT_BYTES) throw new KubeError('RESPONSE_TOO_LARGE', `${what}: a watch event exceeds ${MAX_WATCH_EVENT_BYTES} bytes`, { method: 'GET', path });
        }
      }
      const rest = Buffer.concat(pending).toString('utf8');
      if (rest.trim() !== '') yield decodeWatchEvent(what, path, rest);
      finished = true;
    } catch (error) {
      throw this.#failure(error, 'GET', path, what, options.signal);
    } finally {
      // A consumer that stops early (break, stop()) must not leave the stream open.
      if (!finished) response.body.destroy();
    }
  }

  /** Closes the connection pool; in-flight requests fail. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  async #object(method: string, path: string, query: Query, body: string | undefined, contentType: string | undefined, options: KubeRequestOptions): Promise<KubeObject> {
    const value = await this.#json(method, path, query, body, contentType, options);
    const object = decodeObject(value);
    if (object === undefined) throw new KubeError('RESPONSE_INVALID', `${method} ${path}: the response is not an object with metadata`, { method, path });
    return object;
  }

  async #json(method: string, path: string, query: Query, body: string | undefined, contentType: string | undefined, options: KubeRequestOptions): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#jsonOnce(method, path, query, body, contentType, options);
      } catch (error) {
        // Only reads are replayed: a POST or PUT the server may have applied is the caller's to retry.
        const retryAfter = error instanceof KubeError ? retryAfterOf.get(error) : undefined;
        if (method !== 'GET' || attempt >= this.#maxRetries || retryAfter === undefined || retryAfter > RETRY_AFTER_MAX_MS) throw error;
        const delay = retryAfter > 0 ? retryAfter : RETRY_BASE_DELAY_MS * 2 ** attempt * (0.5 + Math.random() / 2);
        try {
          await sleep(delay, undefined, { signal: options.signal });
        } catch {
          throw new KubeError('ABORTED', `${method} ${path}: aborted`, { method, path, cause: error });
        }
      }
    }
  }

  async #jsonOnce(method: string, path: string, query: Query, body: string | undefined, contentType: string | undefined, options: KubeRequestOptions): Promise<unknown> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.#requestTimeoutMs);
    const signal = AbortSignal.any([options.signal, timeout]);
    const response = await this.#send(method, path, query, body, contentType, { signal, callerSignal: options.signal });
    const text = await this.#read(response, MAX_RESPONSE_BYTES, method, path, options.signal);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new KubeError('RESPONSE_INVALID', `${method} ${path}: the response is not JSON`, { method, path, status: response.statusCode, cause: error });
    }
  }

  async #send(
    method: string,
    path: string,
    query: Query,
    body: string | undefined,
    contentType: string | undefined,
    options: { readonly signal: AbortSignal; readonly callerSignal?: AbortSignal; readonly watchIdleMs?: number },
  ): Promise<Dispatcher.ResponseData> {
    // Appended, not resolved: a server URL may carry a path prefix (API proxies such as Rancher's).
    if (!path.startsWith('/') || path.startsWith('//')) throw new KubeError('BAD_REQUEST', `${method} ${path}: not an API path`, { method, path });
    const url = new URL(`${this.config.server}${path}`);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent };
    if (contentType !== undefined) headers['content-type'] = contentType;
    const callerSignal = options.callerSignal ?? options.signal;
    const what = `${method} ${path}`;
    let response: Dispatcher.ResponseData;
    try {
      const auth = this.config.auth;
      if (auth.type === 'bearer') headers.authorization = `Bearer ${await auth.token()}`;
      else if (auth.type === 'basic') headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      response = await request(url, {
        dispatcher: this.#agent,
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: options.signal,
        ...(options.watchIdleMs === undefined ? {} : { bodyTimeout: options.watchIdleMs }),
      });
    } catch (error) {
      throw this.#failure(error, method, path, what, callerSignal);
    }
    if (response.statusCode >= 400) {
      let status: KubeStatus | undefined;
      try {
        status = decodeStatus(JSON.parse(await this.#read(response, MAX_ERROR_BODY_BYTES, method, path, callerSignal)));
      } catch {
        // a non-JSON or oversized error body still leaves the HTTP status to report
      }
      const error = statusError(what, response.statusCode, status, method, path);
      if (RETRYABLE_STATUSES.has(response.statusCode)) {
        // Kubernetes API concepts, "Priority and Fairness": a 429 carries Retry-After in whole seconds.
        const header = response.headers['retry-after'];
        const seconds = typeof header === 'string' && /^\d+$/.test(header.trim()) ? Number(header.trim()) : 0;
        retryAfterOf.set(error, seconds * 1000);
      }
      throw error;
    }
    return response;
  }

  async #read(response: Dispatcher.ResponseData, limit: number, method: string, path: string, callerSignal: AbortSignal): Promise<string> {
    const declared = Number(response.headers['content-length']);
    const tooLarge = () => new KubeError('RESPONSE_TOO_LARGE', `${method} ${path}: the response exceeds ${limit} bytes`, { method, path, status: response.statusCode });
    if (Number.isFinite(declared) && declared > limit) {
      response.body.destroy();
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > limit) {
          response.body.destroy();
          throw tooLarge();
        }
        chunks.push(chunk);
      }
    } catch (error) {
      throw this.#failure(error, method, path, `${method} ${path}`, callerSignal);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  }

  #failure(error: unknown, method: string, path: string, what: string, callerSignal: AbortSignal): KubeError {
    if (error instanceof KubeError) return error;
    const where = { method, path, cause: error };
    if (callerSignal.aborted) return new KubeError('ABORTED', `${what}: aborted`, where);
    const code = (error as { code?: unknown }).code;
    const name = (error as { name?: unknown }).name;
    if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || name === 'TimeoutError' || name === 'AbortError') {
      return new KubeError('TIMEOUT', `${what}: timed out`, where);
    }
    const detail = typeof code === 'string' ? code : error instanceof Error ? oneLine(error.message, 120) : 'error';
    return new KubeError('UNREACHABLE', `${what}: cannot reach ${this.config.server} (${detail})`, where);
  }
}

function decodeWatchEvent(what: string, path: string, line: string): WatchEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new KubeError('RESPONSE_INVALID', `${what}: a watch event is not JSON`, { method: 'GET', path, cause: error });
  }
  if (!isRecord(value) || typeof value.type !== 'string') throw new KubeError('RESPONSE_INVALID', `${what}: a watch event has no type`, { method: 'GET', path });
  const type = value.type;
  if (type === 'ERROR') {
    const status = decodeStatus(value.object) ?? {};
    return { type, status, error: statusError(what, status.code ?? 500, status, 'GET', path) };
  }
  if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED' && type !== 'BOOKMARK') {
    throw new KubeError('RESPONSE_INVALID', `${what}: unknown watch event type ${JSON.stringify(type.slice(0, 40))}`, { method: 'GET', path });
  }
  const object = decodeObject(value.object);
  if (object === undefined) throw new KubeError('RESPONSE_INVALID', `${what}: a ${type} event has no object with metadata`, { method: 'GET', path });
  return { type, object };
}
