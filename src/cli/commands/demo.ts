// `sigil demo`: the quick-start job on embedded defaults. Today it starts the embedded registry,
// pushes a Notation-signed sample (an OCI layout in the project's fixtures) into it with its whole
// referrers graph, lists the signatures through the referrers API, pulls everything back into a
// fresh layout and checks every digest; signing, verifying and admission join as they land.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isReferrerLister, readVerified } from '../../oci/index.js';
import { openEmbeddedDatabase, RegistryServer } from '../../server/registry/index.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { runCopy } from './cp.js';
import { referrersTree, renderTree, type ReferrerNode } from './discover.js';

/** The Notation-signed sample layout shipped with Sigil (from dist/src/cli/commands up to the package root). */
export const SAMPLE_LAYOUT = fileURLToPath(new URL('../../../../test/fixtures/notation-e2e/e2e-valid-signature', import.meta.url));

/** Runs `sigil demo`. */
export async function runDemo(ctx: CommandContext, flags: { workDir?: string }): Promise<void> {
  const say = (line: string) => ctx.stdout.write(`${line}\n`);
  const work = flags.workDir ?? (await mkdtemp(join(tmpdir(), 'sigil-demo-')));
  const destination = join(work, 'layout');
  say('== Sigil demo: push a Notation-signed image with its signatures into the embedded registry, list them, pull them back');
  const registryRoot = join(work, 'registry');
  const server = await RegistryServer.open({ root: registryRoot, database: await openEmbeddedDatabase(join(registryRoot, 'db')) });
  try {
    const { port } = await server.listen(0);
    const repository = `127.0.0.1:${port}/demo/net-monitor`;
    say(`registry:    sigil registry serve on 127.0.0.1:${port} (data in ${registryRoot})`);
    say(`source:      ${SAMPLE_LAYOUT}:v1 (signed by the Notation CLI)`);
    say('');
    say(`$ sigil cp -r --from-oci-layout ${SAMPLE_LAYOUT}:v1 ${repository}:v1`);
    await runCopy(ctx, `${SAMPLE_LAYOUT}:v1`, `${repository}:v1`, { recursive: true, fromOciLayout: true, toOciLayout: false, concurrency: 4, quiet: false });
    say('');
    say(`$ sigil discover ${repository}:v1`);
    const remote = await ctx.opener.open(`${repository}:v1`, false);
    const remoteRoot = await remote.target.resolve('v1', { signal: ctx.signal });
    if (!isReferrerLister(remote.target)) throw new CliError('the registry must list referrers', { code: 'FAILED' });
    ctx.stdout.write(renderTree(remote.display(remoteRoot.digest), await referrersTree(remote.target, remoteRoot, { signal: ctx.signal })));
    say('');
    say(`$ sigil cp -r --to-oci-layout ${repository}:v1 ${destination}:v1`);
    await runCopy(ctx, `${repository}:v1`, `${destination}:v1`, { recursive: true, fromOciLayout: false, toOciLayout: true, concurrency: 4, quiet: false });
    say('');
  } finally {
    await ctx.opener.close();
    await server.close();
  }
  const src = await ctx.opener.open(`${SAMPLE_LAYOUT}:v1`, true);
  const dst = await ctx.opener.open(`${destination}:v1`, true);
  const srcRoot = await src.target.resolve('v1', { signal: ctx.signal });
  const dstRoot = await dst.target.resolve('v1', { signal: ctx.signal });
  if (!isReferrerLister(src.target) || !isReferrerLister(dst.target)) throw new CliError('layouts must list referrers', { code: 'FAILED' });
  const tree = await referrersTree(dst.target, dstRoot, { signal: ctx.signal });
  // Check the copy for real: same root digest, same signatures, and every signature envelope reads back verified.
  const srcTree = await referrersTree(src.target, srcRoot, { signal: ctx.signal });
  const digests = (nodes: readonly ReferrerNode[]): string[] => nodes.flatMap((n) => [n.descriptor.digest, ...digests(n.referrers)]).sort();
  if (srcRoot.digest !== dstRoot.digest || JSON.stringify(digests(srcTree)) !== JSON.stringify(digests(tree))) {
    throw new CliError('demo: the copied graph differs from the source', { code: 'FAILED' });
  }
  let envelopes = 0;
  for (const node of tree) {
    const bytes = await readVerified(await dst.target.fetch(node.descriptor, { signal: ctx.signal }), node.descriptor);
    const manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as { layers?: Array<{ mediaType: string; digest: string; size: number }> };
    for (const layer of manifest.layers ?? []) {
      await readVerified(await dst.target.fetch(layer, { signal: ctx.signal }), layer);
      envelopes++;
    }
  }
  say(`checked: after the round trip through the registry, root digest ${dstRoot.digest} and ${digests(tree).length} referrer(s) match the source; ${envelopes} signature envelope(s) read back digest-verified`);
  say('(signing, trust-policy verification and admission join this demo as those issues land)');
}
