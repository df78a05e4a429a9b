// Which registry credentials a verification may use: the entry's imageRegistryCredentials, the
// object's imagePullSecrets (Pods, controllers, CronJobs) and whether the server's own stay in.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialSources, imagePullSecretNames, verificationOfAttestor } from './credentials.js';
import type { EvaluationRequest } from './engine.js';
import type { CertificatesAttestor, KyvernoPolicy, NestedAttestor, NotaryAttestor, Rule } from './model.js';
import { decodePolicyDocuments } from './policy.js';
import { podRulePolicyText } from '../../test/support/admission.js';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

/** A rule with two verifyImages entries: the first with `credentials` and a nested attestor, the second without. */
function rule(credentials?: Record<string, unknown>): Rule {
  const text = podRulePolicyText([
    { type: 'Notary', imageReferences: ['reg.example/*'], attestors: [{ entries: [{ attestor: { entries: [{ certificates: { cert: CERT } }] } }] }], ...(credentials === undefined ? {} : { imageRegistryCredentials: credentials }) },
    { type: 'Notary', imageReferences: ['other.example/*'], attestors: [{ entries: [{ certificates: { cert: CERT } }] }] },
  ]);
  return ((decodePolicyDocuments(text, 'test')[0] as KyvernoPolicy).spec.rules[0]) as Rule;
}

function attestors(r: Rule): [CertificatesAttestor, CertificatesAttestor] {
  const nested = r.verifyImages[0]?.attestors[0]?.entries[0] as NestedAttestor<NotaryAttestor>;
  return [nested.attestorSet.entries[0] as CertificatesAttestor, r.verifyImages[1]?.attestors[0]?.entries[0] as CertificatesAttestor];
}

function request(kind: string, object: unknown, namespace = 'team-a'): EvaluationRequest {
  return { kind: { group: kind === 'Pod' ? '' : 'apps', version: 'v1', kind }, name: 'x', namespace, operation: 'CREATE', labels: {}, namespaceLabels: {}, object };
}

const podSpec = { containers: [{ name: 'c', image: 'reg.example/app:v1' }], imagePullSecrets: [{ name: 'regcred' }, { name: '' }, {}, { name: 'regcred' }, { name: 'second' }] };

describe('imagePullSecretNames', () => {
  it("reads a Pod's, a controller's pod template's and a CronJob's job template's names, without blanks or repeats", () => {
    assert.deepEqual(imagePullSecretNames({ spec: podSpec }, 'Pod'), ['regcred', 'second']);
    assert.deepEqual(imagePullSecretNames({ spec: { template: { spec: podSpec } } }, 'Deployment'), ['regcred', 'second']);
    assert.deepEqual(imagePullSecretNames({ spec: { jobTemplate: { spec: { template: { spec: podSpec } } } } }, 'CronJob'), ['regcred', 'second']);
  });

  it('gives nothing for other kinds and for malformed objects', () => {
    assert.deepEqual(imagePullSecretNames({ spec: podSpec }, 'ConfigMap'), []);
    assert.deepEqual(imagePullSecretNames({ spec: { imagePullSecrets: 'regcred' } }, 'Pod'), []);
    assert.deepEqual(imagePullSecretNames(null, 'Pod'), []);
    assert.deepEqual(imagePullSecretNames({ spec: { template: 7 } }, 'Deployment'), []);
  });
});

describe('verificationOfAttestor', () => {
  it('finds the entry holding an attestor, nested ones included', () => {
    const r = rule();
    const [nested, plain] = attestors(r);
    assert.equal(verificationOfAttestor(r, nested), r.verifyImages[0]);
    assert.equal(verificationOfAttestor(r, plain), r.verifyImages[1]);
    assert.equal(verificationOfAttestor(r, { kind: 'certificates', cert: CERT, certChain: undefined }), undefined);
  });
});

describe('credentialSources', () => {
  it("uses the Pod's pull secrets and the server's own when the entry sets no imageRegistryCredentials", () => {
    const r = rule();
    const sources = credentialSources(r, attestors(r)[0], request('Pod', { spec: podSpec }));
    assert.deepEqual(sources, { ruleSecrets: [], pullSecrets: ['regcred', 'second'], namespace: 'team-a', unsupportedProviders: [] });
  });

  it("lists the entry's secrets beside the pull secrets; the other entry has none of its own", () => {
    const r = rule({ secrets: ['sigil-regcred', 'other-ns/cred'] });
    const [mine, other] = attestors(r);
    const sources = credentialSources(r, mine, request('Pod', { spec: podSpec }));
    assert.deepEqual(sources.ruleSecrets, ['sigil-regcred', 'other-ns/cred']);
    assert.deepEqual(sources.pullSecrets, ['regcred', 'second']);
    assert.deepEqual(credentialSources(r, other, request('Pod', { spec: podSpec })).ruleSecrets, []);
  });

  it('lists the cloud providers Sigil cannot use, leaving out default', () => {
    const r = rule({ secrets: ['sigil-regcred'], providers: ['default', 'amazon', 'github'] });
    assert.deepEqual(credentialSources(r, attestors(r)[0], request('Pod', { spec: podSpec })).unsupportedProviders, ['amazon', 'github']);
  });

  it('reads no pull secrets for a cluster-scoped request', () => {
    const r = rule();
    assert.deepEqual(credentialSources(r, attestors(r)[0], request('Pod', { spec: podSpec }, '')).pullSecrets, []);
  });
});
