// DockerCredentialStore against real files and real helper processes: config.json `auths` as docker
// login writes it, Docker Hub aliases, and docker-credential-* helpers speaking the
// docker-credential-helpers protocol (get/store/erase over stdin/stdout) from a temp dir on PATH.

import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DOCKER_HUB_SERVER_ADDRESS, DockerCredentialStore } from './credentials.js';
import { RegistryError, type RegistryErrorCode } from './errors.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

let root: string;
let bin: string;
let helperStore: string;
let originalPath: string | undefined;
let configs = 0;

/**
 * docker-credential-fake: keeps each server's `{"ServerURL","Username","Secret"}` in a file
 * and logs every call, as the docker-credential-helpers protocol describes.
 */
const FAKE_HELPER = (store: string) => `#!/bin/sh
store='${store}'
action="$1"
input=$(cat)
printf '%s %s\\n' "$action" "$input" >> "$store/log"
key_of() { printf '%s' "$1" | tr -c 'A-Za-z0-9.-' '_'; }
case "$action" in
  store)
    server=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p')
    printf '%s' "$input" > "$store/$(key_of "$server").json"
    ;;
  get|erase)
    file="$store/$(key_of "$input").json"
    if [ ! -f "$file" ]; then echo 'credentials not found in native keychain'; exit 1; fi
    if [ "$action" = get ]; then cat "$file"; else rm "$file"; fi
    ;;
  *) echo "unknown action $action" >&2; exit 1 ;;
esac
`;

/** A helper that hangs the way a shell wrapper does: its child keeps stdout open after the shell is killed. */
const HANGING_HELPER = (store: string) => `#!/bin/sh
sleep 30 &
echo $! >> '${store}/hang.pids'
wait
`;

const BROKEN_HELPER = `#!/bin/sh
cat > /dev/null
echo 'keychain locked: unlock it first' >&2
echo 'second line' >&2
exit 3
`;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sigil-credentials-'));
  bin = join(root, 'bin');
  helperStore = join(root, 'helper-store');
  await mkdir(bin);
  await mkdir(helperStore);
  for (const [name, text] of [
    ['fake', FAKE_HELPER(helperStore)],
    ['hang', HANGING_HELPER(helperStore)],
    ['broken', BROKEN_HELPER],
  ] as const) {
    await writeFile(join(bin, `docker-credential-${name}`), text);
    await chmod(join(bin, `docker-credential-${name}`), 0o755);
  }
  // credentials.ts runs helpers with spawn's default environment, so they are found on process.env.PATH.
  originalPath = process.env.PATH;
  process.env.PATH = `${bin}:${originalPath ?? '/usr/bin:/bin'}`;
});

after(async () => {
  process.env.PATH = originalPath;
  // The hanging helper's `sleep` outlives the killed shell; end it by the pid it recorded.
  const pids = await readFile(join(helperStore, 'hang.pids'), 'utf8').catch(() => '');
  for (const pid of pids.split('\n').filter((p) => /^\d+$/.test(p))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(root, { recursive: true, force: true });
});

/** A fresh config.json path (not created) in its own directory. */
async function configPath(): Promise<string> {
  const dir = join(root, `config-${++configs}`);
  await mkdir(dir);
  return join(dir, 'config.json');
}

/** A fresh config.json holding `doc`. */
async function configWith(doc: unknown, mode = 0o600): Promise<string> {
  const path = await configPath();
  await writeFile(path, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
  await chmod(path, mode);
  return path;
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8'));
}

async function helperLog(): Promise<string[]> {
  return (await readFile(join(helperStore, 'log'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
}

function rejectsWith(code: RegistryErrorCode, check: (err: RegistryError) => void = () => {}) {
  return (err: unknown) => {
    assert.ok(err instanceof RegistryError, `want RegistryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check(err);
    return true;
  };
}

describe('DockerCredentialStore reading auths', () => {
  it('decodes base64 auth into username and password, splitting at the first colon', async () => {
    const store = new DockerCredentialStore(await configWith({ auths: { 'reg.example': { auth: b64('sigil:p:w') } } }));
    assert.deepEqual(await store.get('reg.example'), { username: 'sigil', password: 'p:w' });
  });

  it('reads username and password fields when there is no auth', async () => {
    const store = new DockerCredentialStore(await configWith({ auths: { 'reg.example': { username: 'sigil', password: 'pw' } } }));
    assert.deepEqual(await store.get('reg.example'), { username: 'sigil', password: 'pw' });
  });

  it('reads identitytoken as identity-token credentials, with the username from auth when present', async () => {
    const store = new DockerCredentialStore(
      await configWith({ auths: { 'with-user.example': { auth: b64('sigil:'), identitytoken: 'idt-1' }, 'bare.example': { identitytoken: 'idt-2' } } }),
    );
    assert.deepEqual(await store.get('with-user.example'), { identityToken: 'idt-1', username: 'sigil' });
    assert.deepEqual(await store.get('bare.example'), { identityToken: 'idt-2' });
  });

  it('returns undefined when config.json is missing, empty, or has no usable entry for the registry', async () => {
    assert.equal(await new DockerCredentialStore(await configPath()).get('reg.example'), undefined);
    assert.equal(await new DockerCredentialStore(await configWith('')).get('reg.example'), undefined);
    assert.equal(await new DockerCredentialStore(await configWith({ auths: { 'other.example': { auth: b64('a:b') } } })).get('reg.example'), undefined);
    assert.equal(await new DockerCredentialStore(await configWith({ auths: { 'reg.example': { auth: b64('no-colon') } } })).get('reg.example'), undefined);
    assert.equal(await new DockerCredentialStore(await configWith({ auths: { 'reg.example': {} } })).get('reg.example'), undefined);
    assert.equal(await new DockerCredentialStore(await configWith({ auths: 'nonsense' })).get('reg.example'), undefined);
  });

  for (const key of [DOCKER_HUB_SERVER_ADDRESS, 'index.docker.io', 'docker.io', 'https://index.docker.io/v1']) {
    it(`finds Docker Hub credentials stored under ${key} for docker.io, index.docker.io and registry-1.docker.io`, async () => {
      const store = new DockerCredentialStore(await configWith({ auths: { [key]: { auth: b64('hubuser:hubpw') } } }));
      for (const alias of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
        assert.deepEqual(await store.get(alias), { username: 'hubuser', password: 'hubpw' }, alias);
      }
      assert.equal(await store.get('ghcr.io'), undefined);
    });
  }

  it('matches keys with a scheme and path by host and port', async () => {
    const store = new DockerCredentialStore(
      await configWith({
        auths: {
          'https://reg.example:5000/v1/': { auth: b64('a:with-port') },
          'http://Other.Example/v2/': { auth: b64('b:case') },
        },
      }),
    );
    assert.deepEqual(await store.get('reg.example:5000'), { username: 'a', password: 'with-port' });
    assert.equal(await store.get('reg.example'), undefined, 'the port is part of the host');
    assert.equal(await store.get('reg.example:5001'), undefined);
    assert.deepEqual(await store.get('other.example'), { username: 'b', password: 'case' });
  });

  for (const [label, text] of [
    ['truncated JSON', '{"auths": {'],
    ['a JSON array', '[{"auths": {}}]'],
    ['a JSON string', '"auths"'],
  ] as const) {
    it(`gives CREDENTIALS_ERROR naming the path for ${label}`, async () => {
      const path = await configWith(text);
      const store = new DockerCredentialStore(path);
      const named = (err: RegistryError) => assert.ok(err.message.includes(path), err.message);
      await assert.rejects(store.get('reg.example'), rejectsWith('CREDENTIALS_ERROR', named));
      await assert.rejects(store.store('reg.example', { username: 'u', password: 'p' }), rejectsWith('CREDENTIALS_ERROR', named));
      await assert.rejects(store.erase('reg.example'), rejectsWith('CREDENTIALS_ERROR', named));
      assert.equal(await readFile(path, 'utf8'), text, 'a file Sigil cannot read is left as it was');
    });
  }
});

describe('DockerCredentialStore writing config.json', () => {
  it('stores base64 auth under the host:port key as docker login does, and reads it back', async () => {
    const path = await configPath();
    const store = new DockerCredentialStore(path);
    await store.store('127.0.0.1:5000', { username: 'sigil', password: 'pw' });
    assert.deepEqual(await readJson(path), { auths: { '127.0.0.1:5000': { auth: 'c2lnaWw6cHc=' } } });
    assert.deepEqual(await store.get('127.0.0.1:5000'), { username: 'sigil', password: 'pw' });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('keeps unrelated keys and entries and leaves the file mode 0600', async () => {
    const before = {
      auths: { 'other.example': { auth: b64('o:p'), email: 'kept@example.com' } },
      credHelpers: { 'gcr.io': 'gcloud' },
      proxies: { default: { httpProxy: 'http://proxy.example:3128' } },
      psFormat: 'table {{.ID}}',
      currentContext: 'desktop-linux',
      plugins: { buildx: { enabled: 'true' } },
    };
    const path = await configWith(before, 0o644);
    const store = new DockerCredentialStore(path);

    await store.store('reg.example', { username: 'sigil', password: 'pw' });
    assert.deepEqual(await readJson(path), { ...before, auths: { ...before.auths, 'reg.example': { auth: b64('sigil:pw') } } });
    assert.equal((await stat(path)).mode & 0o777, 0o600);

    await store.erase('reg.example');
    assert.deepEqual(await readJson(path), before);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('stores Docker Hub under https://index.docker.io/v1/ and drops entries under its aliases', async () => {
    const path = await configWith({ auths: { 'docker.io': { auth: b64('old:1') }, 'index.docker.io': { auth: b64('old:2') }, 'ghcr.io': { auth: b64('g:h') } } });
    const store = new DockerCredentialStore(path);
    await store.store('docker.io', { username: 'hubuser', password: 'hubpw' });
    assert.deepEqual(await readJson(path), { auths: { 'ghcr.io': { auth: b64('g:h') }, [DOCKER_HUB_SERVER_ADDRESS]: { auth: b64('hubuser:hubpw') } } });
    assert.deepEqual(await store.get('index.docker.io'), { username: 'hubuser', password: 'hubpw' });
  });

  it('replaces an entry under a URL-shaped key for the same host', async () => {
    const path = await configWith({ auths: { 'https://reg.example:5000/v1/': { auth: b64('old:pw') } } });
    await new DockerCredentialStore(path).store('reg.example:5000', { username: 'new', password: 'pw' });
    assert.deepEqual(await readJson(path), { auths: { 'reg.example:5000': { auth: b64('new:pw') } } });
  });

  it('stores an identity token as identitytoken with the username in auth, and reads it back', async () => {
    const path = await configPath();
    const store = new DockerCredentialStore(path);
    await store.store('reg.example', { identityToken: 'idt-secret', username: 'sigil' });
    assert.deepEqual(await readJson(path), { auths: { 'reg.example': { identitytoken: 'idt-secret', auth: b64('sigil:') } } });
    assert.deepEqual(await store.get('reg.example'), { identityToken: 'idt-secret', username: 'sigil' });
  });

  it('erases only the registry and its aliases, and creates no file when there is nothing to erase', async () => {
    const path = await configWith({ auths: { [DOCKER_HUB_SERVER_ADDRESS]: { auth: b64('a:b') }, 'docker.io': { auth: b64('c:d') }, 'ghcr.io': { auth: b64('g:h') } } });
    await new DockerCredentialStore(path).erase('docker.io');
    assert.deepEqual(await readJson(path), { auths: { 'ghcr.io': { auth: b64('g:h') } } });

    const missing = await configPath();
    await new DockerCredentialStore(missing).erase('ghcr.io');
    await assert.rejects(stat(missing), { code: 'ENOENT' });
  });

  it('writes through a symlinked config.json and keeps the link', async () => {
    const real = await configWith({ auths: {} });
    const link = join(await mkdtemp(join(root, 'link-')), 'config.json');
    await symlink(real, link);
    await new DockerCredentialStore(link).store('reg.example', { username: 'u', password: 'p' });
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.deepEqual(await readJson(real), { auths: { 'reg.example': { auth: b64('u:p') } } });
  });

  it('creates the config directory when it does not exist yet', async () => {
    const path = join(root, 'not-yet', 'docker', 'config.json');
    await new DockerCredentialStore(path).store('reg.example', { username: 'u', password: 'p' });
    assert.deepEqual(await readJson(path), { auths: { 'reg.example': { auth: b64('u:p') } } });
  });
});

describe('DockerCredentialStore with credential helpers', () => {
  it('credHelpers: store, get and erase go through the helper, and config.json keeps no secret', async () => {
    const path = await configWith({ credHelpers: { 'helped.example': 'fake' } });
    const store = new DockerCredentialStore(path);

    await store.store('helped.example', { username: 'sigil', password: 'helper-secret' });
    const text = await readFile(path, 'utf8');
    assert.ok(!text.includes('helper-secret') && !text.includes(b64('sigil:helper-secret')), text);
    assert.deepEqual(JSON.parse(text), { credHelpers: { 'helped.example': 'fake' }, auths: { 'helped.example': {} } });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await store.get('helped.example'), { username: 'sigil', password: 'helper-secret' });

    await store.erase('helped.example');
    assert.equal(await store.get('helped.example'), undefined);
    assert.deepEqual(await readJson(path), { credHelpers: { 'helped.example': 'fake' }, auths: {} });
    assert.deepEqual((await helperLog()).filter((l) => l.includes('helped.example')), [
      'store {"ServerURL":"helped.example","Username":"sigil","Secret":"helper-secret"}',
      'get helped.example',
      'erase helped.example',
      'get helped.example',
    ]);
  });

  it('credHelpers is authoritative: a helper miss does not fall back to auths', async () => {
    const store = new DockerCredentialStore(await configWith({ credHelpers: { 'only-helper.example': 'fake' }, auths: { 'only-helper.example': { auth: b64('stale:pw') } } }));
    assert.equal(await store.get('only-helper.example'), undefined);
  });

  it('credsStore: serves every registry, and a miss falls back to auths', async () => {
    const store = new DockerCredentialStore(await configWith({ credsStore: 'fake', auths: { 'file-only.example': { auth: b64('file:pw') } } }));
    assert.deepEqual(await store.get('file-only.example'), { username: 'file', password: 'pw' });
    await store.store('stored.example', { username: 'kept', password: 'in-helper' });
    assert.deepEqual(await store.get('stored.example'), { username: 'kept', password: 'in-helper' });
  });

  it('credHelpers wins over credsStore for its registry', async () => {
    const store = new DockerCredentialStore(await configWith({ credsStore: 'broken', credHelpers: { 'precedence.example': 'fake' } }));
    await store.store('precedence.example', { username: 'u', password: 'p' });
    assert.deepEqual(await store.get('precedence.example'), { username: 'u', password: 'p' });
    await assert.rejects(store.get('elsewhere.example'), rejectsWith('CREDENTIALS_ERROR'));
  });

  it('hands the helper https://index.docker.io/v1/ for Docker Hub under any alias', async () => {
    const store = new DockerCredentialStore(await configWith({ credsStore: 'fake' }));
    await store.store('docker.io', { username: 'hubuser', password: 'hubpw' });
    assert.deepEqual(await store.get('index.docker.io'), { username: 'hubuser', password: 'hubpw' });
    assert.ok((await helperLog()).includes(`get ${DOCKER_HUB_SERVER_ADDRESS}`));
  });

  it('stores an identity token in the helper as user <token> and reads it back as an identity token', async () => {
    const store = new DockerCredentialStore(await configWith({ credHelpers: { 'token.example': 'fake' } }));
    await store.store('token.example', { identityToken: 'idt-in-helper' });
    assert.ok((await helperLog()).includes('store {"ServerURL":"token.example","Username":"<token>","Secret":"idt-in-helper"}'));
    assert.deepEqual(await store.get('token.example'), { identityToken: 'idt-in-helper' });
  });

  it('gives CREDENTIALS_ERROR when the helper is not on PATH, leaving no timer that keeps the process alive', async () => {
    const store = new DockerCredentialStore(await configWith({ credsStore: 'not-installed' }), { helperTimeoutMs: 60_000 });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await assert.rejects(store.get('reg.example'), rejectsWith('CREDENTIALS_ERROR', (err) => assert.match(err.message, /docker-credential-not-installed/)));
    assert.equal(timers(), before);
  });

  it('gives CREDENTIALS_ERROR with the first stderr line of a failing helper', async () => {
    const store = new DockerCredentialStore(await configWith({ credsStore: 'broken' }));
    await assert.rejects(
      store.get('reg.example'),
      rejectsWith('CREDENTIALS_ERROR', (err) => {
        assert.match(err.message, /exit 3/);
        assert.match(err.message, /keychain locked: unlock it first/);
        assert.ok(!err.message.includes('second line'));
      }),
    );
    await assert.rejects(store.store('reg.example', { username: 'u', password: 'p' }), rejectsWith('CREDENTIALS_ERROR'));
  });

  it('refuses a helper name with a path or shell characters without running anything', async () => {
    for (const name of ['../bin/sh', 'fake; rm -rf /', '-fake']) {
      const store = new DockerCredentialStore(await configWith({ credsStore: name }));
      await assert.rejects(store.get('reg.example'), rejectsWith('CREDENTIALS_ERROR'));
    }
  });

  it('kills a helper that hangs after helperTimeoutMs, even when its children keep the pipes open', async () => {
    const store = new DockerCredentialStore(await configWith({ credsStore: 'hang' }), { helperTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(store.get('reg.example'), rejectsWith('CREDENTIALS_ERROR'));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 3000, `took ${elapsed} ms`);
  });

  it('stops a hanging helper with ABORTED when the signal fires', async () => {
    const store = new DockerCredentialStore(await configWith({ credsStore: 'hang' }));
    const started = Date.now();
    await assert.rejects(store.get('reg.example', { signal: AbortSignal.timeout(200) }), rejectsWith('ABORTED'));
    assert.ok(Date.now() - started < 3000);
  });
});
