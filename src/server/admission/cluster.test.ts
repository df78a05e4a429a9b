import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { buildPolicyReport, PolicyError } from '../../admission/index.js';
import { KubeClient, KubeError, type KubeObject } from '../../kube/index.js';
import { FakeKubeApiServer, waitFor } from '../../../test/support/kube-apiserver.js';
import { SHARED_POLICIES } from '../../../test/support/shared.js';
import {
  AdmissionCluster,
  ClusterPolicySource,
  decodeClusterPolicyObject,
  decodeDockerConfigSecret,
  mergePolicySets,
  NamespaceLabelCache,
  normalizeRegistryKey,
  PolicyReportWriter,
  SecretCredentials,
  type ClusterPolicyProblem,
} from './cluster.js';
import type { AdmissionPolicySet } from './server.js';

type Json = Record<string, unknown>;

const CLUSTER_POLICIES = '/apis/sigil.dev/v1/clusterpolicies';
const policiesIn = (ns: string) => `/apis/sigil.dev/v1/namespaces/${ns}/policies`;
const exceptionsIn = (ns: string) => `/apis/sigil.dev/v1/namespaces/${ns}/policyexceptions`;
const signal = () => AbortSignal.timeout(10_000);

let fake: FakeKubeApiServer;
let client: KubeClient;
let clusterPolicy: Json;
let exception: Json;

before(async () => {
  fake = await FakeKubeApiServer.start({ tokens: ['t'] });
  client = new KubeClient({ server: fake.url, caCertificate: fake.pki.caPem, insecureSkipTlsVerify: false, auth: { type: 'bearer', token: async () => 't' }, namespace: 'sigil-system', source: 'test' });
  clusterPolicy = { ...(parse(await readFile(join(SHARED_POLICIES, '01-check-image-notary.yaml'), 'utf8')) as Json), apiVersion: 'sigil.dev/v1' };
  exception = { ...(parse(await readFile(join(SHARED_POLICIES, '05-policy-exception.yaml'), 'utf8')) as Json), apiVersion: 'sigil.dev/v1' };
});
after(async () => {
  await client.close();
  await fake.close();
});

function withName(object: Json, name: string, extra: Json = {}): Json {
  return { ...object, metadata: { ...(object.metadata as Json), name, ...extra } };
}

/** The ClusterPolicy as a namespaced Policy: no namespaces filter (a Policy only sees its own namespace). */
function namespacedPolicy(name: string, namespace: string): Json {
  const spec = structuredClone(clusterPolicy.spec) as { rules: { match: { resources: Json } }[] };
  for (const rule of spec.rules) delete rule.match.resources.namespaces;
  return { apiVersion: 'sigil.dev/v1', kind: 'Policy', metadata: { name, namespace }, spec };
}

describe('NamespaceLabelCache', () => {
  let cache: NamespaceLabelCache | undefined;
  afterEach(async () => {
    await cache?.stop();
  });

  it('knows every namespace label and follows updates and deletes', async () => {
    fake.put('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'team-a', env: 'dev' } } });
    let changes = 0;
    cache = new NamespaceLabelCache({ client, onChange: () => changes++ }).start();
    assert.equal(cache.namespaceLabels('team-a'), undefined, 'nothing before sync');
    await cache.synced;
    assert.deepEqual(cache.namespaceLabels('team-a'), { 'kubernetes.io/metadata.name': 'team-a', env: 'dev' });
    assert.ok(Object.isFrozen(cache.namespaceLabels('team-a')));
    assert.equal(cache.namespaceLabels('nope'), undefined);
    await waitFor(() => fake.watchCount >= 1, 'the watch');
    fake.put('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'team-a', env: 'prod' } } });
    await waitFor(() => cache?.namespaceLabels('team-a')?.env === 'prod', 'the label update');
    fake.remove('/api/v1/namespaces', 'team-a');
    await waitFor(() => cache?.namespaceLabels('team-a') === undefined, 'the delete');
    assert.ok(changes >= 3);
  });
});

describe('ClusterPolicySource', () => {
  let source: ClusterPolicySource | undefined;
  afterEach(async () => {
    await source?.stop();
    await waitFor(() => fake.watchCount === 0, 'watches to close');
  });

  it('turns sigil.dev objects into policies, follows changes and deletes, and skips a bad object', async () => {
    fake.put(CLUSTER_POLICIES, withName(clusterPolicy, 'check-image'));
    fake.put(policiesIn('team-a'), namespacedPolicy('team-policy', 'team-a'));
    fake.put(exceptionsIn('production'), exception);
    const sets: AdmissionPolicySet[] = [];
    const problems: ClusterPolicyProblem[] = [];
    source = new ClusterPolicySource({ client, onPolicies: (s) => sets.push(s), onProblem: (p) => problems.push(p) }).start();
    await source.synced;
    assert.equal(sets.length, 1, 'one snapshot at sync, not one per resource');
    const first = sets[0];
    assert.deepEqual(first?.policies.map((p) => [p.kind, p.metadata.namespace ?? '', p.metadata.name]), [
      ['ClusterPolicy', '', 'check-image'],
      ['Policy', 'team-a', 'team-policy'],
    ]);
    assert.equal(first?.policies[0]?.origin.source, 'cluster clusterpolicies.sigil.dev/check-image');
    assert.equal(first?.policies[1]?.origin.source, 'cluster policies.sigil.dev/team-a/team-policy');
    assert.deepEqual(first?.exceptions.map((e) => e.metadata.name), ['emergency-exception']);
    assert.equal(first?.policies[0]?.apiVersion, 'kyverno.io/v1');
    assert.equal(problems.length, 0);

    await waitFor(() => fake.watchCount === 3, 'three watches');
    const changed = structuredClone(clusterPolicy) as { spec: Json };
    changed.spec.webhookTimeoutSeconds = 12;
    fake.put(CLUSTER_POLICIES, withName(changed, 'check-image'));
    await waitFor(() => source?.current.policies.find((p) => p.metadata.name === 'check-image')?.spec.webhookTimeoutSeconds === 12, 'the change');

    const bad = structuredClone(clusterPolicy) as { spec: Json };
    bad.spec.notAField = true;
    fake.put(CLUSTER_POLICIES, withName(bad, 'broken'));
    await waitFor(() => problems.length === 1, 'the bad object reported');
    assert.equal(problems[0]?.origin, 'cluster clusterpolicies.sigil.dev/broken');
    assert.ok(problems[0]?.error instanceof PolicyError);
    assert.match(problems[0]?.error.message ?? '', /^cluster clusterpolicies\.sigil\.dev\/broken: spec\.notAField/);
    assert.deepEqual(source.current.policies.map((p) => p.metadata.name), ['check-image', 'team-policy'], 'the bad object is skipped');

    fake.remove(policiesIn('team-a'), 'team-policy');
    fake.remove(exceptionsIn('production'), 'emergency-exception');
    await waitFor(() => source?.current.policies.length === 1 && source.current.exceptions.length === 0, 'the deletes');
    // A fixed object replaces its problem.
    fake.put(CLUSTER_POLICIES, withName(clusterPolicy, 'broken'));
    await waitFor(() => source?.current.policies.length === 2, 'the fixed object');
    assert.equal(problems.length, 1);
    fake.remove(CLUSTER_POLICIES, 'broken');
    fake.remove(CLUSTER_POLICIES, 'check-image');
  });

  it('merges cluster policies after file-loaded ones', () => {
    const file = { policies: [decodeClusterPolicyObject('clusterpolicies', withName(clusterPolicy, 'from-file') as KubeObject) as never], exceptions: [] };
    const merged = mergePolicySets(file, { policies: [], exceptions: [] });
    assert.equal(merged.policies.length, 1);
    assert.ok(Object.isFrozen(merged.policies));
  });

  it('refuses an object whose kind does not fit its resource', () => {
    assert.throws(
      () => decodeClusterPolicyObject('policies', { ...withName(clusterPolicy, 'x', { namespace: 'a' }), kind: 'ClusterPolicy' } as KubeObject),
      (e: unknown) => e instanceof PolicyError && /must be sigil\.dev\/v1 Policy/.test(e.message),
    );
    assert.throws(() => decodeClusterPolicyObject('clusterpolicies', { ...withName(clusterPolicy, 'x'), apiVersion: 'kyverno.io/v1' } as KubeObject), PolicyError);
  });
});

function dockerSecret(name: string, namespace: string, auths: unknown, type = 'kubernetes.io/dockerconfigjson'): Json {
  const key = type === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson';
  const payload = type === 'kubernetes.io/dockercfg' ? auths : { auths };
  return { apiVersion: 'v1', kind: 'Secret', type, metadata: { name, namespace }, data: { [key]: Buffer.from(JSON.stringify(payload)).toString('base64') } };
}
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('registry credentials from Secrets', () => {
  it('decodes dockerconfigjson auths: base64 auth, username/password, identitytoken, normalized keys', () => {
    const { credentials, skipped } = decodeDockerConfigSecret(
      dockerSecret('pull', 'ns', {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'ghcr.io': { username: 'gh', password: 'ghp' },
        'https://registry.example:5000/v2/': { identitytoken: 'refresh', username: 'u' },
        'bad.example': { auth: '!!!' },
        'nocolon.example': { auth: b64('justuser') },
        'empty.example': {},
      }) as KubeObject,
    );
    assert.deepEqual(Object.fromEntries(credentials), {
      'docker.io': { username: 'hubuser', password: 'hub:pass' },
      'ghcr.io': { username: 'gh', password: 'ghp' },
      'registry.example:5000': { identityToken: 'refresh', username: 'u' },
    });
    assert.deepEqual(
      skipped.map((s) => s.secret),
      ['ns/pull (bad.example)', 'ns/pull (nocolon.example)', 'ns/pull (empty.example)'],
    );
    assert.match(skipped[0]?.reason ?? '', /auth is not base64/);
  });

  it('decodes the legacy dockercfg form', () => {
    const { credentials } = decodeDockerConfigSecret(dockerSecret('old', 'ns', { 'quay.io': { auth: b64('q:w') } }, 'kubernetes.io/dockercfg') as KubeObject);
    assert.deepEqual(credentials.get('quay.io'), { username: 'q', password: 'w' });
  });

  it('refuses bad base64, bad JSON, missing keys and other Secret types with a reason', () => {
    const base = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'n' } };
    const cases: [Json, RegExp][] = [
      [{ ...base, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'not base64!' } }, /is not base64/],
      [{ ...base, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{not json') } }, /is not JSON/],
      [{ ...base, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{"nope":1}') } }, /has no auths object/],
      [{ ...base, type: 'kubernetes.io/dockerconfigjson', data: {} }, /has no \.dockerconfigjson/],
      [{ ...base, type: 'Opaque', data: {} }, /type "Opaque" is not/],
    ];
    for (const [secret, pattern] of cases) assert.throws(() => decodeDockerConfigSecret(secret as KubeObject), pattern);
  });

  it('normalizes registry keys as references name registries', () => {
    assert.equal(normalizeRegistryKey('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normalizeRegistryKey('registry-1.docker.io'), 'docker.io');
    assert.equal(normalizeRegistryKey('HTTP://Reg.Example:5000/v2/x'), 'reg.example:5000');
  });

  it('reads Secrets by name or ns/name, skips missing and bad ones, and caches for the TTL', async () => {
    fake.put('/api/v1/namespaces/sigil-system/secrets', dockerSecret('hub', 'sigil-system', { 'https://index.docker.io/v1/': { auth: b64('a:b') } }));
    fake.put('/api/v1/namespaces/team-a/secrets', dockerSecret('ghcr', 'team-a', { 'ghcr.io': { auth: b64('c:d') }, 'https://index.docker.io/v1/': { auth: b64('other:x') } }));
    fake.put('/api/v1/namespaces/sigil-system/secrets', { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: 'opaque' }, data: {} });
    let clock = 0;
    const secrets = new SecretCredentials({ client, ttlMs: 60_000, now: () => clock });
    const result = await secrets.registryCredentials('sigil-system', ['hub', 'team-a/ghcr', 'absent', 'opaque'], { signal: signal() });
    assert.deepEqual(result.credentials.get('docker.io'), { username: 'a', password: 'b' }, 'the first Secret listed wins');
    assert.deepEqual(result.credentials.get('ghcr.io'), { username: 'c', password: 'd' });
    assert.deepEqual(result.skipped, [
      { secret: 'sigil-system/absent', reason: 'not found' },
      { secret: 'sigil-system/opaque', reason: 'type "Opaque" is not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg' },
    ]);
    assert.deepEqual(await result.store.get('index.docker.io'), { username: 'a', password: 'b' });
    assert.equal(await result.store.get('quay.io'), undefined);

    const reads = () => fake.requests.filter((r) => r.path.includes('/secrets/')).length;
    const before = reads();
    await secrets.registryCredentials('sigil-system', ['hub', 'absent'], { signal: signal() });
    assert.equal(reads(), before, 'served from the cache');
    clock += 61_000;
    await secrets.registryCredentials('sigil-system', ['hub'], { signal: signal() });
    assert.equal(reads(), before + 1, 'read again after the TTL');
  });

  it('throws ABORTED, and caches nothing, when the signal aborts', async () => {
    const secrets = new SecretCredentials({ client });
    await assert.rejects(secrets.registryCredentials('sigil-system', ['hub'], { signal: AbortSignal.abort() }), (e: unknown) => e instanceof KubeError && e.code === 'ABORTED');
    assert.equal((await secrets.registryCredentials('sigil-system', ['hub'], { signal: signal() })).credentials.size, 1);
  });

  it('does not remember a Secret it could not read', async () => {
    const secrets = new SecretCredentials({ client });
    fake.failNext((r) => r.path.endsWith('/secrets/hub'), 403, 'Forbidden');
    const denied = await secrets.registryCredentials('sigil-system', ['hub'], { signal: signal() });
    assert.match(denied.skipped[0]?.reason ?? '', /^cannot read: GET .*403 Forbidden/);
    const retried = await secrets.registryCredentials('sigil-system', ['hub'], { signal: signal() });
    assert.equal(retried.credentials.size, 1);
  });
});

describe('PolicyReportWriter', () => {
  const NOW = new Date('2026-01-01T00:00:00Z');
  const scope = { apiVersion: 'v1', kind: 'Pod', name: 'app', namespace: 'team-a', uid: '5f0c1c1e-0000-4000-8000-000000000001' };
  const report = (result: 'pass' | 'fail') => buildPolicyReport({ scope, now: NOW, results: [{ policy: 'check-image', rule: 'check-digest', result, message: result }] });
  const reportPath = '/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports';

  it('creates, then replaces, retrying a 409 Conflict after re-reading', async () => {
    const writer = new PolicyReportWriter({ client });
    assert.equal(await writer.write(report('pass'), { signal: signal() }), 'created');
    const stored = fake.object(reportPath, `sigil-${scope.uid}`);
    assert.equal((stored?.summary as Json).pass, 1);

    fake.failNext((r) => r.method === 'PUT' && r.path.startsWith(reportPath), 409, 'Conflict');
    const puts = () => fake.requests.filter((r) => r.method === 'PUT' && r.path.startsWith(reportPath)).length;
    const before = puts();
    assert.equal(await writer.write(report('fail'), { signal: signal() }), 'replaced');
    assert.equal(puts() - before, 2, 'one conflict, one retry');
    assert.equal((fake.object(reportPath, `sigil-${scope.uid}`)?.summary as Json).fail, 1);
  });

  it('writes a ClusterPolicyReport for a cluster-scoped resource', async () => {
    const writer = new PolicyReportWriter({ client });
    const clusterReport = buildPolicyReport({ scope: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'r', uid: '5f0c1c1e-0000-4000-8000-000000000002' }, now: NOW, results: [{ policy: 'p', rule: 'r', result: 'pass', message: '' }] });
    assert.equal(await writer.write(clusterReport, { signal: signal() }), 'created');
    assert.ok(fake.object('/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports', clusterReport.metadata.name));
  });

  it('gives up after too many conflicts with CONFLICT', async () => {
    const writer = new PolicyReportWriter({ client, maxConflictRetries: 1 });
    fake.failNext((r) => r.method === 'PUT' && r.path.startsWith(reportPath), 409, 'Conflict', 2);
    await assert.rejects(writer.write(report('pass'), { signal: signal() }), (e: unknown) => e instanceof KubeError && e.code === 'CONFLICT');
  });

  it('reports a missing CRD once and then stays off', async () => {
    fake.missingCollections.add('wgpolicyk8s.io/v1alpha2/policyreports');
    try {
      const disabled: KubeError[] = [];
      const writer = new PolicyReportWriter({ client, onDisabled: (e) => disabled.push(e) });
      assert.equal(await writer.write(report('pass'), { signal: signal() }), 'disabled');
      const count = fake.requests.length;
      assert.equal(await writer.write(report('fail'), { signal: signal() }), 'disabled');
      assert.equal(fake.requests.length, count, 'no request once disabled');
      assert.equal(disabled.length, 1);
      assert.equal(disabled[0]?.code, 'NOT_FOUND');
      assert.match(disabled[0]?.message ?? '', /^policyreports\.wgpolicyk8s\.io is not installed/);
      assert.ok(writer.disabled);
    } finally {
      fake.missingCollections.delete('wgpolicyk8s.io/v1alpha2/policyreports');
    }
  });
});

describe('AdmissionCluster', () => {
  it('starts namespaces and policies together and stops them', async () => {
    fake.put('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b', labels: { env: 'qa' } } });
    fake.put(CLUSTER_POLICIES, withName(clusterPolicy, 'together'));
    const sets: AdmissionPolicySet[] = [];
    const cluster = new AdmissionCluster({ client, onPolicies: (s) => sets.push(s) }).start();
    await cluster.synced;
    assert.deepEqual(cluster.namespaceLabels('team-b'), { env: 'qa' });
    assert.deepEqual(sets.at(-1)?.policies.map((p) => p.metadata.name), ['together']);
    await cluster.stop();
    fake.remove(CLUSTER_POLICIES, 'together');
  });
});
