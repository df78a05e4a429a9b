// Bad input to sign, verify, cert, key and policy through the real sigil binary: each is refused
// with one `Error: …` line naming the input and the problem, exit 1, never a stack trace and
// never a pass. The signed and unsigned artifacts are Notation's e2e OCI layouts (copied).

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificate, EKU_CODE_SIGNING, encodeCertificatesPem } from '../pki/index.js';
import { NOTATION_E2E, NOTATION_LAYOUTS, copyWritable } from '../../test/support/shared.js';
import { failsWithOneLine, ok, runSigil, type Result } from '../../test/support/sigil-cli.js';

const ARTIFACT = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
const SCOPE = 'localhost:5000/e2e';
const POLICIES = join(NOTATION_E2E, 'config/trustpolicies');
const KEYS = join(NOTATION_E2E, 'config/localkeys');
const DAY_MS = 24 * 3600 * 1000;

let home: string;
/** Copies of Notation's e2e layouts: `signed` (e2e-valid-signature) and `unsigned` (e2e). */
let signed: string;
let unsigned: string;
/** A config that can sign (default key "good") and verify Notation's e2e signatures. */
let signer: string;

function sigil(config: string, args: string[]): Promise<Result> {
  return runSigil(args, { env: { SIGIL_CONFIG: config, DOCKER_CONFIG: join(home, 'docker') } });
}


/** A config directory holding only `files` (path → content). */
async function configWith(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(home, 'configs', name);
  await mkdir(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

const verifySigned = (config: string, extra: string[] = []) => sigil(config, ['verify', '--oci-layout', '--scope', SCOPE, ...extra, `${signed}@${ARTIFACT}`]);

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-notary-errors-'));
  signed = join(home, 'signed');
  unsigned = join(home, 'unsigned');
  await Promise.all([copyWritable(join(NOTATION_LAYOUTS, 'e2e-valid-signature'), signed), copyWritable(join(NOTATION_LAYOUTS, 'e2e'), unsigned)]);

  signer = join(home, 'signer');
  ok(await sigil(signer, ['cert', 'generate-test', '--default', 'good']));
  ok(await sigil(signer, ['policy', 'import', join(POLICIES, 'trustpolicy.json')]));
  ok(await sigil(signer, ['cert', 'add', '-t', 'ca', '-s', 'e2e', join(KEYS, 'e2e.crt')]));
  ok(await sigil(signer, ['key', 'add', 'held-by-plugin', '--plugin', 'com.example.kms', '--id', 'arn:key/1']));

  // A code-signing certificate that expired yesterday: accepted as a key entry, refused at signing.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const expired = createCertificate({
    subject: 'C=US, ST=WA, O=Acme, CN=expired',
    publicKey,
    signingKey: privateKey,
    notBefore: new Date(now - 2 * DAY_MS),
    notAfter: new Date(now - DAY_MS),
    keyUsage: { usages: ['digitalSignature'] },
    extKeyUsage: { oids: [EKU_CODE_SIGNING] },
  });
  await writeFile(join(home, 'expired.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(join(home, 'expired.crt'), encodeCertificatesPem([expired]));
  ok(await sigil(signer, ['key', 'add', 'expired', '--key-file', join(home, 'expired.key'), '--cert-file', join(home, 'expired.crt')]));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('sigil verify refuses', () => {
  it('to run without a trust policy', async () => {
    const config = await configWith('no-policy', {});
    failsWithOneLine(await verifySigned(config), /^Error: trust policy is not present; create .*trustpolicy\.oci\.json with sigil policy import FILE or sigil policy init$/);
  });

  it('a malformed trust policy, naming the file', async () => {
    const config = await configWith('malformed-policy', { 'trustpolicy.json': '{"version": "1.0", "trustPolicies": [' });
    failsWithOneLine(await verifySigned(config), new RegExp(`${join(config, 'trustpolicy.json')}: malformed trust policy\\. To create a trust policy, see: https://notaryproject\\.dev/`));
  });

  it('a trust policy that breaks the rules, naming the statement', async () => {
    const config = await configWith('invalid-policy', { 'trustpolicy.oci.json': await readFile(join(POLICIES, 'wildcard_trust_store_trustpolicy.json'), 'utf8') });
    failsWithOneLine(await verifySigned(config), /trust policy statement "e2e" has malformed trust store value "\*"/);
  });

  it('a trust policy that is a symbolic link', async () => {
    const config = await configWith('symlinked-policy', {});
    await symlink(join(POLICIES, 'trustpolicy.json'), join(config, 'trustpolicy.json'));
    failsWithOneLine(await verifySigned(config), /trustpolicy\.json is a symbolic link; it must be a regular file/);
  });

  it('a trust store that does not exist', async () => {
    const config = await configWith('no-store', { 'trustpolicy.json': await readFile(join(POLICIES, 'invalid_trust_store_trustpolicy.json'), 'utf8') });
    failsWithOneLine(await verifySigned(config), /authenticity validation failed: .*the trust store "invalid_store" of type "ca" does not exist/);
  });

  it('an empty trust store', async () => {
    const config = await configWith('empty-store', { 'trustpolicy.json': await readFile(join(POLICIES, 'trustpolicy.json'), 'utf8') });
    await mkdir(join(config, 'truststore/x509/ca/e2e'), { recursive: true });
    failsWithOneLine(await verifySigned(config), /no x509 certificates were found in trust store "e2e" of type "ca"/);
  });

  it('an artifact without signatures', async () => {
    failsWithOneLine(await sigil(signer, ['verify', '--oci-layout', '--scope', SCOPE, `${unsigned}@${ARTIFACT}`]), new RegExp(`^Error: no signature is associated with "${SCOPE}@${ARTIFACT}", make sure the artifact was signed successfully$`));
  });

  it('a scope no statement applies to', async () => {
    const config = await configWith('other-scope', { 'trustpolicy.json': await readFile(join(POLICIES, 'registry_scope_trustpolicy.json'), 'utf8') });
    const policy = JSON.parse(await readFile(join(POLICIES, 'registry_scope_trustpolicy.json'), 'utf8')) as { trustPolicies: Array<{ registryScopes: string[] }> };
    assert.ok(!policy.trustPolicies.some((s) => s.registryScopes.includes('*') || s.registryScopes.includes('example.com/nothing')));
    failsWithOneLine(await sigil(config, ['verify', '--oci-layout', '--scope', 'example.com/nothing', `${signed}@${ARTIFACT}`]), /artifact "example\.com\/nothing@sha256:[0-9a-f]{64}" has no applicable oci trust policy statement/);
  });

  it('bad flags, before reading anything', async () => {
    const [zero, noScope, scopeAlone, metadata, notANumber, noDigest] = await Promise.all([
      verifySigned(signer, ['--max-signatures', '0']),
      sigil(signer, ['verify', '--oci-layout', `${signed}@${ARTIFACT}`]),
      sigil(signer, ['verify', '--scope', SCOPE, `localhost:5000/e2e@${ARTIFACT}`]),
      verifySigned(signer, ['-m', 'novalue']),
      verifySigned(signer, ['--max-signatures', 'many']),
      sigil(signer, ['verify', '--oci-layout', '--scope', SCOPE, signed]),
    ]);
    failsWithOneLine(zero, /^Error: max-signatures value 0 must be a positive number$/);
    failsWithOneLine(noScope, /--oci-layout needs --scope REGISTRY\/REPOSITORY/);
    failsWithOneLine(scopeAlone, /--scope is only used with --oci-layout/);
    failsWithOneLine(metadata, /--user-metadata "novalue": expected KEY=VALUE/);
    failsWithOneLine(notANumber, /option '--max-signatures <n>' argument 'many' is invalid\. "many" is not a whole number/);
    failsWithOneLine(noDigest, /no tag or digest/);
  });
});

describe('sigil sign refuses', () => {
  const signUnsigned = (extra: string[]) => sigil(signer, ['sign', '--oci-layout', ...extra, `${unsigned}@${ARTIFACT}`]);
  let indexBefore: string;
  before(async () => {
    indexBefore = await readFile(join(unsigned, 'index.json'), 'utf8');
  });

  it('bad keys and bad flags, and writes nothing', async () => {
    const [unknown, plugin, pluginKey, expired, garbage, zero, huge, metadata, reserved, repeated, format] = await Promise.all([
      signUnsigned(['-k', 'nosuch']),
      signUnsigned(['--plugin', 'com.example.kms', '--id', 'arn:key/1']),
      signUnsigned(['-k', 'held-by-plugin']),
      signUnsigned(['-k', 'expired']),
      signUnsigned(['-e', 'garbage']),
      signUnsigned(['-e', '0s']),
      signUnsigned(['-e', '99999999999h']),
      signUnsigned(['-m', 'novalue']),
      signUnsigned(['-m', 'io.cncf.notary.x=y']),
      signUnsigned(['-m', 'k=1', '-m', 'k=2']),
      signUnsigned(['--signature-format', 'xml']),
    ]);
    failsWithOneLine(unknown, /^Error: signing key "nosuch" is not in signingkeys\.json; see sigil key ls$/);
    failsWithOneLine(plugin, /signing with plugin keys \(--plugin, --id\) is not supported yet/);
    failsWithOneLine(pluginKey, /signing key "held-by-plugin" is held by plugin com\.example\.kms; signing through plugins is not supported yet/);
    failsWithOneLine(expired, /the signing certificate chain cannot be used: certificate with subject "CN=expired,O=Acme,ST=WA,C=US" is not valid at .*: it expired at /);
    failsWithOneLine(garbage, /--expiry "garbage": expected a duration such as 24h/);
    failsWithOneLine(zero, /--expiry 0s: the duration must be positive/);
    failsWithOneLine(huge, /--expiry 99999999999h: the duration is out of range/);
    failsWithOneLine(metadata, /--user-metadata "novalue": expected KEY=VALUE/);
    failsWithOneLine(reserved, /user metadata key "io\.cncf\.notary\.x" .*reserved/);
    failsWithOneLine(repeated, /--user-metadata: key "k" is given more than once/);
    failsWithOneLine(format, /--signature-format.*xml.*(jws|choices)/);
    assert.equal(await readFile(join(unsigned, 'index.json'), 'utf8'), indexBefore, 'no refused signature reached the layout');
  });

  it('when there is no default key and none is named', async () => {
    const config = await configWith('no-keys', {});
    failsWithOneLine(await sigil(config, ['sign', '--oci-layout', `${unsigned}@${ARTIFACT}`]), /no signing key given and no default key is set/);
  });

  it('a malformed signingkeys.json, naming it', async () => {
    const config = await configWith('bad-keys', { 'signingkeys.json': '{"keys": [{"name": "a", "keyPath": "/k"}]}' });
    failsWithOneLine(await sigil(config, ['sign', '--oci-layout', `${unsigned}@${ARTIFACT}`]), /signingkeys\.json: key "a" needs both keyPath and certPath/);
  });

  it('a key whose files are gone, naming the file', async () => {
    const config = await configWith('gone-keys', { 'signingkeys.json': JSON.stringify({ default: 'a', keys: [{ name: 'a', keyPath: join(home, 'gone.key'), certPath: join(home, 'gone.crt') }] }) });
    failsWithOneLine(await sigil(config, ['sign', '--oci-layout', `${unsigned}@${ARTIFACT}`]), /gone\.key: no such file/);
  });
});

describe('sigil cert, key and policy refuse', () => {
  it('to add a file that is not a certificate, and create no store', async () => {
    const config = await configWith('cert-add', {});
    await writeFile(join(home, 'notes.txt'), 'these are not the certificates you are looking for\n');
    failsWithOneLine(await sigil(config, ['cert', 'add', '-t', 'ca', '-s', 'acme', join(home, 'notes.txt')]), /notes\.txt.*neither PEM nor DER certificates/);
    await assert.rejects(stat(join(config, 'truststore/x509/ca/acme/notes.txt')), { code: 'ENOENT' });
    failsWithOneLine(await sigil(config, ['cert', 'add', '-t', 'ca', '-s', 'acme', join(home, 'absent.crt')]), /absent\.crt/);
    failsWithOneLine(await sigil(config, ['cert', 'add', '-t', 'nope', '-s', 'acme', join(KEYS, 'e2e.crt')]), /nope/);
    failsWithOneLine(await sigil(config, ['cert', 'add', '-t', 'ca', '-s', '../escape', join(KEYS, 'e2e.crt')]), /escape/);
  });

  it('a key whose certificate is for another key', async () => {
    const config = await configWith('key-add', {});
    failsWithOneLine(
      await sigil(config, ['key', 'add', 'mismatch', '--key-file', join(signer, 'localkeys/good.key'), '--cert-file', join(KEYS, 'e2e.crt')]),
      /good\.key: the private key does not match the public key of certificate "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"/,
    );
    await assert.rejects(stat(join(config, 'signingkeys.json')), { code: 'ENOENT' }, 'nothing was registered');
    failsWithOneLine(await sigil(config, ['key', 'add', 'half', '--key-file', join(KEYS, 'e2e.key')]), /--key-file and --cert-file go together/);
    failsWithOneLine(await sigil(config, ['key', 'add', 'both', '--key-file', join(KEYS, 'e2e.key'), '--cert-file', join(KEYS, 'e2e.crt'), '--plugin', 'p', '--id', 'i']), /give either/);
    failsWithOneLine(await sigil(config, ['key', 'update', 'nosuch', '--default']), /signing key "nosuch" is not in signingkeys\.json/);
  });

  it('policy show without a policy, and policy import of a missing file', async () => {
    const config = await configWith('policy', {});
    failsWithOneLine(await sigil(config, ['policy', 'show']), /no trust policy is present/);
    failsWithOneLine(await sigil(config, ['policy', 'import', join(home, 'absent.json')]), /absent\.json: no such file/);
  });
});
