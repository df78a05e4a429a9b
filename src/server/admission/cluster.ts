// What `sigil admission serve` reads from and writes to its cluster: namespace labels, policies from
// Sigil's CRDs (sigil.dev/v1, Kyverno's kyverno.io/v1 and v2 spec), registry credentials from Secrets, and PolicyReports (wgpolicyk8s.io/v1alpha2).

import { decodePolicyDocuments, labelMap, PolicyError, POLICY_REPORT_API_VERSION, type KyvernoPolicy, type PolicyDocument, type PolicyException, type PolicyReport } from '../../admission/index.js';
import { isKubeError, KubeError, ListWatch, NAMESPACES, resourcePath, SECRETS, type KubeClient, type KubeObject, type ListWatchChange, type ListWatchSource, type ResourceType } from '../../kube/index.js';
import type { CredentialStore, Credentials } from '../../registry/index.js';
import { SIGIL_CRD_GROUP } from './manifests.js';
import type { AdmissionPolicySet } from './server.js';

// ---------------------------------------------------------------------------------------------
// namespace labels

/** Options of NamespaceLabelCache. */
export interface NamespaceLabelCacheOptions {
  readonly client: ListWatchSource;
  /** Watch failures it recovers from (reconnects, relists). */
  readonly onError?: (error: KubeError) => void;
  /** Called after each change, e.g. to drop cached decisions. */
  readonly onChange?: () => void;
}

/**
 * Every namespace's labels, kept current by a ListWatch, for the engine's `namespaceSelector`
 * (Kyverno reads them from its namespace lister; standalone Sigil knows only `kubernetes.io/metadata.name`).
 */
export class NamespaceLabelCache {
  /** Resolves after the first list. */
  readonly synced: Promise<void>;
  readonly #watch: ListWatch;
  readonly #labels = new Map<string, Readonly<Record<string, string>>>();

  constructor(options: NamespaceLabelCacheOptions) {
    this.#watch = new ListWatch({
      client: options.client,
      path: resourcePath(NAMESPACES),
      onChange: (changes) => {
        for (const change of changes) {
          if (change.type === 'DELETED') this.#labels.delete(change.key);
          else this.#labels.set(change.key, Object.freeze({ ...labelMap(change.object.metadata.labels) }));
        }
        options.onChange?.();
      },
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    this.synced = this.#watch.synced;
  }

  /** Starts watching. */
  start(): this {
    this.#watch.start();
    return this;
  }

  /** Stops watching; the last labels stay readable. */
  async stop(): Promise<void> {
    await this.#watch.stop();
  }

  /** The labels of namespace `name`, or undefined when the cache has not seen it (not synced yet, or just created). */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    return this.#labels.get(name);
  }
}

// ---------------------------------------------------------------------------------------------
// policies from sigil.dev CRDs

// The CRDs themselves are built in manifests.ts (buildSigilCrds); these are the same names as the client addresses them.

/** `clusterpolicies.sigil.dev`: Kyverno's ClusterPolicy spec, cluster-scoped. */
export const SIGIL_CLUSTER_POLICIES: ResourceType = Object.freeze({ group: SIGIL_CRD_GROUP, version: 'v1', plural: 'clusterpolicies', namespaced: false });
/** `policies.sigil.dev`: Kyverno's Policy spec, namespaced. */
export const SIGIL_POLICIES: ResourceType = Object.freeze({ group: SIGIL_CRD_GROUP, version: 'v1', plural: 'policies', namespaced: true });
/** `policyexceptions.sigil.dev`: Kyverno's kyverno.io/v2 PolicyException spec, namespaced. */
export const SIGIL_POLICY_EXCEPTIONS: ResourceType = Object.freeze({ group: SIGIL_CRD_GROUP, version: 'v1', plural: 'policyexceptions', namespaced: true });

/** Each CRD's kind and the Kyverno apiVersion whose spec it carries (the decoder accepts only kyverno.io). */
const POLICY_RESOURCES = Object.freeze([
  { type: SIGIL_CLUSTER_POLICIES, kind: 'ClusterPolicy', kyvernoApiVersion: 'kyverno.io/v1' },
  { type: SIGIL_POLICIES, kind: 'Policy', kyvernoApiVersion: 'kyverno.io/v1' },
  { type: SIGIL_POLICY_EXCEPTIONS, kind: 'PolicyException', kyvernoApiVersion: 'kyverno.io/v2' },
] as const);

/** The policy resource types Sigil watches, by plural. */
export type SigilPolicyResource = (typeof POLICY_RESOURCES)[number]['type']['plural'];

/** Where a cluster object came from, as load errors name it: `cluster clusterpolicies.sigil.dev/NAME`, `cluster policies.sigil.dev/NS/NAME`. */
export function clusterPolicyOrigin(resource: SigilPolicyResource, object: KubeObject): string {
  const { name = '', namespace } = object.metadata;
  return `cluster ${resource}.${SIGIL_CRD_GROUP}/${namespace === undefined || namespace === '' ? '' : `${namespace}/`}${name}`;
}

/**
 * Decodes one sigil.dev object into the engine's model with decodePolicyDocuments: the apiVersion
 * `sigil.dev/v1` becomes the Kyverno apiVersion whose spec the CRD copies, and problems name the
 * object (clusterPolicyOrigin). Pure. Throws PolicyError for a bad object or a kind that does not fit the resource.
 */
export function decodeClusterPolicyObject(resource: SigilPolicyResource, object: KubeObject): PolicyDocument {
  const entry = POLICY_RESOURCES.find((r) => r.type.plural === resource);
  const origin = clusterPolicyOrigin(resource, object);
  if (entry === undefined) throw new PolicyError([{ source: origin, path: '', message: `${resource} is not a Sigil policy resource`, severity: 'error' }]);
  const kind = object.kind ?? entry.kind;
  const expected = `${SIGIL_CRD_GROUP}/${entry.type.version}`;
  if (kind !== entry.kind || (object.apiVersion !== undefined && object.apiVersion !== expected)) {
    throw new PolicyError([{ source: origin, path: 'kind', message: `a ${resource}.${SIGIL_CRD_GROUP} object must be ${expected} ${entry.kind}, found ${object.apiVersion ?? '?'} ${kind}`, severity: 'error' }]);
  }
  // JSON is YAML: the decoder sees the object exactly as the API server stored it, with the spec's own apiVersion.
  return decodeOne(JSON.stringify({ ...object, apiVersion: entry.kyvernoApiVersion, kind }), origin);
}

function decodeOne(text: string, origin: string): PolicyDocument {
  const [document] = decodePolicyDocuments(text, origin);
  if (document === undefined) throw new PolicyError([{ source: origin, path: '', message: 'the object is empty', severity: 'error' }]);
  return document;
}

/** A cluster object that could not be turned into a policy; it is left out until it changes. */
export interface ClusterPolicyProblem {
  /** `cluster clusterpolicies.sigil.dev/NAME`. */
  readonly origin: string;
  readonly resourceVersion?: string;
  /** PolicyError with every problem of the object. */
  readonly error: Error;
}

/** Options of ClusterPolicySource. */
export interface ClusterPolicySourceOptions {
  readonly client: ListWatchSource;
  /**
   * The policies and exceptions now in the cluster, after all three resources have synced and
   * after every change from then on (never a partial set, so exceptions do not lag their policies).
   * Merge with file-loaded policies (mergePolicySets) and pass to AdmissionServer.setPolicies.
   */
  readonly onPolicies: (set: AdmissionPolicySet) => void;
  /** A bad object, reported once per resourceVersion and skipped. */
  readonly onProblem?: (problem: ClusterPolicyProblem) => void;
  /** Watch failures it recovers from. */
  readonly onError?: (error: KubeError) => void;
}

type Decoded = { readonly resourceVersion: string | undefined } & ({ readonly document: PolicyDocument } | { readonly problem: ClusterPolicyProblem });

/**
 * Watches clusterpolicies, policies and policyexceptions of sigil.dev and turns each object into
 * the engine's policy model. An object is decoded once per resourceVersion; a bad one is reported
 * and skipped, never stopping the watch.
 */
export class ClusterPolicySource {
  /** Resolves once all three resources have been listed (and the first snapshot emitted). */
  readonly synced: Promise<void>;
  readonly #options: ClusterPolicySourceOptions;
  readonly #watches: ListWatch[];
  readonly #decoded = new Map<string, Decoded>();
  #ready = false;
  #snapshot: AdmissionPolicySet = Object.freeze({ policies: Object.freeze([]), exceptions: Object.freeze([]) });

  constructor(options: ClusterPolicySourceOptions) {
    this.#options = options;
    this.#watches = POLICY_RESOURCES.map(
      ({ type }) =>
        new ListWatch({
          client: options.client,
          path: resourcePath(type),
          onChange: (changes) => this.#apply(type.plural, changes),
          ...(options.onError === undefined ? {} : { onError: options.onError }),
        }),
    );
    this.synced = Promise.all(this.#watches.map((w) => w.synced)).then(() => {
      this.#ready = true;
      this.#emit();
    });
    this.synced.catch(() => undefined);
  }

  /** Starts the three watches. */
  start(): this {
    for (const watch of this.#watches) watch.start();
    return this;
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    await Promise.all(this.#watches.map((w) => w.stop()));
  }

  /** The last snapshot (empty before sync). */
  get current(): AdmissionPolicySet {
    return this.#snapshot;
  }

  #apply(resource: SigilPolicyResource, changes: readonly ListWatchChange[]): void {
    for (const change of changes) {
      const key = `${resource}\u0000${change.key}`;
      if (change.type === 'DELETED') {
        this.#decoded.delete(key);
        continue;
      }
      const resourceVersion = change.object.metadata.resourceVersion;
      const before = this.#decoded.get(key);
      if (before !== undefined && resourceVersion !== undefined && before.resourceVersion === resourceVersion) continue;
      let decoded: Decoded;
      try {
        decoded = { resourceVersion, document: decodeClusterPolicyObject(resource, change.object) };
      } catch (error) {
        const problem: ClusterPolicyProblem = {
          origin: clusterPolicyOrigin(resource, change.object),
          ...(resourceVersion === undefined ? {} : { resourceVersion }),
          error: error instanceof Error ? error : new Error(String(error)),
        };
        decoded = { resourceVersion, problem };
        this.#options.onProblem?.(problem);
      }
      this.#decoded.set(key, decoded);
    }
    if (this.#ready) this.#emit();
  }

  #emit(): void {
    const policies: KyvernoPolicy[] = [];
    const exceptions: PolicyException[] = [];
    for (const key of [...this.#decoded.keys()].sort()) {
      const entry = this.#decoded.get(key);
      if (entry === undefined || !('document' in entry)) continue;
      if (entry.document.kind === 'PolicyException') exceptions.push(entry.document);
      else policies.push(entry.document);
    }
    this.#snapshot = Object.freeze({ policies: Object.freeze(policies), exceptions: Object.freeze(exceptions) });
    this.#options.onPolicies(this.#snapshot);
  }
}

/** File-loaded and cluster policies as one set, files first (the caller decides what a duplicate name means). */
export function mergePolicySets(...sets: readonly AdmissionPolicySet[]): AdmissionPolicySet {
  return Object.freeze({ policies: Object.freeze(sets.flatMap((s) => s.policies)), exceptions: Object.freeze(sets.flatMap((s) => s.exceptions)) });
}

// ---------------------------------------------------------------------------------------------
// registry credentials from Secrets

/** Secret type holding a Docker config.json under `.dockerconfigjson`. */
export const DOCKER_CONFIG_JSON_SECRET_TYPE = 'kubernetes.io/dockerconfigjson';
/** Secret type holding the legacy ~/.dockercfg (the `auths` map itself) under `.dockercfg`. */
export const DOCKER_CFG_SECRET_TYPE = 'kubernetes.io/dockercfg';

/** How long a read Secret (or its absence) is reused: short, so a rotated pull secret takes effect within a minute. */
export const SECRET_CACHE_TTL_MS = 60_000;

/** Host names that all mean Docker Hub (docker/cli); credentials for any are Docker Hub's. */
const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** The registry an `auths` key names, as image references name it: `https://index.docker.io/v1/` → `docker.io`, `https://reg:5000/v2/` → `reg:5000`. */
export function normalizeRegistryKey(key: string): string {
  const host = (key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0] ?? '').toLowerCase();
  return DOCKER_HUB_HOSTS.has(host) ? 'docker.io' : host;
}

/** A Secret, or an entry in it, that gave no credentials, and why. */
export interface SkippedSecret {
  /** `namespace/name`, with ` (registry)` for one bad `auths` entry. */
  readonly secret: string;
  readonly reason: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(text: string, what: string): string {
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 === 1 || !BASE64.test(compact)) throw new Error(`${what} is not base64`);
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** One `auths` entry: base64 `auth` (user:password), or `username`/`password`, or `identitytoken` (docker/cli's types.AuthConfig). */
function decodeAuthEntry(entry: unknown): Credentials {
  if (!isRecord(entry)) throw new Error('the entry is not an object');
  let username = typeof entry.username === 'string' ? entry.username : undefined;
  let password = typeof entry.password === 'string' ? entry.password : undefined;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = decodeBase64(entry.auth, 'auth');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new Error('auth is not base64 of user:password');
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return username !== undefined && username !== '' ? { identityToken: entry.identitytoken, username } : { identityToken: entry.identitytoken };
  }
  if (username !== undefined && username !== '' && password !== undefined) return { username, password };
  throw new Error('the entry has no auth, username and password, or identitytoken');
}

/**
 * The credentials in a docker-registry Secret (`kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg`),
 * by registry as references name it. Pure. A bad entry is skipped with its reason; a Secret that
 * cannot be read at all throws an Error whose message is the reason.
 */
export function decodeDockerConfigSecret(secret: KubeObject): { credentials: Map<string, Credentials>; skipped: SkippedSecret[] } {
  const name = `${secret.metadata.namespace ?? ''}/${secret.metadata.name ?? ''}`;
  const data = isRecord(secret.data) ? secret.data : {};
  let key: string;
  if (secret.type === DOCKER_CONFIG_JSON_SECRET_TYPE) key = '.dockerconfigjson';
  else if (secret.type === DOCKER_CFG_SECRET_TYPE) key = '.dockercfg';
  else throw new Error(`type ${JSON.stringify(secret.type ?? '')} is not ${DOCKER_CONFIG_JSON_SECRET_TYPE} or ${DOCKER_CFG_SECRET_TYPE}`);
  const encoded = data[key];
  if (typeof encoded !== 'string') throw new Error(`data has no ${key}`);
  let document: unknown;
  try {
    document = JSON.parse(decodeBase64(encoded, `data.${key}`));
  } catch (error) {
    throw new Error(error instanceof SyntaxError ? `data.${key} is not JSON` : error instanceof Error ? error.message : String(error));
  }
  if (!isRecord(document)) throw new Error(`data.${key} is not a JSON object`);
  // .dockercfg is the bare auths map; .dockerconfigjson wraps it in {"auths": …}.
  const auths = key === '.dockercfg' ? document : document.auths;
  if (!isRecord(auths)) throw new Error(`data.${key} has no auths object`);
  const credentials = new Map<string, Credentials>();
  const skipped: SkippedSecret[] = [];
  for (const [registryKey, entry] of Object.entries(auths)) {
    const registry = normalizeRegistryKey(registryKey);
    try {
      const decoded = decodeAuthEntry(entry);
      if (registry !== '' && !credentials.has(registry)) credentials.set(registry, decoded);
    } catch (error) {
      skipped.push({ secret: `${name} (${registry || registryKey})`, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return { credentials, skipped };
}

/** What registryCredentials found. */
export interface RegistryCredentials {
  /** By registry (`docker.io`, `ghcr.io`, `reg.example:5000`); the first Secret listed wins for a registry. */
  readonly credentials: ReadonlyMap<string, Credentials>;
  /** Secrets that were missing, unreadable or malformed, and entries that were bad. */
  readonly skipped: readonly SkippedSecret[];
  /** The credentials as the registry client's CredentialStore. */
  readonly store: CredentialStore;
}

/** Options of SecretCredentials. */
export interface SecretCredentialsOptions {
  readonly client: Pick<KubeClient, 'get'>;
  /** How long a Secret read (or found missing) is reused (default SECRET_CACHE_TTL_MS). */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

type SecretRead = { readonly credentials: Map<string, Credentials>; readonly skipped: SkippedSecret[] };

/**
 * Registry credentials from docker-registry Secrets, as `imageRegistryCredentials.secrets` names
 * them: a plain name is in `namespace` (Kyverno: its own namespace), `ns/name` names another
 * (Kyverno 1.18). Reads go through a short TTL cache. A missing or bad Secret is skipped with a reason.
 */
export class SecretCredentials {
  readonly #client: Pick<KubeClient, 'get'>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { readonly expires: number; readonly read: Promise<SecretRead> }>();

  constructor(options: SecretCredentialsOptions) {
    this.#client = options.client;
    this.#ttlMs = options.ttlMs ?? SECRET_CACHE_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The credentials in `secretNames` (read in parallel, merged in the order given). A missing,
   * unreadable or malformed Secret is skipped with its reason; only an aborted signal throws (KubeError ABORTED).
   */
  async registryCredentials(namespace: string, secretNames: readonly string[], options: { readonly signal: AbortSignal }): Promise<RegistryCredentials> {
    const reads = await Promise.all(
      secretNames.map((secretName) => {
        const slash = secretName.indexOf('/');
        return slash >= 0 ? this.#read(secretName.slice(0, slash), secretName.slice(slash + 1), options.signal) : this.#read(namespace, secretName, options.signal);
      }),
    );
    const credentials = new Map<string, Credentials>();
    const skipped: SkippedSecret[] = [];
    for (const read of reads) {
      for (const [registry, value] of read.credentials) if (!credentials.has(registry)) credentials.set(registry, value);
      skipped.push(...read.skipped);
    }
    const frozen: ReadonlyMap<string, Credentials> = credentials;
    return {
      credentials: frozen,
      skipped,
      store: { get: async (registry: string) => frozen.get(normalizeRegistryKey(registry)) },
    };
  }

  async #read(namespace: string, name: string, signal: AbortSignal): Promise<SecretRead> {
    const key = `${namespace}/${name}`;
    const now = this.#now();
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.expires > now) return cached.read;
    const read = this.#fetch(namespace, name, signal);
    this.#cache.set(key, { expires: now + this.#ttlMs, read });
    // A failure that is not the Secret's fault (network, RBAC, abort) is not remembered.
    read.then((r) => {
      if (r.credentials.size === 0 && r.skipped.some((s) => s.reason.startsWith('cannot read'))) this.#cache.delete(key);
    }, () => this.#cache.delete(key));
    return read;
  }

  async #fetch(namespace: string, name: string, signal: AbortSignal): Promise<SecretRead> {
    const secret = `${namespace}/${name}`;
    let object: KubeObject;
    try {
      object = await this.#client.get(resourcePath(SECRETS, { namespace, name }), { signal });
    } catch (error) {
      if (signal.aborted) throw error;
      if (isKubeError(error, 'NOT_FOUND')) return { credentials: new Map(), skipped: [{ secret, reason: 'not found' }] };
      return { credentials: new Map(), skipped: [{ secret, reason: `cannot read: ${error instanceof Error ? error.message : String(error)}` }] };
    }
    try {
      return decodeDockerConfigSecret(object);
    } catch (error) {
      return { credentials: new Map(), skipped: [{ secret, reason: error instanceof Error ? error.message : String(error) }] };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// PolicyReport writer

const REPORT_GROUP = POLICY_REPORT_API_VERSION.split('/')[0] ?? 'wgpolicyk8s.io';
const REPORT_VERSION = POLICY_REPORT_API_VERSION.split('/')[1] ?? 'v1alpha2';

/** `policyreports.wgpolicyk8s.io`. */
export const POLICY_REPORTS: ResourceType = Object.freeze({ group: REPORT_GROUP, version: REPORT_VERSION, plural: 'policyreports', namespaced: true });
/** `clusterpolicyreports.wgpolicyk8s.io`. */
export const CLUSTER_POLICY_REPORTS: ResourceType = Object.freeze({ group: REPORT_GROUP, version: REPORT_VERSION, plural: 'clusterpolicyreports', namespaced: false });

/** Re-reads after a 409 Conflict before giving up: concurrent writers of one report are a replica or two. */
export const MAX_REPORT_CONFLICT_RETRIES = 3;

/** Options of PolicyReportWriter. */
export interface PolicyReportWriterOptions {
  readonly client: Pick<KubeClient, 'get' | 'getRaw' | 'create' | 'replace'>;
  /** Called once when the report CRDs turn out not to be installed; the writer then does nothing. */
  readonly onDisabled?: (error: KubeError) => void;
  /** Retries after a 409 Conflict (default MAX_REPORT_CONFLICT_RETRIES). */
  readonly maxConflictRetries?: number;
}

/** What write did. */
export type PolicyReportWriteResult = 'created' | 'replaced' | 'disabled';

/**
 * Creates or replaces PolicyReports (in the resource's namespace) and ClusterPolicyReports built
 * by buildPolicyReport. A 409 on replace re-reads the report and tries again; a 404 whose cause is
 * the missing CRD (discovery does not list it) is reported once and disables the writer.
 */
export class PolicyReportWriter {
  readonly #client: PolicyReportWriterOptions['client'];
  readonly #onDisabled: ((error: KubeError) => void) | undefined;
  readonly #maxRetries: number;
  #disabled = false;

  constructor(options: PolicyReportWriterOptions) {
    this.#client = options.client;
    this.#onDisabled = options.onDisabled;
    this.#maxRetries = options.maxConflictRetries ?? MAX_REPORT_CONFLICT_RETRIES;
  }

  /** True once the report CRDs were found missing. */
  get disabled(): boolean {
    return this.#disabled;
  }

  /** Creates the report, or replaces the one of the same name. Throws KubeError for failures other than the CRD missing. */
  async write(report: PolicyReport, options: { readonly signal: AbortSignal }): Promise<PolicyReportWriteResult> {
    if (this.#disabled) return 'disabled';
    const type = report.kind === 'PolicyReport' ? POLICY_REPORTS : CLUSTER_POLICY_REPORTS;
    const namespace = report.kind === 'PolicyReport' ? report.metadata.namespace : undefined;
    if (type.namespaced && (namespace === undefined || namespace === '')) throw new KubeError('BAD_REQUEST', `policy report ${report.metadata.name} has no namespace`);
    const collection = resourcePath(type, namespace === undefined ? {} : { namespace });
    const path = resourcePath(type, { ...(namespace === undefined ? {} : { namespace }), name: report.metadata.name });
    try {
      await this.#client.create(collection, report, options);
      return 'created';
    } catch (error) {
      if (isKubeError(error, 'NOT_FOUND')) return this.#notFound(type, error, options.signal);
      if (!isKubeError(error, 'CONFLICT')) throw error;
    }
    for (let attempt = 0; ; attempt++) {
      let existing: KubeObject;
      try {
        existing = await this.#client.get(path, options);
      } catch (error) {
        // Deleted between our create and this read: create it again.
        if (!isKubeError(error, 'NOT_FOUND')) throw error;
        await this.#client.create(collection, report, options);
        return 'created';
      }
      const resourceVersion = existing.metadata.resourceVersion;
      try {
        await this.#client.replace(path, { ...report, metadata: { ...report.metadata, ...(resourceVersion === undefined ? {} : { resourceVersion }) } }, options);
        return 'replaced';
      } catch (error) {
        if (!isKubeError(error, 'CONFLICT') || attempt >= this.#maxRetries) throw error;
      }
    }
  }

  async #notFound(type: ResourceType, error: KubeError, signal: AbortSignal): Promise<PolicyReportWriteResult> {
    // A 404 on create is the CRD missing, or the namespace: discovery tells them apart.
    let served = false;
    try {
      const discovery = await this.#client.getRaw(`/apis/${type.group}/${type.version}`, { signal });
      served = isRecord(discovery) && Array.isArray(discovery.resources) && discovery.resources.some((r) => isRecord(r) && r.name === type.plural);
    } catch (discoveryError) {
      if (!isKubeError(discoveryError, 'NOT_FOUND')) throw error;
    }
    if (served) throw error;
    this.#disabled = true;
    this.#onDisabled?.(
      new KubeError('NOT_FOUND', `${type.plural}.${type.group} is not installed in the cluster; policy reports are off until Sigil restarts (install the wg-policy PolicyReport CRDs)`, {
        ...(error.method === undefined ? {} : { method: error.method }),
        ...(error.path === undefined ? {} : { path: error.path }),
        status: 404,
        cause: error,
      }),
    );
    return 'disabled';
  }
}

// ---------------------------------------------------------------------------------------------
// all of it together

/** Options of AdmissionCluster. */
export interface AdmissionClusterOptions {
  readonly client: KubeClient;
  /** Cluster policies after sync and on every change (see ClusterPolicySourceOptions.onPolicies). Omit to not watch the sigil.dev CRDs. */
  readonly onPolicies?: (set: AdmissionPolicySet) => void;
  readonly onPolicyProblem?: (problem: ClusterPolicyProblem) => void;
  /** Watch failures the watches recover from. */
  readonly onError?: (error: KubeError) => void;
  /** The report CRDs are missing; reports are off. */
  readonly onReportsDisabled?: (error: KubeError) => void;
  readonly secretCacheTtlMs?: number;
}

/**
 * The cluster side of `sigil admission serve` in one object: namespace labels, sigil.dev
 * policies, Secret credentials and the PolicyReport writer, sharing one client.
 */
export class AdmissionCluster {
  readonly namespaces: NamespaceLabelCache;
  /** Undefined without onPolicies. */
  readonly policies: ClusterPolicySource | undefined;
  readonly credentials: SecretCredentials;
  readonly reports: PolicyReportWriter;
  /** Resolves once namespaces (and policies, when watched) have synced. */
  readonly synced: Promise<void>;

  constructor(options: AdmissionClusterOptions) {
    const onError = options.onError === undefined ? {} : { onError: options.onError };
    this.namespaces = new NamespaceLabelCache({ client: options.client, ...onError });
    this.policies =
      options.onPolicies === undefined
        ? undefined
        : new ClusterPolicySource({ client: options.client, onPolicies: options.onPolicies, ...(options.onPolicyProblem === undefined ? {} : { onProblem: options.onPolicyProblem }), ...onError });
    this.credentials = new SecretCredentials({ client: options.client, ...(options.secretCacheTtlMs === undefined ? {} : { ttlMs: options.secretCacheTtlMs }) });
    this.reports = new PolicyReportWriter({ client: options.client, ...(options.onReportsDisabled === undefined ? {} : { onDisabled: options.onReportsDisabled }) });
    this.synced = Promise.all([this.namespaces.synced, this.policies?.synced]).then(() => undefined);
    this.synced.catch(() => undefined);
  }

  /** Starts the watches. */
  start(): this {
    this.namespaces.start();
    this.policies?.start();
    return this;
  }

  /** Stops the watches (the client stays open; close it after). */
  async stop(): Promise<void> {
    await Promise.all([this.namespaces.stop(), this.policies?.stop()]);
  }

  /** The labels of namespace `name` for namespaceSelector; see NamespaceLabelCache.namespaceLabels. */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.namespaceLabels(name);
  }
}
