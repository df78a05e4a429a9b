// End-to-end: `sigil admission serve --kubeconfig` through the real binary, connected to the fake
// kube-apiserver, verifying images in Debian's docker-registry behind htpasswd Basic auth. The
// sigil.dev ClusterPolicy, namespace labels, pull Secrets and PolicyReports all live in the fake.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDockerRegistry, type RunningRegistry } from '../../test/support/docker-registry.js';
import { FakeKubeApiServer, waitFor } from '../../test/support/kube-apiserver.js';
import { copyWritable, NOTATION_E2E, NOTATION_LAYOUTS } from '../../test/support/shared.js';
import { failsWithOneLine, ok, runSigil, SIGIL } from '../../test/support/sigil-cli.js';

type Json = Record<string, unknown>;

// bcrypt of "pw" for user "sigil" (cost 12), as login.test.ts uses it.
const HTPASSWD = 'sigil:$2b$12$KLeIz4lwVuiNiOroADKWGOzDHQTbHTluNHc9j79NXnfIhTB6T/klC\n';
const CLUSTER_POLICIES = '/apis/sigil.dev/v1/clusterpolicies';
const REPORTS = '/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports';

let home: string;
let registry: RunningRegistry;
let fake: FakeKubeApiServer;
let cert: string;
let image: string;
let child: ChildProcess;
let port: number;
let ca: string;
let out = '';
let err = '';
let reviews = 0;

function dockerSecret(name: string, namespace: string, password = 'pw'): Json {
  const auths = { [registry.host]: { auth: Buffer.from(`sigil:${password}`).toString('base64') } };
  return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name, namespace }, data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') } };
}

/** A sigil.dev ClusterPolicy verifying the private registry's images in namespaces labelled env=prod. */
function clusterPolicy(options: { failurePolicy?: 'Fail' | 'Ignore'; secrets?: string[] } = {}): Json {
  return {
    apiVersion: 'sigil.dev/v1',
    kind: 'ClusterPolicy',
    metadata: { name: 'check-private' },
    spec: {
      validationFailureAction: 'Enforce',
      webhookTimeoutSeconds: 15,
      ...(options.failurePolicy === undefined ? {} : { failurePolicy: options.failurePolicy }),
      rules: [
        {
          name: 'check-signature',
          match: { any: [{ resources: { kinds: ['Pod'], namespaceSelector: { matchLabels: { env: 'prod' } } } }] },
          verifyImages: [
            {
              type: 'Notary',
              imageReferences: [`${registry.host}/*`],
              attestors: [{ count: 1, entries: [{ certificates: { cert } }] }],
              mutateDigest: false,
              verifyDigest: false,
              required: false,
              ...(options.secrets === undefined ? {} : { imageRegistryCredentials: { secrets: options.secrets } }),
            },
          ],
        },
      ],
    },
  };
}

interface ReviewAnswer {
  readonly allowed: boolean;
  readonly message: string;
  readonly warnings: readonly string[];
}

/** POSTs a Pod CREATE in `namespace` to /validate and returns the answer. */
function validate(namespace: string, pullSecrets: readonly string[] = [], name = 'web'): Promise<ReviewAnswer> {
  const uid = `00000000-0000-4000-8000-${String(++reviews).padStart(12, '0')}`;
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      name,
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'dev@example.com', groups: ['system:authenticated'] },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace, uid },
        spec: { containers: [{ name: 'app', image }], ...(pullSecrets.length === 0 ? {} : { imagePullSecrets: pullSecrets.map((n) => ({ name: n })) }) },
      },
      oldObject: null,
      dryRun: false,
    },
  });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/validate', method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          const response = (JSON.parse(text) as { response: { allowed: boolean; status?: { message?: string }; warnings?: string[] } }).response;
          resolve({ allowed: response.allowed, message: (response.status?.message ?? '').replace(/\n\s*/g, ' '), warnings: response.warnings ?? [] });
        } catch {
          reject(new Error(`${res.statusCode ?? 0}: ${text}`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function readyz(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', method: 'GET', ca, servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asks until `accept` holds for the answer (a policy change reaches the server through its watch). */
async function until(ask: () => Promise<ReviewAnswer>, accept: (answer: ReviewAnswer) => boolean, what: string): Promise<ReviewAnswer> {
  let last: ReviewAnswer | undefined;
  for (let i = 0; i < 100; i++) {
    last = await ask();
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`${what}: last answer ${JSON.stringify(last)}; stderr: ${err}`);
}

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-admission-cluster-'));
  await writeFile(join(home, 'htpasswd'), HTPASSWD);
  [registry, fake] = await Promise.all([startDockerRegistry({ htpasswd: join(home, 'htpasswd') }), FakeKubeApiServer.start({ tokens: ['cluster-token'] })]);
  cert = await readFile(join(NOTATION_E2E, 'config/localkeys/e2e.crt'), 'utf8');
  image = `${registry.host}/private/signed:v1`;
  // The pusher logs in; the server gets an empty docker config, so only Secrets can open the registry.
  const pusher = { env: { SIGIL_CONFIG: join(home, 'sigil'), DOCKER_CONFIG: join(home, 'docker-pusher') } };
  await mkdir(join(home, 'docker-pusher'));
  await mkdir(join(home, 'docker-server'));
  await copyWritable(join(NOTATION_LAYOUTS, 'e2e-valid-signature'), join(home, 'signed'));
  ok(await runSigil(['login', '-u', 'sigil', '--password-stdin', registry.host], { ...pusher, stdin: 'pw\n' }));
  ok(await runSigil(['cp', '-r', '--from-oci-layout', `${join(home, 'signed')}:v1`, image], pusher));

  fake.put('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { env: 'prod' } } });
  fake.put('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b', labels: { env: 'dev' } } });
  fake.put('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sigil-system' } });
  fake.put('/api/v1/namespaces/team-a/secrets', dockerSecret('regcred', 'team-a'));
  fake.put('/api/v1/namespaces/team-a/secrets', dockerSecret('wrong', 'team-a', 'not-the-password'));
  fake.put('/api/v1/namespaces/sigil-system/secrets', dockerSecret('sigil-regcred', 'sigil-system'));
  fake.put(CLUSTER_POLICIES, clusterPolicy());
  fake.servedCollections.add('wgpolicyk8s.io/v1alpha2/policyreports');

  const kubeconfig = join(home, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: fake',
      '    cluster:',
      `      server: ${fake.url}`,
      `      certificate-authority-data: ${Buffer.from(fake.pki.caPem).toString('base64')}`,
      'users:',
      '  - name: sigil',
      '    user:',
      '      token: cluster-token',
      'contexts:',
      '  - name: fake',
      '    context:',
      '      cluster: fake',
      '      user: sigil',
      'current-context: fake',
      '',
    ].join('\n'),
  );
  child = spawn(process.execPath, [SIGIL, 'admission', 'serve', '--addr', '127.0.0.1:0', '--tls-dir', join(home, 'tls'), '--kubeconfig', kubeconfig, '--background-scan-interval', '1s'], {
    env: { ...process.env, SIGIL_CONFIG: join(home, 'sigil-server'), DOCKER_CONFIG: join(home, 'docker-server') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  await waitFor(() => /listening on https:\/\/127\.0\.0\.1:\d+ /.test(out) || child.exitCode !== null, 'the listening line', 20_000);
  assert.match(out, /^listening on https:\/\/127\.0\.0\.1:\d+ \(sigil\.dev policies from kubeconfig .*kubeconfig \(context fake\), namespace sigil-system, caBundle .*ca\.crt \(generated\)\)\n/, `stdout: ${out}; stderr: ${err}`);
  port = Number(/127\.0\.0\.1:(\d+) /.exec(out)?.[1]);
  ca = await readFile(join(home, 'tls', 'ca.crt'), 'utf8');
});

after(async () => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  await fake?.close();
  await registry?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('sigil admission serve --kubeconfig', () => {
  it('is ready once the cluster is listed, and says what it synced', async () => {
    assert.equal(await readyz(), 200);
    assert.match(err, /sigil admission: cluster synced: 1 policy and 0 exceptions from kubeconfig .* \(context fake\)\n/);
  });

  it("admits a signed Pod whose imagePullSecrets open the private registry, and denies it without them as an authentication failure", async () => {
    const admitted = await validate('team-a', ['regcred']);
    assert.equal(admitted.allowed, true, admitted.message);
    const denied = await validate('team-a');
    assert.equal(denied.allowed, false);
    assert.match(denied.message, /resource Pod\/team-a\/web was blocked due to the following policies\s+check-private: check-signature: .*private\/signed.*registry authentication failed: .*401 unauthorized/);
  });

  it('names a pull secret it could not use, and why', async () => {
    const missing = await validate('team-a', ['gone']);
    assert.equal(missing.allowed, false);
    assert.match(missing.message, /registry authentication failed: .*\(imagePullSecret team-a\/gone not used: not found\)/);
    const wrong = await validate('team-a', ['wrong']);
    assert.equal(wrong.allowed, false);
    assert.match(wrong.message, /registry authentication failed: .*401 unauthorized/);
    // Another Pod with the right Secret is not handed the failure of the one without.
    assert.equal((await validate('team-a', ['regcred'], 'again')).allowed, true);
  });

  it('checks only namespaces the namespaceSelector matches, by the labels the cluster has', async () => {
    const elsewhere = await validate('team-b');
    assert.equal(elsewhere.allowed, true, elsewhere.message);
    assert.deepEqual(elsewhere.warnings, []);
    // Relabelled: the namespace watch brings the new labels, and the rule now applies there.
    fake.put('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b', labels: { env: 'prod' } } });
    await until(() => validate('team-b'), (a) => !a.allowed, 'team-b checked after its relabel');
  });

  it('writes a PolicyReport to the cluster for an admitted Pod', async () => {
    const admitted = await validate('team-a', ['regcred'], 'reported');
    assert.equal(admitted.allowed, true, admitted.message);
    const uid = `00000000-0000-4000-8000-${String(reviews).padStart(12, '0')}`;
    await waitFor(() => fake.object(REPORTS, `sigil-${uid}`) !== undefined, 'the PolicyReport in the fake', 10_000);
    const report = fake.object(REPORTS, `sigil-${uid}`) as { scope: Json; results: Array<{ policy: string; rule: string; result: string; source: string }> };
    assert.deepEqual(report.scope, { apiVersion: 'v1', kind: 'Pod', name: 'reported', namespace: 'team-a', uid });
    assert.deepEqual(report.results.map((r) => [r.policy, r.rule, r.result, r.source]), [['check-private', 'check-signature', 'pass', 'sigil']]);
  });

  it('re-verifies a Pod that exists in the cluster in its background scan and reports it as such', async () => {
    const stored = fake.put('/api/v1/namespaces/team-a/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'running', namespace: 'team-a' },
      spec: { containers: [{ name: 'app', image }], imagePullSecrets: [{ name: 'regcred' }] },
    });
    const uid = String((stored.metadata as Json).uid);
    await waitFor(() => fake.object(REPORTS, `sigil-${uid}`) !== undefined, 'the background-scan PolicyReport in the fake', 15_000);
    const report = fake.object(REPORTS, `sigil-${uid}`) as { scope: Json; results: Array<{ policy: string; result: string; properties: Json }> };
    assert.deepEqual(report.scope, { apiVersion: 'v1', kind: 'Pod', name: 'running', namespace: 'team-a', uid });
    assert.deepEqual(report.results.map((r) => [r.policy, r.result, r.properties.process]), [['check-private', 'pass', 'background scan']]);
    await waitFor(() => /sigil admission: background scan: [1-9]\d* resources? evaluated, [1-9]\d* reports? replaced/.test(err), 'the scan summary on stderr', 10_000);
    fake.remove('/api/v1/namespaces/team-a/pods', 'running');
  });

  it("uses the rule's imageRegistryCredentials.secrets from Sigil's namespace once the policy changes to name them", async () => {
    fake.put(CLUSTER_POLICIES, clusterPolicy({ secrets: ['sigil-regcred'] }));
    const admitted = await until(() => validate('team-a'), (a) => a.allowed, 'admitted with the rule secret');
    assert.equal(admitted.allowed, true);
    fake.put(CLUSTER_POLICIES, clusterPolicy({ secrets: ['absent'] }));
    const denied = await until(() => validate('team-a'), (a) => !a.allowed, 'denied once the rule names a missing secret');
    assert.match(denied.message, /imageRegistryCredentials secret sigil-system\/absent not used: not found/);
    assert.match(err, /sigil admission: cluster policies changed: 1 policy, 0 exceptions\n/);
  });

  it('admits with a warning once the policy says failurePolicy Ignore, and without any check once it is deleted', async () => {
    fake.put(CLUSTER_POLICIES, clusterPolicy({ failurePolicy: 'Ignore' }));
    const ignored = await until(() => validate('team-a'), (a) => a.allowed, 'admitted under failurePolicy Ignore');
    assert.match(ignored.warnings.join('\n'), /policy check-private\.check-signature: .*registry authentication failed.*\(admitted: failurePolicy Ignore\)/);
    fake.remove(CLUSTER_POLICIES, 'check-private');
    const free = await until(() => validate('team-a'), (a) => a.allowed && a.warnings.length === 0, 'no policy after the delete');
    assert.equal(free.allowed, true);
  });

  it('reports a bad sigil.dev object on one stderr line and keeps serving', async () => {
    fake.put(CLUSTER_POLICIES, { apiVersion: 'sigil.dev/v1', kind: 'ClusterPolicy', metadata: { name: 'broken' }, spec: { rules: 7 } });
    await waitFor(() => /sigil admission: cluster clusterpolicies\.sigil\.dev\/broken: left out: /.test(err), 'the problem line', 10_000);
    assert.equal(await readyz(), 200);
  });

  it('stops on SIGTERM, closing its watches', async () => {
    assert.ok(fake.watchCount > 0);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(out, /sigil admission stopped\n$/);
    await waitFor(() => fake.watchCount === 0, 'the watches to close', 5000);
  });
});

describe('sigil admission serve cluster flags', () => {
  const serve = (args: string[]) => runSigil(['admission', 'serve', '--tls-dir', join(home, 'tls-flags'), ...args], { env: { SIGIL_CONFIG: join(home, 'sigil-flags'), DOCKER_CONFIG: join(home, 'docker-server') } });

  it('refuses unusable combinations with one line each', async () => {
    failsWithOneLine(await serve([]), /--policies PATH is required: .*or connect with --kubeconfig, --context or --in-cluster/);
    failsWithOneLine(await serve(['--in-cluster', '--kubeconfig', join(home, 'kubeconfig')]), /use either --in-cluster or --kubeconfig\/--context, not both/);
    failsWithOneLine(await serve(['--policies', join(home, 'htpasswd'), '--namespace', 'x']), /--namespace is for a connected server/);
    failsWithOneLine(await serve(['--kubeconfig', join(home, 'absent')]), /kubeconfig .*absent: cannot read kubeconfig .*absent \(ENOENT\)/);
    failsWithOneLine(await serve(['--kubeconfig', join(home, 'kubeconfig'), '--context', 'nope']), /context "nope" is not in contexts/);
    failsWithOneLine(await serve(['--kubeconfig', join(home, 'kubeconfig'), '--background-scan-interval', 'soon']), /--background-scan-interval/);
    failsWithOneLine(await serve(['--kubeconfig', join(home, 'kubeconfig'), '--background-scan-interval', '10ms']), /--background-scan-interval 10ms: at least 1s, or 0 for no scans/);
  });
});
