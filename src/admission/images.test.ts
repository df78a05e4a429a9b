import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SHARED_TESTDATA } from '../../test/support/shared.js';
import { ImageReferenceError, ReviewError, type AdmissionError } from './errors.js';
import {
  decodeScopedVerifyImagesAnnotation,
  decodeVerifyImagesAnnotation,
  encodeScopedVerifyImagesAnnotation,
  encodeVerifyImagesAnnotation,
  extractImages,
  formatTarget,
  normalizeImage,
  podSpecPointer,
  POD_CONTROLLER_KINDS,
  VERIFY_IMAGES_ANNOTATION,
  VERIFY_IMAGES_SCOPED_ANNOTATION,
} from './images.js';

const ADMISSION = join(SHARED_TESTDATA, 'admission');
const DIGEST = 'sha256:b31bfb4d0213f254d361e0079deaaebefa4f82ba7aa76ef82e90b4935ad5b105';

interface Review {
  request?: { kind?: { kind?: string }; object?: unknown; oldObject?: unknown };
}

function readReview(file: string): Review {
  return JSON.parse(readFileSync(join(ADMISSION, file), 'utf8')) as Review;
}

function isCode(error: unknown, type: typeof AdmissionError, code: string): boolean {
  return error instanceof type && error.code === code;
}

describe('normalizeImage normalizes as Kyverno does before matching', () => {
  const cases: [image: string, registry: string, path: string, tag: string | undefined, digest: string | undefined, reference: string, target: string][] = [
    ['nginx', 'docker.io', 'nginx', 'latest', undefined, 'docker.io/nginx:latest', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io', 'nginx', '1.27', undefined, 'docker.io/nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['user/app', 'docker.io', 'user/app', 'latest', undefined, 'docker.io/user/app:latest', 'docker.io/user/app:latest'],
    ['jmalloc/echo-server', 'docker.io', 'jmalloc/echo-server', 'latest', undefined, 'docker.io/jmalloc/echo-server:latest', 'docker.io/jmalloc/echo-server:latest'],
    ['docker.io/nginx', 'docker.io', 'nginx', 'latest', undefined, 'docker.io/nginx:latest', 'docker.io/library/nginx:latest'],
    // Kyverno keeps the path as written: these two spellings match different patterns.
    ['docker.io/library/nginx', 'docker.io', 'library/nginx', 'latest', undefined, 'docker.io/library/nginx:latest', 'docker.io/library/nginx:latest'],
    ['index.docker.io/nginx', 'index.docker.io', 'nginx', 'latest', undefined, 'index.docker.io/nginx:latest', 'docker.io/library/nginx:latest'],
    ['ghcr.io/kyverno/test-verify-image:signed', 'ghcr.io', 'kyverno/test-verify-image', 'signed', undefined, 'ghcr.io/kyverno/test-verify-image:signed', 'ghcr.io/kyverno/test-verify-image:signed'],
    ['localhost/app', 'localhost', 'app', 'latest', undefined, 'localhost/app:latest', 'localhost/app:latest'],
    ['localhost:5000/team/app:v1', 'localhost:5000', 'team/app', 'v1', undefined, 'localhost:5000/team/app:v1', 'localhost:5000/team/app:v1'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000', 'app', 'latest', undefined, '127.0.0.1:5000/app:latest', '127.0.0.1:5000/app:latest'],
    ['[::1]:5000/app:v2', '[::1]:5000', 'app', 'v2', undefined, '[::1]:5000/app:v2', '[::1]:5000/app:v2'],
    ['registry:5000/app', 'registry:5000', 'app', 'latest', undefined, 'registry:5000/app:latest', 'registry:5000/app:latest'],
    ['docker.elastic.co/elasticsearch/elasticsearch:7.14.0', 'docker.elastic.co', 'elasticsearch/elasticsearch', '7.14.0', undefined, 'docker.elastic.co/elasticsearch/elasticsearch:7.14.0', 'docker.elastic.co/elasticsearch/elasticsearch:7.14.0'],
    // A digest: no implicit tag, and the matched string drops any tag.
    [`busybox@${DIGEST}`, 'docker.io', 'busybox', undefined, DIGEST, `docker.io/busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    [`ghcr.io/kyverno/test-verify-image:signed@${DIGEST}`, 'ghcr.io', 'kyverno/test-verify-image', 'signed', DIGEST, `ghcr.io/kyverno/test-verify-image@${DIGEST}`, `ghcr.io/kyverno/test-verify-image:signed@${DIGEST}`],
  ];
  for (const [image, registry, path, tag, digest, reference, target] of cases) {
    it(`${image} → ${reference}`, () => {
      const n = normalizeImage(image);
      assert.equal(n.image, image);
      assert.equal(n.registry, registry);
      assert.equal(n.path, path);
      assert.equal(n.tag, tag);
      assert.equal(n.digest, digest);
      assert.equal(n.reference, reference);
      assert.equal(n.referenceWithTag, tag === undefined ? undefined : `${registry}/${path}:${tag}`);
      assert.equal(formatTarget(n), target);
      assert.ok(Object.isFrozen(n));
    });
  }

  it('gives the repository a registry serves, with library/ on Docker Hub', () => {
    assert.equal(normalizeImage('nginx').repository, 'library/nginx');
    assert.equal(normalizeImage('user/app').repository, 'user/app');
    assert.equal(normalizeImage('ghcr.io/org/app').repository, 'org/app');
  });

  const bad: [string, string][] = [
    ['', 'empty'],
    ['Nginx', 'upper-case repository'],
    ['ghcr.io/Org/app', 'upper-case path component'],
    ['Registry/app', 'upper-case first component'],
    ['nginx:', 'empty tag'],
    ['nginx@', 'empty digest'],
    ['nginx@sha256:abc', 'short digest'],
    ['nginx:-x', 'tag starting with -'],
    [' nginx', 'leading space'],
    ['nginx latest', 'inner space'],
    ['a//b', 'double slash'],
    ['/nginx', 'leading slash'],
    ['nginx/', 'trailing slash'],
    ['ghcr.io:99999/app', 'port out of range'],
    ['ghcr.io/app/../x', 'dot-dot component'],
    ['++', "Kyverno's own bad-image example"],
    ['a'.repeat(64).replace(/a/g, 'f'), 'image ID'],
    [`ghcr.io/${'a'.repeat(300)}`, 'name too long'],
    ['ghcr.io/app:é', 'non-ASCII'],
  ];
  for (const [image, why] of bad) {
    it(`rejects ${why} with IMAGE_REFERENCE_INVALID`, () => {
      assert.throws(
        () => normalizeImage(image),
        (e: unknown) => isCode(e, ImageReferenceError, 'IMAGE_REFERENCE_INVALID') && !(e as Error).message.includes('\n'),
      );
    });
  }

  it('rejects a value that is not a string', () => {
    assert.throws(
      () => normalizeImage(42 as unknown as string),
      (e: unknown) => isCode(e, ImageReferenceError, 'IMAGE_REFERENCE_INVALID'),
    );
  });

  it('only ever throws ImageReferenceError (fast-check)', () => {
    const piece = fc.constantFrom('a', 'B', '0', '.', ':', '/', '@', '-', '_', '__', 'sha256:', 'localhost', '[', ']', '~', ' ', 'é', DIGEST);
    const image = fc.oneof(fc.string({ maxLength: 80 }), fc.array(piece, { maxLength: 12 }).map((p) => p.join('')));
    fc.assert(
      fc.property(image, (input) => {
        try {
          const n = normalizeImage(input);
          assert.ok(n.reference.startsWith(`${n.registry}/`));
          assert.equal(normalizeImage(formatTarget(n)).target.repository, n.target.repository);
        } catch (e) {
          if (!isCode(e, ImageReferenceError, 'IMAGE_REFERENCE_INVALID')) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('extractImages lists container images with their JSON pointers', () => {
  const expected: Record<string, [path: string, image: string][]> = {
    'pod-create.json': [['/spec/containers/0/image', 'jmalloc/echo-server']],
    'pod-create-dryrun.json': [['/spec/containers/0/image', 'ghcr.io/kyverno/test-verify-image:unsigned']],
    'pod-create-generatename.json': [['/spec/containers/0/image', 'ghcr.io/kyverno/test-verify-image:signed']],
    'pod-create-generatename-validating.json': [['/spec/containers/0/image', `ghcr.io/kyverno/test-verify-image:signed@${DIGEST}`]],
    'pod-create-statefulset-controller.json': [
      ['/spec/initContainers/0/image', 'docker.elastic.co/elasticsearch/elasticsearch:7.14.0'],
      ['/spec/containers/0/image', 'docker.elastic.co/elasticsearch/elasticsearch:7.14.0'],
    ],
    'pod-create-validating-stage.json': [['/spec/containers/0/image', 'hello-world:latest']],
    'pod-update.json': [['/spec/containers/0/image', 'hello-world:latest']],
    'pod-status-update.json': [['/spec/containers/0/image', 'hello-world:latest']],
    'pod-ephemeralcontainers-update.json': [
      ['/spec/containers/0/image', `ghcr.io/kyverno/test-verify-image:signed@${DIGEST}`],
      ['/spec/ephemeralContainers/0/image', 'busybox:1.36'],
    ],
    'deployment-create.json': [['/spec/template/spec/containers/0/image', 'nginx']],
    'deployment-update.json': [['/spec/template/spec/containers/0/image', 'nginx']],
    'cronjob-create.json': [['/spec/jobTemplate/spec/template/spec/containers/0/image', 'ghcr.io/kyverno/test-verify-image:signed']],
    'cronjob-create-trimmed.json': [['/spec/jobTemplate/spec/template/spec/containers/0/image', 'busybox:1.28']],
    'cronjob-update.json': [['/spec/jobTemplate/spec/template/spec/containers/0/image', 'ghcr.io/kyverno/test-verify-image:unsigned']],
    // No PodSpec: a Scale subresource, a cluster-scoped RBAC object, the placeholder round-trip body.
    'deployment-scale-update.json': [],
    'clusterrole-create.json': [],
    'all-fields-roundtrip.json': [],
  };

  const requests = readdirSync(ADMISSION).filter((f) => f.endsWith('.json') && readReview(f).request?.object != null);
  it('covers every request body in the shared testdata that carries an object', () => {
    assert.deepEqual(requests.sort(), Object.keys(expected).sort());
  });

  for (const file of requests) {
    it(`reads ${file}`, () => {
      const request = readReview(file).request ?? {};
      const images = extractImages(request.object, request.kind?.kind ?? '');
      assert.deepEqual(
        images.map((i) => [i.path, i.image]),
        expected[file],
      );
      for (const image of images) {
        assert.equal(image.path, `${podSpecPointer(request.kind?.kind ?? '')}/${image.field}/${image.index}/image`);
        assert.equal(typeof image.name, 'string');
      }
    });
  }

  it('reads the stored Pod of a DELETE from oldObject', () => {
    const request = readReview('pod-delete.json').request ?? {};
    assert.equal(request.object, null);
    assert.deepEqual(
      extractImages(request.oldObject, 'Pod').map((i) => i.path),
      ['/spec/containers/0/image'],
    );
  });

  it('uses the autogen path of every pod controller', () => {
    const spec = { initContainers: [{ name: 'i', image: 'init' }], containers: [{ name: 'c', image: 'app' }], ephemeralContainers: [{ name: 'e', image: 'debug' }] };
    for (const kind of POD_CONTROLLER_KINDS) {
      const resource = kind === 'CronJob' ? { spec: { jobTemplate: { spec: { template: { spec } } } } } : { spec: { template: { spec } } };
      const prefix = kind === 'CronJob' ? '/spec/jobTemplate/spec/template/spec' : '/spec/template/spec';
      assert.equal(podSpecPointer(kind), prefix);
      assert.deepEqual(
        extractImages(resource, kind).map((i) => i.path),
        [`${prefix}/initContainers/0/image`, `${prefix}/containers/0/image`, `${prefix}/ephemeralContainers/0/image`],
      );
    }
  });

  it('returns nothing for kinds without a PodSpec', () => {
    assert.deepEqual(extractImages({ spec: { containers: [{ image: 'x' }] } }, 'ConfigMap'), []);
    assert.equal(podSpecPointer('ConfigMap'), undefined);
    // Kinds are exact, as the API server sends them.
    assert.deepEqual(extractImages({ spec: { containers: [{ image: 'x' }] } }, 'pod'), []);
  });

  it('skips null lists and containers without an image', () => {
    const images = extractImages({ spec: { initContainers: null, containers: [{ name: 'a' }, { name: 'b', image: '' }, { name: 'c', image: 'app' }] } }, 'Pod');
    assert.deepEqual(
      images.map((i) => i.path),
      ['/spec/containers/2/image'],
    );
  });

  const malformed: [string, unknown, string][] = [
    ['a null resource', null, 'Pod'],
    ['an array resource', [], 'Pod'],
    ['a string resource', 'pod', 'Pod'],
    ['a Pod without spec', { metadata: {} }, 'Pod'],
    ['a Deployment without a template', { spec: { replicas: 1 } }, 'Deployment'],
    ['a CronJob whose jobTemplate is a string', { spec: { jobTemplate: 'x' } }, 'CronJob'],
    ['containers that are an object', { spec: { containers: { image: 'x' } } }, 'Pod'],
    ['a container that is a string', { spec: { containers: ['nginx'] } }, 'Pod'],
    ['an image that is a number', { spec: { containers: [{ image: 7 }] } }, 'Pod'],
    ['an image that is null', { spec: { containers: [{ image: null }] } }, 'Pod'],
    ['an image that is an object', { spec: { template: { spec: { initContainers: [{ image: { name: 'x' } }] } } } }, 'Job'],
    ['a spec reachable only through the prototype', JSON.parse('{"__proto__": {"spec": {"containers": []}}}'), 'Pod'],
  ];
  for (const [why, resource, kind] of malformed) {
    it(`rejects ${why} with RESOURCE_INVALID`, () => {
      assert.throws(
        () => extractImages(resource, kind),
        (e: unknown) => isCode(e, ReviewError, 'RESOURCE_INVALID'),
      );
    });
  }

  it('names the JSON pointer of a non-string image', () => {
    assert.throws(
      () => extractImages({ spec: { template: { spec: { containers: [{ image: 'a' }, { image: 1 }] } } } }, 'Deployment'),
      /\/spec\/template\/spec\/containers\/1\/image is a number/,
    );
  });

  it('only ever throws ReviewError (fast-check)', () => {
    const container = fc.oneof(fc.record({ name: fc.string(), image: fc.oneof(fc.string(), fc.anything()) }, { requiredKeys: [] }), fc.anything());
    const list = fc.oneof(fc.array(container, { maxLength: 4 }), fc.anything());
    const podSpec = fc.oneof(fc.record({ containers: list, initContainers: list, ephemeralContainers: list }, { requiredKeys: [] }), fc.anything());
    const resource = fc.oneof(
      fc.record({ spec: podSpec }),
      fc.record({ spec: fc.record({ template: fc.record({ spec: podSpec }) }) }),
      fc.record({ spec: fc.record({ jobTemplate: fc.record({ spec: fc.record({ template: fc.record({ spec: podSpec }) }) }) }) }),
      fc.anything(),
    );
    const kind = fc.oneof(fc.constantFrom('Pod', ...POD_CONTROLLER_KINDS), fc.string());
    fc.assert(
      fc.property(resource, kind, (r, k) => {
        try {
          for (const image of extractImages(r, k)) assert.equal(typeof image.image, 'string');
        } catch (e) {
          if (!isCode(e, ReviewError, 'RESOURCE_INVALID')) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the kyverno.io/verify-images annotations', () => {
  const validating = readReview('pod-create-generatename-validating.json').request?.object as { metadata: { annotations: Record<string, string> } };
  const annotations = validating.metadata.annotations;

  it('decodes the unscoped annotation Kyverno wrote', () => {
    const value = annotations[VERIFY_IMAGES_ANNOTATION] ?? '';
    const decoded = decodeVerifyImagesAnnotation(value);
    assert.deepEqual([...decoded], [[`ghcr.io/kyverno/test-verify-image@${DIGEST}`, 'pass']]);
    assert.equal(encodeVerifyImagesAnnotation(decoded), value);
  });

  it('decodes and re-encodes the scoped annotation byte for byte', () => {
    const value = annotations[VERIFY_IMAGES_SCOPED_ANNOTATION] ?? '';
    const decoded = decodeScopedVerifyImagesAnnotation(value);
    assert.equal(decoded.get('/check-image-notary')?.get('verify-signature-notary')?.get(`ghcr.io/kyverno/test-verify-image@${DIGEST}`), 'pass');
    assert.equal(encodeScopedVerifyImagesAnnotation(decoded), value);
  });

  it('encodes compact JSON with keys sorted as Go does, HTML characters escaped', () => {
    const map = new Map([
      ['z.io/b:1', 'skip'],
      ['a.io/a:1', 'pass'],
      ['x<y>&', 'fail'],
    ] as const);
    assert.equal(encodeVerifyImagesAnnotation(map), '{"a.io/a:1":"pass","x\\u003cy\\u003e\\u0026":"fail","z.io/b:1":"skip"}');
    assert.deepEqual(decodeVerifyImagesAnnotation(encodeVerifyImagesAnnotation(map)), new Map(map));
    assert.equal(encodeVerifyImagesAnnotation(new Map()), '{}');
  });

  it('keeps a __proto__ image key as data', () => {
    const decoded = decodeVerifyImagesAnnotation('{"__proto__":"pass"}');
    assert.equal(decoded.get('__proto__'), 'pass');
    assert.equal(encodeVerifyImagesAnnotation(decoded), '{"__proto__":"pass"}');
  });

  it('reads the legacy boolean form as pass and fail', () => {
    assert.deepEqual(
      [...decodeVerifyImagesAnnotation('{"a":true,"b":false}')],
      [
        ['a', 'pass'],
        ['b', 'fail'],
      ],
    );
  });

  const bad = ['', 'not json', '[]', 'null', '"pass"', '{"a":"PASS"}', '{"a":1}', '{"a":null}', `{"a":"${'x'.repeat(300 * 1024)}"}`];
  for (const value of bad) {
    it(`rejects ${JSON.stringify(value.slice(0, 20))} with ANNOTATION_INVALID`, () => {
      assert.throws(
        () => decodeVerifyImagesAnnotation(value),
        (e: unknown) => isCode(e, ReviewError, 'ANNOTATION_INVALID'),
      );
    });
  }

  const badScoped = ['{}', '{"version":2,"policies":{}}', '{"version":1}', '{"version":1,"policies":{"/p":[]}}', '{"version":1,"policies":{"/p":{"r":{"i":"ok"}}}}'];
  for (const value of badScoped) {
    it(`rejects scoped ${value} with ANNOTATION_INVALID`, () => {
      assert.throws(
        () => decodeScopedVerifyImagesAnnotation(value),
        (e: unknown) => isCode(e, ReviewError, 'ANNOTATION_INVALID'),
      );
    });
  }
});
