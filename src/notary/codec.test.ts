import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SHARED_TESTDATA } from '../../test/support/shared.js';
import { ALGORITHMS, type AlgorithmInfo } from './algorithm.js';
import { createRawSigner, decodeEnvelope, encodeEnvelope, isEnvelopeMediaType, verifySignatureBytes } from './codec.js';
import { MAX_ENVELOPE_BYTES } from '../oci/index.js';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, PAYLOAD_CONTENT_TYPE, type EnvelopeMediaType, type SignRequest } from './envelope.js';
import { EnvelopeError, SigningError } from './errors.js';
import { encodePayload } from './payload.js';
import { fixtureKeyOf as keyOf } from '../../test/support/notary.js';

const SIGNATURES = join(SHARED_TESTDATA, 'notation-e2e/signatures');
const MEDIA_TYPES: readonly EnvelopeMediaType[] = [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE];

const [PS256, PS384, , ES256] = ALGORITHMS as [AlgorithmInfo, AlgorithmInfo, AlgorithmInfo, AlgorithmInfo];

function request(algorithm: AlgorithmInfo): SignRequest {
  return {
    payload: { contentType: PAYLOAD_CONTENT_TYPE, content: encodePayload({ mediaType: 'application/octet-stream', digest: `sha256:${'00'.repeat(32)}`, size: 0 }) },
    signingScheme: 'notary.x509',
    signingTime: new Date('2026-01-01T00:00:00Z'),
    signatureAlgorithm: algorithm.name,
    certificateChain: [keyOf(algorithm).der],
  };
}

const DATA = Buffer.from('ToBeSigned');

function pss(key: KeyObject, hash: string, saltLength: number): Uint8Array {
  return new Uint8Array(cryptoSign(hash, DATA, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }));
}

describe('decodeEnvelope and encodeEnvelope dispatch on the media type', () => {
  it('decodes the real Notation signatures by their media types', () => {
    assert.equal(decodeEnvelope(JWS_MEDIA_TYPE, readFileSync(join(SIGNATURES, 'blob.jws.sig'))).mediaType, JWS_MEDIA_TYPE);
    assert.equal(decodeEnvelope(COSE_MEDIA_TYPE, readFileSync(join(SIGNATURES, 'blob.cose.sig'))).mediaType, COSE_MEDIA_TYPE);
  });

  it('rejects a JWS given as COSE and the other way round', () => {
    assert.throws(() => decodeEnvelope(COSE_MEDIA_TYPE, readFileSync(join(SIGNATURES, 'blob.jws.sig'))), (e: unknown) => e instanceof EnvelopeError && e.code === 'ENVELOPE_INVALID');
    assert.throws(() => decodeEnvelope(JWS_MEDIA_TYPE, readFileSync(join(SIGNATURES, 'blob.cose.sig'))), (e: unknown) => e instanceof EnvelopeError && e.code === 'ENVELOPE_INVALID');
  });

  it('rejects other media types with ENVELOPE_UNSUPPORTED, matching exactly', async () => {
    for (const mediaType of ['application/pkcs7-signature', 'application/JOSE+json', 'application/cose; cose-type="cose-sign1"', 'application/json', '']) {
      assert.equal(isEnvelopeMediaType(mediaType), false);
      assert.throws(() => decodeEnvelope(mediaType, Buffer.from('{}')), (e: unknown) => e instanceof EnvelopeError && e.code === 'ENVELOPE_UNSUPPORTED');
      await assert.rejects(encodeEnvelope(mediaType, request(PS256), createRawSigner(keyOf(PS256).privateKey, PS256.name)), (e: unknown) => e instanceof EnvelopeError && e.code === 'ENVELOPE_UNSUPPORTED');
    }
  });

  it(`limits envelopes to MAX_ENVELOPE_BYTES, 32 MiB (notation-go maxBlobSizeLimit)`, () => {
    assert.equal(MAX_ENVELOPE_BYTES, 32 * 1024 * 1024);
    const tooLarge = new Uint8Array(MAX_ENVELOPE_BYTES + 1);
    for (const mediaType of MEDIA_TYPES) {
      assert.throws(() => decodeEnvelope(mediaType, tooLarge), (e: unknown) => e instanceof EnvelopeError && e.code === 'ENVELOPE_INVALID' && /limit/.test(e.message));
    }
  });

  for (const mediaType of MEDIA_TYPES) {
    for (const algorithm of ALGORITHMS) {
      it(`signs, decodes and verifies ${algorithm.jws} as ${mediaType}`, async () => {
        const bytes = await encodeEnvelope(mediaType, request(algorithm), createRawSigner(keyOf(algorithm).privateKey, algorithm.name));
        const decoded = decodeEnvelope(mediaType, bytes);
        const { signerInfo } = decoded.content;
        assert.equal(decoded.mediaType, mediaType);
        assert.equal(verifySignatureBytes(signerInfo.signatureAlgorithm, keyOf(algorithm).publicKey, decoded.signedBytes, signerInfo.signature, mediaType), true);
      });
    }
  }
});

describe('verifySignatureBytes', () => {
  const rsa = keyOf(PS256);

  it('accepts any RSASSA-PSS salt length for JWS (golang-jwt PSSSaltLengthAuto) but only the hash length for COSE (go-cose)', () => {
    for (const saltLength of [0, 20, 32, 64, 222]) {
      const signature = pss(rsa.privateKey, 'sha256', saltLength);
      assert.equal(verifySignatureBytes(PS256.name, rsa.publicKey, DATA, signature, JWS_MEDIA_TYPE), true, `jws salt ${saltLength}`);
      assert.equal(verifySignatureBytes(PS256.name, rsa.publicKey, DATA, signature, COSE_MEDIA_TYPE), saltLength === 32, `cose salt ${saltLength}`);
    }
  });

  it('requires MGF1 with the same hash', () => {
    const rsa384 = keyOf(PS384);
    const signature = new Uint8Array(cryptoSign('sha384', DATA, { key: rsa384.privateKey, padding: constants.RSA_PKCS1_PADDING }));
    assert.equal(verifySignatureBytes(PS384.name, rsa384.publicKey, DATA, signature, JWS_MEDIA_TYPE), false);
  });

  it('takes ECDSA signatures as r||s of exactly the curve size, never DER', () => {
    const ec = keyOf(ES256);
    const p1363 = new Uint8Array(cryptoSign('sha256', DATA, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }));
    const der = new Uint8Array(cryptoSign('sha256', DATA, { key: ec.privateKey, dsaEncoding: 'der' }));
    for (const mediaType of MEDIA_TYPES) {
      assert.equal(verifySignatureBytes(ES256.name, ec.publicKey, DATA, p1363, mediaType), true);
      assert.equal(verifySignatureBytes(ES256.name, ec.publicKey, DATA, der, mediaType), false);
      assert.equal(verifySignatureBytes(ES256.name, ec.publicKey, DATA, Uint8Array.from([0, ...p1363]), mediaType), false);
      assert.equal(verifySignatureBytes(ES256.name, ec.publicKey, DATA, p1363.subarray(1), mediaType), false);
    }
  });

  it('is false, never throwing, when the key does not match the algorithm or the bytes do not verify', () => {
    const signature = pss(rsa.privateKey, 'sha256', 32);
    assert.equal(verifySignatureBytes(PS256.name, rsa.publicKey, Buffer.from('other data'), signature, JWS_MEDIA_TYPE), false);
    assert.equal(verifySignatureBytes(PS256.name, keyOf(ES256).publicKey, DATA, signature, JWS_MEDIA_TYPE), false);
    assert.equal(verifySignatureBytes(PS384.name, rsa.publicKey, DATA, new Uint8Array(384), JWS_MEDIA_TYPE), false);
    assert.equal(verifySignatureBytes('RSASSA-PKCS1-v1_5' as never, rsa.publicKey, DATA, signature, JWS_MEDIA_TYPE), false);
    const ed = generateKeyPairSync('ed25519').publicKey;
    assert.equal(verifySignatureBytes(ES256.name, ed, DATA, new Uint8Array(64), COSE_MEDIA_TYPE), false);
    // An RSA-2048 key under an RSA-3072 algorithm is algorithm substitution, even if the bytes verified.
    assert.equal(verifySignatureBytes(PS384.name, rsa.publicKey, DATA, pss(rsa.privateKey, 'sha384', 48), JWS_MEDIA_TYPE), false);
  });
});

describe('createRawSigner', () => {
  for (const algorithm of ALGORITHMS) {
    it(`signs ${algorithm.jws} with the size and salt both envelopes verify`, async () => {
      const signature = await createRawSigner(keyOf(algorithm).privateKey, algorithm.name)(DATA);
      assert.equal(signature.length, algorithm.signatureSize);
      for (const mediaType of MEDIA_TYPES) assert.equal(verifySignatureBytes(algorithm.name, keyOf(algorithm).publicKey, DATA, signature, mediaType), true);
    });
  }

  it('refuses a key that is not the algorithm key spec, a public key and an unknown algorithm', () => {
    const isSigningFailed = (e: unknown): boolean => e instanceof SigningError && e.code === 'SIGNING_FAILED';
    assert.throws(() => createRawSigner(keyOf(ES256).privateKey, PS256.name), isSigningFailed);
    assert.throws(() => createRawSigner(keyOf(PS256).privateKey, PS384.name), isSigningFailed);
    assert.throws(() => createRawSigner(keyOf(PS256).publicKey, PS256.name), isSigningFailed);
    assert.throws(() => createRawSigner(generateKeyPairSync('ed25519').privateKey, ES256.name), isSigningFailed);
    assert.throws(() => createRawSigner(keyOf(PS256).privateKey, 'RS256' as never), isSigningFailed);
  });
});
