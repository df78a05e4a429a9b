// The install manifests of the admission webhook (`sigil admission manifests`): a pure function from
// options to Kubernetes objects, and their multi-document YAML and JSON List encodings.
// Shapes follow the Kubernetes API (admissionregistration.k8s.io/v1, apps/v1, policy/v1,
// rbac.authorization.k8s.io/v1, apiextensions.k8s.io/v1); webhook settings follow Kyverno's (reference §2, §3c).

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { stringify } from 'yaml';
import { parseDockerReference } from '../../oci/index.js';
import { ADMISSION_SERVICE, TLS_DIR_FILES } from './config.js';

/** A Kubernetes object as plain JSON. */
export interface KubeManifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>>; readonly [field: string]: unknown };
  readonly [field: string]: unknown;
}

/** Codes of ManifestOptionError (API: add, never rename). */
export type ManifestErrorCode = 'MANIFEST_OPTION_INVALID';

/** An option of buildAdmissionManifests is out of range or inconsistent; `option` names it. */
export class ManifestOptionError extends Error {
  readonly code: ManifestErrorCode = 'MANIFEST_OPTION_INVALID';
  /** The option's name in AdmissionManifestOptions (`timeoutSeconds`, `tls.cert`, …). */
  readonly option: string;
  /** The message without the option name, for callers that name the option their own way (a CLI flag). */
  readonly problem: string;
  constructor(option: string, problem: string, options?: { cause?: unknown }) {
    super(`${option}: ${problem}`, { cause: options?.cause });
    this.name = 'ManifestOptionError';
    this.option = option;
    this.problem = problem;
  }
}

/** The repository Sigil's release images are pushed to; the tag is the release version. */
export const ADMISSION_IMAGE_REPOSITORY = 'ghcr.io/sigil-dev/sigil';

/** The release image of `version`. */
export function defaultAdmissionImage(version: string): string {
  return `${ADMISSION_IMAGE_REPOSITORY}:${version}`;
}

/** The API group of Sigil's policy CRDs. */
export const SIGIL_CRD_GROUP = 'sigil.dev';

/** Fixed names of the installed objects (the Service's comes from ADMISSION_SERVICE). */
export const ADMISSION_MANIFEST_NAMES = Object.freeze({
  serviceAccount: 'sigil-admission',
  clusterRole: 'sigil-admission',
  deployment: 'sigil-admission',
  podDisruptionBudget: 'sigil-admission',
  tlsSecret: 'sigil-admission-tls',
  policiesConfigMap: 'sigil-policies',
  webhookConfiguration: 'sigil-admission',
  validatingWebhook: 'validate.admission.sigil.dev',
  mutatingWebhook: 'mutate.admission.sigil.dev',
});

/** The container port and its paths, as `sigil admission serve` serves them. */
export const ADMISSION_CONTAINER_PORT = 9443;

/** Where the Deployment mounts the TLS Secret and the policies ConfigMap. */
export const ADMISSION_MOUNTS = Object.freeze({ tls: '/etc/sigil/tls', policies: '/etc/sigil/policies' });

/** Defaults of AdmissionManifestOptions. */
export const ADMISSION_MANIFEST_DEFAULTS = Object.freeze({ namespace: ADMISSION_SERVICE.namespace, replicas: 3, failurePolicy: 'Fail' as const, timeoutSeconds: 10 });

/** admissionregistration.k8s.io/v1: `timeoutSeconds` must be between 1 and 30. */
export const MAX_WEBHOOK_TIMEOUT_SECONDS = 30;

/** Kubernetes docs, ConfigMaps: "The data stored in a ConfigMap cannot exceed 1 MiB". */
const MAX_CONFIGMAP_BYTES = 1024 * 1024;

/** A sanity bound, not an API limit: beyond this the webhook is not the bottleneck. */
const MAX_REPLICAS = 100;

/** One policy file for the `sigil-policies` ConfigMap: its key (the file name) and text. */
export interface PolicyFile {
  readonly name: string;
  readonly text: string;
}

/** What to install; every field but `image` has a documented default. */
export interface AdmissionManifestOptions {
  /** Namespace of the server's objects. Default `sigil-system` (ADMISSION_SERVICE.namespace). */
  readonly namespace?: string;
  /** The container image (required; the CLI passes defaultAdmissionImage(VERSION)). */
  readonly image?: string;
  /** The release version, for the `app.kubernetes.io/version` label; no label when absent. */
  readonly version?: string;
  /** Deployment replicas. Default 3; the PodDisruptionBudget keeps all but one available. */
  readonly replicas?: number;
  /**
   * TLS: `caBundle` (PEM) goes into both webhook configurations; with `cert` (the serving chain) and
   * `key`, a kubernetes.io/tls Secret is emitted too. Without them the Secret `sigil-admission-tls`
   * must come from elsewhere (e.g. cert-manager). Required unless `crdsOnly`.
   */
  readonly tls?: { readonly caBundle: string; readonly cert?: string; readonly key?: string };
  /** What the apiserver does when the webhook cannot be reached or times out. Default `Fail`. */
  readonly failurePolicy?: 'Fail' | 'Ignore';
  /** The webhooks' `timeoutSeconds`, 1 to 30. Default 10 (Kubernetes' and Kyverno's default). */
  readonly timeoutSeconds?: number;
  /** Policy files for the `sigil-policies` ConfigMap. Default none: an empty ConfigMap to fill. */
  readonly policies?: readonly PolicyFile[];
  /** Only the sigil.dev CRDs. Default false. */
  readonly crdsOnly?: boolean;
  /** Include the sigil.dev CRDs. Default true; false cannot be combined with `crdsOnly`. */
  readonly crds?: boolean;
}

interface Settings {
  readonly namespace: string;
  readonly image: string;
  readonly version: string | undefined;
  readonly replicas: number;
  readonly tls: { readonly caBundle: string; readonly cert?: string; readonly key?: string } | undefined;
  readonly failurePolicy: 'Fail' | 'Ignore';
  readonly timeoutSeconds: number;
  readonly policies: readonly PolicyFile[];
}

type ServerSettings = Settings & { readonly tls: NonNullable<Settings['tls']> };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Kubernetes label values: empty, or alphanumerics with `-`, `_`, `.` inside, at most 63. */
const isLabelValue = (value: string) => value.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value);
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
/** The extensions `sigil admission serve --policies DIR` loads (config.ts expandPaths). */
const POLICY_FILE_EXTENSION = /\.(ya?ml|json)$/;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificatesOf(option: string, pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new ManifestOptionError(option, 'no PEM CERTIFICATE block');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new ManifestOptionError(option, `certificate ${i + 1} does not parse (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
  });
}

const isIssuedBy = (certificate: X509Certificate, issuer: X509Certificate) => certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);

/** Whether `leaf`, through the intermediates the serving chain carries, was issued by one of `roots`. */
function chainsTo(leaf: X509Certificate, intermediates: readonly X509Certificate[], roots: readonly X509Certificate[]): boolean {
  let current = leaf;
  for (let depth = 0; depth <= intermediates.length; depth++) {
    if (roots.some((root) => isIssuedBy(current, root))) return true;
    const next = intermediates.find((c) => c !== current && isIssuedBy(current, c));
    if (next === undefined) return false;
    current = next;
  }
  return false;
}

/** Checks what the apiserver will check: the serving chain leads to the caBundle and covers the Service's DNS name. */
function checkTls(tls: NonNullable<AdmissionManifestOptions['tls']>, namespace: string): void {
  if (typeof tls.caBundle !== 'string') throw new ManifestOptionError('tls.caBundle', 'give the CA certificate(s) as PEM');
  const roots = certificatesOf('tls.caBundle', tls.caBundle);
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new ManifestOptionError(tls.cert === undefined ? 'tls.cert' : 'tls.key', 'tls.cert and tls.key go together');
  if (tls.cert === undefined || tls.key === undefined) return;
  const chain = certificatesOf('tls.cert', tls.cert);
  const [leaf] = chain;
  if (leaf === undefined) return; // certificatesOf throws on an empty chain
  // The apiserver dials the Service and checks the certificate for <service>.<namespace>.svc.
  const host = `${ADMISSION_SERVICE.name}.${namespace}.svc`;
  if (leaf.checkHost(host) === undefined) throw new ManifestOptionError('tls.cert', `the serving certificate does not cover ${host}; generate one for namespace ${namespace}`);
  if (!chainsTo(leaf, chain.slice(1), roots)) throw new ManifestOptionError('tls.cert', 'the serving certificate does not chain to tls.caBundle; use the ca.crt that issued it');
  let key;
  try {
    key = createPrivateKey(tls.key);
  } catch (error) {
    throw new ManifestOptionError('tls.key', 'not a PEM private key', { cause: error });
  }
  if (!leaf.checkPrivateKey(key)) throw new ManifestOptionError('tls.key', 'is not the key of tls.cert');
}

function checkPolicies(policies: readonly PolicyFile[]): void {
  const seen = new Set<string>();
  let bytes = 0;
  for (const { name, text } of policies) {
    // A key the ConfigMap refuses, or one the kubelet's `..data` links could shadow.
    if (!CONFIGMAP_KEY.test(name) || name.length > 253 || name.startsWith('..') || name === '.') throw new ManifestOptionError('policies', `${JSON.stringify(name)} is not a valid ConfigMap key; rename the file`);
    if (!POLICY_FILE_EXTENSION.test(name)) throw new ManifestOptionError('policies', `${name}: the server loads only .yaml, .yml and .json files; rename it`);
    if (seen.has(name)) throw new ManifestOptionError('policies', `two files named ${name}; the ConfigMap keys them by file name, so rename one`);
    seen.add(name);
    bytes += Buffer.byteLength(name) + Buffer.byteLength(text);
  }
  if (bytes > MAX_CONFIGMAP_BYTES) throw new ManifestOptionError('policies', `${bytes} bytes exceed a ConfigMap's 1 MiB; split them or use the sigil.dev CRDs`);
}

function settingsOf(options: AdmissionManifestOptions): Settings {
  const namespace = options.namespace ?? ADMISSION_MANIFEST_DEFAULTS.namespace;
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) throw new ManifestOptionError('namespace', `${JSON.stringify(namespace)} is not a DNS label (lower-case letters, digits and '-', at most 63)`);
  // The webhooks skip their own namespace (so the server's pods can start while it is down);
  // in `default` that would leave users' workloads there unverified.
  if (namespace === 'default') throw new ManifestOptionError('namespace', 'default: the webhooks skip their own namespace, so workloads there would go unverified; use a dedicated one such as sigil-system');
  if (options.image === undefined || options.image === '') throw new ManifestOptionError('image', 'required: the container image to run');
  try {
    parseDockerReference(options.image);
  } catch (error) {
    throw new ManifestOptionError('image', error instanceof Error ? error.message : String(error), { cause: error });
  }
  checkVersion(options.version);
  const replicas = options.replicas ?? ADMISSION_MANIFEST_DEFAULTS.replicas;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) throw new ManifestOptionError('replicas', `${replicas} is not a whole number from 1 to ${MAX_REPLICAS}`);
  const failurePolicy = options.failurePolicy ?? ADMISSION_MANIFEST_DEFAULTS.failurePolicy;
  if (failurePolicy !== 'Fail' && failurePolicy !== 'Ignore') throw new ManifestOptionError('failurePolicy', `${JSON.stringify(failurePolicy)} is neither Fail nor Ignore`);
  const timeoutSeconds = options.timeoutSeconds ?? ADMISSION_MANIFEST_DEFAULTS.timeoutSeconds;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > MAX_WEBHOOK_TIMEOUT_SECONDS) {
    throw new ManifestOptionError('timeoutSeconds', `${timeoutSeconds} is out of range: the apiserver allows 1 to ${MAX_WEBHOOK_TIMEOUT_SECONDS} seconds`);
  }
  if (options.tls !== undefined) checkTls(options.tls, namespace);
  const policies = options.policies ?? [];
  checkPolicies(policies);
  return { namespace, image: options.image, version: options.version, replicas, tls: options.tls, failurePolicy, timeoutSeconds, policies };
}

/** The version goes into the `app.kubernetes.io/version` label, so it must be a label value. */
function checkVersion(version: string | undefined): void {
  if (version !== undefined && !isLabelValue(version)) throw new ManifestOptionError('version', `${JSON.stringify(version)} is not a label value (letters, digits, '-', '_', '.', at most 63)`);
}

function checkCrdFlags(options: AdmissionManifestOptions): { crdsOnly: boolean; crds: boolean } {
  const crdsOnly = options.crdsOnly ?? false;
  const crds = options.crds ?? true;
  if (crdsOnly && !crds) throw new ManifestOptionError('crdsOnly', 'contradicts crds: false (nothing would be left)');
  return { crdsOnly, crds };
}

/**
 * Checks every option that is set, without requiring `tls` — so a caller can refuse bad options
 * before it generates TLS material. Throws ManifestOptionError.
 */
export function checkAdmissionManifestOptions(options: AdmissionManifestOptions): void {
  if (!checkCrdFlags(options).crdsOnly) settingsOf(options);
}

/** Labels on every object; the selector labels are the subset that never changes across releases. */
function labelsOf(settings: { readonly version: string | undefined }, component?: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'sigil',
    ...(component === undefined ? {} : { 'app.kubernetes.io/component': component }),
    'app.kubernetes.io/part-of': 'sigil',
    ...(settings.version === undefined ? {} : { 'app.kubernetes.io/version': settings.version }),
  };
}

const SELECTOR = Object.freeze({ 'app.kubernetes.io/name': 'sigil', 'app.kubernetes.io/component': 'admission-controller' });
const COMPONENT = SELECTOR['app.kubernetes.io/component'];

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

// ----- the sigil.dev CRDs -------------------------------------------------------------------------

type Schema = Record<string, unknown>;

const PRESERVE = 'x-kubernetes-preserve-unknown-fields';
const string = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const boolean = (description?: string): Schema => ({ type: 'boolean', ...(description === undefined ? {} : { description }) });
const arrayOf = (items: Schema, description?: string): Schema => ({ type: 'array', items, ...(description === undefined ? {} : { description }) });
const stringMap = (description: string): Schema => ({ type: 'object', additionalProperties: { type: 'string' }, description });
/** A subtree kept as sent: Sigil's loader, not the apiserver, validates it (and reports unknown fields by path). */
const opaque = (description: string): Schema => ({ type: 'object', [PRESERVE]: true, description });

/** `verifyImages[]`: Kyverno's ImageVerification (kyverno.io/v1), top level typed, attestor trees kept as sent. */
const IMAGE_VERIFICATION: Schema = {
  type: 'object',
  properties: {
    type: string({ enum: ['Cosign', 'Notary', 'SigstoreBundle'], description: 'the verifier; Sigil implements Notary' }),
    imageReferences: arrayOf(string(), 'image patterns (*, ?) the entry applies to'),
    skipImageReferences: arrayOf(string(), 'image patterns the entry skips'),
    attestors: arrayOf(opaque('an attestor set: count and entries')),
    attestations: arrayOf(opaque('an attestation check: type, attestors, conditions')),
    repository: string(),
    cosignOCI11: boolean(),
    mutateDigest: boolean('rewrite a tag to tag@digest after verification (default true)'),
    verifyDigest: boolean('require a digest in the validating webhook (default true)'),
    required: boolean('require a verification record in the validating webhook (default true)'),
    useCache: boolean(),
    failureAction: string({ enum: ['Audit', 'Enforce'] }),
    imageRegistryCredentials: opaque('allowInsecureRegistry, providers, secrets'),
    validate: opaque('message and deny conditions'),
    // Deprecated single-attestor form, still accepted by Kyverno's v1 API.
    image: string(),
    key: string(),
    roots: string(),
    subject: string(),
    issuer: string(),
    additionalExtensions: stringMap('deprecated keyless extensions'),
    annotations: stringMap('deprecated signature annotations'),
  },
};

/** `spec.rules[]`: Kyverno's Rule. `name` is what the status, reports and exceptions refer to. */
const RULE: Schema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: string({ maxLength: 63, minLength: 1, description: 'the rule name, unique in the policy' }),
    match: opaque('resources the rule applies to (any/all resource filters)'),
    exclude: opaque('resources the rule skips'),
    context: arrayOf(opaque('a context entry: configMap, apiCall, variable, imageRegistry, globalReference')),
    // apiextensions.JSON in Kyverno: a list of conditions (deprecated) or {any, all}; no one type fits.
    preconditions: { [PRESERVE]: true, description: 'conditions checked before the rule runs' },
    celPreconditions: arrayOf(opaque('a CEL match condition')),
    mutate: opaque('a mutate rule'),
    validate: opaque('a validate rule'),
    generate: opaque('a generate rule'),
    verifyImages: arrayOf(IMAGE_VERIFICATION, 'image signature and attestation checks'),
    imageExtractors: { type: 'object', additionalProperties: arrayOf(opaque('path, value, key, name, jmesPath')), description: 'custom image paths per kind' },
    reportProperties: stringMap('copied into report results'),
    skipBackgroundRequests: boolean(),
  },
};

const FAILURE_POLICY = string({ enum: ['Fail', 'Ignore'] });
const VALIDATION_FAILURE_ACTION = string({ enum: ['audit', 'enforce', 'Audit', 'Enforce'] });

/** `spec` of ClusterPolicy and Policy: Kyverno's kyverno.io/v1 Spec. */
const POLICY_SPEC: Schema = {
  type: 'object',
  required: ['rules'],
  properties: {
    rules: arrayOf(RULE, 'the policy rules'),
    admission: boolean('apply at admission (default true)'),
    applyRules: string({ enum: ['All', 'One'] }),
    background: boolean('apply to existing resources (default true)'),
    emitWarning: boolean(),
    failurePolicy: FAILURE_POLICY,
    generateExisting: boolean(),
    generateExistingOnPolicyUpdate: boolean(),
    mutateExistingOnPolicyUpdate: boolean(),
    schemaValidation: boolean(),
    useServerSideApply: boolean(),
    validationFailureAction: VALIDATION_FAILURE_ACTION,
    validationFailureActionOverrides: arrayOf({
      type: 'object',
      properties: { action: VALIDATION_FAILURE_ACTION, namespaces: arrayOf(string()), namespaceSelector: opaque('a label selector') },
    }),
    webhookConfiguration: {
      type: 'object',
      properties: {
        failurePolicy: FAILURE_POLICY,
        timeoutSeconds: { type: 'integer', format: 'int32', minimum: 1, maximum: MAX_WEBHOOK_TIMEOUT_SECONDS },
        matchConditions: arrayOf(opaque('a CEL match condition: name, expression')),
      },
    },
    webhookTimeoutSeconds: { type: 'integer', format: 'int32', minimum: 1, maximum: MAX_WEBHOOK_TIMEOUT_SECONDS },
  },
};

/** `spec` of PolicyException: Kyverno's kyverno.io/v2 PolicyExceptionSpec. */
const EXCEPTION_SPEC: Schema = {
  type: 'object',
  required: ['exceptions', 'match'],
  properties: {
    background: boolean(),
    match: opaque('resources the exception applies to'),
    conditions: opaque('any/all conditions'),
    exceptions: arrayOf(
      {
        type: 'object',
        required: ['policyName', 'ruleNames'],
        properties: { policyName: string({ description: 'NAME of a ClusterPolicy, NAMESPACE/NAME of a Policy' }), ruleNames: arrayOf(string()) },
      },
      'the policy rules excepted',
    ),
    podSecurity: arrayOf(opaque('a Pod Security exemption')),
  },
};

function rootSchema(spec: Schema): Schema {
  return {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: string(),
      kind: string(),
      metadata: { type: 'object' },
      spec,
      status: opaque('written by the controller: ready, conditions, autogen, rulecount'),
    },
  };
}

const AGE_COLUMN = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const POLICY_COLUMNS = [
  { name: 'Admission', type: 'boolean', jsonPath: '.spec.admission' },
  { name: 'Background', type: 'boolean', jsonPath: '.spec.background' },
  { name: 'Validation Failure Action', type: 'string', jsonPath: '.spec.validationFailureAction' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type == "Ready")].status' },
  AGE_COLUMN,
  { name: 'Failure Policy', type: 'string', jsonPath: '.spec.failurePolicy', priority: 1 },
];

function crd(settings: { readonly version: string | undefined }, names: { kind: string; plural: string; singular: string; shortNames: string[] }, scope: 'Cluster' | 'Namespaced', spec: Schema, columns: readonly Schema[]): KubeManifest {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${SIGIL_CRD_GROUP}`, labels: labelsOf(settings) },
    spec: {
      group: SIGIL_CRD_GROUP,
      // Short names differ from Kyverno's (cpol, pol, polex) so both can be installed side by side.
      names: { ...names, listKind: `${names.kind}List`, categories: ['sigil'] },
      scope,
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: rootSchema(spec) }, subresources: { status: {} }, additionalPrinterColumns: columns }],
    },
  };
}

/** The three sigil.dev CRDs: ClusterPolicy, Policy (Kyverno kyverno.io/v1 spec) and PolicyException (kyverno.io/v2 spec). */
export function buildSigilCrds(options: { readonly version?: string | undefined } = {}): KubeManifest[] {
  const s = { version: options.version };
  return [
    crd(s, { kind: 'ClusterPolicy', plural: 'clusterpolicies', singular: 'clusterpolicy', shortNames: ['scpol'] }, 'Cluster', POLICY_SPEC, POLICY_COLUMNS),
    crd(s, { kind: 'Policy', plural: 'policies', singular: 'policy', shortNames: ['spol'] }, 'Namespaced', POLICY_SPEC, POLICY_COLUMNS),
    crd(s, { kind: 'PolicyException', plural: 'policyexceptions', singular: 'policyexception', shortNames: ['spolex'] }, 'Namespaced', EXCEPTION_SPEC, [AGE_COLUMN]),
  ];
}

// ----- the server ---------------------------------------------------------------------------------

/** Exactly what the server calls; kept in step with the server's API use (no wildcards). */
const CLUSTER_ROLE_RULES = [
  // namespaceSelector of match/exclude needs the labels of the request's namespace.
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
  // Pods' imagePullSecrets and imageRegistryCredentials.secrets live in any namespace; each is read by name.
  { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
  { apiGroups: [SIGIL_CRD_GROUP], resources: ['clusterpolicies', 'policies', 'policyexceptions'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['wgpolicyk8s.io'], resources: ['policyreports', 'clusterpolicyreports'], verbs: ['create', 'update', 'patch', 'delete', 'get', 'list'] },
  // Background scans (spec.background) list what exists, of the kinds verifyImages rules cover.
  { apiGroups: [''], resources: ['pods', 'replicationcontrollers'], verbs: ['list'] },
  { apiGroups: ['apps'], resources: ['deployments', 'daemonsets', 'statefulsets', 'replicasets'], verbs: ['list'] },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['list'] },
];

/** Pods and every pod controller autogen covers, plus ephemeral containers (kubectl debug adds images through them). */
const WEBHOOK_RULES = [
  { apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'pods/ephemeralcontainers', 'replicationcontrollers'] },
  { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'daemonsets', 'statefulsets', 'replicasets'] },
  { apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'] },
].map((rule) => ({ ...rule, operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }));

function namespaceObject(s: Settings): KubeManifest {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: s.namespace,
      labels: {
        ...labelsOf(s),
        // The apiserver sets this label itself (Kubernetes ≥ 1.21); spelled out because the webhooks'
        // namespaceSelector excludes this namespace by it.
        'kubernetes.io/metadata.name': s.namespace,
        // The Deployment meets the restricted Pod Security Standard; enforce it here.
        'pod-security.kubernetes.io/enforce': 'restricted',
      },
    },
  };
}

function deployment(s: ServerSettings): KubeManifest {
  const tlsPath = (file: string) => `${ADMISSION_MOUNTS.tls}/${file}`;
  const probe = (path: string, periodSeconds: number) => ({ httpGet: { path, port: ADMISSION_CONTAINER_PORT, scheme: 'HTTPS' }, periodSeconds, timeoutSeconds: 3, failureThreshold: 3 });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: ADMISSION_MANIFEST_NAMES.deployment, namespace: s.namespace, labels: labelsOf(s, COMPONENT) },
    spec: {
      replicas: s.replicas,
      selector: { matchLabels: { ...SELECTOR } },
      // A new pod is ready before an old one goes: with failurePolicy Fail, lost capacity is refused pods.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: labelsOf(s, COMPONENT) },
        spec: {
          serviceAccountName: ADMISSION_MANIFEST_NAMES.serviceAccount,
          automountServiceAccountToken: true, // the server reads namespaces, secrets and policies, and writes reports
          enableServiceLinks: false,
          // The apiserver gives up on a review after timeoutSeconds; a pod told to stop finishes
          // the reviews it holds within that, plus a margin for the endpoints to drop it.
          terminationGracePeriodSeconds: s.timeoutSeconds + 15,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { ...SELECTOR } } } }],
            },
          },
          // Spread over zones where there are zones; ScheduleAnyway so a one-zone cluster still schedules.
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { ...SELECTOR } } }],
          containers: [
            {
              name: 'sigil',
              image: s.image,
              imagePullPolicy: 'IfNotPresent',
              args: ['admission', 'serve', '--addr', `0.0.0.0:${ADMISSION_CONTAINER_PORT}`, '--tls-cert', tlsPath(TLS_DIR_FILES.cert), '--tls-key', tlsPath(TLS_DIR_FILES.key), '--policies', ADMISSION_MOUNTS.policies, '--timeout-seconds', String(s.timeoutSeconds), '--in-cluster'],
              // V8's heap stays well under the memory limit, so it collects before the kernel kills.
              env: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=256' }],
              ports: [{ name: 'https', containerPort: ADMISSION_CONTAINER_PORT, protocol: 'TCP' }],
              readinessProbe: probe('/readyz', 5),
              livenessProbe: probe('/healthz', 10),
              // Requests: an idle server with its policies loaded. Limits: a burst of parallel
              // verifications each holding a manifest (≤ 4 MiB) and an envelope (≤ 32 MiB); 384Mi is
              // also Kyverno's admission-controller limit, so clusters sized for it fit Sigil. One CPU
              // bounds a busy webhook without throttling a single verification (Node runs one thread).
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '384Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [
                { name: 'tls', mountPath: ADMISSION_MOUNTS.tls, readOnly: true },
                { name: 'policies', mountPath: ADMISSION_MOUNTS.policies, readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            // 0440 with fsGroup: the key is readable by the server's group only.
            { name: 'tls', secret: { secretName: ADMISSION_MANIFEST_NAMES.tlsSecret, defaultMode: 0o440 } },
            { name: 'policies', configMap: { name: ADMISSION_MANIFEST_NAMES.policiesConfigMap } },
            // The root filesystem is read-only; Node and libraries may still want a scratch directory.
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
}

function webhook(s: ServerSettings, kind: 'validate' | 'mutate'): Record<string, unknown> {
  return {
    name: kind === 'validate' ? ADMISSION_MANIFEST_NAMES.validatingWebhook : ADMISSION_MANIFEST_NAMES.mutatingWebhook,
    admissionReviewVersions: ['v1'],
    clientConfig: { service: { name: ADMISSION_SERVICE.name, namespace: s.namespace, path: `/${kind}`, port: 443 }, caBundle: base64(s.tls.caBundle) },
    rules: WEBHOOK_RULES,
    failurePolicy: s.failurePolicy,
    matchPolicy: 'Equivalent',
    // kube-system runs the control plane; the server's own namespace must stay admissible while the
    // server is down, or with failurePolicy Fail its pods could never be recreated.
    namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', s.namespace] }] },
    sideEffects: 'None',
    timeoutSeconds: s.timeoutSeconds,
    // Kyverno's mutating webhook asks to run again after later mutations (reference §2): an image
    // another webhook rewrites is verified and pinned too.
    ...(kind === 'mutate' ? { reinvocationPolicy: 'IfNeeded' } : {}),
  };
}

function serverObjects(s: ServerSettings): KubeManifest[] {
  const ns = s.namespace;
  const labels = labelsOf(s, COMPONENT);
  const objects: KubeManifest[] = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: ADMISSION_MANIFEST_NAMES.serviceAccount, namespace: ns, labels } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: ADMISSION_MANIFEST_NAMES.clusterRole, labels }, rules: CLUSTER_ROLE_RULES },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: ADMISSION_MANIFEST_NAMES.clusterRole, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ADMISSION_MANIFEST_NAMES.clusterRole },
      subjects: [{ kind: 'ServiceAccount', name: ADMISSION_MANIFEST_NAMES.serviceAccount, namespace: ns }],
    },
    // Re-applying these manifests replaces the ConfigMap's data: pass the same --policies each time.
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ADMISSION_MANIFEST_NAMES.policiesConfigMap, namespace: ns, labels }, data: Object.fromEntries(s.policies.map((p) => [p.name, p.text])) },
  ];
  if (s.tls.cert !== undefined && s.tls.key !== undefined) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: ADMISSION_MANIFEST_NAMES.tlsSecret, namespace: ns, labels },
      type: 'kubernetes.io/tls',
      data: { [TLS_DIR_FILES.cert]: base64(s.tls.cert), [TLS_DIR_FILES.key]: base64(s.tls.key), [TLS_DIR_FILES.ca]: base64(s.tls.caBundle) },
    });
  }
  objects.push(
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: ADMISSION_SERVICE.name, namespace: ns, labels },
      spec: { type: 'ClusterIP', selector: { ...SELECTOR }, ports: [{ name: 'https', port: 443, targetPort: ADMISSION_CONTAINER_PORT, protocol: 'TCP' }] },
    },
    deployment(s),
  );
  // With one replica, a budget either blocks every drain or allows everything; none is emitted.
  if (s.replicas > 1) {
    objects.push({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: ADMISSION_MANIFEST_NAMES.podDisruptionBudget, namespace: ns, labels },
      spec: { minAvailable: s.replicas - 1, selector: { matchLabels: { ...SELECTOR } } },
    });
  }
  // Last, so `kubectl apply` registers the webhooks after the objects that serve them.
  objects.push(
    { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: ADMISSION_MANIFEST_NAMES.webhookConfiguration, labels }, webhooks: [webhook(s, 'validate')] },
    { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: ADMISSION_MANIFEST_NAMES.webhookConfiguration, labels }, webhooks: [webhook(s, 'mutate')] },
  );
  return objects;
}

/**
 * The install manifests, in apply order: Namespace, the sigil.dev CRDs, RBAC, the policies
 * ConfigMap, the TLS Secret (when cert and key are given), Service, Deployment,
 * PodDisruptionBudget (replicas > 1) and the two webhook configurations. Throws ManifestOptionError.
 */
export function buildAdmissionManifests(options: AdmissionManifestOptions): KubeManifest[] {
  const { crdsOnly, crds } = checkCrdFlags(options);
  if (crdsOnly) {
    checkVersion(options.version);
    return buildSigilCrds({ version: options.version });
  }
  const settings = settingsOf(options);
  const { tls } = settings;
  if (tls === undefined) throw new ManifestOptionError('tls', 'required: the webhook configurations need the caBundle that issued the serving certificate');
  const s: ServerSettings = { ...settings, tls };
  return [namespaceObject(s), ...(crds ? buildSigilCrds({ version: s.version }) : []), ...serverObjects(s)];
}

/** Multi-document YAML, as `kubectl apply -f -` reads it (strings quoted where YAML 1.1 would retype them). */
export function encodeManifestsYaml(objects: readonly KubeManifest[]): string {
  // sigs.k8s.io/yaml parses YAML 1.1, where a bare `yes` or `on` is a boolean.
  return objects.map((o) => stringify(o, { lineWidth: 0, version: '1.1' })).join('---\n');
}

/** One `v1` List holding the objects, as `kubectl get -o json` prints several. */
export function encodeManifestsJson(objects: readonly KubeManifest[]): string {
  return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
}
