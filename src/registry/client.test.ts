// RegistryClient.withCredentials against Debian's docker-registry with htpasswd Basic auth: a
// derived client authenticates with its own credentials over the parent's connection pool.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copy, OciLayout } from '../oci/index.js';
import { startDockerRegistry, type RunningRegistry } from '../../test/support/docker-registry.js';
import { buildImageLayout } from '../../test/support/sigil-cli.js';
import { RegistryClient } from './client.js';
import { isRegistryError } from './errors.js';

// bcrypt of "pw" for user "sigil" (cost 12), as the login tests use it.
const HTPASSWD = 'sigil:$2b$12$KLeIz4lwVuiNiOroADKWGOzDHQTbHTluNHc9j79NXnfIhTB6T/klC\n';

let home: string;
let registry: RunningRegistry;
let client: RegistryClient;
let digest: string;
const signal = () => AbortSignal.timeout(10_000);
const store = (password: string) => ({ get: async () => ({ username: 'sigil', password }) });

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-client-'));
  await writeFile(join(home, 'htpasswd'), HTPASSWD);
  registry = await startDockerRegistry({ htpasswd: join(home, 'htpasswd') });
  client = new RegistryClient({});
  digest = await buildImageLayout(join(home, 'layout'));
  const layout = await OciLayout.open(join(home, 'layout'));
  await copy(layout, 'v1', client.withCredentials(store('pw')).repository(registry.host, 'app'), 'v1', { signal: signal() });
});
after(async () => {
  await client?.close();
  await registry?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('RegistryClient.withCredentials', () => {
  it('authenticates with its own credentials while the parent stays anonymous', async () => {
    await assert.rejects(client.repository(registry.host, 'app').resolve('v1', { signal: signal() }), (e: unknown) => isRegistryError(e, 'UNAUTHORIZED'));
    const derived = client.withCredentials(store('pw'));
    assert.equal((await derived.repository(registry.host, 'app').resolve('v1', { signal: signal() })).digest, digest);
    await assert.rejects(client.withCredentials(store('wrong')).repository(registry.host, 'app').resolve('v1', { signal: signal() }), (e: unknown) => isRegistryError(e, 'UNAUTHORIZED'));
  });

  it("keeps the parent's settings and leaves the shared pool open when a derived client is closed", async () => {
    const parent = new RegistryClient({ repository: { maxReferrersPages: 3 } });
    try {
      const derived = parent.withCredentials(store('pw'));
      assert.equal(derived.settings.maxReferrersPages, 3);
      // A client derived from a derived one shares the same root pool.
      const again = derived.withCredentials(store('pw'));
      await derived.close();
      await again.close();
      assert.equal((await parent.withCredentials(store('pw')).repository(registry.host, 'app').resolve('v1', { signal: signal() })).digest, digest);
    } finally {
      await parent.close();
    }
  });
});
