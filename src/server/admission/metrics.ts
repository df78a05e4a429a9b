// Prometheus metrics of the admission webhook, on a registry of its own (never prom-client's global
// one): Sigil's sigil_* families, plus Kyverno's kyverno_* names and labels for the same facts
// (../shared/reference/kyverno.md §6) so dashboards and alerts written for Kyverno keep working.

import { Counter, Histogram, Registry } from 'prom-client';
import { compositeKey, policyKey, type AdmissionObserver, type CacheLookup, type FailureAction, type ImageRuleResult, type KyvernoPolicy, type Operation } from '../../admission/index.js';

/**
 * Buckets of the sigil_* duration histograms, in seconds: a cached verdict is answered in well
 * under 5 ms, so the low end is fine-grained; 30 s is the largest webhook timeout the apiserver allows.
 */
export const ADMISSION_DURATION_BUCKETS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);

/**
 * Buckets of the kyverno_* duration histograms: Kyverno's defaults (pkg/config/metricsconfig.go),
 * so `le` selectors in existing queries and alerts (p99 > 1 s, > 5 s) find the same boundaries.
 */
export const KYVERNO_DURATION_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 25, 30]);

/** Which webhook answered a review: `/mutate` or `/validate`. */
export type AdmissionWebhook = 'mutate' | 'validate';

/** Kyverno's `request_webhook` value for each webhook. */
const KYVERNO_WEBHOOK: Readonly<Record<AdmissionWebhook, string>> = Object.freeze({
  mutate: 'MutatingWebhookConfiguration',
  validate: 'ValidatingWebhookConfiguration',
});

/** The facts of an admission request that results are labelled with. */
export interface ObservedRequest {
  /** `request.kind.kind`, e.g. `Pod`. */
  readonly kind: string;
  /** `request.namespace`; `''` for a cluster-scoped object (as Kyverno labels it). */
  readonly namespace: string;
  readonly operation: Operation;
  readonly dryRun: boolean;
}

/** One AdmissionReview answered, as `observeReview` records it. */
export interface ObservedReview extends ObservedRequest {
  readonly webhook: AdmissionWebhook;
  /** The `allowed` of the AdmissionResponse sent. */
  readonly allowed: boolean;
  /** Seconds from the request's arrival to the response written. */
  readonly seconds: number;
}

/** One `/checkimages` call, as `observeCheckImages` records it. */
export interface ObservedCheckImages {
  /** How many images the call named. */
  readonly images: number;
  /** The answer's overall `verified`. */
  readonly verified: boolean;
  readonly seconds: number;
}

/** One rule's result for one request: its image results folded into one (see `aggregateRuleResults`). */
export interface RuleOutcome {
  /** The policy key: `name`, or `namespace/name` for a Policy. */
  readonly policy: string;
  readonly rule: string;
  readonly result: ImageRuleResult['result'];
  readonly action: FailureAction;
  /** The distinct messages of its image results, in first-seen order. */
  readonly messages: readonly string[];
}

/** Precedence of image results when folding them into a rule's result: the most serious wins. */
const RESULT_RANK: Readonly<Record<ImageRuleResult['result'], number>> = Object.freeze({ skip: 0, pass: 1, fail: 2, error: 3 });

/**
 * Folds per-image results into one result per (policy, rule), in first-seen order, because Kyverno
 * counts a rule once per request, not once per image. Precedence: error > fail > pass > skip: a
 * rule that could not verify one image did not finish, whatever the others gave; one failed image
 * fails the rule; a rule passes if any image passed and none failed; it is skipped only when every
 * image (or the whole rule, by a PolicyException) was skipped. The action is Enforce if any
 * result says so (the engine resolves one action per rule and request, so they agree).
 */
export function aggregateRuleResults(results: readonly ImageRuleResult[]): RuleOutcome[] {
  const byRule = new Map<string, { policy: string; rule: string; result: ImageRuleResult['result']; action: FailureAction; messages: string[] }>();
  for (const r of results) {
    const key = compositeKey(r.policy, r.rule);
    const seen = byRule.get(key);
    if (seen === undefined) {
      byRule.set(key, { policy: r.policy, rule: r.rule, result: r.result, action: r.action, messages: [r.message] });
      continue;
    }
    if (RESULT_RANK[r.result] > RESULT_RANK[seen.result]) seen.result = r.result;
    if (r.action === 'Enforce') seen.action = 'Enforce';
    if (!seen.messages.includes(r.message)) seen.messages.push(r.message);
  }
  return [...byRule.values()];
}

/** Label values of one series. */
type LabelValues<L extends string> = Partial<Record<L, string>>;

/**
 * Increments of one counter by label set, handed to prom-client when the registry is read (the
 * counter's `collect` hook, which every read of the registry runs first): an increment on the
 * request path adds to a number found by one string key, where prom-client would hash and check a
 * label object every time. Every read sees every increment made before it.
 */
class PendingCounts<L extends string> {
  readonly #series = new Map<string, { readonly labels: LabelValues<L>; count: number }>();

  /** Adds `value` to the series `key` names; `labels` builds its labels the first time the key is seen. */
  add(key: string, labels: () => LabelValues<L>, value = 1): void {
    const series = this.#series.get(key);
    if (series !== undefined) series.count += value;
    else this.#series.set(key, { labels: Object.freeze(labels()), count: value });
  }

  /** Moves the counts into `counter`, in the order the series were first seen. */
  flush(counter: Counter<L>): void {
    for (const series of this.#series.values()) {
      if (series.count === 0) continue;
      counter.inc(series.labels, series.count);
      series.count = 0;
    }
  }
}

/** The policy_* labels Kyverno puts on a result. */
interface KyvernoPolicyLabels {
  readonly policy_name: string;
  readonly policy_namespace: string;
  readonly policy_type: 'cluster' | 'namespaced';
  readonly policy_background_mode: string;
}

function kyvernoPolicyLabels(policy: KyvernoPolicy): KyvernoPolicyLabels {
  const namespace = policy.kind === 'Policy' ? policy.metadata.namespace : undefined;
  return {
    policy_name: policy.metadata.name,
    // Kyverno labels cluster policies' namespace `-` (reference §6).
    policy_namespace: namespace ?? '-',
    policy_type: namespace === undefined ? 'cluster' : 'namespaced',
    policy_background_mode: String(policy.spec.background),
  };
}

/** Labels for a result whose policy is not among those given: read from the key, background at Kyverno's default. */
function labelsFromKey(key: string): KyvernoPolicyLabels {
  const slash = key.indexOf('/');
  if (slash < 0) return { policy_name: key, policy_namespace: '-', policy_type: 'cluster', policy_background_mode: 'true' };
  return { policy_name: key.slice(slash + 1), policy_namespace: key.slice(0, slash), policy_type: 'namespaced', policy_background_mode: 'true' };
}

/** A duration prom-client accepts, or undefined: histograms throw on NaN and Infinity, and an observer must not throw. */
function duration(seconds: number): number | undefined {
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

type AdmissionLabel = 'webhook' | 'kind' | 'operation' | 'allowed' | 'dry_run';
type KyvernoAdmissionLabel = 'resource_kind' | 'resource_namespace' | 'resource_request_operation' | 'request_allowed' | 'request_webhook';
type KyvernoResultLabel =
  | 'policy_validation_mode'
  | 'policy_type'
  | 'policy_background_mode'
  | 'policy_namespace'
  | 'policy_name'
  | 'resource_kind'
  | 'resource_namespace'
  | 'resource_request_operation'
  | 'rule_name'
  | 'rule_result'
  | 'rule_type'
  | 'rule_execution_cause'
  | 'dry_run';

/**
 * The admission server's metrics. Pass it to the verifier as its `AdmissionObserver`; call
 * `observeReview` once per AdmissionReview answered, `observeResults` once per evaluation,
 * `observeCheckImages` once per `/checkimages` call; serve `text()` as `contentType` on `/metrics`.
 * Every observe method is synchronous, cheap and never throws.
 *
 * Not recorded: `kyverno_policy_execution_duration_seconds`, because the engine reports no per-rule
 * duration (its images are verified in parallel and share cached verdicts); Kyverno's
 * policy-lifecycle families (`kyverno_policy_rule_info_total`, `kyverno_policy_changes_total`),
 * because policies are files loaded at start, not watched objects.
 */
export class AdmissionMetrics implements AdmissionObserver {
  /** The registry every metric here is registered on; only this instance writes to it. */
  readonly registry = new Registry();
  readonly #requests: Counter<AdmissionLabel>;
  readonly #reviewDuration: Histogram<'webhook' | 'allowed'>;
  readonly #policyResults: Counter<'policy' | 'rule' | 'result'>;
  readonly #cacheLookups: Counter<'result'>;
  readonly #verifications: Counter<'registry' | 'status'>;
  readonly #verificationDuration: Histogram<'registry'>;
  readonly #registryRequests: Counter<'registry' | 'operation' | 'outcome'>;
  readonly #registryDuration: Histogram<'registry' | 'operation'>;
  readonly #checkImagesRequests: Counter<'verified'>;
  readonly #checkImagesImages: Counter;
  readonly #checkImagesDuration: Histogram;
  readonly #kyvernoRequests: Counter<KyvernoAdmissionLabel>;
  readonly #kyvernoReviewDuration: Histogram<KyvernoAdmissionLabel>;
  readonly #kyvernoResults: Counter<KyvernoResultLabel>;
  // The per-request counters count here first (PendingCounts); the histograms' label objects are kept per series.
  readonly #pendingRequests = new PendingCounts<AdmissionLabel>();
  readonly #pendingKyvernoRequests = new PendingCounts<KyvernoAdmissionLabel>();
  readonly #pendingPolicyResults = new PendingCounts<'policy' | 'rule' | 'result'>();
  readonly #pendingKyvernoResults = new PendingCounts<KyvernoResultLabel>();
  readonly #pendingCacheLookups = new PendingCounts<'result'>();
  readonly #reviewLabels = new Map<string, { readonly sigil: LabelValues<'webhook' | 'allowed'>; readonly kyverno: LabelValues<KyvernoAdmissionLabel> }>();
  /** Kyverno's policy_* labels of each policy of a policy list, by policy key. */
  readonly #policyLabels = new WeakMap<readonly KyvernoPolicy[], Map<string, KyvernoPolicyLabels>>();

  constructor() {
    const registers = [this.registry];
    const buckets = [...ADMISSION_DURATION_BUCKETS];
    const kyvernoBuckets = [...KYVERNO_DURATION_BUCKETS];
    const pendingRequests = this.#pendingRequests;
    const pendingKyvernoRequests = this.#pendingKyvernoRequests;
    const pendingPolicyResults = this.#pendingPolicyResults;
    const pendingKyvernoResults = this.#pendingKyvernoResults;
    const pendingCacheLookups = this.#pendingCacheLookups;
    this.#requests = new Counter({ name: 'sigil_admission_requests_total', help: 'AdmissionReviews answered, by webhook, resource kind, operation, decision and dry run', labelNames: ['webhook', 'kind', 'operation', 'allowed', 'dry_run'], registers, collect() {
        pendingRequests.flush(this);
      },
    });
    this.#reviewDuration = new Histogram({ name: 'sigil_admission_review_duration_seconds', help: 'Time from an AdmissionReview arriving to its answer, by webhook and decision', labelNames: ['webhook', 'allowed'], buckets, registers });
    this.#policyResults = new Counter({ name: 'sigil_policy_results_total', help: 'verifyImages rule results, once per rule per evaluated request', labelNames: ['policy', 'rule', 'result'], registers, collect() {
        pendingPolicyResults.flush(this);
      },
    });
    this.#cacheLookups = new Counter({ name: 'sigil_verification_cache_lookups_total', help: 'Verification cache lookups: hit (stored verdict), shared (joined one in flight), miss (started one)', labelNames: ['result'], registers, collect() {
        pendingCacheLookups.flush(this);
      },
    });
    this.#verifications = new Counter({ name: 'sigil_verifications_total', help: 'Image verifications that really ran (cached and shared answers excluded), by registry and verdict', labelNames: ['registry', 'status'], registers });
    this.#verificationDuration = new Histogram({ name: 'sigil_verification_duration_seconds', help: 'Duration of image verifications that really ran, by registry', labelNames: ['registry'], buckets, registers });
    this.#registryRequests = new Counter({ name: 'sigil_registry_requests_total', help: 'Calls to registries during verification, by registry, operation and outcome', labelNames: ['registry', 'operation', 'outcome'], registers });
    this.#registryDuration = new Histogram({ name: 'sigil_registry_request_duration_seconds', help: 'Duration of calls to registries during verification, by registry and operation', labelNames: ['registry', 'operation'], buckets, registers });
    this.#checkImagesRequests = new Counter({ name: 'sigil_checkimages_requests_total', help: '/checkimages calls answered, by overall verdict', labelNames: ['verified'], registers });
    this.#checkImagesImages = new Counter({ name: 'sigil_checkimages_images_total', help: 'Images named in /checkimages calls', registers });
    this.#checkImagesDuration = new Histogram({ name: 'sigil_checkimages_duration_seconds', help: 'Time from a /checkimages call arriving to its answer', buckets, registers });
    const admissionLabels: KyvernoAdmissionLabel[] = ['resource_kind', 'resource_namespace', 'resource_request_operation', 'request_allowed', 'request_webhook'];
    this.#kyvernoRequests = new Counter({ name: 'kyverno_admission_requests_total', help: 'Admission requests (Kyverno-compatible name and labels)', labelNames: admissionLabels, registers, collect() {
        pendingKyvernoRequests.flush(this);
      },
    });
    this.#kyvernoReviewDuration = new Histogram({ name: 'kyverno_admission_review_duration_seconds', help: 'End-to-end latency of each admission review in seconds (Kyverno-compatible name and labels)', labelNames: admissionLabels, buckets: kyvernoBuckets, registers });
    this.#kyvernoResults = new Counter({
      name: 'kyverno_policy_results_total',
      help: 'Rule results per admission request (Kyverno-compatible name and labels)',
      labelNames: ['policy_validation_mode', 'policy_type', 'policy_background_mode', 'policy_namespace', 'policy_name', 'resource_kind', 'resource_namespace', 'resource_request_operation', 'rule_name', 'rule_result', 'rule_type', 'rule_execution_cause', 'dry_run'],
      registers,
      collect() {
        pendingKyvernoResults.flush(this);
      },
    });
    // Series with a closed label set start at 0, so rate() and ratios work before the first event.
    for (const result of ['hit', 'shared', 'miss'] satisfies CacheLookup[]) this.#cacheLookups.inc({ result }, 0);
    for (const verified of ['true', 'false']) this.#checkImagesRequests.inc({ verified }, 0);
  }

  /** The media type of `text()` (Prometheus text exposition format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for `GET /metrics`. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Records one AdmissionReview answered: call it for every review answered with an
   * AdmissionReview, DELETE and CONNECT passed straight through and denials included.
   */
  observeReview(review: ObservedReview): void {
    const allowed = review.allowed ? 'true' : 'false';
    const dryRun = review.dryRun ? 'true' : 'false';
    const key = compositeKey(review.webhook, review.kind, review.namespace, review.operation, allowed, dryRun);
    this.#pendingRequests.add(key, () => ({ webhook: review.webhook, kind: review.kind, operation: review.operation, allowed, dry_run: dryRun }));
    let labels = this.#reviewLabels.get(key);
    if (labels === undefined) {
      labels = Object.freeze({
        sigil: Object.freeze({ webhook: review.webhook, allowed }),
        kyverno: Object.freeze({
          resource_kind: review.kind,
          resource_namespace: review.namespace,
          resource_request_operation: review.operation.toLowerCase(),
          request_allowed: allowed,
          request_webhook: KYVERNO_WEBHOOK[review.webhook],
        }),
      });
      this.#reviewLabels.set(key, labels);
    }
    const { kyverno } = labels;
    this.#pendingKyvernoRequests.add(key, () => kyverno);
    const seconds = duration(review.seconds);
    if (seconds === undefined) return;
    this.#reviewDuration.observe(labels.sigil, seconds);
    this.#kyvernoReviewDuration.observe(kyverno, seconds);
  }

  /**
   * Records the rule results of one evaluation (`ImageEvaluation.results`) of `request`, one count
   * per rule (see `aggregateRuleResults`). `policies` are the policies evaluated: they give
   * Kyverno's policy_* labels; a result whose policy is not among them is labelled from its key.
   * Call it once per evaluation: a request evaluated by both webhooks is counted twice.
   *
   * `policy_validation_mode` is the rule's resolved action for this request (per-entry
   * `failureAction` and namespace overrides applied), where Kyverno labels the policy's
   * `validationFailureAction` and so calls an Enforce-per-entry verifyImages rule `audit`
   * (reference §6): `enforce` here means the result could block.
   */
  observeResults(request: ObservedRequest, policies: readonly KyvernoPolicy[], results: readonly ImageRuleResult[]): void {
    let byKey = this.#policyLabels.get(policies);
    if (byKey === undefined) {
      // Worked out once per policy list (the server passes the same list until policies change); a key held by two policies gets the last one's labels.
      byKey = new Map(policies.map((policy) => [policyKey(policy), Object.freeze(kyvernoPolicyLabels(policy))]));
      this.#policyLabels.set(policies, byKey);
    }
    const operation = request.operation.toLowerCase();
    const dryRun = request.dryRun ? 'true' : 'false';
    for (const outcome of aggregateRuleResults(results)) {
      this.#pendingPolicyResults.add(compositeKey(outcome.policy, outcome.rule, outcome.result), () => ({ policy: outcome.policy, rule: outcome.rule, result: outcome.result }));
      const policy = byKey.get(outcome.policy) ?? labelsFromKey(outcome.policy);
      const mode = outcome.action === 'Enforce' ? 'enforce' : 'audit';
      const key = compositeKey(mode, policy.policy_type, policy.policy_background_mode, policy.policy_namespace, policy.policy_name, request.kind, request.namespace, operation, outcome.rule, outcome.result, dryRun);
      this.#pendingKyvernoResults.add(key, () => ({
        ...policy,
        policy_validation_mode: mode,
        resource_kind: request.kind,
        resource_namespace: request.namespace,
        resource_request_operation: operation,
        rule_name: outcome.rule,
        rule_result: outcome.result,
        rule_type: 'imageVerify',
        rule_execution_cause: 'admission_request',
        dry_run: dryRun,
      }));
    }
  }

  /** Records one `/checkimages` call answered. */
  observeCheckImages(call: ObservedCheckImages): void {
    this.#checkImagesRequests.inc({ verified: String(call.verified) });
    if (Number.isSafeInteger(call.images) && call.images > 0) this.#checkImagesImages.inc(call.images);
    const seconds = duration(call.seconds);
    if (seconds !== undefined) this.#checkImagesDuration.observe(seconds);
  }

  /** AdmissionObserver: one lookup in the verification cache. */
  cacheLookup(result: CacheLookup): void {
    this.#pendingCacheLookups.add(result, () => ({ result }));
  }

  /** AdmissionObserver: one registry call; `registry` is the host, never a repository or digest. */
  registryCall(registry: string, operation: string, seconds: number, outcome: 'ok' | 'error'): void {
    this.#registryRequests.inc({ registry, operation, outcome });
    const s = duration(seconds);
    if (s !== undefined) this.#registryDuration.observe({ registry, operation }, s);
  }

  /** AdmissionObserver: one verification that really ran. */
  verification(registry: string, seconds: number, status: 'pass' | 'fail' | 'error'): void {
    this.#verifications.inc({ registry, status });
    const s = duration(seconds);
    if (s !== undefined) this.#verificationDuration.observe({ registry }, s);
  }

  /**
   * The sum of the samples named `name` whose labels include `labels`, read from this registry's
   * exposition: `value('sigil_verifications_total')` is every verification that ran. A histogram
   * is read through its `_count`, `_sum` or `_bucket` series. Throws for a name this registry
   * does not have, so a typo cannot read as 0.
   */
  async value(name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
    const histogramSeries = /_(bucket|sum|count)$/.exec(name);
    const base = histogramSeries === null ? name : name.slice(0, histogramSeries.index);
    const exact = this.registry.getSingleMetric(name);
    const family = exact ?? (histogramSeries === null ? undefined : this.registry.getSingleMetric(base));
    if (family === undefined || (exact !== undefined && exact instanceof Histogram)) {
      throw new Error(`${name}: no such metric series in the admission metrics${family === undefined ? '' : `; read the histogram as ${name}_count, ${name}_sum or ${name}_bucket`}`);
    }
    if (exact === undefined && !(family instanceof Histogram)) throw new Error(`${name}: no such metric series in the admission metrics; ${base} is not a histogram`);
    return metricValue(parseExposition(await this.registry.getSingleMetricAsString(exact === undefined ? base : name)), name, labels);
  }
}

/** One sample of the Prometheus text exposition format: a series name, its labels and its value. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Parses Prometheus text exposition format 0.0.4 into samples: `# HELP`/`# TYPE` and other
 * comment lines are skipped, label values are unescaped (`\\`, `\"`, `\n`), `+Inf`, `-Inf` and
 * `NaN` are numbers, a trailing timestamp is ignored. Throws SyntaxError naming the line on
 * anything else. For tests and benchmarks that scrape `/metrics`.
 */
export function parseExposition(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fail = (problem: string): never => {
      throw new SyntaxError(`metrics exposition line ${index + 1}: ${problem}: ${JSON.stringify(line.slice(0, 200))}`);
    };
    const name = METRIC_NAME.exec(line)?.[0] ?? fail('no metric name');
    let at = name.length;
    const entries: [string, string][] = [];
    if (line[at] === '{') {
      at++;
      for (;;) {
        if (line[at] === '}') break;
        const label = LABEL_NAME.exec(line.slice(at))?.[0] ?? fail('bad label name');
        at += label.length;
        if (line.slice(at, at + 2) !== '="') fail(`label ${label}: expected ="`);
        at += 2;
        let value = '';
        for (;;) {
          const c = line[at] ?? fail(`label ${label}: unterminated value`);
          at++;
          if (c === '"') break;
          if (c !== '\\') {
            value += c;
            continue;
          }
          const escaped = line[at] ?? fail(`label ${label}: unterminated escape`);
          at++;
          if (escaped === 'n') value += '\n';
          else if (escaped === '\\' || escaped === '"') value += escaped;
          else fail(`label ${label}: unknown escape \\${escaped}`);
        }
        entries.push([label, value]);
        if (line[at] === ',') at++;
        else if (line[at] !== '}') fail(`label ${label}: expected , or }`);
      }
      at++;
    }
    // Object.fromEntries defines own properties, so a label called __proto__ stays a label.
    const labels = Object.fromEntries(entries);
    const [token] = line.slice(at).trim().split(/\s+/);
    const value = token === '+Inf' ? Infinity : token === '-Inf' ? -Infinity : token === 'NaN' ? NaN : token === undefined || token === '' ? NaN : Number(token);
    if (Number.isNaN(value) && token !== 'NaN') fail('bad sample value');
    samples.push({ name, labels, value });
  }
  return samples;
}

/**
 * Sums the samples of series `name` whose labels include every pair of `labels` (a label the
 * sample lacks matches only `''`, as in PromQL). `samples` may be exposition text or parsed samples;
 * no matching sample sums to 0.
 */
export function metricValue(samples: string | readonly MetricSample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  const parsed = typeof samples === 'string' ? parseExposition(samples) : samples;
  const wanted = Object.entries(labels);
  let sum = 0;
  for (const sample of parsed) {
    if (sample.name !== name) continue;
    if (wanted.every(([k, v]) => (Object.hasOwn(sample.labels, k) ? sample.labels[k] : '') === v)) sum += sample.value;
  }
  return sum;
}
