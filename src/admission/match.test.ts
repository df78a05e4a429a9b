import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { findException, isInPolicyScope, matchesKind, matchesLabelSelector, matchesRule, parseKindSelector, resolveFailureAction, type MatchRequest } from './match.js';
import type { KyvernoPolicy, LabelSelector, MatchResources, PolicyException, ResourceDescription, ResourceFilter } from './model.js';
import { decodePolicyDocuments } from './policy.js';
import { SHARED_POLICIES } from '../../test/support/shared.js';

function resources(d: Partial<ResourceDescription>): ResourceDescription {
  return { kinds: [], names: [], namespaces: [], annotations: undefined, selector: undefined, namespaceSelector: undefined, operations: undefined, ...d };
}

function filter(d: Partial<ResourceDescription>, userInfo: Partial<ResourceFilter['userInfo']> = {}): ResourceFilter {
  return { resources: resources(d), userInfo: { roles: [], clusterRoles: [], subjects: [], ...userInfo } };
}

const any = (...filters: ResourceFilter[]): MatchResources => ({ mode: 'any', filters });
const all = (...filters: ResourceFilter[]): MatchResources => ({ mode: 'all', filters });

function pod(overrides: Partial<MatchRequest> = {}): MatchRequest {
  return { kind: { group: '', version: 'v1', kind: 'Pod' }, name: 'web-1', namespace: 'prod', operation: 'CREATE', labels: { app: 'web', tier: 'front' }, annotations: { team: 'payments' }, namespaceLabels: { env: 'production' }, ...overrides };
}

const deployment: Partial<MatchRequest> = { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } };

describe('parseKindSelector', () => {
  for (const [input, expected] of [
    ['Pod', { group: '*', version: '*', kind: 'Pod', subresource: '' }],
    ['v1/Pod', { group: '*', version: 'v1', kind: 'Pod', subresource: '' }],
    ['*/Pod', { group: '*', version: '*', kind: 'Pod', subresource: '' }],
    ['apps/v1/Deployment', { group: 'apps', version: 'v1', kind: 'Deployment', subresource: '' }],
    ['Pod/ephemeralcontainers', { group: '*', version: '*', kind: 'Pod', subresource: 'ephemeralcontainers' }],
    ['Pod.status', { group: '*', version: '*', kind: 'Pod', subresource: 'status' }],
    ['v1/Pod/status', { group: '*', version: 'v1', kind: 'Pod', subresource: 'status' }],
    ['apps/v1/Deployment/scale', { group: 'apps', version: 'v1', kind: 'Deployment', subresource: 'scale' }],
    ['*/*', { group: '*', version: '*', kind: '*', subresource: '*' }],
    ['a/b/c/d/e', undefined],
    ['v1//Pod', undefined],
  ] as const) {
    it(`parses ${input}`, () => assert.deepEqual(parseKindSelector(input), expected));
  }
});

describe('matchesKind', () => {
  const cases: [string[], Partial<MatchRequest>, boolean][] = [
    [['Pod'], {}, true],
    [['v1/Pod'], {}, true],
    [['v2/Pod'], {}, false],
    [['*/Pod'], {}, true],
    [['Deployment'], {}, false],
    [['apps/v1/Deployment'], deployment, true],
    [['extensions/v1/Deployment'], deployment, false],
    [['Deployment'], deployment, true],
    [['*'], deployment, true],
    [['Pod'], { subresource: 'ephemeralcontainers' }, true],
    [['Pod'], { subresource: 'status' }, false],
    [['Pod/ephemeralcontainers'], { subresource: 'ephemeralcontainers' }, true],
    [['Pod/ephemeralcontainers'], {}, false],
    [['Pod/*'], { subresource: 'status' }, true],
    [['Pod.status'], { subresource: 'status' }, true],
    [['Deploy*'], deployment, true],
    [['Job', 'Pod'], {}, true],
  ];
  for (const [kinds, request, expected] of cases) {
    it(`${kinds.join(',')} ${expected ? 'matches' : 'does not match'} ${request.kind?.kind ?? 'Pod'}${request.subresource ? `/${request.subresource}` : ''}`, () => assert.equal(matchesKind(kinds, pod(request)), expected));
  }
});

describe('matchesLabelSelector', () => {
  const sel = (s: Partial<LabelSelector>): LabelSelector => ({ matchLabels: {}, matchExpressions: [], ...s });
  const labels = { app: 'web', tier: 'front' };
  const cases: [string, LabelSelector, Record<string, string>, boolean][] = [
    ['empty selector matches everything', sel({}), {}, true],
    ['matchLabels equal', sel({ matchLabels: { app: 'web' } }), labels, true],
    ['matchLabels differ', sel({ matchLabels: { app: 'db' } }), labels, false],
    ['matchLabels missing key', sel({ matchLabels: { zone: 'a' } }), labels, false],
    ['wildcard value', sel({ matchLabels: { app: 'w*' } }), labels, true],
    ['wildcard key', sel({ matchLabels: { 'ti*': 'front' } }), labels, true],
    ['{*: *} does not match no labels', sel({ matchLabels: { '*': '*' } }), {}, false],
    ['{*: *} matches any label', sel({ matchLabels: { '*': '*' } }), labels, true],
    ['In', sel({ matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }), labels, true],
    ['In, absent key', sel({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }), labels, false],
    ['NotIn', sel({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }), labels, false],
    ['NotIn, absent key', sel({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }), labels, true],
    ['Exists', sel({ matchExpressions: [{ key: 'tier', operator: 'Exists', values: [] }] }), labels, true],
    ['Exists, absent', sel({ matchExpressions: [{ key: 'zone', operator: 'Exists', values: [] }] }), labels, false],
    ['DoesNotExist', sel({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist', values: [] }] }), labels, true],
    ['DoesNotExist, present', sel({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist', values: [] }] }), labels, false],
    ['labels and expressions are ANDed', sel({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] }), labels, false],
    ['no prototype keys', sel({ matchLabels: { constructor: '*' } }), {}, false],
  ];
  for (const [name, selector, input, expected] of cases) it(name, () => assert.equal(matchesLabelSelector(selector, input), expected));
});

describe('matchesRule', () => {
  const cases: [string, { match: MatchResources; exclude?: MatchResources }, Partial<MatchRequest>, boolean][] = [
    ['kinds match', { match: any(filter({ kinds: ['Pod'] })) }, {}, true],
    ['kinds do not match', { match: any(filter({ kinds: ['Deployment'] })) }, {}, false],
    ['names glob *', { match: any(filter({ kinds: ['Pod'], names: ['web-*'] })) }, {}, true],
    ['names glob ?', { match: any(filter({ kinds: ['Pod'], names: ['web-?'] })) }, {}, true],
    ['names glob miss', { match: any(filter({ kinds: ['Pod'], names: ['db-*'] })) }, {}, false],
    ['namespaces glob', { match: any(filter({ kinds: ['Pod'], namespaces: ['pr*'] })) }, {}, true],
    ['namespaces miss', { match: any(filter({ kinds: ['Pod'], namespaces: ['dev'] })) }, {}, false],
    ['a Namespace object matches namespaces by its own name', { match: any(filter({ kinds: ['Namespace'], namespaces: ['prod'] })) }, { kind: { group: '', version: 'v1', kind: 'Namespace' }, name: 'prod', namespace: '' }, true],
    ['annotations globs', { match: any(filter({ kinds: ['Pod'], annotations: { te: '*', 'tea*': 'pay*' } })) }, {}, false],
    ['annotations globs match', { match: any(filter({ kinds: ['Pod'], annotations: { 'tea*': 'pay*' } })) }, {}, true],
    ['selector', { match: any(filter({ kinds: ['Pod'], selector: { matchLabels: { app: 'web' }, matchExpressions: [] } })) }, {}, true],
    ['namespaceSelector', { match: any(filter({ kinds: ['Pod'], namespaceSelector: { matchLabels: { env: 'staging' }, matchExpressions: [] } })) }, {}, false],
    ['operations default to CREATE and UPDATE: UPDATE', { match: any(filter({ kinds: ['Pod'] })) }, { operation: 'UPDATE' }, true],
    ['operations default to CREATE and UPDATE: DELETE', { match: any(filter({ kinds: ['Pod'] })) }, { operation: 'DELETE' }, false],
    ['operations listed', { match: any(filter({ kinds: ['Pod'], operations: ['DELETE'] })) }, { operation: 'DELETE' }, true],
    ['operations listed, other op', { match: any(filter({ kinds: ['Pod'], operations: ['CREATE'] })) }, { operation: 'UPDATE' }, false],
    ['any: one of two', { match: any(filter({ kinds: ['Deployment'] }), filter({ kinds: ['Pod'] })) }, {}, true],
    ['all: both must match', { match: all(filter({ kinds: ['Pod'] }), filter({ namespaces: ['dev'] })) }, {}, false],
    ['all: both match', { match: all(filter({ kinds: ['Pod'] }), filter({ namespaces: ['prod'] })) }, {}, true],
    ['an empty match filter matches nothing', { match: any(filter({})) }, {}, false],
    ['exclude any wins', { match: any(filter({ kinds: ['Pod'] })), exclude: any(filter({ namespaces: ['kube-system'] }), filter({ namespaces: ['prod'] })) }, {}, false],
    ['exclude any, none matches', { match: any(filter({ kinds: ['Pod'] })), exclude: any(filter({ namespaces: ['kube-system'] })) }, {}, true],
    ['exclude all needs every filter', { match: any(filter({ kinds: ['Pod'] })), exclude: all(filter({ namespaces: ['prod'] }), filter({ names: ['db-*'] })) }, {}, true],
    ['exclude all, every filter matches', { match: any(filter({ kinds: ['Pod'] })), exclude: all(filter({ namespaces: ['prod'] }), filter({ names: ['web-*'] })) }, {}, false],
    ['an empty exclude filter excludes nothing', { match: any(filter({ kinds: ['Pod'] })), exclude: any(filter({})) }, {}, true],
    ['exclude without operations covers any operation', { match: any(filter({ kinds: ['Pod'], operations: ['DELETE'] })), exclude: any(filter({ namespaces: ['prod'] })) }, { operation: 'DELETE' }, false],
    ['subjects: user', { match: any(filter({ kinds: ['Pod'] }, { subjects: [{ kind: 'User', name: 'alice' }] })) }, { userInfo: { username: 'alice', groups: [] } }, true],
    ['subjects: group', { match: any(filter({ kinds: ['Pod'] }, { subjects: [{ kind: 'Group', name: 'devs' }] })) }, { userInfo: { username: 'bob', groups: ['devs'] } }, true],
    ['subjects: service account', { match: any(filter({ kinds: ['Pod'] }, { subjects: [{ kind: 'ServiceAccount', name: 'ci', namespace: 'tools' }] })) }, { userInfo: { username: 'system:serviceaccount:tools:ci', groups: [] } }, true],
    ['subjects: other service account', { match: any(filter({ kinds: ['Pod'] }, { subjects: [{ kind: 'ServiceAccount', name: 'ci', namespace: 'tools' }] })) }, { userInfo: { username: 'system:serviceaccount:other:ci', groups: [] } }, false],
    ['subjects without userInfo', { match: any(filter({ kinds: ['Pod'] }, { subjects: [{ kind: 'User', name: 'alice' }] })) }, {}, false],
    ['clusterRoles', { match: any(filter({ kinds: ['Pod'] }, { clusterRoles: ['admin'] })) }, { userInfo: { username: 'u', groups: [], clusterRoles: ['admin'] } }, true],
    ['roles', { match: any(filter({ kinds: ['Pod'] }, { roles: ['prod:deployer'] })) }, { userInfo: { username: 'u', groups: [], roles: ['dev:deployer'] } }, false],
  ];
  for (const [name, rule, request, expected] of cases) it(`${name} → ${expected}`, () => assert.equal(matchesRule(rule, pod(request)), expected));
});

describe('the users’ policies', () => {
  const [blockUnsigned] = decodePolicyDocuments(readPolicy('02-block-unsigned-images.yaml'), '02') as KyvernoPolicy[];
  const exceptions = decodePolicyDocuments(readPolicy('05-policy-exception.yaml'), '05') as PolicyException[];
  const rule = blockUnsigned?.spec.rules[0];
  it('02 matches Pods outside the system namespaces', () => {
    assert.ok(rule !== undefined);
    assert.equal(matchesRule(rule, pod({ namespace: 'default' })), true);
    assert.equal(matchesRule(rule, pod({ namespace: 'kube-system' })), false);
    assert.equal(matchesRule(rule, pod({ namespace: 'sigil-system' })), false);
  });
  it('05 exempts only emergency-debug-pod in production, for both rule names', () => {
    assert.equal(findException(exceptions, 'block-unsigned-images', 'check-image-signature', pod({ name: 'emergency-debug-pod', namespace: 'production' }))?.metadata.name, 'emergency-exception');
    assert.ok(findException(exceptions, 'block-unsigned-images', 'autogen-check-image-signature', pod({ name: 'emergency-debug-pod', namespace: 'production' })));
    assert.equal(findException(exceptions, 'block-unsigned-images', 'check-image-signature', pod({ name: 'other', namespace: 'production' })), undefined);
    assert.equal(findException(exceptions, 'other-policy', 'check-image-signature', pod({ name: 'emergency-debug-pod', namespace: 'production' })), undefined);
    assert.equal(findException(exceptions, 'block-unsigned-images', 'another-rule', pod({ name: 'emergency-debug-pod', namespace: 'production' })), undefined);
  });
});

describe('findException', () => {
  const exception = (ruleNames: string[]): PolicyException => ({
    kind: 'PolicyException',
    apiVersion: 'kyverno.io/v2',
    metadata: { name: 'e', namespace: 'n', labels: {}, annotations: {}, uid: undefined, resourceVersion: undefined },
    exceptions: [{ policyName: 'team/p', ruleNames }],
    match: any(filter({ kinds: ['Pod'] })),
    background: true,
    origin: { source: 't', index: 0 },
  });
  it('matches rule names by glob, autogen names included', () => {
    assert.ok(findException([exception(['autogen-*'])], 'team/p', 'autogen-cronjob-r', pod()));
    assert.equal(findException([exception(['autogen-*'])], 'team/p', 'r', pod()), undefined);
  });
  it('needs the namespaced policy key for a Policy', () => {
    assert.equal(findException([exception(['*'])], 'p', 'r', pod()), undefined);
  });
});

describe('resolveFailureAction and isInPolicyScope', () => {
  const [policy] = decodePolicyDocuments(
    JSON.stringify({
      apiVersion: 'kyverno.io/v1',
      kind: 'ClusterPolicy',
      metadata: { name: 'p' },
      spec: {
        validationFailureAction: 'Enforce',
        validationFailureActionOverrides: [
          { action: 'Audit', namespaces: ['dev-*'] },
          { action: 'audit', namespaces: ['qa'], namespaceSelector: { matchLabels: { relaxed: 'true' } } },
          { action: 'Audit', namespaceSelector: { matchLabels: { sandbox: 'true' } } },
        ],
        rules: [{ name: 'r', match: { any: [{ resources: { kinds: ['Pod'] } }] }, verifyImages: [{ type: 'Notary', imageReferences: ['*'], mutateDigest: false, attestors: [{ entries: [{ certificates: { cert: '-----BEGIN CERTIFICATE-----' } }] }] }] }],
      },
    }),
    't',
  ) as KyvernoPolicy[];
  it('uses overrides by namespace glob, by selector, and both together', () => {
    assert.ok(policy !== undefined);
    assert.equal(resolveFailureAction(policy, undefined, 'dev-1', {}), 'Audit');
    assert.equal(resolveFailureAction(policy, undefined, 'qa', {}), 'Enforce');
    assert.equal(resolveFailureAction(policy, undefined, 'qa', { relaxed: 'true' }), 'Audit');
    assert.equal(resolveFailureAction(policy, undefined, 'x', { sandbox: 'true' }), 'Audit');
    assert.equal(resolveFailureAction(policy, undefined, 'prod', {}), 'Enforce');
  });
  it('lets the rule action win over overrides', () => {
    assert.ok(policy !== undefined);
    assert.equal(resolveFailureAction(policy, 'Enforce', 'dev-1', {}), 'Enforce');
  });
  it('limits a namespaced Policy to its namespace', () => {
    assert.ok(policy !== undefined);
    assert.equal(isInPolicyScope(policy, { namespace: 'any' }), true);
    const namespaced = { ...policy, kind: 'Policy', metadata: { ...policy.metadata, namespace: 'team' } } as KyvernoPolicy;
    assert.equal(isInPolicyScope(namespaced, { namespace: 'team' }), true);
    assert.equal(isInPolicyScope(namespaced, { namespace: 'other' }), false);
  });
});

function readPolicy(name: string): string {
  return readFileSync(join(SHARED_POLICIES, name), 'utf8');
}
