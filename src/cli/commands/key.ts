// `sigil key add|ls|update|delete`: the signing keys in signingkeys.json, in Notation's format.

import { resolve } from 'node:path';
import { addSigningKey, deleteSigningKeys, loadLocalSigner, setDefaultSigningKey, type SigningKeyEntry } from '../../keys/index.js';
import { validateCodeSigningChain } from '../../pki/index.js';
import type { CommandContext, OutputFormat } from '../context.js';
import { CliError } from '../errors.js';
import { parseKeyValues } from '../flags.js';
import { NotationConfig, readBounded } from '../notation-config.js';

/** Flags of `sigil key add`. */
export interface KeyAddFlags {
  readonly keyFile?: string;
  readonly certFile?: string;
  readonly plugin?: string;
  readonly id?: string;
  readonly pluginConfig?: string[];
  readonly default?: boolean;
}

/** Runs `sigil key add NAME`: a local key (--key-file + --cert-file) or a plugin key (--plugin + --id). */
export async function runKeyAdd(ctx: CommandContext, name: string, flags: KeyAddFlags): Promise<void> {
  const local = flags.keyFile !== undefined || flags.certFile !== undefined;
  const plugin = flags.plugin !== undefined || flags.id !== undefined;
  if (local === plugin) throw new CliError('give either --key-file and --cert-file (a local key) or --plugin and --id (a plugin key)');
  let entry: SigningKeyEntry;
  if (local) {
    if (flags.keyFile === undefined || flags.certFile === undefined) throw new CliError('--key-file and --cert-file go together');
    const keyPath = resolve(flags.keyFile);
    const certPath = resolve(flags.certFile);
    // Refuse unusable material now rather than at signing time: the key must match the leaf and the chain must meet the certificate rules.
    const signer = loadLocalSigner({ bytes: await readBounded(keyPath), source: keyPath }, { bytes: await readBounded(certPath), source: certPath });
    validateCodeSigningChain(signer.certificateChain, {});
    entry = { kind: 'local', name, keyPath, certPath };
  } else {
    if (flags.plugin === undefined || flags.id === undefined) throw new CliError('--plugin and --id go together');
    entry = { kind: 'plugin', name, id: flags.id, pluginName: flags.plugin, pluginConfig: parseKeyValues('--plugin-config', flags.pluginConfig) ?? {} };
  }
  const config = new NotationConfig(ctx.env.configDir);
  await config.saveSigningKeys(addSigningKey(await config.loadSigningKeys(), entry, { makeDefault: flags.default === true }));
  ctx.stdout.write(`${name}${flags.default === true ? ' (default)' : ''}: added to the key list\n`);
}

/** Runs `sigil key ls`. */
export async function runKeyList(ctx: CommandContext, flags: { output: OutputFormat }): Promise<void> {
  const doc = await new NotationConfig(ctx.env.configDir).loadSigningKeys();
  if (flags.output === 'json') {
    ctx.stdout.write(`${JSON.stringify({ default: doc.default ?? null, keys: doc.keys.map(({ kind: _kind, ...k }) => k) }, null, 2)}\n`);
    return;
  }
  const rows = [['NAME', 'KEY PATH', 'CERTIFICATE PATH', 'ID', 'PLUGIN NAME']];
  for (const k of doc.keys) {
    const name = `${k.name === doc.default ? '* ' : '  '}${k.name}`;
    rows.push(k.kind === 'local' ? [name, k.keyPath, k.certPath, '', ''] : [name, '', '', k.id, k.pluginName]);
  }
  rows[0] = rows[0]?.map((h, i) => (i === 0 ? `  ${h}` : h)) ?? [];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows) ctx.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('   ').trimEnd()}\n`);
}

/** Runs `sigil key update NAME --default`. */
export async function runKeyUpdate(ctx: CommandContext, name: string, flags: { default?: boolean }): Promise<void> {
  if (flags.default !== true) throw new CliError('nothing to update: use --default to make the key the default signing key');
  const config = new NotationConfig(ctx.env.configDir);
  await config.saveSigningKeys(setDefaultSigningKey(await config.loadSigningKeys(), name));
  ctx.stdout.write(`${name}: marked as default\n`);
}

/** Runs `sigil key delete NAME...`: removes entries only; key and certificate files stay on disk. */
export async function runKeyDelete(ctx: CommandContext, names: readonly string[]): Promise<void> {
  const config = new NotationConfig(ctx.env.configDir);
  await config.saveSigningKeys(deleteSigningKeys(await config.loadSigningKeys(), names));
  for (const name of names) ctx.stdout.write(`Removed ${name} from the signing key list; its key and certificate files were left in place\n`);
}
