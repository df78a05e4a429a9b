// Kyverno's `match` / `exclude` semantics (pkg/engine/utils/match.go, pkg/utils/kube/kind.go) as pure
// functions of a decoded rule and the attributes of one admission request, plus PolicyException lookup;
// see ../shared/reference/kyverno.md §3a and §4b.

import type { FailureAction, KyvernoPolicy, LabelSelector, MatchResources, Operation, PolicyException, ResourceDescription, ResourceFilter, UserInfo } from './model.js';
import { wildcardMatch } from './wildcard.js';

/** What matching needs to know about one admission request. */
export interface MatchRequest {
  /** The request's `kind` (group is `''` for the core group). */
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  /** `''` or undefined for the main resource, e.g. `ephemeralcontainers`, `status`. */
  readonly subresource?: string;
  /** The object's name (may be empty for a CREATE with generateName). */
  readonly name: string;
  /** `''` for cluster-scoped objects. */
  readonly namespace: string;
  readonly operation: Operation;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Labels of the object's namespace; `{}` when cluster-scoped or unknown. */
  readonly namespaceLabels: Readonly<Record<string, string>>;
  /** The requesting user, with the Roles and ClusterRoles bound to them (resolved by the caller, as Kyverno does). */
  readonly userInfo?: {
    readonly username: string;
    readonly groups: readonly string[];
    /** `namespace:name` of bound Roles. */
    readonly roles?: readonly string[];
    readonly clusterRoles?: readonly string[];
  };
}

/** A parsed `kinds` entry; every part is a glob. */
export interface KindSelector {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** `''`: the main resource only (plus Pod ephemeralcontainers, see matchesKind). */
  readonly subresource: string;
}

function startsUpper(s: string): boolean {
  return /^[A-Z]/.test(s);
}

/** Splits Kyverno's `Pod.status` subresource spelling; `*` alone is never split. */
function splitDotted(kind: string): [string, string] {
  const dot = kind.indexOf('.');
  return dot < 0 ? [kind, ''] : [kind.slice(0, dot), kind.slice(dot + 1)];
}

/**
 * Parses a `kinds` entry as Kyverno's ParseKindSelector does: `Kind`, `Kind/sub`, `Version/Kind`,
 * `*` `/Kind`, `*` `/*`, `Version/Kind/sub`, `Group/Version/Kind`, `Group/Version/Kind/sub`, with `Kind.sub`
 * also accepted. A segment starting with an upper-case letter (or a lone `*` in kind position) is the kind.
 * Undefined when the entry has no such reading.
 */
export function parseKindSelector(input: string): KindSelector | undefined {
  const parts = input.split('/');
  if (parts.some((part) => part === '')) return undefined;
  const withKind = (group: string, version: string, kind: string, subresource: string): KindSelector | undefined => {
    const [k, dotted] = subresource === '' ? splitDotted(kind) : [kind, ''];
    const sub = subresource === '' ? dotted : subresource;
    if (k === '') return undefined;
    return { group, version, kind: k, subresource: sub };
  };
  switch (parts.length) {
    case 1:
      return withKind('*', '*', parts[0] ?? '', '');
    case 2: {
      const [a = '', b = ''] = parts;
      // `*/*`: every kind and subresource.
      if (a === '*' && b === '*') return { group: '*', version: '*', kind: '*', subresource: '*' };
      // `Pod/status`: a kind, then a subresource.
      if (startsUpper(a)) return withKind('*', '*', a, b);
      // `v1/Pod`, `*/Pod`: a version, then a kind.
      return withKind('*', a, b, '');
    }
    case 3: {
      const [a = '', b = '', c = ''] = parts;
      // `v1/Pod/status` versus `apps/v1/Deployment`.
      if (startsUpper(b)) return withKind('*', a, b, c);
      return withKind(a, b, c, '');
    }
    case 4: {
      const [a = '', b = '', c = '', d = ''] = parts;
      return withKind(a, b, c, d);
    }
    default:
      return undefined;
  }
}

/** Parsed `kinds` entries: a policy's few entries are read on every request, and the parse is a pure function of the string. */
const KIND_SELECTORS = new Map<string, KindSelector | null>();
/** At most this many, then the map starts over. */
const MAX_KIND_SELECTORS = 1024;

function kindSelectorOf(entry: string): KindSelector | undefined {
  let selector = KIND_SELECTORS.get(entry);
  if (selector === undefined) {
    selector = parseKindSelector(entry) ?? null;
    if (KIND_SELECTORS.size >= MAX_KIND_SELECTORS) KIND_SELECTORS.clear();
    // Frozen: the cached value is shared by every caller.
    KIND_SELECTORS.set(entry, selector === null ? null : Object.freeze(selector));
  }
  return selector ?? undefined;
}

/**
 * True when any `kinds` entry matches the request's group, version, kind and subresource. As in
 * Kyverno (checkKind with allowEphemeralContainers), a plain `Pod` also matches the
 * `ephemeralcontainers` subresource, so `kubectl debug` cannot bypass a Pod rule.
 */
export function matchesKind(kinds: readonly string[], request: Pick<MatchRequest, 'kind' | 'subresource'>): boolean {
  const subresource = request.subresource ?? '';
  return kinds.some((entry) => {
    const selector = kindSelectorOf(entry);
    if (selector === undefined) return false;
    if (!wildcardMatch(selector.group, request.kind.group) || !wildcardMatch(selector.version, request.kind.version) || !wildcardMatch(selector.kind, request.kind.kind)) return false;
    if (wildcardMatch(selector.subresource, subresource)) return true;
    return request.kind.kind === 'Pod' && request.kind.group === '' && subresource === 'ephemeralcontainers' && selector.subresource === '';
  });
}

/** True when `labels` satisfy `selector` (Kubernetes semantics; Kyverno's wildcards in matchLabels keys and values). */
export function matchesLabelSelector(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  const entries = Object.entries(labels);
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    // Exact keys are looked up; wildcard keys need some label whose key and value both match.
    if (!/[*?]/.test(key)) {
      const actual = Object.hasOwn(labels, key) ? labels[key] : undefined;
      if (actual === undefined || !wildcardMatch(value, actual)) return false;
    } else if (!entries.some(([k, v]) => wildcardMatch(key, k) && wildcardMatch(value, v))) {
      return false;
    }
  }
  for (const requirement of selector.matchExpressions) {
    const has = Object.hasOwn(labels, requirement.key);
    const actual = has ? labels[requirement.key] : undefined;
    switch (requirement.operator) {
      case 'In':
        if (actual === undefined || !requirement.values.includes(actual)) return false;
        break;
      case 'NotIn':
        if (actual !== undefined && requirement.values.includes(actual)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

function matchesAnnotations(expected: Readonly<Record<string, string>>, actual: Readonly<Record<string, string>>): boolean {
  const entries = Object.entries(actual);
  return Object.entries(expected).every(([key, value]) => entries.some(([k, v]) => wildcardMatch(key, k) && wildcardMatch(value, v)));
}

/** Kyverno matches a Namespace object's `namespaces` against its own name. */
function namespaceOf(request: MatchRequest): string {
  return request.kind.group === '' && request.kind.kind === 'Namespace' ? request.name : request.namespace;
}

function isEmptyDescription(d: ResourceDescription): boolean {
  return d.kinds.length === 0 && d.names.length === 0 && d.namespaces.length === 0 && d.annotations === undefined && d.selector === undefined && d.namespaceSelector === undefined && d.operations === undefined;
}

function isEmptyUserInfo(u: UserInfo): boolean {
  return u.roles.length === 0 && u.clusterRoles.length === 0 && u.subjects.length === 0;
}

const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';

function matchesUserInfo(userInfo: UserInfo, request: MatchRequest): boolean {
  const user = request.userInfo;
  if (isEmptyUserInfo(userInfo)) return true;
  if (user === undefined) return false;
  if (userInfo.roles.length > 0 && !userInfo.roles.some((role) => (user.roles ?? []).includes(role))) return false;
  if (userInfo.clusterRoles.length > 0 && !userInfo.clusterRoles.some((role) => (user.clusterRoles ?? []).includes(role))) return false;
  if (userInfo.subjects.length > 0) {
    // Kyverno matchSubjects: a ServiceAccount is its `system:serviceaccount:ns:name` username; User and
    // Group names are compared with the username and the groups together.
    const names = [user.username, ...user.groups];
    const matched = userInfo.subjects.some((subject) =>
      subject.kind === 'ServiceAccount' ? user.username === `${SERVICE_ACCOUNT_PREFIX}${subject.namespace}:${subject.name}` : names.some((name) => wildcardMatch(subject.name, name)),
    );
    if (!matched) return false;
  }
  return true;
}

/** Operations a match filter without `operations` covers (reference §3a: CREATE and UPDATE). */
const DEFAULT_MATCH_OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE'];

/** True when every condition the filter sets holds for the request (Kyverno doesResourceMatchConditionBlock). */
function matchesFilter(filter: ResourceFilter, request: MatchRequest, block: 'match' | 'exclude'): boolean {
  const d = filter.resources;
  // An empty filter never matches in `match` ("match cannot be empty") and excludes nothing in `exclude`.
  if (isEmptyDescription(d) && isEmptyUserInfo(filter.userInfo)) return false;
  if (d.kinds.length > 0 && !matchesKind(d.kinds, request)) return false;
  if (d.names.length > 0 && !d.names.some((name) => wildcardMatch(name, request.name))) return false;
  if (d.namespaces.length > 0 && !d.namespaces.some((namespace) => wildcardMatch(namespace, namespaceOf(request)))) return false;
  if (d.annotations !== undefined && !matchesAnnotations(d.annotations, request.annotations ?? {})) return false;
  if (d.selector !== undefined && !matchesLabelSelector(d.selector, request.labels)) return false;
  if (d.namespaceSelector !== undefined && !matchesLabelSelector(d.namespaceSelector, request.namespaceLabels)) return false;
  const operations = d.operations ?? (block === 'match' ? DEFAULT_MATCH_OPERATIONS : undefined);
  if (operations !== undefined && !operations.includes(request.operation)) return false;
  return matchesUserInfo(filter.userInfo, request);
}

function matchesBlock(block: MatchResources, request: MatchRequest, kind: 'match' | 'exclude'): boolean {
  if (block.filters.length === 0) return false;
  return block.mode === 'any' ? block.filters.some((f) => matchesFilter(f, request, kind)) : block.filters.every((f) => matchesFilter(f, request, kind));
}

/** True when a rule (or exception) with these `match` / `exclude` blocks applies: match && !exclude. */
export function matchesRule(rule: { readonly match: MatchResources; readonly exclude?: MatchResources | undefined }, request: MatchRequest): boolean {
  if (!matchesBlock(rule.match, request, 'match')) return false;
  return rule.exclude === undefined || !matchesBlock(rule.exclude, request, 'exclude');
}

/**
 * True when `policy` may apply to the request at all: a namespaced Policy only sees objects in
 * its own namespace (Kyverno: "policy and resource namespaces mismatch").
 */
export function isInPolicyScope(policy: KyvernoPolicy, request: Pick<MatchRequest, 'namespace'>): boolean {
  return policy.kind === 'ClusterPolicy' || policy.metadata.namespace === request.namespace;
}

/**
 * The first exception that exempts `ruleName` of the policy keyed `policyName` (`name`, or `ns/name`
 * for a Policy) for this request: an `exceptions[]` entry names the policy and a `ruleNames` glob
 * matches the rule, and the exception's `match` matches the request.
 */
export function findException(exceptions: readonly PolicyException[], policyName: string, ruleName: string, request: MatchRequest): PolicyException | undefined {
  return exceptions.find(
    (exception) =>
      exception.exceptions.some((target) => target.policyName === policyName && target.ruleNames.some((pattern) => wildcardMatch(pattern, ruleName))) &&
      matchesRule({ match: exception.match }, request),
  );
}

/**
 * The failure action for a rule of `policy` on an object in a namespace: the rule's own (from its
 * entries) wins; else the first `validationFailureActionOverrides` entry that matches (its `namespaces`
 * globs when set and its `namespaceSelector` when set, both when both are; an entry with neither matches
 * nothing), else `validationFailureAction` (reference §3c).
 */
export function resolveFailureAction(policy: KyvernoPolicy, ruleFailureAction: FailureAction | undefined, namespace: string, namespaceLabels: Readonly<Record<string, string>>): FailureAction {
  if (ruleFailureAction !== undefined) return ruleFailureAction;
  for (const override of policy.spec.validationFailureActionOverrides) {
    if (override.namespaces.length === 0 && override.namespaceSelector === undefined) continue;
    if (override.namespaces.length > 0 && !override.namespaces.some((pattern) => wildcardMatch(pattern, namespace))) continue;
    if (override.namespaceSelector !== undefined && !matchesLabelSelector(override.namespaceSelector, namespaceLabels)) continue;
    return override.action;
  }
  return policy.spec.validationFailureAction;
}

/** The string-valued entries of a resource's `labels` or `annotations` (anything that is not an object: none). */
export function labelMap(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
