// `sigil discover REF`: the referrers tree of an artifact (signatures, signatures of signatures, …).

import { isReferrerLister, MAX_REFERRERS_DEPTH, type Descriptor, type ReferrerLister } from '../../oci/index.js';
import { CliError } from '../errors.js';
import type { CommandContext, OutputFormat } from '../context.js';
import { resolveRequired } from '../targets.js';

/** One node of the referrers tree. */
export interface ReferrerNode {
  readonly descriptor: Descriptor;
  readonly referrers: readonly ReferrerNode[];
}

/** Walks referrers depth first; `artifactType` filters the first level only (as oras discover does). */
export async function referrersTree(
  lister: ReferrerLister,
  subject: Descriptor,
  options: { signal: AbortSignal; artifactType?: string; depth?: number; seen?: Set<string> },
): Promise<ReferrerNode[]> {
  const depth = options.depth ?? 0;
  const seen = options.seen ?? new Set([subject.digest]);
  if (depth >= MAX_REFERRERS_DEPTH) return [];
  const nodes: ReferrerNode[] = [];
  const listOptions = depth === 0 && options.artifactType !== undefined ? { signal: options.signal, artifactType: options.artifactType } : { signal: options.signal };
  for await (const referrer of lister.referrers(subject, listOptions)) {
    if (seen.has(referrer.digest)) continue; // a cycle or a duplicate listing
    seen.add(referrer.digest);
    const children = await referrersTree(lister, referrer, { signal: options.signal, depth: depth + 1, seen });
    nodes.push({ descriptor: referrer, referrers: children });
  }
  return nodes;
}

/** Renders the tree with box-drawing characters, grouping referrers by artifact type. */
export function renderTree(root: string, nodes: readonly ReferrerNode[]): string {
  const lines = [root];
  const walk = (children: readonly ReferrerNode[], prefix: string): void => {
    const groups = new Map<string, ReferrerNode[]>();
    for (const node of children) {
      const type = node.descriptor.artifactType ?? node.descriptor.mediaType;
      groups.set(type, [...(groups.get(type) ?? []), node]);
    }
    const entries = [...groups.entries()];
    entries.forEach(([type, members], gi) => {
      const lastGroup = gi === entries.length - 1;
      lines.push(`${prefix}${lastGroup ? '└── ' : '├── '}${type}`);
      const groupPrefix = prefix + (lastGroup ? '    ' : '│   ');
      members.forEach((node, ni) => {
        const last = ni === members.length - 1;
        lines.push(`${groupPrefix}${last ? '└── ' : '├── '}${node.descriptor.digest}`);
        walk(node.referrers, groupPrefix + (last ? '    ' : '│   '));
      });
    });
  };
  walk(nodes, '');
  return lines.join('\n') + '\n';
}

function toJson(node: ReferrerNode): unknown {
  return { ...node.descriptor, referrers: node.referrers.map(toJson) };
}

/** Runs `sigil discover`. */
export async function runDiscover(ctx: CommandContext, input: string, flags: { ociLayout: boolean; artifactType?: string; output: OutputFormat }): Promise<void> {
  const opened = await ctx.opener.open(input, flags.ociLayout);
  if (!isReferrerLister(opened.target)) throw new CliError(`${opened.name}: this target cannot list referrers`, { code: 'FAILED' });
  const { descriptor } = await resolveRequired(opened, ctx.signal);
  const nodes = await referrersTree(opened.target, descriptor, { signal: ctx.signal, ...(flags.artifactType ? { artifactType: flags.artifactType } : {}) });
  if (flags.output === 'json') {
    ctx.stdout.write(JSON.stringify({ reference: opened.display(descriptor.digest), ...descriptor, referrers: nodes.map(toJson) }, null, 2) + '\n');
    return;
  }
  ctx.stdout.write(renderTree(opened.display(descriptor.digest), nodes));
}
