// Background scans, Kyverno's `spec.background` (default true): every interval the resources that
// exist in the cluster are listed and evaluated as they stand, with full verification (through the
// same verifier and verdict cache as admission), and each one's PolicyReport is replaced with
// results marked `process: background scan`. So a signature removed, a certificate no longer
// trusted or a policy added after a Pod was admitted shows in the reports, as it does with
// Kyverno's reports controller (kyverno.md §3c). Nothing is denied or changed: a scan only reports.

import { evaluateImages, labelMap, type EvaluationRequest, type KyvernoPolicy, type VerifyImage } from '../../admission/index.js';
import { apiVersionOf, resourcePath, type KubeList, type KubeObject, type ListOptions, type ResourceType } from '../../kube/index.js';
import type { ReportStore } from './reports.js';
import type { AdmissionPolicySet } from './server.js';

/** Kyverno's default `--backgroundScanInterval`. */
export const DEFAULT_BACKGROUND_SCAN_INTERVAL_MS = 60 * 60 * 1000;
/** How long after start the first scan runs (the cluster has synced by then). */
export const FIRST_BACKGROUND_SCAN_DELAY_MS = 30_000;
/** Verification time allowed per resource; one slow registry does not hold up the scan for long. */
export const BACKGROUND_RESOURCE_TIMEOUT_MS = 30_000;

/** A kind a background scan lists: what verifyImages rules match, Pods and the controllers autogen covers. */
export interface ScannedKind extends ResourceType {
  readonly kind: string;
}

/** Pods and every controller Kyverno's autogen writes rules for. */
export const BACKGROUND_SCAN_KINDS: readonly ScannedKind[] = Object.freeze([
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', namespaced: true },
  { group: '', version: 'v1', plural: 'replicationcontrollers', kind: 'ReplicationController', namespaced: true },
  { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
  { group: 'batch', version: 'v1', plural: 'cronjobs', kind: 'CronJob', namespaced: true },
].map((k) => Object.freeze(k)));

/** What one scan did. */
export interface BackgroundScanSummary {
  /** Resources evaluated (of every listed kind). */
  readonly resources: number;
  /** Reports replaced: resources some background policy had a result for. */
  readonly reports: number;
  /** Kinds that could not be listed and resources that could not be evaluated; each went to onError. */
  readonly errors: number;
}

/** Options of BackgroundScanner. */
export interface BackgroundScannerOptions {
  readonly client: { list(path: string, options: ListOptions): Promise<KubeList> };
  /** The policies in force now (undefined: not loaded yet, so the scan waits for the next interval). */
  readonly policies: () => AdmissionPolicySet | undefined;
  readonly verifyImage: VerifyImage;
  readonly reports: ReportStore;
  /** Namespace labels for namespaceSelector; without, only `kubernetes.io/metadata.name`. */
  readonly namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined;
  /** Between scans (default DEFAULT_BACKGROUND_SCAN_INTERVAL_MS). */
  readonly intervalMs?: number;
  readonly firstDelayMs?: number;
  readonly resourceTimeoutMs?: number;
  /** A kind not listed or a resource not evaluated; the scan goes on. */
  readonly onError?: (error: unknown, where: string) => void;
  readonly onScan?: (summary: BackgroundScanSummary) => void;
}

/**
 * An existing object as the request its evaluation sees: a CREATE of it as it stands (what
 * `kyverno apply` and Kyverno's background scan evaluate), with no user: policies with background
 * processing cannot match on the requesting user, which the policy loader enforces.
 */
export function backgroundRequest(kind: ScannedKind, object: KubeObject, namespaceLabels?: Readonly<Record<string, string>>): EvaluationRequest {
  const namespace = object.metadata.namespace ?? '';
  return {
    kind: { group: kind.group, version: kind.version, kind: kind.kind },
    name: object.metadata.name ?? '',
    namespace,
    operation: 'CREATE',
    labels: labelMap(object.metadata.labels),
    annotations: labelMap(object.metadata.annotations),
    namespaceLabels: namespaceLabels ?? { 'kubernetes.io/metadata.name': namespace },
    object: { apiVersion: apiVersionOf(kind), kind: kind.kind, ...object },
  };
}

/** Runs background scans on an interval; `scanOnce` runs one now. */
export class BackgroundScanner {
  readonly #options: BackgroundScannerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<BackgroundScanSummary> | undefined;
  /** The last scan found no policies loaded (the cluster had not synced): the next one comes sooner. */
  #waitingForPolicies = false;
  readonly #stop = new AbortController();

  constructor(options: BackgroundScannerOptions) {
    this.#options = options;
  }

  /** Schedules the first scan after firstDelayMs, then one every intervalMs. */
  start(): this {
    this.#schedule(this.#options.firstDelayMs ?? FIRST_BACKGROUND_SCAN_DELAY_MS);
    return this;
  }

  /** Cancels the schedule and any scan in progress; resolves once it has stopped. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stop.abort(new Error('the background scanner stopped'));
    await this.#running?.catch(() => undefined);
  }

  #schedule(delayMs: number): void {
    if (this.#stop.signal.aborted) return;
    this.#timer = setTimeout(() => {
      void this.scanOnce()
        .catch((error: unknown) => this.#options.onError?.(error, 'scan'))
        .finally(() => {
          const waiting = this.#waitingForPolicies;
          this.#schedule(waiting ? (this.#options.firstDelayMs ?? FIRST_BACKGROUND_SCAN_DELAY_MS) : (this.#options.intervalMs ?? DEFAULT_BACKGROUND_SCAN_INTERVAL_MS));
        });
    }, delayMs);
    this.#timer.unref();
  }

  /** One scan of every kind; a scan already running is joined rather than started twice. */
  scanOnce(): Promise<BackgroundScanSummary> {
    this.#running ??= this.#scan().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #scan(): Promise<BackgroundScanSummary> {
    const set = this.#options.policies();
    const policies: readonly KyvernoPolicy[] = set?.policies.filter((p) => p.spec.background) ?? [];
    const summary = { resources: 0, reports: 0, errors: 0 };
    this.#waitingForPolicies = set === undefined;
    if (set === undefined || policies.length === 0) return summary;
    const signal = this.#stop.signal;
    const onError = this.#options.onError ?? (() => undefined);
    for (const kind of BACKGROUND_SCAN_KINDS) {
      if (signal.aborted) break;
      let list: KubeList;
      try {
        list = await this.#options.client.list(resourcePath(kind), { signal });
      } catch (error) {
        if (signal.aborted) break;
        summary.errors++;
        onError(error, `listing ${kind.plural}`);
        continue;
      }
      for (const object of list.items) {
        if (signal.aborted) break;
        const where = `${kind.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
        try {
          const request = backgroundRequest(kind, object, this.#options.namespaceLabels?.(object.metadata.namespace ?? ''));
          const evaluation = await evaluateImages({
            policies,
            exceptions: set.exceptions.filter((e) => e.background),
            request,
            verifyImage: this.#options.verifyImage,
            signal: AbortSignal.any([signal, AbortSignal.timeout(this.#options.resourceTimeoutMs ?? BACKGROUND_RESOURCE_TIMEOUT_MS)]),
          });
          summary.resources++;
          const uid = object.metadata.uid;
          const report = await this.#options.reports.record({
            resource: { apiVersion: apiVersionOf(kind), kind: kind.kind, name: request.name, ...(request.namespace === '' ? {} : { namespace: request.namespace }), ...(uid === undefined ? {} : { uid }) },
            results: evaluation.results,
            policies,
            process: 'background scan',
          });
          if (report !== undefined) summary.reports++;
        } catch (error) {
          if (signal.aborted) break;
          summary.errors++;
          onError(error, where);
        }
      }
    }
    this.#options.onScan?.(summary);
    return summary;
  }
}
