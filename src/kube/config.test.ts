import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { decodeKubeconfig, kubeconfigPath, loadDefaultKubeConfig, loadInClusterConfig, loadKubeconfig } from './config.js';
import { KubeError, type KubeErrorCode } from './errors.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sigil-kubeconfig-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejectsWith(promise: Promise<unknown>, code: KubeErrorCode, pattern?: RegExp): Promise<KubeError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof KubeError, `expected a KubeError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(!caught.message.includes('\n'), 'messages are one line');
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const FAKE_PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function kubeconfig(overrides: { users?: unknown[]; contexts?: unknown[]; clusters?: unknown[]; current?: string } = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': overrides.current ?? 'dev',
    clusters: overrides.clusters ?? [
      { name: 'dev-cluster', cluster: { server: 'https://127.0.0.1:6443/', 'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes' } },
      { name: 'prod-cluster', cluster: { server: 'https://prod.example:443', 'certificate-authority-data': b64(FAKE_PEM), 'insecure-skip-tls-verify': false } },
    ],
    users: overrides.users ?? [
      { name: 'dev-user', user: { token: 'dev-token' } },
      { name: 'prod-user', user: { 'client-certificate-data': b64(FAKE_PEM), 'client-key-data': b64('-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n') } },
      { name: 'basic-user', user: { username: 'admin', password: 'secret' } },
      { name: 'file-user', user: { tokenFile: 'token.txt' } },
      { name: 'exec-user', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } } },
      { name: 'gcp-user', user: { 'auth-provider': { name: 'gcp' } } },
    ],
    contexts: overrides.contexts ?? [
      { name: 'dev', context: { cluster: 'dev-cluster', user: 'dev-user', namespace: 'team-a' } },
      { name: 'prod', context: { cluster: 'prod-cluster', user: 'prod-user' } },
      { name: 'basic', context: { cluster: 'dev-cluster', user: 'basic-user' } },
      { name: 'file', context: { cluster: 'dev-cluster', user: 'file-user' } },
      { name: 'exec', context: { cluster: 'dev-cluster', user: 'exec-user' } },
      { name: 'gcp', context: { cluster: 'dev-cluster', user: 'gcp-user' } },
      { name: 'no-user', context: { cluster: 'dev-cluster' } },
      { name: 'dangling', context: { cluster: 'nowhere', user: 'dev-user' } },
    ],
  });
}

describe('decodeKubeconfig', () => {
  it('selects current-context with its cluster, user and namespace', () => {
    const selection = decodeKubeconfig(kubeconfig(), { source: 'test' });
    assert.equal(selection.context, 'dev');
    assert.equal(selection.server, 'https://127.0.0.1:6443');
    assert.deepEqual(selection.certificateAuthority, { path: 'ca.crt' });
    assert.equal(selection.tlsServerName, 'kubernetes');
    assert.equal(selection.token, 'dev-token');
    assert.equal(selection.namespace, 'team-a');
    assert.ok(Object.isFrozen(selection));
  });

  it('selects a named context instead', () => {
    const selection = decodeKubeconfig(kubeconfig(), { source: 'test', context: 'prod' });
    assert.equal(selection.server, 'https://prod.example:443');
    assert.ok(selection.clientCertificate && 'data' in selection.clientCertificate);
    assert.equal(selection.namespace, undefined);
  });

  it('reads an exec plugin, and refuses auth-provider users and proxy-url with one line', () => {
    assert.deepEqual(decodeKubeconfig(kubeconfig(), { source: 'kubeconfig /x', context: 'exec' }).exec, { command: 'aws', args: [], env: [], apiVersion: 'client.authentication.k8s.io/v1' });
    assert.throws(() => decodeKubeconfig(kubeconfig({ clusters: [{ name: 'dev-cluster', cluster: { server: 'https://x', 'proxy-url': 'http://proxy:3128' } }] }), { source: 'k' }), (e: unknown) => e instanceof KubeError && e.code === 'CONFIG_UNSUPPORTED' && /proxy-url/.test(e.message));
    assert.throws(() => decodeKubeconfig(kubeconfig(), { source: 'kubeconfig /x', context: 'gcp' }), (e: unknown) => e instanceof KubeError && e.code === 'CONFIG_UNSUPPORTED' && /auth-provider \(gcp\)/.test(e.message));
  });

  it('reports bad YAML, missing contexts, clusters and servers as CONFIG_INVALID', () => {
    const cases: [string, { context?: string }, RegExp][] = [
      ['clusters: [unclosed', {}, /test: invalid YAML/],
      ['- just\n- a list\n', {}, /must be a YAML mapping/],
      [kubeconfig({ current: '' }), {}, /no current-context/],
      [kubeconfig(), { context: 'missing' }, /context "missing" is not in contexts/],
      [kubeconfig(), { context: 'dangling' }, /cluster "nowhere" is not in clusters/],
      [kubeconfig({ clusters: [{ name: 'dev-cluster', cluster: {} }] }), {}, /has no server/],
      [kubeconfig({ clusters: [{ name: 'dev-cluster', cluster: { server: 'not a url' } }] }), {}, /is not a URL/],
      [kubeconfig({ users: [{ name: 'dev-user', user: { 'client-certificate': 'a.crt' } }] }), {}, /needs both client-certificate and client-key/],
    ];
    for (const [text, options, pattern] of cases) {
      assert.throws(
        () => decodeKubeconfig(text, { source: 'test', ...options }),
        (e: unknown) => e instanceof KubeError && e.code === 'CONFIG_INVALID' && pattern.test(e.message) && !e.message.includes('\n'),
        String(pattern),
      );
    }
  });

  it('allows a context without a user (anonymous)', () => {
    assert.equal(decodeKubeconfig(kubeconfig(), { source: 'test', context: 'no-user' }).token, undefined);
  });
});

describe('loadKubeconfig', () => {
  it('reads the files it names relative to the kubeconfig directory', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.kube'), { recursive: true });
    await writeFile(join(home, '.kube', 'config'), kubeconfig());
    await writeFile(join(home, '.kube', 'ca.crt'), FAKE_PEM);
    const config = await loadKubeconfig({ home, env: {} });
    assert.equal(config.server, 'https://127.0.0.1:6443');
    assert.equal(config.caCertificate, FAKE_PEM);
    assert.equal(config.tlsServerName, 'kubernetes');
    assert.equal(config.namespace, 'team-a');
    assert.equal(config.auth.type, 'bearer');
    assert.equal(config.auth.type === 'bearer' ? await config.auth.token() : '', 'dev-token');
    assert.match(config.source, /kubeconfig .*\.kube\/config \(context dev\)/);
  });

  it('decodes inline client certificates and basic auth', async () => {
    const path = join(dir, 'inline.yaml');
    await writeFile(path, kubeconfig());
    const prod = await loadKubeconfig({ path, context: 'prod' });
    assert.equal(prod.caCertificate, FAKE_PEM);
    assert.equal(prod.clientCertificate, FAKE_PEM);
    assert.match(prod.clientKey ?? '', /BEGIN PRIVATE KEY/);
    assert.equal(prod.auth.type, 'none');
    assert.equal(prod.namespace, 'default');
    await writeFile(join(dir, 'ca.crt'), FAKE_PEM);
    const basic = await loadKubeconfig({ path, context: 'basic' });
    assert.deepEqual(basic.auth, { type: 'basic', username: 'admin', password: 'secret' });
  });

  it('uses the first KUBECONFIG entry', () => {
    assert.equal(kubeconfigPath({ env: { KUBECONFIG: ['/a/config', '/b/config'].join(process.platform === 'win32' ? ';' : ':') } }), '/a/config');
    assert.equal(kubeconfigPath({ env: {}, home: '/home/me' }), join('/home/me', '.kube', 'config'));
    assert.equal(kubeconfigPath({ path: '/given', env: { KUBECONFIG: '/a' } }), '/given');
  });

  it('fails with one line naming a missing kubeconfig or a missing file it names', async () => {
    await rejectsWith(loadKubeconfig({ path: join(dir, 'absent.yaml') }), 'CONFIG_INVALID', /cannot read kubeconfig .*absent\.yaml \(ENOENT\)/);
    const path = join(dir, 'missing-ca', 'config');
    await mkdir(join(dir, 'missing-ca'));
    await writeFile(path, kubeconfig());
    await rejectsWith(loadKubeconfig({ path }), 'CONFIG_INVALID', /cannot read certificate-authority .*ca\.crt \(ENOENT\)/);
    await rejectsWith(loadKubeconfig({ path, context: 'file' }), 'CONFIG_INVALID', /cannot read token file .*token\.txt/);
  });

  it('refuses -data that is not base64 PEM', async () => {
    const path = join(dir, 'bad-data.yaml');
    await writeFile(path, kubeconfig({ clusters: [{ name: 'dev-cluster', cluster: { server: 'https://x', 'certificate-authority-data': 'bm90IHBlbQ==' } }] }));
    await rejectsWith(loadKubeconfig({ path }), 'CONFIG_INVALID', /certificate-authority-data is not base64 of PEM/);
  });

  it('re-reads a tokenFile once the refresh interval has passed', async () => {
    const path = join(dir, 'rotating.yaml');
    await writeFile(path, kubeconfig());
    await writeFile(join(dir, 'token.txt'), 'first\n');
    let clock = 1_000_000;
    const config = await loadKubeconfig({ path, context: 'file', tokenRefreshMs: 60_000, now: () => clock });
    assert.ok(config.auth.type === 'bearer');
    assert.equal(await config.auth.token(), 'first');
    await writeFile(join(dir, 'token.txt'), 'second\n');
    clock += 59_000;
    assert.equal(await config.auth.token(), 'first', 'cached within the interval');
    clock += 2_000;
    assert.equal(await config.auth.token(), 'second');
    await rm(join(dir, 'token.txt'));
    clock += 61_000;
    assert.equal(await config.auth.token(), 'second', 'a failed re-read keeps the last token');
  });
});

describe('loadInClusterConfig', () => {
  async function serviceAccount(files: Record<string, string>): Promise<string> {
    const sa = await mkdtemp(join(dir, 'sa-'));
    for (const [name, content] of Object.entries(files)) await writeFile(join(sa, name), content);
    return sa;
  }
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  it('reads the service account token, CA and namespace', async () => {
    const sa = await serviceAccount({ token: 'sa-token\n', 'ca.crt': FAKE_PEM, namespace: 'sigil-system' });
    const config = await loadInClusterConfig({ env, serviceAccountDir: sa });
    assert.equal(config.server, 'https://10.96.0.1:443');
    assert.equal(config.caCertificate, FAKE_PEM);
    assert.equal(config.namespace, 'sigil-system');
    assert.equal(config.source, 'in-cluster');
    assert.ok(config.auth.type === 'bearer');
    assert.equal(await config.auth.token(), 'sa-token');
  });

  it('brackets an IPv6 service host and defaults the namespace', async () => {
    const sa = await serviceAccount({ token: 't', 'ca.crt': FAKE_PEM });
    const config = await loadInClusterConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
    assert.equal(config.server, 'https://[fd00::1]:443');
    assert.equal(config.namespace, 'default');
  });

  it('fails with one line when not in a pod or when the token is missing', async () => {
    await rejectsWith(loadInClusterConfig({ env: {}, serviceAccountDir: dir }), 'CONFIG_INVALID', /KUBERNETES_SERVICE_HOST .* not set/);
    const sa = await serviceAccount({ 'ca.crt': FAKE_PEM });
    await rejectsWith(loadInClusterConfig({ env, serviceAccountDir: sa }), 'CONFIG_INVALID', /in-cluster: cannot read token file .*token \(ENOENT\)/);
    const empty = await serviceAccount({ token: '\n', 'ca.crt': FAKE_PEM });
    await rejectsWith(loadInClusterConfig({ env, serviceAccountDir: empty }), 'CONFIG_INVALID', /is empty/);
  });
});

describe('loadDefaultKubeConfig', () => {
  it('prefers KUBECONFIG, then in-cluster, then ~/.kube/config', async () => {
    const sa = await mkdtemp(join(dir, 'auto-'));
    await writeFile(join(sa, 'token'), 't');
    await writeFile(join(sa, 'ca.crt'), FAKE_PEM);
    const inCluster = await loadDefaultKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
    assert.equal(inCluster.source, 'in-cluster');
    const path = join(sa, 'config');
    await writeFile(path, kubeconfig({ clusters: [{ name: 'dev-cluster', cluster: { server: 'https://from-kubeconfig' } }] }));
    const fromEnv = await loadDefaultKubeConfig({ env: { KUBECONFIG: path, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
    assert.equal(fromEnv.server, 'https://from-kubeconfig');
  });
});
