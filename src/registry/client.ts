// The registry client: one connection pool, one authenticator and one credential store shared by
// every repository it opens. distribution-spec v1.1.1, "API" (the /v2/ endpoints) and "Pull" § version check.

import { isLoopbackRegistry } from '../oci/index.js';
import { Authenticator, type CredentialStore, type Credentials } from './auth.js';
import { DEFAULT_REPOSITORY_SETTINGS, type RepositorySettings, type TransportSettings } from './defaults.js';
import { RegistryError } from './errors.js';
import { Repository, type ReferrersCapability } from './repository.js';
import { discardBody, errorFrom, Transport, type HttpMethod, type HttpResponse, type RegistryLogger, type RequestBody } from './transport.js';

/** Options of a RegistryClient; every field has a default. */
export interface RegistryClientOptions {
  /** Where credentials come from (default: none, anonymous access). */
  readonly credentials?: CredentialStore;
  /** Registries reached over plain HTTP although not on loopback (`--insecure-registry`); `host` or `host:port`. */
  readonly insecureRegistries?: readonly string[];
  /** Timeouts, retries and redirects (defaults.ts DEFAULT_TRANSPORT_SETTINGS). */
  readonly transport?: Partial<TransportSettings>;
  /** Upload and listing sizes for repositories (defaults.ts DEFAULT_REPOSITORY_SETTINGS). */
  readonly repository?: Partial<RepositorySettings>;
  /** Warnings (a superseded referrers index that could not be deleted) and retry debug lines. */
  readonly logger?: RegistryLogger;
}

/** One request through the client: auth is added and refreshed, retries and redirects handled. */
export interface RegistryRequest {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody;
  readonly signal: AbortSignal;
  /** Token scopes the request needs (`repository:app:pull`); empty for `/v2/`. */
  readonly scopes: readonly string[];
  readonly repository?: string;
  readonly streaming?: boolean;
  readonly retryable?: boolean;
}

/** Options of `RegistryClient.repository`. */
export interface OpenRepositoryOptions {
  /** How referrers are found and kept (default 'auto': probe the API once, fall back to the tag schema). */
  readonly referrersCapability?: ReferrersCapability;
  readonly logger?: RegistryLogger;
}

/** The host that serves Docker Hub's registry API; `docker.io` is only its name in references. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/**
 * A distribution-spec v1.1 client for any number of registries. Build one per process (the CLI
 * builds it), open repositories from it, and `close()` it to release pooled connections.
 */
export class RegistryClient {
  /** Sizes repositories use for uploads and listings. */
  readonly settings: RepositorySettings;
  readonly #transport: Transport;
  readonly #auth: Authenticator;
  readonly #credentials: CredentialStore | undefined;
  readonly #insecure: ReadonlySet<string>;
  readonly #logger: RegistryLogger | undefined;
  readonly #options: RegistryClientOptions;
  /** Set for a client made by withCredentials: the one whose connection pool it shares (and must not close). */
  readonly #parent: RegistryClient | undefined;

  /** `parent` is withCredentials' business: pass only `options`. */
  constructor(options: RegistryClientOptions = {}, parent?: RegistryClient) {
    this.#options = options;
    this.#parent = parent;
    this.#transport = parent === undefined ? new Transport(options.transport, options.logger) : parent.#transport;
    this.#credentials = options.credentials;
    this.#auth = new Authenticator(this.#transport, async (registry, signal) => this.#credentials?.get(registry, { signal }));
    this.#insecure = new Set((options.insecureRegistries ?? []).map((r) => r.toLowerCase()));
    this.#logger = options.logger;
    this.settings = Object.freeze({ ...DEFAULT_REPOSITORY_SETTINGS, ...options.repository });
  }

  /** The transport settings in effect (timeouts, retries, redirects). */
  get transportSettings(): TransportSettings {
    return this.#transport.settings;
  }

  /** True when `registry` is reached over plain HTTP: loopback, or listed as insecure. */
  isPlainHttp(registry: string): boolean {
    const lower = registry.toLowerCase();
    return isLoopbackRegistry(lower) || this.#insecure.has(lower) || this.#insecure.has(lower.replace(/:\d+$/, ''));
  }

  /** The base URL of a registry's API (`https://registry-1.docker.io` for `docker.io`). */
  baseUrl(registry: string): URL {
    const host = registry.toLowerCase() === 'docker.io' ? DOCKER_HUB_API_HOST : registry;
    try {
      return new URL(`${this.isPlainHttp(registry) ? 'http' : 'https'}://${host}`);
    } catch (cause) {
      throw new RegistryError('NAME_INVALID', `invalid registry host "${registry}"`, { registry, cause });
    }
  }

  /** Opens a repository (`library/alpine` on `docker.io`); no request is made until it is used. */
  repository(registry: string, repository: string, options: OpenRepositoryOptions = {}): Repository {
    const logger = options.logger ?? this.#logger;
    return new Repository({
      registry,
      repository,
      client: this,
      ...(options.referrersCapability === undefined ? {} : { referrersCapability: options.referrersCapability }),
      ...(logger === undefined ? {} : { logger }),
    });
  }

  /**
   * Checks that the registry speaks distribution-spec v1.1 (GET /v2/) and that the credentials
   * work: the stored ones, or `credentials` when given (what `sigil login` tries before storing).
   */
  async ping(registry: string, options: { readonly signal: AbortSignal; readonly credentials?: Credentials }): Promise<void> {
    const url = new URL('/v2/', this.baseUrl(registry));
    const auth = options.credentials === undefined ? this.#auth : new Authenticator(this.#transport, async () => options.credentials);
    const response = await this.#send(auth, registry, { method: 'GET', url, signal: options.signal, scopes: [] });
    if (response.status === 200) {
      await discardBody(response);
      return;
    }
    throw await errorFrom(response, { registry });
  }

  /**
   * Sends one request with authentication: a known Basic header or cached Bearer token goes
   * up front; a 401 is answered once (fetching or refreshing the token) when the body can be
   * replayed. The caller must consume or discard the response body.
   */
  async send(registry: string, request: RegistryRequest): Promise<HttpResponse> {
    return this.#send(this.#auth, registry, request);
  }

  /** Drops cached tokens and credentials of a registry (after login or logout). */
  forget(registry: string): void {
    this.#auth.forget(registry);
  }

  /**
   * A client over the same connection pool and settings that authenticates with `credentials`
   * instead (its own token cache), for callers that act for several parties (the admission
   * webhook with a Pod's pull secrets). Its `close` does nothing; close this one.
   */
  withCredentials(credentials: CredentialStore): RegistryClient {
    const root = this.#parent ?? this;
    return new RegistryClient({ ...root.#options, credentials }, root);
  }

  /** Closes pooled connections so the process can exit; in-flight requests finish first. A client from withCredentials leaves the shared pool open. */
  async close(): Promise<void> {
    if (this.#parent !== undefined) return;
    await this.#transport.close();
  }

  async #send(auth: Authenticator, registry: string, request: RegistryRequest): Promise<HttpResponse> {
    const target = {
      registry,
      ...(request.repository === undefined ? {} : { repository: request.repository }),
      url: request.url,
      scopes: request.scopes,
      signal: request.signal,
    };
    let authorization = await auth.authorization(target);
    const replayable = request.body === undefined || request.body instanceof Uint8Array;
    for (let attempt = 0; ; attempt++) {
      const response = await this.#transport.send({
        ...request,
        headers: { ...request.headers, ...(authorization === undefined ? {} : { authorization }) },
        registry,
      });
      // A streamed body is gone after one send; the caller reports the 401 (uploads fetch their token with the POST first).
      if (response.status !== 401 || attempt > 0 || !replayable) return response;
      authorization = await auth.answer(target, response, authorization);
    }
  }
}
