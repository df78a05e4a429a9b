import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadKubeconfig } from './config.js';
import { KubeError } from './errors.js';
import { decodeExecPlugin, execTokenSource, type ExecPlugin } from './exec.js';

let dir: string;
let plugin: string;

// A plugin as `aws eks get-token` behaves: prints an ExecCredential on stdout, counts its runs in
// $COUNTER, takes its expiry from $EXPIRES, and fails when $FAIL is set or the file $FAIL_FILE exists.
const PLUGIN = `
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const counter = process.env.COUNTER;
const n = Number((() => { try { return readFileSync(counter, 'utf8'); } catch { return '0'; } })()) + 1;
writeFileSync(counter, String(n));
if (process.env.FAIL || (process.env.FAIL_FILE && existsSync(process.env.FAIL_FILE))) { process.stderr.write('token service unavailable\\nmore detail\\n'); process.exit(3); }
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO || '{}');
const status = { token: process.env.PREFIX + '-' + n + '-' + (info.spec && info.spec.interactive === false ? 'unattended' : 'asked') };
if (process.env.EXPIRES) status.expirationTimestamp = process.env.EXPIRES;
if (process.env.OUTPUT) { process.stdout.write(process.env.OUTPUT); process.exit(0); }
process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential', status }));
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sigil-exec-'));
  plugin = join(dir, 'plugin.cjs');
  await writeFile(plugin, PLUGIN);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function execPlugin(env: Record<string, string> = {}, extra: Record<string, unknown> = {}): ExecPlugin {
  return decodeExecPlugin('kubeconfig test: user "u"', {
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    command: process.execPath,
    args: [plugin],
    env: Object.entries({ PREFIX: 'tok', ...env }).map(([name, value]) => ({ name, value })),
    ...extra,
  });
}

async function counted(name: string): Promise<{ counter: string; runs: () => Promise<number> }> {
  const counter = join(dir, name);
  return { counter, runs: async () => Number(await readFile(counter, 'utf8').catch(() => '0')) };
}

describe('exec credential plugins', () => {
  it('runs the plugin unattended with its args and env, and keeps the token until shortly before it expires', async () => {
    const { counter, runs } = await counted('expiring');
    let now = Date.parse('2026-12-02T00:00:00Z');
    const token = await execTokenSource('test', execPlugin({ COUNTER: counter, EXPIRES: '2026-12-02T00:10:00Z' }), { base: dir, now: () => now, env: {} });
    assert.equal(await token(), 'tok-1-unattended');
    now += 9 * 60_000;
    assert.equal(await token(), 'tok-1-unattended');
    assert.equal(await runs(), 1);
    now += 45_000; // within 30 s of the expiry: renewed
    assert.equal(await token(), 'tok-2-unattended');
    assert.equal(await runs(), 2);
  });

  it('shares one run among concurrent callers', async () => {
    const { counter, runs } = await counted('shared');
    let now = 0;
    const token = await execTokenSource('test', execPlugin({ COUNTER: counter }), { base: dir, now: () => now, env: {} });
    now += 10 * 60_000; // past the five minutes an undated token is kept
    assert.deepEqual(new Set(await Promise.all(Array.from({ length: 5 }, () => token()))), new Set(['tok-2-unattended']));
    assert.equal(await runs(), 2);
  });

  it('keeps a still-valid token when a renewal fails, retries later, and fails once it has expired', async () => {
    const { counter, runs } = await counted('failing');
    const failFile = join(dir, 'fail-now');
    let now = Date.parse('2026-12-02T00:00:00Z');
    const token = await execTokenSource('test', execPlugin({ COUNTER: counter, FAIL_FILE: failFile, EXPIRES: '2026-12-02T00:01:00Z' }), { base: dir, now: () => now, env: {} });
    await writeFile(failFile, '');
    now += 40_000; // inside the 30 s renewal margin, token still valid
    assert.equal(await token(), 'tok-1-unattended');
    assert.equal(await token(), 'tok-1-unattended');
    assert.equal(await runs(), 2, 'one failed renewal, then a pause before the next try');
    now += 30_000; // expired
    await assert.rejects(token(), /exited with 3: token service unavailable/);
  });

  it('fails with one line naming the plugin and what it said', async () => {
    const { counter } = await counted('broken');
    await assert.rejects(execTokenSource('test', execPlugin({ COUNTER: counter, FAIL: '1' }), { base: dir, env: {} }), (e: unknown) => e instanceof KubeError && e.code === 'CONFIG_INVALID' && /exec plugin .* exited with 3: token service unavailable$/.test(e.message) && !e.message.includes('\n'));
    await assert.rejects(execTokenSource('test', execPlugin({ COUNTER: counter, OUTPUT: 'not json' }), { base: dir, env: {} }), /printed something that is not JSON/);
    await assert.rejects(execTokenSource('test', execPlugin({ COUNTER: counter, OUTPUT: '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"x"}}' }), { base: dir, env: {} }), /not the client\.authentication\.k8s\.io\/v1beta1 the kubeconfig asks for/);
    await assert.rejects(execTokenSource('test', execPlugin({ COUNTER: counter, OUTPUT: '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"clientCertificateData":"x","clientKeyData":"y"}}' }), { base: dir, env: {} }), (e: unknown) => e instanceof KubeError && e.code === 'CONFIG_UNSUPPORTED');
    await assert.rejects(execTokenSource('test', execPlugin({ COUNTER: counter, EXPIRES: 'tomorrow' }), { base: dir, env: {} }), /expirationTimestamp that is not an RFC 3339 time/);
    await assert.rejects(
      execTokenSource('test', decodeExecPlugin('u', { apiVersion: 'client.authentication.k8s.io/v1', command: 'sigil-no-such-plugin', installHint: 'install it with: brew install sigil-no-such-plugin\nsee the docs' }), { base: dir, env: { PATH: dir } }),
      /exec plugin sigil-no-such-plugin was not found: install it with: brew install sigil-no-such-plugin$/,
    );
  });

  it('refuses blocks it cannot run', () => {
    assert.throws(() => decodeExecPlugin('u', { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' }), (e: unknown) => e instanceof KubeError && e.code === 'CONFIG_UNSUPPORTED');
    assert.throws(() => decodeExecPlugin('u', { apiVersion: 'client.authentication.k8s.io/v1', command: 'x', interactiveMode: 'Always' }), /needs a terminal/);
    assert.throws(() => decodeExecPlugin('u', { apiVersion: 'client.authentication.k8s.io/v1', command: '' }), /command must be a non-empty string/);
    assert.throws(() => decodeExecPlugin('u', { apiVersion: 'client.authentication.k8s.io/v1', command: 'x', env: [{ name: 'A' }] }), /env\[0\] must have a string name and value/);
    assert.throws(() => decodeExecPlugin('u', { apiVersion: 'client.authentication.k8s.io/v1', command: 'x', args: [1] }), /args must be a list of strings/);
  });

  it('is what loadKubeconfig uses for an exec user', async () => {
    const { counter } = await counted('kubeconfig-runs');
    const path = join(dir, 'kubeconfig');
    await writeFile(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'eks',
        clusters: [{ name: 'eks', cluster: { server: 'https://127.0.0.1:6443' } }],
        users: [{ name: 'eks', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: process.execPath, args: [plugin], env: [{ name: 'PREFIX', value: 'eks' }, { name: 'COUNTER', value: counter }] } } }],
        contexts: [{ name: 'eks', context: { cluster: 'eks', user: 'eks' } }],
      }),
    );
    const config = await loadKubeconfig({ path });
    assert.equal(config.auth.type, 'bearer');
    assert.equal(config.auth.type === 'bearer' ? await config.auth.token() : '', 'eks-1-unattended');
  });
});
