// `sigil admission serve`: run the admission webhook until SIGINT or SIGTERM, then shut down gracefully.

import { join } from 'node:path';
import {
  AdmissionMetrics,
  AdmissionServer,
  createRegistryImageVerifier,
  expandPaths,
  loadAdmissionServeConfig,
  loadPolicyFiles,
  readTlsPair,
  ReportStore,
  TLS_DIR_FILES,
  watchSources,
  type AdmissionServeFlags,
} from '../../server/admission/index.js';
import { CliError } from '../errors.js';
import { parseGoDuration } from '../flags.js';
import type { CommandContext } from '../context.js';

/** Runs `sigil admission serve`; resolves once the server has stopped. */
export async function runAdmissionServe(ctx: CommandContext, flags: AdmissionServeFlags & { readonly reloadInterval?: string }): Promise<void> {
  let config;
  let intervalMs: number;
  try {
    intervalMs = parseGoDuration('--reload-interval', flags.reloadInterval ?? '2s');
    if (intervalMs < 100) throw new Error(`--reload-interval ${flags.reloadInterval ?? ''}: at least 100ms`);
    config = await loadAdmissionServeConfig(flags);
  } catch (err) {
    throw new CliError(err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err));
  }
  const { policies, exceptions, files } = config.policies;
  const warn = (what: string) => (error: unknown) => ctx.stderr.write(`sigil admission: ${what}: ${error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)}\n`);
  const metrics = new AdmissionMetrics();
  const server = new AdmissionServer({
    tls: config.tls,
    verifyImage: createRegistryImageVerifier(ctx.opener.client, { observer: metrics }),
    metrics,
    policies: { policies, exceptions },
    reports: new ReportStore({ ...(config.reportsDir === undefined ? {} : { dir: config.reportsDir }), onError: warn('policy report not written') }),
    onError: warn('error'),
  });
  let address;
  try {
    address = await server.listen(config.port, config.host);
  } catch (err) {
    throw new CliError(`--addr ${config.host}:${config.port}: cannot listen (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { code: 'FAILED' });
  }
  const shown = address.host.includes(':') ? `[${address.host}]` : address.host;
  const ca = config.tlsDir === undefined ? '' : `, caBundle ${join(config.tlsDir, TLS_DIR_FILES.ca)}${config.tlsGenerated ? ' (generated)' : ''}`;
  ctx.stdout.write(`listening on https://${shown}:${address.port} (${count(policies.length, 'policy', 'policies')} from ${count(files.length, 'file', 'files')}${ca})\n`);
  // Policies and the serving pair are reloaded when their files change; a bad edit keeps what runs.
  const watches = [
    await watchSources({
      list: () => expandPaths([config.policyPath]).catch(() => [config.policyPath]),
      onChange: async () => {
        const loaded = await loadPolicyFiles([config.policyPath]);
        server.setPolicies({ policies: loaded.policies, exceptions: loaded.exceptions });
        ctx.stderr.write(`sigil admission: reloaded ${count(loaded.policies.length, 'policy', 'policies')} from ${count(loaded.files.length, 'file', 'files')}\n`);
      },
      onError: warn('policies not reloaded, the previous ones stay in force'),
      intervalMs,
    }),
    await watchSources({
      list: async () => [config.tlsFiles.cert, config.tlsFiles.key],
      onChange: async () => {
        server.setTls(await readTlsPair(config.tlsFiles));
        ctx.stderr.write('sigil admission: reloaded the serving certificate\n');
      },
      onError: warn('serving certificate not reloaded, the previous one stays in use'),
      intervalMs,
    }),
  ];
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.all(watches.map((w) => w.stop()));
  await server.close();
  ctx.stdout.write('sigil admission stopped\n');
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
