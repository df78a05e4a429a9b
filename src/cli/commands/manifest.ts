// `sigil resolve`, `sigil manifest fetch|delete` and `sigil tag`: single-manifest operations.

import { isDeleter, isManifestMediaType, isTag, readVerified } from '../../oci/index.js';
import { CliError } from '../errors.js';
import type { CommandContext } from '../context.js';
import { resolveRequired } from '../targets.js';

/** Runs `sigil resolve REF`: prints the digest. */
export async function runResolve(ctx: CommandContext, input: string, flags: { ociLayout: boolean; descriptor?: boolean }): Promise<void> {
  const opened = await ctx.opener.open(input, flags.ociLayout);
  const { descriptor } = await resolveRequired(opened, ctx.signal);
  ctx.stdout.write(flags.descriptor ? JSON.stringify(descriptor) + '\n' : `${descriptor.digest}\n`);
}

/** Runs `sigil manifest fetch REF`: prints the manifest bytes exactly as stored (or its descriptor). */
export async function runManifestFetch(ctx: CommandContext, input: string, flags: { ociLayout: boolean; descriptor?: boolean; pretty?: boolean }): Promise<void> {
  const opened = await ctx.opener.open(input, flags.ociLayout);
  const { descriptor } = await resolveRequired(opened, ctx.signal);
  if (flags.descriptor) {
    ctx.stdout.write(JSON.stringify(descriptor) + '\n');
    return;
  }
  if (!isManifestMediaType(descriptor.mediaType)) {
    throw new CliError(`${opened.display()}: ${descriptor.mediaType} is not a manifest media type`, { code: 'FAILED' });
  }
  const bytes = await readVerified(await opened.target.fetch(descriptor, { signal: ctx.signal }), descriptor, opened.display());
  if (flags.pretty) ctx.stdout.write(JSON.stringify(JSON.parse(Buffer.from(bytes).toString('utf8')), null, 2) + '\n');
  else ctx.stdout.write(bytes);
}

/** Runs `sigil manifest delete REF`: deletes the manifest the reference resolves to. */
export async function runManifestDelete(ctx: CommandContext, input: string, flags: { ociLayout: boolean }): Promise<void> {
  const opened = await ctx.opener.open(input, flags.ociLayout);
  if (!isDeleter(opened.target)) throw new CliError(`${opened.name}: this target cannot delete content`, { code: 'FAILED' });
  const { descriptor } = await resolveRequired(opened, ctx.signal);
  await opened.target.delete(descriptor, { signal: ctx.signal });
  ctx.stdout.write(`Deleted ${opened.display(descriptor.digest)}\n`);
}

/** Runs `sigil tag REF NEWTAG...`: points each new tag at what REF resolves to. */
export async function runTag(ctx: CommandContext, input: string, tags: readonly string[], flags: { ociLayout: boolean }): Promise<void> {
  const opened = await ctx.opener.open(input, flags.ociLayout);
  const { descriptor } = await resolveRequired(opened, ctx.signal);
  for (const tag of tags) {
    if (!isTag(tag)) throw new CliError(`invalid tag "${tag}": expected [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  for (const tag of tags) {
    await opened.target.tag(descriptor, tag, { signal: ctx.signal });
    ctx.stdout.write(`Tagged ${opened.display(tag)}\n`);
  }
}
