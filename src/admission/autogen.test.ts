import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { autogenRules, effectiveRules, encodeRule, MAX_AUTOGEN_RULE_NAME_LENGTH } from './autogen.js';
import { PolicyError } from './errors.js';
import { extractImages } from './images.js';
import { matchesRule, type MatchRequest } from './match.js';
import type { KyvernoPolicy, MatchResources, Rule } from './model.js';
import { decodePolicyDocuments } from './policy.js';
import { SHARED_POLICIES } from '../../test/support/shared.js';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
const CONTROLLERS = ['apps/v1/DaemonSet', 'apps/v1/Deployment', 'batch/v1/Job', 'apps/v1/ReplicaSet', 'v1/ReplicationController', 'apps/v1/StatefulSet'];
const CRONJOB = ['batch/v1/CronJob'];

type Json = Record<string, unknown>;

function rule(name: string, match: Json, exclude?: Json): Json {
  return { name, match, ...(exclude === undefined ? {} : { exclude }), verifyImages: [{ type: 'Notary', imageReferences: ['*'], attestors: [{ entries: [{ certificates: { cert: CERT } }] }] }] };
}

const podRule = (name = 'r') => rule(name, { any: [{ resources: { kinds: ['Pod'] } }] });

function decode(rules: Json[], annotations?: Record<string, string>): KyvernoPolicy {
  const text = JSON.stringify({ apiVersion: 'kyverno.io/v1', kind: 'ClusterPolicy', metadata: { name: 'p', ...(annotations === undefined ? {} : { annotations }) }, spec: { validationFailureAction: 'Enforce', rules } });
  const [document] = decodePolicyDocuments(text, 'test.yaml');
  assert.ok(document !== undefined && document.kind !== 'PolicyException');
  return document;
}

function policyFile(name: string): KyvernoPolicy[] {
  return decodePolicyDocuments(readFileSync(join(SHARED_POLICIES, name), 'utf8'), name).filter((d): d is KyvernoPolicy => d.kind !== 'PolicyException');
}

const names = (rules: readonly Rule[]) => rules.map((r) => r.name);
const kinds = (m: MatchResources | undefined) => m?.filters.map((f) => f.resources.kinds);

function generated(policy: KyvernoPolicy, name: string): Rule {
  const found = autogenRules(policy).find((r) => r.name === name);
  assert.ok(found, `no generated rule ${name}`);
  return found;
}

function request(group: string, kind: string, namespace = 'prod'): MatchRequest {
  return { kind: { group, version: 'v1', kind }, name: 'x', namespace, operation: 'CREATE', labels: {}, namespaceLabels: {} };
}

describe('autogenRules', () => {
  it('generates autogen-<rule> for six controllers and autogen-cronjob-<rule> for CronJob', () => {
    const policy = decode([podRule()]);
    const rules = autogenRules(policy);
    assert.deepEqual(names(rules), ['autogen-r', 'autogen-cronjob-r']);
    // splitKinds sorts the controllers; ConvertKindsToGVK qualifies them.
    assert.deepEqual(kinds(rules[0]?.match), [CONTROLLERS]);
    assert.deepEqual(kinds(rules[1]?.match), [CRONJOB]);
    assert.equal(rules[0]?.match.mode, 'any');
  });

  it('keeps verifyImages entries, actions and the trust policy unchanged', () => {
    const policy = decode([podRule()]);
    const source = policy.spec.rules[0];
    for (const r of autogenRules(policy)) {
      assert.equal(r.verifyImages, source?.verifyImages);
      assert.equal(r.trustPolicy, source?.trustPolicy);
      assert.equal(r.failureAction, source?.failureAction);
    }
  });

  it('generated rules match their controllers and not Pods', () => {
    const [deployment, cronJob] = autogenRules(decode([podRule()]));
    assert.ok(deployment && cronJob);
    assert.ok(matchesRule(deployment, request('apps', 'Deployment')));
    assert.ok(matchesRule(deployment, request('batch', 'Job')));
    assert.ok(matchesRule(deployment, request('', 'ReplicationController')));
    assert.ok(!matchesRule(deployment, request('', 'Pod')));
    assert.ok(!matchesRule(deployment, request('batch', 'CronJob')));
    assert.ok(matchesRule(cronJob, request('batch', 'CronJob')));
    assert.ok(!matchesRule(cronJob, request('apps', 'Deployment')));
  });

  it('lets extractImages find the images at each controller path', () => {
    const template = { spec: { containers: [{ name: 'c', image: 'app:1' }] } };
    const images = (kind: string, spec: Json) => extractImages({ kind, spec }, kind).map((i) => i.image);
    assert.deepEqual(images('Deployment', { template }), ['app:1']);
    assert.deepEqual(images('CronJob', { jobTemplate: { spec: { template } } }), ['app:1']);
  });

  for (const [what, kindsList] of [
    ['v1/Pod', ['v1/Pod']],
    ['Pod/ephemeralcontainers', ['Pod/ephemeralcontainers']],
  ] as const) {
    it(`treats ${what} as Pod (ContainsKind parses the GVK)`, () => {
      // CanAutoGen's `needed` compares kinds verbatim, so a plain Pod rule must also be present.
      const policy = decode([rule('gvk', { any: [{ resources: { kinds: [...kindsList] } }] }), podRule()]);
      assert.deepEqual(names(autogenRules(policy)), ['autogen-gvk', 'autogen-cronjob-gvk', 'autogen-r', 'autogen-cronjob-r']);
    });
  }

  it('needs some kinds entry to name Pod or a controller verbatim (CanAutoGen needed)', () => {
    assert.deepEqual(autogenRules(decode([rule('gvk', { any: [{ resources: { kinds: ['v1/Pod'] } }] })])), []);
  });

  for (const [what, match, exclude] of [
    ['Pod with another kind', { any: [{ resources: { kinds: ['Pod', 'Deployment'] } }] }, undefined],
    ['Pod listed twice', { any: [{ resources: { kinds: ['Pod', 'Pod'] } }] }, undefined],
    ['names', { any: [{ resources: { kinds: ['Pod'], names: ['web-*'] } }] }, undefined],
    ['the deprecated name', { any: [{ resources: { kinds: ['Pod'], name: 'web' } }] }, undefined],
    ['a selector', { any: [{ resources: { kinds: ['Pod'], selector: { matchLabels: { app: 'web' } } } }] }, undefined],
    ['annotations', { all: [{ resources: { kinds: ['Pod'], annotations: { team: '*' } } }] }, undefined],
    ['empty annotations (set, as Go sees a non-nil map)', { any: [{ resources: { kinds: ['Pod'], annotations: {} } }] }, undefined],
    ['names in exclude', { any: [{ resources: { kinds: ['Pod'] } }] }, { any: [{ resources: { names: ['debug'] } }] }],
    ['a selector in exclude all', { any: [{ resources: { kinds: ['Pod'] } }] }, { all: [{ resources: { selector: { matchLabels: { a: 'b' } } } }] }],
    ['the deprecated match form with names', { resources: { kinds: ['Pod'], names: ['a'] } }, undefined],
  ] as const) {
    it(`generates nothing when a rule uses ${what}`, () => {
      assert.deepEqual(autogenRules(decode([rule('r', match, exclude)])), []);
    });
  }

  it('decides for the whole policy: one rule with a selector stops autogen for every rule', () => {
    const policy = decode([podRule('a'), rule('b', { any: [{ resources: { kinds: ['Namespace'], selector: { matchLabels: { x: 'y' } } } }] })]);
    assert.deepEqual(autogenRules(policy), []);
    assert.deepEqual(names(effectiveRules(policy)), ['a', 'b']);
  });

  it('skips rules that do not match Pod but generates for the others', () => {
    const policy = decode([podRule('a'), rule('b', { any: [{ resources: { kinds: ['Deployment'] } }] })]);
    assert.deepEqual(names(autogenRules(policy)), ['autogen-a', 'autogen-cronjob-a']);
  });

  it('replaces only the filters that name Pod; CronJob replaces every filter', () => {
    const policy = decode([rule('r', { any: [{ resources: { kinds: ['Pod'], namespaces: ['prod'] } }, { resources: { kinds: ['Service'] } }] })]);
    assert.deepEqual(kinds(generated(policy, 'autogen-r').match), [CONTROLLERS, ['Service']]);
    assert.deepEqual(kinds(generated(policy, 'autogen-cronjob-r').match), [CRONJOB, CRONJOB]);
    assert.deepEqual(generated(policy, 'autogen-r').match.filters[0]?.resources.namespaces, ['prod']);
  });

  it('handles the deprecated match form like all', () => {
    const policy = decode([rule('r', { resources: { kinds: ['Pod'], namespaces: ['prod'] } })]);
    assert.deepEqual(kinds(generated(policy, 'autogen-r').match), [CONTROLLERS]);
  });

  describe('exclude blocks', () => {
    it('keeps an exclude without kinds for the controllers and gives it CronJob for the CronJob rule', () => {
      const policy = decode([rule('r', { any: [{ resources: { kinds: ['Pod'] } }] }, { any: [{ resources: { namespaces: ['kube-system'] } }] })]);
      assert.deepEqual(kinds(generated(policy, 'autogen-r').exclude), [[]]);
      assert.deepEqual(kinds(generated(policy, 'autogen-cronjob-r').exclude), [CRONJOB]);
      const [deployment, cronJob] = autogenRules(policy);
      assert.ok(deployment && cronJob);
      assert.ok(!matchesRule(deployment, request('apps', 'Deployment', 'kube-system')));
      assert.ok(!matchesRule(cronJob, request('batch', 'CronJob', 'kube-system')));
      assert.ok(matchesRule(cronJob, request('batch', 'CronJob', 'prod')));
    });

    it('rewrites an exclude of Pods to the controllers', () => {
      const policy = decode([rule('r', { any: [{ resources: { kinds: ['Pod'] } }] }, { all: [{ resources: { kinds: ['Pod'], namespaces: ['dev'] } }] })]);
      assert.deepEqual(kinds(generated(policy, 'autogen-r').exclude), [CONTROLLERS]);
      assert.equal(generated(policy, 'autogen-r').exclude?.mode, 'all');
      assert.deepEqual(kinds(generated(policy, 'autogen-cronjob-r').exclude), [CRONJOB]);
    });

    it('generates nothing when the exclude names kinds but not Pod', () => {
      const policy = decode([rule('r', { any: [{ resources: { kinds: ['Pod'] } }] }, { any: [{ resources: { kinds: ['Deployment'] } }] })]);
      assert.deepEqual(autogenRules(policy), []);
    });
  });

  describe('the autogen-controllers annotation', () => {
    const annotate = (value: string) => decode([podRule()], { 'pod-policies.kyverno.io/autogen-controllers': value });

    it('none generates nothing', () => assert.deepEqual(autogenRules(annotate('none')), []));

    it('Deployment,CronJob generates a Deployment rule and the CronJob rule', () => {
      const policy = annotate('Deployment,CronJob');
      assert.deepEqual(names(autogenRules(policy)), ['autogen-r', 'autogen-cronjob-r']);
      assert.deepEqual(kinds(generated(policy, 'autogen-r').match), [['apps/v1/Deployment']]);
    });

    it('sorts the controllers and collapses duplicates', () => {
      assert.deepEqual(kinds(generated(annotate('StatefulSet,Job,Deployment,Job'), 'autogen-r').match), [['apps/v1/Deployment', 'batch/v1/Job', 'apps/v1/StatefulSet']]);
    });

    it('CronJob alone generates only the CronJob rule', () => {
      assert.deepEqual(names(autogenRules(annotate('CronJob'))), ['autogen-cronjob-r']);
    });

    it('without CronJob generates no CronJob rule', () => {
      assert.deepEqual(names(autogenRules(annotate('Job'))), ['autogen-r']);
    });

    it('does not turn autogen on where Kyverno would not', () => {
      const policy = decode([rule('r', { any: [{ resources: { kinds: ['Pod'], names: ['x'] } }] })], { 'pod-policies.kyverno.io/autogen-controllers': 'Deployment' });
      assert.deepEqual(autogenRules(policy), []);
    });

    it('an unknown controller is a load error naming the annotation (Kyverno would keep it as a kind)', () => {
      assert.throws(
        () => annotate('Deployment,CloneSet'),
        (error: unknown) => error instanceof PolicyError && error.code === 'POLICY_INVALID' && error.problems.some((p) => p.path.includes('autogen-controllers')),
      );
    });
  });

  it('truncates generated names to 63 characters', () => {
    const long = 'a'.repeat(60);
    const rules = autogenRules(decode([podRule(long)]));
    assert.deepEqual(names(rules), [`autogen-${long}`.slice(0, 63), `autogen-cronjob-${long}`.slice(0, 63)]);
    assert.ok(rules.every((r) => r.name.length === MAX_AUTOGEN_RULE_NAME_LENGTH));
  });

  it('does not generate from rules already named autogen-', () => {
    assert.deepEqual(autogenRules(decode([podRule('autogen-mine')])), []);
  });

  it('returns frozen rules', () => {
    const rules = autogenRules(decode([podRule()]));
    assert.ok(Object.isFrozen(rules) && Object.isFrozen(rules[0]) && Object.isFrozen(rules[0]?.match.filters[0]?.resources.kinds));
  });
});

describe('effectiveRules', () => {
  it('appends the generated rules to the policy rules', () => {
    assert.deepEqual(names(effectiveRules(decode([podRule()]))), ['r', 'autogen-r', 'autogen-cronjob-r']);
  });

  it('drops the policy rules named autogen- when it generates, as computeRules does', () => {
    assert.deepEqual(names(effectiveRules(decode([podRule(), podRule('autogen-old')]))), ['r', 'autogen-r', 'autogen-cronjob-r']);
  });

  it('returns the policy rules as they are when nothing is generated', () => {
    const policy = decode([podRule('autogen-old')]);
    assert.equal(effectiveRules(policy), policy.spec.rules);
  });
});

describe('shared policies', () => {
  for (const [file, expected] of [
    ['01-check-image-notary.yaml', [['check-image', ['autogen-check-digest', 'autogen-cronjob-check-digest']]]],
    ['02-block-unsigned-images.yaml', [['block-unsigned-images', ['autogen-check-image-signature', 'autogen-cronjob-check-image-signature']]]],
    [
      '03-verify-images-by-environment.yaml',
      [['verify-images-by-environment', ['autogen-verify-production-images', 'autogen-cronjob-verify-production-images', 'autogen-verify-staging-images', 'autogen-cronjob-verify-staging-images']]],
    ],
    ['04-audit-mode.yaml', [['audit-image-signatures', ['autogen-audit-signatures', 'autogen-cronjob-audit-signatures']]]],
    ['05-policy-exception.yaml', []],
  ] as const) {
    it(`${file} generates the expected rules`, () => {
      assert.deepEqual(
        policyFile(file).map((p) => [p.metadata.name, names(autogenRules(p))]),
        expected.map(([name, rules]) => [name, [...rules]]),
      );
    });
  }

  it('the exception in 05 names a rule autogen generates from 02', () => {
    const [exception] = decodePolicyDocuments(readFileSync(join(SHARED_POLICIES, '05-policy-exception.yaml'), 'utf8'), '05');
    assert.ok(exception?.kind === 'PolicyException');
    const generatedNames = names(policyFile('02-block-unsigned-images.yaml').flatMap((p) => effectiveRules(p)));
    for (const ruleName of exception.exceptions.flatMap((e) => e.ruleNames)) assert.ok(generatedNames.includes(ruleName), ruleName);
  });
});

describe('encodeRule', () => {
  it("prints a generated rule in Kyverno's shape", () => {
    const [policy] = policyFile('02-block-unsigned-images.yaml');
    assert.ok(policy);
    const encoded = encodeRule(generated(policy, 'autogen-cronjob-check-image-signature'));
    assert.equal(encoded.name, 'autogen-cronjob-check-image-signature');
    assert.deepEqual(encoded.match, { any: [{ resources: { kinds: CRONJOB } }] });
    assert.deepEqual(encoded.exclude, { any: [{ resources: { kinds: CRONJOB, namespaces: ['kube-system', 'kube-public', 'kyverno', 'cert-manager', 'sigil-system'] } }] });
    const [entry] = encoded.verifyImages as Json[];
    assert.equal(entry?.type, 'Notary');
    assert.deepEqual(entry?.imageReferences, ['*']);
    assert.ok(typeof ((entry?.attestors as Json[])[0]?.entries as Json[])[0]?.certificates === 'object');
  });

  it('round-trips through the decoder', () => {
    const policy = decode([rule('r', { any: [{ resources: { kinds: ['Pod'], namespaces: ['a'], namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, operations: ['CREATE'] } }] }, { any: [{ resources: { namespaces: ['b'] } }] })]);
    const source = policy.spec.rules[0];
    assert.ok(source);
    const again = decode([encodeRule(source)]).spec.rules[0];
    assert.deepEqual(again, source);
  });
});
