// `sigil cp [-r] SRC DST`: copy an artifact, and with -r its referrers graph, between registries and layouts.

import { copy, isTagLister, type CopyEvent } from '../../oci/index.js';
import type { OpenedTarget } from '../targets.js';
import { CliError } from '../errors.js';
import type { CommandContext } from '../context.js';
import { ProgressLine } from '../progress.js';

/** Flags of `sigil cp`. */
export interface CopyFlags {
  readonly recursive: boolean;
  readonly fromOciLayout: boolean;
  readonly toOciLayout: boolean;
  readonly concurrency: number;
  readonly quiet: boolean;
  readonly allTags?: boolean;
}

/** Runs `sigil cp`. */
export async function runCopy(ctx: CommandContext, source: string, destination: string, flags: CopyFlags): Promise<void> {
  if (!Number.isInteger(flags.concurrency) || flags.concurrency < 1 || flags.concurrency > 64) {
    throw new CliError(`--concurrency ${flags.concurrency}: must be an integer from 1 to 64`);
  }
  const src = await ctx.opener.open(source, flags.fromOciLayout);
  const dst = await ctx.opener.open(destination, flags.toOciLayout, { create: true });
  if (flags.allTags) {
    await copyAllTags(ctx, src, dst, flags);
    return;
  }
  if (src.reference === undefined) throw new CliError(`"${source}": no tag or digest to copy`);
  // Like oras cp: a destination without a tag takes the source's tag; a digest source stays untagged.
  const isDigest = (ref: string) => /^sha(256|512):/.test(ref);
  const dstReference = dst.reference ?? (isDigest(src.reference) ? undefined : src.reference);

  const progress = !flags.quiet && ctx.env.stderrIsTTY ? new ProgressLine(ctx.stderr, ctx.env.columns) : undefined;
  let referrers = 0;
  let copied = 0;
  let skipped = 0;
  let mounted = 0;
  const onProgress = (event: CopyEvent): void => {
    if (event.type === 'referrer') referrers++;
    else if (event.type === 'copied') copied++;
    else if (event.type === 'skipped') skipped++;
    else if (event.type === 'mounted') mounted++;
    progress?.onEvent(event);
  };
  let root;
  try {
    root = await copy(src.target, src.reference, dst.target, dstReference, {
      signal: ctx.signal,
      concurrency: flags.concurrency,
      referrers: flags.recursive,
      onProgress,
    });
  } finally {
    progress?.finish();
  }
  if (flags.quiet) return;
  const kind = (k: string) => `[${k}]`;
  ctx.stdout.write(`Copied ${kind(src.kind)} ${src.display()} => ${kind(dst.kind)} ${dst.display(dstReference ?? root.digest)}\n`);
  ctx.stdout.write(`Digest: ${root.digest}\n`);
  ctx.stdout.write(`Content: ${copied} copied, ${mounted > 0 ? `${mounted} mounted, ` : ''}${skipped} already present${flags.recursive ? `, ${referrers} referrers` : ''}\n`);
}

/**
 * `sigil cp --all-tags SRC DST`: every tag of a repository or layout, in one process (as
 * `skopeo sync` and `crane copy --all-tags` do); images run `concurrency` at a time.
 */
async function copyAllTags(ctx: CommandContext, src: OpenedTarget, dst: OpenedTarget, flags: CopyFlags): Promise<void> {
  if (src.reference !== undefined || dst.reference !== undefined) {
    throw new CliError('--all-tags copies whole repositories: give SRC and DST without a tag or digest');
  }
  if (!isTagLister(src.target)) throw new CliError(`${src.name}: cannot list tags`, { code: 'FAILED' });
  const tags: string[] = [];
  for await (const tag of src.target.tags({ signal: ctx.signal })) tags.push(tag);
  const progress = !flags.quiet && ctx.env.stderrIsTTY ? new ProgressLine(ctx.stderr, ctx.env.columns) : undefined;
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < tags.length) {
      const tag = tags[next++] as string;
      await copy(src.target, tag, dst.target, tag, {
        signal: ctx.signal,
        concurrency: 2,
        referrers: flags.recursive,
        ...(progress ? { onProgress: progress.onEvent } : {}),
      });
      done++;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(flags.concurrency, tags.length) }, worker));
  } finally {
    progress?.finish();
  }
  if (!flags.quiet) ctx.stdout.write(`Copied ${done} tags from [${src.kind}] ${src.name} => [${dst.kind}] ${dst.name}\n`);
}
