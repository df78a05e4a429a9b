// Pins the kube module's public surface (STYLE.md rule 2): dropping or adding an export fails here.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as kube from './index.js';

it('exports exactly the kube module surface', () => {
  assert.deepEqual(Object.keys(kube).sort(), [
    'KubeClient',
    'KubeError',
    'LIST_PAGE_SIZE',
    'ListWatch',
    'NAMESPACES',
    'PATCH_CONTENT_TYPES',
    'REQUEST_TIMEOUT_MS',
    'SECRETS',
    'SERVICE_ACCOUNT_DIR',
    'TOKEN_REFRESH_MS',
    'WATCH_TIMEOUT_SECONDS',
    'apiVersionOf',
    'codeForStatus',
    'decodeKubeconfig',
    'groupVersionPath',
    'isKubeError',
    'kubeconfigPath',
    'loadDefaultKubeConfig',
    'loadInClusterConfig',
    'loadKubeconfig',
    'objectKey',
    'resourcePath',
  ]);
  assert.equal(typeof kube.KubeClient, 'function');
  assert.ok(Object.isFrozen(kube.NAMESPACES));
  assert.equal(kube.codeForStatus(410), 'GONE');
});
