// Kyverno autogen: the rules Kyverno generates from a Pod rule for pod controllers (reference §3b),
// as pure functions of a decoded policy, plus the encoder that prints rules in Kyverno's shape.
// Mirrors kyverno/kyverno pkg/autogen/v1 (autogen.go CanAutoGen/computeRules, rule.go
// generateRuleForControllers/generateCronJobRule/generateRule); each condition cites its source.

import { parseKindSelector } from './match.js';
import type { AttestorSet, CosignAttestor, ImageVerification, KyvernoPolicy, LabelSelector, MatchResources, NotaryAttestor, PodController, ResourceDescription, ResourceFilter, Rule } from './model.js';
import { deepFreeze } from './model.js';

/** Kyverno truncates generated rule names to 63 characters (rule.go getAutogenRuleName). */
export const MAX_AUTOGEN_RULE_NAME_LENGTH = 63;

/** Every controller autogen covers when the annotation is absent (autogen.go PodControllers). */
const ALL_CONTROLLERS: readonly PodController[] = ['DaemonSet', 'Deployment', 'Job', 'StatefulSet', 'ReplicaSet', 'ReplicationController', 'CronJob'];

/** Kinds autogen writes into generated rules, fully qualified (autogen/v1/internal/gvk.go ConvertKindsToGVK). */
const CONTROLLER_GVK: Readonly<Record<PodController, string>> = {
  DaemonSet: 'apps/v1/DaemonSet',
  Deployment: 'apps/v1/Deployment',
  Job: 'batch/v1/Job',
  StatefulSet: 'apps/v1/StatefulSet',
  ReplicaSet: 'apps/v1/ReplicaSet',
  ReplicationController: 'v1/ReplicationController',
  CronJob: 'batch/v1/CronJob',
};

/** autogen.go podControllersKindsSet: compared with the `kinds` strings as written (no GVK parsing). */
const POD_AND_CONTROLLER_KINDS: ReadonlySet<string> = new Set(['Pod', ...ALL_CONTROLLERS]);

/** kubeutils.ContainsKind(kinds, "Pod"): `Pod`, `v1/Pod`, `Pod/status`, `Pod.status`, `core/v1/Pod` all count. */
function containsPod(kinds: readonly string[]): boolean {
  return kinds.some((entry) => parseKindSelector(entry)?.kind === 'Pod');
}

function isAutogenRuleName(name: string): boolean {
  // rule.go isAutogenRuleName.
  return name.startsWith('autogen-');
}

function autogenRuleName(prefix: 'autogen' | 'autogen-cronjob', name: string): string {
  // rule.go getAutogenRuleName: Go slices bytes; rule names are ASCII in practice, so code units are the same.
  return `${prefix}-${name}`.slice(0, MAX_AUTOGEN_RULE_NAME_LENGTH);
}

function filtersOf(match: MatchResources | undefined): readonly ResourceFilter[] {
  return match?.filters ?? [];
}

/**
 * autogen.go checkAutogenSupport for one resource description: no `name`/`names`, no `selector`,
 * no `annotations` (an empty map counts as set, as Go's `!= nil`), and not Pod mixed with other kinds
 * (isKindOtherthanPod: more than one kind, one of them Pod).
 */
function supportsAutogen(resources: ResourceDescription): boolean {
  if (resources.names.length > 0 || resources.selector !== undefined || resources.annotations !== undefined) return false;
  return !(resources.kinds.length > 1 && containsPod(resources.kinds));
}

/**
 * autogen.go CanAutoGen: decided for the whole policy, not per rule. One rule (any rule, matching
 * any kind) whose match or exclude fails checkAutogenSupport turns autogen off for every rule; and
 * some `kinds` entry must name Pod or a pod controller verbatim. (The `generate` / JSON6902-mutate
 * conditions cannot arise: the decoder admits only verifyImages rules.)
 */
function canAutogen(policy: KyvernoPolicy): boolean {
  let needed = false;
  for (const rule of policy.spec.rules) {
    for (const filter of [...filtersOf(rule.match), ...filtersOf(rule.exclude)]) {
      if (!supportsAutogen(filter.resources)) return false;
      needed ||= filter.resources.kinds.some((kind) => POD_AND_CONTROLLER_KINDS.has(kind));
    }
  }
  return needed;
}

/**
 * The controllers the annotation asks for (computeRules): all when absent, none for `none`; a set, so
 * duplicates collapse. Kyverno splits on `,` without trimming; the decoder trims and refuses names
 * other than the seven (Kyverno would keep unknown kinds, or drop them when mixed with known ones).
 */
function requestedControllers(policy: KyvernoPolicy): ReadonlySet<PodController> {
  return new Set(policy.spec.autogenControllers ?? ALL_CONTROLLERS);
}

function withKinds(filter: ResourceFilter, kinds: readonly string[]): ResourceFilter {
  return { ...filter, resources: { ...filter.resources, kinds } };
}

/**
 * rule.go generateRuleForControllers + generateRule for the `spec.template` controllers: the rule must
 * match Pod and its exclude, when it names kinds, must name Pod too; every match/exclude filter naming
 * Pod gets the controllers' kinds (getAnyAllAutogenRule), the others are kept as written.
 * `controllers` is sorted (splitKinds sorts) and without CronJob (stripCronJob).
 */
function generateForControllers(rule: Rule, controllers: readonly PodController[], name: string): Rule | undefined {
  if (isAutogenRuleName(rule.name) || controllers.length === 0) return undefined;
  const matchKinds = rule.match.filters.flatMap((f) => f.resources.kinds);
  const excludeKinds = filtersOf(rule.exclude).flatMap((f) => f.resources.kinds);
  if (!containsPod(matchKinds) || (excludeKinds.length > 0 && !containsPod(excludeKinds))) return undefined;
  const kinds = controllers.map((c) => CONTROLLER_GVK[c]);
  const rewrite = (m: MatchResources): MatchResources => ({ mode: m.mode, filters: m.filters.map((f) => (containsPod(f.resources.kinds) ? withKinds(f, kinds) : f)) });
  // verifyImages entries are copied unchanged (generateRule); only the pod spec's location differs, which
  // extractImages derives from the kind. The Sigil trust policy of the rule goes with it.
  return { ...rule, name, match: rewrite(rule.match), exclude: rule.exclude === undefined ? undefined : rewrite(rule.exclude) };
}

/**
 * rule.go generateCronJobRule: built from the controllers rule, every filter of match and exclude gets
 * kind CronJob. (Kyverno leaves a deprecated-form exclude with no kinds alone; the model stores that
 * form as `all: [filter]`, so it gets CronJob too, which excludes the same objects from a CronJob rule.)
 */
function generateCronJob(rule: Rule): Rule | undefined {
  // generateCronJobRule passes the full controller list, so the intermediate rule exists whenever the
  // Pod conditions hold, even if CronJob is the only controller asked for.
  const base = generateForControllers(rule, ['CronJob'], rule.name);
  if (base === undefined) return undefined;
  const cronJob = [CONTROLLER_GVK.CronJob];
  const rewrite = (m: MatchResources): MatchResources => ({ mode: m.mode, filters: m.filters.map((f) => withKinds(f, cronJob)) });
  return { ...base, name: autogenRuleName('autogen-cronjob', rule.name), match: rewrite(base.match), exclude: base.exclude === undefined ? undefined : rewrite(base.exclude) };
}

/**
 * The rules Kyverno's autogen generates for `policy` (what it writes to `status.autogen.rules`), in its
 * order: for each rule, `autogen-<rule>` (DaemonSet, Deployment, Job, ReplicaSet, ReplicationController,
 * StatefulSet, or those the annotation names) then `autogen-cronjob-<rule>`. Empty when autogen does not apply.
 */
export function autogenRules(policy: KyvernoPolicy): readonly Rule[] {
  if (!canAutogen(policy)) return [];
  const requested = requestedControllers(policy);
  if (requested.size === 0) return [];
  const controllers = [...requested].filter((c) => c !== 'CronJob').sort();
  const out: Rule[] = [];
  for (const rule of policy.spec.rules) {
    const generated = generateForControllers(rule, controllers, autogenRuleName('autogen', rule.name));
    if (generated !== undefined) out.push(generated);
    if (requested.has('CronJob')) {
      const cronJob = generateCronJob(rule);
      if (cronJob !== undefined) out.push(cronJob);
    }
  }
  return deepFreeze(out);
}

/**
 * The rules Kyverno evaluates for `policy` (autogen.go computeRules): the policy's own rules plus the
 * generated ones. When anything is generated, Kyverno also drops the policy's own rules whose names
 * start with `autogen-`, so Sigil does the same.
 */
export function effectiveRules(policy: KyvernoPolicy): readonly Rule[] {
  const generated = autogenRules(policy);
  if (generated.length === 0) return policy.spec.rules;
  return deepFreeze([...policy.spec.rules.filter((r) => !isAutogenRuleName(r.name)), ...generated]);
}

/** A JSON value as the encoder builds it. */
type Encoded = string | number | boolean | Encoded[] | { [key: string]: Encoded };

function put(out: { [key: string]: Encoded }, key: string, value: Encoded | undefined): void {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return;
  out[key] = value;
}

function encodeSelector(selector: LabelSelector | undefined): Encoded | undefined {
  if (selector === undefined) return undefined;
  const out: { [key: string]: Encoded } = {};
  if (Object.keys(selector.matchLabels).length > 0) out.matchLabels = { ...selector.matchLabels };
  put(
    out,
    'matchExpressions',
    selector.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, ...(e.values.length > 0 ? { values: [...e.values] } : {}) })),
  );
  return out;
}

function encodeFilter(filter: ResourceFilter): Encoded {
  const r = filter.resources;
  const resources: { [key: string]: Encoded } = {};
  put(resources, 'kinds', [...r.kinds]);
  put(resources, 'names', [...r.names]);
  put(resources, 'namespaces', [...r.namespaces]);
  put(resources, 'annotations', r.annotations === undefined ? undefined : { ...r.annotations });
  put(resources, 'selector', encodeSelector(r.selector));
  put(resources, 'namespaceSelector', encodeSelector(r.namespaceSelector));
  put(resources, 'operations', r.operations === undefined ? undefined : [...r.operations]);
  const out: { [key: string]: Encoded } = { resources };
  put(
    out,
    'subjects',
    filter.userInfo.subjects.map((s): Encoded => (s.kind === 'ServiceAccount' ? { kind: s.kind, name: s.name, namespace: s.namespace } : { kind: s.kind, name: s.name })),
  );
  put(out, 'roles', [...filter.userInfo.roles]);
  put(out, 'clusterRoles', [...filter.userInfo.clusterRoles]);
  return out;
}

function encodeMatch(match: MatchResources): Encoded {
  return { [match.mode]: match.filters.map(encodeFilter) };
}

function encodeAttestor(entry: NotaryAttestor | CosignAttestor): Encoded {
  switch (entry.kind) {
    case 'certificates': {
      const certificates: { [key: string]: Encoded } = {};
      put(certificates, 'cert', entry.cert);
      put(certificates, 'certChain', entry.certChain);
      return { certificates };
    }
    case 'nested':
      return { attestor: encodeAttestorSet(entry.attestorSet) };
    case 'keys': {
      const keys: { [key: string]: Encoded } = { signatureAlgorithm: entry.signatureAlgorithm };
      put(keys, 'publicKeys', entry.publicKeys);
      put(keys, 'kms', entry.kms);
      put(keys, 'secret', entry.secret === undefined ? undefined : { ...entry.secret });
      return { keys };
    }
    case 'keyless': {
      const keyless: { [key: string]: Encoded } = {};
      put(keyless, 'issuer', entry.issuer);
      put(keyless, 'issuerRegExp', entry.issuerRegExp);
      put(keyless, 'subject', entry.subject);
      put(keyless, 'subjectRegExp', entry.subjectRegExp);
      put(keyless, 'roots', entry.roots);
      return { keyless };
    }
  }
}

function encodeAttestorSet(set: AttestorSet<NotaryAttestor | CosignAttestor>): Encoded {
  return { count: set.count, entries: set.entries.map(encodeAttestor) };
}

function encodeImageVerification(entry: ImageVerification): Encoded {
  const out: { [key: string]: Encoded } = { type: entry.type, imageReferences: [...entry.imageReferences] };
  put(out, 'skipImageReferences', [...entry.skipImageReferences]);
  put(out, 'attestors', (entry.attestors as readonly AttestorSet<NotaryAttestor | CosignAttestor>[]).map(encodeAttestorSet));
  out.mutateDigest = entry.mutateDigest;
  out.verifyDigest = entry.verifyDigest;
  out.required = entry.required;
  out.useCache = entry.useCache;
  put(out, 'failureAction', entry.failureAction);
  if (entry.imageRegistryCredentials !== undefined) {
    const credentials: { [key: string]: Encoded } = { allowInsecureRegistry: entry.imageRegistryCredentials.allowInsecureRegistry };
    put(credentials, 'providers', [...entry.imageRegistryCredentials.providers]);
    put(credentials, 'secrets', [...entry.imageRegistryCredentials.secrets]);
    out.imageRegistryCredentials = credentials;
  }
  if (entry.type !== 'Notary') {
    put(out, 'repository', entry.repository);
    out.cosignOCI11 = entry.cosignOCI11;
  }
  return out;
}

/**
 * Encodes a rule in Kyverno's `spec.rules[]` / `status.autogen.rules[]` shape with the decoder's defaults
 * spelled out; the deprecated match form comes out as `all`. Sigil's per-rule trust policy is not a rule
 * field (it lives in an annotation), so it is not printed.
 */
export function encodeRule(rule: Rule): Record<string, unknown> {
  const out: { [key: string]: Encoded } = { name: rule.name, match: encodeMatch(rule.match) };
  if (rule.exclude !== undefined) out.exclude = encodeMatch(rule.exclude);
  out.verifyImages = rule.verifyImages.map(encodeImageVerification);
  if (Object.keys(rule.reportProperties).length > 0) out.reportProperties = { ...rule.reportProperties };
  return out;
}
