// `sigil demo`: the quick-start job end to end on embedded defaults, in a scratch directory with
// its own config (the user's keys and trust policy are never touched): start the embedded
// registry, store a Notation-signed sample there with its signatures, verify it against a trust
// policy, sign an image of our own and verify it, and show the verdicts that admission enforces —
// a signed image is admitted, an unsigned one and one signed by an untrusted key are denied —
// first by sigil verify, then by the admission engine under a Kyverno ClusterPolicy.

import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  describeManifest,
  digestOf,
  encodeManifest,
  isReferrerLister,
  MEDIA_TYPE_IMAGE_CONFIG,
  MEDIA_TYPE_IMAGE_LAYER,
  MEDIA_TYPE_IMAGE_MANIFEST,
  type Descriptor,
  type Target,
} from '../../oci/index.js';
import { createNotaryImageVerifier, decodePolicyDocuments, evaluateImages, type EvaluationRequest, type KyvernoPolicy } from '../../admission/index.js';
import { openEmbeddedDatabase, RegistryServer } from '../../server/registry/index.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { runCertAdd, runCertDelete, runCertGenerateTest } from './cert.js';
import { runCopy } from './cp.js';
import { referrersTree, renderTree } from './discover.js';
import { runPolicyInit } from './policy.js';
import { runSign } from './sign.js';
import { runVerify } from './verify.js';

/** The Notation-signed sample layout shipped with Sigil (from dist/src/cli/commands up to the package root). */
export const SAMPLE_LAYOUT = fileURLToPath(new URL('../../../../test/fixtures/notation-e2e/e2e-valid-signature', import.meta.url));
/** The certificate that signed the sample. */
export const SAMPLE_CERTIFICATE = fileURLToPath(new URL('../../../../test/fixtures/notation-e2e/e2e.crt', import.meta.url));

/** Pushes a small image (config, one layer, manifest) and tags it; returns its manifest descriptor. */
async function pushImage(target: Target, tag: string, text: string, signal: AbortSignal): Promise<Descriptor> {
  const layerBytes = new TextEncoder().encode(text);
  const configBytes = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(layerBytes)] } }));
  const layer: Descriptor = { mediaType: MEDIA_TYPE_IMAGE_LAYER, digest: digestOf(layerBytes), size: layerBytes.byteLength };
  const config: Descriptor = { mediaType: MEDIA_TYPE_IMAGE_CONFIG, digest: digestOf(configBytes), size: configBytes.byteLength };
  const bytes = encodeManifest({ kind: 'manifest', schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, config, layers: [layer] });
  const manifest = describeManifest(bytes, MEDIA_TYPE_IMAGE_MANIFEST);
  await target.push(layer, layerBytes, { signal });
  await target.push(config, configBytes, { signal });
  await target.push(manifest, bytes, { signal });
  await target.tag(manifest, tag, { signal });
  return manifest;
}

/** Runs `sigil demo`. */
export async function runDemo(ctx: CommandContext, flags: { workDir?: string }): Promise<void> {
  const say = (line = '') => ctx.stdout.write(`${line}\n`);
  const work = flags.workDir ?? (await mkdtemp(join(tmpdir(), 'sigil-demo-')));
  // The demo's own config directory, so it never reads or changes the user's keys and policies.
  const demo: CommandContext = { ...ctx, env: { ...ctx.env, configDir: join(work, 'config') } };
  const registryRoot = join(work, 'registry');
  const server = await RegistryServer.open({ root: registryRoot, database: await openEmbeddedDatabase(join(registryRoot, 'db')) });
  const verdicts: Array<{ image: string; verdict: 'ADMIT' | 'DENY'; reason: string }> = [];
  const admissions: Array<'ADMIT' | 'DENY'> = [];
  const decide = async (image: string, scopeNote: string): Promise<void> => {
    say(`$ sigil verify ${image}`);
    try {
      await runVerify(demo, image, { ociLayout: false, maxSignatures: 100, output: 'text' });
      verdicts.push({ image, verdict: 'ADMIT', reason: scopeNote });
    } catch (error) {
      if (!(error instanceof Error) || error instanceof TypeError) throw error;
      say(`Error: ${error.message}`);
      verdicts.push({ image, verdict: 'DENY', reason: error.message });
    }
    say();
  };
  try {
    const { port } = await server.listen(0);
    const registry = `127.0.0.1:${port}`;
    say(`== Sigil demo: sign, store, verify and decide, on one machine (work dir ${work})`);
    say(`registry: sigil registry serve on ${registry} (data in ${registryRoot}); config: ${demo.env.configDir}`);
    say();

    say('== 1. store: push an image Notation signed, with its signature, into the embedded registry');
    const notationRef = `${registry}/demo/net-monitor`;
    say(`$ sigil cp -r --from-oci-layout ${SAMPLE_LAYOUT}:v1 ${notationRef}:v1`);
    await runCopy(demo, `${SAMPLE_LAYOUT}:v1`, `${notationRef}:v1`, { recursive: true, fromOciLayout: true, toOciLayout: false, concurrency: 4, quiet: false });
    const remote = await demo.opener.open(`${notationRef}:v1`, false);
    const root = await remote.target.resolve('v1', { signal: ctx.signal });
    if (!isReferrerLister(remote.target)) throw new CliError('the registry must list referrers', { code: 'FAILED' });
    say(`$ sigil discover ${notationRef}:v1`);
    demo.stdout.write(renderTree(remote.display(root.digest), await referrersTree(remote.target, root, { signal: ctx.signal })));
    say();

    say('== 2. trust: a trust policy for the registry, trusting Notation\'s e2e certificate and a key of our own');
    say(`$ sigil cert add --type ca --store e2e ${SAMPLE_CERTIFICATE}`);
    await runCertAdd(demo, [SAMPLE_CERTIFICATE], { type: 'ca', store: 'e2e' });
    say('$ sigil cert generate-test demo --default');
    await runCertGenerateTest(demo, 'demo', { bits: 2048, default: true });
    say(`$ sigil policy init --name demo --scope ${registry}/demo/net-monitor --scope ${registry}/demo/app --scope ${registry}/demo/unsigned --trust-store ca:e2e --trust-store ca:demo --trusted-identity '*'`);
    await runPolicyInit(demo, { name: 'demo', scope: [`${registry}/demo/net-monitor`, `${registry}/demo/app`, `${registry}/demo/unsigned`], trustStore: ['ca:e2e', 'ca:demo'], trustedIdentity: ['*'], level: 'strict' });
    say();

    say('== 3. verify what Notation signed');
    await decide(`${notationRef}@${root.digest}`, 'signed by Notation with the trusted e2e certificate');

    say('== 4. sign an image of our own (the manifest digest, never a tag) and verify it');
    const app = await demo.opener.open(`${registry}/demo/app:v1`, false);
    const appDesc = await pushImage(app.target, 'v1', 'hello from sigil\n', ctx.signal);
    const appRef = `${registry}/demo/app@${appDesc.digest}`;
    say(`$ sigil sign --signature-format cose -m build=demo ${appRef}`);
    await runSign(demo, appRef, { signatureFormat: 'cose', userMetadata: ['build=demo'], ociLayout: false });
    say();
    await decide(appRef, 'signed by the trusted demo key');

    say('== 5. what gets denied: an unsigned image, and one signed with a key the policy does not trust');
    const unsigned = await demo.opener.open(`${registry}/demo/unsigned:v1`, false);
    const unsignedDesc = await pushImage(unsigned.target, 'v1', 'nobody signed me\n', ctx.signal);
    await decide(`${registry}/demo/unsigned@${unsignedDesc.digest}`, '');
    say('$ sigil cert generate-test intruder   # then remove it from the trust store: signed, but not trusted');
    await runCertGenerateTest(demo, 'intruder', { bits: 2048 });
    await runCertDelete(demo, undefined, { type: 'ca', store: 'intruder', all: true });
    const rogueDesc = await pushImage(app.target, 'rogue', 'signed by an intruder\n', ctx.signal);
    const rogueRef = `${registry}/demo/app@${rogueDesc.digest}`;
    say(`$ sigil sign --key intruder ${rogueRef}`);
    await runSign(demo, rogueRef, { key: 'intruder', ociLayout: false });
    say();
    await decide(rogueRef, '');

    say('== 6. admit: the same images in Pods, judged by a Kyverno ClusterPolicy (verifyImages, type Notary)');
    const images = verdicts.map((v) => v.image);
    const policy = await demoClusterPolicy(registry, [SAMPLE_CERTIFICATE, join(demo.env.configDir, 'localkeys', 'demo.crt')]);
    const verifyImage = createNotaryImageVerifier({ openRepository: (image) => demo.opener.client.repository(image.target.registry, image.target.repository) });
    for (const [i, image] of images.entries()) {
      const name = `app-${i + 1}`;
      const request: EvaluationRequest = {
        kind: { group: '', version: 'v1', kind: 'Pod' },
        namespace: 'default',
        name,
        operation: 'CREATE',
        labels: {},
        namespaceLabels: {},
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'app', image }] } },
      };
      const decision = await evaluateImages({ policies: [policy], exceptions: [], request, verifyImage, signal: ctx.signal });
      admissions.push(decision.allowed ? 'ADMIT' : 'DENY');
      const failed = decision.results.find((r) => r.result === 'fail' || r.result === 'error');
      const why = decision.allowed ? 'every image verified' : `${failed?.policy ?? ''}/${failed?.rule ?? ''}: ${failed?.message ?? decision.message ?? ''}`;
      say(`Pod default/${name} (${image.split('/').slice(1).join('/')}): ${decision.allowed ? 'ADMIT' : 'DENY'} — ${why}`);
    }
    say();
  } finally {
    await demo.opener.close();
    await server.close();
  }
  say('== verdicts (sigil verify and the admission policy agree)');
  for (const v of verdicts) say(`${v.verdict.padEnd(5)} ${v.image}${v.verdict === 'ADMIT' ? `  (${v.reason})` : ''}`);
  const expected = ['ADMIT', 'ADMIT', 'DENY', 'DENY'];
  if (verdicts.map((v) => v.verdict).join() !== expected.join()) throw new CliError(`demo: expected verdicts ${expected.join(', ')}, got ${verdicts.map((v) => v.verdict).join(', ')}`, { code: 'FAILED' });
  if (admissions.join() !== expected.join()) throw new CliError(`demo: the admission policy decided ${admissions.join(', ')}, expected ${expected.join(', ')}`, { code: 'FAILED' });
}

/** A ClusterPolicy as users write it for Notation signatures, trusting the given certificates (any one suffices). */
async function demoClusterPolicy(registry: string, certificates: readonly string[]): Promise<KyvernoPolicy> {
  const pems = await Promise.all(certificates.map(async (path) => (await readFile(path, 'utf8')).trim()));
  const entries = pems.map((pem) => `              - certificates:\n                  cert: |-\n${pem.split('\n').map((l) => `                    ${l}`).join('\n')}`).join('\n');
  const yaml = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-image-notary
spec:
  validationFailureAction: Enforce
  webhookTimeoutSeconds: 30
  rules:
    - name: verify-signature-notary
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - type: Notary
          imageReferences: ["${registry}/demo/*"]
          attestors:
            - count: 1
              entries:
${entries}
`;
  const [policy] = decodePolicyDocuments(yaml, 'demo policy');
  if (policy === undefined || policy.kind === 'PolicyException') throw new CliError('demo: the demo policy did not load', { code: 'FAILED' });
  return policy;
}
