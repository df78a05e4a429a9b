// Background scans against a fake kube-apiserver over real HTTPS: what exists is listed, evaluated
// with the policies that have background processing, and each resource's report replaced with
// results marked `background scan`; a kind that cannot be listed does not stop the scan.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { notaryPolicyYaml } from '../../../test/support/admission.js';
import { FakeKubeApiServer } from '../../../test/support/kube-apiserver.js';
import { NOTATION_E2E } from '../../../test/support/shared.js';
import { decodePolicyDocuments, type KyvernoPolicy, type PolicyDocument, type VerifyImage } from '../../admission/index.js';
import { KubeClient, type KubeList, type ListOptions } from '../../kube/index.js';
import { BACKGROUND_SCAN_KINDS, backgroundRequest, BackgroundScanner } from './background.js';
import { ReportStore } from './reports.js';

const HOST = 'registry.test';
const GOOD = `${HOST}/app@sha256:${'a'.repeat(64)}`;
const BAD = `${HOST}/app@sha256:${'b'.repeat(64)}`;

let fake: FakeKubeApiServer;
let client: KubeClient;
let scanned: KyvernoPolicy;
let notScanned: KyvernoPolicy;
const verified: string[] = [];

/** Passes the GOOD digest, fails everything else; records what it was asked. */
const verifyImage: VerifyImage = async (image) => {
  const reference = `${image.registry}/${image.repository}@${image.digest ?? ''}`;
  verified.push(reference);
  return reference === GOOD ? { status: 'pass', digest: image.digest, message: 'verified' } : { status: 'fail', message: 'no signature verified with the trusted certificate' };
};

function policyOf(documents: readonly PolicyDocument[]): KyvernoPolicy {
  const policy = documents[0];
  assert.ok(policy !== undefined && policy.kind !== 'PolicyException');
  return policy;
}

function pod(name: string, namespace: string, image: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: name } }, spec: { containers: [{ name: 'c', image }] } };
}

before(async () => {
  fake = await FakeKubeApiServer.start({ tokens: ['t'] });
  client = new KubeClient({ server: fake.url, caCertificate: fake.pki.caPem, insecureSkipTlsVerify: false, auth: { type: 'bearer', token: async () => 't' }, namespace: 'sigil-system', source: 'test' });
  const cert = await readFile(join(NOTATION_E2E, 'config/localkeys/e2e.crt'), 'utf8');
  scanned = policyOf(decodePolicyDocuments(notaryPolicyYaml({ name: 'scanned', host: HOST, cert }), 'scanned.yaml'));
  notScanned = policyOf(decodePolicyDocuments(notaryPolicyYaml({ name: 'admission-only', host: HOST, cert }).replace('spec:\n', 'spec:\n  background: false\n'), 'admission-only.yaml'));
  assert.equal(notScanned.spec.background, false);
  fake.put('/api/v1/namespaces/team-a/pods', pod('good', 'team-a', GOOD));
  fake.put('/api/v1/namespaces/team-a/pods', pod('bad', 'team-a', BAD));
  fake.put('/apis/apps/v1/namespaces/team-b/deployments', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'team-b' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: BAD }] } } },
  });
});
after(async () => {
  await client.close();
  await fake.close();
});

describe('BackgroundScanner', () => {
  it('replaces each existing resource’s report with a background-scan verdict, Pods and autogen controllers alike', async () => {
    const reports = new ReportStore();
    const summaries: unknown[] = [];
    const scanner = new BackgroundScanner({ client, policies: () => ({ policies: [scanned, notScanned], exceptions: [] }), verifyImage, reports, onScan: (s) => summaries.push(s) });
    const summary = await scanner.scanOnce();
    assert.deepEqual(summary, { resources: 3, reports: 3, errors: 0 });
    assert.deepEqual(summaries, [summary]);
    const all = reports.list();
    const byName = new Map(all.map((r) => [r.scope?.name, r]));
    const good = byName.get('good');
    const bad = byName.get('bad');
    const web = byName.get('web');
    assert.ok(good !== undefined && bad !== undefined && web !== undefined, `reports for: ${[...byName.keys()].join(', ')}`);
    for (const report of [good, bad, web]) {
      assert.ok(report.results.every((r) => r.properties?.['process'] === 'background scan'), JSON.stringify(report.results));
      assert.ok(report.results.every((r) => r.policy === 'scanned'), 'a policy with background: false is not scanned');
    }
    assert.deepEqual(good.results.map((r) => r.result), ['pass']);
    assert.deepEqual(bad.results.map((r) => r.result), ['fail']);
    assert.deepEqual(web.results.map((r) => [r.rule, r.result]), [['autogen-check-digest', 'fail']]);
    const listed = await client.list('/apis/apps/v1/deployments', { signal: AbortSignal.timeout(10_000) });
    assert.equal(web.scope?.uid, listed.items[0]?.metadata.uid, 'the report is the resource’s, by its uid');
  });

  it('goes on past a kind it cannot list, and reports the error', async () => {
    const errors: string[] = [];
    const failing = {
      list: (path: string, options: ListOptions): Promise<KubeList> => (path.endsWith('/deployments') ? Promise.reject(new Error('deployments.apps is forbidden')) : client.list(path, options)),
    };
    const scanner = new BackgroundScanner({ client: failing, policies: () => ({ policies: [scanned], exceptions: [] }), verifyImage, reports: new ReportStore(), onError: (error, where) => errors.push(`${where}: ${(error as Error).message}`) });
    assert.deepEqual(await scanner.scanOnce(), { resources: 2, reports: 2, errors: 1 });
    assert.deepEqual(errors, ['listing deployments: deployments.apps is forbidden']);
  });

  it('lists nothing while no policy asks for background processing, or none is loaded', async () => {
    let lists = 0;
    const counting = { list: (path: string, options: ListOptions) => (lists++, client.list(path, options)) };
    for (const policies of [() => ({ policies: [notScanned], exceptions: [] }), () => undefined]) {
      const scanner = new BackgroundScanner({ client: counting, policies, verifyImage, reports: new ReportStore() });
      assert.deepEqual(await scanner.scanOnce(), { resources: 0, reports: 0, errors: 0 });
    }
    assert.equal(lists, 0);
  });

  it('stops a scan in progress and its schedule', async () => {
    let release: (() => void) | undefined;
    const slow: VerifyImage = (image, rule, attestor, context) =>
      new Promise((resolve, reject) => {
        release = () => resolve({ status: 'pass', message: 'late' });
        context.signal.addEventListener('abort', () => reject(context.signal.reason as Error), { once: true });
      });
    const scanner = new BackgroundScanner({ client, policies: () => ({ policies: [scanned], exceptions: [] }), verifyImage: slow, reports: new ReportStore(), firstDelayMs: 0 }).start();
    while (release === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    await scanner.stop();
    assert.ok(true, 'stop resolved while a verification was pending');
  });

  it('shapes an existing object as a CREATE of it, with its namespace labels', () => {
    const kind = BACKGROUND_SCAN_KINDS.find((k) => k.kind === 'Deployment');
    assert.ok(kind !== undefined);
    const request = backgroundRequest(kind, { metadata: { name: 'web', namespace: 'team-b', labels: { a: 'b' }, annotations: { x: 'y' } }, spec: {} }, { env: 'prod' });
    assert.deepEqual({ ...request, object: undefined }, {
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      name: 'web',
      namespace: 'team-b',
      operation: 'CREATE',
      labels: { a: 'b' },
      annotations: { x: 'y' },
      namespaceLabels: { env: 'prod' },
      object: undefined,
    });
    assert.equal((request.object as { kind: string }).kind, 'Deployment', 'a typed list item has no kind; it is put back');
  });
});
