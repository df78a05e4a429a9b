// `sigil policy import|show|init`: the OCI trust policy file, read and written as Notation does.

import { existsSync } from 'node:fs';
import { createTrustPolicyDocument, decodeTrustPolicyDocument, encodeTrustPolicyDocument } from '../../notary/index.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { NotationConfig, readBounded, writeAtomic } from '../notation-config.js';

/** Runs `sigil policy import FILE`: validates the file, then installs it (refusing to overwrite without --force). */
export async function runPolicyImport(ctx: CommandContext, file: string, flags: { force?: boolean }): Promise<void> {
  const bytes = await readBounded(file);
  const doc = decodeTrustPolicyDocument(bytes, file);
  const config = new NotationConfig(ctx.env.configDir);
  const path = config.trustPolicyWritePath();
  if (existsSync(path) && flags.force !== true) throw new CliError(`a trust policy already exists at ${path}; use --force to replace it`, { code: 'FAILED' });
  await writeAtomic(path, encodeTrustPolicyDocument(doc), 0o600);
  ctx.stdout.write(`Trust policy configuration imported successfully to ${path}\n`);
}

/** Runs `sigil policy show`: prints the policy in use; an invalid one is printed with the error, and fails. */
export async function runPolicyShow(ctx: CommandContext): Promise<void> {
  const config = new NotationConfig(ctx.env.configDir);
  const path = config.trustPolicyPath();
  if (path === undefined) throw new CliError('no trust policy is present; import one with sigil policy import FILE, or create one with sigil policy init', { code: 'FAILED' });
  const bytes = await readBounded(path);
  try {
    ctx.stdout.write(encodeTrustPolicyDocument(decodeTrustPolicyDocument(bytes, path)));
  } catch (error) {
    // notation policy show: the existing content is still shown, so the user can see what to fix.
    ctx.stdout.write(Buffer.from(bytes).toString('utf8'));
    ctx.stdout.write('\n');
    throw error;
  }
}

/** Flags of `sigil policy init`. */
export interface PolicyInitFlags {
  readonly name: string;
  readonly scope?: string[];
  readonly trustStore?: string[];
  readonly trustedIdentity?: string[];
  readonly level: string;
  readonly force?: boolean;
}

/** Runs `sigil policy init`: writes a one-statement trust policy from flags. */
export async function runPolicyInit(ctx: CommandContext, flags: PolicyInitFlags): Promise<void> {
  const doc = createTrustPolicyDocument({
    name: flags.name,
    registryScopes: flags.scope ?? ['*'],
    level: flags.level,
    trustStores: flags.trustStore ?? [],
    trustedIdentities: flags.trustedIdentity ?? [],
  });
  const config = new NotationConfig(ctx.env.configDir);
  const path = config.trustPolicyWritePath();
  if (existsSync(path) && flags.force !== true) throw new CliError(`a trust policy already exists at ${path}; use --force to replace it`, { code: 'FAILED' });
  await writeAtomic(path, encodeTrustPolicyDocument(doc), 0o600);
  ctx.stdout.write(`Trust policy "${flags.name}" written to ${path}\n`);
}
