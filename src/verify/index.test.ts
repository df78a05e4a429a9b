// Pins the verify module's public surface (STYLE.md rule 2): dropping or adding an export fails here.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as verify from './index.js';
import type { SignatureAttempt, SignatureSource, VerificationReport, VerifyArtifactRequest, VerifyErrorCode } from './index.js';

// The type-only exports: dropping one fails the build.
export type _VerifyTypes = [SignatureAttempt, SignatureSource, VerificationReport, VerifyArtifactRequest, VerifyErrorCode];

it('exports exactly the verify module surface', () => {
  assert.deepEqual(Object.keys(verify).sort(), ['DEFAULT_MAX_SIGNATURES', 'VerifyError', 'fetchSignature', 'listSignatures', 'statementFor', 'verifyArtifact']);
});

it('exports working values, not placeholders', () => {
  assert.equal(typeof verify.verifyArtifact, 'function');
  assert.equal(typeof verify.fetchSignature, 'function');
  assert.equal(typeof verify.listSignatures, 'function');
  assert.equal(typeof verify.statementFor, 'function');
  assert.equal(verify.DEFAULT_MAX_SIGNATURES, 100);
  const code: VerifyErrorCode = 'MAX_SIGNATURES_INVALID';
  const error = new verify.VerifyError(code, 'max-signatures value 0 must be a positive number');
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'VerifyError');
  assert.equal(error.code, 'MAX_SIGNATURES_INVALID');
});
