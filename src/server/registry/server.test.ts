// The embedded registry against real clients: Sigil's own Repository (the shared target
// conformance suite, now through the referrers API), raw HTTP for the spec's error answers, and
// skopeo as an independent client.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { collect, describeTargetConformance, emptyJson, testBlob, testJson, testManifest, type TestContent } from '../../../test/support/target-conformance.js';
import { copy, digestOf, MEDIA_TYPE_IMAGE_CONFIG, MEDIA_TYPE_IMAGE_INDEX, MEDIA_TYPE_IMAGE_MANIFEST, MEDIA_TYPE_NOTARY_SIGNATURE, OciLayout, referrersTag, type Descriptor } from '../../oci/index.js';
import { RegistryClient, type Repository } from '../../registry/index.js';
import { openEmbeddedDatabase } from './database.js';
import { parseRoute, RegistryServer } from './server.js';

const exec = promisify(execFile);
let root: string;
let server: RegistryServer;
let host: string;
const clients: RegistryClient[] = [];

async function start(dir: string): Promise<{ server: RegistryServer; host: string }> {
  const started = await RegistryServer.open({ root: dir, database: await openEmbeddedDatabase(join(dir, 'db')) });
  const address = await started.listen(0);
  return { server: started, host: `127.0.0.1:${address.port}` };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sigil-registry-'));
  ({ server, host } = await start(root));
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

function client(): RegistryClient {
  const made = new RegistryClient();
  clients.push(made);
  return made;
}
let names = 0;
const fresh = (label: string) => `sigil/${label}-${++names}`;
const opts = () => ({ signal: AbortSignal.timeout(30_000) });

describeTargetConformance('Repository on sigil registry serve', async () => ({ target: client().repository(host, fresh('conformance')), cleanup: async () => {} }));

async function pushImage(repo: Repository, label: string, extra: Parameters<typeof testManifest>[2] = {}): Promise<TestContent> {
  const config = testJson(MEDIA_TYPE_IMAGE_CONFIG, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, label });
  const layer = testBlob(`${label}/layer`, 700);
  const manifest = testManifest(config.descriptor, [layer.descriptor], extra);
  for (const c of [config, layer, manifest]) await repo.push(c.descriptor, c.bytes, opts());
  return manifest;
}

/** A raw request to the registry, for answers the client would hide. */
async function raw(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: string; code?: string }> {
  const response = await fetch(`http://${host}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  const body = await response.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(body) as { errors?: Array<{ code: string }> }).errors?.[0]?.code;
  } catch {
    // not an error body
  }
  return { status: response.status, headers: response.headers, body, ...(code === undefined ? {} : { code }) };
}

describe('the referrers API', () => {
  it('lists referrers through the API and keeps no tag-schema index', async () => {
    const name = fresh('referrers');
    const repo = client().repository(host, name);
    const subject = await pushImage(repo, 'subject');
    const signature = await pushImage(repo, 'signature', { subject: subject.descriptor, annotations: { 'io.cncf.notary.x': 'y' } });
    const listed = await collect(repo.referrers(subject.descriptor, opts()));
    assert.equal(repo.referrersApi, true);
    assert.deepEqual(listed.map((d) => d.digest), [signature.descriptor.digest]);
    assert.equal(listed[0]?.artifactType, MEDIA_TYPE_IMAGE_CONFIG);
    assert.equal(listed[0]?.annotations?.['io.cncf.notary.x'], 'y');
    assert.equal((await raw(`/v2/${name}/manifests/${referrersTag(subject.descriptor.digest)}`)).status, 404);
  });

  it('answers the push of a manifest with a subject with OCI-Subject', async () => {
    const name = fresh('oci-subject');
    const repo = client().repository(host, name);
    const subject = await pushImage(repo, 'oci-subject');
    const empty = emptyJson();
    await repo.push(empty.descriptor, empty.bytes, opts());
    const referrer = testManifest(empty.descriptor, [], { subject: subject.descriptor, artifactType: 'application/vnd.example+json' });
    const answer = await raw(`/v2/${name}/manifests/${referrer.descriptor.digest}`, { method: 'PUT', headers: { 'content-type': MEDIA_TYPE_IMAGE_MANIFEST }, body: referrer.bytes });
    assert.equal(answer.status, 201);
    assert.equal(answer.headers.get('oci-subject'), subject.descriptor.digest);
    assert.equal(answer.headers.get('docker-content-digest'), referrer.descriptor.digest);
  });

  it('lists referrers of a subject that was never pushed, and an empty index for unknown digests', async () => {
    const name = fresh('no-subject');
    const repo = client().repository(host, name);
    const absent = testManifest(emptyJson().descriptor, [testBlob('never', 10).descriptor]).descriptor;
    const empty = emptyJson();
    await repo.push(empty.descriptor, empty.bytes, opts());
    const referrer = testManifest(empty.descriptor, [], { subject: absent, artifactType: 'application/vnd.example+json' });
    await repo.push(referrer.descriptor, referrer.bytes, opts());
    assert.deepEqual((await collect(repo.referrers(absent, opts()))).map((d) => d.digest), [referrer.descriptor.digest]);
    const unknown = await raw(`/v2/${name}/referrers/sha256:${'0'.repeat(64)}`);
    assert.equal(unknown.status, 200);
    assert.equal(unknown.headers.get('content-type'), MEDIA_TYPE_IMAGE_INDEX);
    assert.deepEqual(JSON.parse(unknown.body), { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests: [] });
  });

  it('filters by artifactType and says so in OCI-Filters-Applied', async () => {
    const name = fresh('filter');
    const repo = client().repository(host, name);
    const subject = await pushImage(repo, 'filter-subject');
    await pushImage(repo, 'filter-a', { subject: subject.descriptor, artifactType: 'application/vnd.a' });
    const b = await pushImage(repo, 'filter-b', { subject: subject.descriptor, artifactType: 'application/vnd.b' });
    const answer = await raw(`/v2/${name}/referrers/${subject.descriptor.digest}?artifactType=application/vnd.b`);
    assert.equal(answer.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual((JSON.parse(answer.body) as { manifests: Descriptor[] }).manifests.map((m) => m.digest), [b.descriptor.digest]);
  });
});

describe('sigil cp -r and skopeo against the embedded registry', () => {
  it('copies a Notation-signed layout in with -r and its signature arrives as a referrer', async () => {
    const source = await OciLayout.open(new URL('../../../../test/fixtures/notation-e2e/e2e-valid-signature', import.meta.url).pathname);
    const repo = client().repository(host, fresh('notation'));
    const root = await copy(source, 'v1', repo, 'v1', { ...opts(), referrers: true });
    const signatures = await collect(repo.referrers(root, { ...opts(), artifactType: MEDIA_TYPE_NOTARY_SIGNATURE }));
    assert.equal(signatures.length, 1);
    assert.equal(repo.referrersApi, true);
  });

  it('takes an image from skopeo and gives it back byte-identical', async () => {
    const work = await mkdtemp(join(tmpdir(), 'sigil-skopeo-'));
    try {
      const layout = join(work, 'in');
      await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
      const put = async (bytes: Buffer) => {
        const hex = createHash('sha256').update(bytes).digest('hex');
        await writeFile(join(layout, 'blobs', 'sha256', hex), bytes);
        return { digest: `sha256:${hex}`, size: bytes.length };
      };
      const layer = await put(Buffer.from(testBlob('skopeo-layer', 5000).bytes));
      const config = await put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, config: { mediaType: MEDIA_TYPE_IMAGE_CONFIG, ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }] }));
      const manifestDesc = await put(manifest);
      await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPE_IMAGE_MANIFEST, ...manifestDesc, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
      const name = fresh('skopeo');
      await exec('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${host}/${name}:v1`]);
      const pushed = digestOf((await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/${name}:v1`])).stdout);
      const resolved = await client().repository(host, name).resolve('v1', opts());
      assert.equal(resolved.digest, pushed, 'the registry serves the manifest skopeo pushed, byte for byte');
      await exec('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${host}/${name}:v1`, `oci:${join(work, 'out')}:v1`]);
      const { stdout } = await exec('skopeo', ['inspect', '--raw', `oci:${join(work, 'out')}:v1`]);
      assert.equal(digestOf(stdout), pushed, 'and skopeo reads it back with the same digest');
      await exec('skopeo', ['delete', '--tls-verify=false', `docker://${host}/${name}:v1`]);
      assert.equal((await raw(`/v2/${name}/manifests/${pushed}`)).status, 404);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('bad input is refused with the spec error and the server keeps serving', () => {
  for (const path of ['/v2/../etc/blobs/uploads/', '/v2/%2e%2e/x/blobs/uploads/', '/v2//abs/blobs/uploads/', '/v2/a/%00/blobs/uploads/', '/v2/UPPER/blobs/uploads/', `/v2/${'a'.repeat(256)}/blobs/uploads/`]) {
    it(`refuses the repository name in ${path.slice(0, 40)} with NAME_INVALID`, async () => {
      const answer = await raw(path, { method: 'POST' });
      assert.ok(answer.status === 400 || answer.status === 404, `status ${answer.status}`);
      assert.ok(answer.code === 'NAME_INVALID' || answer.code === 'NAME_UNKNOWN', `code ${answer.code}`);
    });
  }

  it('parses routes without decoding, so encoded traversal never becomes a name', () => {
    assert.throws(() => parseRoute('/v2/%2e%2e/blobs/uploads/'), (err: unknown) => (err as { code?: string }).code === 'NAME_INVALID');
    assert.deepEqual(parseRoute('/v2/a/b/c/manifests/v1'), { kind: 'manifest', name: 'a/b/c', reference: 'v1' });
  });

  it('refuses a manifest over 4 MiB with 413', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const answer = await raw(`/v2/${fresh('big')}/manifests/v1`, { method: 'PUT', headers: { 'content-type': MEDIA_TYPE_IMAGE_MANIFEST }, body: big });
    assert.equal(answer.status, 413);
    assert.equal(answer.code, 'SIZE_INVALID');
  });

  it('refuses malformed JSON, an unknown media type and a digest that does not match', async () => {
    const name = fresh('bad-manifest');
    assert.equal((await raw(`/v2/${name}/manifests/v1`, { method: 'PUT', headers: { 'content-type': MEDIA_TYPE_IMAGE_MANIFEST }, body: '{"schemaVersion": 2,' })).code, 'MANIFEST_INVALID');
    assert.equal((await raw(`/v2/${name}/manifests/v1`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: '{}' })).code, 'MANIFEST_INVALID');
    const manifest = testManifest(emptyJson().descriptor, []);
    const repo = client().repository(host, name);
    await repo.push(emptyJson().descriptor, emptyJson().bytes, opts());
    const wrong = await raw(`/v2/${name}/manifests/sha256:${'1'.repeat(64)}`, { method: 'PUT', headers: { 'content-type': MEDIA_TYPE_IMAGE_MANIFEST }, body: manifest.bytes });
    assert.equal(wrong.code, 'DIGEST_INVALID');
  });

  it('refuses a manifest whose blobs the repository does not have, but not a missing subject', async () => {
    const name = fresh('missing-blob');
    const manifest = testManifest(emptyJson().descriptor, [testBlob('absent-layer', 10).descriptor]);
    const answer = await raw(`/v2/${name}/manifests/v1`, { method: 'PUT', headers: { 'content-type': MEDIA_TYPE_IMAGE_MANIFEST }, body: manifest.bytes });
    assert.equal(answer.code, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('refuses a blob whose bytes do not match the digest, storing nothing', async () => {
    const name = fresh('bad-blob');
    const answer = await raw(`/v2/${name}/blobs/uploads/?digest=sha256:${'2'.repeat(64)}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'not those bytes' });
    assert.equal(answer.code, 'DIGEST_INVALID');
    assert.equal((await raw(`/v2/${name}/blobs/sha256:${'2'.repeat(64)}`, { method: 'HEAD' })).status, 404);
  });

  it('answers an out-of-order or bogus Content-Range with 416', async () => {
    const name = fresh('range');
    const start = await raw(`/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const location = start.headers.get('location') ?? '';
    const first = await raw(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-range': '0-4' }, body: 'hello' });
    assert.equal(first.status, 202);
    assert.equal(first.headers.get('range'), '0-4');
    const gap = await raw(location, { method: 'PATCH', headers: { 'content-range': '10-14' }, body: 'world' });
    assert.equal(gap.status, 416);
    const bogus = await raw(location, { method: 'PATCH', headers: { 'content-range': 'five-ten' }, body: 'world' });
    assert.equal(bogus.status, 416);
    const status = await raw(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-4');
    const done = await raw(`${location}?digest=${digestOf('hello world')}`, { method: 'PUT', headers: { 'content-range': '5-10' }, body: ' world' });
    assert.equal(done.status, 201);
    assert.equal((await raw(`/v2/${name}/blobs/${digestOf('hello world')}`)).body, 'hello world');
  });

  it('keeps an upload session to the repository that opened it', async () => {
    const start = await raw(`/v2/${fresh('owner')}/blobs/uploads/`, { method: 'POST' });
    const id = (start.headers.get('location') ?? '').split('/').at(-1) ?? '';
    const other = fresh('intruder');
    assert.equal((await raw(`/v2/${other}/blobs/uploads/${id}`, { method: 'PATCH', body: 'x' })).code, 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await raw(`/v2/${other}/blobs/uploads/${id}?digest=${digestOf('')}`, { method: 'PUT' })).code, 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await raw(`/v2/${other}/blobs/uploads/${id}`, { method: 'DELETE' })).code, 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await raw(`/v2/${other}/blobs/uploads/not-a-uuid`)).code, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('pages tags with n, last and Link', async () => {
    const name = fresh('tags');
    const repo = client().repository(host, name);
    const image = await pushImage(repo, 'tags');
    for (const tag of ['c', 'a', 'b', 'd']) await repo.tag(image.descriptor, tag, opts());
    const page = await raw(`/v2/${name}/tags/list?n=2`);
    assert.deepEqual(JSON.parse(page.body), { name, tags: ['a', 'b'] });
    assert.equal(page.headers.get('link'), `</v2/${name}/tags/list?n=2&last=b>; rel="next"`);
    assert.deepEqual(JSON.parse((await raw(`/v2/${name}/tags/list?n=2&last=b`)).body).tags, ['c', 'd']);
    assert.equal((await raw(`/v2/${fresh('nothing')}/tags/list`)).code, 'NAME_UNKNOWN');
  });

  it('still serves after all of that', async () => {
    assert.equal((await raw('/v2/')).status, 200);
  });
});

describe('metrics', () => {
  it('counts requests by route and status, bytes both ways, and open upload sessions', async () => {
    const name = fresh('metrics');
    await raw(`/v2/${name}/manifests/absent`);
    const upload = await raw(`/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(upload.status, 202);
    const text = (await raw('/metrics')).body;
    assert.match(text, /sigil_registry_http_requests_total\{route="manifest",method="GET",status="404"\} \d+/);
    assert.match(text, /sigil_registry_http_requests_total\{route="uploads",method="POST",status="202"\} \d+/);
    assert.match(text, /sigil_registry_http_request_duration_seconds_bucket\{le="0.1",route="manifest",method="GET"\} \d+/);
    const number = (metric: string) => Number(new RegExp(`^${metric} (\\d+)`, 'm').exec(text)?.[1]);
    assert.ok(number('sigil_registry_received_bytes_total') > 0);
    assert.ok(number('sigil_registry_sent_bytes_total') > 0);
    assert.ok(number('sigil_registry_upload_sessions') >= 1);
  });
});

describe('restart', () => {
  it('serves everything acknowledged before a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sigil-registry-restart-'));
    try {
      let running = await start(dir);
      const c = new RegistryClient();
      const manifest = await pushImage(c.repository(running.host, 'restart/app'), 'restart');
      await c.repository(running.host, 'restart/app').tag(manifest.descriptor, 'v1', opts());
      await c.close();
      await running.server.close();
      running = await start(dir);
      const again = new RegistryClient();
      try {
        const resolved = await again.repository(running.host, 'restart/app').resolve('v1', opts());
        assert.equal(resolved.digest, manifest.descriptor.digest);
      } finally {
        await again.close();
        await running.server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
