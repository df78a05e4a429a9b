import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NOTATION_E2E } from '../../test/support/shared.js';
import { evaluateImages, type ImageRuleResult, type VerifyImage } from './engine.js';
import { normalizeImage, VERIFY_IMAGES_ANNOTATION, VERIFY_IMAGES_SCOPED_ANNOTATION } from './images.js';
import type { KyvernoPolicy } from './model.js';
import { applyPatch } from './patch.js';
import { decodePolicyDocuments } from './policy.js';
import { buildVerificationRecord, policyFingerprint, recordImageKey, recordPatches, scopedPolicyKey, unbackedClaims, VERIFIED_POLICIES_ANNOTATION, verifiedBefore } from './record.js';

const E2E_CERT = readFileSync(join(NOTATION_E2E, 'config/localkeys/e2e.crt'), 'utf8');
const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;

function result(overrides: Partial<ImageRuleResult>): ImageRuleResult {
  return {
    policy: 'check-image',
    rule: 'verify',
    image: 'ghcr.io/org/app:v1',
    path: '/spec/containers/0/image',
    result: 'pass',
    message: 'ok',
    digest: DIGEST,
    action: 'Enforce',
    failurePolicy: 'Fail',
    ...overrides,
  };
}

function pod(images: string[], annotations?: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', ...(annotations === undefined ? {} : { annotations }) },
    spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
  };
}

function checkImagePolicy(cert: string): KyvernoPolicy {
  const [decoded] = decodePolicyDocuments(
    JSON.stringify({
      apiVersion: 'kyverno.io/v1',
      kind: 'ClusterPolicy',
      metadata: { name: 'check-image' },
      spec: {
        validationFailureAction: 'Enforce',
        rules: [{ name: 'verify', match: { any: [{ resources: { kinds: ['Pod'] } }] }, verifyImages: [{ type: 'Notary', imageReferences: ['ghcr.io/*'], attestors: [{ entries: [{ certificates: { cert } }] }] }] }],
      },
    }),
    'record.test',
  ) as KyvernoPolicy[];
  assert.ok(decoded);
  return decoded;
}
const POLICY = checkImagePolicy(E2E_CERT);

describe('buildVerificationRecord', () => {
  it('keys images by registry/path@digest and cluster policies by /name, as Kyverno 1.19', () => {
    const record = buildVerificationRecord([result({}), result({ policy: 'team/local', rule: 'r2', image: 'nginx', digest: OTHER, result: 'skip' })]);
    assert.deepEqual([...record.unscoped], [
      [`ghcr.io/org/app@${DIGEST}`, 'pass'],
      [`docker.io/nginx@${OTHER}`, 'skip'],
    ]);
    assert.deepEqual([...record.scoped.keys()], ['/check-image', 'team/local']);
    assert.equal(record.scoped.get('/check-image')?.get('verify')?.get(`ghcr.io/org/app@${DIGEST}`), 'pass');
  });

  it('records failures over passes in the unscoped map, and no errors at all', () => {
    const record = buildVerificationRecord([result({}), result({ rule: 'other', result: 'fail' }), result({ image: 'ghcr.io/org/down:v1', result: 'error', digest: undefined })]);
    assert.deepEqual([...record.unscoped], [[`ghcr.io/org/app@${DIGEST}`, 'fail']]);
    assert.equal(record.scoped.get('/check-image')?.get('verify')?.get(`ghcr.io/org/app@${DIGEST}`), 'pass');
  });

  it('keys an image whose digest is unknown by its normalized reference, and leaves out rule-wide skips', () => {
    const record = buildVerificationRecord([result({ image: 'app', digest: undefined, result: 'fail' }), result({ image: undefined, path: undefined, result: 'skip' })]);
    assert.deepEqual([...record.unscoped], [['docker.io/app:latest', 'fail']]);
  });
});

describe('recordPatches', () => {
  it('adds the annotations object first when the object has none, then both annotations', () => {
    const object = pod(['ghcr.io/org/app:v1']);
    const ops = recordPatches(object, buildVerificationRecord([result({})], [POLICY]));
    assert.deepEqual(
      ops.map((o) => [o.op, o.path]),
      [
        ['add', '/metadata/annotations'],
        ['add', '/metadata/annotations/kyverno.io~1verify-images'],
        ['add', '/metadata/annotations/kyverno.io~1verify-images-scoped'],
        ['add', '/metadata/annotations/sigil.dev~1verified-policies'],
      ],
    );
    const patched = applyPatch(object, ops) as { metadata: { annotations: Record<string, string> } };
    assert.equal(patched.metadata.annotations[VERIFY_IMAGES_ANNOTATION], `{"ghcr.io/org/app@${DIGEST}":"pass"}`);
    assert.equal(patched.metadata.annotations[VERIFY_IMAGES_SCOPED_ANNOTATION], `{"version":1,"policies":{"/check-image":{"verify":{"ghcr.io/org/app@${DIGEST}":"pass"}}}}`);
    assert.equal(patched.metadata.annotations[VERIFIED_POLICIES_ANNOTATION], JSON.stringify({ '/check-image': policyFingerprint(POLICY) }));
  });

  it("replaces the request's own values: the record is never taken from the user", () => {
    const forged = pod(['ghcr.io/org/app:v1'], { [VERIFY_IMAGES_ANNOTATION]: '{"ghcr.io/org/app:v1":"pass"}', [VERIFY_IMAGES_SCOPED_ANNOTATION]: 'junk', team: 'a' });
    const ops = recordPatches(forged, buildVerificationRecord([result({ result: 'fail' })]));
    assert.deepEqual(ops.map((o) => o.op), ['replace', 'replace', 'add']);
    const patched = applyPatch(forged, ops) as { metadata: { annotations: Record<string, string> } };
    assert.equal(patched.metadata.annotations[VERIFY_IMAGES_ANNOTATION], `{"ghcr.io/org/app@${DIGEST}":"fail"}`);
    assert.equal(patched.metadata.annotations['team'], 'a');
  });

  it('removes forged annotations when nothing was decided, and does nothing when there are none', () => {
    const forged = pod(['ghcr.io/org/app:v1'], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: '{}' });
    assert.deepEqual(recordPatches(forged, buildVerificationRecord([])), [{ op: 'remove', path: '/metadata/annotations/kyverno.io~1verify-images-scoped' }]);
    assert.deepEqual(recordPatches(pod(['x']), buildVerificationRecord([])), []);
  });
});

function scoped(policy: string, rule: string, image: string, status: string): string {
  return JSON.stringify({ version: 1, policies: { [policy]: { [rule]: { [image]: status } } } });
}

describe('unbackedClaims', () => {
  const pinned = `ghcr.io/org/app:v1@${DIGEST}`;
  const key = `ghcr.io/org/app@${DIGEST}`;

  it('finds a pass the evaluation does not confirm', () => {
    const object = pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: scoped('/check-image', 'verify', key, 'pass') });
    const claims = unbackedClaims(object, 'Pod', [result({ image: pinned, result: 'fail' })]);
    assert.equal(claims.length, 1);
    assert.match(claims[0] ?? '', /claims ghcr\.io\/org\/app@sha256:a+ is pass for policy \/check-image rule verify/);
  });

  it('accepts claims Sigil backs, and ignores rules it did not run and images the object lacks', () => {
    const backed = pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: scoped('/check-image', 'verify', key, 'pass') });
    assert.deepEqual(unbackedClaims(backed, 'Pod', [result({ image: pinned })]), []);
    const otherRule = pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: scoped('/other', 'verify', key, 'pass') });
    assert.deepEqual(unbackedClaims(otherRule, 'Pod', [result({ image: pinned, result: 'fail' })]), []);
    const gone = pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: scoped('/check-image', 'verify', `ghcr.io/org/old@${OTHER}`, 'pass') });
    assert.deepEqual(unbackedClaims(gone, 'Pod', [result({ image: pinned, result: 'fail' })]), []);
  });

  it('counts an unreadable record as one claim, and no record as none', () => {
    assert.equal(unbackedClaims(pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: '{"version":2}' }), 'Pod', []).length, 1);
    assert.deepEqual(unbackedClaims(pod([pinned]), 'Pod', [result({ result: 'fail' })]), []);
  });
});

describe('verifiedBefore', () => {
  const pinned = `ghcr.io/org/app:v1@${DIGEST}`;
  const key = `ghcr.io/org/app@${DIGEST}`;
  const path = '/spec/containers/0/image';
  const under = { [VERIFIED_POLICIES_ANNOTATION]: JSON.stringify({ '/check-image': policyFingerprint(POLICY) }) };
  const stored = pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: scoped('/check-image', 'verify', key, 'pass'), ...under });
  const check = (object: unknown, rule = 'verify', at = path, image = pinned, policies = [POLICY]) => verifiedBefore(object, 'Pod', policies)('check-image', rule, at, normalizeImage(image));

  it('carries over a pinned image left where it was and recorded as passed by the same rule under the same policy', () => {
    assert.equal(check(stored), true);
  });

  it('does not carry over a changed, moved or tag-only image, another rule, or a failed record', () => {
    assert.equal(check(stored, 'verify', path, `ghcr.io/org/app:v1@${OTHER}`), false);
    assert.equal(check(stored, 'verify', '/spec/containers/1/image'), false);
    assert.equal(check(stored, 'verify', path, 'ghcr.io/org/app:v1'), false);
    assert.equal(check(stored, 'other'), false);
    assert.equal(check(pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: scoped('/check-image', 'verify', key, 'fail'), ...under })), false);
  });

  it('does not carry over a pass reached under another version of the policy, or without its fingerprint (a Kyverno-written record)', () => {
    const changed = checkImagePolicy(readFileSync(join(NOTATION_E2E, 'config/localkeys/new_e2e.crt'), 'utf8'));
    assert.equal(check(stored, 'verify', path, pinned, [changed]), false, 'new trust anchors');
    assert.equal(check(stored, 'verify', path, pinned, []), false, 'the policy is gone');
    assert.equal(check(pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: scoped('/check-image', 'verify', key, 'pass') })), false);
    assert.equal(check(pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: scoped('/check-image', 'verify', key, 'pass'), [VERIFIED_POLICIES_ANNOTATION]: 'not json' })), false);
  });

  it('trusts nothing from a stored object without a readable record', () => {
    assert.equal(check(pod([pinned], under)), false);
    assert.equal(check(pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: 'nope', ...under })), false);
    assert.equal(check({ kind: 'Pod', metadata: { annotations: stored.metadata }, spec: { containers: 'bad' } }), false);
  });
});

describe('record keys', () => {
  it('keeps Kyverno spellings', () => {
    assert.equal(recordImageKey(normalizeImage('nginx'), DIGEST), `docker.io/nginx@${DIGEST}`);
    assert.equal(recordImageKey(normalizeImage('nginx'), undefined), 'docker.io/nginx:latest');
    assert.equal(scopedPolicyKey('ns/p'), 'ns/p');
    assert.equal(scopedPolicyKey('p'), '/p');
  });
});

describe('evaluateImages with the stored record', () => {
  const pinned = `ghcr.io/org/app:v1@${DIGEST}`;

  it('passes an unchanged pinned image on an UPDATE without calling the verifier, and verifies a new one', async () => {
    const calls: string[] = [];
    const verifyImage: VerifyImage = async (image) => {
      calls.push(image.image);
      return { status: 'fail', message: 'registry says no' };
    };
    const stored = pod([pinned], { [VERIFY_IMAGES_SCOPED_ANNOTATION]: scoped('/check-image', 'verify', `ghcr.io/org/app@${DIGEST}`, 'pass'), [VERIFIED_POLICIES_ANNOTATION]: JSON.stringify({ '/check-image': policyFingerprint(POLICY) }) });
    const updated = pod([pinned, `ghcr.io/org/new:v1@${OTHER}`]);
    const evaluation = await evaluateImages({
      policies: [POLICY],
      exceptions: [],
      request: { kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'ns', name: 'p', operation: 'UPDATE', labels: {}, namespaceLabels: {}, object: updated },
      verifyImage,
      signal: new AbortController().signal,
      verifiedBefore: verifiedBefore(stored, 'Pod', [POLICY]),
    });
    assert.deepEqual(calls, [`ghcr.io/org/new:v1@${OTHER}`]);
    assert.deepEqual(evaluation.results.map((r) => [r.image, r.result]), [
      [pinned, 'pass'],
      [`ghcr.io/org/new:v1@${OTHER}`, 'fail'],
    ]);
    assert.match(evaluation.results[0]?.message ?? '', /unchanged since it was verified/);
    assert.equal(evaluation.allowed, false);
  });
});
