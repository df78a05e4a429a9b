// `sigil admission manifests`: prints the webhook's install manifests (and Sigil's CRDs) to stdout,
// so `sigil admission manifests --tls-dir DIR | kubectl apply -f -` installs it.

import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  ADMISSION_MANIFEST_DEFAULTS,
  ADMISSION_SERVICE,
  buildAdmissionManifests,
  checkAdmissionManifestOptions,
  defaultAdmissionImage,
  encodeManifestsJson,
  encodeManifestsYaml,
  ensureTlsDir,
  expandPaths,
  generateServingTls,
  loadPolicyFiles,
  ManifestOptionError,
  MAX_WEBHOOK_TIMEOUT_SECONDS,
  servingNames,
  TLS_DIR_FILES,
  type AdmissionManifestOptions,
  type PolicyFile,
} from '../../server/admission/index.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { VERSION } from '../version.js';

/** Flags of `sigil admission manifests` as commander parsed them (`--no-crds` sets `crds: false`). */
export interface AdmissionManifestsFlags {
  readonly namespace?: string;
  readonly image?: string;
  readonly replicas?: number;
  readonly tlsDir?: string;
  readonly failurePolicy?: 'Fail' | 'Ignore';
  readonly timeoutSeconds?: number;
  readonly policies?: readonly string[];
  readonly crdsOnly?: boolean;
  readonly crds?: boolean;
  readonly output?: 'yaml' | 'json';
}

/** The flag behind each option, so an option error names what the user typed. */
const FLAG_OF: Readonly<Record<string, string>> = {
  namespace: '--namespace',
  image: '--image',
  replicas: '--replicas',
  tls: '--tls-dir',
  'tls.caBundle': `--tls-dir ${TLS_DIR_FILES.ca}`,
  'tls.cert': `--tls-dir ${TLS_DIR_FILES.cert}`,
  'tls.key': `--tls-dir ${TLS_DIR_FILES.key}`,
  failurePolicy: '--failure-policy',
  timeoutSeconds: '--timeout-seconds',
  policies: '--policies',
};

const firstLine = (error: unknown) => (error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error));

/**
 * The CA and serving material in `dir`, generated when it holds none. ensureTlsDir generates for
 * the default namespace; for another one the certificate is generated here for that Service's names.
 */
async function readTlsDir(dir: string, namespace: string): Promise<{ caBundle: string; cert: string; key: string }> {
  if (namespace !== ADMISSION_SERVICE.namespace) {
    const present = await readdir(dir).catch(() => [] as string[]); // absent: created below
    if (!Object.values(TLS_DIR_FILES).some((f) => present.includes(f))) {
      await mkdir(dir, { recursive: true });
      const tls = generateServingTls(servingNames({ name: ADMISSION_SERVICE.name, namespace }), new Date());
      await writeFile(join(dir, TLS_DIR_FILES.key), tls.key, { mode: 0o600 });
      await writeFile(join(dir, TLS_DIR_FILES.cert), tls.cert);
      await writeFile(join(dir, TLS_DIR_FILES.ca), tls.caCert);
    }
  }
  const { cert, key } = await ensureTlsDir(dir, new Date());
  const caBundle = await readFile(join(dir, TLS_DIR_FILES.ca), 'utf8');
  return { caBundle, cert: cert.toString('utf8'), key: key.toString('utf8') };
}

/**
 * Policy files (directories expanded), each checked to load as the server will load it, and the
 * largest webhookTimeoutSeconds among them: the server times its verification from it (as
 * Kyverno sizes its webhooks from it), so the webhook's timeoutSeconds must not be shorter.
 */
async function readPolicies(paths: readonly string[]): Promise<{ files: PolicyFile[]; timeout?: { seconds: number; policy: string } }> {
  const { policies } = await loadPolicyFiles(paths);
  let timeout: { seconds: number; policy: string } | undefined;
  for (const policy of policies) {
    const seconds = policy.spec.webhookTimeoutSeconds;
    if (seconds !== undefined && (timeout === undefined || seconds > timeout.seconds)) timeout = { seconds, policy: policy.metadata.name };
  }
  const files = await Promise.all((await expandPaths(paths)).map(async (file) => ({ name: basename(file), text: await readFile(file, 'utf8') })));
  return { files, ...(timeout === undefined ? {} : { timeout }) };
}

/** Runs `sigil admission manifests`: prints the objects as multi-document YAML or a JSON List. */
export async function runAdmissionManifests(ctx: CommandContext, flags: AdmissionManifestsFlags): Promise<void> {
  const crdsOnly = flags.crdsOnly ?? false;
  const crds = flags.crds ?? true;
  if (crdsOnly && !crds) throw new CliError('--crds-only and --no-crds contradict each other; pass one');
  const namespace = flags.namespace ?? ADMISSION_SERVICE.namespace;
  const options: AdmissionManifestOptions = {
    namespace,
    image: flags.image ?? defaultAdmissionImage(VERSION),
    version: VERSION,
    crdsOnly,
    crds,
    ...(flags.replicas === undefined ? {} : { replicas: flags.replicas }),
    ...(flags.failurePolicy === undefined ? {} : { failurePolicy: flags.failurePolicy }),
    ...(flags.timeoutSeconds === undefined ? {} : { timeoutSeconds: flags.timeoutSeconds }),
  };
  let objects;
  try {
    // Every flag is checked before anything is written, so a bad one leaves --tls-dir untouched.
    checkAdmissionManifestOptions(options);
    if (!crdsOnly && (flags.tlsDir === undefined || flags.tlsDir === '')) {
      throw new CliError('--tls-dir DIR is required: the webhooks need the CA of the serving certificate (an empty directory gets a new CA and certificate)');
    }
    const policies = crdsOnly || flags.policies === undefined ? undefined : await readPolicies(flags.policies);
    const timeout = policies?.timeout;
    if (flags.timeoutSeconds !== undefined && timeout !== undefined && timeout.seconds > flags.timeoutSeconds) {
      // The apiserver would give up on a review before the server's own deadline.
      throw new CliError(`--timeout-seconds ${flags.timeoutSeconds}: policy ${timeout.policy} sets webhookTimeoutSeconds ${timeout.seconds}, and the apiserver would give up first; raise --timeout-seconds or lower the policy's`);
    }
    const timeoutSeconds = flags.timeoutSeconds ?? Math.min(timeout?.seconds ?? ADMISSION_MANIFEST_DEFAULTS.timeoutSeconds, MAX_WEBHOOK_TIMEOUT_SECONDS);
    const tls = crdsOnly || flags.tlsDir === undefined ? undefined : await readTlsDir(flags.tlsDir, namespace);
    objects = buildAdmissionManifests({ ...options, timeoutSeconds, ...(tls === undefined ? {} : { tls }), policies: policies?.files ?? [] });
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof ManifestOptionError) throw new CliError(`${FLAG_OF[error.option] ?? error.option}: ${error.problem}`, { cause: error });
    throw new CliError(firstLine(error), { code: 'FAILED', cause: error });
  }
  ctx.stdout.write(flags.output === 'json' ? encodeManifestsJson(objects) : encodeManifestsYaml(objects));
}
