// secretCredentialsFor: registry credentials from docker-registry Secrets in a fake kube-apiserver,
// with Kyverno's precedence (the entry's imageRegistryCredentials.secrets, the Pod's
// imagePullSecrets, the server's own) decided for the image's registry.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodePolicyDocuments, normalizeImage, type CertificatesAttestor, type EvaluationRequest, type ImageCredentials, type KyvernoPolicy, type Rule } from '../../admission/index.js';
import { KubeClient } from '../../kube/index.js';
import { FakeKubeApiServer } from '../../../test/support/kube-apiserver.js';
import { SecretCredentials } from './cluster.js';
import { secretCredentialsFor } from './registry-credentials.js';
import { podRulePolicyText } from '../../../test/support/admission.js';

type Json = Record<string, unknown>;

const REG = 'reg.example:5000';
let fake: FakeKubeApiServer;
let client: KubeClient;

function dockerSecret(name: string, auths: Json): Json {
  return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name }, data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') } };
}

const basic = (user: string) => ({ auth: Buffer.from(`${user}:pw`).toString('base64') });

before(async () => {
  fake = await FakeKubeApiServer.start({ tokens: ['t'] });
  client = new KubeClient({ server: fake.url, caCertificate: fake.pki.caPem, insecureSkipTlsVerify: false, auth: { type: 'bearer', token: async () => 't' }, namespace: 'sigil-system', source: 'test' });
  fake.put('/api/v1/namespaces/sigil-system/secrets', dockerSecret('sigil-regcred', { [`https://${REG}/v2/`]: basic('rule') }));
  fake.put('/api/v1/namespaces/sigil-system/secrets', dockerSecret('elsewhere', { 'ghcr.io': basic('ghcr') }));
  fake.put('/api/v1/namespaces/team-a/secrets', dockerSecret('regcred', { [REG]: basic('pod'), 'quay.io': { auth: 'bm9jb2xvbg==' } }));
  fake.put('/api/v1/namespaces/team-a/secrets', dockerSecret('same-as-rule', { [REG]: basic('rule') }));
});
after(async () => {
  await client.close();
  await fake.close();
});

function subject(credentials?: Json): { policy: KyvernoPolicy; rule: Rule; attestor: CertificatesAttestor } {
  const text = podRulePolicyText([{ type: 'Notary', imageReferences: ['*'], attestors: [{ entries: [{ certificates: { cert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' } }] }], ...(credentials === undefined ? {} : { imageRegistryCredentials: credentials }) }]);
  const policy = decodePolicyDocuments(text, 'test')[0] as KyvernoPolicy;
  const rule = policy.spec.rules[0] as Rule;
  return { policy, rule, attestor: rule.verifyImages[0]?.attestors[0]?.entries[0] as CertificatesAttestor };
}

function pod(pullSecrets: readonly string[]): EvaluationRequest {
  return {
    kind: { group: '', version: 'v1', kind: 'Pod' },
    name: 'web',
    namespace: 'team-a',
    operation: 'CREATE',
    labels: {},
    namespaceLabels: {},
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'c', image: `${REG}/app:v1` }], imagePullSecrets: pullSecrets.map((name) => ({ name })) } },
  };
}

async function resolve(pullSecrets: readonly string[], credentials?: Json, image = `${REG}/app:v1`): Promise<ImageCredentials> {
  const credentialsFor = secretCredentialsFor({ secrets: new SecretCredentials({ client }), namespace: 'sigil-system' });
  const s = subject(credentials);
  const found = await credentialsFor(normalizeImage(image), s.rule, s.attestor, { policy: s.policy, signal: AbortSignal.timeout(10_000), request: pod(pullSecrets) });
  assert.ok(found !== undefined);
  return found;
}

describe('secretCredentialsFor', () => {
  it("uses the Pod's imagePullSecrets for the image's registry, and only for it", async () => {
    const found = await resolve(['regcred']);
    assert.match(found.key, /^secret:sha256:[0-9a-f]{64}$/);
    assert.deepEqual(await found.store?.get(REG), { username: 'pod', password: 'pw' });
    assert.equal(await found.store?.get('ghcr.io'), undefined);
    assert.deepEqual(found.notes, [], "the bad quay.io entry is another registry's business");
  });

  it("lets the entry's imageRegistryCredentials.secrets (read in Sigil's namespace) win over pull secrets", async () => {
    const found = await resolve(['regcred'], { secrets: ['sigil-regcred'] });
    assert.deepEqual(await found.store?.get(REG), { username: 'rule', password: 'pw' });
    // Equal credentials give equal keys, wherever they were read from: one client serves both.
    assert.equal((await resolve(['same-as-rule'])).key, found.key);
    assert.notEqual((await resolve(['regcred'])).key, found.key);
  });

  it("falls back to the server's own credentials when no Secret has any for the registry", async () => {
    const found = await resolve([]);
    assert.deepEqual(found, { key: 'server', store: undefined, notes: [] });
    assert.equal((await resolve(['regcred'], undefined, 'ghcr.io/acme/app:v1')).key, 'server');
  });

  it("still falls back to the server's own when the entry's secrets have none for the registry (merged, not replaced)", async () => {
    const found = await resolve([], { secrets: ['elsewhere'] });
    assert.equal(found.key, 'server');
    assert.equal(found.store, undefined);
  });

  it('names missing Secrets and why, and goes on without them', async () => {
    const found = await resolve(['gone', 'regcred'], { secrets: ['missing', 'team-b/also-missing'] });
    assert.deepEqual(await found.store?.get(REG), { username: 'pod', password: 'pw' });
    assert.deepEqual(found.notes, [
      'imageRegistryCredentials secret sigil-system/missing not used: not found',
      'imageRegistryCredentials secret team-b/also-missing not used: not found',
      'imagePullSecret team-a/gone not used: not found',
    ]);
  });
});
