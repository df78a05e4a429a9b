// HTTP for the registry client: one pooled undici Agent, per-request timeouts, manual redirects
// with a limit, and retries with backoff that honour Retry-After (RFC 9110 §15.4, §10.2.3).

import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from './undici.js';
import { DEFAULT_TRANSPORT_SETTINGS, MAX_ERROR_BODY_BYTES, type TransportSettings } from './defaults.js';
import { OciError } from '../oci/index.js';
import { decodeErrorBody, errorFromResponse, locationOf, RegistryError, type ErrorSubject } from './errors.js';

/** What the registry module logs through: the subset of pino it uses (STYLE.md rule 12). */
export interface RegistryLogger {
  warn(details: Record<string, unknown>, message: string): void;
  debug?(details: Record<string, unknown>, message: string): void;
}

/** HTTP methods the distribution-spec uses. */
export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** A request body: bytes can be replayed (retries, redirects, auth), a stream cannot. */
export type RequestBody = Uint8Array | AsyncIterable<Uint8Array>;

/** One HTTP exchange as the registry client asks for it. */
export interface HttpRequest {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody;
  readonly signal: AbortSignal;
  /** For errors: which registry and repository this is about. */
  readonly registry: string;
  readonly repository?: string;
  /**
   * Blob transfer: no total deadline; headers must arrive within headersTimeoutMs and the body
   * (either direction) may not stall longer than bodyIdleTimeoutMs. Otherwise the whole
   * exchange, body included, must finish within requestTimeoutMs.
   */
  readonly streaming?: boolean;
  /** Retry even though the method is POST (opening an upload session is safe to repeat). */
  readonly retryable?: boolean;
}

/** A response whose body the caller must consume (`readBody`) or release (`discardBody`). */
export interface HttpResponse {
  readonly status: number;
  /** The URL that answered, after redirects (Location and Link headers resolve against it). */
  readonly url: URL;
  readonly body: Dispatcher.ResponseData['body'];
  /** The first value of a header, or undefined. */
  header(name: string): string | undefined;
  /** Every value of a header (WWW-Authenticate may repeat). */
  headerValues(name: string): string[];
  /** Maps an error raised while reading `body` (timeout, abort, reset) to a RegistryError. */
  failure(err: unknown): Error;
}

const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
/** Connection failures after which an idempotent request is safely sent again. */
const RETRY_NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** `1.5s`, `30s`, `250ms`: durations in messages. */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))}s` : `${ms}ms`;
}

/** The error code of a Node or undici failure, looking through `cause` and AggregateError. */
function networkCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const value = current as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof value.code === 'string') return value.code;
    if (Array.isArray(value.errors) && value.errors.length > 0) current = value.errors[0];
    else current = value.cause;
  }
  return undefined;
}

/** Renders a TimeoutError from AbortSignal.timeout and our idle watchdog alike. */
function isTimeoutReason(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

/** Why a request ended without a response, for `failure` below. */
export interface FailureContext {
  readonly registry: string;
  readonly repository?: string;
  readonly signal: AbortSignal;
  /** The per-request deadline, when one was set. */
  readonly timeoutMs: number;
  readonly timeoutSignal?: AbortSignal;
}

/**
 * Maps a failure of undici, a socket or a signal to a RegistryError: ABORTED when the caller's
 * signal fired, TIMEOUT for deadlines and stalls, UNREACHABLE for connection failures. Errors
 * that are already the registry's or the oci module's pass through unchanged.
 */
export function failure(err: unknown, context: FailureContext): Error {
  if (err instanceof RegistryError || err instanceof OciError) return err;
  const place = locationOf(context);
  const options = { registry: context.registry, ...(context.repository === undefined ? {} : { repository: context.repository }), cause: err };
  if (context.signal.aborted) return new RegistryError('ABORTED', `${place}: aborted`, options);
  const code = networkCode(err);
  if (context.timeoutSignal?.aborted || isTimeoutReason(err) || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return new RegistryError('TIMEOUT', `${place}: request timed out after ${formatDuration(context.timeoutMs)}`, options);
  }
  if (code !== undefined && /^(E[A-Z_]+|UND_ERR_SOCKET|UND_ERR_CLOSED|UND_ERR_DESTROYED)$/.test(code)) {
    const what = code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' ? 'connection lost' : 'cannot connect';
    const hint = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? '; unknown host, check the registry name' : code === 'ECONNREFUSED' ? '; nothing listens there, check the host and port' : '';
    return new RegistryError('UNREACHABLE', `${context.registry}: ${what} (${code})${hint}`, options);
  }
  return new RegistryError('UNREACHABLE', `${context.registry}: request failed (${code ?? (err instanceof Error ? err.name : 'unknown error')})`, options);
}

/** Parses Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // RFC 9110 §5.6.7: every HTTP-date form starts with a day name; Date.parse alone reads "1.5" or "-1" as dates in 2001.
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Backoff delay for attempt `n` (0-based) with full jitter. */
function backoff(attempt: number, settings: TransportSettings): number {
  const ceiling = Math.min(settings.retryMaxDelayMs, settings.retryBaseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function isReplayable(body: RequestBody | undefined): body is Uint8Array | undefined {
  return body === undefined || body instanceof Uint8Array;
}

/**
 * A stream wrapper that remembers the first error its source threw (so it can be reported
 * instead of undici's "request aborted"), and fires `onIdle` when no chunk is pulled for
 * `idleMs` (a registry that stops reading an upload).
 */
class GuardedBody {
  error: unknown;
  readonly #source: AsyncIterable<Uint8Array>;
  readonly #idleMs: number;
  readonly #onIdle: () => void;

  constructor(source: AsyncIterable<Uint8Array>, idleMs: number, onIdle: () => void) {
    this.#source = source;
    this.#idleMs = idleMs;
    this.#onIdle = onIdle;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    const timer = setTimeout(this.#onIdle, this.#idleMs);
    try {
      for await (const chunk of this.#source) {
        timer.refresh();
        yield chunk;
        timer.refresh();
      }
    } catch (err) {
      this.error = err;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The Authorization value each response's request carried, so an error body that echoes it is cleaned (STYLE.md rule 6). */
const sentAuthorization = new WeakMap<HttpResponse, string>();

/** Reads at most MAX_ERROR_BODY_BYTES of an error response and turns it into a RegistryError. */
export async function errorFrom(response: HttpResponse, subject: ErrorSubject): Promise<RegistryError> {
  let bytes: Uint8Array = new Uint8Array(0);
  try {
    bytes = await readBody(response, MAX_ERROR_BODY_BYTES, { registry: subject.registry, ...(subject.repository === undefined ? {} : { repository: subject.repository }) });
  } catch {
    // an oversized or broken error body still leaves the status to report
  }
  return errorFromResponse(response.status, decodeErrorBody(withoutCredential(bytes, sentAuthorization.get(response))), subject, parseRetryAfter(response.header('retry-after')));
}

/** An error body with the credential part of `authorization` (token, base64 user:password) replaced, before it can reach a message. */
function withoutCredential(bytes: Uint8Array, authorization: string | undefined): Uint8Array {
  const credential = authorization?.slice(authorization.indexOf(' ') + 1).trim();
  if (credential === undefined || credential === '') return bytes;
  const text = new TextDecoder().decode(bytes);
  return text.includes(credential) ? new TextEncoder().encode(text.replaceAll(credential, '[redacted]')) : bytes;
}

/**
 * Reads a whole response body of at most `limit` bytes. A Content-Length over the limit is
 * refused before reading; a body that keeps going is cut at the limit. Either way the
 * connection is released and RESPONSE_TOO_LARGE thrown.
 */
export async function readBody(response: HttpResponse, limit: number, where: { registry: string; repository?: string }): Promise<Uint8Array> {
  const tooLarge = (detail: string) =>
    new RegistryError('RESPONSE_TOO_LARGE', `${locationOf(where)}: response ${detail} exceeds the ${limit}-byte limit for ${response.url.pathname.split('/').slice(-2, -1)[0] ?? 'this'} responses`, { registry: where.registry, ...(where.repository === undefined ? {} : { repository: where.repository }), status: response.status });
  const declared = response.header('content-length');
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit) {
    response.body.destroy();
    throw tooLarge(`of ${declared} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > limit) {
        response.body.destroy();
        throw tooLarge('body');
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw response.failure(err);
  }
  return chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, total);
}

/** Releases a response body nobody needs, keeping the connection reusable when the body is small. */
export async function discardBody(response: HttpResponse): Promise<void> {
  try {
    await response.body.dump({ limit: MAX_ERROR_BODY_BYTES });
  } catch {
    // the body is released either way; a broken connection is simply not reused
  }
}

function wrapResponse(data: Dispatcher.ResponseData, url: URL, context: FailureContext, authorization: string | undefined): HttpResponse {
  const values = (name: string): string[] => {
    const value = data.headers[name.toLowerCase()];
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value];
  };
  const response: HttpResponse = {
    status: data.statusCode,
    url,
    body: data.body,
    header: (name) => values(name)[0],
    headerValues: values,
    failure: (err) => failure(err, context),
  };
  if (authorization !== undefined) sentAuthorization.set(response, authorization);
  return response;
}

/**
 * The HTTP layer of one RegistryClient: a keep-alive undici Agent (no pipelining) shared by
 * every request, with timeouts, bounded redirects and retries. It never prints.
 */
export class Transport {
  readonly settings: TransportSettings;
  readonly #agent: Agent;
  readonly #logger: RegistryLogger | undefined;

  constructor(settings: Partial<TransportSettings> = {}, logger?: RegistryLogger) {
    this.settings = Object.freeze({ ...DEFAULT_TRANSPORT_SETTINGS, ...settings });
    this.#logger = logger;
    this.#agent = new Agent({
      keepAliveTimeout: this.settings.keepAliveTimeoutMs,
      pipelining: 1,
      connect: { timeout: this.settings.connectTimeoutMs },
      headersTimeout: this.settings.headersTimeoutMs,
      bodyTimeout: this.settings.bodyIdleTimeoutMs,
    });
  }

  /**
   * Sends a request, following redirects (Authorization is dropped when the origin changes) and
   * retrying idempotent requests on 429/502/503/504 and connection resets. Resolves with any
   * final status; the caller handles it and must consume or discard the body.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const canRetry = isReplayable(req.body) && (req.method !== 'POST' || req.retryable === true) && req.method !== 'PATCH';
    for (let attempt = 0; ; attempt++) {
      let response: HttpResponse;
      try {
        response = await this.#sendFollowingRedirects(req);
      } catch (err) {
        const code = networkCode(err);
        if (canRetry && attempt < this.settings.maxRetries && !req.signal.aborted && code !== undefined && RETRY_NETWORK_CODES.has(code)) {
          await this.#wait(backoff(attempt, this.settings), req);
          continue;
        }
        throw err;
      }
      if (!canRetry || !RETRY_STATUSES.has(response.status) || attempt >= this.settings.maxRetries) return response;
      const retryAfter = parseRetryAfter(response.header('retry-after'));
      if (retryAfter !== undefined && retryAfter > this.settings.retryAfterMaxMs) return response;
      await discardBody(response);
      const delay = retryAfter ?? backoff(attempt, this.settings);
      this.#logger?.debug?.({ registry: req.registry, status: response.status, attempt: attempt + 1, delayMs: delay }, 'retrying registry request');
      await this.#wait(delay, req);
    }
  }

  async #wait(ms: number, req: HttpRequest): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: req.signal });
    } catch (err) {
      throw failure(err, { registry: req.registry, ...(req.repository === undefined ? {} : { repository: req.repository }), signal: req.signal, timeoutMs: ms });
    }
  }

  async #sendFollowingRedirects(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let method: HttpMethod = req.method;
    let body = req.body;
    let headers: Record<string, string> = { 'user-agent': this.settings.userAgent, ...req.headers };
    for (let redirects = 0; ; redirects++) {
      const response = await this.#sendOnce({ ...req, url, method, body, headers });
      const location = response.header('location');
      if (!REDIRECT_STATUSES.has(response.status) || location === undefined) return response;
      await discardBody(response);
      if (redirects >= this.settings.maxRedirects) {
        throw new RegistryError('REDIRECT_LIMIT', `${locationOf(req)}: too many redirects (max ${this.settings.maxRedirects})`, {
          registry: req.registry,
          ...(req.repository === undefined ? {} : { repository: req.repository }),
          status: response.status,
        });
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (cause) {
        throw new RegistryError('RESPONSE_INVALID', `${locationOf(req)}: redirect to an invalid location`, { registry: req.registry, status: response.status, cause });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new RegistryError('RESPONSE_INVALID', `${locationOf(req)}: redirect to a non-HTTP location`, { registry: req.registry, status: response.status });
      }
      // RFC 9110 §15.4: 301/302/303 turn other methods into GET without a body (as browsers and Go do); 307/308 repeat the request.
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method !== 'GET' && method !== 'HEAD')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
        const { 'content-type': _type, 'content-length': _length, ...rest } = headers;
        headers = rest;
      } else if (!isReplayable(body)) {
        throw new RegistryError('RESPONSE_INVALID', `${locationOf(req)}: registry redirected a streamed upload, which cannot be sent twice`, { registry: req.registry, status: response.status });
      }
      if (next.origin !== url.origin) {
        // Credentials are for the registry, not for wherever it redirects (blob storage, a CDN).
        const { authorization: _authorization, ...rest } = headers;
        headers = rest;
      }
      url = next;
    }
  }

  async #sendOnce(req: HttpRequest & { headers: Record<string, string> }): Promise<HttpResponse> {
    const settings = this.settings;
    const idle = new AbortController();
    let timeoutSignal: AbortSignal | undefined;
    let signal: AbortSignal;
    let guarded: GuardedBody | undefined;
    if (req.streaming) {
      signal = AbortSignal.any([req.signal, idle.signal]);
    } else {
      timeoutSignal = AbortSignal.timeout(settings.requestTimeoutMs);
      signal = AbortSignal.any([req.signal, timeoutSignal]);
    }
    let body: Uint8Array | Readable | undefined;
    if (req.body === undefined || req.body instanceof Uint8Array) {
      body = req.body;
    } else {
      const idleError = Object.assign(new Error(`upload stalled for ${formatDuration(settings.bodyIdleTimeoutMs)}`), { name: 'TimeoutError' });
      guarded = new GuardedBody(req.body, settings.bodyIdleTimeoutMs, () => idle.abort(idleError));
      body = Readable.from(guarded, { objectMode: false });
    }
    const where = { registry: req.registry, ...(req.repository === undefined ? {} : { repository: req.repository }), signal: req.signal };
    try {
      const data = await request(req.url, {
        dispatcher: this.#agent,
        method: req.method,
        headers: req.headers,
        body: body ?? null,
        signal,
        // undici closes a connection after every HEAD, in case a broken server sends a body anyway;
        // registries do not, and resolving a tag is the most frequent request there is.
        ...(req.method === 'HEAD' ? { reset: false } : {}),
        headersTimeout: req.streaming ? settings.headersTimeoutMs : settings.requestTimeoutMs,
        bodyTimeout: req.streaming ? settings.bodyIdleTimeoutMs : settings.requestTimeoutMs,
      });
      // While the caller reads the body, a stall (streaming) or the overall deadline ends it.
      return wrapResponse(
        data,
        req.url,
        req.streaming ? { ...where, timeoutMs: settings.bodyIdleTimeoutMs } : { ...where, timeoutMs: settings.requestTimeoutMs, ...(timeoutSignal ? { timeoutSignal } : {}) },
        Object.entries(req.headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1],
      );
    } catch (err) {
      // The body's own failure (a digest mismatch while streaming) explains more than undici's abort.
      if (guarded?.error !== undefined) throw guarded.error instanceof Error ? guarded.error : failure(guarded.error, { ...where, timeoutMs: settings.requestTimeoutMs });
      let timeoutMs = settings.requestTimeoutMs;
      const code = networkCode(err);
      if (idle.signal.aborted) timeoutMs = settings.bodyIdleTimeoutMs;
      else if (code === 'UND_ERR_CONNECT_TIMEOUT') timeoutMs = settings.connectTimeoutMs;
      else if (req.streaming) timeoutMs = settings.headersTimeoutMs;
      const stalled = idle.signal.aborted ? idle.signal : timeoutSignal;
      throw failure(err, { ...where, timeoutMs, ...(stalled ? { timeoutSignal: stalled } : {}) });
    }
  }

  /** Closes pooled connections; in-flight requests finish first. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}
