import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReviewError } from './errors.js';
import { POLICY_REPORT_API_VERSION, buildPolicyReport } from './report.js';
import type { PolicyResultInput, ResourceReference } from './report.js';

const NOW = new Date('2025-01-02T03:04:05.678Z');
const POD: ResourceReference = { apiVersion: 'v1', kind: 'Pod', name: 'web-5f7b9c8d4b-x2v9k', namespace: 'default', uid: '3b6c0d0e-6f0b-4f4e-9a53-2f7f4b2f1c11' };
const ROLE: ResourceReference = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'pod-creator', uid: 'f1d2c3b4-0000-4000-8000-000000000001' };

function result(overrides: Partial<PolicyResultInput>): PolicyResultInput {
  return { policy: 'check-image-notary', rule: 'verify-signature-notary', result: 'pass', message: 'verified image signatures for ghcr.io/kyverno/test-verify-image:signed', ...overrides };
}

describe('buildPolicyReport', () => {
  it('builds a namespaced PolicyReport per resource in Kyverno shape', () => {
    const report = buildPolicyReport({ scope: POD, now: NOW, results: [result({ severity: 'medium', category: 'Software Supply Chain Security' })] });
    assert.deepEqual(report, {
      apiVersion: POLICY_REPORT_API_VERSION,
      kind: 'PolicyReport',
      metadata: {
        name: `sigil-${POD.uid}`,
        namespace: 'default',
        labels: { 'app.kubernetes.io/managed-by': 'sigil' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: POD.name, uid: POD.uid }],
      },
      scope: POD,
      results: [
        {
          source: 'sigil',
          policy: 'check-image-notary',
          rule: 'verify-signature-notary',
          result: 'pass',
          message: 'verified image signatures for ghcr.io/kyverno/test-verify-image:signed',
          scored: true,
          severity: 'medium',
          category: 'Software Supply Chain Security',
          timestamp: { seconds: 1735787045, nanos: 678_000_000 },
          properties: { process: 'admission review' },
        },
      ],
      summary: { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 },
    });
  });

  it('counts every outcome in the summary, reporting unscored failures as warnings', () => {
    const report = buildPolicyReport({
      scope: POD,
      now: NOW,
      results: [
        result({ rule: 'a', result: 'pass' }),
        result({ rule: 'b', result: 'fail', message: 'unverified image ghcr.io/a/b:1' }),
        result({ rule: 'c', result: 'fail', scored: false }),
        result({ rule: 'd', result: 'error', message: 'failed to verify image ghcr.io/a/b:1: dial tcp: connection refused' }),
        result({ rule: 'e', result: 'skip' }),
        result({ rule: 'f', result: 'warn' }),
        result({ rule: 'g', result: 'pass' }),
      ],
    });
    assert.deepEqual(report.summary, { pass: 2, fail: 1, warn: 2, error: 1, skip: 1 });
    assert.equal(report.results.find((r) => r.rule === 'c')?.result, 'warn');
    assert.equal(report.results.find((r) => r.rule === 'c')?.scored, false);
  });

  it('builds a ClusterPolicyReport for a cluster-scoped resource', () => {
    const report = buildPolicyReport({ scope: ROLE, now: NOW, results: [result({})] });
    assert.equal(report.kind, 'ClusterPolicyReport');
    assert.equal(report.metadata.namespace, undefined);
    assert.equal(report.scope?.namespace, undefined);
  });

  it('is deterministic: the same results in any order give the same report', () => {
    const results = [result({ policy: 'b', rule: 'x' }), result({ policy: 'a', rule: 'y' }), result({ policy: 'a', rule: 'x', result: 'fail' })];
    const one = buildPolicyReport({ scope: POD, now: NOW, results });
    const other = buildPolicyReport({ scope: POD, now: NOW, results: [...results].reverse() });
    assert.deepEqual(one, other);
    assert.deepEqual(
      one.results.map((r) => `${r.policy}/${r.rule}`),
      ['a/x', 'a/y', 'b/x'],
    );
  });

  it("keeps a result's own timestamp and extra properties", () => {
    const report = buildPolicyReport({
      scope: POD,
      now: NOW,
      process: 'background scan',
      results: [result({ timestamp: new Date(1_000), properties: { exceptions: 'allow-debug' } })],
    });
    assert.deepEqual(report.results[0]?.timestamp, { seconds: 1, nanos: 0 });
    assert.deepEqual(report.results[0]?.properties, { exceptions: 'allow-debug', process: 'background scan' });
  });

  it('names each resource in results when the report has no scope, as the CLI does', () => {
    const report = buildPolicyReport({ name: 'sigil-apply', namespace: 'default', now: NOW, results: [result({ resource: POD }), result({ resource: { ...POD, name: 'other', uid: undefined } })] });
    assert.equal(report.kind, 'PolicyReport');
    assert.equal(report.scope, undefined);
    assert.equal(report.metadata.ownerReferences, undefined);
    assert.deepEqual(
      report.results.map((r) => r.resources),
      [[{ apiVersion: 'v1', kind: 'Pod', name: 'other', namespace: 'default' }], [POD]],
    );
  });

  it('names a resource other than the scope in its result', () => {
    const report = buildPolicyReport({ scope: POD, now: NOW, results: [result({ resource: POD }), result({ rule: 'z', resource: ROLE })] });
    assert.equal(report.results[0]?.resources, undefined);
    assert.deepEqual(report.results[1]?.resources, [ROLE]);
  });

  it('refuses a result without a resource when there is no scope, and a report without a name', () => {
    const isResourceInvalid = (e: unknown): boolean => e instanceof ReviewError && e.code === 'RESOURCE_INVALID';
    assert.throws(() => buildPolicyReport({ name: 'r', now: NOW, results: [result({})] }), isResourceInvalid);
    assert.throws(() => buildPolicyReport({ scope: { ...POD, uid: undefined }, now: NOW, results: [] }), isResourceInvalid);
  });

  it('reports an empty summary for no results', () => {
    const report = buildPolicyReport({ scope: POD, now: NOW, results: [] });
    assert.deepEqual(report.summary, { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 });
    assert.deepEqual(report.results, []);
  });
});
