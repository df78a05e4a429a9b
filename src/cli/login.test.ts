// End-to-end tests of `sigil login` and `sigil logout` through the real binary against Debian's
// docker-registry with htpasswd Basic auth: the stored config.json must be what docker login writes,
// and other commands must authenticate with it.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDockerRegistry, type RunningRegistry } from '../../test/support/docker-registry.js';
import { buildImageLayout, failsWithOneLine, ok, runSigil, type Result } from '../../test/support/sigil-cli.js';

// bcrypt of "pw" for user "sigil" (cost 12); docker-registry accepts the $2b$ prefix as it is.
const HTPASSWD = 'sigil:$2b$12$KLeIz4lwVuiNiOroADKWGOzDHQTbHTluNHc9j79NXnfIhTB6T/klC\n';
const WRONG_PASSWORD = 'wrong-secret-4711';

let home: string;
let registry: RunningRegistry;
let layout: { dir: string; digest: string };
let dockerConfigs = 0;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-login-'));
  await writeFile(join(home, 'htpasswd'), HTPASSWD);
  registry = await startDockerRegistry({ htpasswd: join(home, 'htpasswd') });
  const dir = join(home, 'layout');
  layout = { dir, digest: await buildImageLayout(dir) };
});
after(async () => {
  await registry?.stop();
  await rm(home, { recursive: true, force: true });
});

/** A fresh, empty DOCKER_CONFIG directory. */
async function dockerConfigDir(): Promise<string> {
  const dir = join(home, `docker-${++dockerConfigs}`);
  await mkdir(dir);
  return dir;
}

/** Runs the real binary with an isolated Sigil config and the given DOCKER_CONFIG. */
function sigil(args: string[], dockerConfig: string, stdin = ''): Promise<Result> {
  return runSigil(args, { env: { SIGIL_CONFIG: join(home, 'sigil'), DOCKER_CONFIG: dockerConfig }, stdin });
}

const login = (dockerConfig: string, password = 'pw') => sigil(['login', '-u', 'sigil', '--password-stdin', registry.host], dockerConfig, `${password}\n`);


describe('sigil login and logout against docker-registry with htpasswd', () => {
  it('logs in with --password-stdin, prints Login Succeeded and writes auths as docker login does', async () => {
    const docker = await dockerConfigDir();
    const result = ok(await login(docker));

    assert.equal(result.stdout, 'Login Succeeded\n');
    assert.equal(result.stderr, '');
    const path = join(docker, 'config.json');
    // docker login: key = host:port as typed, `auth` = base64(user:password) with stdin's newline trimmed.
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { auths: { [registry.host]: { auth: Buffer.from('sigil:pw').toString('base64') } } });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('copies an OCI layout into the registry with the stored credentials', async () => {
    const docker = await dockerConfigDir();
    ok(await login(docker));
    const target = `${registry.host}/sigil-test/login-app`;

    ok(await sigil(['cp', '-q', '--from-oci-layout', `${layout.dir}:v1`, `${target}:v1`], docker));

    assert.equal(ok(await sigil(['resolve', `${target}:v1`], docker)).stdout.trim(), layout.digest);
  });

  it('fails to copy without stored credentials, with one Error line saying to run sigil login', async () => {
    const docker = await dockerConfigDir();
    const result = await sigil(['cp', '-q', '--from-oci-layout', `${layout.dir}:v1`, `${registry.host}/sigil-test/anonymous:v1`], docker);
    failsWithOneLine(result, new RegExp(`unauthorized; run sigil login ${registry.host.replaceAll('.', '\\.')}`));
  });

  it('fails on a wrong password with one Error line and exit 1, leaving config.json unchanged', async () => {
    const docker = await dockerConfigDir();
    ok(await login(docker));
    const path = join(docker, 'config.json');
    const before = await readFile(path);

    const result = await login(docker, WRONG_PASSWORD);

    failsWithOneLine(result, /401 unauthorized\); check the username and password$/);
    assert.equal(result.stdout, '');
    assert.ok(!result.stderr.includes(WRONG_PASSWORD), result.stderr);
    assert.deepEqual(await readFile(path), before);
  });

  it('creates no config.json when the first login fails', async () => {
    const docker = await dockerConfigDir();
    failsWithOneLine(await login(docker, WRONG_PASSWORD), /401 unauthorized/);
    await assert.rejects(stat(join(docker, 'config.json')), { code: 'ENOENT' });
  });

  it('logs out by removing the entry and keeping the others', async () => {
    const docker = await dockerConfigDir();
    const other = { auth: Buffer.from('someone:else').toString('base64') };
    await writeFile(join(docker, 'config.json'), JSON.stringify({ auths: { 'ghcr.io': other }, psFormat: 'table' }));
    ok(await login(docker));

    const result = ok(await sigil(['logout', registry.host], docker));

    assert.equal(result.stdout, `Removing login credentials for ${registry.host}\n`);
    assert.deepEqual(JSON.parse(await readFile(join(docker, 'config.json'), 'utf8')), { auths: { 'ghcr.io': other }, psFormat: 'table' });
    failsWithOneLine(await sigil(['resolve', `${registry.host}/sigil-test/login-app:v1`], docker), /unauthorized/);
  });
});
