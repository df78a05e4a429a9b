// End-to-end tests of `sigil apply`: the real binary, Debian's docker-registry on loopback, and
// Notation's own signed and unsigned e2e layouts pushed into it with `sigil cp -r`.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { notaryPolicyYaml } from '../../test/support/admission.js';
import { freePort, startDockerRegistry, type RunningRegistry } from '../../test/support/docker-registry.js';
import { ok, runSigil, type Result } from '../../test/support/sigil-cli.js';
import { copyWritable, NOTATION_E2E, NOTATION_LAYOUTS } from '../../test/support/shared.js';

function sigil(args: string[]): Promise<Result> {
  return runSigil(args, { env: { SIGIL_CONFIG: join(home, 'sigil'), DOCKER_CONFIG: join(home, 'docker') } });
}

let home: string;
let registry: RunningRegistry;
let cert: string;

/** The tests' ClusterPolicy (test/support/admission.ts) for Pods in test-notation, digests verified and required. */
function policyYaml(options: { name: string; host: string; action?: 'Enforce' | 'Audit' }): string {
  const audit = options.action === 'Audit';
  return notaryPolicyYaml({ ...options, cert, timeoutSeconds: 30, namespaces: ['test-notation'], verifyDigest: !audit, required: true });
}

function podYaml(name: string, image: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: test-notation
spec:
  containers:
    - name: app
      image: ${image}
`;
}

interface JsonOutput {
  results: Array<{ resource: { kind: string; namespace: string; name: string }; policy: string; rule: string; image: string; result: string; message: string; digest?: string }>;
  summary: Record<string, number>;
}

let policy: string;
let signedPod: string;
let unsignedPod: string;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-apply-'));
  registry = await startDockerRegistry();
  cert = await readFile(join(NOTATION_E2E, 'config/localkeys/e2e.crt'), 'utf8');
  const signed = join(home, 'signed');
  const unsigned = join(home, 'unsigned');
  await Promise.all([copyWritable(join(NOTATION_LAYOUTS, 'e2e-valid-signature'), signed), copyWritable(join(NOTATION_LAYOUTS, 'e2e'), unsigned)]);
  ok(await sigil(['cp', '-r', '--from-oci-layout', `${signed}:v1`, `${registry.host}/admission/signed:v1`]));
  ok(await sigil(['cp', '-r', '--from-oci-layout', `${unsigned}:v1`, `${registry.host}/admission/unsigned:v1`]));
  policy = join(home, 'policy.yaml');
  await writeFile(policy, policyYaml({ name: 'check-image', host: registry.host }));
  signedPod = join(home, 'signed-pod.yaml');
  unsignedPod = join(home, 'unsigned-pod.yaml');
  await writeFile(signedPod, podYaml('signed', `${registry.host}/admission/signed:v1`));
  await writeFile(unsignedPod, podYaml('unsigned', `${registry.host}/admission/unsigned:v1`));
});
after(async () => {
  await registry?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('sigil apply --registry-access', () => {
  it('passes a Pod whose image carries a Notation signature by the trusted certificate', async () => {
    const result = ok(await sigil(['apply', policy, '--resource', signedPod, '--registry-access']));
    assert.match(result.stdout, /^RESOURCE\s+POLICY\s+RULE\s+RESULT\s+MESSAGE\n/);
    assert.match(result.stdout, /Pod\/test-notation\/signed\s+check-image\s+check-digest\s+pass\s+verified image signatures for 127\.0\.0\.1:\d+\/admission\/signed:v1/);
    assert.match(result.stdout, /pass: 1, fail: 0, warn: 0, error: 0, skip: 0\n$/);
  });

  it('fails (exit 1) a Pod whose image has no signature, saying so', async () => {
    const result = await sigil(['apply', policy, '--resource', unsignedPod, '--registry-access']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /Pod\/test-notation\/unsigned\s+check-image\s+check-digest\s+fail\s+failed to verify image .*no signature is associated with "127\.0\.0\.1:\d+\/admission\/unsigned@sha256:/);
    assert.match(result.stdout, /pass: 0, fail: 1, warn: 0, error: 0, skip: 0/);
    assert.match(result.stderr, /^Error: policy checks did not pass: 1 fail, 0 error\n$/);
  });

  it('lists every result as JSON, with the digest the signed image was verified at', async () => {
    const result = await sigil(['apply', policy, '-r', signedPod, '-r', unsignedPod, '--registry-access', '-o', 'json']);
    assert.equal(result.code, 1);
    const out = JSON.parse(result.stdout) as JsonOutput;
    assert.deepEqual(out.results.map((r) => [r.resource.name, r.policy, r.rule, r.result]), [['signed', 'check-image', 'check-digest', 'pass'], ['unsigned', 'check-image', 'check-digest', 'fail']]);
    assert.match(out.results[0]?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(out.summary, { pass: 1, fail: 1, warn: 0, error: 0, skip: 0 });
  });

  it('turns Audit failures into warnings with --audit-warn, which then do not fail', async () => {
    const audit = join(home, 'audit.yaml');
    await writeFile(audit, policyYaml({ name: 'audit-image', host: registry.host, action: 'Audit' }));
    const warned = ok(await sigil(['apply', audit, '-r', unsignedPod, '--registry-access', '--audit-warn']));
    assert.match(warned.stdout, /audit-image\s+check-digest\s+warn\s+failed to verify image/);
    assert.match(warned.stdout, /pass: 0, fail: 0, warn: 1, error: 0, skip: 0/);
    const failed = await sigil(['apply', audit, '-r', unsignedPod, '--registry-access']);
    assert.equal(failed.code, 1);
  });

  it('reports error (exit 1) when the registry cannot be reached', async () => {
    const down = `127.0.0.1:${await freePort()}`;
    const downPolicy = join(home, 'down-policy.yaml');
    const downPod = join(home, 'down-pod.yaml');
    await writeFile(downPolicy, policyYaml({ name: 'check-image', host: down }));
    await writeFile(downPod, podYaml('down', `${down}/admission/signed:v1`));
    const result = await sigil(['apply', downPolicy, '-r', downPod, '--registry-access']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /Pod\/test-notation\/down\s+check-image\s+check-digest\s+error\s+failed to verify image .*verification could not complete/);
    assert.match(result.stdout, /pass: 0, fail: 0, warn: 0, error: 1, skip: 0/);
  });
});

describe('sigil apply without --registry-access', () => {
  it('fetches nothing and reports error for rules that need a signature', async () => {
    const result = await sigil(['apply', policy, '-r', signedPod]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /check-digest\s+error\s+.*registry access is off.*rerun with --registry-access/);
  });

  it('passes resources no rule matches', async () => {
    const other = join(home, 'other-ns.yaml');
    await writeFile(other, podYaml('x', 'nginx').replace('namespace: test-notation', 'namespace: default'));
    const result = ok(await sigil(['apply', policy, '-r', other]));
    assert.match(result.stdout, /pass: 0, fail: 0, warn: 0, error: 0, skip: 0/);
  });
});
