// `sigil admission serve`: run the admission webhook until SIGINT or SIGTERM, then shut down gracefully.

import { join } from 'node:path';
import { AdmissionServer, createRegistryImageVerifier, loadAdmissionServeConfig, TLS_DIR_FILES, type AdmissionServeFlags } from '../../server/admission/index.js';
import { CliError } from '../errors.js';
import type { CommandContext } from '../context.js';

/** Runs `sigil admission serve`; resolves once the server has stopped. */
export async function runAdmissionServe(ctx: CommandContext, flags: AdmissionServeFlags): Promise<void> {
  let config;
  try {
    config = await loadAdmissionServeConfig(flags);
  } catch (err) {
    throw new CliError(err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err));
  }
  const { policies, exceptions, files } = config.policies;
  const server = new AdmissionServer({ tls: config.tls, verifyImage: createRegistryImageVerifier(ctx.opener.client), policies: { policies, exceptions } });
  let address;
  try {
    address = await server.listen(config.port, config.host);
  } catch (err) {
    throw new CliError(`--addr ${config.host}:${config.port}: cannot listen (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { code: 'FAILED' });
  }
  const shown = address.host.includes(':') ? `[${address.host}]` : address.host;
  const ca = config.tlsDir === undefined ? '' : `, caBundle ${join(config.tlsDir, TLS_DIR_FILES.ca)}${config.tlsGenerated ? ' (generated)' : ''}`;
  ctx.stdout.write(`listening on https://${shown}:${address.port} (${policies.length} ${policies.length === 1 ? 'policy' : 'policies'} from ${files.length} ${files.length === 1 ? 'file' : 'files'}${ca})\n`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  ctx.stdout.write('sigil admission stopped\n');
}
