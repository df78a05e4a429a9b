// `sigil login` / `sigil logout`: store or erase registry credentials exactly as docker login does.

import type { Credentials } from '../../registry/index.js';
import { DockerCredentialStore, isRegistryError, RegistryClient } from '../../registry/index.js';
import { CliError } from '../errors.js';
import type { CommandContext } from '../context.js';

/** Flags of `sigil login`. */
export interface LoginFlags {
  readonly username?: string;
  readonly password?: string;
  readonly passwordStdin?: boolean;
  readonly insecureRegistry?: readonly string[];
}

async function readStdin(stdin: NodeJS.ReadableStream, limit = 64 * 1024): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    if (text.length > limit) throw new CliError('--password-stdin: input is larger than 64 KiB');
  }
  // docker login trims the trailing newline (and CR) that `echo` and here-strings add.
  return text.replace(/\r?\n$/, '');
}

/** docker login's normalisation of the server argument: a URL's host, Docker Hub's aliases to docker.io. */
export function registryHost(server: string): string {
  let host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = 'docker.io';
  if (host === '' || /\s/.test(host)) throw new CliError(`invalid registry "${server}": expected a host such as ghcr.io or localhost:5000`);
  return host;
}

/** Runs `sigil login`: checks the credentials against the registry, then stores them. */
export async function runLogin(ctx: CommandContext, server: string, flags: LoginFlags): Promise<void> {
  const registry = registryHost(server);
  if (flags.password !== undefined && flags.passwordStdin) throw new CliError('--password and --password-stdin are mutually exclusive');
  if (flags.passwordStdin && flags.username === undefined) throw new CliError('--password-stdin needs --username');
  if (flags.username === undefined) throw new CliError('login needs --username (and --password-stdin); there is no interactive prompt');
  const password = flags.passwordStdin ? await readStdin(ctx.stdin) : flags.password;
  if (password === undefined || password === '') throw new CliError('login needs a password: pipe it to --password-stdin');
  if (flags.password !== undefined) ctx.stderr.write('Warning: using --password on the command line is insecure; use --password-stdin\n');
  const credentials: Credentials = { username: flags.username, password };
  const client = new RegistryClient({ credentials: { get: async () => credentials }, insecureRegistries: flags.insecureRegistry ?? [] });
  try {
    await client.ping(registry, { signal: ctx.signal });
  } catch (err) {
    // The registry's usual hint ("run sigil login") is what the user just did.
    if (isRegistryError(err, 'UNAUTHORIZED')) throw new CliError(`${registry}: login refused (401 unauthorized); check the username and password`, { code: 'FAILED', cause: err });
    throw err;
  } finally {
    await client.close();
  }
  await new DockerCredentialStore(ctx.env.dockerConfigPath).store(registry, credentials, { signal: ctx.signal });
  ctx.stdout.write('Login Succeeded\n');
}

/** Runs `sigil logout`: erases stored credentials (a no-op when there were none, as docker logout). */
export async function runLogout(ctx: CommandContext, server: string): Promise<void> {
  const registry = registryHost(server);
  await new DockerCredentialStore(ctx.env.dockerConfigPath).erase(registry, { signal: ctx.signal });
  ctx.stdout.write(`Removing login credentials for ${registry}\n`);
}
