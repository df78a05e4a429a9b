// `sigil admission serve`: run the admission webhook until SIGINT or SIGTERM, then shut down gracefully.
// Standalone it enforces policy files; connected to a cluster (--kubeconfig, --context, --in-cluster)
// it also enforces the sigil.dev policies, reads namespace labels and pull secrets, and writes PolicyReports.

import { join } from 'node:path';
import { KubeClient } from '../../kube/index.js';
import {
  AdmissionCluster,
  AdmissionMetrics,
  AdmissionServer,
  BackgroundScanner,
  FIRST_BACKGROUND_SCAN_DELAY_MS,
  createRegistryImageVerifier,
  expandPaths,
  loadAdmissionServeConfig,
  loadPolicyFiles,
  mergePolicySets,
  readTlsPair,
  ReportStore,
  secretCredentialsFor,
  TLS_DIR_FILES,
  watchSources,
  type AdmissionPolicySet,
  type AdmissionServeFlags,
  type ReportSink,
  type Watch,
} from '../../server/admission/index.js';
import { CliError } from '../errors.js';
import { parseGoDuration } from '../flags.js';
import type { CommandContext } from '../context.js';

/** How long start-up waits for the cluster's first lists before serving anyway (not ready until they arrive). */
const CLUSTER_SYNC_WAIT_MS = 10_000;

/** How long one PolicyReport write to the cluster may take. */
const REPORT_WRITE_TIMEOUT_MS = 30_000;

function firstLine(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}

/** Runs `sigil admission serve`; resolves once the server has stopped. */
export async function runAdmissionServe(
  ctx: CommandContext,
  flags: AdmissionServeFlags & { readonly reloadInterval?: string; readonly timeoutSeconds?: number; readonly backgroundScanInterval?: string },
): Promise<void> {
  let config;
  let intervalMs: number;
  let scanIntervalMs: number;
  try {
    intervalMs = parseGoDuration('--reload-interval', flags.reloadInterval ?? '2s');
    scanIntervalMs = flags.backgroundScanInterval === '0' ? 0 : parseGoDuration('--background-scan-interval', flags.backgroundScanInterval ?? '1h');
    if (scanIntervalMs !== 0 && scanIntervalMs < 1000) throw new Error(`--background-scan-interval ${flags.backgroundScanInterval ?? ''}: at least 1s, or 0 for no scans`);
    if (intervalMs < 100) throw new Error(`--reload-interval ${flags.reloadInterval ?? ''}: at least 100ms`);
    const timeout = flags.timeoutSeconds;
    if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 1 || timeout > 30)) throw new Error(`--timeout-seconds ${timeout}: the apiserver allows 1 to 30 seconds`);
    config = await loadAdmissionServeConfig(flags);
  } catch (err) {
    throw new CliError(firstLine(err));
  }
  const { files } = config.policies;
  const warn = (what: string) => (error: unknown) => ctx.stderr.write(`sigil admission: ${what}: ${firstLine(error)}\n`);
  const metrics = new AdmissionMetrics();

  // The latest set from each source; every change of either pushes their merge (files first).
  let fromFiles: AdmissionPolicySet = { policies: config.policies.policies, exceptions: config.policies.exceptions };
  let fromCluster: AdmissionPolicySet | undefined;
  let clusterSynced = false;
  let published: AdmissionPolicySet | undefined;
  const publish = (): void => {
    // Connected, nothing is enforced until the cluster's first snapshot: /readyz stays 503 meanwhile.
    if (config.cluster !== undefined && (!clusterSynced || fromCluster === undefined)) return;
    published = fromCluster === undefined ? fromFiles : mergePolicySets(fromFiles, fromCluster);
    server.setPolicies(published);
  };

  const kube = config.cluster === undefined ? undefined : new KubeClient(config.cluster.kube);
  const cluster =
    kube === undefined
      ? undefined
      : new AdmissionCluster({
          client: kube,
          onPolicies: (set) => {
            fromCluster = set;
            publish();
            if (clusterSynced) ctx.stderr.write(`sigil admission: cluster policies changed: ${count(set.policies.length, 'policy', 'policies')}, ${count(set.exceptions.length, 'exception', 'exceptions')}\n`);
          },
          onPolicyProblem: (problem) => ctx.stderr.write(`sigil admission: ${problem.origin}: left out: ${firstLine(problem.error)}\n`),
          onError: warn('cluster'),
          onReportsDisabled: warn('cluster'),
        });

  const sinks: ReportSink[] = [];
  if (cluster !== undefined) {
    sinks.push({ write: async (report) => void (await cluster.reports.write(report, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(REPORT_WRITE_TIMEOUT_MS)]) })) });
  }
  // One verifier (and verdict cache) for admission and background scans.
  const verifyImage = createRegistryImageVerifier(ctx.opener.client, {
    observer: metrics,
    ...(cluster === undefined || config.cluster === undefined ? {} : { credentialsFor: secretCredentialsFor({ secrets: cluster.credentials, namespace: config.cluster.namespace }) }),
  });
  const reports = new ReportStore({ ...(config.reportsDir === undefined ? {} : { dir: config.reportsDir }), sinks, onError: warn('policy report not written') });
  const server = new AdmissionServer({
    tls: config.tls,
    verifyImage,
    metrics,
    ...(flags.timeoutSeconds === undefined ? {} : { timeoutSeconds: flags.timeoutSeconds }),
    ...(cluster === undefined ? { policies: fromFiles } : { namespaceLabels: (namespace: string) => cluster.namespaceLabels(namespace) }),
    reports,
    onError: warn('error'),
  });
  if (cluster === undefined) published = fromFiles;
  // Background scans need the cluster's resources: only when connected.
  const scanner =
    kube === undefined || cluster === undefined || scanIntervalMs === 0
      ? undefined
      : new BackgroundScanner({
          client: kube,
          policies: () => published,
          verifyImage,
          reports,
          namespaceLabels: (namespace) => cluster.namespaceLabels(namespace),
          intervalMs: scanIntervalMs,
          // The first scan comes once the cluster has synced, or after one interval when that is shorter.
          firstDelayMs: Math.min(FIRST_BACKGROUND_SCAN_DELAY_MS, scanIntervalMs),
          onError: (error, where) => ctx.stderr.write(`sigil admission: background scan: ${where}: ${firstLine(error)}\n`),
          onScan: (summary) => ctx.stderr.write(`sigil admission: background scan: ${count(summary.resources, 'resource', 'resources')} evaluated, ${count(summary.reports, 'report', 'reports')} replaced${summary.errors === 0 ? '' : `, ${count(summary.errors, 'error', 'errors')}`}\n`),
        });

  const stopCluster = async (): Promise<void> => {
    await scanner?.stop();
    await cluster?.stop();
    await kube?.close();
  };
  if (cluster !== undefined) {
    cluster.start();
    scanner?.start();
    const synced = cluster.synced.then(() => {
      clusterSynced = true;
      publish();
      const set = fromCluster ?? { policies: [], exceptions: [] };
      ctx.stderr.write(`sigil admission: cluster synced: ${count(set.policies.length, 'policy', 'policies')} and ${count(set.exceptions.length, 'exception', 'exceptions')} from ${config.cluster?.kube.source ?? 'the cluster'}\n`);
    });
    synced.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      synced.then(() => true, () => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), CLUSTER_SYNC_WAIT_MS);
        // SIGTERM while waiting: stop now rather than after the wait.
        if (ctx.signal.aborted) resolve(false);
        else ctx.signal.addEventListener('abort', () => resolve(false), { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (!waited && !ctx.signal.aborted) {
      ctx.stderr.write(`sigil admission: the cluster (${config.cluster?.kube.source ?? ''}) has not listed namespaces and sigil.dev policies within ${CLUSTER_SYNC_WAIT_MS / 1000}s; serving anyway, /readyz answers 503 and reviews are refused until it has\n`);
    }
  }

  let address;
  try {
    address = await server.listen(config.port, config.host);
  } catch (err) {
    await stopCluster();
    throw new CliError(`--addr ${config.host}:${config.port}: cannot listen (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { code: 'FAILED' });
  }
  const shown = address.host.includes(':') ? `[${address.host}]` : address.host;
  const ca = config.tlsDir === undefined ? '' : `, caBundle ${join(config.tlsDir, TLS_DIR_FILES.ca)}${config.tlsGenerated ? ' (generated)' : ''}`;
  const sources = [
    ...(config.policyPath === undefined ? [] : [`${count(fromFiles.policies.length, 'policy', 'policies')} from ${count(files.length, 'file', 'files')}`]),
    ...(config.cluster === undefined ? [] : [`sigil.dev policies from ${config.cluster.kube.source}, namespace ${config.cluster.namespace}`]),
  ];
  ctx.stdout.write(`listening on https://${shown}:${address.port} (${sources.join('; ')}${ca})\n`);

  // Policies and the serving pair are reloaded when their files change; a bad edit keeps what runs.
  const watches: Watch[] = [];
  const policyPath = config.policyPath;
  if (policyPath !== undefined) {
    watches.push(
      await watchSources({
        list: () => expandPaths([policyPath]).catch(() => [policyPath]),
        onChange: async () => {
          const loaded = await loadPolicyFiles([policyPath]);
          fromFiles = { policies: loaded.policies, exceptions: loaded.exceptions };
          publish();
          ctx.stderr.write(`sigil admission: reloaded ${count(loaded.policies.length, 'policy', 'policies')} from ${count(loaded.files.length, 'file', 'files')}\n`);
        },
        onError: warn('policies not reloaded, the previous ones stay in force'),
        intervalMs,
      }),
    );
  }
  const tlsFiles = config.tlsFiles;
  watches.push(
    await watchSources({
      list: async () => [tlsFiles.cert, tlsFiles.key],
      onChange: async () => {
        server.setTls(await readTlsPair(tlsFiles));
        ctx.stderr.write('sigil admission: reloaded the serving certificate\n');
      },
      onError: warn('serving certificate not reloaded, the previous one stays in use'),
      intervalMs,
    }),
  );
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.all(watches.map((w) => w.stop()));
  await server.close();
  await stopCluster();
  ctx.stdout.write('sigil admission stopped\n');
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
