// Docker's credential file and credential helpers: the credentials `docker login` leaves behind.
// docker/cli config.json (`auths`, `credsStore`, `credHelpers`) and the docker-credential-helpers protocol.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, realpath, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { printable } from '../oci/index.js';
import type { CredentialStore, Credentials } from './auth.js';
import { CREDENTIAL_HELPER_TIMEOUT_MS, MAX_CREDENTIAL_HELPER_OUTPUT } from './defaults.js';
import { RegistryError } from './errors.js';

/** The server address Docker uses for Docker Hub in `auths` and with credential helpers. */
export const DOCKER_HUB_SERVER_ADDRESS = 'https://index.docker.io/v1/';

/** Host names that all mean Docker Hub. */
const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** docker-credential-helpers: the message (on stdout) of a helper that has nothing for the server. */
const NOT_FOUND_MESSAGE = 'credentials not found in native keychain';

/** The user name a helper stores for an identity token (docker/cli: `tokenUsername`). */
const IDENTITY_TOKEN_USERNAME = '<token>';

/** Options for DockerCredentialStore. */
export interface DockerCredentialStoreOptions {
  /** How long a docker-credential helper may run (default CREDENTIAL_HELPER_TIMEOUT_MS). */
  readonly helperTimeoutMs?: number;
}

type ConfigDocument = Record<string, unknown>;

/** The host a config.json key names: `https://reg.example:5000/v1/` → `reg.example:5000` (docker/cli ConvertToHostname). */
function hostOfKey(key: string): string {
  const bare = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  return bare.split('/')[0]?.toLowerCase() ?? '';
}

/** True when a config.json key is for `registry`. */
function keyMatches(key: string, registry: string): boolean {
  const host = hostOfKey(key);
  const wanted = registry.toLowerCase();
  if (DOCKER_HUB_HOSTS.has(wanted)) return DOCKER_HUB_HOSTS.has(host);
  return host === wanted;
}

/** The key `docker login` writes for a registry: the Hub's v1 URL, else the host as given. */
export function serverAddressOf(registry: string): string {
  return DOCKER_HUB_HOSTS.has(registry.toLowerCase()) ? DOCKER_HUB_SERVER_ADDRESS : registry;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Decodes one `auths` entry: base64 `auth`, or username/password, plus `identitytoken`. */
function decodeAuthEntry(entry: unknown): Credentials | undefined {
  if (!isRecord(entry)) return undefined;
  let username = typeof entry.username === 'string' ? entry.username : undefined;
  let password = typeof entry.password === 'string' ? entry.password : undefined;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return username ? { identityToken: entry.identitytoken, username } : { identityToken: entry.identitytoken };
  }
  if (username !== undefined && username !== '' && password !== undefined) return { username, password };
  return undefined;
}

/**
 * Docker's credential store: reads and writes `config.json` (the path is given; the CLI's config
 * loader resolves `$DOCKER_CONFIG`) and runs `docker-credential-*` helpers. Lookup order is
 * docker/cli's: `credHelpers[registry]`, then `credsStore`, then `auths`. Writes are atomic,
 * keep every other key, and leave the file mode 0600.
 */
export class DockerCredentialStore implements CredentialStore {
  /** The config.json this store reads and writes. */
  readonly path: string;
  readonly #helperTimeoutMs: number;

  constructor(path: string, options: DockerCredentialStoreOptions = {}) {
    this.path = path;
    this.#helperTimeoutMs = options.helperTimeoutMs ?? CREDENTIAL_HELPER_TIMEOUT_MS;
  }

  /** Credentials for `registry`, or undefined when none are configured. */
  async get(registry: string, options: { readonly signal?: AbortSignal } = {}): Promise<Credentials | undefined> {
    const doc = await this.#read(registry);
    const helper = this.#helperFor(doc, registry);
    if (helper !== undefined) {
      const fromHelper = await this.#helperGet(helper, registry, options.signal);
      // credHelpers is authoritative for its registry (docker/cli); a credsStore miss falls back to the file.
      if (fromHelper !== undefined || helper.kind === 'credHelpers') return fromHelper;
    }
    const auths = isRecord(doc.auths) ? doc.auths : {};
    const exact = auths[serverAddressOf(registry)];
    const entry = exact ?? Object.entries(auths).find(([key]) => keyMatches(key, registry))?.[1];
    return decodeAuthEntry(entry);
  }

  /** Stores credentials as `docker login` does: through the configured helper, else base64 `auth` in `auths`. */
  async store(registry: string, credentials: Credentials, options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    const doc = await this.#read(registry);
    const address = serverAddressOf(registry);
    const helper = this.#helperFor(doc, registry);
    const auths: Record<string, unknown> = isRecord(doc.auths) ? { ...doc.auths } : {};
    for (const key of Object.keys(auths)) if (keyMatches(key, registry)) delete auths[key];
    if (helper !== undefined) {
      const secret = 'password' in credentials ? credentials.password : credentials.identityToken;
      const username = 'password' in credentials ? credentials.username : IDENTITY_TOKEN_USERNAME;
      await this.#runHelper(helper.name, 'store', JSON.stringify({ ServerURL: address, Username: username, Secret: secret }), registry, options.signal);
      // docker/cli's native store keeps an empty entry in the file so `docker login` lists the server.
      auths[address] = {};
    } else if ('password' in credentials) {
      auths[address] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64') };
    } else {
      const entry: Record<string, string> = { identitytoken: credentials.identityToken };
      if (credentials.username !== undefined) entry.auth = Buffer.from(`${credentials.username}:`, 'utf8').toString('base64');
      auths[address] = entry;
    }
    await this.#write({ ...doc, auths }, registry);
  }

  /** Removes credentials as `docker logout` does: from the helper (if any) and from `auths`. */
  async erase(registry: string, options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    const doc = await this.#read(registry);
    const helper = this.#helperFor(doc, registry);
    if (helper !== undefined) await this.#runHelper(helper.name, 'erase', serverAddressOf(registry), registry, options.signal);
    if (!isRecord(doc.auths)) return;
    const auths = { ...doc.auths };
    let changed = false;
    for (const key of Object.keys(auths)) {
      if (keyMatches(key, registry)) {
        delete auths[key];
        changed = true;
      }
    }
    if (changed) await this.#write({ ...doc, auths }, registry);
  }

  #helperFor(doc: ConfigDocument, registry: string): { name: string; kind: 'credHelpers' | 'credsStore' } | undefined {
    if (isRecord(doc.credHelpers)) {
      const entry = Object.entries(doc.credHelpers).find(([key]) => keyMatches(key, registry));
      if (entry !== undefined && typeof entry[1] === 'string' && entry[1] !== '') return { name: this.#checkHelperName(entry[1], registry), kind: 'credHelpers' };
    }
    if (typeof doc.credsStore === 'string' && doc.credsStore !== '') return { name: this.#checkHelperName(doc.credsStore, registry), kind: 'credsStore' };
    return undefined;
  }

  #checkHelperName(name: string, registry: string): string {
    // The name becomes part of an executable's name: no paths, no shell characters.
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
      throw new RegistryError('CREDENTIALS_ERROR', `${this.path}: invalid credential helper name "${printable(name, 60)}"; fix credsStore or credHelpers`, { registry });
    }
    return name;
  }

  async #helperGet(helper: { name: string }, registry: string, signal: AbortSignal | undefined): Promise<Credentials | undefined> {
    const output = await this.#runHelper(helper.name, 'get', serverAddressOf(registry), registry, signal);
    if (output === undefined) return undefined;
    let doc: unknown;
    try {
      doc = JSON.parse(output);
    } catch (cause) {
      throw new RegistryError('CREDENTIALS_ERROR', `${registry}: docker-credential-${helper.name} get printed something other than JSON`, { registry, cause });
    }
    if (!isRecord(doc)) throw new RegistryError('CREDENTIALS_ERROR', `${registry}: docker-credential-${helper.name} get printed no credentials object`, { registry });
    const { Username: username, Secret: secret } = doc;
    if (typeof secret !== 'string' || secret === '') return undefined;
    if (username === IDENTITY_TOKEN_USERNAME) return { identityToken: secret };
    return { username: typeof username === 'string' ? username : '', password: secret };
  }

  /**
   * Runs `docker-credential-NAME ACTION` with `input` on stdin. Resolves with stdout, or
   * undefined when the helper reports that it has no credentials for the server.
   */
  async #runHelper(name: string, action: 'get' | 'store' | 'erase', input: string, registry: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    const program = `docker-credential-${name}`;
    const fail = (detail: string, cause?: unknown) =>
      new RegistryError('CREDENTIALS_ERROR', `${registry}: ${program} ${action} ${detail}`, { registry, ...(cause === undefined ? {} : { cause }) });
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }>((resolve) => {
      const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'], killSignal: 'SIGKILL', ...(signal ? { signal } : {}) });
      // Our own timer rather than spawn's `timeout`, which is cleared only on 'exit': a helper that
      // fails to start (ENOENT) never exits, and its timer would keep the process alive.
      const timer = setTimeout(() => child.kill('SIGKILL'), this.#helperTimeoutMs);
      let stdout = '';
      let stderr = '';
      let spawnError: Error | undefined;
      const finish = (code: number | null) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, ...(spawnError ? { error: spawnError } : {}) });
      };
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (stdout.length < MAX_CREDENTIAL_HELPER_OUTPUT) stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < 4096) stderr += chunk;
      });
      child.on('error', (err) => {
        spawnError = err;
      });
      child.stdin.on('error', () => {
        // a helper that exits without reading stdin is judged by its exit code below
      });
      child.stdin.end(input);
      child.on('close', (code) => finish(code));
      child.on('exit', (code, killedBy) => {
        // Killed (timeout or abort): do not wait for 'close', which waits until every process holding
        // the pipes exits; a shell-script helper's own children (`sleep`, python) keep them open.
        if (killedBy === null) return;
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code);
      });
    });
    if (result.error !== undefined) {
      const code = (result.error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw fail(`is not installed (not on PATH); install it or remove it from ${this.path}`, result.error);
      if (signal?.aborted) throw new RegistryError('ABORTED', `${registry}: ${program} ${action} aborted`, { registry, cause: result.error });
      throw fail(`could not run (${code ?? result.error.name})`, result.error);
    }
    if (result.code === 0) return result.stdout;
    const said = `${result.stdout}\n${result.stderr}`;
    if (said.includes(NOT_FOUND_MESSAGE) && action !== 'store') return undefined;
    if (result.code === null) throw fail(`timed out or was killed`);
    const firstLine = (result.stderr.trim() || result.stdout.trim()).split('\n')[0] ?? '';
    throw fail(`failed (exit ${result.code})${firstLine ? `: ${printable(firstLine, 160)}` : ''}`);
  }

  async #read(registry: string): Promise<ConfigDocument> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new RegistryError('CREDENTIALS_ERROR', `${this.path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { registry, cause: err });
    }
    if (text.trim() === '') return {};
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (cause) {
      throw new RegistryError('CREDENTIALS_ERROR', `${this.path}: not valid JSON; fix or remove it`, { registry, cause });
    }
    if (!isRecord(doc)) throw new RegistryError('CREDENTIALS_ERROR', `${this.path}: must hold a JSON object; fix or remove it`, { registry });
    return doc;
  }

  /** Replaces config.json atomically (temp file in the same directory, fsync, rename), mode 0600. */
  async #write(doc: ConfigDocument, registry: string): Promise<void> {
    let target = this.path;
    try {
      target = await realpath(this.path); // docker/cli writes through a symlinked config.json
    } catch {
      // no file yet: create it at the configured path
    }
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(doc, null, '\t')}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await chmod(temp, 0o600); // the umask may have narrowed it; 0600 is what docker/cli leaves
      await rename(temp, target);
    } catch (err) {
      await unlink(temp).catch(() => {
        // nothing to clean up when the temp file was never created
      });
      throw new RegistryError('CREDENTIALS_ERROR', `${target}: cannot write (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { registry, cause: err });
    }
  }
}
