// `sigil registry serve`: run the embedded OCI registry until SIGINT or SIGTERM, then shut down gracefully.

import { join } from 'node:path';
import { loadRegistryServeConfig, openEmbeddedDatabase, RegistryServer, type RegistryServeFlags } from '../../server/registry/index.js';
import { CliError } from '../errors.js';
import type { CommandContext } from '../context.js';

/** Runs `sigil registry serve`; resolves once the server has stopped. */
export async function runRegistryServe(ctx: CommandContext, flags: RegistryServeFlags): Promise<void> {
  let config;
  try {
    config = loadRegistryServeConfig(flags);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  const database = await openEmbeddedDatabase(join(config.root, 'db'));
  const logLine = (level: string) => (details: Record<string, unknown>, message: string) => ctx.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg: message, ...details })}\n`);
  const server = await RegistryServer.open({ root: config.root, database, readOnly: config.readOnly, logger: { info: logLine('info'), error: logLine('error') } });
  let address;
  try {
    address = await server.listen(config.port, config.host);
  } catch (err) {
    await server.close();
    throw new CliError(`--addr ${config.host}:${config.port}: cannot listen (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { code: 'FAILED' });
  }
  const shown = address.host.includes(':') ? `[${address.host}]` : address.host;
  ctx.stdout.write(`sigil registry listening on http://${shown}:${address.port} (data in ${config.root}${config.readOnly ? ', read-only' : ''})\n`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  ctx.stdout.write('sigil registry stopped\n');
}
