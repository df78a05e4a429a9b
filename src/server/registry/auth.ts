// Basic authentication for the embedded registry from an htpasswd file (bcrypt entries, as
// Distribution's htpasswd auth accepts), answering 401 with a Basic challenge (RFC 7617).

import { createHash } from 'node:crypto';
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
