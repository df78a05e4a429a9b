// The admission server's config loader: turns `sigil admission serve` flags into a frozen config
// (STYLE.md rule 11: only loaders see flags and files) — policies, TLS material, the address and
// the cluster connection — and the verifier wiring, registry credentials from Secrets included.

import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createNotaryImageVerifier,
  decodePolicyDocuments,
  type AdmissionObserver,
  type ImageCredentials,
  type KyvernoPolicy,
  type NotaryImageVerifierOptions,
  type PolicyException,
  type VerificationCache,
  type VerifyImage,
} from '../../admission/index.js';
import { loadInClusterConfig, loadKubeconfig, type KubeConfig } from '../../kube/index.js';
import { createCertificate, encodeCertificatesPem } from '../../pki/index.js';
import type { RegistryClient } from '../../registry/index.js';
import { parseAddr } from '../registry/index.js';

/** Default address: loopback only, so a webhook started without thought is not on the network. */
export const DEFAULT_ADMISSION_ADDR = '127.0.0.1:9443';

/** The Service the install manifests create; its DNS names go into a generated serving certificate. */
export const ADMISSION_SERVICE = Object.freeze({ name: 'sigil-admission', namespace: 'sigil-system' });

/** File names in `--tls-dir`: `ca.crt` is the webhook configuration's caBundle. */
export const TLS_DIR_FILES = Object.freeze({ ca: 'ca.crt', cert: 'tls.crt', key: 'tls.key' });

/** How long a generated serving certificate (and its CA) is valid. */
const GENERATED_VALIDITY_MS = 365 * 24 * 3600 * 1000;

/** Flags as the CLI parsed them. */
export interface AdmissionServeFlags {
  readonly addr?: string;
  readonly policies?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsDir?: string;
  readonly reportsDir?: string;
  /** Connect to the cluster of this kubeconfig file. */
  readonly kubeconfig?: string;
  /** The kubeconfig context (default its current-context); without `kubeconfig`, of KUBECONFIG or ~/.kube/config. */
  readonly context?: string;
  /** Connect with the pod's service account. */
  readonly inCluster?: boolean;
  /** Sigil's own namespace (connected only). */
  readonly namespace?: string;
}

/** Where a connected server reaches its cluster. */
export interface AdmissionClusterConfig {
  readonly kube: KubeConfig;
  /** Sigil's own namespace: where a plain `imageRegistryCredentials.secrets` name is read, as Kyverno reads it in its own. */
  readonly namespace: string;
}

/** Policies and exceptions read from files. */
export interface LoadedPolicies {
  readonly policies: readonly KyvernoPolicy[];
  readonly exceptions: readonly PolicyException[];
  /** The files they came from, in load order. */
  readonly files: readonly string[];
}

/** Validated settings of `sigil admission serve`. */
export interface AdmissionServeConfig {
  readonly host: string;
  readonly port: number;
  readonly policies: LoadedPolicies;
  /** PEM serving chain and key. */
  readonly tls: { readonly cert: Buffer; readonly key: Buffer };
  /** `--tls-dir`: where the generated or reused material lives, with `ca.crt` for the caBundle. */
  readonly tlsDir?: string;
  /** True when this run generated the TLS material (the directory was empty). */
  readonly tlsGenerated: boolean;
  /** The files the serving chain and key were read from, watched for renewal. */
  readonly tlsFiles: { readonly cert: string; readonly key: string };
  /** The `--policies` path (file or directory), watched for changes; undefined when connected without one. */
  readonly policyPath?: string;
  /** Set when connected (`--kubeconfig`, `--context` or `--in-cluster`). */
  readonly cluster?: AdmissionClusterConfig;
  /** `--reports-dir`: PolicyReports of admitted resources are written there as JSON. */
  readonly reportsDir?: string;
}

/** Files named on the command line, directories expanded to their `.yaml`, `.yml` and `.json` files (sorted). */
export async function expandPaths(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) {
      const names = (await readdir(path)).filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
      out.push(...names.map((n) => join(path, n)));
    } else {
      out.push(path);
    }
  }
  return out;
}

/** Reads every ClusterPolicy, Policy and PolicyException in `paths` (files or directories); throws PolicyError naming file and path. */
export async function loadPolicyFiles(paths: readonly string[]): Promise<LoadedPolicies> {
  const policies: KyvernoPolicy[] = [];
  const exceptions: PolicyException[] = [];
  const files = await expandPaths(paths);
  for (const file of files) {
    for (const document of decodePolicyDocuments(await readFile(file, 'utf8'), file)) {
      if (document.kind === 'PolicyException') exceptions.push(document);
      else policies.push(document);
    }
  }
  return Object.freeze({ policies: Object.freeze(policies), exceptions: Object.freeze(exceptions), files: Object.freeze(files) });
}

/** What the registry verifier shares across requests besides the client. */
export interface RegistryVerifierOptions {
  /** Told about cache lookups, registry calls and verifications (the server's AdmissionMetrics). */
  readonly observer?: AdmissionObserver;
  /** The digest-keyed verdict cache; `false` turns it off. Default: one with Kyverno's 1 h TTL and 1000 entries. */
  readonly cache?: VerificationCache | false;
  /** Connected: credentials from the entry's `imageRegistryCredentials.secrets` and the Pod's `imagePullSecrets` (secretCredentialsFor). Default: the client's own only. */
  readonly credentialsFor?: NotaryImageVerifierOptions['credentialsFor'];
  /** Most registry clients kept for credential sets other than the server's own (default MAX_CREDENTIAL_CLIENTS). */
  readonly maxCredentialClients?: number;
}

/** Clients kept for Secret credential sets; each shares the server's connection pool, so one more costs only its token cache. */
export const MAX_CREDENTIAL_CLIENTS = 256;

/**
 * The Notary verifier over `client`'s registry repositories (one repository per image). With
 * `credentialsFor`, an image whose credentials come from Secrets is opened through a client for that
 * credential set (client.withCredentials, the same connection pool), kept for reuse.
 */
export function createRegistryImageVerifier(client: RegistryClient, options: RegistryVerifierOptions = {}): VerifyImage {
  const max = options.maxCredentialClients ?? MAX_CREDENTIAL_CLIENTS;
  const clients = new Map<string, RegistryClient>();
  const clientFor = (credentials: ImageCredentials | undefined): RegistryClient => {
    if (credentials?.store === undefined) return client;
    let found = clients.get(credentials.key);
    if (found !== undefined) clients.delete(credentials.key);
    found ??= client.withCredentials(credentials.store);
    // Least recently used first out; a dropped one holds only its token cache.
    clients.set(credentials.key, found);
    for (const oldest of clients.keys()) {
      if (clients.size <= max) break;
      clients.delete(oldest);
    }
    return found;
  };
  return createNotaryImageVerifier({
    openRepository: (image, { credentials }) => clientFor(credentials).repository(image.target.registry, image.target.repository),
    ...(options.credentialsFor === undefined ? {} : { credentialsFor: options.credentialsFor }),
    ...(options.observer === undefined ? {} : { observer: options.observer }),
    ...(options.cache === undefined ? {} : { cache: options.cache }),
  });
}

/** The names a generated serving certificate covers: loopback and the Service's DNS names. */
export function servingNames(service: { readonly name: string; readonly namespace: string } = ADMISSION_SERVICE): { dns: string[]; ip: string[] } {
  const base = `${service.name}.${service.namespace}`;
  return { dns: ['localhost', service.name, base, `${base}.svc`, `${base}.svc.cluster.local`], ip: ['127.0.0.1', '::1'] };
}

/** A CA and a serving certificate it issued, PEM. */
export interface GeneratedTls {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/** Generates a P-256 CA and a serving certificate (serverAuth) for `names`, valid a year from `now`. */
export function generateServingTls(names: { readonly dns: readonly string[]; readonly ip: readonly string[] }, now: Date): GeneratedTls {
  const notBefore = new Date(now.getTime() - 5 * 60 * 1000); // clock skew between replicas and the apiserver
  const notAfter = new Date(now.getTime() + GENERATED_VALIDITY_MS);
  const caKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ca = createCertificate({
    subject: 'O=Sigil, CN=sigil-admission CA',
    publicKey: caKey.publicKey,
    signingKey: caKey.privateKey,
    notBefore,
    notAfter,
    basicConstraints: { cA: true, pathLenConstraint: 0 },
    keyUsage: { usages: ['keyCertSign', 'cRLSign'] },
  });
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const leaf = createCertificate({
    subject: `O=Sigil, CN=${names.dns[0] ?? 'sigil-admission'}`,
    publicKey: key.publicKey,
    issuer: { certificate: ca, privateKey: caKey.privateKey },
    notBefore,
    notAfter,
    basicConstraints: { cA: false, critical: false },
    keyUsage: { usages: ['digitalSignature'] },
    extKeyUsage: { oids: ['1.3.6.1.5.5.7.3.1'] },
    subjectAltNames: names,
  });
  return { caCert: encodeCertificatesPem([ca]), cert: encodeCertificatesPem([leaf, ca]), key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

async function readFlagFile(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new Error(`${flag} ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * The TLS material in `dir`: reused when ca.crt, tls.crt and tls.key are all there, generated
 * (and written, the key mode 0600) when none is; a directory holding only some is refused.
 */
export async function ensureTlsDir(dir: string, now: Date): Promise<{ cert: Buffer; key: Buffer; generated: boolean }> {
  await mkdir(dir, { recursive: true });
  const present = new Set(await readdir(dir));
  const wanted = Object.values(TLS_DIR_FILES);
  const have = wanted.filter((f) => present.has(f));
  if (have.length === wanted.length) {
    return { cert: await readFlagFile('--tls-dir', join(dir, TLS_DIR_FILES.cert)), key: await readFlagFile('--tls-dir', join(dir, TLS_DIR_FILES.key)), generated: false };
  }
  if (have.length > 0) throw new Error(`--tls-dir ${dir}: has ${have.join(', ')} but not ${wanted.filter((f) => !present.has(f)).join(', ')}; restore them or empty the directory to generate new ones`);
  const tls = generateServingTls(servingNames(), now);
  await writeFile(join(dir, TLS_DIR_FILES.key), tls.key, { mode: 0o600 });
  await writeFile(join(dir, TLS_DIR_FILES.cert), tls.cert);
  await writeFile(join(dir, TLS_DIR_FILES.ca), tls.caCert);
  return { cert: Buffer.from(tls.cert), key: Buffer.from(tls.key), generated: true };
}

/** Builds the config from flags: reads the policies and the TLS files (or the --tls-dir, generating it when empty). */
export async function loadAdmissionServeConfig(flags: AdmissionServeFlags, now: Date = new Date()): Promise<AdmissionServeConfig> {
  const { host, port } = parseAddr(flags.addr ?? DEFAULT_ADMISSION_ADDR);
  const connected = flags.kubeconfig !== undefined || flags.context !== undefined || flags.inCluster === true;
  if (flags.inCluster === true && (flags.kubeconfig !== undefined || flags.context !== undefined)) throw new Error('use either --in-cluster or --kubeconfig/--context, not both');
  if (!connected && flags.namespace !== undefined) throw new Error('--namespace is for a connected server: add --kubeconfig FILE, --context NAME or --in-cluster');
  if (flags.namespace === '') throw new Error('--namespace: give a namespace name');
  if (flags.policies === undefined && !connected) {
    throw new Error('--policies PATH is required: a Kyverno policy file or a directory of them (or connect with --kubeconfig, --context or --in-cluster to enforce sigil.dev policies)');
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  if (flags.tlsCert !== undefined && flags.tlsDir !== undefined) throw new Error('use either --tls-cert/--tls-key or --tls-dir, not both');
  if (flags.tlsCert === undefined && flags.tlsDir === undefined) throw new Error('TLS is required: pass --tls-cert and --tls-key, or --tls-dir DIR to generate a CA and serving certificate there');
  if (flags.reportsDir === '') throw new Error('--reports-dir: give a directory');
  const policies = flags.policies === undefined ? NO_POLICIES : await loadPolicyFiles([flags.policies]);
  const cluster = connected ? await loadClusterConfig(flags) : undefined;
  const common = {
    host,
    port,
    policies,
    ...(flags.policies === undefined ? {} : { policyPath: flags.policies }),
    ...(flags.reportsDir === undefined ? {} : { reportsDir: flags.reportsDir }),
    ...(cluster === undefined ? {} : { cluster }),
  };
  if (flags.tlsCert !== undefined && flags.tlsKey !== undefined) {
    const tls = await readTlsPair({ cert: flags.tlsCert, key: flags.tlsKey });
    return Object.freeze({ ...common, tls, tlsGenerated: false, tlsFiles: { cert: flags.tlsCert, key: flags.tlsKey } });
  }
  const dir = flags.tlsDir ?? '';
  const { cert, key, generated } = await ensureTlsDir(dir, now);
  return Object.freeze({ ...common, tls: { cert, key }, tlsDir: dir, tlsGenerated: generated, tlsFiles: { cert: join(dir, TLS_DIR_FILES.cert), key: join(dir, TLS_DIR_FILES.key) } });
}

const NO_POLICIES: LoadedPolicies = Object.freeze({ policies: Object.freeze([]), exceptions: Object.freeze([]), files: Object.freeze([]) });

/** The cluster connection of `--kubeconfig`/`--context` or `--in-cluster`, and Sigil's namespace: `--namespace`, else the pod's (in-cluster), else sigil-system. */
async function loadClusterConfig(flags: AdmissionServeFlags): Promise<AdmissionClusterConfig> {
  const kube =
    flags.inCluster === true
      ? await loadInClusterConfig()
      : await loadKubeconfig({ ...(flags.kubeconfig === undefined ? {} : { path: flags.kubeconfig }), ...(flags.context === undefined ? {} : { context: flags.context }) });
  const namespace = flags.namespace ?? (flags.inCluster === true ? kube.namespace : ADMISSION_SERVICE.namespace);
  return Object.freeze({ kube, namespace });
}

/** Reads a serving chain and key (as --tls-cert and --tls-key name them). */
export async function readTlsPair(files: { readonly cert: string; readonly key: string }): Promise<{ cert: Buffer; key: Buffer }> {
  return { cert: await readFlagFile('--tls-cert', files.cert), key: await readFlagFile('--tls-key', files.key) };
}
