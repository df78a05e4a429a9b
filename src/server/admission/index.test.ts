import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as admission from './index.js';

it('exports exactly the admission server surface', () => {
  assert.deepEqual(Object.keys(admission).sort(), [
    'ADMISSION_SERVICE',
    'AdmissionServer',
    'DEFAULT_ADMISSION_ADDR',
    'MAX_CHECK_IMAGES',
    'MAX_CHECK_IMAGES_BYTES',
    'TLS_DIR_FILES',
    'createRegistryImageVerifier',
    'ensureTlsDir',
    'expandPaths',
    'generateServingTls',
    'loadAdmissionServeConfig',
    'loadPolicyFiles',
    'servingNames',
    'readTlsPair',
    'DEFAULT_MAX_REPORTS',
    'ReportStore',
    'ruleResults',
    'writeReportFile',
    'DEFAULT_RELOAD_INTERVAL_MS',
    'fingerprintFiles',
    'watchSources',
    'ADMISSION_DURATION_BUCKETS',
    'AdmissionMetrics',
    'aggregateRuleResults',
    'KYVERNO_DURATION_BUCKETS',
    'metricValue',
    'parseExposition',
  ].sort());
});
