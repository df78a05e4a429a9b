// Basic authentication for the embedded registry from an htpasswd file (bcrypt entries, as
// Distribution's htpasswd auth accepts), answering 401 with a Basic challenge (RFC 7617).

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { RegistryServerError } from './errors.js';

/** bcrypt hashes as htpasswd -B writes them ($2y$) and as other tools do ($2a$, $2b$). */
const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** Parsed htpasswd: user → bcrypt hash. */
export type Htpasswd = ReadonlyMap<string, string>;

/** Decodes htpasswd text; only bcrypt entries are accepted (MD5-crypt and SHA1 are refused, as Distribution does). */
export function decodeHtpasswd(text: string, name = 'htpasswd'): Htpasswd {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const colon = trimmed.indexOf(':');
    const user = trimmed.slice(0, colon);
    const hash = trimmed.slice(colon + 1);
    if (colon <= 0 || !BCRYPT.test(hash)) throw new Error(`${name}:${index + 1}: expected USER:BCRYPT-HASH (htpasswd -B)`);
    users.set(user, hash);
  });
  if (users.size === 0) throw new Error(`${name}: no users`);
  return users;
}

/** Most credential checks remembered; bcrypt costs ~300 ms in JS, far too much for every request. */
const CACHE_LIMIT = 1024;

/** Checks Basic credentials against an htpasswd, remembering recent answers by a hash of the header. */
export class BasicAuthenticator {
  readonly #users: Htpasswd;
  readonly #realm: string;
  readonly #cache = new Map<string, string | false>();

  constructor(users: Htpasswd, realm = 'sigil-registry') {
    this.#users = users;
    this.#realm = realm;
  }

  /** The challenge sent with every 401. */
  get challenge(): string {
    return `Basic realm="${this.#realm}"`;
  }

  /** The authenticated user; throws UNAUTHORIZED for a missing, malformed or wrong Authorization header. */
  async authenticate(header: string | undefined): Promise<string> {
    const unauthorized = () => new RegistryServerError('UNAUTHORIZED', 'authentication required');
    if (header === undefined || !/^basic /i.test(header)) throw unauthorized();
    const key = createHash('sha256').update(header).digest('hex');
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      if (cached === false) throw unauthorized();
      return cached;
    }
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? '' : decoded.slice(0, colon);
    const hash = this.#users.get(user);
    const ok = hash !== undefined && (await bcrypt.compare(decoded.slice(colon + 1), hash));
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(key, ok ? user : false);
    if (!ok) throw unauthorized();
    return user;
  }
}

/** One entry of a token's `access` claim (Docker token authentication specification, "Token Response Fields"). */
export interface TokenAccess {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** The claims Sigil puts in a registry token (a JWT, HS256). */
export interface TokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string;
  readonly exp: number;
  readonly iat: number;
  readonly access: readonly TokenAccess[];
}

/** Default token lifetime: 5 minutes, as Distribution's token servers issue (clients refresh on 401). */
export const DEFAULT_TOKEN_TTL_SECONDS = 300;

const ACTIONS: ReadonlySet<string> = new Set(['pull', 'push', 'delete', '*']);

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * Parses `scope` values (`repository:NAME:pull,push`, several per value separated by spaces) into
 * access entries; unknown resource types and actions are dropped, as token servers do.
 */
export function parseScopes(values: readonly string[]): TokenAccess[] {
  const out: TokenAccess[] = [];
  for (const value of values) {
    for (const scope of value.split(' ')) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first <= 0 || last === first) continue;
      const type = scope.slice(0, first);
      const name = scope.slice(first + 1, last);
      const actions = scope.slice(last + 1).split(',').filter((a) => ACTIONS.has(a));
      if (type === 'repository' && name !== '' && actions.length > 0) out.push({ type, name, actions });
    }
  }
  return out;
}

/**
 * The registry's own token service (Docker token authentication specification): `GET /token`
 * with Basic credentials from the htpasswd returns a short-lived HS256 JWT granting the asked
 * scopes; requests then carry `Authorization: Bearer`. The signing secret is handed in (config
 * keeps it in the data directory, so replicas and restarts accept each other's tokens).
 */
export class TokenAuthority {
  readonly #basic: BasicAuthenticator;
  readonly #secret: Buffer;
  readonly #service: string;
  readonly #ttlSeconds: number;
  readonly #now: () => number;

  constructor(basic: BasicAuthenticator, secret: Buffer, options: { service?: string; ttlSeconds?: number; now?: () => number } = {}) {
    if (secret.byteLength < 32) throw new Error('token secret: at least 32 bytes');
    this.#basic = basic;
    this.#secret = secret;
    this.#service = options.service ?? 'sigil-registry';
    this.#ttlSeconds = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    this.#now = options.now ?? Date.now;
  }

  /** The service name tokens are issued for. */
  get service(): string {
    return this.#service;
  }

  /** The WWW-Authenticate challenge for a request needing `scope` (none for /v2/). */
  challenge(realm: string, scope?: string): string {
    return `Bearer realm="${realm}",service="${this.#service}"${scope === undefined ? '' : `,scope="${scope}"`}`;
  }

  /** Issues a token for the Basic credentials in `authorization` and the asked scopes; UNAUTHORIZED when they are wrong. */
  async issue(authorization: string | undefined, scopes: readonly string[]): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const user = await this.#basic.authenticate(authorization);
    const iat = Math.floor(this.#now() / 1000);
    const claims: TokenClaims = { iss: this.#service, sub: user, aud: this.#service, iat, exp: iat + this.#ttlSeconds, access: parseScopes(scopes) };
    const unsigned = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`;
    const signature = createHmac('sha256', this.#secret).update(unsigned).digest('base64url');
    return { token: `${unsigned}.${signature}`, expiresIn: this.#ttlSeconds, issuedAt: new Date(iat * 1000).toISOString() };
  }

  /** Verifies a Bearer token (signature, audience, expiry) and returns its claims; throws UNAUTHORIZED. */
  verify(authorization: string | undefined): TokenClaims {
    const unauthorized = (why: string) => new RegistryServerError('UNAUTHORIZED', why);
    if (authorization === undefined || !/^bearer /i.test(authorization)) throw unauthorized('authentication required');
    const token = authorization.slice(7).trim();
    const parts = token.split('.');
    if (parts.length !== 3) throw unauthorized('malformed token');
    const [header, payload, signature] = parts as [string, string, string];
    const expected = createHmac('sha256', this.#secret).update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.byteLength !== expected.byteLength || !timingSafeEqual(given, expected)) throw unauthorized('invalid token');
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      throw unauthorized('malformed token');
    }
    if (claims.aud !== this.#service || typeof claims.exp !== 'number' || !Array.isArray(claims.access)) throw unauthorized('invalid token');
    if (claims.exp * 1000 <= this.#now()) throw unauthorized('token expired');
    return claims;
  }
}

/** True when the claims grant `action` on repository `name`. */
export function grants(claims: TokenClaims, name: string, action: string): boolean {
  return claims.access.some((a) => a.type === 'repository' && a.name === name && (a.actions.includes(action) || a.actions.includes('*')));
}
