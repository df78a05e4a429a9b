import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodePolicyDocuments, type ImageRuleResult, type KyvernoPolicy, type PolicyReport } from '../../admission/index.js';
import { ReportStore, ruleResults, writeReportFile } from './reports.js';

function result(overrides: Partial<ImageRuleResult>): ImageRuleResult {
  return { policy: 'p', rule: 'r', image: 'ghcr.io/org/app:v1', path: '/spec/containers/0/image', result: 'pass', message: 'verified', digest: undefined, action: 'Audit', failurePolicy: 'Fail', ...overrides };
}

const POLICY = decodePolicyDocuments(
  `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: p
  annotations:
    policies.kyverno.io/severity: High
    policies.kyverno.io/category: Supply chain
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - type: Notary
          imageReferences: ["*"]
          mutateDigest: false
          verifyDigest: false
          attestors: []
`,
  'reports.test',
) as KyvernoPolicy[];

const POD = { apiVersion: 'v1', kind: 'Pod', name: 'web', namespace: 'dev', uid: '0c9a8d74-9cb7-44dd-b98e-09fd62def2f4' };

describe('ruleResults', () => {
  it('reports each rule once, its worst image outcome, with the policy annotations', () => {
    const rows = ruleResults([result({}), result({ image: 'b', result: 'fail', message: 'no signature' }), result({ rule: 'other', result: 'skip', message: 'skipped' })], POLICY);
    assert.deepEqual(rows, [
      { policy: 'p', rule: 'r', result: 'fail', message: 'verified; no signature', scored: true, severity: 'high', category: 'Supply chain' },
      { policy: 'p', rule: 'other', result: 'skip', message: 'skipped', scored: true, severity: 'high', category: 'Supply chain' },
    ]);
  });

  it('puts an error above a failure and leaves out what a policy does not annotate', () => {
    const rows = ruleResults([result({ result: 'fail' }), result({ result: 'error', message: 'registry down' })], []);
    assert.deepEqual(rows, [{ policy: 'p', rule: 'r', result: 'error', message: 'verified; registry down', scored: true }]);
  });
});

describe('ReportStore', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigil-reports-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps one report per resource, named after its uid, and writes it under --reports-dir", async () => {
    const store = new ReportStore({ dir, now: () => new Date('2026-12-02T00:00:00Z') });
    await store.record({ resource: POD, results: [result({ result: 'fail', message: 'no signature' })], policies: POLICY });
    const report = await store.record({ resource: POD, results: [result({})], policies: POLICY });
    assert.equal(store.list().length, 1);
    assert.equal(report?.metadata.name, `sigil-${POD.uid}`);
    assert.deepEqual(report?.summary, { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 });
    const written = JSON.parse(await readFile(join(dir, 'dev', `sigil-${POD.uid}.json`), 'utf8')) as PolicyReport;
    assert.deepEqual(written, JSON.parse(JSON.stringify(report)));
    assert.deepEqual((await readdir(join(dir, 'dev'))).filter((f) => f.endsWith('.tmp')), []);
    assert.deepEqual(store.list('dev').length, 1);
    assert.deepEqual(store.list('prod'), []);
  });

  it('records nothing for an evaluation without results', async () => {
    const store = new ReportStore();
    assert.equal(await store.record({ resource: POD, results: [], policies: POLICY }), undefined);
    assert.deepEqual(store.list(), []);
  });

  it('names a report by a hash when the uid is missing or not a UUID, and writes cluster-scoped ones to _cluster', async () => {
    const store = new ReportStore({ dir });
    const hostile = await store.record({ resource: { ...POD, uid: '../../etc/passwd' }, results: [result({})], policies: [] });
    assert.match(hostile?.metadata.name ?? '', /^sigil-[0-9a-f]{32}$/);
    const cluster = await store.record({ resource: { apiVersion: 'v1', kind: 'Namespace', name: 'dev' }, results: [result({})], policies: [] });
    assert.equal(cluster?.kind, 'ClusterPolicyReport');
    assert.ok((await readdir(join(dir, '_cluster'))).some((f) => f === `${cluster?.metadata.name}.json`));
  });

  it('refuses to write a report whose namespace is not a Kubernetes name, and tells onError', async () => {
    const errors: string[] = [];
    const store = new ReportStore({ dir, onError: (e) => errors.push(e instanceof Error ? e.message : String(e)) });
    await store.record({ resource: { ...POD, namespace: '../escape' }, results: [result({})], policies: [] });
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /is not a Kubernetes namespace name; not written/);
    assert.equal(store.list().length, 1, 'kept in memory');
    await assert.rejects(writeReportFile(dir, { ...(store.list()[0] as PolicyReport), metadata: { name: 'x/y', labels: {} } }), /is not a DNS label/);
  });

  it('hands reports to sinks, and a failing sink does not stop the others', async () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    const store = new ReportStore({
      sinks: [
        { write: async () => Promise.reject(new Error('cluster unreachable')) },
        { write: async (r) => void seen.push(r.metadata.name) },
      ],
      onError: (e) => errors.push(e),
    });
    await store.record({ resource: POD, results: [result({})], policies: [] });
    assert.deepEqual(seen, [`sigil-${POD.uid}`]);
    assert.equal(errors.length, 1);
  });

  it('keeps at most maxReports, dropping the least recently updated', async () => {
    const store = new ReportStore({ maxReports: 2 });
    for (const name of ['a', 'b', 'a', 'c']) await store.record({ resource: { ...POD, name, uid: `uid-${name}` }, results: [result({})], policies: [] });
    assert.deepEqual(store.list().map((r) => r.metadata.name).sort(), ['sigil-uid-a', 'sigil-uid-c']);
  });
});
