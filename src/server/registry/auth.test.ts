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
import { BasicAuthenticator, decodeHtpasswd } from './auth.js';
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
