// The embedded registry's config loader: turns `sigil registry serve` flags into frozen options
// (STYLE.md rule 11: only loaders see flags and the environment).

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeHtpasswd, type Htpasswd } from './auth.js';

/** Validated settings of `sigil registry serve`. */
export interface RegistryServeConfig {
  readonly host: string;
  readonly port: number;
  /** Data directory: `blobs/`, `uploads/`, `tmp/` and the embedded database in `db/`. */
  readonly root: string;
  readonly readOnly: boolean;
  /** `--database`: a postgres:// URL, or undefined for the embedded database under `root/db`. */
  readonly database?: string;
  /** Basic-auth users from `--htpasswd` (bcrypt entries), or undefined for anonymous access. */
  readonly htpasswd?: Htpasswd;
  /** PEM certificate chain and key from `--tls-cert` / `--tls-key`. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** With `--token-auth`: the HS256 secret tokens are signed with, kept in `root/token.key`. */
  readonly tokenSecret?: Buffer;
}

/** Flags as the CLI parsed them. */
export interface RegistryServeFlags {
  readonly addr?: string;
  readonly root?: string;
  readonly readOnly?: boolean;
  readonly database?: string;
  readonly htpasswd?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tokenAuth?: boolean;
}

/** Default address: loopback only, so a registry started without thought is not on the network. */
export const DEFAULT_ADDR = '127.0.0.1:5000';

/** Parses `HOST:PORT`, `[V6]:PORT` or `:PORT`; throws a one-line error naming the flag. */
export function parseAddr(addr: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = Number(match?.[3]);
  if (match === null || !Number.isInteger(port) || port > 65535) throw new Error(`--addr ${addr}: expected HOST:PORT, such as 127.0.0.1:5000`);
  const host = match[1] ?? (match[2] === '' ? '0.0.0.0' : (match[2] ?? '127.0.0.1'));
  return { host, port };
}

/** Builds the config from flags; the default root is `$XDG_DATA_HOME/sigil/registry` (else `~/.local/share/sigil/registry`). */
export function loadRegistryServeConfig(flags: RegistryServeFlags, env: NodeJS.ProcessEnv = process.env): RegistryServeConfig {
  const { host, port } = parseAddr(flags.addr ?? DEFAULT_ADDR);
  const dataHome = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  const root = resolve(flags.root ?? join(dataHome, 'sigil', 'registry'));
  const database = flags.database === undefined || flags.database === 'embedded' ? undefined : flags.database;
  if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) throw new Error('--database: expected postgres://USER:PASSWORD@HOST:PORT/DB or embedded');
  return Object.freeze({ host, port, root, readOnly: flags.readOnly ?? false, ...(database === undefined ? {} : { database }) });
}

/** Parses a duration flag (`0`, `90s`, `15m`, `24h`, `7d`) into milliseconds; throws naming the flag. */
export function parseDuration(flag: string, value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (match === null) throw new Error(`${flag} ${value}: expected a duration such as 90s, 15m, 24h or 0`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

async function readFlagFile(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new Error(`${flag} ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** loadRegistryServeConfig plus the files the flags name: the htpasswd and the TLS certificate and key. */
export async function loadRegistryServeConfigWithFiles(flags: RegistryServeFlags, env: NodeJS.ProcessEnv = process.env): Promise<RegistryServeConfig> {
  const base = loadRegistryServeConfig(flags, env);
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  const htpasswd = flags.htpasswd === undefined ? undefined : decodeHtpasswd((await readFlagFile('--htpasswd', flags.htpasswd)).toString('utf8'), flags.htpasswd);
  const tls = flags.tlsCert === undefined || flags.tlsKey === undefined ? undefined : { cert: await readFlagFile('--tls-cert', flags.tlsCert), key: await readFlagFile('--tls-key', flags.tlsKey) };
  if (flags.tokenAuth && htpasswd === undefined) throw new Error('--token-auth needs --htpasswd: tokens are issued to its users');
  const tokenSecret = flags.tokenAuth ? await tokenSecretAt(base.root) : undefined;
  return Object.freeze({ ...base, ...(htpasswd === undefined ? {} : { htpasswd }), ...(tls === undefined ? {} : { tls }), ...(tokenSecret === undefined ? {} : { tokenSecret }) });
}

/** The token signing secret in `root/token.key`, created (32 random bytes, mode 0600) on first use. */
async function tokenSecretAt(root: string): Promise<Buffer> {
  const path = join(root, 'token.key');
  try {
    const secret = await readFile(path);
    if (secret.byteLength >= 32) return secret;
    throw new Error(`${path}: shorter than 32 bytes; delete it to make a new one`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(root, { recursive: true });
  const secret = randomBytes(32);
  try {
    await writeFile(path, secret, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (err) {
    // another replica made it first: use theirs
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFile(path);
    throw err;
  }
}
