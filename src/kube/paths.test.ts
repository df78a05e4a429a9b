import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KubeError } from './errors.js';
import { apiVersionOf, groupVersionPath, NAMESPACES, resourcePath, SECRETS, type ResourceType } from './paths.js';

const POLICIES: ResourceType = { group: 'sigil.dev', version: 'v1', plural: 'policies', namespaced: true };

it('builds core and group paths, namespaced or not', () => {
  assert.equal(resourcePath(NAMESPACES), '/api/v1/namespaces');
  assert.equal(resourcePath(NAMESPACES, { name: 'kube-system' }), '/api/v1/namespaces/kube-system');
  assert.equal(resourcePath(SECRETS, { namespace: 'team-a', name: 'pull' }), '/api/v1/namespaces/team-a/secrets/pull');
  assert.equal(resourcePath(SECRETS), '/api/v1/secrets');
  assert.equal(resourcePath(POLICIES, { namespace: 'ns' }), '/apis/sigil.dev/v1/namespaces/ns/policies');
  assert.equal(groupVersionPath('', 'v1'), '/api/v1');
  assert.equal(apiVersionOf(POLICIES), 'sigil.dev/v1');
  assert.equal(apiVersionOf(SECRETS), 'v1');
});

it('refuses segments that would escape the path and scope mistakes', () => {
  for (const name of ['', '..', 'a/b']) assert.throws(() => resourcePath(SECRETS, { namespace: 'ns', name }), (e: unknown) => e instanceof KubeError && e.code === 'BAD_REQUEST');
  assert.throws(() => resourcePath(NAMESPACES, { namespace: 'x' }), KubeError);
  assert.throws(() => resourcePath(SECRETS, { name: 'x' }), KubeError);
  assert.equal(resourcePath(SECRETS, { namespace: 'ns', name: 'a b' }), '/api/v1/namespaces/ns/secrets/a%20b');
});
