import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SHARED_TESTDATA } from '../../test/support/shared.js';
import { ReviewError } from './errors.js';
import type { AdmissionErrorCode } from './errors.js';
import {
  MAX_ADMISSION_REVIEW_BYTES,
  MAX_ADMISSION_REVIEW_DEPTH,
  decodeAdmissionReview,
  denyMessage,
  encodeAdmissionResponse,
  requestSummary,
} from './review.js';
import type { AdmissionPatchOperation, AdmissionRequest } from './review.js';

const DIR = join(SHARED_TESTDATA, 'admission');
const JSON_TYPE = 'application/json';
const REQUEST_FILES = readdirSync(DIR).filter((f) => f.endsWith('.json') && !f.startsWith('response-'));

function bytes(file: string): Buffer {
  return readFileSync(join(DIR, file));
}

function fixture(file: string): Record<string, unknown> {
  return JSON.parse(bytes(file).toString()) as Record<string, unknown>;
}

function decodeFile(file: string): AdmissionRequest {
  return decodeAdmissionReview(bytes(file), JSON_TYPE);
}

function decodeText(text: string, contentType: string | undefined = JSON_TYPE): AdmissionRequest {
  return decodeAdmissionReview(Buffer.from(text), contentType);
}

/** Marks a field to delete in `edited`. */
const REMOVE = Symbol('remove');

/** `review` with each dotted path set to its value (or deleted), serialized. */
function edited(review: Record<string, unknown>, edits: Record<string, unknown>): string {
  const copy = structuredClone(review);
  for (const [path, value] of Object.entries(edits)) {
    const keys = path.split('.');
    const last = keys.pop() ?? '';
    let target = copy;
    for (const key of keys) target = target[key] as Record<string, unknown>;
    if (value === REMOVE) delete target[last];
    else target[last] = value;
  }
  return JSON.stringify(copy);
}

/** pod-create.json with `edits` applied (see `edited`). */
function podCreateWith(edits: Record<string, unknown>): string {
  return edited(fixture('pod-create.json'), edits);
}

/** The parts of a response fixture the tests read. */
interface ResponseReview {
  readonly kind: string;
  readonly apiVersion: string;
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly patch?: string;
    readonly patchType?: string;
    readonly status?: { readonly message?: string; readonly code?: number };
    readonly warnings?: string[];
    readonly auditAnnotations?: Record<string, string>;
  };
}

function responseFixture(file: string): ResponseReview {
  return fixture(file) as unknown as ResponseReview;
}

function assertReviewError(run: () => unknown, code: AdmissionErrorCode, message: RegExp): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof ReviewError, `expected ReviewError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    assert.doesNotMatch(e.message, /\n/, 'messages are one line');
    return true;
  });
}

function responseOf(encoded: Uint8Array): ResponseReview {
  return JSON.parse(Buffer.from(encoded).toString()) as ResponseReview;
}

function patchOf(review: ResponseReview): AdmissionPatchOperation[] {
  return JSON.parse(Buffer.from(review.response.patch ?? '', 'base64').toString()) as AdmissionPatchOperation[];
}

describe('decodeAdmissionReview', () => {
  for (const file of REQUEST_FILES.filter((f) => f !== 'all-fields-roundtrip.json')) {
    it(`decodes ${file} and keeps uid, kind, operation and names as sent`, () => {
      const raw = (fixture(file).request ?? {}) as Record<string, unknown>;
      const request = decodeFile(file);
      assert.equal(request.uid, raw.uid);
      assert.deepEqual(request.kind, raw.kind);
      assert.deepEqual(request.resource, raw.resource);
      assert.equal(request.operation, raw.operation);
      assert.equal(request.dryRun, raw.dryRun ?? false);
      assert.equal(request.name, raw.name ?? '');
      assert.equal(request.namespace, raw.namespace ?? '');
      assert.deepEqual(request.object, raw.object ?? null);
      assert.deepEqual(request.oldObject, raw.oldObject ?? null);
    });
  }

  it('decodes a kubectl apply Pod CREATE from GKE with userInfo.extra and CreateOptions', () => {
    const request = decodeFile('pod-create.json');
    assert.equal(request.uid, '0c9a8d74-9cb7-44dd-b98e-09fd62def2f4');
    assert.deepEqual(request.kind, { group: '', version: 'v1', kind: 'Pod' });
    assert.equal(request.operation, 'CREATE');
    assert.equal(request.name, 'echo-pod');
    assert.equal(request.namespace, 'colin-coder');
    assert.equal(request.subResource, '');
    assert.equal(request.userInfo.username, 'colin@coder.com');
    assert.deepEqual(request.userInfo.groups, ['system:authenticated']);
    assert.deepEqual(request.userInfo.extra['iam.gke.io/user-assertion'], ['REDACTED']);
    assert.equal(request.oldObject, null);
    assert.equal(request.options?.kind, 'CreateOptions');
  });

  it('reports dryRun from a server-side dry run', () => {
    const request = decodeFile('pod-create-dryrun.json');
    assert.equal(request.dryRun, true);
    assert.deepEqual(request.options?.dryRun, ['All']);
  });

  it('decodes a DELETE with a null object and the stored oldObject', () => {
    const request = decodeFile('pod-delete.json');
    assert.equal(request.operation, 'DELETE');
    assert.equal(request.object, null);
    assert.equal((request.oldObject?.metadata as Record<string, unknown>).name, 'web-5f7b9c8d4b-x2v9k');
  });

  it('decodes a scale subresource UPDATE whose kind is autoscaling/v1 Scale on apps/v1 deployments', () => {
    const request = decodeFile('deployment-scale-update.json');
    assert.deepEqual(request.kind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
    assert.deepEqual(request.resource, { group: 'apps', version: 'v1', resource: 'deployments' });
    assert.equal(request.subResource, 'scale');
    assert.equal(request.requestSubResource, 'scale');
  });

  it('decodes an ephemeralcontainers UPDATE as kind Pod with its subresource', () => {
    const request = decodeFile('pod-ephemeralcontainers-update.json');
    assert.equal(request.kind.kind, 'Pod');
    assert.equal(request.operation, 'UPDATE');
    assert.equal(request.subResource, 'ephemeralcontainers');
  });

  it('decodes a cluster-scoped CREATE with namespace ""', () => {
    const request = decodeFile('clusterrole-create.json');
    assert.equal(request.namespace, '');
    assert.equal(request.kind.kind, 'ClusterRole');
  });

  it('decodes the mutating stage of a generateName CREATE with name ""', () => {
    const request = decodeFile('pod-create-generatename.json');
    assert.equal(request.name, '');
    assert.equal(request.uid, 'f29a901a-9b22-4f6e-90bf-470b6479a3e2');
  });

  it('decodes a hand-trimmed body without userInfo as an empty UserInfo', () => {
    const request = decodeFile('cronjob-create-trimmed.json');
    assert.deepEqual(request.userInfo, { username: '', groups: [], extra: {} });
    assert.equal(request.name, 'k8tz');
  });

  it('rejects the all-fields schema fixture for its placeholder operation, and decodes every field once it is real', () => {
    assertReviewError(() => decodeFile('all-fields-roundtrip.json'), 'REVIEW_INVALID', /request\.operation.*"operationValue"/);
    const review = fixture('all-fields-roundtrip.json');
    const raw = review.request as Record<string, unknown>;
    const request = decodeText(edited(review, { 'request.operation': 'CONNECT' }));
    assert.deepEqual(request, {
      uid: 'uidValue',
      kind: raw.kind,
      resource: raw.resource,
      subResource: 'subResourceValue',
      requestKind: raw.requestKind,
      requestResource: raw.requestResource,
      requestSubResource: 'requestSubResourceValue',
      name: 'nameValue',
      namespace: 'namespaceValue',
      operation: 'CONNECT',
      userInfo: { username: 'usernameValue', uid: 'uidValue', groups: ['groupsValue'], extra: { extraKey: ['extraValue'] } },
      object: raw.object,
      oldObject: raw.oldObject,
      dryRun: true,
      options: raw.options,
    });
  });

  it('defaults requestKind, requestResource and requestSubResource to kind, resource and subResource', () => {
    const request = decodeText(
      podCreateWith({ 'request.requestKind': REMOVE, 'request.requestResource': REMOVE, 'request.subResource': 'status' }),
    );
    assert.deepEqual(request.requestKind, request.kind);
    assert.deepEqual(request.requestResource, request.resource);
    assert.equal(request.requestSubResource, 'status');
  });

  it('accepts application/json with a utf-8 charset in any case', () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset="UTF-8"', ' application/json ']) {
      assert.equal(decodeAdmissionReview(bytes('pod-create.json'), type).uid, '0c9a8d74-9cb7-44dd-b98e-09fd62def2f4', type);
    }
  });

  it('accepts a body of exactly the size limit', () => {
    const text = bytes('pod-create.json').toString();
    const padded = text + ' '.repeat(MAX_ADMISSION_REVIEW_BYTES - Buffer.byteLength(text));
    assert.equal(decodeText(padded).operation, 'CREATE');
  });

  it('accepts nesting up to the depth limit', () => {
    const depth = MAX_ADMISSION_REVIEW_DEPTH - 3; // envelope, request, object
    const deep = '['.repeat(depth) + ']'.repeat(depth);
    const text = podCreateWith({ 'request.object': { spec: 'DEEP' } }).replace('"DEEP"', deep);
    assert.equal(decodeText(text).operation, 'CREATE');
  });

  const bad: [string, () => unknown, AdmissionErrorCode, RegExp][] = [
    ['a body that is not JSON', () => decodeText('{"kind": AdmissionReview'), 'REVIEW_INVALID', /not JSON/],
    ['an empty body', () => decodeText(''), 'REVIEW_INVALID', /not JSON/],
    ['a body that is not UTF-8', () => decodeAdmissionReview(Uint8Array.of(0x7b, 0xff, 0x7d), JSON_TYPE), 'REVIEW_INVALID', /not UTF-8/],
    ['a body with a byte order mark', () => decodeText(`\ufeff${bytes('pod-create.json').toString()}`), 'REVIEW_INVALID', /not JSON/],
    ['a JSON array', () => decodeText('[]'), 'REVIEW_INVALID', /body: must be an object, got an array/],
    ['a missing content type', () => decodeAdmissionReview(bytes('pod-create.json'), undefined), 'REVIEW_MEDIA_TYPE_UNSUPPORTED', /content type is missing; send application\/json/],
    ['content type text/plain', () => decodeAdmissionReview(bytes('pod-create.json'), 'text/plain'), 'REVIEW_MEDIA_TYPE_UNSUPPORTED', /"text\/plain" is not supported/],
    ['content type application/yaml', () => decodeAdmissionReview(bytes('pod-create.json'), 'application/yaml'), 'REVIEW_MEDIA_TYPE_UNSUPPORTED', /application\/yaml/],
    ['a charset other than utf-8', () => decodeAdmissionReview(bytes('pod-create.json'), 'application/json; charset=latin1'), 'REVIEW_MEDIA_TYPE_UNSUPPORTED', /unsupported parameter/],
    [
      'a body over 3 MiB',
      () => decodeAdmissionReview(new Uint8Array(MAX_ADMISSION_REVIEW_BYTES + 1), JSON_TYPE),
      'REVIEW_TOO_LARGE',
      /body of 3145729 bytes exceeds the 3145728-byte limit/,
    ],
    ['apiVersion admission.k8s.io/v1beta1', () => decodeText(podCreateWith({ 'apiVersion': 'admission.k8s.io/v1beta1' })), 'REVIEW_INVALID', /apiVersion: must be admission\.k8s\.io\/v1, got string "admission\.k8s\.io\/v1beta1"/],
    ['a missing apiVersion', () => decodeText(podCreateWith({ 'apiVersion': REMOVE })), 'REVIEW_INVALID', /apiVersion: must be admission\.k8s\.io\/v1, got undefined/],
    ['kind AdmissionResponse', () => decodeText(podCreateWith({ 'kind': 'AdmissionResponse' })), 'REVIEW_INVALID', /kind: must be AdmissionReview/],
    ['a missing request', () => decodeText(podCreateWith({ 'request': REMOVE })), 'REVIEW_INVALID', /request: is missing/],
    ['a request that is not an object', () => decodeText(podCreateWith({ 'request': 'CREATE' })), 'REVIEW_INVALID', /request: must be an object, got string "CREATE"/],
    ['a request that is an array', () => decodeText(podCreateWith({ 'request': [] })), 'REVIEW_INVALID', /request: must be an object, got an array/],
    ['a missing uid', () => decodeText(podCreateWith({ 'request.uid': REMOVE })), 'REVIEW_INVALID', /request\.uid: must be a string, got undefined/],
    ['an empty uid', () => decodeText(podCreateWith({ 'request.uid': '' })), 'REVIEW_INVALID', /request\.uid: must not be empty/],
    ['a numeric uid', () => decodeText(podCreateWith({ 'request.uid': 7 })), 'REVIEW_INVALID', /request\.uid: must be a string, got number 7/],
    ['an unknown operation', () => decodeText(podCreateWith({ 'request.operation': 'PATCH' })), 'REVIEW_INVALID', /request\.operation: must be one of CREATE, UPDATE, DELETE, CONNECT, got string "PATCH"/],
    ['a lower-case operation', () => decodeText(podCreateWith({ 'request.operation': 'create' })), 'REVIEW_INVALID', /request\.operation/],
    ['a missing kind', () => decodeText(podCreateWith({ 'request.kind': REMOVE })), 'REVIEW_INVALID', /request\.kind: must be an object/],
    ['a kind without a version', () => decodeText(podCreateWith({ 'request.kind.version': REMOVE })), 'REVIEW_INVALID', /request\.kind\.version: must be a string/],
    ['a kind with an empty kind', () => decodeText(podCreateWith({ 'request.kind.kind': '' })), 'REVIEW_INVALID', /request\.kind\.kind: must not be empty/],
    ['a resource that is a string', () => decodeText(podCreateWith({ 'request.resource': 'pods' })), 'REVIEW_INVALID', /request\.resource: must be an object/],
    ['a requestKind without a group', () => decodeText(podCreateWith({ 'request.requestKind.group': REMOVE })), 'REVIEW_INVALID', /request\.requestKind\.group: must be a string/],
    ['a requestResource that is null', () => decodeText(podCreateWith({ 'request.requestResource': null })), 'REVIEW_INVALID', /request\.requestResource: must be an object, got null/],
    ['a numeric subResource', () => decodeText(podCreateWith({ 'request.subResource': 1 })), 'REVIEW_INVALID', /request\.subResource: must be a string/],
    ['a name that is null', () => decodeText(podCreateWith({ 'request.name': null })), 'REVIEW_INVALID', /request\.name: must be a string, got null/],
    ['a namespace that is an object', () => decodeText(podCreateWith({ 'request.namespace': {} })), 'REVIEW_INVALID', /request\.namespace: must be a string, got an object/],
    ['a userInfo that is a string', () => decodeText(podCreateWith({ 'request.userInfo': 'admin' })), 'REVIEW_INVALID', /request\.userInfo: must be an object/],
    ['groups that are not strings', () => decodeText(podCreateWith({ 'request.userInfo.groups': ['a', 1] })), 'REVIEW_INVALID', /request\.userInfo\.groups\[1\]: must be a string/],
    ['extra values that are not lists', () => decodeText(podCreateWith({ 'request.userInfo.extra': { k: 'v' } })), 'REVIEW_INVALID', /request\.userInfo\.extra\["k"\]: must be an array of strings/],
    ['an object that is an array', () => decodeText(podCreateWith({ 'request.object': [] })), 'REVIEW_INVALID', /request\.object: must be an object, got an array/],
    ['an oldObject that is a string', () => decodeText(podCreateWith({ 'request.oldObject': 'x' })), 'REVIEW_INVALID', /request\.oldObject: must be an object/],
    ['a dryRun that is a string', () => decodeText(podCreateWith({ 'request.dryRun': 'true' })), 'REVIEW_INVALID', /request\.dryRun: must be a boolean, got string "true"/],
    ['options that are a number', () => decodeText(podCreateWith({ 'request.options': 3 })), 'REVIEW_INVALID', /request\.options: must be an object, got number 3/],
    ['a duplicate top-level key', () => decodeText('{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","kind":"AdmissionReview"}'), 'REVIEW_INVALID', /duplicate key at kind/],
    [
      'a duplicate uid inside request',
      () => decodeText(bytes('pod-create.json').toString().replace('"uid":"0c9a8d74', '"uid":"evil","uid":"0c9a8d74')),
      'REVIEW_INVALID',
      /duplicate key at request\.uid/,
    ],
    [
      'a duplicate written with an escape',
      () => decodeText(bytes('pod-create.json').toString().replace('"operation":"CREATE"', '"operation":"DELETE","oper\\u0061tion":"CREATE"')),
      'REVIEW_INVALID',
      /duplicate key at request\.operation/,
    ],
    [
      'a duplicate image deep in the Pod spec',
      () => decodeText(bytes('pod-create.json').toString().replace('"image":', '"image":"evil:1","image":')),
      'REVIEW_INVALID',
      /duplicate key at request\.object\.spec\.containers\[0\]\.image/,
    ],
    [
      'a duplicate among many labels (past the keys compared one by one)',
      () => decodeText(podCreateWith({ 'request.object.metadata.labels': Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`l${i}`, 'v'])) }).replace('"l39":"v"', '"l39":"v","l7":"w"')),
      'REVIEW_INVALID',
      /duplicate key at request\.object\.metadata\.labels\.l7/,
    ],
    ['10,000-deep nesting', () => decodeText('{"a":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}'), 'REVIEW_INVALID', new RegExp(`nests deeper than ${MAX_ADMISSION_REVIEW_DEPTH} levels`)],
    ['nesting one past the limit', () => decodeText('['.repeat(MAX_ADMISSION_REVIEW_DEPTH + 1) + ']'.repeat(MAX_ADMISSION_REVIEW_DEPTH + 1)), 'REVIEW_INVALID', /nests deeper/],
  ];
  for (const [name, run, code, message] of bad) {
    it(`rejects ${name} with ${code}`, () => assertReviewError(run, code, message));
  }

  it('accepts the same key in sibling and nested objects, and many distinct keys', () => {
    const labels = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`l${i}`, 'v']));
    const request = decodeText(podCreateWith({ 'request.object.metadata.labels': labels, 'request.object.metadata.annotations': { l0: 'x', nested: '{"l0":1}' } }));
    assert.deepEqual((request.object?.metadata as { labels?: unknown } | undefined)?.labels, labels);
    assert.doesNotThrow(() => decodeText('{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":' + JSON.stringify({ ...(fixture('pod-create.json').request as Record<string, unknown>), x: [{ a: 1, b: { a: 2 } }, { a: 3 }] }) + '}'));
  });

  it('throws only ReviewError, whatever the bytes', () => {
    const onlyReviewErrors = (run: () => unknown): void => {
      try {
        run();
      } catch (e) {
        if (!(e instanceof ReviewError)) throw e;
      }
    };
    const base = fixture('pod-create.json');
    const keys = ['uid', 'kind', 'resource', 'subResource', 'requestKind', 'requestResource', 'name', 'namespace', 'operation', 'userInfo', 'object', 'oldObject', 'dryRun', 'options'];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (data) => onlyReviewErrors(() => decodeAdmissionReview(data, JSON_TYPE))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.jsonValue(), (key, value) => {
        onlyReviewErrors(() => decodeText(edited(base, { [`request.${key}`]: value })));
      }),
      { numRuns: 500 },
    );
    const text = bytes('pod-create.json').toString();
    fc.assert(
      fc.property(fc.nat(text.length), fc.nat(text.length), fc.string({ maxLength: 4 }), (at, cut, insert) => {
        onlyReviewErrors(() => decodeText(text.slice(0, at) + insert + text.slice(Math.min(text.length, at + (cut % 8)))));
      }),
      { numRuns: 500 },
    );
    fc.assert(fc.property(fc.string(), fc.option(fc.string()), (body, type) => onlyReviewErrors(() => decodeText(body, type ?? undefined))), { numRuns: 300 });
  });
});

describe('requestSummary', () => {
  it('names a generateName Pod at the mutating stage by its prefix', () => {
    assert.deepEqual(requestSummary(decodeFile('pod-create-generatename.json')), {
      kind: 'Pod',
      namespace: 'default',
      name: 'web-5f7b9c8d4b-',
      generateName: 'web-5f7b9c8d4b-',
      operation: 'CREATE',
      dryRun: false,
    });
  });

  it('uses the generated name once the validating stage has it', () => {
    assert.equal(requestSummary(decodeFile('pod-create-generatename-validating.json')).name, 'web-5f7b9c8d4b-x2v9k');
  });

  it('summarises a dry run, a DELETE and a cluster-scoped object', () => {
    assert.deepEqual(requestSummary(decodeFile('pod-create-dryrun.json')), { kind: 'Pod', namespace: 'default', name: 'test', operation: 'CREATE', dryRun: true });
    const deleted = requestSummary(decodeFile('pod-delete.json'));
    assert.equal(deleted.operation, 'DELETE');
    assert.equal(deleted.name, 'web-5f7b9c8d4b-x2v9k');
    assert.deepEqual(requestSummary(decodeFile('clusterrole-create.json')), { kind: 'ClusterRole', namespace: '', name: 'pod-creator', operation: 'CREATE', dryRun: false });
  });

  it('falls back to the object name when the request has none', () => {
    const request = decodeText(podCreateWith({ 'request.name': REMOVE }));
    assert.equal(requestSummary(request).name, 'echo-pod');
  });
});

describe('encodeAdmissionResponse', () => {
  it('writes the bytes k8tz wrote for its patch answer', () => {
    const expected = bytes('response-patch-k8tz.json').toString().trim();
    const review = JSON.parse(expected) as ResponseReview;
    const encoded = encodeAdmissionResponse({ uid: review.response.uid, allowed: true, patch: patchOf(review) });
    assert.equal(Buffer.from(encoded).toString(), expected);
  });

  it('writes the Kyverno-style verifyImages patch answer field for field, in Go order', () => {
    const expected = responseFixture('response-patch.json');
    const encoded = encodeAdmissionResponse({ uid: 'f29a901a-9b22-4f6e-90bf-470b6479a3e2', allowed: true, patch: patchOf(expected) });
    assert.equal(Buffer.from(encoded).toString(), JSON.stringify(expected));
  });

  it('writes the Kyverno-style denial with status Failure and no code', () => {
    const expected = responseFixture('response-deny.json');
    const encoded = encodeAdmissionResponse({ uid: 'f6cc94fd-03df-4c4e-be93-e8ddb7a429fb', allowed: false, message: expected.response.status?.message ?? '' });
    assert.equal(Buffer.from(encoded).toString(), JSON.stringify(expected));
  });

  it('writes warnings and audit annotations as in the audit answer', () => {
    const expected = responseFixture('response-warnings-audit.json');
    const encoded = encodeAdmissionResponse({
      uid: '7b497e89-5f1c-45ab-a3ad-a0de96bb5fba',
      allowed: true,
      warnings: expected.response.warnings ?? [],
      auditAnnotations: expected.response.auditAnnotations ?? {},
    });
    assert.equal(Buffer.from(encoded).toString(), JSON.stringify(expected));
  });

  it('matches the Kubernetes documentation examples field by field', () => {
    const uid = '<value from request.uid>';
    assert.deepEqual(responseOf(encodeAdmissionResponse({ uid, allowed: true })), fixture('response-docs-allow.json'));
    assert.deepEqual(responseOf(encodeAdmissionResponse({ uid, allowed: false })), fixture('response-docs-deny.json'));
    const warnings = responseFixture('response-docs-warnings.json');
    assert.deepEqual(responseOf(encodeAdmissionResponse({ uid, allowed: true, warnings: warnings.response.warnings ?? [] })), warnings);
    // The docs' patch has spaces after separators; the decoded operations are what must agree.
    const docsPatch = responseFixture('response-docs-patch.json');
    const patched = responseOf(encodeAdmissionResponse({ uid, allowed: true, patch: [{ op: 'add', path: '/spec/replicas', value: 3 }] }));
    assert.deepEqual(patchOf(patched), patchOf(docsPatch));
    assert.deepEqual({ ...patched.response, patch: undefined }, { ...docsPatch.response, patch: undefined });
  });

  it('adds metadata {} and status Failure to a coded denial, as Go metav1.Status and Kyverno do', () => {
    const docs = responseFixture('response-docs-deny-status.json');
    const encoded = responseOf(encodeAdmissionResponse({ uid: docs.response.uid, allowed: false, code: 403, message: docs.response.status?.message ?? '' }));
    assert.deepEqual(encoded.response.status, { metadata: {}, status: 'Failure', ...docs.response.status });
    assert.deepEqual(Object.keys(encoded.response.status ?? {}), ['metadata', 'status', 'message', 'code']);
    const k8tz = responseFixture('response-deny-k8tz.json');
    const denied = responseOf(encodeAdmissionResponse({ uid: k8tz.response.uid, allowed: false, message: k8tz.response.status?.message ?? '' }));
    assert.deepEqual(denied.response.status, { ...k8tz.response.status, status: 'Failure' });
  });

  it('leaves out an empty patch, empty warnings and empty audit annotations', () => {
    const encoded = responseOf(encodeAdmissionResponse({ uid: 'u', allowed: true, patch: [], warnings: [], auditAnnotations: {} }));
    assert.deepEqual(encoded, { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', response: { uid: 'u', allowed: true } });
  });

  it('refuses an empty uid', () => {
    assertReviewError(() => encodeAdmissionResponse({ uid: '', allowed: true }), 'REVIEW_INVALID', /uid/);
  });

  it('round-trips a request uid into a response the apiserver accepts', () => {
    const request = decodeFile('pod-create-statefulset-controller.json');
    const review = responseOf(encodeAdmissionResponse({ uid: request.uid, allowed: true }));
    assert.equal(review.response.uid, '0c0829ff-c2f5-4634-a1c3-098147304d03');
    assert.equal(review.apiVersion, 'admission.k8s.io/v1');
    assert.equal(review.kind, 'AdmissionReview');
  });
});

describe('denyMessage', () => {
  const digest = 'sha256:74a98f0e4d750c9052f092a7f7a72de7b20f94f176a490088f7a744c76c53ea5';
  const notaryFailure =
    `failed to verify image ghcr.io/kyverno/test-verify-image:unsigned: .attestors[0].entries[0]: failed to verify ghcr.io/kyverno/test-verify-image@${digest}: ` +
    `no signature is associated with "ghcr.io/kyverno/test-verify-image@${digest}", make sure the image was signed successfully`;

  it('reproduces the Kyverno Notary docs denial byte for byte', () => {
    const expected = responseFixture('response-deny.json').response.status?.message;
    const summary = requestSummary(decodeFile('pod-create-dryrun.json'));
    assert.equal(denyMessage(summary, [{ policy: 'check-image-notary', rule: 'verify-signature-notary', message: notaryFailure }]), expected);
  });

  it('folds a long message at 80 columns where yaml.v2 does (#13983)', () => {
    const message =
      'failed to verify image quay.io/rtaneja/customer:latest: .attestors[0].entries[0].keys: annotations mismatch: cd does not match expected value ci for key pipeline';
    const text = denyMessage({ kind: 'Pod', namespace: 'default', name: 'customer' }, [{ policy: 'check-image', rule: 'verify-image', message }]);
    assert.equal(
      text.split('\n').slice(4).join('\n'),
      "check-image:\n  verify-image: 'failed to verify image quay.io/rtaneja/customer:latest: .attestors[0].entries[0].keys:\n    annotations mismatch: cd does not match expected value ci for key pipeline'\n",
    );
  });

  it('starts with the resource line and sorts policies and rules as yaml.v2 does', () => {
    const text = denyMessage({ kind: 'ClusterRole', namespace: '', name: 'pod-creator' }, [
      { policy: 'policy-10', rule: 'b', message: 'unverified image ghcr.io/a/b:1' },
      { policy: 'policy-9', rule: 'rule-2', message: 'missing digest for ghcr.io/a/b:1' },
      { policy: 'policy-9', rule: 'rule-10', message: 'plain words' },
      { policy: 'policy-9', rule: 'rule-2', message: 'the later failure wins' },
    ]);
    assert.equal(
      text,
      '\n\nresource ClusterRole//pod-creator was blocked due to the following policies \n\n' +
        'policy-9:\n  rule-2: the later failure wins\n  rule-10: plain words\npolicy-10:\n  b: unverified image ghcr.io/a/b:1\n',
    );
  });

  it('quotes as yaml.v2 does: single quotes for indicators, double for non-strings and control characters, literal blocks for lines', () => {
    const text = denyMessage({ kind: 'Pod', namespace: 'ns', name: 'p' }, [
      { policy: 'p', rule: 'colon', message: "it's: bad" },
      { policy: 'p', rule: 'empty', message: '' },
      { policy: 'p', rule: 'bool', message: 'true' },
      { policy: 'p', rule: 'tab', message: 'a\tb' },
      { policy: 'p', rule: 'lines', message: 'first\nsecond' },
      { policy: 'p', rule: 'dash', message: '- listed' },
      { policy: 'p', rule: 'hash', message: 'a #comment' },
    ]);
    assert.equal(
      text.split('\n').slice(4).join('\n'),
      `p:\n  bool: "true"\n  colon: 'it''s: bad'\n  dash: '- listed'\n  empty: ""\n  hash: 'a #comment'\n  lines: |-\n    first\n    second\n  tab: "a\\tb"\n`,
    );
  });

  it('is empty without failures, as Kyverno', () => {
    assert.equal(denyMessage({ kind: 'Pod', namespace: 'default', name: 'x' }, []), '');
  });
});
