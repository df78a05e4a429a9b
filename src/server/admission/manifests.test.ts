// Tests of the install manifests: built from options, encoded, parsed back as kubectl would, and
// checked field by field against the Kubernetes API rules the apiserver would apply.

import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { SHARED_POLICIES } from '../../../test/support/shared.js';
import { ADMISSION_SERVICE, generateServingTls, servingNames, TLS_DIR_FILES } from './config.js';
import {
  ADMISSION_CONTAINER_PORT,
  ADMISSION_MANIFEST_NAMES,
  ADMISSION_MOUNTS,
  buildAdmissionManifests,
  buildSigilCrds,
  checkAdmissionManifestOptions,
  defaultAdmissionImage,
  encodeManifestsJson,
  encodeManifestsYaml,
  ManifestOptionError,
  type AdmissionManifestOptions,
  type KubeManifest,
} from './manifests.js';

// Loose views of the parsed objects: tests read fields by path and let assertions fail on absence.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = Record<string, any>;

const NOW = new Date('2026-12-01T00:00:00Z');
const TLS = generateServingTls(servingNames(), NOW);
const IMAGE = defaultAdmissionImage('0.1.0');
const BASE: AdmissionManifestOptions = { image: IMAGE, version: '0.1.0', tls: { caBundle: TLS.caCert, cert: TLS.cert, key: TLS.key } };

/** Builds, encodes as YAML and parses back, as `kubectl apply -f -` sees it. */
function roundTrip(options: AdmissionManifestOptions = BASE): Json[] {
  const yaml = encodeManifestsYaml(buildAdmissionManifests(options));
  return parseAllDocuments(yaml).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as Json;
  });
}

function only(objects: Json[], kind: string): Json {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `want one ${kind}, got ${found.length}`);
  return found[0] ?? {};
}

const decode = (b64: unknown) => Buffer.from(String(b64), 'base64').toString('utf8');

function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
}

function throwsOption(options: AdmissionManifestOptions, option: string, pattern: RegExp): void {
  assert.throws(
    () => buildAdmissionManifests(options),
    (e: unknown) => {
      assert.ok(e instanceof ManifestOptionError, `expected ManifestOptionError, got ${String(e)}`);
      assert.equal(e.code, 'MANIFEST_OPTION_INVALID');
      assert.equal(e.option, option);
      assert.ok(!e.message.includes('\n'), 'one line');
      assert.ok(e.message.startsWith(`${option}: `), e.message);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

// ----- a checker for the structural-schema rules (Kubernetes docs, "Specifying a structural schema") -----

const FORBIDDEN_KEYWORDS = ['$ref', 'definitions', 'dependencies', 'id', 'patternProperties', 'additionalItems', '$schema'];
const JUNCTORS = ['allOf', 'anyOf', 'oneOf', 'not'];
const NOT_IN_JUNCTORS = ['description', 'type', 'default', 'additionalProperties', 'nullable'];
const TYPES = ['object', 'array', 'string', 'integer', 'number', 'boolean'];

/** Every rule violation, as `path: problem`. */
function structuralProblems(node: unknown, path = ''): string[] {
  const problems: string[] = [];
  const here = path === '' ? '<root>' : path;
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return [`${here}: not a schema object`];
  const schema = node as Json;
  const preserved = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  // Rule 1: a non-empty type at every level, unless preserve-unknown-fields or int-or-string is set.
  if (schema.type === undefined) {
    if (!preserved && !intOrString) problems.push(`${here}: no type`);
  } else if (!TYPES.includes(String(schema.type))) {
    problems.push(`${here}: unknown type ${JSON.stringify(schema.type)}`);
  }
  for (const keyword of FORBIDDEN_KEYWORDS) if (keyword in schema) problems.push(`${here}: ${keyword} is not allowed in apiextensions.k8s.io/v1`);
  if (schema.uniqueItems === true) problems.push(`${here}: uniqueItems true is not allowed`);
  if (schema.properties !== undefined && schema.additionalProperties !== undefined && schema.additionalProperties !== false) problems.push(`${here}: properties and additionalProperties together`);
  if (schema.properties !== undefined && schema.type !== 'object') problems.push(`${here}: properties on a ${String(schema.type)}`);
  if (schema.additionalProperties !== undefined && schema.type !== 'object') problems.push(`${here}: additionalProperties on a ${String(schema.type)}`);
  if (schema.type === 'array' && schema.items === undefined) problems.push(`${here}: an array needs items`);
  if (schema.items !== undefined && schema.type !== 'array') problems.push(`${here}: items on a ${String(schema.type)}`);
  if (Array.isArray(schema.items)) problems.push(`${here}: items must be one schema`);
  if (schema.required !== undefined) {
    for (const name of schema.required as string[]) if (schema.properties?.[name] === undefined) problems.push(`${here}: required ${name} is not a property`);
  }
  if (schema.enum !== undefined) {
    for (const value of schema.enum as unknown[]) if (typeof value !== (schema.type === 'integer' ? 'number' : schema.type)) problems.push(`${here}: enum value ${JSON.stringify(value)} is not a ${String(schema.type)}`);
  }
  // Rule 3: no description, type, default, additionalProperties or nullable inside junctors.
  for (const junctor of JUNCTORS) {
    const branches = schema[junctor] === undefined ? [] : junctor === 'not' ? [schema[junctor]] : (schema[junctor] as Json[]);
    for (const branch of branches) {
      for (const key of NOT_IN_JUNCTORS) if (key in branch) problems.push(`${here}.${junctor}: ${key} inside a junctor`);
    }
  }
  for (const [name, child] of Object.entries((schema.properties ?? {}) as Record<string, Json>)) problems.push(...structuralProblems(child, path === '' ? name : `${path}.${name}`));
  if (schema.items !== undefined && !Array.isArray(schema.items)) problems.push(...structuralProblems(schema.items, `${path}[]`));
  if (typeof schema.additionalProperties === 'object') problems.push(...structuralProblems(schema.additionalProperties, `${path}{}`));
  return problems;
}

/** Rule 4 and the root rules: the root is an object, and metadata restricts nothing but name and generateName. */
function rootProblems(node: unknown): string[] {
  const problems = structuralProblems(node);
  const schema = node as Json;
  if (schema.type !== 'object') problems.push('<root>: type must be object');
  const metadata = schema.properties?.metadata;
  if (metadata !== undefined) {
    const keys = Object.keys(metadata as object).filter((k) => k !== 'type');
    if (keys.length > 0) problems.push(`metadata: only type (or restrictions on name and generateName) may be set, found ${keys.join(', ')}`);
  }
  return problems;
}

/**
 * What the apiserver's validation and strict field validation would report for `value`: wrong
 * types, enum and bound violations, missing required fields, and fields the schema would prune.
 * `metadata` is left to the apiserver's ObjectMeta validation, as Kubernetes does.
 */
function schemaViolations(value: unknown, node: unknown, path: string): string[] {
  const schema = node as Json;
  const here = path === '' ? '<root>' : path;
  if (path === 'metadata') return [];
  const preserved = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (schema.type === undefined) return preserved ? [] : [`${here}: schema has no type`];
  const problems: string[] = [];
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  const typeOk: Record<string, boolean> = {
    object: isObject,
    array: Array.isArray(value),
    string: typeof value === 'string',
    boolean: typeof value === 'boolean',
    integer: Number.isInteger(value),
    number: typeof value === 'number',
  };
  if (!typeOk[String(schema.type)]) return [`${here}: want ${String(schema.type)}, got ${JSON.stringify(value)}`];
  if (schema.enum !== undefined && !(schema.enum as unknown[]).includes(value)) problems.push(`${here}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number' && ((schema.minimum !== undefined && value < schema.minimum) || (schema.maximum !== undefined && value > schema.maximum))) problems.push(`${here}: ${value} out of bounds`);
  if (typeof value === 'string' && ((schema.minLength !== undefined && value.length < schema.minLength) || (schema.maxLength !== undefined && value.length > schema.maxLength))) problems.push(`${here}: length out of bounds`);
  if (Array.isArray(value)) value.forEach((item, i) => problems.push(...schemaViolations(item, schema.items, `${path}[${i}]`)));
  if (isObject) {
    const object = value as Record<string, unknown>;
    for (const name of (schema.required ?? []) as string[]) if (!(name in object)) problems.push(`${here}: missing required ${name}`);
    for (const [name, child] of Object.entries(object)) {
      const childPath = path === '' ? name : `${path}.${name}`;
      const childSchema = schema.properties?.[name] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (childSchema !== undefined) problems.push(...schemaViolations(child, childSchema, childPath));
      else if (!preserved) problems.push(`${childPath}: unknown field (pruned, or refused by strict field validation)`);
    }
  }
  return problems;
}

describe('structural schema checker', () => {
  it('finds a level without a type, an array without items and a type inside anyOf', () => {
    const problems = rootProblems({
      type: 'object',
      properties: { a: { properties: { b: { type: 'string' } } }, list: { type: 'array' }, c: { anyOf: [{ type: 'string' }] }, ok: { 'x-kubernetes-preserve-unknown-fields': true } },
    });
    assert.deepEqual(problems, ['a: no type', 'a: properties on a undefined', 'list: an array needs items', 'c: no type', 'c.anyOf: type inside a junctor']);
  });
});

// ----- the manifests -------------------------------------------------------------------------------

describe('buildAdmissionManifests', () => {
  const objects = roundTrip();

  it('emits every kind once (three CRDs), Namespace first and the webhook configurations last', () => {
    const kinds = objects.map((o) => String(o.kind));
    for (const kind of ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Secret', 'Service', 'Deployment', 'PodDisruptionBudget', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      only(objects, kind);
    }
    assert.deepEqual(objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => String(o.metadata.name)), ['clusterpolicies.sigil.dev', 'policies.sigil.dev', 'policyexceptions.sigil.dev']);
    assert.equal(kinds.length, 14);
    assert.equal(kinds[0], 'Namespace');
    assert.deepEqual(kinds.slice(-2), ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);
  });

  it('parses back to exactly the objects built, as YAML and as a JSON List', () => {
    const built = buildAdmissionManifests(BASE);
    assert.deepEqual(objects, JSON.parse(JSON.stringify(built)));
    const list: Json = JSON.parse(encodeManifestsJson(built));
    assert.equal(list.apiVersion, 'v1');
    assert.equal(list.kind, 'List');
    assert.deepEqual(list.items, objects);
  });

  it('puts every namespaced object in sigil-system and labels the Namespace for the webhooks and restricted Pod Security', () => {
    const namespace = only(objects, 'Namespace');
    assert.equal(namespace.metadata.name, ADMISSION_SERVICE.namespace);
    assert.equal(namespace.metadata.labels['kubernetes.io/metadata.name'], 'sigil-system');
    assert.equal(namespace.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    const clusterScoped = ['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'];
    for (const object of objects) {
      const kind = String(object.kind);
      if (clusterScoped.includes(kind)) assert.equal(object.metadata.namespace, undefined, kind);
      else assert.equal(object.metadata.namespace, 'sigil-system', kind);
      assert.equal(object.metadata.labels['app.kubernetes.io/part-of'], 'sigil', kind);
    }
  });

  it('points both webhooks at the Service, whose names the serving certificate covers', () => {
    const service = only(objects, 'Service');
    assert.equal(service.metadata.name, ADMISSION_SERVICE.name);
    assert.deepEqual(service.spec.ports, [{ name: 'https', port: 443, targetPort: ADMISSION_CONTAINER_PORT, protocol: 'TCP' }]);
    const leaf = pemCertificates(decode(only(objects, 'Secret').data[TLS_DIR_FILES.cert]))[0];
    assert.ok(leaf);
    for (const [kind, path] of [
      ['ValidatingWebhookConfiguration', '/validate'],
      ['MutatingWebhookConfiguration', '/mutate'],
    ] as const) {
      const [hook, ...more] = only(objects, kind).webhooks;
      assert.equal(more.length, 0);
      assert.deepEqual(hook.clientConfig.service, { name: service.metadata.name, namespace: service.metadata.namespace, path, port: service.spec.ports[0].port });
    }
    const names = servingNames({ name: service.metadata.name, namespace: service.metadata.namespace });
    assert.ok(names.dns.includes('sigil-admission.sigil-system.svc'));
    for (const dns of names.dns) assert.equal(leaf.checkHost(dns), dns, `certificate covers ${dns}`);
  });

  it('has a caBundle that decodes to ca.crt and verifies the Secret tls.crt, whose key is tls.key', () => {
    const secret = only(objects, 'Secret');
    assert.equal(secret.metadata.name, ADMISSION_MANIFEST_NAMES.tlsSecret);
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.deepEqual(Object.keys(secret.data as object).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    assert.equal(decode(secret.data['tls.crt']), TLS.cert);
    assert.equal(decode(secret.data['tls.key']), TLS.key);
    const bundles = ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'].map((k) => only(objects, k).webhooks[0].clientConfig.caBundle as string);
    for (const bundle of bundles) assert.equal(decode(bundle), TLS.caCert);
    const [ca] = pemCertificates(decode(bundles[0] ?? ''));
    const [leaf] = pemCertificates(decode(secret.data['tls.crt']));
    assert.ok(ca && leaf);
    assert.ok(ca.ca, 'the caBundle is a CA');
    assert.ok(leaf.checkIssued(ca));
    assert.ok(leaf.verify(ca.publicKey));
    assert.ok(leaf.checkPrivateKey(createPrivateKey(decode(secret.data['tls.key']))));
  });

  it('grants exactly the server’s API calls, with no wildcard, to the server’s ServiceAccount', () => {
    const role = only(objects, 'ClusterRole');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
      { apiGroups: ['sigil.dev'], resources: ['clusterpolicies', 'policies', 'policyexceptions'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['wgpolicyk8s.io'], resources: ['policyreports', 'clusterpolicyreports'], verbs: ['create', 'update', 'patch', 'delete', 'get', 'list'] },
      { apiGroups: [''], resources: ['pods', 'replicationcontrollers'], verbs: ['list'] },
      { apiGroups: ['apps'], resources: ['deployments', 'daemonsets', 'statefulsets', 'replicasets'], verbs: ['list'] },
      { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['list'] },
    ]);
    for (const rule of role.rules as Json[]) {
      for (const value of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) assert.ok(!String(value).includes('*'), `wildcard ${String(value)}`);
      assert.equal(rule.nonResourceURLs, undefined);
      assert.equal(rule.resourceNames, undefined);
    }
    assert.equal(role.aggregationRule, undefined);
    const binding = only(objects, 'ClusterRoleBinding');
    const account = only(objects, 'ServiceAccount');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
    assert.equal(only(objects, 'Deployment').spec.template.spec.serviceAccountName, account.metadata.name);
  });

  it('configures both webhooks: Fail, 10 s, no side effects, v1 reviews, pods and pod controllers, kube-system and sigil-system skipped', () => {
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const [hook] = only(objects, kind).webhooks;
      assert.match(String(hook.name), /^[a-z0-9-]+(\.[a-z0-9-]+){2,}$/, 'a fully qualified webhook name');
      assert.equal(hook.failurePolicy, 'Fail');
      assert.equal(hook.timeoutSeconds, 10);
      assert.equal(hook.sideEffects, 'None');
      assert.deepEqual(hook.admissionReviewVersions, ['v1']);
      assert.equal(hook.matchPolicy, 'Equivalent');
      assert.deepEqual(hook.namespaceSelector, { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'sigil-system'] }] });
      assert.equal(hook.reinvocationPolicy, kind === 'MutatingWebhookConfiguration' ? 'IfNeeded' : undefined);
      const covered = new Set<string>();
      for (const rule of hook.rules as Json[]) {
        assert.deepEqual(rule.operations, ['CREATE', 'UPDATE']);
        assert.deepEqual(rule.apiVersions, ['v1']);
        assert.equal(rule.scope, 'Namespaced');
        for (const resource of rule.resources as string[]) covered.add(`${rule.apiGroups[0] as string}/${resource}`);
      }
      assert.deepEqual(
        [...covered].sort(),
        ['/pods', '/pods/ephemeralcontainers', '/replicationcontrollers', 'apps/daemonsets', 'apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'batch/cronjobs', 'batch/jobs'].sort(),
      );
    }
  });

  it('runs 3 hardened replicas with HTTPS probes, bounded resources and the Secret and ConfigMap mounted read-only', () => {
    const deployment = only(objects, 'Deployment');
    assert.equal(deployment.spec.replicas, 3);
    const pod = deployment.spec.template.spec;
    assert.deepEqual(deployment.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'sigil', 'app.kubernetes.io/component': 'admission-controller' });
    for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels as Record<string, string>)) {
      assert.equal(deployment.spec.template.metadata.labels[key], value);
      assert.equal(only(objects, 'Service').spec.selector[key], value);
      assert.equal(only(objects, 'PodDisruptionBudget').spec.selector.matchLabels[key], value);
    }
    const anti = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0];
    assert.equal(anti.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(anti.podAffinityTerm.labelSelector.matchLabels, deployment.spec.selector.matchLabels);
    assert.equal(pod.topologySpreadConstraints[0].whenUnsatisfiable, 'ScheduleAnyway');
    assert.ok(pod.terminationGracePeriodSeconds > 10, 'longer than the webhook timeout');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
    const [container, ...others] = pod.containers;
    assert.equal(others.length, 0);
    assert.equal(container.image, IMAGE);
    assert.deepEqual(container.ports, [{ name: 'https', containerPort: 9443, protocol: 'TCP' }]);
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 9443, scheme: 'HTTPS' });
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 9443, scheme: 'HTTPS' });
    assert.deepEqual(container.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '384Mi' } });
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(container.args, ['admission', 'serve', '--addr', '0.0.0.0:9443', '--tls-cert', '/etc/sigil/tls/tls.crt', '--tls-key', '/etc/sigil/tls/tls.key', '--policies', '/etc/sigil/policies', '--timeout-seconds', '10', '--in-cluster']);
    const mounts = Object.fromEntries((container.volumeMounts as Json[]).map((m) => [m.name, m]));
    const volumes = Object.fromEntries((pod.volumes as Json[]).map((v) => [v.name, v]));
    assert.deepEqual(mounts.tls, { name: 'tls', mountPath: ADMISSION_MOUNTS.tls, readOnly: true });
    assert.deepEqual(mounts.policies, { name: 'policies', mountPath: ADMISSION_MOUNTS.policies, readOnly: true });
    assert.equal(volumes.tls.secret.secretName, only(objects, 'Secret').metadata.name);
    assert.equal(volumes.policies.configMap.name, only(objects, 'ConfigMap').metadata.name);
    for (const mount of container.volumeMounts as Json[]) assert.ok(volumes[mount.name], `volume ${mount.name as string}`);
    // Every path the args name is under a mount.
    for (const flag of ['--tls-cert', '--tls-key', '--policies']) {
      const args = container.args as string[];
      const value = args[args.indexOf(flag) + 1] ?? '';
      assert.ok((container.volumeMounts as Json[]).some((m) => value.startsWith(m.mountPath as string)), `${flag} ${value} is mounted`);
    }
  });

  it('keeps the PodDisruptionBudget below the replicas, and emits none for one replica', () => {
    assert.equal(only(objects, 'PodDisruptionBudget').spec.minAvailable, 2);
    for (const replicas of [2, 3, 5, 7]) {
      const built = roundTrip({ ...BASE, replicas });
      assert.equal(only(built, 'Deployment').spec.replicas, replicas);
      const pdb = only(built, 'PodDisruptionBudget');
      assert.ok(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < replicas, `minAvailable ${pdb.spec.minAvailable as number} for ${replicas}`);
    }
    assert.equal(roundTrip({ ...BASE, replicas: 1 }).filter((o) => o.kind === 'PodDisruptionBudget').length, 0);
  });

  it('applies namespace, image, failurePolicy and timeoutSeconds to every place that names them', () => {
    const tls = generateServingTls(servingNames({ name: ADMISSION_SERVICE.name, namespace: 'verify' }), NOW);
    const built = roundTrip({ ...BASE, namespace: 'verify', image: 'registry.example/sigil@sha256:' + 'a'.repeat(64), failurePolicy: 'Ignore', timeoutSeconds: 30, tls: { caBundle: tls.caCert, cert: tls.cert, key: tls.key } });
    for (const object of built) if (object.metadata.namespace !== undefined) assert.equal(object.metadata.namespace, 'verify', String(object.kind));
    assert.equal(only(built, 'Namespace').metadata.name, 'verify');
    assert.equal(only(built, 'ClusterRoleBinding').subjects[0].namespace, 'verify');
    assert.equal(only(built, 'Deployment').spec.template.spec.containers[0].image, `registry.example/sigil@sha256:${'a'.repeat(64)}`);
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const [hook] = only(built, kind).webhooks;
      assert.equal(hook.failurePolicy, 'Ignore');
      assert.equal(hook.timeoutSeconds, 30);
      assert.equal(hook.clientConfig.service.namespace, 'verify');
      assert.deepEqual(hook.namespaceSelector.matchExpressions[0].values, ['kube-system', 'verify']);
    }
  });

  it('carries the given policy files in the ConfigMap, and an empty ConfigMap without them', () => {
    assert.deepEqual(only(objects, 'ConfigMap').data, {});
    const text = 'apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: "on"\nspec:\n  rules: []\n';
    const built = roundTrip({ ...BASE, policies: [{ name: 'a.yaml', text }, { name: 'b.json', text: '{}' }] });
    assert.deepEqual(only(built, 'ConfigMap').data, { 'a.yaml': text, 'b.json': '{}' });
  });

  it('quotes strings YAML 1.1 would read as booleans or numbers', () => {
    const yaml = encodeManifestsYaml(buildAdmissionManifests({ ...BASE, policies: [{ name: 'p.yaml', text: 'yes' }] }));
    assert.match(yaml, /p\.yaml: "yes"/);
  });

  it('omits the Secret when only a caBundle is given (the Secret comes from elsewhere)', () => {
    const built = roundTrip({ ...BASE, tls: { caBundle: TLS.caCert } });
    assert.equal(built.filter((o) => o.kind === 'Secret').length, 0);
    assert.equal(decode(only(built, 'ValidatingWebhookConfiguration').webhooks[0].clientConfig.caBundle), TLS.caCert);
  });

  it('emits only the CRDs with crdsOnly, and everything but them with crds: false', () => {
    assert.deepEqual(buildAdmissionManifests({ crdsOnly: true }).map((o) => o.kind), ['CustomResourceDefinition', 'CustomResourceDefinition', 'CustomResourceDefinition']);
    const without = roundTrip({ ...BASE, crds: false });
    assert.equal(without.filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
    assert.equal(without.length, 11);
  });
});

describe('buildAdmissionManifests option errors', () => {
  const table: Array<[string, AdmissionManifestOptions, string, RegExp]> = [
    ['a timeout above 30 s', { ...BASE, timeoutSeconds: 31 }, 'timeoutSeconds', /31 is out of range: the apiserver allows 1 to 30 seconds/],
    ['a zero timeout', { ...BASE, timeoutSeconds: 0 }, 'timeoutSeconds', /out of range/],
    ['a fractional timeout', { ...BASE, timeoutSeconds: 2.5 }, 'timeoutSeconds', /out of range/],
    ['zero replicas', { ...BASE, replicas: 0 }, 'replicas', /0 is not a whole number from 1 to 100/],
    ['an unknown failure policy', { ...BASE, failurePolicy: 'Retry' as 'Fail' }, 'failurePolicy', /"Retry" is neither Fail nor Ignore/],
    ['a namespace that is no DNS label', { ...BASE, namespace: 'Sigil_System' }, 'namespace', /not a DNS label/],
    ['the default namespace', { ...BASE, namespace: 'default' }, 'namespace', /workloads there would go unverified/],
    ['no image', { ...BASE, image: undefined }, 'image', /required/],
    ['an image that is no reference', { ...BASE, image: 'ghcr.io/Sigil:x' }, 'image', /ghcr\.io\/Sigil:x/],
    ['no TLS', { ...BASE, tls: undefined }, 'tls', /caBundle/],
    ['a version no label can hold', { ...BASE, version: '0.1.0+dev' }, 'version', /"0\.1\.0\+dev" is not a label value/],
    ['a caBundle without certificates', { ...BASE, tls: { caBundle: 'nothing' } }, 'tls.caBundle', /no PEM CERTIFICATE/],
    ['a cert without a key', { ...BASE, tls: { caBundle: TLS.caCert, cert: TLS.cert } }, 'tls.key', /go together/],
    ['crdsOnly with crds false', { crdsOnly: true, crds: false }, 'crdsOnly', /nothing would be left/],
    ['a policy file name the ConfigMap refuses', { ...BASE, policies: [{ name: 'a b.yaml', text: '' }] }, 'policies', /not a valid ConfigMap key/],
    ['a policy file the server would not load', { ...BASE, policies: [{ name: 'a.txt', text: '' }] }, 'policies', /only \.yaml, \.yml and \.json/],
    ['two policy files of one name', { ...BASE, policies: [{ name: 'a.yaml', text: '' }, { name: 'a.yaml', text: '' }] }, 'policies', /two files named a\.yaml/],
    ['policies beyond 1 MiB', { ...BASE, policies: [{ name: 'a.yaml', text: 'x'.repeat(1024 * 1024) }] }, 'policies', /exceed a ConfigMap's 1 MiB/],
  ];
  for (const [name, options, option, pattern] of table) {
    it(`refuses ${name}, naming ${option}`, () => throwsOption(options, option, pattern));
  }

  it('refuses a serving certificate for another namespace', () => {
    throwsOption({ ...BASE, namespace: 'elsewhere' }, 'tls.cert', /does not cover sigil-admission\.elsewhere\.svc/);
  });

  it('refuses a serving certificate another CA issued', () => {
    const other = generateServingTls(servingNames(), NOW);
    throwsOption({ ...BASE, tls: { caBundle: other.caCert, cert: TLS.cert, key: TLS.key } }, 'tls.cert', /does not chain to tls\.caBundle/);
  });

  it('refuses a key that is not the certificate’s', () => {
    const other = generateServingTls(servingNames(), NOW);
    throwsOption({ ...BASE, tls: { caBundle: TLS.caCert, cert: TLS.cert, key: other.key } }, 'tls.key', /is not the key of tls\.cert/);
  });

  it('checks options without TLS through checkAdmissionManifestOptions', () => {
    assert.doesNotThrow(() => checkAdmissionManifestOptions({ image: IMAGE }));
    assert.throws(() => checkAdmissionManifestOptions({ image: IMAGE, timeoutSeconds: 31 }), (e: unknown) => e instanceof ManifestOptionError && e.option === 'timeoutSeconds');
    assert.doesNotThrow(() => checkAdmissionManifestOptions({ crdsOnly: true }));
  });
});

describe('sigil.dev CRDs', () => {
  const crds = roundTrip().filter((o) => o.kind === 'CustomResourceDefinition');
  const byKind = Object.fromEntries(crds.map((c) => [c.spec.names.kind, c]));

  it('defines ClusterPolicy (cluster), Policy and PolicyException (namespaced) in sigil.dev v1, served and stored', () => {
    assert.deepEqual(Object.keys(byKind as object).sort(), ['ClusterPolicy', 'Policy', 'PolicyException']);
    const expected: Record<string, [string, string, string]> = { ClusterPolicy: ['clusterpolicies', 'Cluster', 'scpol'], Policy: ['policies', 'Namespaced', 'spol'], PolicyException: ['policyexceptions', 'Namespaced', 'spolex'] };
    for (const [kind, [plural, scope, shortName]] of Object.entries(expected)) {
      const crd = byKind[kind];
      assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
      assert.equal(crd.metadata.name, `${plural}.sigil.dev`, 'the name is plural.group');
      assert.equal(crd.spec.group, 'sigil.dev');
      assert.equal(crd.spec.names.plural, plural);
      assert.equal(crd.spec.names.singular, kind.toLowerCase());
      assert.equal(crd.spec.names.listKind, `${kind}List`);
      assert.deepEqual(crd.spec.names.shortNames, [shortName]);
      assert.equal(crd.spec.scope, scope);
      const [version, ...more] = crd.spec.versions;
      assert.equal(more.length, 0);
      assert.equal(version.name, 'v1');
      assert.equal(version.served, true);
      assert.equal(version.storage, true);
      assert.deepEqual(version.subresources, { status: {} });
      assert.ok((version.additionalPrinterColumns as Json[]).some((c) => c.name === 'Age' && c.type === 'date' && c.jsonPath === '.metadata.creationTimestamp'));
    }
    const columns = (byKind.ClusterPolicy.spec.versions[0].additionalPrinterColumns as Json[]).map((c) => String(c.jsonPath));
    assert.ok(columns.includes('.spec.validationFailureAction'));
  });

  it('uses short names that do not clash with Kyverno’s', () => {
    const kyverno = ['cpol', 'pol', 'polex', 'cpolr', 'polr', 'ur', 'gctxentry', 'cleanpol', 'ccleanpol'];
    for (const crd of crds) for (const name of crd.spec.names.shortNames as string[]) assert.ok(!kyverno.includes(name), name);
  });

  it('has structural schemas: a type at every level not marked x-kubernetes-preserve-unknown-fields', () => {
    for (const crd of crds) {
      const schema = crd.spec.versions[0].schema.openAPIV3Schema;
      assert.deepEqual(rootProblems(schema), [], String(crd.metadata.name));
      assert.equal(schema.properties.spec.type, 'object', 'spec is typed');
      assert.equal(schema.properties.status['x-kubernetes-preserve-unknown-fields'], true);
    }
  });

  it('types the policy spec: rules are objects with a required string name, verifyImages entries typed at the top', () => {
    for (const kind of ['ClusterPolicy', 'Policy']) {
      const spec = byKind[kind].spec.versions[0].schema.openAPIV3Schema.properties.spec;
      assert.deepEqual(spec.required, ['rules']);
      const rule = spec.properties.rules.items;
      assert.equal(rule.type, 'object');
      assert.deepEqual(rule.required, ['name']);
      assert.equal(rule.properties.name.type, 'string');
      const verifyImage = rule.properties.verifyImages.items;
      assert.deepEqual(verifyImage.properties.type.enum, ['Cosign', 'Notary', 'SigstoreBundle']);
      assert.deepEqual(verifyImage.properties.imageReferences, { type: 'array', items: { type: 'string' }, description: 'image patterns (*, ?) the entry applies to' });
      for (const field of ['mutateDigest', 'verifyDigest', 'required']) assert.equal(verifyImage.properties[field].type, 'boolean');
      assert.equal(spec.properties.webhookTimeoutSeconds.maximum, 30);
      assert.deepEqual(spec.properties.validationFailureAction.enum, ['audit', 'enforce', 'Audit', 'Enforce']);
      for (const field of ['background', 'admission', 'failurePolicy', 'applyRules', 'webhookConfiguration']) assert.ok(spec.properties[field], field);
    }
    const exception = byKind.PolicyException.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    assert.deepEqual(exception.required, ['exceptions', 'match']);
    assert.deepEqual(exception.properties.exceptions.items.required, ['policyName', 'ruleNames']);
  });

  it('accept the shared Kyverno policies unchanged but for the API group, and refuse unknown or mistyped fields', async () => {
    const files = (await readdir(SHARED_POLICIES)).filter((f) => f.endsWith('.yaml'));
    let checked = 0;
    for (const file of files) {
      for (const document of parseAllDocuments(await readFile(join(SHARED_POLICIES, file), 'utf8'))) {
        const object = document.toJS() as Json;
        if (!String(object.apiVersion).startsWith('kyverno.io/')) continue;
        const crd = byKind[String(object.kind)];
        assert.ok(crd, `${file}: no sigil.dev CRD for ${String(object.kind)}`);
        const schema = crd.spec.versions[0].schema.openAPIV3Schema;
        assert.deepEqual(schemaViolations({ ...object, apiVersion: 'sigil.dev/v1' }, schema, ''), [], `${file} ${String(object.metadata.name)}`);
        checked++;
      }
    }
    assert.ok(checked >= 6, `checked ${checked} documents`);
    const policySchema = byKind.ClusterPolicy.spec.versions[0].schema.openAPIV3Schema;
    const bad = { apiVersion: 'sigil.dev/v1', kind: 'ClusterPolicy', metadata: { name: 'x' }, spec: { rules: [{ match: {}, verifyImages: [{ type: 'Notation', imageReferenecs: ['*'] }] }], webhookTimeoutSeconds: 31 } };
    assert.deepEqual(schemaViolations(bad, policySchema, ''), [
      'spec.rules[0]: missing required name',
      'spec.rules[0].verifyImages[0].type: "Notation" is not one of ["Cosign","Notary","SigstoreBundle"]',
      'spec.rules[0].verifyImages[0].imageReferenecs: unknown field (pruned, or refused by strict field validation)',
      'spec.webhookTimeoutSeconds: 31 out of bounds',
    ]);
  });

  it('are the same objects buildSigilCrds returns', () => {
    const direct: KubeManifest[] = buildSigilCrds({ version: '0.1.0' });
    assert.deepEqual(JSON.parse(JSON.stringify(direct)), crds);
  });
});
