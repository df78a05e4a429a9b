// PolicyReports of admitted resources: one report per resource (Kyverno's in-cluster shape), kept in
// memory for GET /reports, written as JSON files under `--reports-dir` in standalone mode, and
// handed to any other sink (the cluster writer). Only the validating webhook records, once the
// resource has its uid; dry runs and denied requests record nothing (a denied resource never
// exists, as in Kyverno, and a dry run must have no side effects).

import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aggregateRuleResults } from './metrics.js';
import { buildPolicyReport, policyKey, type ImageRuleResult, type KyvernoPolicy, type PolicyReport, type PolicyResult, type PolicyResultInput, type PolicySeverity, type ResourceReference } from '../../admission/index.js';

/** Somewhere reports go besides memory. */
export interface ReportSink {
  write(report: PolicyReport): Promise<void>;
}

/** RFC 1123 label, what a namespace name (and Sigil's report names) must be. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Most reports kept in memory; the least recently updated go first. */
export const DEFAULT_MAX_REPORTS = 10_000;

const SEVERITIES: readonly PolicySeverity[] = ['critical', 'high', 'medium', 'low', 'info'];

function severityOf(policy: KyvernoPolicy | undefined): PolicySeverity | undefined {
  const value = policy?.metadata.annotations['policies.kyverno.io/severity']?.toLowerCase();
  return SEVERITIES.find((s) => s === value);
}

/** Each policy list's policies by key: the server passes the same list with every request until policies change. */
const POLICIES_BY_KEY = new WeakMap<readonly KyvernoPolicy[], ReadonlyMap<string, KyvernoPolicy>>();

/**
 * Kyverno's report results of one evaluation: one per policy and rule (not per image, as the
 * metrics count them: aggregateRuleResults), messages joined; severity, category and scored from
 * the policy's `policies.kyverno.io/*` annotations.
 */
export function ruleResults(results: readonly ImageRuleResult[], policies: readonly KyvernoPolicy[]): PolicyResultInput[] {
  let byKey = POLICIES_BY_KEY.get(policies);
  if (byKey === undefined) POLICIES_BY_KEY.set(policies, (byKey = new Map(policies.map((p) => [policyKey(p), p]))));
  return aggregateRuleResults(results).map((outcome) => {
    const policy = byKey.get(outcome.policy);
    const severity = severityOf(policy);
    const category = policy?.metadata.annotations['policies.kyverno.io/category'];
    const scored = policy?.metadata.annotations['policies.kyverno.io/scored'] !== 'false';
    return {
      policy: outcome.policy,
      rule: outcome.rule,
      result: outcome.result satisfies PolicyResult,
      message: outcome.messages.join('; '),
      scored,
      ...(severity === undefined ? {} : { severity }),
      ...(category === undefined || category === '' ? {} : { category }),
    };
  });
}

/** What one admitted request contributes. */
export interface ReportEntry {
  /** The resource, with its uid when the request has one. */
  readonly resource: ResourceReference;
  readonly results: readonly ImageRuleResult[];
  readonly policies: readonly KyvernoPolicy[];
  /** Where the results come from (default `admission review`). */
  readonly process?: 'admission review' | 'background scan';
}

/** Options of ReportStore. */
export interface ReportStoreOptions {
  /** `--reports-dir`: each report is written to `DIR/<namespace or _cluster>/<name>.json`. */
  readonly dir?: string;
  readonly sinks?: readonly ReportSink[];
  readonly maxReports?: number;
  readonly now?: () => Date;
  /** Told about a sink or file write that failed; the report stays in memory. */
  readonly onError?: (error: unknown, report: PolicyReport) => void;
}

function resourceKey(ref: ResourceReference): string {
  return JSON.stringify([ref.apiVersion, ref.kind, ref.namespace ?? '', ref.name]);
}

/** A report's name: Sigil's `sigil-<uid>`, or a stable hash of the resource when the uid is not known. */
function reportName(ref: ResourceReference): string {
  // A uid is the apiserver's UUID; anything else (the review body is the caller's) is hashed.
  if (ref.uid !== undefined && /^[a-z0-9][a-z0-9-]{0,62}$/.test(ref.uid)) return `sigil-${ref.uid}`;
  const key = resourceKey(ref);
  let name = HASHED_NAMES.get(key);
  if (name === undefined) {
    name = `sigil-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
    if (HASHED_NAMES.size >= MAX_HASHED_NAMES) HASHED_NAMES.clear();
    HASHED_NAMES.set(key, name);
  }
  return name;
}

/** Hashed report names by resource key: the same resources are admitted again and again. */
const HASHED_NAMES = new Map<string, string>();
/** At most this many, then the map starts over. */
const MAX_HASHED_NAMES = 4096;

/** Keeps the latest report of each resource, and writes it out. */
export class ReportStore {
  readonly #reports = new Map<string, PolicyReport>();
  readonly #writes = new Map<string, Promise<void>>();
  readonly #options: ReportStoreOptions;
  readonly #max: number;

  constructor(options: ReportStoreOptions = {}) {
    this.#options = options;
    this.#max = options.maxReports ?? DEFAULT_MAX_REPORTS;
  }

  /** Replaces the resource's report with this request's results (nothing when it has none); resolves once written everywhere. */
  async record(entry: ReportEntry): Promise<PolicyReport | undefined> {
    const results = ruleResults(entry.results, entry.policies);
    if (results.length === 0) return undefined;
    const report = buildPolicyReport({ scope: entry.resource, name: reportName(entry.resource), results, now: (this.#options.now ?? (() => new Date()))(), ...(entry.process === undefined ? {} : { process: entry.process }) });
    const key = resourceKey(entry.resource);
    this.#reports.delete(key);
    this.#reports.set(key, report);
    while (this.#reports.size > this.#max) {
      const oldest = this.#reports.keys().next().value;
      if (oldest === undefined) break;
      this.#reports.delete(oldest);
    }
    // Nowhere to write it but memory (the default store): done.
    if (this.#options.dir === undefined && (this.#options.sinks ?? []).length === 0) return report;
    // Writes of one resource's report stay in order; a failed one does not stop the next.
    const previous = this.#writes.get(key) ?? Promise.resolve();
    const write = previous.then(() => this.#writeOut(report));
    this.#writes.set(key, write);
    await write;
    if (this.#writes.get(key) === write) this.#writes.delete(key);
    return report;
  }

  /** The reports held, optionally of one namespace (`''` for cluster-scoped resources). */
  list(namespace?: string): PolicyReport[] {
    const all = [...this.#reports.values()];
    return namespace === undefined ? all : all.filter((r) => (r.metadata.namespace ?? '') === namespace);
  }

  async #writeOut(report: PolicyReport): Promise<void> {
    const targets: Array<() => Promise<void>> = (this.#options.sinks ?? []).map((sink) => () => sink.write(report));
    const dir = this.#options.dir;
    if (dir !== undefined) targets.push(() => writeReportFile(dir, report));
    await Promise.all(
      targets.map(async (write) => {
        try {
          await write();
        } catch (error) {
          this.#options.onError?.(error, report);
        }
      }),
    );
  }
}

/** Writes a report as `DIR/<namespace or _cluster>/<name>.json`, atomically (temp file, then rename). */
export async function writeReportFile(dir: string, report: PolicyReport): Promise<void> {
  const { namespace, name } = report.metadata;
  // Both become path components, so both must be what Kubernetes allows (DNS labels), nothing else.
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) throw new Error(`report ${name}: namespace ${JSON.stringify(namespace).slice(0, 80)} is not a Kubernetes namespace name; not written`);
  if (!DNS_LABEL.test(name)) throw new Error(`report name ${JSON.stringify(name).slice(0, 80)} is not a DNS label; not written`);
  const folder = join(dir, namespace ?? '_cluster');
  await mkdir(folder, { recursive: true });
  const file = join(folder, `${report.metadata.name}.json`);
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, `${JSON.stringify(report, null, 2)}\n`);
  await rename(temp, file);
}
