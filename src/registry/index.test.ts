// Pins the registry module's public surface (STYLE.md rule 2): dropping or adding an export fails here.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as registry from './index.js';

it('exports exactly the registry module surface', () => {
  assert.deepEqual(Object.keys(registry).sort(), [
    'DEFAULT_REPOSITORY_SETTINGS',
    'DEFAULT_TRANSPORT_SETTINGS',
    'DISTRIBUTION_ERROR_CODES',
    'DOCKER_HUB_SERVER_ADDRESS',
    'DockerCredentialStore',
    'RegistryClient',
    'RegistryError',
    'Repository',
    'basicAuthorization',
    'decodeErrorBody',
    'isRegistryError',
    'normalizeScopes',
    'parseChallenges',
    'parseNextLink',
    'parseRetryAfter',
    'repositoryScope',
    'serverAddressOf',
  ]);
  assert.equal(typeof registry.RegistryClient, 'function');
  assert.ok(Object.isFrozen(registry.DEFAULT_TRANSPORT_SETTINGS));
  assert.ok(registry.DISTRIBUTION_ERROR_CODES.includes('MANIFEST_UNKNOWN'));
});
