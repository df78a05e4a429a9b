// End-to-end tests of `sigil admission manifests` through the real binary, and of the installed
// shape: `sigil admission serve` run with the Deployment's own args on the Secret's material.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { failsWithOneLine, ok, runSigil, SIGIL, type Result } from '../../test/support/sigil-cli.js';
import { SHARED_POLICIES } from '../../test/support/shared.js';
import { VERSION } from './version.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = Record<string, any>;

let home: string;

function sigil(args: string[]): Promise<Result> {
  return runSigil(args, { env: { SIGIL_CONFIG: join(home, 'sigil') } });
}

function parse(stdout: string): Json[] {
  return parseAllDocuments(stdout).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as Json;
  });
}

const find = (objects: Json[], kind: string): Json => objects.find((o) => o.kind === kind) ?? {};
const decode = (b64: unknown) => Buffer.from(String(b64), 'base64').toString('utf8');

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-manifests-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('sigil admission manifests', () => {
  it('generates ca.crt, tls.crt and tls.key in an empty --tls-dir and prints manifests that use them', async () => {
    const dir = join(home, 'tls-new');
    const result = ok(await sigil(['admission', 'manifests', '--tls-dir', dir]));
    assert.equal(result.stderr, '', 'stdout carries only the manifests, and stderr nothing');
    const objects = parse(result.stdout);
    assert.deepEqual((await readdir(dir)).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    assert.equal((await stat(join(dir, 'tls.key'))).mode & 0o777, 0o600);
    const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    const secret = find(objects, 'Secret');
    assert.equal(decode(secret.data['tls.crt']), await readFile(join(dir, 'tls.crt'), 'utf8'));
    assert.equal(decode(secret.data['tls.key']), await readFile(join(dir, 'tls.key'), 'utf8'));
    assert.equal(decode(find(objects, 'ValidatingWebhookConfiguration').webhooks[0].clientConfig.caBundle), ca);
    assert.equal(decode(find(objects, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle), ca);
    assert.equal(find(objects, 'Deployment').spec.template.spec.containers[0].image, `ghcr.io/sigil-dev/sigil:${VERSION}`);
    assert.equal(objects.filter((o) => o.kind === 'CustomResourceDefinition').length, 3);
    // A second run reuses the directory: same CA, same caBundle.
    const again = parse(ok(await sigil(['admission', 'manifests', '--tls-dir', dir])).stdout);
    assert.equal(decode(find(again, 'ValidatingWebhookConfiguration').webhooks[0].clientConfig.caBundle), ca);
  });

  it('generates a certificate for the Service in --namespace', async () => {
    const dir = join(home, 'tls-ns');
    const objects = parse(ok(await sigil(['admission', 'manifests', '--tls-dir', dir, '--namespace', 'verify', '--replicas', '2'])).stdout);
    const leaf = new X509Certificate(await readFile(join(dir, 'tls.crt')));
    assert.equal(leaf.checkHost('sigil-admission.verify.svc'), 'sigil-admission.verify.svc');
    assert.equal(find(objects, 'Service').metadata.namespace, 'verify');
    assert.equal(find(objects, 'PodDisruptionBudget').spec.minAvailable, 1);
  });

  it('puts --policies files in the ConfigMap after checking they load, and prints a List with -o json', async () => {
    const policy = join(SHARED_POLICIES, '01-check-image-notary.yaml');
    const { stdout } = ok(await sigil(['admission', 'manifests', '--tls-dir', join(home, 'tls-new'), '--policies', policy, '-o', 'json', '--no-crds', '--failure-policy', 'Ignore']));
    const list: Json = JSON.parse(stdout);
    const items = list.items as Json[];
    assert.equal(list.kind, 'List');
    assert.equal(items.filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
    assert.deepEqual(find(items, 'ConfigMap').data, { '01-check-image-notary.yaml': await readFile(policy, 'utf8') });
    const [hook] = find(items, 'ValidatingWebhookConfiguration').webhooks;
    assert.equal(hook.failurePolicy, 'Ignore');
    assert.equal(hook.timeoutSeconds, 30, 'the policy’s webhookTimeoutSeconds');
  });

  it('prints only the CRDs with --crds-only, without needing --tls-dir', async () => {
    const objects = parse(ok(await sigil(['admission', 'manifests', '--crds-only'])).stdout);
    assert.deepEqual(objects.map((o) => String(o.metadata.name)), ['clusterpolicies.sigil.dev', 'policies.sigil.dev', 'policyexceptions.sigil.dev']);
  });

  it('fails with one line on --timeout-seconds 31, before writing anything to --tls-dir', async () => {
    const dir = join(home, 'tls-untouched');
    failsWithOneLine(await sigil(['admission', 'manifests', '--tls-dir', dir, '--timeout-seconds', '31']), /^Error: --timeout-seconds: 31 is out of range: the apiserver allows 1 to 30 seconds$/);
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });

  it('fails with one line on bad or missing options', async () => {
    failsWithOneLine(await sigil(['admission', 'manifests']), /--tls-dir DIR is required/);
    failsWithOneLine(await sigil(['admission', 'manifests', '--tls-dir', join(home, 'x'), '--replicas', '0']), /^Error: --replicas: 0 is not a whole number/);
    failsWithOneLine(await sigil(['admission', 'manifests', '--tls-dir', join(home, 'x'), '--namespace', 'default']), /^Error: --namespace: default/);
    failsWithOneLine(await sigil(['admission', 'manifests', '--crds-only', '--no-crds']), /contradict/);
    failsWithOneLine(
      await sigil(['admission', 'manifests', '--tls-dir', join(home, 'tls-new'), '--namespace', 'other']),
      /^Error: --tls-dir tls\.crt: the serving certificate does not cover sigil-admission\.other\.svc/,
    );
    failsWithOneLine(await sigil(['admission', 'manifests', '--failure-policy', 'Maybe']), /--failure-policy/);
    const policy = join(SHARED_POLICIES, '01-check-image-notary.yaml');
    failsWithOneLine(
      await sigil(['admission', 'manifests', '--tls-dir', join(home, 'tls-new'), '--policies', policy, '--timeout-seconds', '5']),
      /^Error: --timeout-seconds 5: policy check-image sets webhookTimeoutSeconds 30, and the apiserver would give up first; raise --timeout-seconds or lower the policy's$/,
    );
    const bad = join(home, 'bad.yaml');
    await writeFile(bad, 'apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: x\nspec:\n  nope: 1\n');
    failsWithOneLine(await sigil(['admission', 'manifests', '--tls-dir', join(home, 'tls-new'), '--policies', bad]), /bad\.yaml/);
  });
});

describe('the manifests’ Deployment args', () => {
  it('run sigil admission serve reachable with the caBundle as CA and servername sigil-admission.sigil-system.svc', async () => {
    const objects = parse(ok(await sigil(['admission', 'manifests', '--tls-dir', join(home, 'tls-serve')])).stdout);
    const secret = find(objects, 'Secret');
    const configMap = find(objects, 'ConfigMap');
    const pod = find(objects, 'Deployment').spec.template.spec;
    const container = pod.containers[0];
    // Lay the Secret and ConfigMap out as the kubelet mounts them, under a temporary root.
    const root = join(home, 'pod');
    const volumes = Object.fromEntries((pod.volumes as Json[]).map((v) => [v.name, v]));
    for (const mount of container.volumeMounts as Json[]) {
      const dir = join(root, mount.mountPath as string);
      await mkdir(dir, { recursive: true });
      const volume = volumes[mount.name];
      if (volume.secret) for (const [file, data] of Object.entries(secret.data as Record<string, string>)) await writeFile(join(dir, file), Buffer.from(data, 'base64'));
      if (volume.configMap) for (const [file, text] of Object.entries((configMap.data ?? {}) as Record<string, string>)) await writeFile(join(dir, file), text);
    }
    assert.equal((container.args as string[]).at(-1), '--in-cluster');
    // There is no cluster here: --in-cluster is left out (cluster mode has its own test, admission-cluster.test.ts).
    const args = (container.args as string[])
      .filter((arg) => arg !== '--in-cluster')
      .map((arg, i, all) => {
        if (all[i - 1] === '--addr') return '127.0.0.1:0'; // the pod's 0.0.0.0:9443, on a free loopback port
        return arg.startsWith('/etc/sigil/') ? join(root, arg) : arg;
      });
    assert.deepEqual(args.filter((a) => a.startsWith('--')), ['--addr', '--tls-cert', '--tls-key', '--policies', '--timeout-seconds']);
    const child = spawn(process.execPath, [SIGIL, ...args], { env: { ...process.env, SIGIL_CONFIG: join(home, 'sigil') }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const port = Number(/^listening on https:\/\/127\.0\.0\.1:(\d+) /.exec(line)?.[1]);
      assert.ok(port > 0, line);
      const ca = decode(find(objects, 'ValidatingWebhookConfiguration').webhooks[0].clientConfig.caBundle);
      const service = find(objects, 'Service');
      const servername = `${service.metadata.name as string}.${service.metadata.namespace as string}.svc`;
      assert.equal(servername, 'sigil-admission.sigil-system.svc');
      for (const path of ['/healthz', '/readyz']) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path, ca, servername }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        });
        assert.equal(status, 200, path);
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
  });
});
