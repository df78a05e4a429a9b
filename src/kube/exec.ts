// kubeconfig exec credential plugins (client-go's client-authentication API, ExecCredential
// v1 / v1beta1): `aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin` and the like. The
// plugin is run without a terminal; its bearer token is kept until shortly before it expires.

import { execFile } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import type { BearerTokenSource } from './config.js';
import { KubeError } from './errors.js';

/** The client-authentication API versions Sigil speaks. */
const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;

/** How long a plugin may run. */
const EXEC_TIMEOUT_MS = 30_000;
/** A token is renewed this long before its expirationTimestamp. */
const EXPIRY_MARGIN_MS = 30_000;
/** A token without an expirationTimestamp is renewed after this long (client-go waits for a 401, which Sigil's client does not act on). */
const UNDATED_TOKEN_TTL_MS = 5 * 60_000;
/** After a failed renewal while the token is still valid, the plugin is tried again this much later. */
const RETRY_AFTER_FAILURE_MS = 10_000;
/** Most output a plugin may print. */
const MAX_OUTPUT_BYTES = 1024 * 1024;

/** A user's `exec` block, validated. */
export interface ExecPlugin {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly apiVersion: (typeof EXEC_API_VERSIONS)[number];
  readonly installHint?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 300);
}

/** Validates a kubeconfig user's `exec` block; `where` names the user in messages. Throws KubeError. */
export function decodeExecPlugin(where: string, value: unknown): ExecPlugin {
  const invalid = (problem: string) => new KubeError('CONFIG_INVALID', `${where} exec: ${problem}`);
  if (!isRecord(value)) throw invalid('must be a mapping');
  const { command, args, env, apiVersion, installHint, interactiveMode } = value;
  if (typeof command !== 'string' || command === '') throw invalid('command must be a non-empty string');
  const version = EXEC_API_VERSIONS.find((v) => v === apiVersion);
  if (version === undefined) throw new KubeError('CONFIG_UNSUPPORTED', `${where} exec: apiVersion ${JSON.stringify(apiVersion ?? null)} is not supported; use ${EXEC_API_VERSIONS.join(' or ')}`);
  if (args !== undefined && args !== null && (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))) throw invalid('args must be a list of strings');
  const pairs: { name: string; value: string }[] = [];
  if (env !== undefined && env !== null) {
    if (!Array.isArray(env)) throw invalid('env must be a list of {name, value}');
    for (const [i, entry] of env.entries()) {
      if (!isRecord(entry) || typeof entry.name !== 'string' || entry.name === '' || typeof entry.value !== 'string') throw invalid(`env[${i}] must have a string name and value`);
      pairs.push({ name: entry.name, value: entry.value });
    }
  }
  // Sigil runs as a server: there is no terminal to ask anyone anything.
  if (interactiveMode === 'Always') throw new KubeError('CONFIG_UNSUPPORTED', `${where} exec: interactiveMode Always needs a terminal, which a server has not; use a plugin that runs unattended`);
  return Object.freeze({
    command,
    args: Object.freeze([...((args) ?? [])]),
    env: Object.freeze(pairs),
    apiVersion: version,
    ...(typeof installHint === 'string' && installHint !== '' ? { installHint } : {}),
  });
}

/** Options of execTokenSource. */
export interface ExecTokenOptions {
  /** The kubeconfig's directory: a command with a slash is resolved against it, as client-go does. */
  readonly base: string;
  /** The environment the plugin inherits (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly now?: () => number;
}

interface Issued {
  readonly token: string;
  /** When to run the plugin again. */
  readonly renewAt: number;
  /** When the token stops being usable (Infinity when the plugin did not say). */
  readonly expiresAt: number;
}

function run(source: string, plugin: ExecPlugin, options: ExecTokenOptions): Promise<string> {
  const command = plugin.command.includes('/') && !isAbsolute(plugin.command) ? resolve(options.base, plugin.command) : plugin.command;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env ?? process.env)) if (v !== undefined) env[k] = v;
  for (const { name, value } of plugin.env) env[name] = value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({ kind: 'ExecCredential', apiVersion: plugin.apiVersion, spec: { interactive: false } });
  return new Promise((resolvePromise, reject) => {
    execFile(command, [...plugin.args], { env, timeout: EXEC_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, windowsHide: true }, (error, stdout, stderr) => {
      if (error === null) return resolvePromise(stdout);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return reject(new KubeError('CONFIG_INVALID', `${source}: exec plugin ${plugin.command} was not found${plugin.installHint === undefined ? '' : `: ${firstLine(plugin.installHint)}`}`, { cause: error }));
      const said = firstLine(stderr) || firstLine(stdout) || error.message;
      const how = error.killed ? `was stopped after ${EXEC_TIMEOUT_MS / 1000}s` : `exited with ${typeof error.code === 'number' ? error.code : (error.signal ?? 'an error')}`;
      reject(new KubeError('CONFIG_INVALID', `${source}: exec plugin ${plugin.command} ${how}: ${said}`, { cause: error }));
    });
  });
}

/** Reads the ExecCredential a plugin printed. */
function decodeCredential(source: string, plugin: ExecPlugin, stdout: string, now: number): Issued {
  const bad = (problem: string) => new KubeError('CONFIG_INVALID', `${source}: exec plugin ${plugin.command} printed ${problem}`);
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw bad('something that is not JSON');
  }
  if (!isRecord(doc) || doc.kind !== 'ExecCredential') throw bad('JSON that is not an ExecCredential');
  if (doc.apiVersion !== plugin.apiVersion) throw bad(`an ExecCredential of ${JSON.stringify(doc.apiVersion ?? null)}, not the ${plugin.apiVersion} the kubeconfig asks for`);
  const status = doc.status;
  if (!isRecord(status)) throw bad('an ExecCredential without a status');
  if (status.clientCertificateData !== undefined || status.clientKeyData !== undefined) {
    throw new KubeError('CONFIG_UNSUPPORTED', `${source}: exec plugin ${plugin.command} returns a client certificate, which is not supported yet; use a plugin that returns a token`);
  }
  if (typeof status.token !== 'string' || status.token === '') throw bad('an ExecCredential without a token');
  let expiresAt = Number.POSITIVE_INFINITY;
  if (status.expirationTimestamp !== undefined && status.expirationTimestamp !== null) {
    const at = typeof status.expirationTimestamp === 'string' ? Date.parse(status.expirationTimestamp) : Number.NaN;
    if (!Number.isFinite(at)) throw bad(`an expirationTimestamp that is not an RFC 3339 time: ${JSON.stringify(status.expirationTimestamp)}`);
    expiresAt = at;
  }
  const renewAt = Number.isFinite(expiresAt) ? Math.max(now, expiresAt - EXPIRY_MARGIN_MS) : now + UNDATED_TOKEN_TTL_MS;
  return { token: status.token, renewAt, expiresAt };
}

/**
 * A bearer token from an exec plugin. The plugin runs now (so a broken one fails at start-up),
 * again once the token nears its expirationTimestamp (or after five minutes when it gives none);
 * concurrent callers share one run, and a failed renewal keeps the last token while it is valid.
 */
export async function execTokenSource(source: string, plugin: ExecPlugin, options: ExecTokenOptions): Promise<BearerTokenSource> {
  const now = options.now ?? Date.now;
  const issue = async (): Promise<Issued> => decodeCredential(source, plugin, await run(source, plugin, options), now());
  let current = await issue();
  let pending: Promise<string> | undefined;
  return async () => {
    if (now() < current.renewAt) return current.token;
    pending ??= issue()
      .then((issued) => (current = issued).token)
      .catch((error: unknown) => {
        if (now() >= current.expiresAt) throw error;
        // Still valid: keep it, and try the plugin again in a little while rather than on every request.
        current = { ...current, renewAt: Math.min(current.expiresAt, now() + RETRY_AFTER_FAILURE_MS) };
        return current.token;
      })
      .finally(() => (pending = undefined));
    return pending;
  };
}
