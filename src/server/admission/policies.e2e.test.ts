// Every policy of ../shared/policies, loaded unchanged, enforced end to end: Debian's
// docker-registry on loopback holding Notation's e2e layouts (plus one image signed here with the
// new_e2e certificate), one AdmissionServer over real HTTPS per policy set, and the shared
// AdmissionReview bodies as kube-apiserver sends them, with only images, namespaces, names and
// uids replaced. Each test states the behaviour its policy's header comment asks for.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PolicyError } from '../../admission/index.js';
import { RegistryClient } from '../../registry/index.js';
import { startDockerRegistry, type RunningRegistry } from '../../../test/support/docker-registry.js';
import { copyWritable, NOTATION_E2E, NOTATION_LAYOUTS, SHARED_POLICIES, SHARED_TESTDATA } from '../../../test/support/shared.js';
import { ok, runSigil } from '../../../test/support/sigil-cli.js';
import { createRegistryImageVerifier, ensureTlsDir, loadPolicyFiles, TLS_DIR_FILES } from './config.js';
import { AdmissionServer } from './server.js';

type Json = null | boolean | number | string | Json[] | JsonMap;
interface JsonMap {
  [key: string]: Json;
}

function isMap(value: Json | undefined): value is JsonMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asMap(value: Json | undefined, what: string): JsonMap {
  assert.ok(isMap(value), `${what} is not an object`);
  return value;
}

const POLICY = {
  checkImageNotary: '01-check-image-notary.yaml',
  blockUnsigned: '02-block-unsigned-images.yaml',
  byEnvironment: '03-verify-images-by-environment.yaml',
  audit: '04-audit-mode.yaml',
  exception: '05-policy-exception.yaml',
  apiCall: '06-check-images-apicall.yaml',
} as const;

/** The namespaces 02-block-unsigned-images.yaml excludes. */
const SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kyverno', 'cert-manager', 'sigil-system'];

/** A running AdmissionServer over one policy set. */
interface Served {
  readonly port: number;
  /** The webhook timeout the server derived from its policies: the apiserver's `?timeout=` and our patience. */
  readonly timeoutSeconds: number;
}

let home: string;
let registry: RunningRegistry;
let ca: string;
let tls: { cert: Buffer; key: Buffer };
let client: RegistryClient;
/** The manifest digest of all four e2e layouts (they hold the same image). */
let digest: string;
/** `host/notation/<layout>:v1` per layout, plus the image signed only by the new_e2e certificate. */
const image = { valid: '', unsigned: '', invalid: '', expired: '', newKey: '' };
const servers: AdmissionServer[] = [];
/** One server per policy set: 01, 02, 02 with 05, 03, 04 (06 cannot be loaded). */
let served: Record<'p01' | 'p02' | 'p02with05' | 'p03' | 'p04', Served>;

async function serve(files: readonly string[]): Promise<Served> {
  const { policies, exceptions } = await loadPolicyFiles(files.map((f) => join(SHARED_POLICIES, f)));
  const server = new AdmissionServer({ tls, verifyImage: createRegistryImageVerifier(client), policies: { policies, exceptions } });
  servers.push(server);
  return { port: (await server.listen(0, '127.0.0.1')).port, timeoutSeconds: server.timeoutSeconds };
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

/** POSTs as kube-apiserver does (headers, `?timeout=Ns`), giving up after the webhook timeout. */
function post(server: Served, path: string, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path: `${path}?timeout=${server.timeoutSeconds}s`,
        method: 'POST',
        ca,
        signal: AbortSignal.timeout(server.timeoutSeconds * 1000),
        headers: { 'content-type': 'application/json', accept: 'application/json, */*', 'user-agent': 'kube-apiserver-admission' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The PolicyReports the server holds for `namespace` (GET /reports). */
async function reportsOf(server: Served, namespace: string): Promise<PolicyReportView[]> {
  const reply = await new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: `/reports?namespace=${encodeURIComponent(namespace)}`, method: 'GET', ca, signal: AbortSignal.timeout(5000) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(reply.status, 200, reply.text);
  return (JSON.parse(reply.text) as { items: PolicyReportView[] }).items;
}

/** The fields of a wgpolicyk8s.io/v1alpha2 PolicyReport the tests read. */
interface PolicyReportView {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly scope?: { readonly kind: string; readonly name: string; readonly namespace?: string; readonly uid?: string };
  readonly results: ReadonlyArray<{ readonly policy: string; readonly rule: string; readonly result: string; readonly message: string }>;
}

/** Reports are recorded in the background after the answer: waits (briefly) until `found` finds one. */
async function waitForReport(server: Served, namespace: string, found: (r: PolicyReportView) => boolean): Promise<PolicyReportView> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const report = (await reportsOf(server, namespace)).find(found);
    if (report !== undefined) return report;
    assert.ok(Date.now() < deadline, `no PolicyReport in ${namespace} matched`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---------------------------------------------------------------------------------------------
// Review bodies

const fixtures = new Map<string, JsonMap>();

/** A fresh copy of a shared AdmissionReview body (or of a derived one). */
async function fixture(name: string): Promise<JsonMap> {
  let body = fixtures.get(name);
  if (body === undefined) {
    body = asMap(JSON.parse(await readFile(join(SHARED_TESTDATA, 'admission', name), 'utf8')) as Json, name);
    fixtures.set(name, body);
  }
  return structuredClone(body);
}

/** The fields of a PodSpec that hold containers. */
type ContainerField = 'initContainers' | 'containers' | 'ephemeralContainers';

/** One image for every container, or one per container field (fields not named keep theirs). */
type Images = string | Partial<Record<ContainerField, string>>;

/** The PodSpec of an object of the pod controller kinds (Kyverno autogen's paths). */
function podSpecOf(object: JsonMap): JsonMap {
  const spec = asMap(object.spec, 'spec');
  switch (object.kind) {
    case 'Pod':
      return spec;
    case 'CronJob':
      return asMap(asMap(asMap(asMap(spec.jobTemplate, 'jobTemplate').spec, 'jobTemplate.spec').template, 'template').spec, 'template.spec');
    default:
      return asMap(asMap(spec.template, 'template').spec, 'template.spec');
  }
}

function setImages(object: JsonMap, images: Images, fields: readonly ContainerField[]): void {
  const spec = podSpecOf(object);
  for (const field of fields) {
    const value = typeof images === 'string' ? images : images[field];
    const containers = spec[field];
    if (value === undefined || !Array.isArray(containers)) continue;
    for (const container of containers) asMap(container, field).image = value;
  }
}

interface Target {
  readonly images: Images;
  readonly namespace?: string;
  readonly name?: string;
}

/**
 * The review with a new uid (the apiserver sends a new one per webhook call), `images` in the
 * object (and, unchanged by the operation, in oldObject), and the namespace and name replaced in
 * the request and both objects. Everything else stays as kube-apiserver sent it.
 */
function withTarget(review: JsonMap, target: Target): JsonMap {
  const request = asMap(review.request, 'request');
  request.uid = randomUUID();
  const objects = [request.object, request.oldObject].filter(isMap);
  if (target.namespace !== undefined) {
    request.namespace = target.namespace;
    for (const o of objects) asMap(o.metadata, 'metadata').namespace = target.namespace;
  }
  if (target.name !== undefined) {
    request.name = target.name;
    for (const o of objects) asMap(o.metadata, 'metadata').name = target.name;
  }
  const [object, oldObject] = [request.object, request.oldObject];
  if (isMap(object)) setImages(object, target.images, ['initContainers', 'containers', 'ephemeralContainers']);
  // An UPDATE's old object holds the containers that already run; ephemeral ones are what is being added.
  if (isMap(oldObject)) setImages(oldObject, target.images, ['initContainers', 'containers']);
  return review;
}

async function review(name: string, target: Target): Promise<JsonMap> {
  return withTarget(await fixture(name), target);
}

function text(value: Json | undefined, what: string): string {
  assert.equal(typeof value, 'string', `${what} is not a string`);
  return value as string;
}

/**
 * pod-create-validating-stage.json (what a validating webhook sees of a CREATE: metadata.uid,
 * creationTimestamp, status Pending) for a new Pod: the apiserver gives every Pod its own uid.
 */
async function validatingStagePod(target: Target & { readonly name: string }): Promise<{ body: JsonMap; podUid: string }> {
  const body = await review('pod-create-validating-stage.json', target);
  const podUid = randomUUID();
  asMap(asMap(asMap(body.request, 'request').object, 'object').metadata, 'metadata').uid = podUid;
  return { body, podUid };
}

const uidOf = (body: JsonMap): string => text(asMap(body.request, 'request').uid, 'request.uid');

/**
 * Derived from deployment-create.json as kube-apiserver would send a `kubectl create` of the same
 * workload as another apps/v1 kind at the mutating stage: kind/resource changed, the Deployment-only
 * fields (strategy, progressDeadlineSeconds; replicas and revisionHistoryLimit where the kind has
 * none) dropped, and the kind's own defaults from kubernetes/kubernetes pkg/apis/apps/v1/defaults.go
 * added. No shared fixture exists for these kinds.
 */
async function derivedFromDeployment(kind: 'StatefulSet' | 'DaemonSet' | 'ReplicaSet'): Promise<JsonMap> {
  const body = await fixture('deployment-create.json');
  const request = asMap(body.request, 'request');
  const resource = { StatefulSet: 'statefulsets', DaemonSet: 'daemonsets', ReplicaSet: 'replicasets' }[kind];
  request.kind = request.requestKind = { group: 'apps', version: 'v1', kind };
  request.resource = request.requestResource = { group: 'apps', version: 'v1', resource };
  const object = asMap(request.object, 'object');
  object.kind = kind;
  const { replicas, selector, template, revisionHistoryLimit } = asMap(object.spec, 'spec');
  assert.ok(replicas !== undefined && selector !== undefined && template !== undefined && revisionHistoryLimit !== undefined);
  switch (kind) {
    case 'StatefulSet':
      // SetDefaults_StatefulSet: OrderedReady, RollingUpdate with partition 0, history 10, PVC retention Retain/Retain.
      object.spec = {
        replicas,
        selector,
        template,
        serviceName: text(request.name, 'request.name'),
        podManagementPolicy: 'OrderedReady',
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
        revisionHistoryLimit,
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      };
      break;
    case 'DaemonSet':
      // SetDefaults_DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0, history 10; no replicas.
      object.spec = { selector, template, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit };
      break;
    case 'ReplicaSet':
      // SetDefaults_ReplicaSet only defaults replicas; a ReplicaSet has no strategy or history limit.
      object.spec = { replicas, selector, template };
      break;
  }
  return body;
}

/**
 * Derived from cronjob-create.json as kube-apiserver would send `kubectl create` of a batch/v1 Job
 * with the CronJob's job template at the mutating stage: kind/resource changed, `spec` is the
 * template's spec plus SetDefaults_Job (kubernetes/kubernetes pkg/apis/batch/v1/defaults.go, v1.33:
 * parallelism and completions 1, backoffLimit 6, completionMode NonIndexed, suspend false,
 * podReplacementPolicy TerminatingOrFailed); no selector yet (generated in PrepareForCreate, after
 * the mutating webhooks); managedFields track the same fields under the Job's spec. No shared
 * fixture exists for Jobs.
 */
async function derivedJob(): Promise<JsonMap> {
  const body = await fixture('cronjob-create.json');
  const request = asMap(body.request, 'request');
  request.kind = request.requestKind = { group: 'batch', version: 'v1', kind: 'Job' };
  request.resource = request.requestResource = { group: 'batch', version: 'v1', resource: 'jobs' };
  const object = asMap(request.object, 'object');
  object.kind = 'Job';
  const jobTemplate = asMap(asMap(object.spec, 'spec').jobTemplate, 'jobTemplate');
  const template = asMap(jobTemplate.spec, 'jobTemplate.spec').template;
  assert.ok(template !== undefined);
  object.spec = { parallelism: 1, completions: 1, backoffLimit: 6, template, completionMode: 'NonIndexed', suspend: false, podReplacementPolicy: 'TerminatingOrFailed' };
  const metadata = asMap(object.metadata, 'metadata');
  const managed = metadata.managedFields;
  assert.ok(Array.isArray(managed));
  for (const entry of managed) {
    const fields = asMap(asMap(entry, 'managedFields[]').fieldsV1, 'fieldsV1');
    const templateFields = asMap(asMap(asMap(asMap(fields['f:spec'], 'f:spec')['f:jobTemplate'], 'f:jobTemplate')['f:spec'], 'f:jobTemplate.f:spec')['f:template'], 'f:template');
    fields['f:spec'] = { 'f:backoffLimit': {}, 'f:completionMode': {}, 'f:completions': {}, 'f:parallelism': {}, 'f:podReplacementPolicy': {}, 'f:suspend': {}, 'f:template': templateFields };
  }
  return body;
}

/**
 * pod-ephemeralcontainers-update.json (`kubectl debug`) for a Pod whose container already runs the
 * signed image pinned to its digest, with the record the mutating webhook of `admittedBy` left on
 * it when it admitted the Pod, adding a debug container running `ephemeral`.
 */
async function ephemeralReview(ephemeral: string, namespace: string, admittedBy: { policy: string; rule: string }): Promise<JsonMap> {
  const running = `${image.valid}@${digest}`;
  const body = await review('pod-ephemeralcontainers-update.json', { namespace, images: { containers: running, ephemeralContainers: ephemeral } });
  const request = asMap(body.request, 'request');
  const repository = `${image.valid.slice(0, image.valid.lastIndexOf(':'))}@${digest}`;
  for (const object of [request.object, request.oldObject]) {
    // The stored Pod's verification record, about the running image instead of the fixture's, under the policy that admitted it.
    const annotations = asMap(asMap(asMap(object, 'object').metadata, 'metadata').annotations, 'annotations');
    annotations['kyverno.io/verify-images'] = JSON.stringify({ [repository]: 'pass' });
    annotations['kyverno.io/verify-images-scoped'] = JSON.stringify({ version: 1, policies: { [`/${admittedBy.policy}`]: { [admittedBy.rule]: { [repository]: 'pass' } } } });
    const statuses = asMap(asMap(object, 'object').status, 'status').containerStatuses;
    if (!Array.isArray(statuses)) continue;
    for (const status of statuses) {
      const s = asMap(status, 'containerStatuses[]');
      s.image = repository;
      if (typeof s.imageID === 'string') s.imageID = repository;
    }
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// Answers

interface PatchOperation {
  readonly op: string;
  readonly path: string;
  readonly value?: unknown;
}

interface Answer {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code?: number; readonly message?: string; readonly status?: string };
  readonly patch?: string;
  readonly patchType?: string;
  readonly warnings?: readonly string[];
  /** The decoded JSON Patch; empty without one. */
  readonly operations: readonly PatchOperation[];
  /** status.message with YAML folding undone (newline + indentation is one space). */
  readonly message: string;
}

/**
 * Sends `body` to `path` and checks the answer as kube-apiserver's VerifyAdmissionResponse and
 * dispatchers do: 200 with an admission.k8s.io/v1 AdmissionReview, `response.uid` = `request.uid`,
 * a boolean `allowed`, patch and patchType together (JSONPatch, standard padded base64), no patch
 * from the validating webhook or on a denial, and a message on every denial.
 */
async function admit(server: Served, path: '/mutate' | '/validate', body: JsonMap): Promise<Answer> {
  const reply = await post(server, path, JSON.stringify(body));
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.contentType.split(';')[0], 'application/json');
  const envelope = asMap(JSON.parse(reply.text) as Json, 'answer');
  assert.equal(envelope.apiVersion, 'admission.k8s.io/v1');
  assert.equal(envelope.kind, 'AdmissionReview');
  const response = asMap(envelope.response, 'response') as unknown as Omit<Answer, 'operations' | 'message'>;
  assert.equal(response.uid, uidOf(body), 'response.uid must echo request.uid');
  assert.equal(typeof response.allowed, 'boolean');
  assert.equal(response.patch === undefined, response.patchType === undefined, 'patch and patchType go together');
  let operations: PatchOperation[] = [];
  if (response.patch !== undefined) {
    assert.equal(path, '/mutate', 'a validating webhook may not return response.patch');
    assert.equal(response.allowed, true, 'a patch is applied only when allowed');
    assert.equal(response.patchType, 'JSONPatch');
    assert.match(response.patch, /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
    operations = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as PatchOperation[];
    assert.ok(Array.isArray(operations));
  }
  const message = response.status?.message ?? '';
  if (!response.allowed) assert.ok(message.trim() !== '', 'a denial says why');
  return { ...response, operations, message: message.replace(/\n[ \t]+/g, ' ') };
}

/** Both webhooks' answers to the same review (each call with its own uid, as the apiserver sends them). */
async function admitBoth(server: Served, build: () => Promise<JsonMap>): Promise<{ mutate: Answer; validate: Answer }> {
  const [mutate, validate] = await Promise.all([admit(server, '/mutate', await build()), admit(server, '/validate', await build())]);
  return { mutate, validate };
}

/**
 * The review the validating webhook gets after the mutating one answered `answer`: the object with
 * the JSON Patch applied (RFC 6902 add/replace, all Sigil sends) and a new uid, as the apiserver
 * calls validating webhooks with the mutated object.
 */
function mutatedReview(body: JsonMap, answer: Answer): JsonMap {
  const next = structuredClone(body);
  const request = asMap(next.request, 'request');
  request.uid = randomUUID();
  for (const operation of answer.operations) {
    assert.ok(operation.op === 'add' || operation.op === 'replace', operation.op);
    const tokens = operation.path
      .split('/')
      .slice(1)
      .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = tokens.pop();
    assert.ok(last !== undefined);
    let at: Json | undefined = request.object;
    for (const token of tokens) at = Array.isArray(at) ? at[Number(token)] : asMap(at, operation.path)[token];
    if (Array.isArray(at)) at[Number(last)] = operation.value as Json;
    else asMap(at, operation.path)[last] = operation.value as Json;
  }
  return next;
}

/** The verification record (Kyverno's kyverno.io/verify-images, -scoped, and Sigil's sigil.dev/verified-policies), which the mutating webhook writes besides the pins. */
const RECORD_PATHS = ['/metadata/annotations', '/metadata/annotations/kyverno.io~1verify-images', '/metadata/annotations/kyverno.io~1verify-images-scoped', '/metadata/annotations/sigil.dev~1verified-policies'];

/** The operations that change the workload itself (everything but the verification record). */
function imageOperations(answer: Answer): PatchOperation[] {
  const record = answer.operations.filter((o) => RECORD_PATHS.includes(o.path));
  assert.ok(
    record.every((o) => o.op === 'add' || o.op === 'replace'),
    JSON.stringify(record),
  );
  return answer.operations.filter((o) => !RECORD_PATHS.includes(o.path));
}

/** The unscoped record the patch writes (image@digest → pass|fail|skip), if it writes one. */
function recordOf(answer: Answer): Record<string, string> | undefined {
  const value = answer.operations.find((o) => o.path === '/metadata/annotations/kyverno.io~1verify-images')?.value;
  return typeof value === 'string' ? (JSON.parse(value) as Record<string, string>) : undefined;
}

/** Admitted with no patch at all and no warnings: not matched, or the validating webhook's answer. */
function assertAdmittedUnchanged(answer: Answer, what: string): void {
  assert.equal(answer.allowed, true, `${what}: ${answer.message}`);
  assert.deepEqual(answer.operations, [], `${what}: no patch`);
  assert.deepEqual(answer.warnings ?? [], [], `${what}: no warnings`);
}

/**
 * The answer pins exactly the images at `paths` to the e2e digest: `replace` with `<image>@sha256:…`,
 * as Kyverno's makeAddDigestPatch; a verification record, if written, says each pinned image passed.
 */
function assertPinned(answer: Answer, pins: Readonly<Record<string, string>>): void {
  assert.equal(answer.allowed, true, answer.message);
  const expected = Object.entries(pins).map(([path, tagged]) => ({ op: 'replace', path, value: `${tagged}@${digest}` }));
  const byPath = (a: PatchOperation, b: PatchOperation) => a.path.localeCompare(b.path);
  assert.deepEqual(imageOperations(answer).sort(byPath), expected.sort(byPath));
  const record = recordOf(answer);
  if (record !== undefined) for (const tagged of Object.values(pins)) assert.equal(record[`${tagged.slice(0, tagged.lastIndexOf(':'))}@${digest}`], 'pass', JSON.stringify(record));
  assert.deepEqual(answer.warnings ?? [], []);
}

function assertDenied(answer: Answer, resource: string, policyRule: RegExp, reason: RegExp): void {
  assert.equal(answer.allowed, false, `expected a denial of ${resource}`);
  assert.deepEqual(answer.operations, []);
  assert.ok(answer.message.includes(`resource ${resource} was blocked due to the following policies`), answer.message);
  assert.match(answer.message, policyRule);
  assert.match(answer.message, reason);
}

const NO_SIGNATURE = /no signature is associated with/;

// ---------------------------------------------------------------------------------------------

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-policies-e2e-'));
  const env = { env: { SIGIL_CONFIG: join(home, 'sigil'), DOCKER_CONFIG: join(home, 'docker') } };
  const layouts = { valid: 'e2e-valid-signature', unsigned: 'e2e', invalid: 'e2e-invalid-signature', expired: 'e2e-expired-signature' } as const;
  const [started, index] = await Promise.all([
    startDockerRegistry(),
    readFile(join(NOTATION_LAYOUTS, 'e2e', 'index.json'), 'utf8'),
    ...Object.values(layouts).map((layout) => copyWritable(join(NOTATION_LAYOUTS, layout), join(home, layout))),
    // e2e.key's public key is also new_e2e.crt's: a signature by that key carrying new_e2e.crt as
    // its chain is "signed only by the new_e2e key" for policy 03's trust anchors.
    runSigil(['key', 'add', 'new_e2e', '--key-file', join(NOTATION_E2E, 'config/localkeys/e2e.key'), '--cert-file', join(NOTATION_E2E, 'config/localkeys/new_e2e.crt')], env).then(ok),
  ]);
  registry = started;
  const manifests = (JSON.parse(index) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> }).manifests;
  digest = manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'v1')?.digest ?? '';
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  for (const [key, layout] of Object.entries(layouts)) image[key as keyof typeof layouts] = `${registry.host}/notation/${layout}:v1`;
  image.newKey = `${registry.host}/notation/e2e-new-e2e-signature:v1`;
  await Promise.all([
    ...Object.entries(layouts).map(([key, layout]) => runSigil(['cp', '-r', '--from-oci-layout', `${join(home, layout)}:v1`, image[key as keyof typeof layouts]], env).then(ok)),
    runSigil(['cp', '--from-oci-layout', `${join(home, 'e2e')}:v1`, image.newKey], env)
      .then(ok)
      .then(() => runSigil(['sign', '-k', 'new_e2e', `${image.newKey.slice(0, image.newKey.lastIndexOf(':'))}@${digest}`], env))
      .then(ok),
  ]);
  const material = await ensureTlsDir(join(home, 'tls'), new Date());
  tls = { cert: material.cert, key: material.key };
  ca = await readFile(join(home, 'tls', TLS_DIR_FILES.ca), 'utf8');
  client = new RegistryClient({});
  const [p01, p02, p02with05, p03, p04] = await Promise.all([
    serve([POLICY.checkImageNotary]),
    serve([POLICY.blockUnsigned]),
    serve([POLICY.blockUnsigned, POLICY.exception]),
    serve([POLICY.byEnvironment]),
    serve([POLICY.audit]),
  ]);
  served = { p01, p02, p02with05, p03, p04 };
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await registry?.stop();
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

describe('01-check-image-notary.yaml', () => {
  const pod = (images: Images, namespace = 'test-notation') => () => review('pod-create.json', { namespace, images });
  const rule = /check-image: check-digest: /;

  it('admits the valid-signature Pod in test-notation on /mutate, pinning its image to the digest', async () => {
    const answer = await admit(served.p01, '/mutate', await pod(image.valid)());
    assertPinned(answer, { '/spec/containers/0/image': image.valid });
  });

  it('admits the valid-signature Pod in test-notation on /validate, tag-only, pinned, and as /mutate left it', async () => {
    const body = await pod(image.valid)();
    const mutated = mutatedReview(body, await admit(served.p01, '/mutate', body));
    const [tagged, pinned, asMutated] = await Promise.all([
      admit(served.p01, '/validate', await pod(image.valid)()),
      admit(served.p01, '/validate', await pod(`${image.valid}@${digest}`)()),
      admit(served.p01, '/validate', mutated),
    ]);
    assertAdmittedUnchanged(tagged, 'tag only');
    assertAdmittedUnchanged(pinned, 'pinned');
    assertAdmittedUnchanged(asMutated, 'as mutated');
  });

  it('denies the unsigned Pod in test-notation, saying no signature is associated with the image', async () => {
    const { mutate, validate } = await admitBoth(served.p01, pod(image.unsigned));
    for (const answer of [mutate, validate]) assertDenied(answer, 'Pod/test-notation/echo-pod', rule, NO_SIGNATURE);
    assert.ok(mutate.message.includes(image.unsigned), mutate.message);
  });

  it('denies the invalid-signature Pod in test-notation for integrity', async () => {
    const { mutate, validate } = await admitBoth(served.p01, pod(image.invalid));
    for (const answer of [mutate, validate]) assertDenied(answer, 'Pod/test-notation/echo-pod', rule, /integrity/i);
  });

  it('does not match Pods in other namespaces: unsigned admitted, signed not patched', async () => {
    const answers = await Promise.all([
      ...(['/mutate', '/validate'] as const).map(async (path) => admit(served.p01, path, await pod(image.unsigned, 'colin-coder')())),
      admit(served.p01, '/mutate', await pod(image.valid, 'default')()),
    ]);
    answers.forEach((answer, i) => assertAdmittedUnchanged(answer, `request ${i}`));
  });
});

describe('02-block-unsigned-images.yaml', () => {
  const rule = /block-unsigned-images: check-image-signature: /;

  it('admits the valid-signature Pod in an ordinary namespace, pinned on /mutate', async () => {
    const { mutate, validate } = await admitBoth(served.p02, () => review('pod-create.json', { images: image.valid }));
    assertPinned(mutate, { '/spec/containers/0/image': image.valid });
    assertAdmittedUnchanged(validate, '/validate');
  });

  for (const [what, key, reason] of [
    ['unsigned', 'unsigned', NO_SIGNATURE],
    ['invalid-signature', 'invalid', /integrity/i],
    ['expired-signature', 'expired', /expir/i],
  ] as const) {
    it(`denies the ${what} Pod in an ordinary namespace`, async () => {
      const { mutate, validate } = await admitBoth(served.p02, () => review('pod-create.json', { images: image[key] }));
      for (const answer of [mutate, validate]) assertDenied(answer, 'Pod/colin-coder/echo-pod', rule, reason);
    });
  }

  it(`does not check ${SYSTEM_NAMESPACES.join(', ')}`, async () => {
    const answers = await Promise.all(
      SYSTEM_NAMESPACES.flatMap((namespace) => (['/mutate', '/validate'] as const).map(async (path) => ({ namespace, path, answer: await admit(served.p02, path, await review('pod-create.json', { namespace, images: image.unsigned })) }))),
    );
    for (const { namespace, path, answer } of answers) assertAdmittedUnchanged(answer, `${namespace} ${path}`);
  });

  const controllers: Array<{ kind: string; build: () => Promise<JsonMap>; name: string; namespace: string; path: string; rule: RegExp }> = [
    { kind: 'Deployment', build: () => fixture('deployment-create.json'), name: 'lower', namespace: 'pepr-demo', path: '/spec/template/spec/containers/0/image', rule: /block-unsigned-images: autogen-check-image-signature: / },
    { kind: 'StatefulSet', build: () => derivedFromDeployment('StatefulSet'), name: 'lower', namespace: 'pepr-demo', path: '/spec/template/spec/containers/0/image', rule: /block-unsigned-images: autogen-check-image-signature: / },
    { kind: 'DaemonSet', build: () => derivedFromDeployment('DaemonSet'), name: 'lower', namespace: 'pepr-demo', path: '/spec/template/spec/containers/0/image', rule: /block-unsigned-images: autogen-check-image-signature: / },
    { kind: 'ReplicaSet', build: () => derivedFromDeployment('ReplicaSet'), name: 'lower', namespace: 'pepr-demo', path: '/spec/template/spec/containers/0/image', rule: /block-unsigned-images: autogen-check-image-signature: / },
    { kind: 'Job', build: derivedJob, name: 'hello', namespace: 'default', path: '/spec/template/spec/containers/0/image', rule: /block-unsigned-images: autogen-check-image-signature: / },
    { kind: 'CronJob', build: () => fixture('cronjob-create.json'), name: 'hello', namespace: 'default', path: '/spec/jobTemplate/spec/template/spec/containers/0/image', rule: /block-unsigned-images: autogen-cronjob-check-image-signature: / },
  ];
  for (const c of controllers) {
    it(`covers a ${c.kind} by autogen: unsigned denied, signed pinned at ${c.path}`, async () => {
      const [deniedMutate, deniedValidate, admitted, validated] = await Promise.all([
        c.build().then((b) => admit(served.p02, '/mutate', withTarget(b, { images: image.unsigned }))),
        c.build().then((b) => admit(served.p02, '/validate', withTarget(b, { images: image.unsigned }))),
        c.build().then((b) => admit(served.p02, '/mutate', withTarget(b, { images: image.valid }))),
        c.build().then((b) => admit(served.p02, '/validate', withTarget(b, { images: image.valid }))),
      ]);
      for (const answer of [deniedMutate, deniedValidate]) assertDenied(answer, `${c.kind}/${c.namespace}/${c.name}`, c.rule, NO_SIGNATURE);
      assertPinned(admitted, { [c.path]: image.valid });
      assertAdmittedUnchanged(validated, `${c.kind} /validate`);
      const signed = withTarget(await c.build(), { images: image.valid });
      assertAdmittedUnchanged(await admit(served.p02, '/validate', mutatedReview(signed, await admit(served.p02, '/mutate', signed))), `${c.kind} /validate as mutated`);
    });
  }
});

describe('03-verify-images-by-environment.yaml', () => {
  const pod = (images: string, namespace: string) => () => review('pod-create.json', { namespace, images });

  it('admits the valid-signature Pod in production and in staging, pinned on /mutate', async () => {
    const [production, staging] = await Promise.all([admitBoth(served.p03, pod(image.valid, 'production')), admitBoth(served.p03, pod(image.valid, 'staging'))]);
    for (const { mutate, validate } of [production, staging]) {
      assertPinned(mutate, { '/spec/containers/0/image': image.valid });
      assertAdmittedUnchanged(validate, '/validate');
    }
  });

  it('denies in production a Pod whose image is signed only by the new_e2e key', async () => {
    const { mutate, validate } = await admitBoth(served.p03, pod(image.newKey, 'production'));
    for (const answer of [mutate, validate]) assertDenied(answer, 'Pod/production/echo-pod', /verify-images-by-environment: verify-production-images: /, /authenticity|trust/i);
  });

  it('admits in staging a Pod whose image is signed only by the new_e2e key (count 1 of e2e.crt, new_e2e.crt)', async () => {
    const body = await pod(image.newKey, 'staging')();
    const mutate = await admit(served.p03, '/mutate', body);
    assertPinned(mutate, { '/spec/containers/0/image': image.newKey });
    const [validate, asMutated] = await Promise.all([admit(served.p03, '/validate', await pod(image.newKey, 'staging')()), admit(served.p03, '/validate', mutatedReview(body, mutate))]);
    assertAdmittedUnchanged(validate, '/validate');
    assertAdmittedUnchanged(asMutated, '/validate as mutated');
  });

  it('denies the unsigned Pod in production and in staging', async () => {
    const [production, staging] = await Promise.all([admitBoth(served.p03, pod(image.unsigned, 'production')), admitBoth(served.p03, pod(image.unsigned, 'staging'))]);
    for (const answer of [production.mutate, production.validate]) assertDenied(answer, 'Pod/production/echo-pod', /verify-production-images: /, NO_SIGNATURE);
    for (const answer of [staging.mutate, staging.validate]) assertDenied(answer, 'Pod/staging/echo-pod', /verify-staging-images: /, NO_SIGNATURE);
  });

  it('does not match Pods outside production and staging', async () => {
    const { mutate, validate } = await admitBoth(served.p03, pod(image.unsigned, 'dev'));
    assertAdmittedUnchanged(mutate, '/mutate');
    assertAdmittedUnchanged(validate, '/validate');
  });
});

describe('04-audit-mode.yaml', () => {
  const pod = (images: string, namespace = 'dev') => () => review('pod-create.json', { namespace, images });
  const warning = (text: RegExp) => new RegExp(`^policy audit-image-signatures\\.audit-signatures: .*${text.source}`, text.flags);

  it('admits the unsigned Pod in dev, warning that the audit rule failed', async () => {
    const { mutate, validate } = await admitBoth(served.p04, pod(image.unsigned));
    for (const answer of [mutate, validate]) {
      assert.equal(answer.allowed, true, answer.message);
      assert.deepEqual(imageOperations(answer), [], 'mutateDigest: false');
      assert.equal(answer.warnings?.length, 1, JSON.stringify(answer.warnings));
      assert.match(answer.warnings?.[0] ?? '', warning(NO_SIGNATURE));
      assert.ok(answer.warnings?.[0]?.includes(image.unsigned));
    }
  });

  it('blocks nothing in dev: invalid and expired signatures are admitted with a warning too', async () => {
    const answers = await Promise.all([admitBoth(served.p04, pod(image.invalid)), admitBoth(served.p04, pod(image.expired))]);
    for (const { mutate, validate } of answers) {
      for (const answer of [mutate, validate]) {
        assert.equal(answer.allowed, true, answer.message);
        assert.deepEqual(imageOperations(answer), [], 'mutateDigest: false');
        assert.match(answer.warnings?.[0] ?? '', warning(/failed to verify image/));
      }
    }
  });

  it('admits the valid-signature Pod in dev with no warning and no digest pin (mutateDigest: false)', async () => {
    const { mutate, validate } = await admitBoth(served.p04, pod(image.valid));
    assert.equal(mutate.allowed, true, mutate.message);
    assert.deepEqual(imageOperations(mutate), []);
    assert.deepEqual(mutate.warnings ?? [], []);
    assertAdmittedUnchanged(validate, '/validate');
  });

  it('records a PolicyReport result "fail" for the unsigned Pod and "pass" for the signed one, naming the Pod', async () => {
    const [unsigned, signed] = await Promise.all([validatingStagePod({ namespace: 'dev', name: 'audit-unsigned', images: image.unsigned }), validatingStagePod({ namespace: 'dev', name: 'audit-signed', images: image.valid })]);
    const answers = await Promise.all([admit(served.p04, '/validate', unsigned.body), admit(served.p04, '/validate', signed.body)]);
    for (const answer of answers) assert.equal(answer.allowed, true, answer.message);
    for (const [pod, result] of [
      [unsigned, 'fail'],
      [signed, 'pass'],
    ] as const) {
      const report = await waitForReport(served.p04, 'dev', (r) => r.scope?.uid === pod.podUid);
      assert.equal(report.apiVersion, 'wgpolicyk8s.io/v1alpha2');
      assert.equal(report.kind, 'PolicyReport');
      assert.equal(report.metadata.namespace, 'dev');
      assert.deepEqual({ kind: report.scope?.kind, name: report.scope?.name, namespace: report.scope?.namespace }, { kind: 'Pod', name: pod === unsigned ? 'audit-unsigned' : 'audit-signed', namespace: 'dev' });
      assert.deepEqual(
        report.results.map((r) => [r.policy, r.rule, r.result]),
        [['audit-image-signatures', 'audit-signatures', result]],
      );
    }
  });

  it('does not match Pods outside dev', async () => {
    const { mutate, validate } = await admitBoth(served.p04, pod(image.unsigned, 'default'));
    assertAdmittedUnchanged(mutate, '/mutate');
    assertAdmittedUnchanged(validate, '/validate');
  });
});

describe('05-policy-exception.yaml with 02-block-unsigned-images.yaml', () => {
  const pod = (name: string, namespace: string) => () => review('pod-create.json', { namespace, name, images: image.unsigned });

  it('admits emergency-debug-pod in production with the unsigned image', async () => {
    const { mutate, validate } = await admitBoth(served.p02with05, pod('emergency-debug-pod', 'production'));
    assertAdmittedUnchanged(mutate, '/mutate');
    assertAdmittedUnchanged(validate, '/validate');
  });

  it('still denies any other Pod name in production with the same image', async () => {
    const { mutate, validate } = await admitBoth(served.p02with05, pod('debug-pod', 'production'));
    for (const answer of [mutate, validate]) assertDenied(answer, 'Pod/production/debug-pod', /block-unsigned-images: check-image-signature: /, NO_SIGNATURE);
  });

  it('still denies emergency-debug-pod outside production', async () => {
    const { mutate, validate } = await admitBoth(served.p02with05, pod('emergency-debug-pod', 'staging'));
    for (const answer of [mutate, validate]) assertDenied(answer, 'Pod/staging/emergency-debug-pod', /block-unsigned-images: check-image-signature: /, NO_SIGNATURE);
  });
});

describe('06-check-images-apicall.yaml', () => {
  it('is refused at load, naming the file and the unsupported context (apiCall) field', async () => {
    const file = join(SHARED_POLICIES, POLICY.apiCall);
    await assert.rejects(loadPolicyFiles([file]), (error: unknown) => {
      assert.ok(error instanceof PolicyError, String(error));
      assert.equal(error.code, 'POLICY_UNSUPPORTED');
      assert.ok(error.message.startsWith(`${file}: spec.rules[0].context: `), error.message);
      assert.match(error.message, /apiCall/);
      assert.deepEqual(
        error.problems.map((p) => [p.source, p.path, p.severity]),
        [
          [file, 'spec.rules[0].context', 'unsupported'],
          [file, 'spec.rules[0].validate', 'unsupported'],
        ],
      );
      return true;
    });
  });

  /** What Kyverno POSTs for policy 06: `{"images": request.object.spec.[ephemeralContainers, initContainers, containers][].image}`. */
  const apiCallBody = (body: JsonMap): string => {
    const spec = asMap(asMap(asMap(body.request, 'request').object, 'object').spec, 'spec');
    const images = (['ephemeralContainers', 'initContainers', 'containers'] as const).flatMap((f) => (Array.isArray(spec[f]) ? spec[f] : [])).map((c) => asMap(c, 'container').image);
    return JSON.stringify({ images });
  };

  it('has /checkimages answer its request body with verified true for signed images and false for unsigned', async () => {
    const signed = await review('pod-create-statefulset-controller.json', { images: image.valid });
    const mixed = await review('pod-create-statefulset-controller.json', { images: { initContainers: image.valid, containers: image.unsigned } });
    const ephemeral = await ephemeralReview(image.unsigned, 'test-notation', { policy: 'check-image', rule: 'check-digest' });
    const [a, b, c] = await Promise.all([signed, mixed, ephemeral].map(async (body) => post(served.p01, '/checkimages', apiCallBody(body))));
    const decoded = [a, b, c].map((reply) => {
      assert.equal(reply?.status, 200, reply?.text);
      return JSON.parse(reply?.text ?? '') as { verified: unknown; results: Array<{ image: string; verified: boolean; message: string }> };
    });
    assert.deepEqual(
      decoded.map((d) => d.verified),
      [true, false, false],
    );
    assert.deepEqual(
      decoded[1]?.results.map((r) => [r.image, r.verified]),
      [
        [image.valid, true],
        [image.unsigned, false],
      ],
    );
    assert.match(decoded[1]?.results[1]?.message ?? '', NO_SIGNATURE);
    assert.deepEqual(
      decoded[2]?.results.map((r) => [r.image, r.verified]),
      [
        [image.unsigned, false],
        [`${image.valid}@${digest}`, true],
      ],
    );
  });
});

describe('across the Enforce policies', () => {
  // Each Enforce policy that checks Pods, with a namespace it covers and its rule.
  const enforcing = [
    { policy: '01', server: () => served.p01, namespace: 'test-notation', admittedBy: { policy: 'check-image', rule: 'check-digest' } },
    { policy: '02', server: () => served.p02, namespace: 'default', admittedBy: { policy: 'block-unsigned-images', rule: 'check-image-signature' } },
    { policy: '03', server: () => served.p03, namespace: 'production', admittedBy: { policy: 'verify-images-by-environment', rule: 'verify-production-images' } },
  ];

  for (const { policy, server, namespace, admittedBy } of enforcing) {
    const rule = new RegExp(`${admittedBy.policy}: ${admittedBy.rule}: `);
    it(`${policy}: checks initContainers (pod-create-statefulset-controller.json)`, async () => {
      const build = (images: Images) => review('pod-create-statefulset-controller.json', { namespace, images });
      const [denied, admitted] = await Promise.all([
        admitBoth(server(), () => build({ initContainers: image.unsigned, containers: image.valid })),
        admit(server(), '/mutate', await build(image.valid)),
      ]);
      for (const answer of [denied.mutate, denied.validate]) {
        assertDenied(answer, `Pod/${namespace}/elasticsearch-master-0`, rule, NO_SIGNATURE);
        assert.ok(answer.message.includes(image.unsigned), answer.message);
      }
      assertPinned(admitted, { '/spec/initContainers/0/image': image.valid, '/spec/containers/0/image': image.valid });
    });

    it(`${policy}: checks ephemeralContainers added by kubectl debug (pods/ephemeralcontainers UPDATE)`, async () => {
      const [denied, admitted] = await Promise.all([admitBoth(server(), () => ephemeralReview(image.unsigned, namespace, admittedBy)), admitBoth(server(), () => ephemeralReview(image.valid, namespace, admittedBy))]);
      for (const answer of [denied.mutate, denied.validate]) assertDenied(answer, `Pod/${namespace}/web-5f7b9c8d4b-x2v9k`, rule, NO_SIGNATURE);
      // The running container is already pinned; only the debug container's image is.
      assertPinned(admitted.mutate, { '/spec/ephemeralContainers/0/image': image.valid });
      assertAdmittedUnchanged(admitted.validate, '/validate');
    });

    it(`${policy}: checks a Pod UPDATE (pod-update.json) like a CREATE`, async () => {
      const build = (images: string) => () => review('pod-update.json', { namespace, images });
      const [denied, admitted] = await Promise.all([admitBoth(server(), build(image.unsigned)), admitBoth(server(), build(image.valid))]);
      for (const answer of [denied.mutate, denied.validate]) assertDenied(answer, `Pod/${namespace}/hello-world`, rule, NO_SIGNATURE);
      assertPinned(admitted.mutate, { '/spec/containers/0/image': image.valid });
      assertAdmittedUnchanged(admitted.validate, '/validate');
    });
  }

  it('02: re-verifies a Pod UPDATE whose stored verification record was written under another policy', async () => {
    // The stored Pod claims its (unsigned, digest-pinned) image passed policy 01's rule; policy 02 has not checked it.
    const pinned = `${image.unsigned}@${digest}`;
    const key = `${image.unsigned.slice(0, image.unsigned.lastIndexOf(':'))}@${digest}`;
    const build = async () => {
      const body = await review('pod-update.json', { images: pinned });
      const request = asMap(body.request, 'request');
      for (const object of [request.object, request.oldObject]) {
        const annotations = asMap(asMap(object, 'object').metadata, 'metadata').annotations;
        Object.assign(asMap(annotations, 'annotations'), {
          'kyverno.io/verify-images': JSON.stringify({ [key]: 'pass' }),
          'kyverno.io/verify-images-scoped': JSON.stringify({ version: 1, policies: { '/check-image': { 'check-digest': { [key]: 'pass' } } } }),
        });
      }
      return body;
    };
    const { mutate, validate } = await admitBoth(served.p02, build);
    for (const answer of [mutate, validate]) assert.equal(answer.allowed, false, answer.message);
    assertDenied(mutate, 'Pod/default/hello-world', /block-unsigned-images: check-image-signature: /, NO_SIGNATURE);
  });

  /** The registry's repositories and their tags (signatures live under referrers-schema tags on docker-registry). */
  const registryState = async (): Promise<unknown> => {
    const catalog = (await (await fetch(`http://${registry.host}/v2/_catalog`)).json()) as { repositories: string[] };
    const tags = await Promise.all(catalog.repositories.map(async (r) => [r, ((await (await fetch(`http://${registry.host}/v2/${r}/tags/list`)).json()) as { tags: string[] }).tags.sort()]));
    return { repositories: catalog.repositories.sort(), tags: Object.fromEntries(tags) as unknown };
  };

  it('gives a dry-run CREATE (pod-create-dryrun.json) the same decision as the real one, with no side effects', async () => {
    const before = await registryState();
    const dryRun = (images: string) => review('pod-create-dryrun.json', { images });
    const real = async (images: string) => {
      const body = await dryRun(images);
      const request = asMap(body.request, 'request');
      request.dryRun = false;
      delete asMap(request.options, 'options').dryRun;
      return body;
    };
    const cases = ['/mutate', '/validate'].flatMap((path) => [image.unsigned, image.valid].map((images) => ({ path: path as '/mutate' | '/validate', images })));
    const answers = await Promise.all(
      cases.map(async ({ path, images }) => {
        const [d, r] = await Promise.all([admit(served.p02, path, await dryRun(images)), admit(served.p02, path, await real(images))]);
        return { path, images, dry: d, real: r };
      }),
    );
    for (const { path, images, dry, real: r } of answers) {
      const { uid: _d, ...dryAnswer } = dry;
      const { uid: _r, ...realAnswer } = r;
      assert.deepEqual(dryAnswer, realAnswer, `${path} ${images}`);
      if (images === image.unsigned) assertDenied(dry, 'Pod/default/test', /block-unsigned-images: check-image-signature: /, NO_SIGNATURE);
      else if (path === '/mutate') assertPinned(dry, { '/spec/containers/0/image': image.valid });
      else assertAdmittedUnchanged(dry, '/validate');
    }
    assert.deepEqual(await registryState(), before, 'the registry is unchanged');
  });

  it('records no PolicyReport for an admitted dry-run CREATE, and one for the same CREATE without dry run', async () => {
    const dryRun = await review('pod-create-dryrun.json', { name: 'dry-run-only', images: image.valid });
    assert.equal(asMap(dryRun.request, 'request').dryRun, true);
    assert.equal((await admit(served.p02, '/validate', dryRun)).allowed, true);
    const real = await review('pod-create-dryrun.json', { name: 'really-created', images: image.valid });
    const request = asMap(real.request, 'request');
    request.dryRun = false;
    delete asMap(request.options, 'options').dryRun;
    assert.equal((await admit(served.p02, '/validate', real)).allowed, true);
    // Recorded in order in the background: once the real one's report is there, the dry run's would be too.
    await waitForReport(served.p02, 'default', (r) => r.scope?.name === 'really-created');
    assert.deepEqual((await reportsOf(served.p02, 'default')).filter((r) => r.scope?.name === 'dry-run-only'), []);
  });

  it("echoes each request's uid, also the fixtures' own and under concurrency", async () => {
    const bodies = await Promise.all(
      ['pod-create.json', 'pod-create-dryrun.json', 'pod-update.json', 'pod-create-statefulset-controller.json', 'deployment-create.json', 'cronjob-create.json', 'pod-ephemeralcontainers-update.json'].map(async (name) => {
        const body = await review(name, { images: image.valid });
        // The uid kube-apiserver sent in the fixture, kept as is.
        asMap(body.request, 'request').uid = uidOf(await fixture(name));
        return body;
      }),
    );
    // admit() checks response.uid against each body's uid, the apiVersion and kind.
    const answers = await Promise.all(bodies.flatMap((body) => (['/mutate', '/validate'] as const).map((path) => admit(served.p02, path, body))));
    assert.equal(answers.length, bodies.length * 2);
    assert.ok(answers.every((a) => a.allowed));
    assert.equal(answers[0]?.uid, '0c9a8d74-9cb7-44dd-b98e-09fd62def2f4');
  });
});
