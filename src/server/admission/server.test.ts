// End-to-end tests of the admission webhook: real HTTPS on loopback with a generated CA, Debian's
// docker-registry holding Notation's signed and unsigned e2e layouts, and the shared AdmissionReview
// bodies with their images replaced by the test registry's.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../../registry/index.js';
import { freePort, startDockerRegistry, type RunningRegistry } from '../../../test/support/docker-registry.js';
import { copyWritable, NOTATION_E2E, NOTATION_LAYOUTS, SHARED_TESTDATA } from '../../../test/support/shared.js';
import { notaryPolicyYaml } from '../../../test/support/admission.js';
import { ok, runSigil, SIGIL } from '../../../test/support/sigil-cli.js';
import { createRegistryImageVerifier, ensureTlsDir, generateServingTls, loadPolicyFiles, servingNames, TLS_DIR_FILES } from './config.js';
import { AdmissionMetrics, metricValue } from './metrics.js';
import { ReportStore } from './reports.js';
import { AdmissionServer } from './server.js';

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

let home: string;
let registry: RunningRegistry;
let ca: string;
let tls: { cert: Buffer; key: Buffer };
let cert: string;
let signed: string;
let unsigned: string;
let client: RegistryClient;
const servers: AdmissionServer[] = [];

function post(port: number, path: string, body: string | Buffer, contentType = 'application/json', method = 'POST'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, ca, servername: 'localhost', headers: { 'content-type': contentType } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(method === 'GET' ? undefined : body);
  });
}

const get = (port: number, path: string) => post(port, path, '', 'text/plain', 'GET');

/** The tests' ClusterPolicy (test/support/admission.ts), trusting e2e.crt, for Pods (and by autogen their controllers). */
function policyYaml(options: { name: string; host: string; timeout?: number; action?: 'Enforce' | 'Audit' }): string {
  return notaryPolicyYaml({ name: options.name, host: options.host, cert, ...(options.timeout === undefined ? {} : { timeoutSeconds: options.timeout }), ...(options.action === undefined ? {} : { action: options.action }) });
}

async function startServer(policy: string, margin?: number, reports?: ReportStore): Promise<number> {
  const file = join(home, `policy-${servers.length}.yaml`);
  await writeFile(file, policy);
  const { policies, exceptions } = await loadPolicyFiles([file]);
  const server = new AdmissionServer({
    tls,
    verifyImage: createRegistryImageVerifier(client),
    policies: { policies, exceptions },
    ...(margin === undefined ? {} : { deadlineMarginMs: margin }),
    ...(reports === undefined ? {} : { reports }),
  });
  servers.push(server);
  return (await server.listen(0, '127.0.0.1')).port;
}

/** A shared AdmissionReview body with every container image replaced by `image`. */
async function review(file: string, image: string): Promise<string> {
  const body = JSON.parse(await readFile(join(SHARED_TESTDATA, 'admission', file), 'utf8')) as { request: { object: Record<string, unknown> } };
  const replace = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(replace);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'image' && typeof v === 'string' ? image : k === 'annotations' ? v : replace(v)]));
  };
  body.request.object = replace(body.request.object) as Record<string, unknown>;
  return JSON.stringify(body);
}

interface ReviewResponse {
  response: { uid: string; allowed: boolean; status?: { message: string }; patch?: string; patchType?: string; warnings?: string[] };
}

function decodeResponse(reply: Reply): ReviewResponse['response'] {
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.contentType, 'application/json');
  return (JSON.parse(reply.text) as ReviewResponse).response;
}

let port: number;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-admission-'));
  registry = await startDockerRegistry();
  cert = await readFile(join(NOTATION_E2E, 'config/localkeys/e2e.crt'), 'utf8');
  const env = { env: { SIGIL_CONFIG: join(home, 'sigil'), DOCKER_CONFIG: join(home, 'docker') } };
  await Promise.all([copyWritable(join(NOTATION_LAYOUTS, 'e2e-valid-signature'), join(home, 'signed')), copyWritable(join(NOTATION_LAYOUTS, 'e2e'), join(home, 'unsigned'))]);
  signed = `${registry.host}/admission/signed:v1`;
  unsigned = `${registry.host}/admission/unsigned:v1`;
  await Promise.all([
    runSigil(['cp', '-r', '--from-oci-layout', `${join(home, 'signed')}:v1`, signed], env).then(ok),
    runSigil(['cp', '-r', '--from-oci-layout', `${join(home, 'unsigned')}:v1`, unsigned], env).then(ok),
  ]);
  const material = await ensureTlsDir(join(home, 'tls'), new Date());
  assert.equal(material.generated, true);
  tls = { cert: material.cert, key: material.key };
  ca = await readFile(join(home, 'tls', TLS_DIR_FILES.ca), 'utf8');
  client = new RegistryClient({});
  port = await startServer(policyYaml({ name: 'check-image', host: registry.host }));
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await registry?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('AdmissionServer /mutate and /validate', () => {
  it('admits a signed Pod and pins its digest with a JSONPatch (mutate)', async () => {
    const response = decodeResponse(await post(port, '/mutate', await review('pod-create.json', signed)));
    assert.equal(response.uid, '0c9a8d74-9cb7-44dd-b98e-09fd62def2f4');
    assert.equal(response.allowed, true);
    assert.equal(response.patchType, 'JSONPatch');
    const patch = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8')) as Array<{ op: string; path: string; value: string }>;
    // Kyverno's order: the verified-images record first, then the digest pin.
    assert.deepEqual(patch.map((p) => [p.op, p.path]), [
      ['add', '/metadata/annotations/kyverno.io~1verify-images'],
      ['add', '/metadata/annotations/kyverno.io~1verify-images-scoped'],
      ['add', '/metadata/annotations/sigil.dev~1verified-policies'],
      ['replace', '/spec/containers/0/image'],
    ]);
    const pinned = patch[3]?.value ?? '';
    assert.match(pinned, new RegExp(`^${signed.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
    const key = `${registry.host}/admission/signed@${pinned.split('@')[1] ?? ''}`;
    assert.equal(patch[0]?.value, JSON.stringify({ [key]: 'pass' }));
    assert.equal(patch[1]?.value, JSON.stringify({ version: 1, policies: { '/check-image': { 'check-digest': { [key]: 'pass' } } } }));
  });

  it('admits a signed Pod without a patch on /validate', async () => {
    const response = decodeResponse(await post(port, '/validate', await review('pod-create.json', signed)));
    assert.equal(response.allowed, true);
    assert.equal(response.patch, undefined);
  });

  it("denies an unsigned Pod with Kyverno's message shape", async () => {
    for (const path of ['/mutate', '/validate']) {
      const response = decodeResponse(await post(port, path, await review('pod-create.json', unsigned)));
      assert.equal(response.allowed, false);
      assert.equal(response.patch, undefined);
      const message = response.status?.message ?? '';
      assert.match(message, /^\n\nresource Pod\/colin-coder\/echo-pod was blocked due to the following policies \n\ncheck-image:\n {2}check-digest: /);
      assert.match(message.replace(/\n\s+/g, ' '), /failed to verify image 127\.0\.0\.1:\d+\/admission\/unsigned:v1: \.attestors\[0\]\.entries\[0\]: .*no signature is associated with/);
    }
  });

  it('covers a Deployment through autogen: unsigned denied, signed pinned in the pod template', async () => {
    const denied = decodeResponse(await post(port, '/validate', await review('deployment-create.json', unsigned)));
    assert.equal(denied.allowed, false);
    assert.match(denied.status?.message ?? '', /resource Deployment\/[^/]+\/[^ ]+ was blocked due to the following policies/);
    assert.match(denied.status?.message ?? '', /autogen-check-digest:/);
    const admitted = decodeResponse(await post(port, '/mutate', await review('deployment-create.json', signed)));
    assert.equal(admitted.allowed, true);
    const patch = JSON.parse(Buffer.from(admitted.patch ?? '', 'base64').toString('utf8')) as Array<{ path: string }>;
    assert.deepEqual(patch.map((p) => p.path), ['/metadata/annotations', '/metadata/annotations/kyverno.io~1verify-images', '/metadata/annotations/kyverno.io~1verify-images-scoped', '/metadata/annotations/sigil.dev~1verified-policies', '/spec/template/spec/containers/0/image']);
  });

  it("overwrites the request's own verified-images record on /mutate", async () => {
    const body = JSON.parse(await review('pod-create.json', unsigned)) as { request: { object: { metadata: { annotations?: Record<string, string> } } } };
    body.request.object.metadata.annotations = { ...body.request.object.metadata.annotations, 'kyverno.io/verify-images-scoped': '{"version":1,"policies":{}}' };
    // The unsigned image is denied: nothing is patched, so nothing forged is stored either.
    assert.equal(decodeResponse(await post(port, '/mutate', JSON.stringify(body))).allowed, false);
    const signedBody = JSON.parse(await review('pod-create.json', signed)) as typeof body;
    signedBody.request.object.metadata.annotations = { 'kyverno.io/verify-images': '{"evil.example/x:v1":"pass"}' };
    const response = decodeResponse(await post(port, '/mutate', JSON.stringify(signedBody)));
    const patch = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8')) as Array<{ op: string; path: string; value: string }>;
    assert.deepEqual(patch.slice(0, 3).map((p) => [p.op, p.path]), [
      ['replace', '/metadata/annotations/kyverno.io~1verify-images'],
      ['add', '/metadata/annotations/kyverno.io~1verify-images-scoped'],
      ['add', '/metadata/annotations/sigil.dev~1verified-policies'],
    ]);
    assert.doesNotMatch(patch[0]?.value ?? '', /evil/);
  });

  it('denies on /validate an object whose record claims a pass Sigil did not find', async () => {
    const digest = await client.repository(registry.host, 'admission/unsigned').resolve('v1', { signal: AbortSignal.timeout(10_000) });
    const pinned = `${unsigned}@${digest.digest}`;
    const body = JSON.parse(await review('pod-create.json', pinned)) as { request: { object: { metadata: { annotations?: Record<string, string> } } } };
    const key = `${registry.host}/admission/unsigned@${digest.digest}`;
    body.request.object.metadata.annotations = { 'kyverno.io/verify-images-scoped': JSON.stringify({ version: 1, policies: { '/check-image': { 'check-digest': { [key]: 'pass' } } } }) };
    const response = decodeResponse(await post(port, '/validate', JSON.stringify(body)));
    assert.equal(response.allowed, false);
    // The image itself fails verification first; the forged claim never gets a say.
    assert.match(response.status?.message ?? '', /no signature is associated/);
  });

  it("refuses on /validate a record claim the verdict does not back, even when the image passes", async () => {
    const digest = await client.repository(registry.host, 'admission/signed').resolve('v1', { signal: AbortSignal.timeout(10_000) });
    const pinned = `${signed}@${digest.digest}`;
    const body = JSON.parse(await review('pod-create.json', pinned)) as { request: { object: { metadata: { annotations?: Record<string, string> } } } };
    body.request.object.metadata.annotations = { 'kyverno.io/verify-images-scoped': '{"version":2}' };
    const response = decodeResponse(await post(port, '/validate', JSON.stringify(body)));
    assert.equal(response.allowed, false);
    assert.match(response.status?.message ?? '', /annotation kyverno\.io\/verify-images-scoped: unsupported version 2/);
  });

  it("passes an UPDATE that leaves a pinned image in place on the stored object's record, and verifies a changed one", async () => {
    const digest = await client.repository(registry.host, 'admission/unsigned').resolve('v1', { signal: AbortSignal.timeout(10_000) });
    const pinned = `${unsigned}@${digest.digest}`;
    const key = `${registry.host}/admission/unsigned@${digest.digest}`;
    const body = JSON.parse(await readFile(join(SHARED_TESTDATA, 'admission', 'pod-update.json'), 'utf8')) as {
      request: { object: { metadata: { annotations?: Record<string, string> }; spec: { containers: Array<{ image: string }> } }; oldObject: { metadata: { annotations?: Record<string, string> }; spec: { containers: Array<{ image: string }> } } };
    };
    const record = JSON.stringify({ version: 1, policies: { '/check-image': { 'check-digest': { [key]: 'pass' } } } });
    for (const o of [body.request.object, body.request.oldObject]) {
      for (const c of o.spec.containers) c.image = pinned;
    }
    // What /mutate wrote when the Pod was created: the record and the policy it was reached under.
    const created = decodeResponse(await post(port, '/mutate', await review('pod-create.json', signed)));
    const written = (JSON.parse(Buffer.from(created.patch ?? '', 'base64').toString('utf8')) as Array<{ path: string; value: string }>).find((p) => p.path.endsWith('sigil.dev~1verified-policies'));
    const annotations = { 'kyverno.io/verify-images-scoped': record, 'sigil.dev/verified-policies': written?.value ?? '' };
    body.request.oldObject.metadata.annotations = annotations;
    body.request.object.metadata.annotations = annotations;
    // The stored record stands for the unchanged image: no registry call decides it.
    const kept = decodeResponse(await post(port, '/validate', JSON.stringify(body)));
    assert.equal(kept.allowed, true, kept.status?.message);
    const changed = structuredClone(body);
    for (const c of changed.request.object.spec.containers) c.image = unsigned;
    assert.equal(decodeResponse(await post(port, '/validate', JSON.stringify(changed))).allowed, false);
  });

  it('admits a DELETE without verifying anything', async () => {
    const response = decodeResponse(await post(port, '/validate', await readFile(join(SHARED_TESTDATA, 'admission', 'pod-delete.json'))));
    assert.equal(response.allowed, true);
  });
});

describe('AdmissionServer PolicyReports', () => {
  let auditPort: number;
  let reportsDir: string;
  before(async () => {
    reportsDir = join(home, 'reports');
    const audit = policyYaml({ name: 'audit-image', host: registry.host, action: 'Audit' });
    auditPort = await startServer(audit, undefined, new ReportStore({ dir: reportsDir }));
  });

  async function reports(query = ''): Promise<Array<{ metadata: { name: string; namespace?: string }; results: Array<{ policy: string; rule: string; result: string; message: string }>; scope?: { name: string } }>> {
    const reply = await get(auditPort, `/reports${query}`);
    assert.equal(reply.status, 200);
    return (JSON.parse(reply.text) as { items: [] }).items;
  }

  it('admits an unsigned Pod under Audit and reports a fail naming the Pod, in memory and in --reports-dir', async () => {
    const response = decodeResponse(await post(auditPort, '/validate', await review('pod-create-validating-stage.json', unsigned)));
    assert.equal(response.allowed, true);
    let items = await reports();
    for (let i = 0; i < 50 && items.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      items = await reports();
    }
    assert.equal(items.length, 1);
    const [report] = items;
    assert.equal(report?.metadata.name, 'sigil-41a928a7-73f4-419f-bd64-de11f4f0a8ca');
    assert.equal(report?.scope?.name, 'hello-world');
    assert.deepEqual(report?.results.map((r) => [r.policy, r.rule, r.result]), [['audit-image', 'check-digest', 'fail']]);
    assert.match(report?.results[0]?.message ?? '', /no signature is associated/);
    const path = join(reportsDir, 'default', `${report?.metadata.name ?? ''}.json`);
    // The answer does not wait for the file; it follows the in-memory report shortly.
    let text: string | undefined;
    for (let i = 0; i < 50 && text === undefined; i++) text = await readFile(path, 'utf8').catch(async () => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20)));
    const file = JSON.parse(text ?? '{}') as { results: unknown[] };
    assert.equal(file.results.length, 1);
    assert.equal((await reports('?namespace=default')).length, 1);
    assert.equal((await reports('?namespace=other')).length, 0);
  });

  it('records nothing for a dry run or on /mutate', async () => {
    const before = (await reports()).length;
    assert.equal(decodeResponse(await post(auditPort, '/validate', await review('pod-create-dryrun.json', unsigned))).allowed, true);
    assert.equal(decodeResponse(await post(auditPort, '/mutate', await review('pod-create.json', unsigned))).allowed, true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await reports()).length, before);
  });
});

describe('AdmissionServer /metrics', () => {
  it("counts reviews and rule results under Sigil's and Kyverno's names", async () => {
    const metrics = new AdmissionMetrics();
    const file = join(home, 'metrics-policy.yaml');
    await writeFile(file, policyYaml({ name: 'metered', host: registry.host }));
    const { policies, exceptions } = await loadPolicyFiles([file]);
    const server = new AdmissionServer({ tls, verifyImage: createRegistryImageVerifier(client), policies: { policies, exceptions }, metrics });
    servers.push(server);
    const metered = (await server.listen(0, '127.0.0.1')).port;
    assert.equal(decodeResponse(await post(metered, '/validate', await review('pod-create.json', unsigned))).allowed, false);
    assert.equal(decodeResponse(await post(metered, '/mutate', await review('pod-create.json', signed))).allowed, true);
    const reply = await get(metered, '/metrics');
    assert.equal(reply.status, 200);
    assert.match(reply.contentType, /^text\/plain/);
    const value = (name: string, labels: Record<string, string>) => metricValue(reply.text, name, labels);
    assert.equal(value('sigil_admission_requests_total', { webhook: 'validate', allowed: 'false', kind: 'Pod' }), 1);
    assert.equal(value('sigil_admission_requests_total', { webhook: 'mutate', allowed: 'true' }), 1);
    assert.equal(value('kyverno_admission_requests_total', { request_webhook: 'ValidatingWebhookConfiguration', request_allowed: 'false', resource_namespace: 'colin-coder' }), 1);
    assert.equal(value('sigil_policy_results_total', { policy: 'metered', rule: 'check-digest', result: 'fail' }), 1);
    assert.equal(value('kyverno_policy_results_total', { policy_name: 'metered', rule_result: 'fail', rule_type: 'imageVerify' }), 1);
    assert.equal(value('sigil_admission_review_duration_seconds_count', {}), 2);
  });

  it('answers 404 for /metrics on a server started without metrics', async () => {
    assert.equal((await get(port, '/metrics')).status, 404);
  });
});

describe('AdmissionServer bad input', () => {
  it('answers 400 with one line for a body that is not JSON', async () => {
    const reply = await post(port, '/validate', '{"kind": "AdmissionReview",');
    assert.equal(reply.status, 400);
    assert.match(reply.text, /^[^\n]*not JSON[^\n]*\n$/);
  });

  it('answers 400 for JSON that is not an AdmissionReview', async () => {
    const reply = await post(port, '/mutate', '{"kind":"Pod"}');
    assert.equal(reply.status, 400);
    assert.match(reply.text, /^[^\n]+\n$/);
  });

  it('answers 413 for a body over 3 MiB, whatever it declares', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 10, 0x20);
    const reply = await post(port, '/validate', big);
    assert.equal(reply.status, 413);
    assert.match(reply.text, /exceeds the 3145728-byte limit/);
  });

  it('answers 415 for a content type other than JSON', async () => {
    const reply = await post(port, '/validate', await review('pod-create.json', signed), 'text/yaml');
    assert.equal(reply.status, 415);
  });

  it('answers 404 and 405 for other paths and methods', async () => {
    assert.equal((await get(port, '/nope')).status, 404);
    assert.equal((await get(port, '/validate')).status, 405);
  });

  it('still answers /healthz and /readyz after all of that', async () => {
    assert.deepEqual([(await get(port, '/healthz')).status, (await get(port, '/readyz')).status], [200, 200]);
  });

  it('is not ready, and denies, before policies are loaded', async () => {
    const server = new AdmissionServer({ tls, verifyImage: createRegistryImageVerifier(client) });
    servers.push(server);
    const p = (await server.listen(0)).port;
    assert.equal((await get(p, '/readyz')).status, 503);
    assert.equal((await get(p, '/healthz')).status, 200);
    const response = decodeResponse(await post(p, '/validate', await review('pod-create.json', signed)));
    assert.equal(response.allowed, false);
  });
});

describe('AdmissionServer registry down', () => {
  let hanging: TcpServer;
  const sockets = new Set<Socket>();
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => hanging?.close(() => resolve()));
  });

  it('denies, saying verification could not complete, when the registry port is closed', async () => {
    const down = `127.0.0.1:${await freePort()}`;
    const p = await startServer(policyYaml({ name: 'check-image', host: down, timeout: 5 }));
    const started = Date.now();
    const response = decodeResponse(await post(p, '/validate', await review('pod-create.json', `${down}/admission/signed:v1`)));
    assert.ok(Date.now() - started < 5000);
    assert.equal(response.allowed, false);
    assert.match((response.status?.message ?? '').replace(/\n\s+/g, ' '), /verification could not complete: .*cannot connect \(ECONNREFUSED\)/);
  });

  it('denies within the deadline when the registry accepts connections and never answers', async () => {
    hanging = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', () => resolve()));
    const address = hanging.address();
    const down = `127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    // webhookTimeoutSeconds 2, margin 1 s: verification gets 1 s, the answer comes well before 2 s.
    const p = await startServer(policyYaml({ name: 'check-image', host: down, timeout: 2 }), 1000);
    const started = Date.now();
    const response = decodeResponse(await post(p, '/validate', await review('pod-create.json', `${down}/admission/signed:v1`)));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 2000, `answered after ${elapsed} ms`);
    assert.equal(response.allowed, false);
    assert.match((response.status?.message ?? '').replace(/\n\s+/g, ' '), /verification could not complete: .*could not complete in time: the 1s verification deadline passed/);
  });
});

describe('AdmissionServer registry misbehaving, then back', () => {
  let mode: 'garbage' | '503' | 'forward' = 'garbage';
  let front: ReturnType<typeof createServer> | undefined;
  after(async () => {
    front?.closeAllConnections();
    await new Promise<void>((resolve) => (front === undefined ? resolve() : front.close(() => resolve())));
  });

  it('denies while the registry answers garbage or 503, and admits again once it is back', async () => {
    // A front for the real registry that can be told to misbehave.
    front = createServer((req, res) => {
      if (mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': 'sha256:nothex' });
        res.end('{"schemaVersion": 2, "layers": [');
        return;
      }
      if (mode === '503') {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}');
        return;
      }
      const upstream = httpRequest({ host: '127.0.0.1', port: Number(registry.host.split(':')[1]), path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => front?.listen(0, '127.0.0.1', () => resolve()));
    const address = front.address();
    const host = `127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    const p = await startServer(policyYaml({ name: 'check-image', host, timeout: 5 }));
    const ask = async () => decodeResponse(await post(p, '/validate', await review('pod-create.json', `${host}/admission/signed:v1`)));
    const garbage = await ask();
    assert.equal(garbage.allowed, false);
    assert.match((garbage.status?.message ?? '').replace(/\n\s+/g, ' '), /verification could not complete/);
    mode = '503';
    await new Promise((resolve) => setTimeout(resolve, 300));
    const unavailable = await ask();
    assert.equal(unavailable.allowed, false);
    assert.match((unavailable.status?.message ?? '').replace(/\n\s+/g, ' '), /verification could not complete/);
    mode = 'forward';
    // The registry is back: once its backoff window passes (at most 5 s), the signed image is admitted.
    let back = await ask();
    for (let i = 0; i < 60 && !back.allowed; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      back = await ask();
    }
    assert.equal(back.allowed, true, back.status?.message);
  });
});

describe('AdmissionServer timeout', () => {
  it("takes the webhook configuration's timeoutSeconds over the policies' when given", async () => {
    const file = join(home, 'timeout.yaml');
    await writeFile(file, policyYaml({ name: 'check-image', host: registry.host, timeout: 20 }));
    const { policies, exceptions } = await loadPolicyFiles([file]);
    const fromPolicies = new AdmissionServer({ tls, verifyImage: createRegistryImageVerifier(client), policies: { policies, exceptions } });
    assert.equal(fromPolicies.timeoutSeconds, 20);
    const configured = new AdmissionServer({ tls, verifyImage: createRegistryImageVerifier(client), policies: { policies, exceptions }, timeoutSeconds: 5 });
    assert.equal(configured.timeoutSeconds, 5);
    assert.equal(configured.deadlineMs, 4000, 'the verification deadline leaves the 1 s margin');
  });
});

describe('AdmissionServer deadline', () => {
  it('denies at the deadline even when the verifier ignores the abort signal', async () => {
    const file = join(home, 'stuck.yaml');
    await writeFile(file, policyYaml({ name: 'check-image', host: registry.host, timeout: 1 }));
    const { policies, exceptions } = await loadPolicyFiles([file]);
    const server = new AdmissionServer({ tls, verifyImage: () => new Promise(() => {}), policies: { policies, exceptions } });
    servers.push(server);
    const p = (await server.listen(0)).port;
    const started = Date.now();
    const response = decodeResponse(await post(p, '/validate', await review('pod-create.json', signed)));
    assert.ok(Date.now() - started < 1000);
    assert.equal(response.allowed, false);
    assert.match(response.status?.message ?? '', /^resource Pod\/colin-coder\/echo-pod was blocked: image verification could not complete in time/);
  });
});

describe('sigil admission serve', () => {
  it('prints one line when listening, serves /readyz, and stops on SIGTERM', async () => {
    const file = join(home, 'cli-policy.yaml');
    await writeFile(file, policyYaml({ name: 'check-image', host: registry.host }));
    const child = spawn(process.execPath, [SIGIL, 'admission', 'serve', '--addr', '127.0.0.1:0', '--policies', file, '--tls-dir', join(home, 'tls')], {
      env: { ...process.env, SIGIL_CONFIG: join(home, 'sigil'), DOCKER_CONFIG: join(home, 'docker') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    assert.match(line, /^listening on https:\/\/127\.0\.0\.1:\d+ \(1 policy from 1 file, caBundle .*ca\.crt\)$/);
    const p = Number(/:(\d+) /.exec(line)?.[1]);
    assert.equal((await get(p, '/readyz')).status, 200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(out, /sigil admission stopped\n$/);
  });
});

describe('sigil admission serve reloading', () => {
  it('reloads policies and the serving certificate when their files change, and keeps both through a bad edit', async () => {
    const file = join(home, 'reload-policy.yaml');
    const dir = join(home, 'tls-reload');
    await ensureTlsDir(dir, new Date());
    await writeFile(file, policyYaml({ name: 'check-image', host: registry.host }));
    const child = spawn(process.execPath, [SIGIL, 'admission', 'serve', '--addr', '127.0.0.1:0', '--policies', file, '--tls-dir', dir, '--reload-interval', '100ms'], {
      env: { ...process.env, SIGIL_CONFIG: join(home, 'sigil'), DOCKER_CONFIG: join(home, 'docker') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const waitFor = async (text: () => string, pattern: RegExp) => {
      for (let i = 0; i < 200 && !pattern.test(text()); i++) await new Promise((resolve) => setTimeout(resolve, 25));
      assert.match(text(), pattern);
    };
    try {
      await waitFor(() => out, /listening on https:\/\/127\.0\.0\.1:\d+ /);
      const p = Number(/:(\d+) /.exec(out)?.[1]);
      const firstCa = await readFile(join(dir, TLS_DIR_FILES.ca), 'utf8');
      const admit = async (caPem: string) => {
        const reply = await new Promise<string>((resolve, reject) => {
          // A new connection each time (agent: false): a kept-alive one keeps the certificate it began with.
          const req = request({ host: '127.0.0.1', port: p, path: '/validate', method: 'POST', ca: caPem, servername: 'localhost', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          });
          req.on('error', reject);
          review('pod-create.json', unsigned).then((body) => req.end(body), reject);
        });
        return (JSON.parse(reply) as ReviewResponse).response.allowed;
      };
      assert.equal(await admit(firstCa), false, 'Enforce denies the unsigned image');
      await writeFile(file, policyYaml({ name: 'check-image', host: registry.host, action: 'Audit' }));
      await waitFor(() => err, /reloaded 1 policy from 1 file/);
      assert.equal(await admit(firstCa), true, 'the Audit version admits it');
      await writeFile(file, 'spec: [');
      await waitFor(() => err, /policies not reloaded, the previous ones stay in force: /);
      assert.equal(await admit(firstCa), true, 'a broken edit keeps the Audit version');
      // A renewed serving pair from another CA: new connections are served with it.
      const renewed = generateServingTls(servingNames(), new Date());
      await writeFile(join(dir, TLS_DIR_FILES.key), renewed.key);
      await writeFile(join(dir, TLS_DIR_FILES.cert), renewed.cert);
      await waitFor(() => err, /reloaded the serving certificate/);
      assert.equal(await admit(renewed.caCert), true);
      await assert.rejects(admit(firstCa), /self[- ]signed|unable to verify|certificate/i, 'the old CA no longer verifies the server');
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        assert.equal(await exited, 0);
      }
    }
  });
});

describe('AdmissionServer /checkimages', () => {
  interface Check {
    verified: boolean;
    message: string;
    results: Array<{ image: string; verified: boolean; digest?: string; message: string }>;
  }
  const check = async (images: unknown): Promise<Check> => {
    const reply = await post(port, '/checkimages', JSON.stringify({ images }));
    assert.equal(reply.status, 200, reply.text);
    return JSON.parse(reply.text) as Check;
  };

  it('answers verified true for signed images, with their digests', async () => {
    const answer = await check([signed]);
    assert.equal(answer.verified, true);
    assert.equal(answer.results.length, 1);
    assert.match(answer.results[0]?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
  });

  it('answers verified false when any image is unsigned or covered by no rule', async () => {
    const answer = await check([signed, unsigned, 'docker.io/library/nginx:1.27']);
    assert.equal(answer.verified, false);
    assert.deepEqual(answer.results.map((r) => r.verified), [true, false, false]);
    assert.match(answer.results[1]?.message ?? '', /no signature is associated with/);
    assert.match(answer.results[2]?.message ?? '', /no verifyImages rule of the loaded policies covers/);
  });

  it('refuses a body that is not {"images": [...]} with 400', async () => {
    for (const body of ['nope', '{"images": "x"}', '{"images": [1]}']) {
      assert.equal((await post(port, '/checkimages', body)).status, 400);
    }
    assert.equal((await post(port, '/checkimages', '{"images": []}', 'text/plain')).status, 415);
  });
});
