import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { FakeKubeApiServer, waitFor } from '../../test/support/kube-apiserver.js';
import { KubeClient } from './client.js';
import { KubeError } from './errors.js';
import { ListWatch, objectKey, type ListWatchChange } from './listwatch.js';
import { NAMESPACES, resourcePath } from './paths.js';

const NS = '/api/v1/namespaces';

function namespace(name: string, labels: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

describe('ListWatch', () => {
  let fake: FakeKubeApiServer;
  let client: KubeClient;
  const running: ListWatch[] = [];
  before(async () => {
    fake = await FakeKubeApiServer.start({ tokens: ['t'] });
    client = new KubeClient({ server: fake.url, caCertificate: fake.pki.caPem, insecureSkipTlsVerify: false, auth: { type: 'bearer', token: async () => 't' }, namespace: 'default', source: 'test' });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => w.stop()));
    fake.clearFailures();
    await waitFor(() => fake.watchCount === 0, 'the stopped watches to close');
  });
  after(async () => {
    await client.close();
    await fake.close();
  });

  function start(options: Partial<ConstructorParameters<typeof ListWatch>[0]> = {}) {
    const changes: ListWatchChange[][] = [];
    const errors: KubeError[] = [];
    const watch = new ListWatch({
      client,
      path: resourcePath(NAMESPACES),
      pageSize: 2,
      backoffInitialMs: 10,
      backoffMaxMs: 50,
      onChange: (c) => changes.push([...c]),
      onError: (e) => errors.push(e),
      ...options,
    }).start();
    running.push(watch);
    return { watch, changes, errors };
  }
  const lists = () => fake.requests.filter((r) => r.path === NS && r.method === 'GET' && r.query.get('watch') !== 'true').length;

  it('lists every page, then applies watch events in order', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) fake.put(NS, namespace(n));
    const { watch, changes } = start();
    await watch.synced;
    assert.ok(watch.isSynced);
    assert.deepEqual([...watch.objects.keys()].sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(changes[0]?.map((c) => `${c.type} ${c.key}`).sort(), ['ADDED a', 'ADDED b', 'ADDED c', 'ADDED d', 'ADDED e']);
    assert.equal(watch.resourceVersion, fake.resourceVersion);
    await waitFor(() => fake.watchCount === 1, 'the watch');
    fake.put(NS, namespace('f'));
    fake.put(NS, namespace('a', { team: 'x' }));
    fake.remove(NS, 'b');
    await waitFor(() => changes.length === 4, 'three events');
    assert.deepEqual(changes.slice(1).map((c) => c.map((x) => `${x.type} ${x.key}`)), [['ADDED f'], ['MODIFIED a'], ['DELETED b']]);
    assert.deepEqual(watch.get('a')?.metadata.labels, { team: 'x' });
    assert.equal(watch.get('b'), undefined);
    assert.equal(watch.resourceVersion, fake.resourceVersion);
  });

  it('moves its resourceVersion on a bookmark', async () => {
    const { watch } = start();
    await watch.synced;
    await waitFor(() => fake.watchCount === 1, 'the watch');
    fake.put('/apis/other.io/v1/things', { metadata: { name: 'unrelated' } });
    fake.bookmark();
    await waitFor(() => watch.resourceVersion === fake.resourceVersion, 'the bookmark');
  });

  it('relists after an ERROR event with code 410', async () => {
    const { watch, changes } = start();
    await watch.synced;
    await waitFor(() => fake.watchCount === 1, 'the watch');
    const before = lists();
    fake.expireWatches();
    await waitFor(() => lists() > before && fake.watchCount === 1, 'a relist and a new watch');
    assert.equal(changes.length, 2, 'an empty relist still reports');
    assert.deepEqual(changes[1], []);
  });

  it('relists when resuming from a compacted resourceVersion, reporting what changed meanwhile', async () => {
    fake.put(NS, namespace('gone-soon'));
    const { watch, changes, errors } = start();
    await watch.synced;
    await waitFor(() => fake.watchCount === 1, 'the watch');
    fake.dropWatches();
    // While disconnected: a change that is then compacted away, so the resumed watch gets 410.
    fake.remove(NS, 'gone-soon');
    fake.put(NS, namespace('new-one'));
    fake.compact();
    await waitFor(() => watch.get('new-one') !== undefined && watch.get('gone-soon') === undefined, 'the relist');
    const last = changes.at(-1)?.map((c) => `${c.type} ${c.key}`).sort();
    assert.ok(last?.includes('DELETED gone-soon') && last.includes('ADDED new-one'), String(last));
    assert.ok(errors.every((e) => e.code !== 'GONE'), 'a 410 is handled, not reported');
  });

  it('reconnects from the last resourceVersion after the server drops the stream', async () => {
    const { watch, errors } = start();
    await watch.synced;
    await waitFor(() => fake.watchCount === 1, 'the watch');
    const listsBefore = lists();
    const rv = watch.resourceVersion;
    fake.dropWatches();
    await waitFor(() => fake.watchCount === 1, 'the reconnected watch');
    fake.put(NS, namespace('after-drop'));
    await waitFor(() => watch.get('after-drop') !== undefined, 'the event after reconnecting');
    assert.equal(lists(), listsBefore, 'no relist was needed');
    const rewatch = fake.requests.filter((r) => r.query.get('watch') === 'true').at(-1);
    assert.equal(rewatch?.query.get('resourceVersion'), rv);
    assert.ok(errors.length >= 1, 'the drop is reported');
  });

  it('resumes at once when the server ends the watch at its timeout', async () => {
    const { watch } = start({ watchTimeoutSeconds: 1 });
    await watch.synced;
    await waitFor(() => fake.watchCount === 1, 'the watch');
    const opened = fake.watchesOpened;
    await waitFor(() => fake.watchesOpened > opened, 'the resumed watch', 4000);
  });

  it('backs off and reports while the list fails, and syncs once it works', async () => {
    // The client retries a GET twice itself, so nine 503s are three failed lists.
    fake.failNext((r) => r.path === NS && r.query.get('watch') !== 'true', 503, 'ServiceUnavailable', 9);
    const { watch, errors } = start();
    await watch.synced;
    assert.equal(errors.length, 3);
    assert.ok(errors.every((e) => e.code === 'SERVER_ERROR'));
  });

  it('rejects synced with ABORTED when stopped before the first list', async () => {
    fake.failNext((r) => r.path === NS, 403, 'Forbidden', 1000);
    const { watch, errors } = start();
    await waitFor(() => errors.length > 0, 'a failed list');
    assert.equal(errors[0]?.code, 'FORBIDDEN');
    await watch.stop();
    await assert.rejects(watch.synced, (e: unknown) => e instanceof KubeError && e.code === 'ABORTED');
    fake.clearFailures();
  });

  it('keeps watching when onChange throws, reporting CALLBACK_FAILED', async () => {
    const errors: KubeError[] = [];
    const watch = new ListWatch({
      client,
      path: NS,
      onChange: () => {
        throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    }).start();
    running.push(watch);
    await watch.synced;
    await waitFor(() => fake.watchCount === 1, 'the watch');
    fake.put(NS, namespace('after-throw'));
    await waitFor(() => watch.get('after-throw') !== undefined, 'the event');
    assert.ok(errors.some((e) => e.code === 'CALLBACK_FAILED'));
  });

  it('keys namespaced objects namespace/name', () => {
    assert.equal(objectKey({ metadata: { name: 'x', namespace: 'ns' } }), 'ns/x');
    assert.equal(objectKey({ metadata: { name: 'x' } }), 'x');
  });
});
