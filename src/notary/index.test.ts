import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as notary from './index.js';

// STYLE.md rule 2: the public surface changes only on purpose.
describe('notary index', () => {
  it('exports exactly the public values', () => {
    assert.deepEqual(Object.keys(notary).sort(), ['ALGORITHMS', 'ANNOTATION_CREATED', 'ANNOTATION_THUMBPRINT', 'COSE_MEDIA_TYPE', 'EnvelopeError', 'FileTrustStore', 'JWS_MEDIA_TYPE', 'LEVELS', 'NotaryError', 'PAYLOAD_CONTENT_TYPE', 'SignatureManifestError', 'SigningError', 'TRUST_POLICY_VERSION', 'TRUST_STORE_TYPES', 'TrustPolicyError', 'TrustStoreError', 'VALIDATION_ACTIONS', 'VALIDATION_TYPES', 'Verifier', 'addTrustStoreCertificates', 'algorithmByName', 'algorithmForKeySpec', 'createRawSigner', 'createTrustPolicyDocument', 'decodeEnvelope', 'decodePayload', 'decodeSignatureManifest', 'decodeTrustPolicyDocument', 'deleteTrustStoreCertificates', 'encodeEnvelope', 'encodePayload', 'encodeTrustPolicyDocument', 'findApplicableTrustPolicy', 'formatRfc3339', 'isEnvelopeMediaType', 'isSameArtifact', 'isTrustStoreName', 'isTrustStoreType', 'listTrustStoreCertificates', 'packSignature', 'pushSignature', 'resolveVerificationLevel', 'signArtifact', 'thumbprintsOf', 'verifySignatureBytes', 'withUserMetadata']);
  });
});
