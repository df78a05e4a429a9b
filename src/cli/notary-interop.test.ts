// The sigil binary on Notation's own data (the notation CLI's e2e testdata, copied to a temp dir):
// its signed OCI layouts verified under its trust policies and trust stores, every one of its
// trust policy files through `sigil policy import`, and a config directory laid out by hand as
// Notation writes it, used for sign and verify with no sigil setup command.

import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NOTATION_E2E, NOTATION_LAYOUTS, copyWritable } from '../../test/support/shared.js';
import { failsWithOneLine, ok, runSigil, type Result } from '../../test/support/sigil-cli.js';

/** The artifact every Notation e2e layout holds (tag v1, 517 bytes, layer "awesome notation"). */
const ARTIFACT = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
const SCOPE = 'localhost:5000/e2e';
const POLICIES = join(NOTATION_E2E, 'config/trustpolicies');
const KEYS = join(NOTATION_E2E, 'config/localkeys');
/** Where the notary unit tests record what Notation does with each e2e trust policy. */
const NOTARY_POLICY_TESTS = fileURLToPath(new URL('../../../src/notary/trustpolicy.test.ts', import.meta.url));

let home: string;
let layouts: string;

function sigil(config: string, args: string[]): Promise<Result> {
  return runSigil(args, { env: { SIGIL_CONFIG: config, DOCKER_CONFIG: join(home, 'docker') } });
}

/** Copies a tree and makes it writable: the shared testdata is read-only and must never be written. */

/** Runs `fn` over `items`, at most `limit` at a time (CLI processes on a two-core machine). */
async function inBatches<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
    }),
  );
  return results;
}

/** A config directory made with sigil's own commands: one Notation trust policy, one certificate in ca:e2e. */
async function configWith(name: string, policyFile: string, certFile: string): Promise<string> {
  const config = join(home, 'configs', name);
  ok(await sigil(config, ['policy', 'import', join(POLICIES, policyFile)]));
  const added = ok(await sigil(config, ['cert', 'add', '-t', 'ca', '-s', 'e2e', join(KEYS, certFile)]));
  assert.equal(added.stdout, `Successfully added ${certFile} to named store e2e of type ca\n`);
  return config;
}

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-notary-interop-'));
  layouts = join(home, 'layouts');
  await copyWritable(NOTATION_LAYOUTS, layouts);
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('sigil verify on Notation-signed OCI layouts', () => {
  const configs = new Map<string, string>();
  before(async () => {
    const wanted: Array<[string, string, string]> = [
      ['strict', 'trustpolicy.json', 'e2e.crt'],
      ['permissive', 'permissive_trustpolicy.json', 'e2e.crt'],
      ['audit', 'audit_trustpolicy.json', 'e2e.crt'],
      ['strict-new', 'trustpolicy.json', 'new_e2e.crt'],
      ['permissive-new', 'permissive_trustpolicy.json', 'new_e2e.crt'],
      ['audit-new', 'audit_trustpolicy.json', 'new_e2e.crt'],
    ];
    const made = await Promise.all(wanted.map(async ([name, policy, cert]) => [name, await configWith(name, policy, cert)] as const));
    for (const [name, dir] of made) configs.set(name, dir);
  });

  const verify = (config: string, layout: string) => sigil(configs.get(config) ?? '', ['verify', '--oci-layout', '--scope', SCOPE, `${join(layouts, layout)}@${ARTIFACT}`]);
  const verified = (result: Result, layout: string) => {
    ok(result);
    assert.equal(result.stdout, `Successfully verified signature for ${join(layouts, layout)}@${ARTIFACT}\n`);
  };

  it('passes e2e-valid-signature at strict, permissive and audit with no warning', async () => {
    const results = await Promise.all(['strict', 'permissive', 'audit'].map((c) => verify(c, 'e2e-valid-signature')));
    for (const result of results) {
      verified(result, 'e2e-valid-signature');
      assert.equal(result.stderr, '');
    }
  });

  it('fails e2e-invalid-signature with "integrity validation failed" at strict, permissive and audit', async () => {
    const results = await Promise.all(['strict', 'permissive', 'audit'].map((c) => verify(c, 'e2e-invalid-signature')));
    for (const result of results) {
      failsWithOneLine(result, new RegExp(`signature verification failed for all the signatures associated with ${SCOPE}@${ARTIFACT}: integrity validation failed`));
      assert.equal(result.stdout, '');
    }
  });

  it('fails e2e-expired-signature with "expiry validation failed" under strict', async () => {
    failsWithOneLine(await verify('strict', 'e2e-expired-signature'), /expiry validation failed: digital signature has expired on "Tue, 27 Jun 2023 05:21:21 \+0000"/);
  });

  it('passes e2e-expired-signature under permissive and audit with the expiry warning', async () => {
    const results = await Promise.all(['permissive', 'audit'].map((c) => verify(c, 'e2e-expired-signature')));
    for (const result of results) {
      verified(result, 'e2e-expired-signature');
      assert.equal(result.stderr, 'Warning: expiry was set to "log" and failed with error: digital signature has expired on "Tue, 27 Jun 2023 05:21:21 +0000"\n');
    }
  });

  it('fails authenticity with new_e2e.crt as the only trusted certificate under strict and permissive', async () => {
    const results = await Promise.all(['strict-new', 'permissive-new'].map((c) => verify(c, 'e2e-valid-signature')));
    for (const result of results) failsWithOneLine(result, /authenticity validation failed: the signature's certificate chain does not contain any trusted certificate/);
  });

  it('passes with an authenticity warning with new_e2e.crt under audit', async () => {
    const result = await verify('audit-new', 'e2e-valid-signature');
    verified(result, 'e2e-valid-signature');
    assert.equal(result.stderr, 'Warning: authenticity was set to "log" and failed with error: the signature\'s certificate chain does not contain any trusted certificate\n');
  });

  it('reports every check of the expired signature with -o json', async () => {
    const result = ok(await sigil(configs.get('audit') ?? '', ['verify', '-o', 'json', '--oci-layout', '--scope', SCOPE, `${join(layouts, 'e2e-expired-signature')}@${ARTIFACT}`]));
    const report = JSON.parse(result.stdout) as { result: string; scopeReference: string; trustPolicy: { name: string; level: string }; signatures: Array<{ digest: string; result: string; checks: Array<{ type: string; action: string; result: string }> }> };
    assert.equal(report.result, 'verified');
    assert.equal(report.scopeReference, `${SCOPE}@${ARTIFACT}`);
    assert.deepEqual(report.trustPolicy, { name: 'e2e', level: 'audit' });
    assert.equal(report.signatures[0]?.digest, 'sha256:3829708badae8e4b14e1adbc2fac7182bc0c27c5b6f54153e8b68a12eab10a1e');
    assert.deepEqual(
      report.signatures[0]?.checks.map((c) => [c.type, c.action, c.result]),
      [
        ['integrity', 'enforce', 'passed'],
        ['authenticity', 'log', 'passed'],
        ['expiry', 'log', 'failed'],
        ['authenticTimestamp', 'log', 'passed'],
        ['revocation', 'log', 'skipped'],
      ],
    );
  });

  it('lists and inspects the Notation signature', async () => {
    const config = configs.get('strict') ?? '';
    const ref = `${join(layouts, 'e2e-valid-signature')}@${ARTIFACT}`;
    const [listed, inspected] = await Promise.all([sigil(config, ['ls', '--oci-layout', ref]), sigil(config, ['inspect', '--oci-layout', '-o', 'json', ref])]);
    assert.match(ok(listed).stdout, /└── sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f\n$/);
    const [signature] = (JSON.parse(ok(inspected).stdout) as { signatures: Array<Record<string, unknown>> }).signatures;
    assert.equal(signature?.signatureAlgorithm, 'RSASSA-PSS-SHA-256');
    assert.equal(signature?.signatureEnvelopeType, 'application/jose+json');
    assert.deepEqual(signature?.unsignedAttributes, { signingAgent: 'Notation/1.0.0' });
    assert.deepEqual(signature?.signedArtifact, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: ARTIFACT, size: 517 });
  });
});

/** Reads `'file.json': undefined | 'fragment'` from the notary unit test, so both suites classify the files alike. */
async function notationExpectations(): Promise<Map<string, string | undefined>> {
  const source = await readFile(NOTARY_POLICY_TESTS, 'utf8');
  const block = /const E2E_EXPECTATIONS[^{]*\{([\s\S]*?)\n\};/.exec(source)?.[1];
  assert.ok(block !== undefined, `${NOTARY_POLICY_TESTS} no longer has E2E_EXPECTATIONS`);
  const entries = new Map<string, string | undefined>();
  const entry = /'([\w.-]+\.json)':\s*(undefined|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|`((?:[^`\\]|\\.)*)`)/g;
  for (const match of block.matchAll(entry)) {
    const literal = match[3] ?? match[4] ?? match[5];
    // A template literal's interpolation is cut off: the fragment before it is checked.
    entries.set(match[1] as string, literal === undefined ? undefined : literal.split('${')[0]?.replace(/\\(.)/g, '$1'));
  }
  return entries;
}

describe('sigil policy import on every Notation e2e trust policy', () => {
  it('accepts and rejects each file as Notation does, with one line naming the problem', async () => {
    const expectations = await notationExpectations();
    const files = (await readdir(POLICIES)).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual([...expectations.keys()].sort(), files, 'the notary unit test classifies exactly the fixture files');
    assert.ok([...expectations.values()].filter((v) => v !== undefined).length >= 15, 'the classification has rejections');
    await inBatches(files, 4, async (file) => {
      const config = join(home, 'import', file);
      const path = join(POLICIES, file);
      const result = await sigil(config, ['policy', 'import', path]);
      const expected = expectations.get(file);
      if (expected === undefined) {
        assert.equal(result.code, 0, `${file}: ${result.stderr}`);
        assert.equal(result.stdout, `Trust policy configuration imported successfully to ${join(config, 'trustpolicy.oci.json')}\n`);
        const original = JSON.parse(await readFile(path, 'utf8')) as { trustPolicies: Array<{ name: string; registryScopes: string[] }> };
        const shown = JSON.parse(ok(await sigil(config, ['policy', 'show'])).stdout) as typeof original & { version: string };
        assert.equal(shown.version, '1.0');
        assert.deepEqual(
          shown.trustPolicies.map((s) => [s.name, s.registryScopes]),
          original.trustPolicies.map((s) => [s.name, s.registryScopes]),
          file,
        );
      } else {
        failsWithOneLine(result, new RegExp(escapeRegExp(path)));
        assert.ok(result.stderr.includes(expected), `${file}: ${JSON.stringify(result.stderr)} lacks ${JSON.stringify(expected)}`);
        await assert.rejects(stat(join(config, 'trustpolicy.oci.json')), { code: 'ENOENT' }, `${file}: nothing is installed`);
      }
    });
  });

  it('refuses to replace an installed policy without --force, and replaces it with --force', async () => {
    const config = join(home, 'import-force');
    ok(await sigil(config, ['policy', 'import', join(POLICIES, 'trustpolicy.json')]));
    failsWithOneLine(await sigil(config, ['policy', 'import', join(POLICIES, 'audit_trustpolicy.json')]), /a trust policy already exists at .*trustpolicy\.oci\.json; use --force to replace it/);
    ok(await sigil(config, ['policy', 'import', '--force', join(POLICIES, 'audit_trustpolicy.json')]));
    const shown = JSON.parse(ok(await sigil(config, ['policy', 'show'])).stdout) as { trustPolicies: Array<{ signatureVerification: { level: string } }> };
    assert.equal(shown.trustPolicies[0]?.signatureVerification.level, 'audit');
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('a config directory laid out by Notation', () => {
  let config: string;
  let layout: string;
  let notationFiles: Map<string, string>;

  before(async () => {
    // As notation 1.x leaves it after `notation cert add --type ca --store e2e e2e.crt`,
    // `notation key add`-style signingkeys.json with absolute paths, and `notation policy import`
    // (v1 name trustpolicy.json), plus a config.json choosing COSE.
    config = join(home, 'notation-config');
    await mkdir(join(config, 'truststore/x509/ca/e2e'), { recursive: true });
    await mkdir(join(config, 'localkeys'), { recursive: true });
    await cp(join(KEYS, 'e2e.crt'), join(config, 'truststore/x509/ca/e2e/e2e.crt'));
    await cp(join(KEYS, 'e2e.key'), join(config, 'localkeys/e2e.key'));
    await cp(join(KEYS, 'e2e.crt'), join(config, 'localkeys/e2e.crt'));
    await cp(join(POLICIES, 'trustpolicy.json'), join(config, 'trustpolicy.json'));
    const keys = { default: 'e2e', keys: [{ name: 'e2e', keyPath: join(config, 'localkeys/e2e.key'), certPath: join(config, 'localkeys/e2e.crt') }] };
    await writeFile(join(config, 'signingkeys.json'), JSON.stringify(keys, null, 4));
    await writeFile(join(config, 'config.json'), JSON.stringify({ insecureRegistries: ['localhost:5000'], signatureFormat: 'cose' }, null, 4));
    layout = join(home, 'notation-config-layout');
    await copyWritable(join(NOTATION_LAYOUTS, 'e2e'), layout);
    notationFiles = await snapshot(config);
  });

  it('signs with the default key in config.json\'s format and verifies under trustpolicy.json', async () => {
    const ref = `${layout}@${ARTIFACT}`;
    const signedCose = ok(await sigil(config, ['sign', '--oci-layout', ref]));
    assert.match(signedCose.stdout, new RegExp(`^Successfully signed ${escapeRegExp(ref)}\\n`));
    ok(await sigil(config, ['sign', '--oci-layout', '--signature-format', 'jws', ref]));

    const inspected = JSON.parse(ok(await sigil(config, ['inspect', '--oci-layout', '-o', 'json', ref])).stdout) as { signatures: Array<{ signatureEnvelopeType: string; certificates: Array<{ issuedTo: string }> }> };
    assert.deepEqual(inspected.signatures.map((s) => s.signatureEnvelopeType).sort(), ['application/cose', 'application/jose+json']);
    for (const s of inspected.signatures) assert.equal(s.certificates[0]?.issuedTo, 'CN=e2e,O=Notary,L=Seattle,ST=WA,C=US');

    const result = ok(await sigil(config, ['verify', '--oci-layout', '--scope', SCOPE, ref]));
    assert.equal(result.stdout, `Successfully verified signature for ${ref}\n`);
    assert.equal(result.stderr, '');
  });

  it('reads the Notation files as they are, and leaves them as they were', async () => {
    const [keys, certs, policy] = await Promise.all([sigil(config, ['key', 'ls']), sigil(config, ['cert', 'ls']), sigil(config, ['policy', 'show'])]);
    assert.match(ok(keys).stdout, new RegExp(`^\\* e2e +${escapeRegExp(join(config, 'localkeys/e2e.key'))} +${escapeRegExp(join(config, 'localkeys/e2e.crt'))}$`, 'm'));
    assert.equal(ok(certs).stdout, `${join(config, 'truststore/x509/ca/e2e/e2e.crt')}\n`);
    assert.equal((JSON.parse(ok(policy).stdout) as { trustPolicies: Array<{ name: string }> }).trustPolicies[0]?.name, 'e2e');
    assert.deepEqual(await snapshot(config), notationFiles, 'sign, verify, ls and show wrote nothing into the config directory');
  });
});

/** Every file under `dir` with its content, to see that nothing was written. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      files.set(path, await readFile(path, 'utf8'));
    }
  }
  return files;
}
