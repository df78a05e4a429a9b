import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PolicyError } from '../../admission/index.js';
import { SHARED_POLICIES } from '../../../test/support/shared.js';
import { ensureTlsDir, loadAdmissionServeConfig, loadPolicyFiles, servingNames, TLS_DIR_FILES } from './config.js';

let home: string;
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-admission-config-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('ensureTlsDir', () => {
  it('generates a CA and a serving certificate for loopback and the Service names, then reuses them', async () => {
    const dir = join(home, 'tls');
    const first = await ensureTlsDir(dir, new Date());
    assert.equal(first.generated, true);
    const caPem = await readFile(join(dir, TLS_DIR_FILES.ca), 'utf8');
    const leaf = new X509Certificate(first.cert);
    const ca = new X509Certificate(caPem);
    assert.ok(leaf.verify(ca.publicKey));
    assert.ok(ca.ca);
    for (const dns of servingNames().dns) assert.equal(leaf.checkHost(dns), dns);
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    const second = await ensureTlsDir(dir, new Date());
    assert.equal(second.generated, false);
    assert.deepEqual(second.cert, first.cert);
  });

  it('refuses a directory holding only part of the material', async () => {
    const dir = join(home, 'partial');
    await ensureTlsDir(dir, new Date());
    await rm(join(dir, TLS_DIR_FILES.key));
    await assert.rejects(ensureTlsDir(dir, new Date()), /has ca\.crt, tls\.crt but not tls\.key/);
  });
});

describe('loadAdmissionServeConfig', () => {
  it('loads the shared policy directory and defaults the address', async () => {
    const config = await loadAdmissionServeConfig({ policies: join(SHARED_POLICIES, '01-check-image-notary.yaml'), tlsDir: join(home, 'cfg-tls') });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 9443);
    assert.equal(config.policies.policies.length, 1);
    assert.equal(config.tlsGenerated, true);
  });

  it('refuses missing or conflicting flags with one-line messages', async () => {
    await assert.rejects(loadAdmissionServeConfig({ tlsDir: home }), /--policies PATH is required/);
    await assert.rejects(loadAdmissionServeConfig({ policies: home, tlsCert: 'a' }), /--tls-cert and --tls-key go together/);
    await assert.rejects(loadAdmissionServeConfig({ policies: home }), /TLS is required/);
    await assert.rejects(loadAdmissionServeConfig({ policies: home, tlsDir: home, addr: 'nope' }), /--addr nope: expected HOST:PORT/);
  });

  it('reports a bad policy with its file', async () => {
    const file = join(home, 'bad.yaml');
    await writeFile(file, 'apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: x\nspec:\n  rules: 7\n');
    await assert.rejects(loadPolicyFiles([file]), (e: unknown) => e instanceof PolicyError && e.message.startsWith(file));
  });
});
