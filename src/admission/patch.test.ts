import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SHARED_TESTDATA } from '../../test/support/shared.js';
import { ImageReferenceError, PatchError } from './errors.js';
import {
  encodeScopedVerifyImagesAnnotation,
  encodeVerifyImagesAnnotation,
  extractImages,
  normalizeImage,
  VERIFY_IMAGES_ANNOTATION,
  VERIFY_IMAGES_SCOPED_ANNOTATION,
} from './images.js';
import { annotationPatch, annotationPatches, applyPatch, decodePatch, digestPatches, encodePatch, escapePointerToken, parsePointer, type PatchOperation } from './patch.js';

const ADMISSION = join(SHARED_TESTDATA, 'admission');
const DIGEST = 'sha256:b31bfb4d0213f254d361e0079deaaebefa4f82ba7aa76ef82e90b4935ad5b105';

interface Resource {
  metadata: { annotations?: Record<string, string> } & Record<string, unknown>;
  spec: Record<string, unknown>;
}

function readJson(file: string): { request?: { kind: { kind: string }; object: Resource }; response?: { patch?: string } } {
  return JSON.parse(readFileSync(join(ADMISSION, file), 'utf8')) as never;
}

/** Reads a JSON pointer from a document, for checking where patches landed. */
function at(doc: unknown, pointer: string): unknown {
  return parsePointer(pointer).reduce<unknown>((node, token) => (node as Record<string, unknown>)[token], doc);
}

const isPatchError = (e: unknown): boolean => e instanceof PatchError && e.code === 'PATCH_INVALID';

describe("patches reproduce Kyverno's verifyImages answer", () => {
  const request = readJson('pod-create-generatename.json').request;
  const answer = readJson('response-patch.json').response;
  const validating = readJson('pod-create-generatename-validating.json').request;
  assert.ok(request && answer?.patch && validating);
  const verified = normalizeImage(`ghcr.io/kyverno/test-verify-image:signed@${DIGEST}`).reference;

  const build = (): PatchOperation[] => {
    const images = extractImages(request.object, request.kind.kind);
    return [
      ...annotationPatches(request.object, {
        [VERIFY_IMAGES_ANNOTATION]: encodeVerifyImagesAnnotation(new Map([[verified, 'pass']])),
        [VERIFY_IMAGES_SCOPED_ANNOTATION]: encodeScopedVerifyImagesAnnotation(new Map([['/check-image-notary', new Map([['verify-signature-notary', new Map([[verified, 'pass']])]])]])),
      }),
      ...digestPatches(images.map((i) => ({ path: i.path, image: i.image, digest: DIGEST }))),
    ];
  };

  it('builds the same operations, encoded to the same base64', () => {
    const ops = build();
    assert.deepEqual(ops, decodePatch(answer.patch ?? ''));
    assert.equal(encodePatch(ops), answer.patch);
  });

  it('applied to the mutating-stage Pod, gives the image and annotations the validating stage sees', () => {
    const patched = applyPatch(request.object, build()) as Resource;
    assert.equal(at(patched, '/spec/containers/0/image'), at(validating.object, '/spec/containers/0/image'));
    const seen = validating.object.metadata.annotations ?? {};
    assert.deepEqual(patched.metadata.annotations, {
      [VERIFY_IMAGES_ANNOTATION]: seen[VERIFY_IMAGES_ANNOTATION],
      [VERIFY_IMAGES_SCOPED_ANNOTATION]: seen[VERIFY_IMAGES_SCOPED_ANNOTATION],
    });
    // applyPatch works on a copy.
    assert.equal(at(request.object, '/spec/containers/0/image'), 'ghcr.io/kyverno/test-verify-image:signed');
    assert.equal(request.object.metadata.annotations, undefined);
  });
});

describe('digestPatches pins tag-only images as mutateDigest does', () => {
  it('keeps the tag and adds the registry, on a CronJob at its jobTemplate path', () => {
    const request = readJson('cronjob-create.json').request;
    assert.ok(request);
    const images = extractImages(request.object, 'CronJob');
    const ops = [
      ...annotationPatch(request.object, VERIFY_IMAGES_ANNOTATION, encodeVerifyImagesAnnotation(new Map([[`ghcr.io/kyverno/test-verify-image@${DIGEST}`, 'pass']]))),
      ...digestPatches(images.map((i) => ({ ...i, digest: DIGEST }))),
    ];
    const patched = applyPatch(request.object, ops) as Resource;
    assert.equal(at(patched, '/spec/jobTemplate/spec/template/spec/containers/0/image'), `ghcr.io/kyverno/test-verify-image:signed@${DIGEST}`);
    // The annotation sits on the CronJob itself, not on its pod template.
    assert.equal(typeof patched.metadata.annotations?.[VERIFY_IMAGES_ANNOTATION], 'string');
    assert.equal(at(patched, '/spec/jobTemplate/spec/template/metadata/annotations'), undefined);
    assert.deepEqual(extractImages(patched, 'CronJob')[0]?.image, `ghcr.io/kyverno/test-verify-image:signed@${DIGEST}`);
  });

  it('writes Docker Hub short names in their normalized form', () => {
    const request = readJson('deployment-create.json').request;
    assert.ok(request);
    const ops = digestPatches(extractImages(request.object, 'Deployment').map((i) => ({ ...i, digest: DIGEST })));
    assert.deepEqual(ops, [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `docker.io/nginx:latest@${DIGEST}` }]);
    const patched = applyPatch(request.object, ops);
    assert.equal(normalizeImage(at(patched, '/spec/template/spec/containers/0/image') as string).digest, DIGEST);
  });

  it('leaves images that already carry a digest alone', () => {
    const request = readJson('pod-ephemeralcontainers-update.json').request;
    assert.ok(request);
    const ops = digestPatches(extractImages(request.object, 'Pod').map((i) => ({ ...i, digest: DIGEST })));
    assert.deepEqual(ops, [{ op: 'replace', path: '/spec/ephemeralContainers/0/image', value: `docker.io/busybox:1.36@${DIGEST}` }]);
  });

  it('rejects a bad digest or image', () => {
    assert.throws(
      () => digestPatches([{ path: '/spec/containers/0/image', image: 'nginx', digest: 'sha256:nope' }]),
      (e: unknown) => e instanceof ImageReferenceError && e.code === 'IMAGE_REFERENCE_INVALID',
    );
    assert.throws(
      () => digestPatches([{ path: '/spec/containers/0/image', image: 'NGINX', digest: DIGEST }]),
      (e: unknown) => e instanceof ImageReferenceError && e.code === 'IMAGE_REFERENCE_INVALID',
    );
    assert.throws(() => digestPatches([{ path: 'spec/containers/0/image', image: 'nginx', digest: DIGEST }]), isPatchError);
  });
});

describe('annotationPatch adds or replaces, creating metadata.annotations when absent', () => {
  it('adds annotations to an object that has none, Kyverno style', () => {
    assert.deepEqual(annotationPatch({ metadata: { name: 'p' } }, 'kyverno.io/verify-images', '{}'), [
      { op: 'add', path: '/metadata/annotations', value: {} },
      { op: 'add', path: '/metadata/annotations/kyverno.io~1verify-images', value: '{}' },
    ]);
    assert.deepEqual(annotationPatch({ metadata: { annotations: null } }, 'a', 'b')[0], { op: 'add', path: '/metadata/annotations', value: {} });
  });

  it('creates metadata when the object has none', () => {
    const ops = annotationPatch({ spec: {} }, 'a/b', 'c');
    assert.deepEqual(applyPatch({ spec: {} }, ops), { spec: {}, metadata: { annotations: { 'a/b': 'c' } } });
  });

  it('replaces an existing key and adds a new one beside existing annotations', () => {
    const request = readJson('deployment-update.json').request;
    assert.ok(request);
    const ops = annotationPatches(request.object, { 'deployment.kubernetes.io/revision': '2', [VERIFY_IMAGES_ANNOTATION]: '{}' });
    assert.deepEqual(ops, [
      { op: 'replace', path: '/metadata/annotations/deployment.kubernetes.io~1revision', value: '2' },
      { op: 'add', path: '/metadata/annotations/kyverno.io~1verify-images', value: '{}' },
    ]);
    const patched = applyPatch(request.object, ops) as Resource;
    assert.deepEqual(patched.metadata.annotations, { 'deployment.kubernetes.io/revision': '2', [VERIFY_IMAGES_ANNOTATION]: '{}' });
  });

  it('overwrites a user-supplied verify-images annotation rather than trusting it', () => {
    const forged = { metadata: { annotations: { [VERIFY_IMAGES_ANNOTATION]: '{"evil.io/x:latest":"pass"}' } } };
    const ops = annotationPatch(forged, VERIFY_IMAGES_ANNOTATION, '{}');
    assert.deepEqual(ops, [{ op: 'replace', path: '/metadata/annotations/kyverno.io~1verify-images', value: '{}' }]);
    assert.deepEqual(applyPatch(forged, ops), { metadata: { annotations: { [VERIFY_IMAGES_ANNOTATION]: '{}' } } });
  });

  it('escapes ~ and / in keys', () => {
    assert.equal(escapePointerToken('a~b/c'), 'a~0b~1c');
    assert.deepEqual(parsePointer('/a~0b~1c/~01'), ['a~b/c', '~1']);
    const ops = annotationPatch({ metadata: { annotations: {} } }, 'x~/y', 'v');
    assert.deepEqual(applyPatch({ metadata: { annotations: {} } }, ops), { metadata: { annotations: { 'x~/y': 'v' } } });
  });

  it('rejects objects whose metadata or annotations are not objects', () => {
    assert.throws(() => annotationPatch(null, 'a', 'b'), isPatchError);
    assert.throws(() => annotationPatch({ metadata: 'x' }, 'a', 'b'), isPatchError);
    assert.throws(() => annotationPatch({ metadata: { annotations: ['x'] } }, 'a', 'b'), isPatchError);
  });
});

describe('applyPatch implements RFC 6902 add, replace and remove', () => {
  it('adds, inserts, appends, replaces and removes', () => {
    const doc = { a: { b: 1 }, list: ['x', 'z'] };
    const ops: PatchOperation[] = [
      { op: 'add', path: '/a/c', value: 2 },
      { op: 'add', path: '/list/1', value: 'y' },
      { op: 'add', path: '/list/-', value: 'end' },
      { op: 'replace', path: '/a/b', value: { deep: true } },
      { op: 'remove', path: '/list/0' },
      { op: 'add', path: '/a/c', value: 3 },
    ];
    assert.deepEqual(applyPatch(doc, ops), { a: { b: { deep: true }, c: 3 }, list: ['y', 'z', 'end'] });
    assert.deepEqual(doc, { a: { b: 1 }, list: ['x', 'z'] });
  });

  it('replaces the whole document at the empty pointer', () => {
    assert.deepEqual(applyPatch({ a: 1 }, [{ op: 'replace', path: '', value: [1] }]), [1]);
    assert.throws(() => applyPatch({ a: 1 }, [{ op: 'remove', path: '' }]), isPatchError);
  });

  it('treats __proto__ as an ordinary member', () => {
    const patched = applyPatch({}, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]) as Record<string, unknown>;
    assert.ok(Object.hasOwn(patched, '__proto__'));
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(Object.getPrototypeOf(patched), Object.prototype);
  });

  const failing: [string, unknown, PatchOperation][] = [
    ['add under a missing parent', { a: {} }, { op: 'add', path: '/b/c', value: 1 }],
    ['replace a missing member', { a: {} }, { op: 'replace', path: '/b', value: 1 }],
    ['remove a missing member', { a: {} }, { op: 'remove', path: '/b' }],
    ['add past the end of an array', { l: [1] }, { op: 'add', path: '/l/2', value: 1 }],
    ['replace at the array end', { l: [1] }, { op: 'replace', path: '/l/1', value: 1 }],
    ['replace at -', { l: [1] }, { op: 'replace', path: '/l/-', value: 1 }],
    ['use an index with a leading zero', { l: [1, 2] }, { op: 'replace', path: '/l/01', value: 1 }],
    ['use a non-numeric index', { l: [1] }, { op: 'remove', path: '/l/x' }],
    ['descend into a string', { s: 'x' }, { op: 'add', path: '/s/0', value: 1 }],
    ['descend through null', { n: null }, { op: 'add', path: '/n/a/b', value: 1 }],
    ['use a pointer without a leading slash', { a: 1 }, { op: 'remove', path: 'a' }],
    ['use a bad ~ escape', { a: 1 }, { op: 'remove', path: '/a~2' }],
    ['reach an inherited member', {}, { op: 'replace', path: '/toString', value: 1 }],
  ];
  for (const [why, doc, op] of failing) {
    it(`fails with PATCH_INVALID to ${why}`, () => {
      assert.throws(() => applyPatch(doc, [op]), isPatchError);
    });
  }
});

describe('encodePatch and decodePatch', () => {
  it('round-trip operations through padded base64', () => {
    const ops: PatchOperation[] = [
      { op: 'add', path: '/metadata/annotations', value: {} },
      { op: 'remove', path: '/spec/x' },
      { op: 'replace', path: '/spec/containers/0/image', value: 'é' },
    ];
    const encoded = encodePatch(ops);
    assert.match(encoded, /^[A-Za-z0-9+/]*={0,2}$/);
    assert.deepEqual(decodePatch(encoded), ops);
    assert.equal(encodePatch([]), Buffer.from('[]').toString('base64'));
  });

  it("reads the docs' example and k8tz's null patch", () => {
    const docs = JSON.parse(readFileSync(join(ADMISSION, 'response-docs-patch.json'), 'utf8')) as { response: { patch: string } };
    assert.deepEqual(decodePatch(docs.response.patch), [{ op: 'add', path: '/spec/replicas', value: 3 }]);
    assert.deepEqual(decodePatch('bnVsbA=='), []);
    const k8tz = JSON.parse(readFileSync(join(ADMISSION, 'response-patch-k8tz.json'), 'utf8')) as { response: { patch: string } };
    assert.equal(decodePatch(k8tz.response.patch).length, 8);
  });

  const bad = ['***', 'e30', 'e30=', Buffer.from('{}').toString('base64'), Buffer.from('[{"op":"move","path":"/a","from":"/b"}]').toString('base64'), Buffer.from('[{"op":"add","path":"/a"}]').toString('base64'), Buffer.from('[{"op":"add"}]').toString('base64'), Buffer.from('not json').toString('base64')];
  for (const patch of bad) {
    it(`rejects ${patch.slice(0, 24)} with PATCH_INVALID`, () => {
      assert.throws(() => decodePatch(patch), isPatchError);
    });
  }

  it('only ever throws PatchError on arbitrary operations (fast-check)', () => {
    const token = fc.oneof(fc.constantFrom('a', 'b', '0', '1', '-', '01', '~0', '~1', '~', '__proto__'), fc.string({ maxLength: 3 }));
    const pointer = fc.array(token, { maxLength: 4 }).map((t) => (t.length === 0 ? '' : `/${t.join('/')}`));
    const op = fc.oneof(
      fc.record({ op: fc.constant('add' as const), path: pointer, value: fc.jsonValue() }),
      fc.record({ op: fc.constant('replace' as const), path: pointer, value: fc.jsonValue() }),
      fc.record({ op: fc.constant('remove' as const), path: pointer }),
    ) as fc.Arbitrary<PatchOperation>;
    fc.assert(
      fc.property(fc.jsonValue(), fc.array(op, { maxLength: 5 }), (doc, ops) => {
        try {
          applyPatch(doc, ops);
          assert.deepEqual(decodePatch(encodePatch(ops)), JSON.parse(JSON.stringify(ops)));
        } catch (e) {
          if (!isPatchError(e)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
