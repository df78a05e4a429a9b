// PolicyReport and ClusterPolicyReport builders (`wgpolicyk8s.io/v1alpha2`, kubernetes-sigs/wg-policy-prototypes
// policy-report CRD), shaped as Kyverno writes them (kyverno api/policyreport/v1alpha2, pkg/utils/report).

import { ReviewError } from './errors.js';

/** The report API version Kyverno writes and policy-reporter, dashboards and `kubectl get polr` read. */
export const POLICY_REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2';

/**
 * `results[].source` of every result Sigil writes. Kyverno writes `kyverno`; Sigil names itself so
 * that a cluster running both (policy 06 calls Sigil from Kyverno) can tell whose verdict a result
 * is, and policy-reporter's source filter shows them apart.
 */
export const POLICY_REPORT_SOURCE = 'sigil';

/** The `app.kubernetes.io/managed-by` label value on reports Sigil writes (Kyverno's is `kyverno`). */
export const POLICY_REPORT_MANAGER = 'sigil';

/** `results[].result` of the policy report API. */
export type PolicyResult = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

/** `results[].severity`, from the policy annotation `policies.kyverno.io/severity`. */
export type PolicySeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** An ObjectReference to the resource a result is about. */
export interface ResourceReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  /** Known from the validating stage on; the mutating stage of a CREATE has none yet. */
  readonly uid?: string;
}

/** One rule's outcome for one resource, as the caller knows it. */
export interface PolicyResultInput {
  /** Policy key: `name` for a ClusterPolicy, `namespace/name` for a Policy. */
  readonly policy: string;
  readonly rule: string;
  readonly result: PolicyResult;
  readonly message: string;
  /** The resource; defaults to the report's `scope`, and is required without one. */
  readonly resource?: ResourceReference;
  /** `false` from the annotation `policies.kyverno.io/scored: "false"`: a `fail` is then reported as `warn`, as Kyverno does. */
  readonly scored?: boolean;
  readonly severity?: PolicySeverity;
  readonly category?: string;
  /** When the rule was evaluated; defaults to the report's `now`. */
  readonly timestamp?: Date;
  /** Extra `properties` (Kyverno's `reportProperties`, `exceptions`); `process` is always set. */
  readonly properties?: Readonly<Record<string, string>>;
}

/** What `buildPolicyReport` needs. */
export interface PolicyReportInput {
  /**
   * The one resource every result is about (Kyverno's in-cluster shape, one report per resource):
   * results then carry no `resources`, and the report is owned by the resource. Without a scope
   * the report collects results about several resources, each naming its own (the CLI's shape).
   */
  readonly scope?: ResourceReference;
  /** Namespace of a PolicyReport; defaults to the scope's. Without one the report is a ClusterPolicyReport. */
  readonly namespace?: string;
  /**
   * `metadata.name`. Defaults to `sigil-<scope uid>`: Kyverno names its report after the resource
   * UID alone, and both tools writing the same name would overwrite each other's report.
   */
  readonly name?: string;
  readonly results: readonly PolicyResultInput[];
  /** Timestamp for results that carry none. */
  readonly now: Date;
  /** `properties.process`: `admission review` (default) or `background scan`, Kyverno's values. */
  readonly process?: 'admission review' | 'background scan';
}

/** `results[].timestamp`: a protobuf Timestamp as the CRD stores it. */
export interface ReportTimestamp {
  readonly seconds: number;
  readonly nanos: number;
}

/** One entry of `results` in a report. */
export interface ReportResult {
  readonly source: string;
  readonly policy: string;
  readonly rule: string;
  readonly result: PolicyResult;
  readonly message: string;
  readonly scored: boolean;
  readonly severity?: PolicySeverity;
  readonly category?: string;
  readonly timestamp: ReportTimestamp;
  readonly properties: Readonly<Record<string, string>>;
  readonly resources?: readonly ResourceReference[];
}

/** `summary`: how many results have each outcome. */
export interface ReportSummary {
  readonly pass: number;
  readonly fail: number;
  readonly warn: number;
  readonly error: number;
  readonly skip: number;
}

/** A `wgpolicyk8s.io/v1alpha2` PolicyReport or ClusterPolicyReport object, ready to serialize. */
export interface PolicyReport {
  readonly apiVersion: typeof POLICY_REPORT_API_VERSION;
  readonly kind: 'PolicyReport' | 'ClusterPolicyReport';
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly { readonly apiVersion: string; readonly kind: string; readonly name: string; readonly uid: string }[];
  };
  readonly scope?: ResourceReference;
  readonly results: readonly ReportResult[];
  readonly summary: ReportSummary;
}

function timestampOf(date: Date): ReportTimestamp {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

function referenceKey(ref: ResourceReference | undefined): string {
  return ref === undefined ? '' : [ref.apiVersion, ref.kind, ref.namespace ?? '', ref.name, ref.uid ?? ''].join('\u0000');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function reference(ref: ResourceReference): ResourceReference {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    name: ref.name,
    ...(ref.namespace === undefined || ref.namespace === '' ? {} : { namespace: ref.namespace }),
    ...(ref.uid === undefined || ref.uid === '' ? {} : { uid: ref.uid }),
  };
}

/**
 * Builds a PolicyReport (or, without a namespace, a ClusterPolicyReport) from rule results.
 * Pure and deterministic: results are ordered by policy, rule and resource whatever order the
 * (parallel) verifications finished in, and only `now` and the inputs' timestamps supply time.
 * Throws ReviewError (RESOURCE_INVALID) when a result has no resource and the report no scope, or no name can be derived.
 */
export function buildPolicyReport(input: PolicyReportInput): PolicyReport {
  const scope = input.scope === undefined ? undefined : reference(input.scope);
  const namespace = input.namespace ?? scope?.namespace;
  const name = input.name ?? (scope?.uid === undefined ? undefined : `sigil-${scope.uid}`);
  if (name === undefined || name === '') throw new ReviewError('RESOURCE_INVALID', 'policy report needs a name: pass name, or a scope with a uid');
  const process = input.process ?? 'admission review';
  const sorted = [...input.results].sort(
    (a, b) => compareText(a.policy, b.policy) || compareText(a.rule, b.rule) || compareText(referenceKey(a.resource), referenceKey(b.resource)),
  );
  const counts = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  const results = sorted.map((entry): ReportResult => {
    const scored = entry.scored ?? true;
    // kyverno pkg/utils/report: an unscored policy's failures are warnings.
    const result: PolicyResult = entry.result === 'fail' && !scored ? 'warn' : entry.result;
    counts[result] += 1;
    const resource = entry.resource ?? scope;
    if (resource === undefined) throw new ReviewError('RESOURCE_INVALID', `policy report result ${entry.policy}/${entry.rule} names no resource and the report has no scope`);
    // Kyverno leaves `resources` empty in-cluster when the subject is the scope; keep that, and name it otherwise.
    const inScope = scope !== undefined && referenceKey(reference(resource)) === referenceKey(scope);
    return {
      source: POLICY_REPORT_SOURCE,
      policy: entry.policy,
      rule: entry.rule,
      result,
      message: entry.message,
      scored,
      ...(entry.severity === undefined ? {} : { severity: entry.severity }),
      ...(entry.category === undefined ? {} : { category: entry.category }),
      timestamp: timestampOf(entry.timestamp ?? input.now),
      properties: { ...entry.properties, process },
      ...(inScope ? {} : { resources: [reference(resource)] }),
    };
  });
  return {
    apiVersion: POLICY_REPORT_API_VERSION,
    kind: namespace === undefined || namespace === '' ? 'ClusterPolicyReport' : 'PolicyReport',
    metadata: {
      name,
      ...(namespace === undefined || namespace === '' ? {} : { namespace }),
      labels: { 'app.kubernetes.io/managed-by': POLICY_REPORT_MANAGER },
      ...(scope?.uid === undefined ? {} : { ownerReferences: [{ apiVersion: scope.apiVersion, kind: scope.kind, name: scope.name, uid: scope.uid }] }),
    },
    ...(scope === undefined ? {} : { scope }),
    results,
    summary: counts,
  };
}
