// The decoded, frozen model of Kyverno `ClusterPolicy` / `Policy` (kyverno.io/v1, v2beta1) with
// `verifyImages` rules and `PolicyException` (kyverno.io/v2, v2beta1), with Kyverno's defaults applied.
// Field names and defaults follow Kyverno's API types (api/kyverno/v1, api/kyverno/v2); see
// ../shared/reference/kyverno.md §1 and §3. policy.ts builds these objects; nothing else should.

import type { TrustPolicyStatement } from '../notary/index.js';

/** What a failed rule does: block the request (Enforce) or admit it and report (Audit). */
export type FailureAction = 'Audit' | 'Enforce';

/** What a rule that could not be evaluated (an *error*, not a *fail*) does: deny (Fail) or admit (Ignore). */
export type FailurePolicy = 'Fail' | 'Ignore';

/** Admission operations a resource filter can name (Kyverno `AdmissionOperation`). */
export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** `spec.applyRules`: run every matching rule, or stop after the first that applies. */
export type ApplyRules = 'All' | 'One';

/** Kinds the autogen annotation may name (Kyverno v1 autogen: six pod controllers plus CronJob). */
export type PodController = 'DaemonSet' | 'Deployment' | 'Job' | 'StatefulSet' | 'ReplicaSet' | 'ReplicationController' | 'CronJob';

/** The policy annotation that controls autogen (reference §3b). */
export const AUTOGEN_CONTROLLERS_ANNOTATION = 'pod-policies.kyverno.io/autogen-controllers';

/**
 * Sigil's extension: a policy annotation holding a Notation trust policy statement per rule.
 * An annotation rather than a new field because Kyverno's CRD schema would reject or prune an
 * unknown field, while any annotation is accepted: the same YAML still loads into Kyverno unchanged.
 * Value: a YAML or JSON mapping from rule name to
 * `{signatureVerification: {level, override, verifyTimestamp}, trustedIdentities, registryScopes, tsaCertificates}`.
 */
export const TRUST_POLICY_ANNOTATION = 'sigil.dev/trust-policy';

/**
 * The trust store name the per-rule statement refers to: `ca:kyverno` holds an attestor entry's
 * `cert` + `certChain` (as Kyverno's Notary verifier does), `tsa:kyverno` the rule's `tsaCertificates`.
 */
export const ADMISSION_TRUST_STORE_NAME = 'kyverno';

/** Kubernetes' default webhook timeout, which Kyverno's `--webhookTimeout` flag also defaults to (reference §3c). */
export const DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 10;

/** The object metadata Sigil keeps from a policy document. */
export interface ObjectMetadata {
  readonly name: string;
  /** Set for `Policy` and `PolicyException`; undefined for `ClusterPolicy`. */
  readonly namespace: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Present for objects read from the cluster; part of cache keys. */
  readonly uid: string | undefined;
  readonly resourceVersion: string | undefined;
}

/** One `matchExpressions` entry of a Kubernetes LabelSelector. */
export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /** Non-empty for In/NotIn, empty for Exists/DoesNotExist (Kubernetes validation). */
  readonly values: readonly string[];
}

/** A Kubernetes LabelSelector; Kyverno allows wildcards in `matchLabels` keys and values. */
export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly LabelSelectorRequirement[];
}

/** Kyverno `ResourceDescription`: every field that is set must match (AND). */
export interface ResourceDescription {
  /** `Kind`, `Version/Kind`, `Group/Version/Kind`, optionally `/subresource` or `.subresource`. */
  readonly kinds: readonly string[];
  /** Globs; the deprecated `name` is folded in here. Empty means any name. */
  readonly names: readonly string[];
  /** Globs; empty means any namespace. */
  readonly namespaces: readonly string[];
  /** Keys and values are globs; undefined means not checked. */
  readonly annotations: Readonly<Record<string, string>> | undefined;
  readonly selector: LabelSelector | undefined;
  readonly namespaceSelector: LabelSelector | undefined;
  /** Undefined: in `match`, CREATE and UPDATE (reference §3a); in `exclude`, any operation. */
  readonly operations: readonly Operation[] | undefined;
}

/** An RBAC subject the requesting user is matched against. */
export type Subject =
  | { readonly kind: 'User' | 'Group'; readonly name: string }
  | { readonly kind: 'ServiceAccount'; readonly name: string; readonly namespace: string };

/** Kyverno `UserInfo`: who made the request; every non-empty list must match. */
export interface UserInfo {
  /** `namespace:name` of Roles bound to the user. */
  readonly roles: readonly string[];
  readonly clusterRoles: readonly string[];
  readonly subjects: readonly Subject[];
}

/** One entry of `any` / `all`: resource conditions and user conditions, all of which must hold. */
export interface ResourceFilter {
  readonly resources: ResourceDescription;
  readonly userInfo: UserInfo;
}

/**
 * A `match` or `exclude` block. The deprecated form (filters directly under `match`) is one
 * filter, for which `any` and `all` mean the same, so it is stored as `all: [filter]`.
 */
export interface MatchResources {
  readonly mode: 'any' | 'all';
  readonly filters: readonly ResourceFilter[];
}

/** `imageRegistryCredentials` of a verifyImages entry. */
export interface ImageRegistryCredentials {
  readonly allowInsecureRegistry: boolean;
  readonly providers: readonly ('default' | 'google' | 'azure' | 'amazon' | 'github')[];
  /** A plain name means the admission controller's namespace; `ns/name` names another. */
  readonly secrets: readonly string[];
}

/** Trust material for one attestor entry; at least one of the two is set. */
export interface CertificatesAttestor {
  readonly kind: 'certificates';
  readonly cert: string | undefined;
  readonly certChain: string | undefined;
}

/** A nested attestor set (`entries[].attestor`), evaluated recursively. */
export interface NestedAttestor<A> {
  readonly kind: 'nested';
  readonly attestorSet: AttestorSet<A>;
}

/** Cosign `keys` (kept for the Cosign verifier; the loader refuses Cosign for now). */
export interface KeysAttestor {
  readonly kind: 'keys';
  readonly publicKeys: string | undefined;
  readonly kms: string | undefined;
  readonly secret: { readonly name: string; readonly namespace: string } | undefined;
  readonly signatureAlgorithm: string;
}

/** Cosign `keyless` identity (kept for the Cosign verifier; the loader refuses Cosign for now). */
export interface KeylessAttestor {
  readonly kind: 'keyless';
  readonly issuer: string | undefined;
  readonly issuerRegExp: string | undefined;
  readonly subject: string | undefined;
  readonly subjectRegExp: string | undefined;
  readonly roots: string | undefined;
}

/** An attestor entry a Notary verifyImages entry may hold. */
export type NotaryAttestor = CertificatesAttestor | NestedAttestor<NotaryAttestor>;

/** An attestor entry a Cosign verifyImages entry may hold. */
export type CosignAttestor = CertificatesAttestor | KeysAttestor | KeylessAttestor | NestedAttestor<CosignAttestor>;

/** `attestors[]`: at least `count` of `entries` must verify. */
export interface AttestorSet<A> {
  /** Resolved: Kyverno's unset count (all entries) is stored as `entries.length`. */
  readonly count: number;
  readonly entries: readonly A[];
}

/** Sigil's per-rule Notation trust policy: the statement the verifier evaluates for each attestor entry. */
export interface RuleTrustPolicy {
  /** `kyverno` when the rule has no annotation entry (Kyverno's fixed policy), `annotation` otherwise. */
  readonly origin: 'kyverno' | 'annotation';
  /** Trust stores are `ca:kyverno` (and `tsa:kyverno` when `tsaCertificates` is set). */
  readonly statement: TrustPolicyStatement;
  /** PEM certificates of the TSA roots for `tsa:kyverno`. */
  readonly tsaCertificates: string | undefined;
}

/** Fields every verifyImages entry has, defaults applied (reference §1a). */
interface ImageVerificationBase {
  readonly imageReferences: readonly string[];
  readonly skipImageReferences: readonly string[];
  /** Default true. */
  readonly mutateDigest: boolean;
  /** Default true. */
  readonly verifyDigest: boolean;
  /** Default true. */
  readonly required: boolean;
  /** Default true. */
  readonly useCache: boolean;
  /** Undefined: fall back to the policy's action. */
  readonly failureAction: FailureAction | undefined;
  /** Undefined: the server's credentials. */
  readonly imageRegistryCredentials: ImageRegistryCredentials | undefined;
}

/** A `type: Notary` verifyImages entry. */
export interface NotaryImageVerification extends ImageVerificationBase {
  readonly type: 'Notary';
  readonly attestors: readonly AttestorSet<NotaryAttestor>[];
}

/** A `type: Cosign` (Kyverno's default) or `SigstoreBundle` entry; decoded, but refused by the loader for now. */
export interface CosignImageVerification extends ImageVerificationBase {
  readonly type: 'Cosign' | 'SigstoreBundle';
  readonly attestors: readonly AttestorSet<CosignAttestor>[];
  readonly repository: string | undefined;
  readonly cosignOCI11: boolean;
}

/** One `verifyImages[]` entry. */
export type ImageVerification = NotaryImageVerification | CosignImageVerification;

/** A `verifyImages` rule. */
export interface Rule {
  readonly name: string;
  readonly match: MatchResources;
  readonly exclude: MatchResources | undefined;
  readonly verifyImages: readonly ImageVerification[];
  /** Enforce if any entry says Enforce, else Audit if any entry sets an action, else undefined (use the policy's). */
  readonly failureAction: FailureAction | undefined;
  readonly trustPolicy: RuleTrustPolicy;
  readonly reportProperties: Readonly<Record<string, string>>;
}

/** One `validationFailureActionOverrides` entry; the first that matches the namespace wins. */
export interface FailureActionOverride {
  readonly action: FailureAction;
  readonly namespaces: readonly string[];
  readonly namespaceSelector: LabelSelector | undefined;
}

/** `spec` of a ClusterPolicy or Policy, defaults applied. */
export interface PolicySpec {
  readonly rules: readonly Rule[];
  /** Default Audit (Kyverno CRD default); lower-case legacy spellings normalized. */
  readonly validationFailureAction: FailureAction;
  readonly validationFailureActionOverrides: readonly FailureActionOverride[];
  /** `webhookConfiguration.failurePolicy`, else deprecated `failurePolicy`, else Fail. */
  readonly failurePolicy: FailurePolicy;
  /** `webhookConfiguration.timeoutSeconds`, else deprecated `webhookTimeoutSeconds`; undefined: the server default. */
  readonly webhookTimeoutSeconds: number | undefined;
  /** Default true. */
  readonly background: boolean;
  /** Default All. */
  readonly applyRules: ApplyRules;
  /** From the autogen annotation: undefined when absent (all controllers), empty for `none`. */
  readonly autogenControllers: readonly PodController[] | undefined;
}

/** Where a document came from: the source given to the decoder and its 0-based position in the stream. */
export interface DocumentOrigin {
  readonly source: string;
  readonly index: number;
}

/** A decoded `ClusterPolicy` (cluster-wide) or `Policy` (namespaced). */
export interface KyvernoPolicy {
  readonly kind: 'ClusterPolicy' | 'Policy';
  readonly apiVersion: 'kyverno.io/v1' | 'kyverno.io/v2beta1';
  readonly metadata: ObjectMetadata;
  readonly spec: PolicySpec;
  readonly origin: DocumentOrigin;
}

/** One `spec.exceptions[]` entry. */
export interface ExceptionTarget {
  /** `name` of a ClusterPolicy, `namespace/name` of a Policy. */
  readonly policyName: string;
  /** Globs, matched against rule names (including `autogen-…`). */
  readonly ruleNames: readonly string[];
}

/** A decoded `PolicyException`. */
export interface PolicyException {
  readonly kind: 'PolicyException';
  readonly apiVersion: 'kyverno.io/v2' | 'kyverno.io/v2beta1';
  readonly metadata: ObjectMetadata;
  readonly exceptions: readonly ExceptionTarget[];
  readonly match: MatchResources;
  /** Default true. */
  readonly background: boolean;
  readonly origin: DocumentOrigin;
}

/** Anything `decodePolicyDocuments` returns. */
export type PolicyDocument = KyvernoPolicy | PolicyException;

/** The key Kyverno uses for a policy in reports, exceptions and annotations: `name`, or `namespace/name` for a Policy. */
export function policyKey(policy: KyvernoPolicy): string {
  return policy.kind === 'Policy' && policy.metadata.namespace !== undefined ? `${policy.metadata.namespace}/${policy.metadata.name}` : policy.metadata.name;
}

/** Kyverno's normalisation of a failure action: `Enforce`/`enforce` and `Audit`/`audit` are the accepted spellings (CRD enum). */
export function normalizeFailureAction(value: string): FailureAction | undefined {
  switch (value) {
    case 'Enforce':
    case 'enforce':
      return 'Enforce';
    case 'Audit':
    case 'audit':
      return 'Audit';
    default:
      return undefined;
  }
}

/** Recursively freezes a freshly built model object. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
