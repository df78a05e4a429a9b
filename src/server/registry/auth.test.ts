// Basic auth from an htpasswd file and TLS on the embedded registry, with Sigil's client, skopeo and openssl-made certificates.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { testBlob } from '../../../test/support/target-conformance.js';
import { readVerified } from '../../oci/index.js';
import { RegistryClient, RegistryError } from '../../registry/index.js';
import { BasicAuthenticator, decodeHtpasswd, parseScopes, TokenAuthority } from './auth.js';
import { openEmbeddedDatabase } from './database.js';
import { RegistryServer } from './server.js';

const exec = promisify(execFile);
/** bcrypt of "pw" for user "sigil" (cost 12), made once with a standard bcrypt implementation. */
const HTPASSWD = 'sigil:$2b$12$KLeIz4lwVuiNiOroADKWGOzDHQTbHTluNHc9j79NXnfIhTB6T/klC\n';
const opts = () => ({ signal: AbortSignal.timeout(30_000) });

describe('decodeHtpasswd', () => {
  it('reads bcrypt entries and skips comments and blank lines', () => {
    const users = decodeHtpasswd(`# users\n\n${HTPASSWD}other:$2y$05$${'a'.repeat(53)}\n`);
    assert.deepEqual([...users.keys()], ['sigil', 'other']);
  });
  const bad: Array<[string, string]> = [
    ['an MD5-crypt entry', 'u:$apr1$abc$def'],
    ['a SHA1 entry', 'u:{SHA}abc='],
    ['a line without a colon', 'justauser'],
    ['an empty user', ':$2y$05$' + 'a'.repeat(53)],
    ['no users at all', '# nothing\n'],
  ];
  for (const [what, text] of bad) {
    it(`refuses ${what}, naming the line`, () => assert.throws(() => decodeHtpasswd(text, 'users.htpasswd'), /^Error: users\.htpasswd(:\d+)?: /));
  }
});

describe('Basic auth', () => {
  let root: string;
  let server: RegistryServer;
  let host: string;
  const clients: RegistryClient[] = [];
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sigil-registry-auth-'));
    server = await RegistryServer.open({ root, database: await openEmbeddedDatabase(undefined), auth: new BasicAuthenticator(decodeHtpasswd(HTPASSWD)) });
    host = `127.0.0.1:${(await server.listen(0)).port}`;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });
  const client = (password?: string) => {
    const made = new RegistryClient(password === undefined ? {} : { credentials: { get: async () => ({ username: 'sigil', password }) } });
    clients.push(made);
    return made;
  };

  it('challenges anonymous requests with 401 and a Basic realm', async () => {
    const response = await fetch(`http://${host}/v2/`);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Basic realm="sigil-registry"');
    assert.equal(((await response.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNAUTHORIZED');
    assert.equal((await fetch(`http://${host}/metrics`)).status, 401, 'metrics too');
  });

  it('lets the right credentials push and pull, and refuses wrong ones', async () => {
    const blob = testBlob('auth/blob', 2000);
    const repo = client('pw').repository(host, 'auth/app');
    await repo.push(blob.descriptor, blob.bytes, opts());
    await readVerified(await repo.fetch(blob.descriptor, opts()), blob.descriptor);
    await assert.rejects(client('wrong').repository(host, 'auth/app').exists(blob.descriptor, opts()), (err: unknown) => err instanceof RegistryError && err.code === 'UNAUTHORIZED');
    await assert.rejects(client().repository(host, 'auth/app').exists(blob.descriptor, opts()), (err: unknown) => err instanceof RegistryError && err.code === 'UNAUTHORIZED');
  });

  it('works with skopeo --creds', async () => {
    const { stdout } = await exec('skopeo', ['list-tags', '--tls-verify=false', '--creds', 'sigil:pw', `docker://${host}/auth/app`]).catch((err: { stderr?: string }) => ({ stdout: err.stderr ?? '' }));
    // The repository has blobs but no tags: skopeo got past auth and read an empty list.
    assert.match(stdout, /"Tags": \[\]/);
    await assert.rejects(exec('skopeo', ['list-tags', '--tls-verify=false', '--creds', 'sigil:nope', `docker://${host}/auth/app`]), /401|unauthorized|authentication required/i);
  });
});

describe('TLS', () => {
  let dir: string;
  let server: RegistryServer;
  let port: number;
  let cert: Buffer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigil-registry-tls-'));
    await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    cert = await readFile(join(dir, 'cert.pem'));
    server = await RegistryServer.open({ root: dir, database: await openEmbeddedDatabase(undefined), tls: { cert, key: await readFile(join(dir, 'key.pem')) } });
    port = (await server.listen(0)).port;
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the API over HTTPS with the given certificate', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/v2/', ca: cert }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(status, 200);
  });

  it('is refused by a client that does not trust the certificate', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => get({ host: '127.0.0.1', port, path: '/v2/' }, resolve).on('error', reject)),
      /self[- ]signed|unable to verify/i,
    );
  });
});

describe('Bearer tokens', () => {
  let root: string;
  let server: RegistryServer;
  let host: string;
  let now = Date.now();
  const clients: RegistryClient[] = [];
  const secret = Buffer.alloc(32, 7);
  const basic = () => new BasicAuthenticator(decodeHtpasswd(HTPASSWD));
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sigil-registry-token-'));
    server = await RegistryServer.open({ root, database: await openEmbeddedDatabase(undefined), tokens: new TokenAuthority(basic(), secret, { now: () => now }) });
    host = `127.0.0.1:${(await server.listen(0)).port}`;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });
  const client = (password: string) => {
    const made = new RegistryClient({ credentials: { get: async () => ({ username: 'sigil', password }) } });
    clients.push(made);
    return made;
  };

  it('challenges with a Bearer realm on this server, naming the scope the request needs', async () => {
    const base = await fetch(`http://${host}/v2/`);
    assert.equal(base.status, 401);
    assert.equal(base.headers.get('www-authenticate'), `Bearer realm="http://${host}/token",service="sigil-registry"`);
    const manifest = await fetch(`http://${host}/v2/tok/app/manifests/v1`);
    assert.equal(manifest.headers.get('www-authenticate'), `Bearer realm="http://${host}/token",service="sigil-registry",scope="repository:tok/app:pull"`);
  });

  it('issues tokens to htpasswd users only, for the scopes asked', async () => {
    const anonymous = await fetch(`http://${host}/token?service=sigil-registry&scope=repository:tok/app:pull`);
    assert.equal(anonymous.status, 401);
    const wrong = await fetch(`http://${host}/token?scope=repository:tok/app:pull`, { headers: { authorization: `Basic ${Buffer.from('sigil:nope').toString('base64')}` } });
    assert.equal(wrong.status, 401);
    const right = await fetch(`http://${host}/token?service=sigil-registry&scope=repository:tok/app:pull`, { headers: { authorization: `Basic ${Buffer.from('sigil:pw').toString('base64')}` } });
    const body = (await right.json()) as { token: string; access_token: string; expires_in: number };
    assert.equal(right.status, 200);
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 300);
    const pull = await fetch(`http://${host}/v2/tok/app/tags/list`, { headers: { authorization: `Bearer ${body.token}` } });
    assert.equal(pull.status, 404, 'the token is accepted (the repository is just empty)');
    const push = await fetch(`http://${host}/v2/tok/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${body.token}` } });
    assert.equal(push.status, 401, 'a pull token cannot push');
    assert.match(push.headers.get('www-authenticate') ?? '', /scope="repository:tok\/app:pull,push"/);
    const other = await fetch(`http://${host}/v2/tok/other/tags/list`, { headers: { authorization: `Bearer ${body.token}` } });
    assert.equal(other.status, 401, 'nor read another repository');
  });

  it('lets Sigil\'s client run the token flow to push and pull', async () => {
    const blob = testBlob('token/blob', 1000);
    const repo = client('pw').repository(host, 'tok/app');
    await repo.push(blob.descriptor, blob.bytes, opts());
    await readVerified(await repo.fetch(blob.descriptor, opts()), blob.descriptor);
    await assert.rejects(client('nope').repository(host, 'tok/app').exists(blob.descriptor, opts()), (err: unknown) => err instanceof RegistryError && err.code === 'UNAUTHORIZED');
  });

  it('lets skopeo run the token flow', async () => {
    const { stdout } = await exec('skopeo', ['list-tags', '--tls-verify=false', '--creds', 'sigil:pw', `docker://${host}/tok/app`]);
    assert.match(stdout, /"Tags": \[\]/);
  });

  it('refuses expired, forged and malformed tokens', async () => {
    const authority = new TokenAuthority(basic(), secret, { now: () => now });
    const { token } = await authority.issue(`Basic ${Buffer.from('sigil:pw').toString('base64')}`, ['repository:tok/app:pull']);
    const status = async (value: string) => (await fetch(`http://${host}/v2/tok/app/tags/list`, { headers: { authorization: `Bearer ${value}` } })).status;
    assert.equal(await status(token), 200);
    const [header, payload] = token.split('.');
    const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), access: [{ type: 'repository', name: 'tok/app', actions: ['*'] }] })).toString('base64url');
    assert.equal(await status(`${header}.${widened}.${token.split('.')[2]}`), 401, 'a forged claim fails the signature');
    assert.equal(await status('not-a-jwt'), 401);
    const forged = await new TokenAuthority(basic(), Buffer.alloc(32, 9)).issue(`Basic ${Buffer.from('sigil:pw').toString('base64')}`, ['repository:tok/app:pull']);
    assert.equal(await status(forged.token), 401, 'another secret');
    now += 301_000;
    assert.equal(await status(token), 401, 'expired');
    now = Date.now();
  });
});

describe('parseScopes', () => {
  it('reads repository scopes, several per value, and drops what is not one', () => {
    assert.deepEqual(parseScopes(['repository:a/b:pull,push repository:c:delete', 'registry:catalog:*', 'repository:x:fly', 'junk']), [
      { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
      { type: 'repository', name: 'c', actions: ['delete'] },
    ]);
  });
});
