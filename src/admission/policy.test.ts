import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PolicyError, type PolicyProblem } from './errors.js';
import { ADMISSION_TRUST_STORE_NAME, policyKey, type KyvernoPolicy, type NotaryImageVerification, type PolicyException } from './model.js';
import { decodePolicyDocuments, MAX_POLICY_TEXT_BYTES } from './policy.js';
import { SHARED_POLICIES } from '../../test/support/shared.js';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

function policyFile(name: string): string {
  return readFileSync(join(SHARED_POLICIES, name), 'utf8');
}

/** A minimal valid Enforce Notary ClusterPolicy; `entry` and `spec` extend the verifyImages entry and spec. */
function policy(options: { entry?: Record<string, unknown>; spec?: Record<string, unknown>; rule?: Record<string, unknown>; metadata?: Record<string, unknown> } = {}): string {
  return JSON.stringify({
    apiVersion: 'kyverno.io/v1',
    kind: 'ClusterPolicy',
    metadata: { name: 'p', ...options.metadata },
    spec: {
      validationFailureAction: 'Enforce',
      rules: [
        {
          name: 'r',
          match: { any: [{ resources: { kinds: ['Pod'] } }] },
          verifyImages: [{ type: 'Notary', imageReferences: ['*'], attestors: [{ entries: [{ certificates: { cert: CERT } }] }], ...options.entry }],
          ...options.rule,
        },
      ],
      ...options.spec,
    },
  });
}

function decodeOne(text: string): KyvernoPolicy {
  const [document] = decodePolicyDocuments(text, 'test.yaml');
  assert.ok(document !== undefined && document.kind !== 'PolicyException');
  return document;
}

function entryOf(text: string): NotaryImageVerification {
  const entry = decodeOne(text).spec.rules[0]?.verifyImages[0];
  assert.ok(entry?.type === 'Notary');
  return entry;
}

function problemsOf(text: string): readonly PolicyProblem[] {
  try {
    decodePolicyDocuments(text, 'test.yaml');
  } catch (error) {
    assert.ok(error instanceof PolicyError, `expected PolicyError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail('expected a PolicyError');
}

function assertProblem(text: string, path: string, severity: 'error' | 'unsupported'): void {
  const problems = problemsOf(text);
  assert.ok(
    problems.some((p) => p.path === path && p.severity === severity && p.source === 'test.yaml'),
    `no ${severity} at ${path}; got ${JSON.stringify(problems.map((p) => [p.path, p.severity, p.message]))}`,
  );
}

describe('decodePolicyDocuments: the users’ policies', () => {
  it('decodes 01 as an Enforce Notary policy with one certificate and count 1', () => {
    const p = decodeOne(policyFile('01-check-image-notary.yaml'));
    assert.equal(p.kind, 'ClusterPolicy');
    assert.equal(policyKey(p), 'check-image');
    assert.equal(p.spec.validationFailureAction, 'Enforce');
    assert.equal(p.spec.webhookTimeoutSeconds, 30);
    assert.equal(p.spec.background, true);
    const rule = p.spec.rules[0];
    assert.equal(rule?.name, 'check-digest');
    assert.deepEqual(rule?.match.filters[0]?.resources.namespaces, ['test-notation']);
    const entry = rule?.verifyImages[0];
    assert.equal(entry?.type, 'Notary');
    assert.equal(entry?.attestors[0]?.count, 1);
    const attestor = entry?.attestors[0]?.entries[0];
    assert.ok(attestor?.kind === 'certificates' && attestor.cert?.startsWith('-----BEGIN CERTIFICATE-----'));
    assert.equal(rule?.trustPolicy.origin, 'kyverno');
    assert.ok(Object.isFrozen(p) && Object.isFrozen(rule) && Object.isFrozen(entry?.attestors));
  });
  it('decodes 02 with an any-match and a namespace exclude', () => {
    const rule = decodeOne(policyFile('02-block-unsigned-images.yaml')).spec.rules[0];
    assert.equal(rule?.exclude?.mode, 'any');
    assert.deepEqual(rule?.exclude?.filters[0]?.resources.namespaces, ['kube-system', 'kube-public', 'kyverno', 'cert-manager', 'sigil-system']);
    assert.equal(rule?.verifyImages[0]?.attestors[0]?.count, 1, 'unset count means all of the one entry');
  });
  it('decodes 03 with count 1 of two entries in staging and all in production', () => {
    const rules = decodeOne(policyFile('03-verify-images-by-environment.yaml')).spec.rules;
    assert.deepEqual(
      rules.map((r) => [r.name, r.verifyImages[0]?.attestors[0]?.count, r.verifyImages[0]?.attestors[0]?.entries.length, r.verifyImages[0]?.verifyDigest]),
      [
        ['verify-production-images', 1, 1, true],
        ['verify-staging-images', 1, 2, true],
      ],
    );
  });
  it('decodes 04 as Audit with mutateDigest and verifyDigest off', () => {
    const p = decodeOne(policyFile('04-audit-mode.yaml'));
    assert.equal(p.spec.validationFailureAction, 'Audit');
    const entry = p.spec.rules[0]?.verifyImages[0];
    assert.deepEqual([entry?.mutateDigest, entry?.verifyDigest, entry?.required], [false, false, true]);
  });
  it('decodes 05 as a namespaced PolicyException for both rule names', () => {
    const [e] = decodePolicyDocuments(policyFile('05-policy-exception.yaml'), '05.yaml');
    assert.ok(e?.kind === 'PolicyException');
    assert.equal(e.metadata.namespace, 'production');
    assert.deepEqual(e.exceptions, [{ policyName: 'block-unsigned-images', ruleNames: ['check-image-signature', 'autogen-check-image-signature'] }]);
    assert.deepEqual(e.match.filters[0]?.resources.names, ['emergency-debug-pod']);
  });
  it('refuses 06 (context + validate, which is Kyverno calling Sigil) as unsupported, naming both fields', () => {
    const problems = problemsOf(policyFile('06-check-images-apicall.yaml'));
    assert.deepEqual(
      problems.map((p) => [p.path, p.severity]),
      [
        ['spec.rules[0].context', 'unsupported'],
        ['spec.rules[0].validate', 'unsupported'],
      ],
    );
  });
  it('decodes all of them as one multi-document stream except 06', () => {
    const text = ['01-check-image-notary.yaml', '02-block-unsigned-images.yaml', '03-verify-images-by-environment.yaml', '04-audit-mode.yaml', '05-policy-exception.yaml'].map(policyFile).join('\n---\n');
    const documents = decodePolicyDocuments(text, 'all.yaml');
    assert.deepEqual(
      documents.map((d) => [d.kind, d.origin.index]),
      [
        ['ClusterPolicy', 0],
        ['ClusterPolicy', 1],
        ['ClusterPolicy', 2],
        ['ClusterPolicy', 3],
        ['PolicyException', 4],
      ],
    );
  });
});

describe('decodePolicyDocuments: Kyverno defaults', () => {
  it('applies the verifyImages defaults', () => {
    const entry = entryOf(policy());
    assert.deepEqual(
      { mutateDigest: entry.mutateDigest, verifyDigest: entry.verifyDigest, required: entry.required, useCache: entry.useCache, failureAction: entry.failureAction, skip: entry.skipImageReferences, credentials: entry.imageRegistryCredentials },
      { mutateDigest: true, verifyDigest: true, required: true, useCache: true, failureAction: undefined, skip: [], credentials: undefined },
    );
  });
  it('sets count to the number of entries when unset', () => {
    const entry = entryOf(policy({ entry: { attestors: [{ entries: [{ certificates: { cert: CERT } }, { certificates: { certChain: CERT } }] }] } }));
    assert.equal(entry.attestors[0]?.count, 2);
  });
  it('applies the spec defaults', () => {
    const spec = decodeOne(policy({ spec: { validationFailureAction: undefined }, entry: { mutateDigest: false } })).spec;
    assert.deepEqual(
      [spec.validationFailureAction, spec.failurePolicy, spec.webhookTimeoutSeconds, spec.background, spec.applyRules, spec.autogenControllers, spec.validationFailureActionOverrides],
      ['Audit', 'Fail', undefined, true, 'All', undefined, []],
    );
  });
  it('treats a missing type as Cosign, which is unsupported, at the entry', () => {
    assertProblem(policy({ entry: { type: undefined } }), 'spec.rules[0].verifyImages[0]', 'unsupported');
  });
  it('decodes Cosign and SigstoreBundle entries but refuses them as unsupported at type', () => {
    for (const type of ['Cosign', 'SigstoreBundle']) {
      const text = policy({ entry: { type, attestors: [{ entries: [{ keys: { publicKeys: 'PEM' } }] }] } });
      assert.deepEqual(problemsOf(text).map((p) => [p.path, p.severity]), [['spec.rules[0].verifyImages[0].type', 'unsupported']]);
    }
  });
  it('accepts lower-case legacy failure actions and normalizes them', () => {
    assert.equal(decodeOne(policy({ spec: { validationFailureAction: 'enforce' } })).spec.validationFailureAction, 'Enforce');
    assert.equal(decodeOne(policy({ spec: { validationFailureAction: 'audit' }, entry: { mutateDigest: false } })).spec.validationFailureAction, 'Audit');
  });
  it('makes a rule Enforce when any entry is Enforce', () => {
    const rule = decodeOne(policy({ rule: { verifyImages: [{ type: 'Notary', imageReferences: ['a*'], mutateDigest: false, failureAction: 'Audit' }, { type: 'Notary', imageReferences: ['b*'], failureAction: 'Enforce' }] } })).spec.rules[0];
    assert.equal(rule?.failureAction, 'Enforce');
  });
  it('prefers webhookConfiguration over the deprecated failurePolicy and webhookTimeoutSeconds', () => {
    const spec = decodeOne(policy({ spec: { failurePolicy: 'Fail', webhookTimeoutSeconds: 5, webhookConfiguration: { failurePolicy: 'Ignore', timeoutSeconds: 20 } } })).spec;
    assert.deepEqual([spec.failurePolicy, spec.webhookTimeoutSeconds], ['Ignore', 20]);
  });
  it('folds the deprecated image into imageReferences and name into names', () => {
    const p = decodeOne(policy({ entry: { image: 'ghcr.io/*', imageReferences: ['docker.io/*'] }, rule: { match: { resources: { kinds: ['Pod'], name: 'x-*' } } } }));
    assert.deepEqual(p.spec.rules[0]?.verifyImages[0]?.imageReferences, ['ghcr.io/*', 'docker.io/*']);
    assert.deepEqual(p.spec.rules[0]?.match, { mode: 'all', filters: [p.spec.rules[0]?.match.filters[0]] });
    assert.deepEqual(p.spec.rules[0]?.match.filters[0]?.resources.names, ['x-*']);
  });
  it('parses the autogen annotation', () => {
    assert.deepEqual(decodeOne(policy({ metadata: { annotations: { 'pod-policies.kyverno.io/autogen-controllers': 'Deployment, CronJob' } } })).spec.autogenControllers, ['Deployment', 'CronJob']);
    assert.deepEqual(decodeOne(policy({ metadata: { annotations: { 'pod-policies.kyverno.io/autogen-controllers': 'none' } } })).spec.autogenControllers, []);
  });
  it('keys a Policy by namespace/name', () => {
    const text = policy().replace('"ClusterPolicy"', '"Policy"').replace('"name":"p"', '"name":"p","namespace":"team"');
    assert.equal(policyKey(decodeOne(text)), 'team/p');
  });
  it('accepts kyverno.io/v2beta1 with any/all', () => {
    assert.equal(decodeOne(policy().replace('kyverno.io/v1', 'kyverno.io/v2beta1')).apiVersion, 'kyverno.io/v2beta1');
  });
  it('decodes credentials', () => {
    const entry = entryOf(policy({ entry: { imageRegistryCredentials: { allowInsecureRegistry: true, providers: ['amazon'], secrets: ['regcred', 'ns/other'] } } }));
    assert.deepEqual(entry.imageRegistryCredentials, { allowInsecureRegistry: true, providers: ['amazon'], secrets: ['regcred', 'ns/other'] });
  });
  it('decodes nested attestor sets', () => {
    const entry = entryOf(policy({ entry: { attestors: [{ count: 1, entries: [{ attestor: { entries: [{ certificates: { cert: CERT } }] } }, { certificates: { cert: CERT } }] }] } }));
    assert.equal(entry.attestors[0]?.entries[0]?.kind, 'nested');
  });
});

describe('decodePolicyDocuments: Sigil trust policy annotation', () => {
  it('builds the rule statement with trusted identities, timestamp settings and a TSA store', () => {
    const annotation = JSON.stringify({
      r: {
        signatureVerification: { level: 'strict', verifyTimestamp: 'afterCertExpiry' },
        trustedIdentities: ['x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=e2e'],
        tsaCertificates: CERT,
      },
    });
    const rule = decodeOne(policy({ metadata: { annotations: { 'sigil.dev/trust-policy': annotation } } })).spec.rules[0];
    assert.equal(rule?.trustPolicy.origin, 'annotation');
    assert.equal(rule?.trustPolicy.statement.signatureVerification.verifyTimestamp, 'afterCertExpiry');
    assert.deepEqual(rule?.trustPolicy.statement.trustStores.map((s) => `${s.type}:${s.name}`), [`ca:${ADMISSION_TRUST_STORE_NAME}`, `tsa:${ADMISSION_TRUST_STORE_NAME}`]);
    assert.equal(rule?.trustPolicy.statement.trustedIdentities[0]?.kind, 'x509.subject');
  });
  const at = 'metadata.annotations["sigil.dev/trust-policy"]';
  for (const [name, value, path] of [
    ['an unknown rule', '{"nope": {}}', `${at}.nope`],
    ['level skip', '{"r": {"signatureVerification": {"level": "skip"}}}', `${at}.r.signatureVerification.level`],
    ['a bad level', '{"r": {"signatureVerification": {"level": "loose"}}}', `${at}.r`],
    ['an unknown field', '{"r": {"trustStore": 1}}', `${at}.r.trustStore`],
    ['invalid YAML', '{"r": ', at],
    ['a list', '[1]', at],
  ] as const) {
    it(`reports ${name}`, () => assertProblem(policy({ metadata: { annotations: { 'sigil.dev/trust-policy': value } } }), path, 'error'));
  }
});

describe('decodePolicyDocuments: Kyverno validation rules', () => {
  const cases: [string, string, string][] = [
    ['imageReferences is required', policy({ entry: { imageReferences: undefined } }), 'spec.rules[0].verifyImages[0].imageReferences'],
    ['variables are forbidden in imageReferences', policy({ entry: { imageReferences: ['{{ request.x }}'] } }), 'spec.rules[0].verifyImages[0].imageReferences[0]'],
    ['mutateDigest must be false under policy Audit', policy({ spec: { validationFailureAction: 'Audit' } }), 'spec.rules[0].verifyImages[0].mutateDigest'],
    ['mutateDigest must be false under entry Audit', policy({ entry: { failureAction: 'Audit' } }), 'spec.rules[0].verifyImages[0].mutateDigest'],
    ['keys is not allowed for Notary', policy({ entry: { attestors: [{ entries: [{ keys: { publicKeys: 'x' } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].keys'],
    ['keyless is not allowed for Notary', policy({ entry: { attestors: [{ entries: [{ keyless: { issuer: 'x' } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].keyless'],
    ['an entry needs an attestor kind', policy({ entry: { attestors: [{ entries: [{}] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0]'],
    ['an entry has one attestor kind', policy({ entry: { attestors: [{ entries: [{ certificates: { cert: CERT }, attestor: { entries: [] } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0]'],
    ['count ≤ entries', policy({ entry: { attestors: [{ count: 2, entries: [{ certificates: { cert: CERT } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].count'],
    ['count ≥ 1', policy({ entry: { attestors: [{ count: 0, entries: [{ certificates: { cert: CERT } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].count'],
    ['an attestor set has entries', policy({ entry: { attestors: [{ entries: [] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries'],
    ['certificates need cert or certChain', policy({ entry: { attestors: [{ entries: [{ certificates: {} }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].certificates'],
    ['cert must be PEM', policy({ entry: { attestors: [{ entries: [{ certificates: { cert: 'abc' } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].certificates.cert'],
    ['wildcard kinds are not allowed', policy({ rule: { match: { any: [{ resources: { kinds: ['*'] } }] } } }), 'spec.rules[0].match.any[0].resources.kinds[0]'],
    ['match needs kinds', policy({ rule: { match: { any: [{ resources: { namespaces: ['a'] } }] } } }), 'spec.rules[0].match.any[0].resources.kinds'],
    ['any and all are exclusive', policy({ rule: { match: { any: [{ resources: { kinds: ['Pod'] } }], all: [{ resources: { kinds: ['Pod'] } }] } } }), 'spec.rules[0].match'],
    ['any cannot mix with resources', policy({ rule: { match: { any: [{ resources: { kinds: ['Pod'] } }], resources: { kinds: ['Pod'] } } } }), 'spec.rules[0].match'],
    ['match is required', policy({ rule: { match: undefined } }), 'spec.rules[0].match'],
    ['name and names are exclusive', policy({ rule: { match: { any: [{ resources: { kinds: ['Pod'], name: 'a', names: ['b'] } }] } } }), 'spec.rules[0].match.any[0].resources.name'],
    ['subjects need background false', policy({ rule: { match: { any: [{ resources: { kinds: ['Pod'] }, subjects: [{ kind: 'User', name: 'u' }] }] } } }), 'spec.rules[0].match.any[0].subjects'],
    ['webhookTimeoutSeconds is 1–30', policy({ spec: { webhookTimeoutSeconds: 31 } }), 'spec.webhookTimeoutSeconds'],
    ['timeoutSeconds is 1–30', policy({ spec: { webhookConfiguration: { timeoutSeconds: 0 } } }), 'spec.webhookConfiguration.timeoutSeconds'],
    ['failurePolicy is Fail or Ignore', policy({ spec: { failurePolicy: 'Maybe' } }), 'spec.failurePolicy'],
    ['validationFailureAction is Audit or Enforce', policy({ spec: { validationFailureAction: 'Block' } }), 'spec.validationFailureAction'],
    ['admission cannot be disabled', policy({ spec: { admission: false } }), 'spec.admission'],
    ['rule names are unique', policy({ spec: { rules: [JSON.parse(policy()).spec.rules[0], JSON.parse(policy()).spec.rules[0]] } }), 'spec.rules[1].name'],
    ['rule names are ≤ 63 characters', policy({ rule: { name: 'x'.repeat(64) } }), 'spec.rules[0].name'],
    ['a policy has rules', policy({ spec: { rules: [] } }), 'spec.rules'],
    ['a rule has one type', policy({ rule: { verifyImages: undefined } }), 'spec.rules[0]'],
    ['verifyImages is not empty', policy({ rule: { verifyImages: [] } }), 'spec.rules[0].verifyImages'],
    ['booleans are booleans', policy({ entry: { required: 'yes' } }), 'spec.rules[0].verifyImages[0].required'],
    ['count is an integer', policy({ entry: { attestors: [{ count: '1', entries: [{ certificates: { cert: CERT } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].count'],
    ['operations are known', policy({ rule: { match: { any: [{ resources: { kinds: ['Pod'], operations: ['PATCH'] } }] } } }), 'spec.rules[0].match.any[0].resources.operations[0]'],
    ['In needs values', policy({ rule: { match: { any: [{ resources: { kinds: ['Pod'], selector: { matchExpressions: [{ key: 'a', operator: 'In' }] } } }] } } }), 'spec.rules[0].match.any[0].resources.selector.matchExpressions[0].values'],
    ['the autogen annotation names controllers', policy({ metadata: { annotations: { 'pod-policies.kyverno.io/autogen-controllers': 'Deployment,Pod' } } }), 'metadata.annotations["pod-policies.kyverno.io/autogen-controllers"]'],
    ['overrides are ClusterPolicy only', policy({ spec: { validationFailureActionOverrides: [{ action: 'Audit', namespaces: ['a'] }] } }).replace('"ClusterPolicy"', '"Policy"').replace('"name":"p"', '"name":"p","namespace":"n"'), 'spec.validationFailureActionOverrides'],
    ['a Policy needs a namespace', policy().replace('"ClusterPolicy"', '"Policy"'), 'metadata.namespace'],
    ['a ClusterPolicy has no namespace', policy({ metadata: { namespace: 'x' } }), 'metadata.namespace'],
    ['metadata.name is a DNS name', policy({ metadata: { name: 'Not Valid' } }), 'metadata.name'],
    ['v2beta1 has no deprecated match form', policy({ rule: { match: { resources: { kinds: ['Pod'] } } } }).replace('kyverno.io/v1', 'kyverno.io/v2beta1'), 'spec.rules[0].match'],
    ['a wrong apiVersion', policy().replace('kyverno.io/v1', 'kyverno.io/v9'), 'apiVersion'],
    ['an unknown kind', policy().replace('"ClusterPolicy"', '"ConfigMap"'), 'kind'],
    ['helpers is not the field name', policy({ entry: { imageRegistryCredentials: { helpers: ['amazon'] } } }), 'spec.rules[0].verifyImages[0].imageRegistryCredentials.helpers'],
    ['unknown providers', policy({ entry: { imageRegistryCredentials: { providers: ['ibm'] } } }), 'spec.rules[0].verifyImages[0].imageRegistryCredentials.providers[0]'],
    ['cosignOCI11 is Cosign only', policy({ entry: { cosignOCI11: true } }), 'spec.rules[0].verifyImages[0].cosignOCI11'],
    ['deprecated Cosign key is not for Notary', policy({ entry: { key: 'PEM' } }), 'spec.rules[0].verifyImages[0].key'],
  ];
  for (const [name, text, path] of cases) it(`${name}: error at ${path}`, () => assertProblem(text, path, 'error'));
});

describe('decodePolicyDocuments: unknown and unsupported fields', () => {
  const unsupported: [string, string][] = [
    [policy({ entry: { attestations: [{ type: 'sbom/cyclone-dx' }] } }), 'spec.rules[0].verifyImages[0].attestations'],
    [policy({ entry: { validate: { message: 'x' } } }), 'spec.rules[0].verifyImages[0].validate'],
    [policy({ entry: { repository: 'ghcr.io/sigs' } }), 'spec.rules[0].verifyImages[0].repository'],
    [policy({ entry: { skipImageReferences: ['{{ x }}'] } }), 'spec.rules[0].verifyImages[0].skipImageReferences[0]'],
    [policy({ entry: { attestors: [{ entries: [{ certificates: { cert: '{{ configmap.data.cert }}' } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].certificates.cert'],
    [policy({ entry: { attestors: [{ entries: [{ certificates: { cert: CERT, rekor: { url: 'x' } } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].certificates.rekor'],
    [policy({ entry: { attestors: [{ entries: [{ certificates: { cert: CERT }, annotations: { a: 'b' } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].annotations'],
    [policy({ entry: { attestors: [{ entries: [{ certificates: { cert: CERT }, repository: 'x' }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].repository'],
    [policy({ entry: { attestors: [{ entries: [{ certificates: { cert: CERT }, signatureAlgorithm: 'sha512' }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].signatureAlgorithm'],
    [policy({ rule: { context: [{ name: 'x' }] } }), 'spec.rules[0].context'],
    [policy({ rule: { preconditions: { any: [] } } }), 'spec.rules[0].preconditions'],
    [policy({ rule: { imageExtractors: {} } }), 'spec.rules[0].imageExtractors'],
    [policy({ rule: { verifyImages: undefined, mutate: {} } }), 'spec.rules[0].mutate'],
    [policy({ rule: { verifyImages: undefined, generate: {} } }), 'spec.rules[0].generate'],
    [policy({ spec: { emitWarning: true } }), 'spec.emitWarning'],
    [policy({ spec: { webhookConfiguration: { matchConditions: [] } } }), 'spec.webhookConfiguration.matchConditions'],
    [policy().replace('"ClusterPolicy"', '"ImageValidatingPolicy"'), 'kind'],
  ];
  for (const [text, path] of unsupported) it(`unsupported at ${path}`, () => assertProblem(text, path, 'unsupported'));
  const unknown: [string, string][] = [
    [policy({ entry: { mutatedigest: false } }), 'spec.rules[0].verifyImages[0].mutatedigest'],
    [policy({ spec: { rulez: [] } }), 'spec.rulez'],
    [policy({ rule: { matchh: {} } }), 'spec.rules[0].matchh'],
    [policy({ rule: { match: { any: [{ resources: { kinds: ['Pod'], namespace: 'x' } }] } } }), 'spec.rules[0].match.any[0].resources.namespace'],
    [policy({ entry: { attestors: [{ entries: [{ certificates: { cert: CERT, certs: 'x' } }] }] } }), 'spec.rules[0].verifyImages[0].attestors[0].entries[0].certificates.certs'],
    [policy({ metadata: { nam: 'x' } }), 'metadata.nam'],
    [JSON.stringify({ ...JSON.parse(policy()), extra: 1 }), 'extra'],
  ];
  for (const [text, path] of unknown) it(`unknown field error at ${path}`, () => assertProblem(text, path, 'error'));
  it('collects every problem of every document into one PolicyError', () => {
    const text = `${policy({ entry: { attestations: [] } })}\n---\n${policy({ spec: { rulez: 1 } })}`;
    const problems = problemsOf(text.replace(/test\.yaml/g, ''));
    assert.ok(problems.some((p) => p.source === 'test.yaml#1' && p.path === 'spec.rules[0].verifyImages[0].attestations'));
    assert.ok(problems.some((p) => p.source === 'test.yaml#2' && p.path === 'spec.rulez'));
  });
  it('uses POLICY_UNSUPPORTED when every problem is unsupported and POLICY_INVALID otherwise', () => {
    const code = (text: string): string => {
      try {
        decodePolicyDocuments(text, 't');
      } catch (error) {
        assert.ok(error instanceof PolicyError);
        return error.code;
      }
      return 'none';
    };
    assert.equal(code(policy({ entry: { attestations: [] } })), 'POLICY_UNSUPPORTED');
    assert.equal(code(policy({ entry: { attestations: [], bogus: 1 } })), 'POLICY_INVALID');
  });
});

describe('decodePolicyDocuments: PolicyException', () => {
  const exception = (spec: Record<string, unknown>, apiVersion = 'kyverno.io/v2'): string =>
    JSON.stringify({ apiVersion, kind: 'PolicyException', metadata: { name: 'e', namespace: 'n' }, spec: { exceptions: [{ policyName: 'p', ruleNames: ['r'] }], match: { any: [{ resources: { kinds: ['Pod'] } }] }, ...spec } });
  it('decodes v2 and v2beta1', () => {
    for (const v of ['kyverno.io/v2', 'kyverno.io/v2beta1']) {
      const [e] = decodePolicyDocuments(exception({}, v), 't') as PolicyException[];
      assert.equal(e?.background, true);
    }
  });
  it('refuses conditions and podSecurity as unsupported', () => {
    assertProblem(exception({ conditions: { any: [] } }), 'spec.conditions', 'unsupported');
    assertProblem(exception({ podSecurity: [] }), 'spec.podSecurity', 'unsupported');
  });
  it('refuses a v1 apiVersion, the deprecated match form, an empty exceptions list and missing ruleNames', () => {
    assertProblem(exception({}, 'kyverno.io/v1'), 'apiVersion', 'error');
    assertProblem(exception({ match: { resources: { kinds: ['Pod'] } } }), 'spec.match', 'error');
    assertProblem(exception({ exceptions: [] }), 'spec.exceptions', 'error');
    assertProblem(exception({ exceptions: [{ policyName: 'p' }] }), 'spec.exceptions[0].ruleNames', 'error');
  });
});

describe('decodePolicyDocuments: hostile YAML', () => {
  function assertRefused(text: string): readonly PolicyProblem[] {
    const problems = problemsOf(text);
    assert.ok(problems.length > 0 && problems.every((p) => p.severity === 'error'));
    return problems;
  }
  it('refuses an alias bomb', () => {
    let bomb = 'a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n';
    for (let i = 1; i < 9; i++) bomb += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(',')}]\n`;
    assertRefused(bomb);
  });
  it('refuses text over the size limit before parsing', () => {
    const problems = assertRefused(`a: "${'x'.repeat(2 * 1024 * 1024)}"\n`);
    assert.match(problems[0]?.message ?? '', new RegExp(String(MAX_POLICY_TEXT_BYTES)));
  });
  it('refuses deep flow nesting without exhausting the parser', () => {
    assertRefused('['.repeat(500_000));
  });
  it('refuses deep block nesting', () => {
    assertRefused('- '.repeat(100_000));
  });
  for (const [name, text] of [
    ['a !!js/function tag', 'apiVersion: !!js/function "function () {}"\n'],
    ['a custom tag', 'kind: !Ref x\n'],
    ['!!binary', 'kind: !!binary aGk=\n'],
    ['duplicate keys', 'kind: ClusterPolicy\nkind: Policy\n'],
    ['an unresolved alias', 'kind: *nothing\n'],
    ['a scalar document', 'just a string\n'],
    ['a list document', '- a\n- b\n'],
    ['a null document', '~\n'],
    ['a merge key', 'base: &b {kind: ClusterPolicy}\n<<: *b\n'],
    ['a __proto__ key', '__proto__: {polluted: true}\nkind: ClusterPolicy\n'],
    ['broken syntax', 'kind: [unclosed\n'],
    ['a tab-indented document', 'spec:\n\trules: []\n'],
  ] as const) {
    it(`refuses ${name} with a PolicyError`, () => {
      assertRefused(text);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }
  it('skips empty documents', () => {
    assert.equal(decodePolicyDocuments(`---\n---\n${policy()}\n---\n`, 't').length, 1);
    assert.deepEqual(decodePolicyDocuments('', 't'), []);
  });
});
