// Registry authentication: WWW-Authenticate challenges (RFC 9110 §11.6.1), Basic (RFC 7617), and the
// Docker token authentication flow (distribution "Token Authentication Specification"), with a token cache.

import { MAX_TOKEN_RESPONSE_BYTES, TOKEN_DEFAULT_EXPIRES_SECONDS, TOKEN_EXPIRY_MARGIN_MS } from './defaults.js';
import { RegistryError } from './errors.js';
import { errorFrom, readBody, type HttpResponse, type Transport } from './transport.js';

/** What a user logs in with: a username and password (or access token), or an OAuth2 refresh ("identity") token. */
export type Credentials =
  | { readonly username: string; readonly password: string }
  | { readonly identityToken: string; readonly username?: string };

/** Where credentials for a registry come from; DockerCredentialStore is the one Sigil ships. */
export interface CredentialStore {
  /** Credentials for `registry` (a host as the user names it, `docker.io` for Docker Hub), or undefined. */
  get(registry: string, options?: { readonly signal?: AbortSignal }): Promise<Credentials | undefined>;
}

/** One challenge of a WWW-Authenticate header: the scheme in lower case and its parameters (names in lower case). */
export interface AuthChallenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses WWW-Authenticate values into challenges (RFC 9110 §11.6.1): `Bearer realm="…",
 * service="…",scope="a b"`, `Basic realm="…"`, several per header and several headers.
 * Quoted strings may hold commas and backslash escapes. Malformed input yields what parsed.
 */
export function parseChallenges(values: string | readonly string[]): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  for (const value of typeof values === 'string' ? [values] : values) out.push(...parseOneHeader(value));
  return out;
}

function parseOneHeader(input: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < input.length && chars.test(input[i] ?? '')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < input.length && TOKEN_CHAR.test(input[i] ?? '')) i++;
    return input.slice(start, i);
  };
  const quoted = (): string => {
    let text = '';
    i++; // opening quote
    while (i < input.length && input[i] !== '"') {
      if (input[i] === '\\' && i + 1 < input.length) i++;
      text += input[i];
      i++;
    }
    i++; // closing quote
    return text;
  };
  while (i < input.length) {
    skip(/[\s,]/);
    const scheme = token();
    if (scheme === '') {
      i++; // a stray character: skip it rather than loop
      continue;
    }
    const params: Record<string, string> = {};
    skip(/[ \t]/);
    for (let first = true; ; first = false) {
      const mark = i;
      skip(/[\s,]/);
      const name = token();
      skip(/[ \t]/);
      if (name === '' || input[i] !== '=' || input[i + 1] === '=') {
        // Not a parameter: the next challenge's scheme, or a token68 right after this scheme.
        i = mark;
        if (first) skip(/[A-Za-z0-9\-._~+/=]/);
        break;
      }
      i++; // '='
      skip(/[ \t]/);
      if (input[i] !== '"' && !TOKEN_CHAR.test(input[i] ?? '')) {
        // RFC 9110 §11.2: an auth-param's value is a token or quoted-string, never empty; `abc=` is a token68.
        i = mark;
        if (first) skip(/[A-Za-z0-9\-._~+/=]/);
        break;
      }
      params[name.toLowerCase()] = input[i] === '"' ? quoted() : token();
      skip(/[ \t]/);
      if (input[i] !== ',') break;
      i++;
    }
    challenges.push(Object.freeze({ scheme: scheme.toLowerCase(), params: Object.freeze(params) }));
  }
  return challenges;
}

/**
 * Merges scopes per resource and sorts them: `repository:a:push` + `repository:a:pull` becomes
 * `repository:a:pull,push` (Docker token specification, "Requesting a Token": one scope per
 * resource, actions comma-separated). `*` stands alone.
 */
export function normalizeScopes(scopes: Iterable<string>): string[] {
  const byResource = new Map<string, Set<string>>();
  const opaque = new Set<string>();
  for (const scope of scopes) {
    for (const part of scope.split(' ')) {
      if (part === '') continue;
      const cut = part.lastIndexOf(':');
      const resource = part.slice(0, cut);
      if (cut <= 0 || !resource.includes(':')) {
        opaque.add(part);
        continue;
      }
      const actions = byResource.get(resource) ?? new Set<string>();
      for (const action of part.slice(cut + 1).split(',')) if (action !== '') actions.add(action);
      byResource.set(resource, actions);
    }
  }
  const out = [...opaque];
  for (const [resource, actions] of byResource) {
    const list = actions.has('*') ? ['*'] : [...actions].sort();
    out.push(`${resource}:${list.join(',')}`);
  }
  return out.sort();
}

/** The scope asking for `actions` on a repository (`repository:app:pull,push`). */
export function repositoryScope(repository: string, ...actions: string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/** The Authorization value for Basic credentials (RFC 7617). */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

interface CachedToken {
  readonly authorization: string;
  readonly expiresAt: number;
}

interface RegistryAuthState {
  scheme: 'basic' | 'bearer';
  /** Basic: the header to send. */
  basic?: string;
  /** Bearer: where to get tokens. */
  realm?: string;
  service?: string;
}

/** Where a request goes and what it needs, as the authenticator sees it. */
export interface AuthTarget {
  /** The registry as the user names it: the key of credentials and caches. */
  readonly registry: string;
  readonly repository?: string;
  /** The URL the request went to; its protocol decides whether credentials may go to a plain-HTTP realm. */
  readonly url: URL;
  readonly scopes: readonly string[];
  readonly signal: AbortSignal;
}

/** Looks up credentials for a registry (a CredentialStore, or fixed credentials for a login check). */
export type CredentialLookup = (registry: string, signal: AbortSignal) => Promise<Credentials | undefined>;

/**
 * Answers auth challenges for one RegistryClient and remembers the answers: the scheme per
 * registry, Basic headers, and Bearer tokens per (registry, scope set) until they expire.
 */
export class Authenticator {
  readonly #transport: Transport;
  readonly #lookup: CredentialLookup;
  readonly #now: () => number;
  readonly #states = new Map<string, RegistryAuthState>();
  readonly #tokens = new Map<string, CachedToken>();
  readonly #pending = new Map<string, Promise<CachedToken>>();
  readonly #credentials = new Map<string, Promise<Credentials | undefined>>();

  constructor(transport: Transport, lookup: CredentialLookup, now: () => number = Date.now) {
    this.#transport = transport;
    this.#lookup = lookup;
    this.#now = now;
  }

  /** The Authorization header to send up front, from what earlier challenges taught; undefined when none is known. */
  async authorization(target: AuthTarget): Promise<string | undefined> {
    const state = this.#states.get(target.registry);
    if (state === undefined) return undefined;
    if (state.scheme === 'basic') return state.basic;
    const key = tokenKey(target.registry, target.scopes);
    const cached = this.#tokens.get(key);
    if (cached !== undefined && cached.expiresAt > this.#now()) return cached.authorization;
    if (state.realm === undefined) return undefined;
    // Same realm and service as last time: fetch the token for this scope set before asking.
    const token = await this.#token(target, { realm: state.realm, ...(state.service === undefined ? {} : { service: state.service }) }, target.scopes);
    return token.authorization;
  }

  /**
   * Handles a 401: parses its challenges, drops a token that was just refused, and returns the
   * header to retry with. Throws UNAUTHORIZED when no credentials can answer the challenge.
   */
  async answer(target: AuthTarget, response: HttpResponse, sent: string | undefined): Promise<string> {
    const challenges = parseChallenges(response.headerValues('www-authenticate'));
    const unauthorized = await errorFrom(response, {
      registry: target.registry,
      ...(target.repository === undefined ? {} : { repository: target.repository }),
    });
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer !== undefined && bearer.params.realm !== undefined) {
      const key = tokenKey(target.registry, target.scopes);
      if (sent !== undefined) this.#tokens.delete(key);
      const params = { realm: bearer.params.realm, ...(bearer.params.service === undefined ? {} : { service: bearer.params.service }) };
      this.#states.set(target.registry, { scheme: 'bearer', ...params });
      const scopes = normalizeScopes([...target.scopes, ...(bearer.params.scope === undefined ? [] : [bearer.params.scope])]);
      const token = await this.#token(target, params, scopes, true);
      if (token.authorization === sent) throw unauthorized;
      return token.authorization;
    }
    if (basic !== undefined) {
      const credentials = await this.#credentialsFor(target);
      if (credentials === undefined || !('password' in credentials)) throw unauthorized;
      const header = basicAuthorization(credentials.username, credentials.password);
      if (header === sent) throw unauthorized;
      this.#states.set(target.registry, { scheme: 'basic', basic: header });
      return header;
    }
    throw unauthorized;
  }

  /** Forgets everything learned about `registry` (after a logout, say). */
  forget(registry: string): void {
    this.#states.delete(registry);
    this.#credentials.delete(registry);
    for (const key of this.#tokens.keys()) if (key.startsWith(`${registry} `)) this.#tokens.delete(key);
  }

  async #credentialsFor(target: AuthTarget): Promise<Credentials | undefined> {
    let pending = this.#credentials.get(target.registry);
    if (pending === undefined) {
      pending = this.#lookup(target.registry, target.signal);
      this.#credentials.set(target.registry, pending);
      // a failed lookup is not cached: the next request asks again
      pending.catch(() => this.#credentials.delete(target.registry));
    }
    return pending;
  }

  async #token(target: AuthTarget, params: { realm: string; service?: string }, scopes: readonly string[], fresh = false): Promise<CachedToken> {
    const key = tokenKey(target.registry, target.scopes);
    if (!fresh) {
      const cached = this.#tokens.get(key);
      if (cached !== undefined && cached.expiresAt > this.#now()) return cached;
    }
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#fetchToken(target, params, scopes).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    const token = await pending;
    this.#tokens.set(key, token);
    return token;
  }

  /** Docker token authentication: GET realm?service&scope with Basic credentials, or the OAuth2 refresh-token POST for identity tokens. */
  async #fetchToken(target: AuthTarget, params: { realm: string; service?: string }, scopes: readonly string[]): Promise<CachedToken> {
    const where = { registry: target.registry, ...(target.repository === undefined ? {} : { repository: target.repository }) };
    let realm: URL;
    try {
      realm = new URL(params.realm);
    } catch (cause) {
      throw new RegistryError('RESPONSE_INVALID', `${target.registry}: the auth challenge names an invalid token realm`, { ...where, cause });
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new RegistryError('RESPONSE_INVALID', `${target.registry}: the token realm is not an HTTP URL`, where);
    }
    const credentials = await this.#credentialsFor(target);
    // Credentials never travel in clear text unless the registry itself is plain HTTP (loopback or --insecure-registry).
    if (credentials !== undefined && realm.protocol === 'http:' && target.url.protocol !== 'http:') {
      throw new RegistryError('RESPONSE_INVALID', `${target.registry}: refusing to send credentials to a plain-HTTP token realm (${realm.host})`, where);
    }
    const normalized = normalizeScopes(scopes);
    let response: HttpResponse;
    if (credentials !== undefined && 'identityToken' in credentials) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: 'sigil' });
      if (params.service !== undefined) form.set('service', params.service);
      if (normalized.length > 0) form.set('scope', normalized.join(' '));
      response = await this.#transport.send({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new TextEncoder().encode(form.toString()),
        signal: target.signal,
        retryable: true,
        ...where,
      });
    } else {
      const url = new URL(realm);
      if (params.service !== undefined) url.searchParams.set('service', params.service);
      for (const scope of normalized) url.searchParams.append('scope', scope);
      const headers: Record<string, string> = {};
      if (credentials !== undefined) headers.authorization = basicAuthorization(credentials.username, credentials.password);
      response = await this.#transport.send({ method: 'GET', url, headers, signal: target.signal, ...where });
    }
    if (response.status !== 200) {
      throw await errorFrom(response, { ...where, action: scopeActions(normalized) });
    }
    const bytes = await readBody(response, MAX_TOKEN_RESPONSE_BYTES, where);
    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder().decode(bytes));
    } catch (cause) {
      throw new RegistryError('RESPONSE_INVALID', `${target.registry}: the token service did not answer with JSON`, { ...where, cause });
    }
    const { token, access_token: accessToken, expires_in: expiresIn } = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
    const value = typeof token === 'string' && token !== '' ? token : typeof accessToken === 'string' && accessToken !== '' ? accessToken : undefined;
    if (value === undefined) {
      throw new RegistryError('RESPONSE_INVALID', `${target.registry}: the token service answered without a token`, where);
    }
    const seconds = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : TOKEN_DEFAULT_EXPIRES_SECONDS;
    return { authorization: `Bearer ${value}`, expiresAt: this.#now() + Math.max(seconds * 1000 - TOKEN_EXPIRY_MARGIN_MS, 1000) };
  }
}

function tokenKey(registry: string, scopes: readonly string[]): string {
  return `${registry} ${normalizeScopes(scopes).join(' ')}`;
}

function scopeActions(scopes: readonly string[]): string {
  const actions = new Set(scopes.flatMap((s) => (s.split(':')[2] ?? '').split(',')).filter((a) => a !== ''));
  return actions.size === 0 ? 'access' : [...actions].join('/');
}
