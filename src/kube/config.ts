// Where the client connects and how it authenticates: the in-cluster service account, or a kubeconfig.
// client-go's rest.InClusterConfig and clientcmd (kubeconfig v1: clusters, users, contexts, current-context).

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { TOKEN_REFRESH_MS } from './defaults.js';
import { KubeError } from './errors.js';
import { decodeExecPlugin, execTokenSource, type ExecPlugin } from './exec.js';

/** Where a pod's service account credentials are mounted (Kubernetes docs, "Accessing the API from a Pod"). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Gives the current bearer token; a file-backed source re-reads its file as bound tokens rotate. */
export type BearerTokenSource = () => Promise<string>;

/** How requests authenticate; client certificates ride beside any of these in the TLS handshake. */
export type KubeAuth =
  | { readonly type: 'none' }
  | { readonly type: 'bearer'; readonly token: BearerTokenSource; /** The file it is read from, for messages. */ readonly tokenFile?: string }
  | { readonly type: 'basic'; readonly username: string; readonly password: string };

/** A resolved connection to one API server: everything read, nothing left to look up. */
export interface KubeConfig {
  /** `https://host:port` (no trailing slash). */
  readonly server: string;
  /** PEM CA bundle the server's certificate must chain to; the system roots when absent. */
  readonly caCertificate?: string;
  readonly insecureSkipTlsVerify: boolean;
  /** SNI and the name the server certificate must carry, when it differs from the URL's host. */
  readonly tlsServerName?: string;
  /** PEM client certificate (chain) and its key, for client-certificate authentication. */
  readonly clientCertificate?: string;
  readonly clientKey?: string;
  readonly auth: KubeAuth;
  /** The default namespace: the context's, the service account's, else `default`. */
  readonly namespace: string;
  /** Where this came from, for messages: `in-cluster` or `kubeconfig PATH (context NAME)`. */
  readonly source: string;
}

/** A file path (resolved against the kubeconfig's directory) or inline base64 data, as kubeconfig fields allow. */
export type KubeconfigMaterial = { readonly path: string } | { readonly data: string };

/** The parts of a kubeconfig that one context selects, before any file is read. */
export interface KubeconfigSelection {
  readonly context: string;
  readonly cluster: string;
  readonly user: string;
  readonly namespace?: string;
  readonly server: string;
  readonly certificateAuthority?: KubeconfigMaterial;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string;
  readonly clientCertificate?: KubeconfigMaterial;
  readonly clientKey?: KubeconfigMaterial;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly username?: string;
  readonly password?: string;
  /** An exec credential plugin that prints the bearer token. */
  readonly exec?: ExecPlugin;
}

type Doc = Record<string, unknown>;

function isRecord(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? text).trim();
}

function optionalString(source: string, where: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new KubeError('CONFIG_INVALID', `${source}: ${where} must be a string`);
  return value;
}

function named(source: string, doc: Doc, list: 'clusters' | 'users' | 'contexts', field: 'cluster' | 'user' | 'context', name: string): Doc {
  const entries = doc[list] ?? [];
  if (!Array.isArray(entries)) throw new KubeError('CONFIG_INVALID', `${source}: ${list} must be a list`);
  const entry: unknown = entries.find((e) => isRecord(e) && e.name === name);
  if (!isRecord(entry)) throw new KubeError('CONFIG_INVALID', `${source}: ${field} ${JSON.stringify(name)} is not in ${list}`);
  const body = entry[field] ?? {};
  if (!isRecord(body)) throw new KubeError('CONFIG_INVALID', `${source}: ${list} entry ${JSON.stringify(name)} has no ${field} mapping`);
  return body;
}

function material(source: string, where: string, path: unknown, data: unknown): KubeconfigMaterial | undefined {
  const inline = optionalString(source, `${where}-data`, data);
  if (inline !== undefined) return { data: inline };
  const file = optionalString(source, where, path);
  return file === undefined ? undefined : { path: file };
}

/**
 * Picks one context out of a kubeconfig document (pure: no file is read): `context`, else
 * `current-context`. Throws KubeError CONFIG_INVALID for bad YAML or structure and
 * CONFIG_UNSUPPORTED for `auth-provider` users and exec plugins Sigil cannot run. `source` names the file in messages.
 */
export function decodeKubeconfig(text: string, options: { readonly source: string; readonly context?: string }): KubeconfigSelection {
  const { source } = options;
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new KubeError('CONFIG_INVALID', `${source}: invalid YAML: ${firstLine(error instanceof Error ? error.message : String(error))}`, { cause: error });
  }
  if (!isRecord(doc)) throw new KubeError('CONFIG_INVALID', `${source}: a kubeconfig must be a YAML mapping`);
  const contextName = options.context ?? optionalString(source, 'current-context', doc['current-context']);
  if (contextName === undefined) throw new KubeError('CONFIG_INVALID', `${source}: no current-context is set; name a context`);
  const context = named(source, doc, 'contexts', 'context', contextName);
  const clusterName = optionalString(source, `context ${JSON.stringify(contextName)} cluster`, context.cluster);
  if (clusterName === undefined) throw new KubeError('CONFIG_INVALID', `${source}: context ${JSON.stringify(contextName)} names no cluster`);
  const cluster = named(source, doc, 'clusters', 'cluster', clusterName);
  const userName = optionalString(source, `context ${JSON.stringify(contextName)} user`, context.user);
  const user = userName === undefined ? {} : named(source, doc, 'users', 'user', userName);

  if (user['auth-provider'] !== undefined && user['auth-provider'] !== null) {
    const provider = isRecord(user['auth-provider']) && typeof user['auth-provider'].name === 'string' ? ` (${user['auth-provider'].name})` : '';
    throw new KubeError('CONFIG_UNSUPPORTED', `${source}: user ${JSON.stringify(userName)} authenticates with an auth-provider${provider}, which is not supported yet; use a token or a client certificate`);
  }

  if (typeof cluster['proxy-url'] === 'string' && cluster['proxy-url'] !== '') {
    throw new KubeError('CONFIG_UNSUPPORTED', `${source}: cluster ${JSON.stringify(clusterName)} sets proxy-url, which is not supported yet; connect to the API server directly`);
  }
  const server = optionalString(source, `cluster ${JSON.stringify(clusterName)} server`, cluster.server);
  if (server === undefined) throw new KubeError('CONFIG_INVALID', `${source}: cluster ${JSON.stringify(clusterName)} has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch (error) {
    throw new KubeError('CONFIG_INVALID', `${source}: cluster ${JSON.stringify(clusterName)} server ${JSON.stringify(server)} is not a URL`, { cause: error });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new KubeError('CONFIG_INVALID', `${source}: cluster ${JSON.stringify(clusterName)} server must be an https:// URL`);
  const insecure = cluster['insecure-skip-tls-verify'];
  if (insecure !== undefined && typeof insecure !== 'boolean') throw new KubeError('CONFIG_INVALID', `${source}: cluster ${JSON.stringify(clusterName)} insecure-skip-tls-verify must be true or false`);

  const selection: { -readonly [K in keyof KubeconfigSelection]: KubeconfigSelection[K] } = {
    context: contextName,
    cluster: clusterName,
    user: userName ?? '',
    server: server.replace(/\/+$/, ''),
    insecureSkipTlsVerify: insecure === true,
  };
  const set = <K extends keyof KubeconfigSelection>(key: K, value: KubeconfigSelection[K] | undefined) => {
    if (value !== undefined) selection[key] = value;
  };
  const u = `user ${JSON.stringify(userName)}`;
  const c = `cluster ${JSON.stringify(clusterName)}`;
  set('namespace', optionalString(source, `context ${JSON.stringify(contextName)} namespace`, context.namespace));
  set('certificateAuthority', material(source, `${c} certificate-authority`, cluster['certificate-authority'], cluster['certificate-authority-data']));
  set('tlsServerName', optionalString(source, `${c} tls-server-name`, cluster['tls-server-name']));
  set('clientCertificate', material(source, `${u} client-certificate`, user['client-certificate'], user['client-certificate-data']));
  set('clientKey', material(source, `${u} client-key`, user['client-key'], user['client-key-data']));
  set('token', optionalString(source, `${u} token`, user.token));
  set('tokenFile', optionalString(source, `${u} tokenFile`, user.tokenFile));
  set('username', optionalString(source, `${u} username`, user.username));
  set('password', optionalString(source, `${u} password`, user.password));
  if (user.exec !== undefined && user.exec !== null) set('exec', decodeExecPlugin(`${source}: ${u}`, user.exec));
  if ((selection.clientCertificate === undefined) !== (selection.clientKey === undefined)) {
    throw new KubeError('CONFIG_INVALID', `${source}: ${u} needs both client-certificate and client-key`);
  }
  if ((selection.username === undefined) !== (selection.password === undefined)) {
    throw new KubeError('CONFIG_INVALID', `${source}: ${u} needs both username and password`);
  }
  return Object.freeze(selection);
}

/** Options shared by the loaders. */
export interface TokenFileOptions {
  /** How often a token file is re-read (default TOKEN_REFRESH_MS, one minute). */
  readonly tokenRefreshMs?: number;
  /** The clock (default Date.now); tests move it to force a re-read. */
  readonly now?: () => number;
}

async function readConfigFile(source: string, what: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new KubeError('CONFIG_INVALID', `${source}: cannot read ${what} ${path} (${code})`, { cause: error });
  }
}

/**
 * A bearer token read from `path`, re-read once `refreshMs` has passed (bound service account
 * tokens rotate under a running pod). The first read happens now, so a missing file fails at
 * load; a later failed re-read keeps the last good token, as client-go's cached token source does.
 */
async function fileTokenSource(source: string, path: string, options: TokenFileOptions): Promise<BearerTokenSource> {
  const refreshMs = options.tokenRefreshMs ?? TOKEN_REFRESH_MS;
  const now = options.now ?? Date.now;
  const read = async () => {
    const token = (await readConfigFile(source, 'token file', path)).trim();
    if (token === '') throw new KubeError('CONFIG_INVALID', `${source}: token file ${path} is empty`);
    return token;
  };
  let current = { token: await read(), readAt: now() };
  let pending: Promise<string> | undefined;
  return async () => {
    if (now() - current.readAt < refreshMs) return current.token;
    pending ??= read()
      .then((token) => (current = { token, readAt: now() }).token)
      // Keep serving the last token; the next request after refreshMs tries the file again.
      .catch(() => (current = { token: current.token, readAt: now() }).token)
      .finally(() => (pending = undefined));
    return pending;
  };
}

/** Options of loadInClusterConfig. */
export interface InClusterOptions extends TokenFileOptions {
  /** The environment holding KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where token, ca.crt and namespace are (default SERVICE_ACCOUNT_DIR). */
  readonly serviceAccountDir?: string;
}

/** The pod's own service account: KUBERNETES_SERVICE_HOST/PORT and the mounted token, ca.crt and namespace. */
export async function loadInClusterConfig(options: InClusterOptions = {}): Promise<KubeConfig> {
  const env = options.env ?? process.env;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const source = 'in-cluster';
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new KubeError('CONFIG_INVALID', `${source}: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; not running in a pod?`);
  const tokenPath = join(dir, 'token');
  const token = await fileTokenSource(source, tokenPath, options);
  const caCertificate = await readConfigFile(source, 'service account CA', join(dir, 'ca.crt'));
  let namespace = 'default';
  try {
    namespace = (await readFile(join(dir, 'namespace'), 'utf8')).trim() || 'default';
  } catch {
    // client-go falls back to "default" when the namespace file is absent, and so does Sigil
  }
  return Object.freeze({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    caCertificate,
    insecureSkipTlsVerify: false,
    auth: Object.freeze({ type: 'bearer' as const, token, tokenFile: tokenPath }),
    namespace,
    source,
  });
}

/** Options of loadKubeconfig. */
export interface KubeconfigOptions extends TokenFileOptions {
  /** The kubeconfig file; default the first entry of KUBECONFIG, else ~/.kube/config. */
  readonly path?: string;
  /** The context to use instead of current-context. */
  readonly context?: string;
  /** The environment holding KUBECONFIG (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The home directory for ~/.kube/config (default os.homedir()). */
  readonly home?: string;
}

/** The kubeconfig path the options and environment name: `path`, KUBECONFIG's first entry, ~/.kube/config. */
export function kubeconfigPath(options: Pick<KubeconfigOptions, 'path' | 'env' | 'home'> = {}): string {
  if (options.path !== undefined) return options.path;
  const env = options.env ?? process.env;
  // kubectl merges every KUBECONFIG entry; Sigil reads the first, which is where current-context usually lives.
  const first = env.KUBECONFIG?.split(delimiter).find((entry) => entry !== '');
  return first ?? join(options.home ?? homedir(), '.kube', 'config');
}

async function readMaterial(source: string, what: string, base: string, m: KubeconfigMaterial | undefined): Promise<string | undefined> {
  if (m === undefined) return undefined;
  if ('data' in m) {
    const text = Buffer.from(m.data, 'base64').toString('utf8');
    if (!text.includes('-----BEGIN')) throw new KubeError('CONFIG_INVALID', `${source}: ${what}-data is not base64 of PEM`);
    return text;
  }
  return readConfigFile(source, what, isAbsolute(m.path) ? m.path : resolve(base, m.path));
}

/** Reads a kubeconfig, selects a context, and reads the files it names (relative to the kubeconfig's directory). */
export async function loadKubeconfig(options: KubeconfigOptions = {}): Promise<KubeConfig> {
  const path = kubeconfigPath(options);
  const base = dirname(path);
  const text = await readConfigFile(`kubeconfig ${path}`, 'kubeconfig', path);
  const selection = decodeKubeconfig(text, { source: `kubeconfig ${path}`, ...(options.context === undefined ? {} : { context: options.context }) });
  const source = `kubeconfig ${path} (context ${selection.context})`;
  let auth: KubeAuth = { type: 'none' };
  if (selection.token !== undefined) {
    const token = selection.token;
    auth = { type: 'bearer', token: async () => token };
  } else if (selection.tokenFile !== undefined) {
    const tokenFile = isAbsolute(selection.tokenFile) ? selection.tokenFile : resolve(base, selection.tokenFile);
    auth = { type: 'bearer', token: await fileTokenSource(source, tokenFile, options), tokenFile };
  } else if (selection.exec !== undefined) {
    auth = { type: 'bearer', token: await execTokenSource(source, selection.exec, { base, ...(options.env === undefined ? {} : { env: options.env }), ...(options.now === undefined ? {} : { now: options.now }) }) };
  } else if (selection.username !== undefined && selection.password !== undefined) {
    auth = { type: 'basic', username: selection.username, password: selection.password };
  }
  const config: { -readonly [K in keyof KubeConfig]: KubeConfig[K] } = {
    server: selection.server,
    insecureSkipTlsVerify: selection.insecureSkipTlsVerify,
    auth: Object.freeze(auth),
    namespace: selection.namespace ?? 'default',
    source,
  };
  const ca = await readMaterial(source, 'certificate-authority', base, selection.certificateAuthority);
  if (ca !== undefined) config.caCertificate = ca;
  if (selection.tlsServerName !== undefined) config.tlsServerName = selection.tlsServerName;
  const cert = await readMaterial(source, 'client-certificate', base, selection.clientCertificate);
  const key = await readMaterial(source, 'client-key', base, selection.clientKey);
  if (cert !== undefined && key !== undefined) {
    config.clientCertificate = cert;
    config.clientKey = key;
  }
  return Object.freeze(config);
}

/** Options of loadDefaultKubeConfig: those of both loaders. */
export interface DefaultKubeConfigOptions extends KubeconfigOptions, InClusterOptions {}

/**
 * The configuration a process should use, in client-go's order: an explicit kubeconfig path,
 * else KUBECONFIG, else the in-cluster service account when KUBERNETES_SERVICE_HOST is set,
 * else ~/.kube/config.
 */
export async function loadDefaultKubeConfig(options: DefaultKubeConfigOptions = {}): Promise<KubeConfig> {
  const env = options.env ?? process.env;
  if (options.path === undefined && !env.KUBECONFIG && env.KUBERNETES_SERVICE_HOST) return loadInClusterConfig(options);
  return loadKubeconfig(options);
}
