// `sigil registry serve`: run the embedded OCI registry until SIGINT or SIGTERM, then shut down gracefully.

import { join } from 'node:path';
import { destination, pino } from 'pino';
import { BasicAuthenticator, TokenAuthority, loadRegistryServeConfig, loadRegistryServeConfigWithFiles, openDatabase, parseDuration, RegistryServer, runGarbageCollection, type RegistryServeFlags } from '../../server/registry/index.js';
import { CliError } from '../errors.js';
import type { CommandContext } from '../context.js';

/** Runs `sigil registry serve`; resolves once the server has stopped. */
export async function runRegistryServe(ctx: CommandContext, flags: RegistryServeFlags & { readonly logLevel?: string }): Promise<void> {
  let config;
  try {
    config = await loadRegistryServeConfigWithFiles(flags);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  const database = await openDatabase(config.database, join(config.root, 'db'));
  // Structured JSON lines on stderr (pino), one per request at info; stdout keeps the human lines.
  const logger = pino({ name: 'sigil-registry', level: flags.logLevel ?? 'info' }, destination({ fd: 2, sync: false }));
  let server: RegistryServer;
  try {
    server = await RegistryServer.open({
      root: config.root,
      database,
      readOnly: config.readOnly,
      exclusive: config.database === undefined,
      logger,
      ...(config.htpasswd === undefined ? {} : { auth: new BasicAuthenticator(config.htpasswd) }),
      ...(config.htpasswd === undefined || config.tokenSecret === undefined ? {} : { tokens: new TokenAuthority(new BasicAuthenticator(config.htpasswd), config.tokenSecret) }),
      ...(config.tls === undefined ? {} : { tls: config.tls }),
    });
  } catch (err) {
    await database.close();
    throw err;
  }
  let address;
  try {
    address = await server.listen(config.port, config.host);
  } catch (err) {
    await server.close();
    throw new CliError(`--addr ${config.host}:${config.port}: cannot listen (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { code: 'FAILED' });
  }
  const shown = address.host.includes(':') ? `[${address.host}]` : address.host;
  ctx.stdout.write(`sigil registry listening on ${config.tls === undefined ? 'http' : 'https'}://${shown}:${address.port} (data in ${config.root}${config.readOnly ? ', read-only' : ''})\n`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  logger.flush();
  ctx.stdout.write('sigil registry stopped\n');
}

/** Flags of `sigil registry gc`. */
export interface RegistryGcFlags {
  readonly root?: string;
  readonly database?: string;
  readonly grace?: string;
  readonly uploadTtl?: string;
  readonly dryRun?: boolean;
}

/** Runs `sigil registry gc`: through the running server when there is one, else directly on the data directory. */
export async function runRegistryGc(ctx: CommandContext, flags: RegistryGcFlags): Promise<void> {
  let config;
  let graceMs: number | undefined;
  let uploadTtlMs: number | undefined;
  try {
    config = loadRegistryServeConfig({ ...(flags.root === undefined ? {} : { root: flags.root }), ...(flags.database === undefined ? {} : { database: flags.database }) });
    if (flags.grace !== undefined) graceMs = parseDuration('--grace', flags.grace);
    if (flags.uploadTtl !== undefined) uploadTtlMs = parseDuration('--upload-ttl', flags.uploadTtl);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  const root = config.root;
  const database = config.database;
  const report = await runGarbageCollection(root, () => openDatabase(database, join(root, 'db')), {
    ...(graceMs === undefined ? {} : { graceMs }),
    ...(uploadTtlMs === undefined ? {} : { uploadTtlMs }),
    dryRun: flags.dryRun ?? false,
  });
  const verb = flags.dryRun ? 'would remove' : 'removed';
  ctx.stdout.write(`gc (${report.via === 'server' ? 'through the running registry' : 'on the data directory'}): ${verb} ${report.blobsRemoved} blobs (${report.bytesFreed} bytes), ${report.linksRemoved} unused blob links, ${report.uploadsRemoved} expired uploads\n`);
}
