import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestPki, FakeKubeApiServer } from '../../test/support/kube-apiserver.js';
import { KubeClient, type WatchEvent } from './client.js';
import { loadInClusterConfig, type KubeConfig } from './config.js';
import { KubeError, type KubeErrorCode } from './errors.js';
import { NAMESPACES, resourcePath, SECRETS } from './paths.js';

const signal = () => AbortSignal.timeout(10_000);

async function rejectsWith(promise: Promise<unknown>, code: KubeErrorCode, check?: (e: KubeError) => void): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof KubeError, `expected a KubeError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(!e.message.includes('\n'));
    check?.(e);
    return true;
  });
}

function bearerConfig(fake: FakeKubeApiServer, token: string, extra: Partial<KubeConfig> = {}): KubeConfig {
  return { server: fake.url, caCertificate: fake.pki.caPem, insecureSkipTlsVerify: false, auth: { type: 'bearer', token: async () => token }, namespace: 'default', source: 'test', ...extra };
}

function namespace(name: string, labels: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

describe('KubeClient against a fake API server with bearer tokens', () => {
  let fake: FakeKubeApiServer;
  let client: KubeClient;
  before(async () => {
    fake = await FakeKubeApiServer.start({ tokens: ['good-token'] });
    client = new KubeClient(bearerConfig(fake, 'good-token'));
    for (let i = 0; i < 7; i++) fake.put('/api/v1/namespaces', namespace(`ns-${i}`, { tier: i % 2 === 0 ? 'even' : 'odd' }));
  });
  after(async () => {
    await client.close();
    await fake.close();
  });

  it('sends the bearer token and gets one object', async () => {
    const ns = await client.get(resourcePath(NAMESPACES, { name: 'ns-3' }), { signal: signal() });
    assert.equal(ns.metadata.name, 'ns-3');
    assert.equal(fake.requests.at(-1)?.authorization, 'Bearer good-token');
  });

  it('follows continue tokens across pages and fills item kinds from the list', async () => {
    const before = fake.requests.length;
    const list = await client.list(resourcePath(NAMESPACES), { signal: signal(), limit: 3 });
    assert.deepEqual(list.items.map((i) => i.metadata.name), ['ns-0', 'ns-1', 'ns-2', 'ns-3', 'ns-4', 'ns-5', 'ns-6']);
    assert.equal(fake.requests.length - before, 3);
    assert.equal(list.resourceVersion, fake.resourceVersion);
    assert.equal(list.items[0]?.kind, 'Namespace');
    assert.equal(list.items[0]?.apiVersion, 'v1');
    const odd = await client.list(resourcePath(NAMESPACES), { signal: signal(), labelSelector: 'tier=odd' });
    assert.equal(odd.items.length, 3);
    assert.equal(fake.requests.at(-1)?.query.get('labelSelector'), 'tier=odd');
  });

  it('maps Status bodies to codes with the reason and a one-line message naming the request', async () => {
    await rejectsWith(client.get(resourcePath(NAMESPACES, { name: 'absent' }), { signal: signal() }), 'NOT_FOUND', (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.reason, 'NotFound');
      assert.equal(e.message, 'GET /api/v1/namespaces/absent: 404 NotFound: namespaces "absent" not found');
    });
    const bad = new KubeClient(bearerConfig(fake, 'stolen-token'));
    await rejectsWith(bad.get(resourcePath(NAMESPACES, { name: 'ns-1' }), { signal: signal() }), 'UNAUTHORIZED', (e) => assert.ok(!e.message.includes('stolen-token')));
    await bad.close();
    fake.failNext((r) => r.path.endsWith('/ns-2'), 429, 'TooManyRequests', 3);
    await rejectsWith(client.get(resourcePath(NAMESPACES, { name: 'ns-2' }), { signal: signal() }), 'TOO_MANY_REQUESTS');
    fake.failNext((r) => r.path.endsWith('/ns-2'), 503, 'ServiceUnavailable', 3);
    await rejectsWith(client.get(resourcePath(NAMESPACES, { name: 'ns-2' }), { signal: signal() }), 'SERVER_ERROR', (e) => assert.equal(e.reason, 'ServiceUnavailable'));
  });

  it('retries a throttled GET, but never a write', async () => {
    const count = (method: string) => fake.requests.filter((r) => r.method === method && r.path.includes('/ns-4')).length;
    fake.failNext((r) => r.path.endsWith('/ns-4'), 429, 'TooManyRequests', 2);
    const before = count('GET');
    assert.equal((await client.get(resourcePath(NAMESPACES, { name: 'ns-4' }), { signal: signal() })).metadata.name, 'ns-4');
    assert.equal(count('GET') - before, 3);
    fake.failNext((r) => r.method === 'PATCH' && r.path.endsWith('/ns-4'), 503, 'ServiceUnavailable');
    await rejectsWith(client.patch(resourcePath(NAMESPACES, { name: 'ns-4' }), { metadata: { labels: { a: 'b' } } }, { signal: signal() }), 'SERVER_ERROR');
    assert.equal(count('PATCH'), 1);
  });

  it('creates, replaces with resourceVersion, patches and deletes', async () => {
    const secrets = resourcePath(SECRETS, { namespace: 'ns-1' });
    const created = await client.create(secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'YQ==' } }, { signal: signal() });
    assert.equal(created.metadata.namespace, 'ns-1');
    await rejectsWith(client.create(secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }, { signal: signal() }), 'CONFLICT', (e) => assert.equal(e.reason, 'AlreadyExists'));
    const path = resourcePath(SECRETS, { namespace: 'ns-1', name: 's' });
    const replaced = await client.replace(path, { ...created, data: { a: 'Yg==' } }, { signal: signal() });
    assert.notEqual(replaced.metadata.resourceVersion, created.metadata.resourceVersion);
    await rejectsWith(client.replace(path, { ...created, data: { a: 'Yw==' } }, { signal: signal() }), 'CONFLICT', (e) => assert.equal(e.reason, 'Conflict'));
    const patched = await client.patch(path, { metadata: { labels: { x: 'y' } } }, { signal: signal() });
    assert.deepEqual(patched.metadata.labels, { x: 'y' });
    assert.equal(fake.requests.at(-1)?.method, 'PATCH');
    await client.delete(path, { signal: signal() });
    await rejectsWith(client.get(path, { signal: signal() }), 'NOT_FOUND');
  });

  it('streams watch events in order, with bookmarks, and yields ERROR events', async () => {
    const controller = new AbortController();
    const events: WatchEvent[] = [];
    const from = fake.resourceVersion;
    const done = (async () => {
      for await (const event of client.watch(resourcePath(NAMESPACES), { signal: controller.signal, resourceVersion: from })) {
        events.push(event);
        if (event.type === 'ERROR') break;
      }
    })();
    fake.put('/api/v1/namespaces', namespace('w-1'));
    fake.put('/api/v1/namespaces', namespace('w-1', { changed: 'yes' }));
    fake.remove('/api/v1/namespaces', 'w-1');
    while (fake.watchCount === 0) await new Promise((r) => setTimeout(r, 5));
    fake.bookmark();
    fake.expireWatches();
    await done;
    assert.deepEqual(events.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);
    const last = events.at(-1);
    assert.ok(last?.type === 'ERROR');
    assert.equal(last.error.code, 'GONE');
    assert.equal(last.status.reason, 'Expired');
    assert.equal(fake.requests.at(-1)?.query.get('allowWatchBookmarks'), 'true');
    assert.equal(fake.requests.at(-1)?.query.get('resourceVersion'), from);
  });

  it('aborts a watch that is waiting for events', async () => {
    const controller = new AbortController();
    const watching = (async () => {
      for await (const _ of client.watch(resourcePath(NAMESPACES), { signal: controller.signal, resourceVersion: fake.resourceVersion })) {
        // no events arrive
      }
    })();
    while (fake.watchCount === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await rejectsWith(watching, 'ABORTED');
    await rejectsWith(client.get(resourcePath(NAMESPACES, { name: 'ns-1' }), { signal: AbortSignal.abort() }), 'ABORTED');
  });

  it('fails a dropped watch stream as an error, not a normal end', async () => {
    const opened = fake.watchesOpened;
    const watching = (async () => {
      for await (const _ of client.watch(resourcePath(NAMESPACES), { signal: signal(), resourceVersion: fake.resourceVersion })) {
        // none
      }
    })();
    while (fake.watchesOpened === opened) await new Promise((r) => setTimeout(r, 5));
    fake.dropWatches();
    await assert.rejects(watching, KubeError);
  });

  it('times out a request that takes longer than its timeout', async () => {
    const slow = new KubeClient(bearerConfig(fake, 'good-token'), { requestTimeoutMs: 100 });
    fake.stallNext((r) => r.path.endsWith('/ns-5'));
    await rejectsWith(slow.get(resourcePath(NAMESPACES, { name: 'ns-5' }), { signal: signal() }), 'TIMEOUT', (e) => assert.equal(e.message, 'GET /api/v1/namespaces/ns-5: timed out'));
    await slow.close();
  });

  it('refuses a server whose certificate the CA did not issue', async () => {
    const other = createTestPki();
    const wrong = new KubeClient(bearerConfig(fake, 'good-token', { caCertificate: other.caPem }));
    await rejectsWith(wrong.get(resourcePath(NAMESPACES, { name: 'ns-1' }), { signal: signal() }), 'UNREACHABLE', (e) => assert.match(e.message, /cannot reach https:\/\/127\.0\.0\.1/));
    await wrong.close();
    const insecure = new KubeClient(bearerConfig(fake, 'good-token', { caCertificate: other.caPem, insecureSkipTlsVerify: true }));
    assert.equal((await insecure.get(resourcePath(NAMESPACES, { name: 'ns-1' }), { signal: signal() })).metadata.name, 'ns-1');
    await insecure.close();
  });

  it('re-reads a rotated service account token', async () => {
    const sa = await mkdtemp(join(tmpdir(), 'sigil-sa-'));
    try {
      await writeFile(join(sa, 'token'), 'good-token');
      await writeFile(join(sa, 'ca.crt'), fake.pki.caPem);
      let clock = 0;
      const port = new URL(fake.url).port;
      const config = await loadInClusterConfig({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, serviceAccountDir: sa, now: () => clock });
      const rotating = new KubeClient(config);
      await rotating.get(resourcePath(NAMESPACES, { name: 'ns-1' }), { signal: signal() });
      fake.tokens.add('rotated-token');
      fake.tokens.delete('good-token');
      await writeFile(join(sa, 'token'), 'rotated-token');
      clock += 61_000;
      await rotating.get(resourcePath(NAMESPACES, { name: 'ns-1' }), { signal: signal() });
      assert.equal(fake.requests.at(-1)?.authorization, 'Bearer rotated-token');
      fake.tokens.add('good-token');
      await rotating.close();
    } finally {
      await rm(sa, { recursive: true, force: true });
    }
  });
});

describe('KubeClient with a client certificate', () => {
  let fake: FakeKubeApiServer;
  before(async () => {
    const pki = createTestPki();
    fake = await FakeKubeApiServer.start({ pki, clientCa: pki.caPem });
    fake.put('/api/v1/namespaces', namespace('default'));
  });
  after(async () => {
    await fake.close();
  });

  it('authenticates with the kubeconfig client certificate and is refused without it', async () => {
    const base = { server: fake.url, caCertificate: fake.pki.caPem, insecureSkipTlsVerify: false, auth: { type: 'none' as const }, namespace: 'default', source: 'test' };
    const withCert = new KubeClient({ ...base, clientCertificate: fake.pki.clientCertPem, clientKey: fake.pki.clientKeyPem });
    assert.equal((await withCert.get('/api/v1/namespaces/default', { signal: signal() })).metadata.name, 'default');
    assert.equal(fake.requests.at(-1)?.clientCertificate, true);
    const without = new KubeClient(base);
    await rejectsWith(without.get('/api/v1/namespaces/default', { signal: signal() }), 'UNAUTHORIZED');
    await withCert.close();
    await without.close();
  });
});
