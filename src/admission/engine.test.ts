// The verifyImages engine is pure logic over an injected verifier, so these tests inject a fake
// `VerifyImage` (a table of which certificate signed which repository) and count its calls; the
// real verifier against a real registry is exercised end to end by src/cli/apply.test.ts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NOTATION_E2E, SHARED_POLICIES, SHARED_TESTDATA } from '../../test/support/shared.js';
import { evaluateImages, type EvaluationRequest, type ImageCheck, type VerifyImage } from './engine.js';
import type { NormalizedImage } from './images.js';
import type { CertificatesAttestor, KyvernoPolicy, PolicyException } from './model.js';
import { applyPatch } from './patch.js';
import { decodePolicyDocuments } from './policy.js';

const POLICIES = SHARED_POLICIES;
const E2E_CERT = readFileSync(join(NOTATION_E2E, 'config/localkeys/e2e.crt'), 'utf8').trim();
const NEW_E2E_CERT = readFileSync(join(NOTATION_E2E, 'config/localkeys/new_e2e.crt'), 'utf8').trim();
const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`;
const POD = (JSON.parse(readFileSync(join(SHARED_TESTDATA, 'admission/pod-create.json'), 'utf8')) as { request: { object: Record<string, unknown> } }).request.object;
const signal = new AbortController().signal;

/** Which certificate signed which repository (last path segment), and what the fake registry does. */
const SIGNED_BY: Record<string, 'e2e' | 'new' | 'none' | 'down'> = { signed: 'e2e', newsigned: 'new', unsigned: 'none', down: 'down', nginx: 'e2e', busybox: 'e2e' };

interface Fake {
  readonly verifyImage: VerifyImage;
  readonly calls: string[];
  maxInFlight: number;
}

/** A fake verifier: `signed` verifies under e2e.crt, `newsigned` under new_e2e.crt, `unsigned` never, `down` errors. */
function fake(options: { delayMs?: number; override?: (image: NormalizedImage, cert: string) => ImageCheck | undefined } = {}): Fake {
  let inFlight = 0;
  const state: Fake = {
    calls: [],
    maxInFlight: 0,
    verifyImage: async (image, _rule, attestor: CertificatesAttestor) => {
      state.calls.push(image.reference);
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      try {
        if (options.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
        const cert = (attestor.cert ?? '').trim();
        const overridden = options.override?.(image, cert);
        if (overridden !== undefined) return overridden;
        const repo = image.repository.split('/').pop() ?? '';
        const by = SIGNED_BY[repo] ?? 'none';
        const target = `${image.registry}/${image.path}@${image.digest ?? DIGEST}`;
        if (by === 'down') return { status: 'error', message: `${image.registry}: connect ECONNREFUSED` };
        if ((by === 'e2e' && cert === E2E_CERT) || (by === 'new' && cert === NEW_E2E_CERT)) return { status: 'pass', digest: image.digest ?? DIGEST, message: `verified ${target}` };
        if (by === 'none') return { status: 'fail', message: `failed to verify ${target}: no signature is associated with "${target}", make sure the artifact was signed successfully` };
        return { status: 'fail', message: `failed to verify ${target}: authenticity validation failed` };
      } finally {
        inFlight--;
      }
    },
  };
  return state;
}

function documents(...texts: string[]): { policies: KyvernoPolicy[]; exceptions: PolicyException[] } {
  const all = texts.flatMap((t, i) => decodePolicyDocuments(t, `doc${i}`));
  return { policies: all.filter((d): d is KyvernoPolicy => d.kind !== 'PolicyException'), exceptions: all.filter((d): d is PolicyException => d.kind === 'PolicyException') };
}

function sharedPolicy(file: string): string {
  return readFileSync(join(POLICIES, file), 'utf8');
}

/** A ClusterPolicy with one Notary rule; `entry`, `spec` and `rule` extend it. */
function policy(options: { entry?: Record<string, unknown>; spec?: Record<string, unknown>; rule?: Record<string, unknown>; name?: string } = {}): string {
  return JSON.stringify({
    apiVersion: 'kyverno.io/v1',
    kind: 'ClusterPolicy',
    metadata: { name: options.name ?? 'p' },
    spec: {
      validationFailureAction: 'Enforce',
      rules: [
        {
          name: 'r',
          match: { any: [{ resources: { kinds: ['Pod'] } }] },
          verifyImages: [{ type: 'Notary', imageReferences: ['*'], attestors: [{ entries: [{ certificates: { cert: E2E_CERT } }] }], ...options.entry }],
          ...options.rule,
        },
      ],
      ...options.spec,
    },
  });
}

/** pod-create.json's Pod with its images replaced, in `namespace` with `name`. */
function pod(images: readonly string[], options: { namespace?: string; name?: string } = {}): EvaluationRequest {
  const object = structuredClone(POD) as { metadata: Record<string, unknown>; spec: { containers: Array<Record<string, unknown>> } };
  const namespace = options.namespace ?? 'default';
  const name = options.name ?? 'echo-pod';
  object.metadata['namespace'] = namespace;
  object.metadata['name'] = name;
  const template = object.spec.containers[0] ?? {};
  object.spec.containers = images.map((image, i) => ({ ...template, name: `c${i}`, image }));
  return { kind: { group: '', version: 'v1', kind: 'Pod' }, namespace, name, operation: 'CREATE', labels: {}, namespaceLabels: {}, object };
}

const REG = '127.0.0.1:5000';

describe('evaluateImages: decisions', () => {
  it('denies under Enforce when a signature is missing, with Kyverno\'s message naming resource, policy, rule, image and check', async () => {
    const f = fake();
    const out = await evaluateImages({ ...documents(policy()), request: pod([`${REG}/e2e/unsigned:v1`], { namespace: 'ns1', name: 'web' }), verifyImage: f.verifyImage, signal });
    assert.equal(out.allowed, false);
    assert.equal(out.results.length, 1);
    assert.equal(out.results[0]?.result, 'fail');
    assert.match(out.message ?? '', /^\n\nresource Pod\/ns1\/web was blocked due to the following policies \n\np:\n {2}r: /);
    assert.match(out.message ?? '', /failed to verify image 127\.0\.0\.1:5000\/e2e\/unsigned:v1:/);
    assert.match(out.results[0]?.message ?? '', /^failed to verify image 127\.0\.0\.1:5000\/e2e\/unsigned:v1: \.attestors\[0\]\.entries\[0\]: failed to verify .*no signature is associated/);
    assert.match(out.message ?? '', /no signature is associated/);
    assert.deepEqual(out.patches, []);
  });

  it('admits a verified image under Enforce and pins it to the verified digest', async () => {
    const out = await evaluateImages({ ...documents(policy()), request: pod([`${REG}/e2e/signed:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(out.allowed, true);
    assert.equal(out.message, undefined);
    assert.equal(out.results[0]?.result, 'pass');
    assert.equal(out.results[0]?.digest, DIGEST);
    assert.deepEqual(out.patches, [{ op: 'replace', path: '/spec/containers/0/image', value: `${REG}/e2e/signed:v1@${DIGEST}` }]);
    const patched = applyPatch(pod([`${REG}/e2e/signed:v1`]).object, out.patches) as { spec: { containers: Array<{ image: string }> } };
    assert.equal(patched.spec.containers[0]?.image, `${REG}/e2e/signed:v1@${DIGEST}`);
  });

  it('admits under Audit with a warning and a fail result', async () => {
    const text = policy({ spec: { validationFailureAction: 'Audit' }, entry: { mutateDigest: false, verifyDigest: false } });
    const out = await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/unsigned:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(out.allowed, true);
    assert.equal(out.results[0]?.result, 'fail');
    assert.equal(out.results[0]?.action, 'Audit');
    assert.equal(out.warnings.length, 1);
    assert.match(out.warnings[0] ?? '', /^policy p\.r: failed to verify image/);
  });

  for (const failurePolicy of ['Fail', 'Ignore'] as const) {
    for (const status of ['pass', 'fail', 'error'] as const) {
      const repo = { pass: 'signed', fail: 'unsigned', error: 'down' }[status];
      const allowed = status === 'pass' || (status === 'error' && failurePolicy === 'Ignore');
      it(`Enforce, ${status}, failurePolicy ${failurePolicy}: ${allowed ? 'admits' : 'denies'}`, async () => {
        const text = policy({ spec: { webhookConfiguration: { failurePolicy } } });
        const out = await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/${repo}:v1`]), verifyImage: fake().verifyImage, signal });
        assert.equal(out.results[0]?.result, status);
        assert.equal(out.allowed, allowed);
        if (status === 'error') {
          assert.match(out.results[0]?.message ?? '', /verification could not complete: \.attestors\[0\]\.entries\[0\]: 127\.0\.0\.1:5000: connect ECONNREFUSED/);
          // Never a silent allow: an ignored error is a warning.
          if (allowed) assert.match(out.warnings[0] ?? '', /could not complete.*failurePolicy Ignore/);
          else assert.match(out.message ?? '', /verification could not complete/);
        }
      });
    }
  }

  it('denies an Audit policy whose verification errored under failurePolicy Fail (Kyverno BlockRequest)', async () => {
    const text = policy({ spec: { validationFailureAction: 'Audit' }, entry: { mutateDigest: false, verifyDigest: false } });
    const out = await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/down:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(out.allowed, false);
  });

  it('treats a verifier that throws as an error, not a pass', async () => {
    const verifyImage: VerifyImage = async () => {
      throw new Error('boom');
    };
    const out = await evaluateImages({ ...documents(policy()), request: pod([`${REG}/e2e/signed:v1`]), verifyImage, signal });
    assert.equal(out.results[0]?.result, 'error');
    assert.equal(out.allowed, false);
  });
});

describe('evaluateImages: which rules and images', () => {
  it('skips resources the exclude block matches, without verifying', async () => {
    const f = fake();
    const text = policy({ rule: { exclude: { any: [{ resources: { namespaces: ['kube-*'] } }] } } });
    const out = await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/unsigned:v1`], { namespace: 'kube-system' }), verifyImage: f.verifyImage, signal });
    assert.equal(out.allowed, true);
    assert.deepEqual(out.results, []);
    assert.deepEqual(f.calls, []);
  });

  it('skips images in skipImageReferences with a skip result and a warning, and verifies the rest', async () => {
    const f = fake();
    const text = policy({ entry: { skipImageReferences: [`${REG}/e2e/unsigned:*`] } });
    const out = await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/unsigned:v1`, `${REG}/e2e/signed:v1`]), verifyImage: f.verifyImage, signal });
    assert.equal(out.allowed, true);
    assert.deepEqual(out.results.map((r) => r.result), ['skip', 'pass']);
    assert.deepEqual(f.calls, [`${REG}/e2e/signed:v1`]);
    assert.match(out.warnings[0] ?? '', /skipped image 127\.0\.0\.1:5000\/e2e\/unsigned:v1/);
  });

  it('checks only images that match imageReferences, matched after normalization', async () => {
    const f = fake();
    const text = policy({ entry: { imageReferences: ['docker.io/nginx:*'] } });
    const out = await evaluateImages({ ...documents(text), request: pod(['nginx', `${REG}/e2e/unsigned:v1`]), verifyImage: f.verifyImage, signal });
    assert.deepEqual(f.calls, ['docker.io/nginx:latest']);
    assert.equal(out.allowed, true);
    assert.deepEqual(out.patches, [{ op: 'replace', path: '/spec/containers/0/image', value: `docker.io/nginx:latest@${DIGEST}` }]);
  });

  it('a PolicyException admits exactly the Pod it matches', async () => {
    const docs = documents(sharedPolicy('02-block-unsigned-images.yaml'), sharedPolicy('05-policy-exception.yaml'));
    const f = fake();
    const excepted = await evaluateImages({ ...docs, request: pod([`${REG}/e2e/unsigned:v1`], { namespace: 'production', name: 'emergency-debug-pod' }), verifyImage: f.verifyImage, signal });
    assert.equal(excepted.allowed, true);
    assert.deepEqual(excepted.results.map((r) => [r.result, r.message]), [['skip', 'rule is skipped due to policy exception production/emergency-exception']]);
    assert.deepEqual(f.calls, []);
    const other = await evaluateImages({ ...docs, request: pod([`${REG}/e2e/unsigned:v1`], { namespace: 'production', name: 'other' }), verifyImage: f.verifyImage, signal });
    assert.equal(other.allowed, false);
  });
});

describe('evaluateImages: attestors, verifyDigest, required', () => {
  const twoEntries = (count: number | undefined) => ({
    attestors: [{ ...(count === undefined ? {} : { count }), entries: [{ certificates: { cert: NEW_E2E_CERT } }, { certificates: { cert: E2E_CERT } }] }],
  });

  it('count 1 passes when any entry verifies', async () => {
    const out = await evaluateImages({ ...documents(policy({ entry: twoEntries(1) })), request: pod([`${REG}/e2e/signed:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(out.results[0]?.result, 'pass');
  });

  it('no count means every entry must verify', async () => {
    const out = await evaluateImages({ ...documents(policy({ entry: twoEntries(undefined) })), request: pod([`${REG}/e2e/signed:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(out.results[0]?.result, 'fail');
    assert.match(out.results[0]?.message ?? '', /\.attestors\[0\]\.entries\[0\]: .*authenticity/);
  });

  it('stops at the first count successes', async () => {
    const f = fake();
    const text = policy({ entry: { attestors: [{ count: 1, entries: [{ certificates: { cert: E2E_CERT } }, { certificates: { cert: NEW_E2E_CERT } }] }] } });
    await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/signed:v1`]), verifyImage: f.verifyImage, signal });
    assert.equal(f.calls.length, 1);
  });

  it('is an error, not a fail, when entries that errored could have made up the count', async () => {
    const f = fake({ override: (_image, cert) => (cert === NEW_E2E_CERT ? { status: 'error', message: 'timeout' } : undefined) });
    const errored = await evaluateImages({ ...documents(policy({ entry: twoEntries(1) })), request: pod([`${REG}/e2e/unsigned:v1`]), verifyImage: f.verifyImage, signal });
    assert.equal(errored.results[0]?.result, 'error');
    // With both entries required, the definite failure of one decides.
    const failed = await evaluateImages({ ...documents(policy({ entry: twoEntries(undefined) })), request: pod([`${REG}/e2e/unsigned:v1`]), verifyImage: f.verifyImage, signal });
    assert.equal(failed.results[0]?.result, 'fail');
  });

  it('every attestor set must pass', async () => {
    const text = policy({ entry: { attestors: [{ entries: [{ certificates: { cert: E2E_CERT } }] }, { entries: [{ certificates: { cert: NEW_E2E_CERT } }] }] } });
    const out = await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/signed:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(out.results[0]?.result, 'fail');
    assert.match(out.results[0]?.message ?? '', /\.attestors\[1\]\.entries\[0\]/);
  });

  it('verifyDigest without mutateDigest fails a tag-only image with missing digest', async () => {
    const text = policy({ entry: { mutateDigest: false } });
    const tagged = await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/signed:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(tagged.results[0]?.result, 'fail');
    assert.equal(tagged.results[0]?.message, `missing digest for ${REG}/e2e/signed:v1`);
    assert.deepEqual(tagged.patches, []);
    const pinned = await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/signed@${OTHER_DIGEST}`]), verifyImage: fake().verifyImage, signal });
    assert.equal(pinned.results[0]?.result, 'pass');
  });

  it('verifyDigest false admits a tag-only image without pinning it', async () => {
    const text = policy({ entry: { mutateDigest: false, verifyDigest: false } });
    const out = await evaluateImages({ ...documents(text), request: pod([`${REG}/e2e/signed:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(out.results[0]?.result, 'pass');
    assert.deepEqual(out.patches, []);
  });

  it('required fails an image the entry has no attestors to verify; required false admits it', async () => {
    const required = await evaluateImages({ ...documents(policy({ entry: { attestors: [] } })), request: pod([`${REG}/e2e/signed:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(required.results[0]?.result, 'fail');
    assert.equal(required.results[0]?.message, `unverified image ${REG}/e2e/signed:v1`);
    const optional = await evaluateImages({ ...documents(policy({ entry: { attestors: [], required: false, verifyDigest: false } })), request: pod([`${REG}/e2e/signed:v1`]), verifyImage: fake().verifyImage, signal });
    assert.equal(optional.results[0]?.result, 'pass');
  });

  it('leaves images that already carry a digest unpatched', async () => {
    const out = await evaluateImages({ ...documents(policy()), request: pod([`${REG}/e2e/signed:v1@${OTHER_DIGEST}`]), verifyImage: fake().verifyImage, signal });
    assert.equal(out.allowed, true);
    assert.deepEqual(out.patches, []);
  });
});

describe('evaluateImages: calls', () => {
  it('verifies identical images once and the images of one request in parallel', async () => {
    const f = fake({ delayMs: 30 });
    const request = pod(['nginx', 'docker.io/library/nginx:latest', 'busybox:1', 'nginx']);
    const out = await evaluateImages({ ...documents(policy()), request, verifyImage: f.verifyImage, signal });
    assert.equal(out.allowed, true);
    assert.equal(out.results.length, 4);
    assert.deepEqual([...f.calls].sort(), ['docker.io/busybox:1', 'docker.io/nginx:latest']);
    assert.equal(f.maxInFlight, 2);
    assert.equal(out.patches.length, 4);
  });

  it('does not share verifications between rules', async () => {
    const f = fake();
    const docs = documents(policy({ name: 'a' }), policy({ name: 'b' }));
    await evaluateImages({ ...docs, request: pod(['nginx']), verifyImage: f.verifyImage, signal });
    assert.equal(f.calls.length, 2);
  });
});

describe('evaluateImages: ../shared/policies', () => {
  const run = (files: string[], images: string[], where: { namespace: string; name?: string }) =>
    evaluateImages({ ...documents(...files.map(sharedPolicy)), request: pod(images, where), verifyImage: fake().verifyImage, signal });

  it('01 admits the signed image in test-notation and pins it, denies the unsigned one, ignores other namespaces', async () => {
    const signed = await run(['01-check-image-notary.yaml'], [`${REG}/e2e/signed:v1`], { namespace: 'test-notation' });
    assert.equal(signed.allowed, true);
    assert.equal(signed.patches.length, 1);
    const unsigned = await run(['01-check-image-notary.yaml'], [`${REG}/e2e/unsigned:v1`], { namespace: 'test-notation' });
    assert.equal(unsigned.allowed, false);
    assert.match(unsigned.message ?? '', /check-image:\n {2}check-digest: .*no signature is associated with/s);
    const elsewhere = await run(['01-check-image-notary.yaml'], [`${REG}/e2e/unsigned:v1`], { namespace: 'default' });
    assert.deepEqual(elsewhere.results, []);
  });

  it('02 denies unsigned images outside system namespaces and leaves kube-system alone', async () => {
    assert.equal((await run(['02-block-unsigned-images.yaml'], [`${REG}/e2e/unsigned:v1`], { namespace: 'apps' })).allowed, false);
    assert.equal((await run(['02-block-unsigned-images.yaml'], [`${REG}/e2e/signed:v1`], { namespace: 'apps' })).allowed, true);
    assert.deepEqual((await run(['02-block-unsigned-images.yaml'], [`${REG}/e2e/unsigned:v1`], { namespace: 'kube-system' })).results, []);
  });

  it('03 trusts only e2e.crt in production and either certificate in staging', async () => {
    assert.equal((await run(['03-verify-images-by-environment.yaml'], [`${REG}/e2e/signed:v1`], { namespace: 'production' })).allowed, true);
    assert.equal((await run(['03-verify-images-by-environment.yaml'], [`${REG}/e2e/signed:v1`], { namespace: 'staging' })).allowed, true);
    assert.equal((await run(['03-verify-images-by-environment.yaml'], [`${REG}/e2e/newsigned:v1`], { namespace: 'production' })).allowed, false);
    const staging = await run(['03-verify-images-by-environment.yaml'], [`${REG}/e2e/newsigned:v1`], { namespace: 'staging' });
    assert.equal(staging.allowed, true);
    assert.deepEqual(staging.results.map((r) => [r.rule, r.result]), [['verify-staging-images', 'pass']]);
  });

  it('04 admits the unsigned image in dev with a fail result for audit-signatures', async () => {
    const out = await run(['04-audit-mode.yaml'], [`${REG}/e2e/unsigned:v1`], { namespace: 'dev' });
    assert.equal(out.allowed, true);
    assert.deepEqual(out.results.map((r) => [r.policy, r.rule, r.result]), [['audit-image-signatures', 'audit-signatures', 'fail']]);
    assert.equal(out.warnings.length, 1);
    const signed = await run(['04-audit-mode.yaml'], [`${REG}/e2e/signed:v1`], { namespace: 'dev' });
    assert.deepEqual(signed.results.map((r) => r.result), ['pass']);
  });

  it('05 with 02 admits emergency-debug-pod in production and denies any other name', async () => {
    assert.equal((await run(['02-block-unsigned-images.yaml', '05-policy-exception.yaml'], [`${REG}/e2e/unsigned:v1`], { namespace: 'production', name: 'emergency-debug-pod' })).allowed, true);
    assert.equal((await run(['02-block-unsigned-images.yaml', '05-policy-exception.yaml'], [`${REG}/e2e/unsigned:v1`], { namespace: 'production', name: 'debug-pod' })).allowed, false);
  });
});

describe('evaluateImages: autogen', () => {
  const wrap = (kind: 'Deployment' | 'CronJob', image: string): EvaluationRequest => {
    const spec = { containers: [{ name: 'c0', image }] };
    const object =
      kind === 'Deployment'
        ? { apiVersion: 'apps/v1', kind, metadata: { name: 'web', namespace: 'ns1' }, spec: { template: { spec } } }
        : { apiVersion: 'batch/v1', kind, metadata: { name: 'nightly', namespace: 'ns1' }, spec: { jobTemplate: { spec: { template: { spec } } } } };
    return { kind: { group: kind === 'Deployment' ? 'apps' : 'batch', version: 'v1', kind }, namespace: 'ns1', name: object.metadata.name, operation: 'CREATE', labels: {}, namespaceLabels: {}, object };
  };

  for (const kind of ['Deployment', 'CronJob'] as const) {
    it(`a Pod rule also denies an unsigned image in a ${kind}, and pins a signed one at the template path`, async () => {
      const denied = await evaluateImages({ ...documents(policy()), request: wrap(kind, `${REG}/e2e/unsigned:v1`), verifyImage: fake().verifyImage, signal });
      assert.equal(denied.allowed, false);
      assert.equal(denied.results[0]?.rule, kind === 'Deployment' ? 'autogen-r' : 'autogen-cronjob-r');
      const admitted = await evaluateImages({ ...documents(policy()), request: wrap(kind, `${REG}/e2e/signed:v1`), verifyImage: fake().verifyImage, signal });
      assert.equal(admitted.allowed, true);
      const path = kind === 'Deployment' ? '/spec/template/spec/containers/0/image' : '/spec/jobTemplate/spec/template/spec/containers/0/image';
      assert.deepEqual(admitted.patches, [{ op: 'replace', path, value: `${REG}/e2e/signed:v1@${DIGEST}` }]);
    });
  }
});
