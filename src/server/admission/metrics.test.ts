import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { decodePolicyDocuments, type ImageRuleResult, type KyvernoPolicy } from '../../admission/index.js';
import { ADMISSION_DURATION_BUCKETS, AdmissionMetrics, aggregateRuleResults, KYVERNO_DURATION_BUCKETS, metricValue, parseExposition, type MetricSample, type ObservedReview } from './metrics.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

/** A ClusterPolicy (no namespace) or a Policy in `namespace`, with one Notary rule per name in `rules`. */
function kyvernoPolicy(options: { name: string; namespace?: string; rules?: string[]; background?: boolean; action?: 'Audit' | 'Enforce' }): KyvernoPolicy {
  const text = JSON.stringify({
    apiVersion: 'kyverno.io/v1',
    kind: options.namespace === undefined ? 'ClusterPolicy' : 'Policy',
    metadata: { name: options.name, ...(options.namespace === undefined ? {} : { namespace: options.namespace }) },
    spec: {
      validationFailureAction: options.action ?? 'Enforce',
      background: options.background ?? true,
      rules: (options.rules ?? ['r']).map((name) => ({
        name,
        match: { any: [{ resources: { kinds: ['Pod'] } }] },
        verifyImages: [{ type: 'Notary', imageReferences: ['*'], ...(options.action === 'Audit' ? { mutateDigest: false } : {}), attestors: [{ entries: [{ certificates: { cert: PEM } }] }] }],
      })),
    },
  });
  const [document] = decodePolicyDocuments(text, 'test');
  assert.ok(document !== undefined && document.kind !== 'PolicyException');
  return document;
}

function result(policy: string, rule: string, outcome: ImageRuleResult['result'], options: { image?: string; action?: 'Audit' | 'Enforce' } = {}): ImageRuleResult {
  return { policy, rule, image: options.image ?? 'registry.test/app:v1', path: '/spec/containers/0/image', result: outcome, message: outcome, digest: undefined, action: options.action ?? 'Enforce', failurePolicy: 'Fail' };
}

const REVIEW: ObservedReview = { webhook: 'mutate', kind: 'Pod', namespace: 'team-a', operation: 'CREATE', allowed: true, dryRun: false, seconds: 0.002 };

/** The samples of `name`, each as its labels and value, sorted for stable comparison. */
function series(samples: readonly MetricSample[], name: string): { labels: Record<string, string>; value: number }[] {
  return samples
    .filter((s) => s.name === name)
    .map((s) => ({ labels: { ...s.labels }, value: s.value }))
    .sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
}

async function scrape(metrics: AdmissionMetrics): Promise<MetricSample[]> {
  return parseExposition(await metrics.text());
}

describe('AdmissionMetrics: reviews', () => {
  it('counts a review under Sigil\'s and Kyverno\'s names, with each family\'s labels and value conventions', async () => {
    const m = new AdmissionMetrics();
    m.observeReview(REVIEW);
    m.observeReview({ ...REVIEW, webhook: 'validate', operation: 'UPDATE', allowed: false, dryRun: true });
    m.observeReview(REVIEW);
    const samples = await scrape(m);
    assert.deepEqual(series(samples, 'sigil_admission_requests_total'), [
      { labels: { webhook: 'mutate', kind: 'Pod', operation: 'CREATE', allowed: 'true', dry_run: 'false' }, value: 2 },
      { labels: { webhook: 'validate', kind: 'Pod', operation: 'UPDATE', allowed: 'false', dry_run: 'true' }, value: 1 },
    ]);
    assert.deepEqual(series(samples, 'kyverno_admission_requests_total'), [
      { labels: { resource_kind: 'Pod', resource_namespace: 'team-a', resource_request_operation: 'create', request_allowed: 'true', request_webhook: 'MutatingWebhookConfiguration' }, value: 2 },
      { labels: { resource_kind: 'Pod', resource_namespace: 'team-a', resource_request_operation: 'update', request_allowed: 'false', request_webhook: 'ValidatingWebhookConfiguration' }, value: 1 },
    ]);
    assert.equal(metricValue(samples, 'sigil_admission_review_duration_seconds_count'), 3);
    assert.equal(metricValue(samples, 'kyverno_admission_review_duration_seconds_count', { request_webhook: 'ValidatingWebhookConfiguration', resource_namespace: 'team-a' }), 1);
  });

  it('labels a cluster-scoped object\'s namespace empty and lower-cases DELETE and CONNECT for Kyverno', async () => {
    const m = new AdmissionMetrics();
    m.observeReview({ ...REVIEW, kind: 'Namespace', namespace: '', operation: 'DELETE' });
    m.observeReview({ ...REVIEW, operation: 'CONNECT' });
    const kyverno = series(await scrape(m), 'kyverno_admission_requests_total');
    assert.deepEqual(
      kyverno.map((s) => [s.labels.resource_kind, s.labels.resource_namespace, s.labels.resource_request_operation]),
      [['Namespace', '', 'delete'], ['Pod', 'team-a', 'connect']],
    );
  });

  it('puts review durations in Sigil\'s fine buckets and in Kyverno\'s default buckets', async () => {
    const m = new AdmissionMetrics();
    for (const seconds of [0.0003, 0.004, 0.2, 45]) m.observeReview({ ...REVIEW, seconds });
    const samples = await scrape(m);
    const sigil = series(samples, 'sigil_admission_review_duration_seconds_bucket').map((s) => [s.labels.le, s.value, s.labels.webhook, s.labels.allowed]);
    // Cumulative counts per upper bound, in bucket order.
    const expectSigil: [string, number][] = [
      ['0.0005', 1], ['0.001', 1], ['0.0025', 1], ['0.005', 2], ['0.01', 2], ['0.025', 2], ['0.05', 2], ['0.1', 2],
      ['0.25', 3], ['0.5', 3], ['1', 3], ['2.5', 3], ['5', 3], ['10', 3], ['30', 3], ['+Inf', 4],
    ];
    assert.deepEqual(new Map(sigil.map(([le, value]) => [le, value])), new Map(expectSigil));
    assert.ok(sigil.every(([, , webhook, allowed]) => webhook === 'mutate' && allowed === 'true'));
    assert.deepEqual([...ADMISSION_DURATION_BUCKETS.map(String), '+Inf'], expectSigil.map(([le]) => le));
    const kyverno = new Map(series(samples, 'kyverno_admission_review_duration_seconds_bucket').map((s) => [s.labels.le, s.value]));
    assert.deepEqual([...kyverno.keys()].sort(), [...KYVERNO_DURATION_BUCKETS.map(String), '+Inf'].sort());
    assert.equal(kyverno.get('0.005'), 2);
    assert.equal(kyverno.get('0.1'), 2);
    assert.equal(kyverno.get('0.25'), 3);
    assert.equal(kyverno.get('30'), 3);
    assert.equal(kyverno.get('+Inf'), 4);
    assert.equal(metricValue(samples, 'sigil_admission_review_duration_seconds_count'), 4);
    assert.ok(Math.abs(metricValue(samples, 'sigil_admission_review_duration_seconds_sum') - 45.2043) < 1e-9);
    assert.ok(Math.abs(metricValue(samples, 'kyverno_admission_review_duration_seconds_sum') - 45.2043) < 1e-9);
  });

  it('still counts a review whose duration is not a number, without throwing or observing it', async () => {
    const m = new AdmissionMetrics();
    assert.doesNotThrow(() => m.observeReview({ ...REVIEW, seconds: Number.NaN }));
    assert.doesNotThrow(() => m.observeReview({ ...REVIEW, seconds: -1 }));
    assert.equal(await m.value('sigil_admission_requests_total'), 2);
    assert.equal(await m.value('sigil_admission_review_duration_seconds_count'), 0);
  });
});

describe('aggregateRuleResults', () => {
  it('folds image results into one per rule: error > fail > pass > skip', () => {
    const out = aggregateRuleResults([
      result('p', 'a', 'pass', { image: 'one' }),
      result('p', 'a', 'fail', { image: 'two' }),
      result('p', 'a', 'pass', { image: 'three' }),
      result('p', 'b', 'fail', { image: 'one' }),
      result('p', 'b', 'error', { image: 'two' }),
      result('p', 'c', 'skip', { image: 'one' }),
      result('p', 'c', 'pass', { image: 'two' }),
      result('p', 'd', 'skip', { image: 'one' }),
      result('p', 'd', 'skip', { image: 'two' }),
      result('q', 'a', 'error', { image: 'one' }),
      result('q', 'a', 'pass', { image: 'two' }),
    ]);
    assert.deepEqual(
      out.map((r) => [r.policy, r.rule, r.result]),
      [['p', 'a', 'fail'], ['p', 'b', 'error'], ['p', 'c', 'pass'], ['p', 'd', 'skip'], ['q', 'a', 'error']],
    );
  });

  it('keeps policy and rule names apart even when joining them would collide', () => {
    const out = aggregateRuleResults([result('a.b', 'c', 'pass'), result('a', 'b.c', 'fail')]);
    assert.equal(out.length, 2);
  });

  it('calls the rule Enforce when any of its results says so', () => {
    const [only] = aggregateRuleResults([result('p', 'r', 'pass', { action: 'Audit' }), result('p', 'r', 'pass', { action: 'Enforce' })]);
    assert.equal(only?.action, 'Enforce');
  });
});

describe('AdmissionMetrics: policy results', () => {
  const cluster = kyvernoPolicy({ name: 'signed-images', rules: ['check', 'other'] });
  const namespaced = kyvernoPolicy({ name: 'team-images', namespace: 'team-a', background: false, action: 'Audit' });
  const request = { kind: 'Pod', namespace: 'team-a', operation: 'CREATE' as const, dryRun: false };

  it('counts each rule once per request, not once per image', async () => {
    const m = new AdmissionMetrics();
    m.observeResults(request, [cluster], [
      result('signed-images', 'check', 'pass', { image: 'one' }),
      result('signed-images', 'check', 'fail', { image: 'two' }),
      result('signed-images', 'check', 'pass', { image: 'three' }),
    ]);
    const samples = await scrape(m);
    assert.deepEqual(series(samples, 'sigil_policy_results_total'), [{ labels: { policy: 'signed-images', rule: 'check', result: 'fail' }, value: 1 }]);
    assert.equal(metricValue(samples, 'kyverno_policy_results_total'), 1);
    assert.equal(metricValue(samples, 'kyverno_policy_results_total', { rule_result: 'fail' }), 1);
  });

  it('labels cluster and namespaced policies as Kyverno does, and keys Sigil\'s series by the policy key', async () => {
    const m = new AdmissionMetrics();
    m.observeResults(request, [cluster, namespaced], [
      result('signed-images', 'check', 'pass'),
      result('signed-images', 'other', 'skip', { image: undefined }),
      result('team-a/team-images', 'r', 'fail', { action: 'Audit' }),
    ]);
    m.observeResults({ ...request, operation: 'UPDATE', dryRun: true }, [cluster, namespaced], [result('signed-images', 'check', 'pass')]);
    const samples = await scrape(m);
    assert.deepEqual(series(samples, 'sigil_policy_results_total'), [
      { labels: { policy: 'signed-images', rule: 'check', result: 'pass' }, value: 2 },
      { labels: { policy: 'signed-images', rule: 'other', result: 'skip' }, value: 1 },
      { labels: { policy: 'team-a/team-images', rule: 'r', result: 'fail' }, value: 1 },
    ]);
    const common = { resource_kind: 'Pod', resource_namespace: 'team-a', rule_type: 'imageVerify', rule_execution_cause: 'admission_request' };
    const clusterLabels = { policy_name: 'signed-images', policy_namespace: '-', policy_type: 'cluster', policy_background_mode: 'true', policy_validation_mode: 'enforce' };
    assert.deepEqual(series(samples, 'kyverno_policy_results_total'), [
      { labels: { ...clusterLabels, ...common, resource_request_operation: 'create', rule_name: 'check', rule_result: 'pass', dry_run: 'false' }, value: 1 },
      { labels: { ...clusterLabels, ...common, resource_request_operation: 'create', rule_name: 'other', rule_result: 'skip', dry_run: 'false' }, value: 1 },
      { labels: { ...clusterLabels, ...common, resource_request_operation: 'update', rule_name: 'check', rule_result: 'pass', dry_run: 'true' }, value: 1 },
      {
        labels: { policy_name: 'team-images', policy_namespace: 'team-a', policy_type: 'namespaced', policy_background_mode: 'false', policy_validation_mode: 'audit', ...common, resource_request_operation: 'create', rule_name: 'r', rule_result: 'fail', dry_run: 'false' },
        value: 1,
      },
    ].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels))));
  });

  it('takes policy_validation_mode from the rule\'s resolved action, not the policy\'s default', async () => {
    const m = new AdmissionMetrics();
    // An Audit policy whose rule resolved to Enforce (per-entry failureAction or a namespace override).
    m.observeResults(request, [namespaced], [result('team-a/team-images', 'r', 'fail', { action: 'Enforce' })]);
    assert.equal(await m.value('kyverno_policy_results_total', { policy_validation_mode: 'enforce' }), 1);
    assert.equal(await m.value('kyverno_policy_results_total', { policy_validation_mode: 'audit' }), 0);
  });

  it('labels a result whose policy was not passed from its key', async () => {
    const m = new AdmissionMetrics();
    m.observeResults(request, [], [result('ns/pol', 'r', 'error'), result('cpol', 'r', 'pass')]);
    const kyverno = series(await scrape(m), 'kyverno_policy_results_total').map((s) => [s.labels.policy_name, s.labels.policy_namespace, s.labels.policy_type, s.labels.policy_background_mode]);
    assert.deepEqual(kyverno, [['cpol', '-', 'cluster', 'true'], ['pol', 'ns', 'namespaced', 'true']]);
  });

  it('records nothing for an evaluation without results', async () => {
    const m = new AdmissionMetrics();
    m.observeResults(request, [cluster], []);
    const samples = await scrape(m);
    assert.deepEqual(series(samples, 'sigil_policy_results_total'), []);
    assert.deepEqual(series(samples, 'kyverno_policy_results_total'), []);
  });
});

describe('AdmissionMetrics: AdmissionObserver', () => {
  it('counts cache lookups, with every result present from the start', async () => {
    const m = new AdmissionMetrics();
    assert.deepEqual(series(await scrape(m), 'sigil_verification_cache_lookups_total'), [
      { labels: { result: 'hit' }, value: 0 },
      { labels: { result: 'miss' }, value: 0 },
      { labels: { result: 'shared' }, value: 0 },
    ]);
    m.cacheLookup('miss');
    for (let i = 0; i < 199; i++) m.cacheLookup('shared');
    m.cacheLookup('hit');
    assert.deepEqual(series(await scrape(m), 'sigil_verification_cache_lookups_total'), [
      { labels: { result: 'hit' }, value: 1 },
      { labels: { result: 'miss' }, value: 1 },
      { labels: { result: 'shared' }, value: 199 },
    ]);
  });

  it('counts and times registry calls by registry, operation and outcome', async () => {
    const m = new AdmissionMetrics();
    m.registryCall('registry.test', 'resolve', 0.003, 'ok');
    m.registryCall('registry.test', 'referrers', 0.02, 'ok');
    m.registryCall('registry.test', 'referrers', 0.7, 'error');
    m.registryCall('other.test:5000', 'fetch', 0.0001, 'ok');
    const samples = await scrape(m);
    assert.deepEqual(series(samples, 'sigil_registry_requests_total'), [
      { labels: { registry: 'other.test:5000', operation: 'fetch', outcome: 'ok' }, value: 1 },
      { labels: { registry: 'registry.test', operation: 'referrers', outcome: 'error' }, value: 1 },
      { labels: { registry: 'registry.test', operation: 'referrers', outcome: 'ok' }, value: 1 },
      { labels: { registry: 'registry.test', operation: 'resolve', outcome: 'ok' }, value: 1 },
    ]);
    assert.equal(metricValue(samples, 'sigil_registry_request_duration_seconds_count', { registry: 'registry.test', operation: 'referrers' }), 2);
    assert.equal(metricValue(samples, 'sigil_registry_request_duration_seconds_bucket', { registry: 'registry.test', operation: 'referrers', le: '0.025' }), 1);
    assert.equal(metricValue(samples, 'sigil_registry_request_duration_seconds_bucket', { registry: 'other.test:5000', le: '0.0005' }), 1);
  });

  it('counts and times verifications; value() reads them back for a benchmark', async () => {
    const m = new AdmissionMetrics();
    m.verification('registry.test', 0.4, 'pass');
    m.verification('registry.test', 0.1, 'fail');
    m.verification('other.test', 12, 'error');
    assert.equal(await m.value('sigil_verifications_total'), 3);
    assert.equal(await m.value('sigil_verifications_total', { registry: 'registry.test' }), 2);
    assert.equal(await m.value('sigil_verifications_total', { registry: 'registry.test', status: 'pass' }), 1);
    assert.equal(await m.value('sigil_verifications_total', { status: 'nope' }), 0);
    assert.equal(await m.value('sigil_verification_duration_seconds_count', { registry: 'other.test' }), 1);
    assert.equal(await m.value('sigil_verification_duration_seconds_bucket', { registry: 'other.test', le: '10' }), 0);
    assert.equal(await m.value('sigil_verification_duration_seconds_bucket', { registry: 'other.test', le: '30' }), 1);
    assert.equal(await m.value('sigil_verification_duration_seconds_sum'), 12.5);
  });

  it('value() refuses a name it does not have and a bare histogram name', async () => {
    const m = new AdmissionMetrics();
    await assert.rejects(m.value('sigil_verification_total'), /sigil_verification_total: no such metric/);
    await assert.rejects(m.value('sigil_verification_duration_seconds'), /_count/);
    await assert.rejects(m.value('sigil_verifications_total_count'), /is not a histogram/);
  });

  it('never throws from an observer method, whatever the duration', () => {
    const m = new AdmissionMetrics();
    assert.doesNotThrow(() => {
      m.registryCall('registry.test', 'fetch', Number.POSITIVE_INFINITY, 'error');
      m.verification('registry.test', Number.NaN, 'error');
      m.observeCheckImages({ images: Number.NaN, verified: false, seconds: Number.NaN });
    });
  });
});

describe('AdmissionMetrics: /checkimages', () => {
  it('counts calls by verdict and the images they named', async () => {
    const m = new AdmissionMetrics();
    m.observeCheckImages({ images: 3, verified: true, seconds: 0.01 });
    m.observeCheckImages({ images: 2, verified: false, seconds: 0.02 });
    m.observeCheckImages({ images: 0, verified: true, seconds: 0.0001 });
    const samples = await scrape(m);
    assert.deepEqual(series(samples, 'sigil_checkimages_requests_total'), [
      { labels: { verified: 'false' }, value: 1 },
      { labels: { verified: 'true' }, value: 2 },
    ]);
    assert.equal(metricValue(samples, 'sigil_checkimages_images_total'), 5);
    assert.equal(metricValue(samples, 'sigil_checkimages_duration_seconds_count'), 3);
  });
});

describe('AdmissionMetrics: registries', () => {
  it('keeps two instances apart and leaves prom-client\'s global registry alone', async () => {
    const a = new AdmissionMetrics();
    const b = new AdmissionMetrics();
    a.verification('registry.test', 0.1, 'pass');
    a.observeReview(REVIEW);
    assert.equal(await a.value('sigil_verifications_total'), 1);
    assert.equal(await b.value('sigil_verifications_total'), 0);
    assert.equal(await b.value('sigil_admission_requests_total'), 0);
    assert.equal(globalRegistry.getSingleMetric('sigil_verifications_total'), undefined);
    assert.equal(globalRegistry.getSingleMetric('kyverno_admission_requests_total'), undefined);
  });

  it('serves the text exposition format with HELP and TYPE for every family', async () => {
    const m = new AdmissionMetrics();
    assert.match(m.contentType, /^text\/plain; version=0\.0\.4/);
    const text = await m.text();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((t) => [t[1], t[2]]));
    assert.deepEqual(Object.fromEntries(types), {
      sigil_admission_requests_total: 'counter',
      sigil_admission_review_duration_seconds: 'histogram',
      sigil_policy_results_total: 'counter',
      sigil_verification_cache_lookups_total: 'counter',
      sigil_verifications_total: 'counter',
      sigil_verification_duration_seconds: 'histogram',
      sigil_registry_requests_total: 'counter',
      sigil_registry_request_duration_seconds: 'histogram',
      sigil_checkimages_requests_total: 'counter',
      sigil_checkimages_images_total: 'counter',
      sigil_checkimages_duration_seconds: 'histogram',
      kyverno_admission_requests_total: 'counter',
      kyverno_admission_review_duration_seconds: 'histogram',
      kyverno_policy_results_total: 'counter',
    });
    for (const name of types.keys()) assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'));
  });
});

describe('AdmissionMetrics: escaping', () => {
  const hostile = 'a"b\\c\nd';

  it('escapes quotes, backslashes and newlines in label values, and the parser reads them back', async () => {
    const m = new AdmissionMetrics();
    m.observeReview({ ...REVIEW, namespace: hostile });
    m.observeResults({ kind: 'Pod', namespace: hostile, operation: 'CREATE', dryRun: false }, [], [result(`${hostile}/p"1`, 'rule\n2', 'pass')]);
    const text = await m.text();
    // Prometheus text format 0.0.4: in label values, \ is \\, " is \", a line feed is \n.
    assert.ok(text.includes('resource_namespace="a\\"b\\\\c\\nd"'), text);
    assert.ok(text.includes('policy="a\\"b\\\\c\\nd/p\\"1",rule="rule\\n2"'), text);
    // No sample line was broken by a raw line feed.
    for (const line of text.split('\n')) assert.ok(line === '' || line.startsWith('#') || /^[a-z_]+(\{.*\})? \S+$/.test(line), line);
    const samples = parseExposition(text);
    assert.equal(metricValue(samples, 'kyverno_admission_requests_total', { resource_namespace: hostile }), 1);
    assert.equal(metricValue(samples, 'sigil_policy_results_total', { policy: `${hostile}/p"1`, rule: 'rule\n2' }), 1);
    assert.deepEqual(
      series(samples, 'kyverno_policy_results_total').map((s) => [s.labels.policy_name, s.labels.policy_namespace, s.labels.rule_name, s.labels.resource_namespace]),
      [['p"1', hostile, 'rule\n2', hostile]],
    );
  });
});

describe('parseExposition and metricValue', () => {
  it('reads names, labels, special values and timestamps, skipping comments', () => {
    const samples = parseExposition(
      ['# HELP x_total A help text with \\n escape', '# TYPE x_total counter', 'x_total{a="1",b="two"} 3', 'x_total{a="1",b="three",} 4 1712345678000', 'y +Inf', 'z{le="+Inf"} -Inf', 'w NaN', '', 'v 1e-3'].join('\n'),
    );
    assert.deepEqual(samples.slice(0, 2), [
      { name: 'x_total', labels: { a: '1', b: 'two' }, value: 3 },
      { name: 'x_total', labels: { a: '1', b: 'three' }, value: 4 },
    ]);
    assert.equal(samples[2]?.value, Infinity);
    assert.deepEqual(samples[3], { name: 'z', labels: { le: '+Inf' }, value: -Infinity });
    assert.ok(Number.isNaN(samples[4]?.value));
    assert.equal(samples[5]?.value, 0.001);
    assert.equal(metricValue(samples, 'x_total'), 7);
    assert.equal(metricValue(samples, 'x_total', { b: 'two' }), 3);
    assert.equal(metricValue(samples, 'x_total', { c: '' }), 7);
    assert.equal(metricValue('x_total{a="1"} 2\nx_total{a="2"} 5\n', 'x_total', { a: '2' }), 5);
    assert.equal(metricValue(samples, 'missing'), 0);
  });

  it('keeps a label called __proto__ as a label', () => {
    const [sample] = parseExposition('x{__proto__="p"} 1');
    assert.ok(sample !== undefined && Object.hasOwn(sample.labels, '__proto__'));
    assert.equal(metricValue([sample], 'x', Object.fromEntries([['__proto__', 'p']])), 1);
  });

  for (const [line, why] of [
    ['{a="1"} 1', 'no metric name'],
    ['x{a=1} 1', 'expected ="'],
    ['x{a="1} 1', 'unterminated value'],
    ['x{a="\\t"} 1', 'unknown escape'],
    ['x{a="1" b="2"} 1', 'expected , or }'],
    ['x{a="1"}', 'bad sample value'],
    ['x one', 'bad sample value'],
  ] as const) {
    it(`refuses ${JSON.stringify(line)}: ${why}`, () => {
      assert.throws(() => parseExposition(`ok 1\n${line}\n`), (error: unknown) => error instanceof SyntaxError && error.message.includes('line 2') && error.message.includes(why));
    });
  }
});
