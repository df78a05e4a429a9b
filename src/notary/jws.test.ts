import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { flattenedVerify } from 'jose';
import { NOTATION_LAYOUTS, SHARED_TESTDATA } from '../../test/support/shared.js';
import { ALGORITHMS, type AlgorithmInfo } from './algorithm.js';
import { createRawSigner, verifySignatureBytes } from './codec.js';
import { JWS_MEDIA_TYPE, PAYLOAD_CONTENT_TYPE, type SignRequest, type SigningScheme } from './envelope.js';
import { EnvelopeError, SigningError, type NotaryErrorCode } from './errors.js';
import { decodeJws, encodeGoJson, encodeJws, formatRfc3339, type JsonNumber, MAX_JSON_DEPTH, parseJson, parseJsonStrictly, parseRfc3339 } from './jws.js';
import { encodePayload } from './payload.js';
import { fixtureKeyOf as keyOf } from '../../test/support/notary.js';

const SIGNATURES = join(SHARED_TESTDATA, 'notation-e2e/signatures');

const PS256 = ALGORITHMS[0]!;
const ES256 = ALGORITHMS[3]!;

const TARGET = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'ab'.repeat(32)}`, size: 517 };
const SIGNING_TIME = new Date('2024-12-31T08:05:29.750Z');

function request(algorithm: AlgorithmInfo, overrides: Partial<SignRequest> = {}): SignRequest {
  return {
    payload: { contentType: PAYLOAD_CONTENT_TYPE, content: encodePayload(TARGET) },
    signingScheme: 'notary.x509',
    signingTime: SIGNING_TIME,
    signingAgent: 'sigil/test',
    signatureAlgorithm: algorithm.name,
    certificateChain: [keyOf(algorithm).der],
    ...overrides,
  };
}

async function sign(algorithm: AlgorithmInfo, overrides: Partial<SignRequest> = {}): Promise<Uint8Array> {
  return encodeJws(request(algorithm, overrides), createRawSigner(keyOf(algorithm).privateKey, algorithm.name));
}

function b64url(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64url');
}

const GOOD_PROTECTED = {
  alg: 'PS256',
  crit: ['io.cncf.notary.signingScheme'],
  cty: PAYLOAD_CONTENT_TYPE,
  'io.cncf.notary.signingScheme': 'notary.x509',
  'io.cncf.notary.signingTime': '2024-12-31T08:05:29Z',
};
const GOOD_PAYLOAD = '{"targetArtifact":{"mediaType":"application/octet-stream","digest":"sha256:' + 'ab'.repeat(32) + '","size":1}}';

/** Builds an envelope from parts; protected and payload are JSON texts or objects, signature bytes are arbitrary. */
function envelope(parts: { protected?: unknown; payload?: string; header?: unknown; signature?: string; extra?: string } = {}): Uint8Array {
  const protectedPart = parts.protected ?? GOOD_PROTECTED;
  const protectedText = typeof protectedPart === 'string' ? protectedPart : JSON.stringify(protectedPart);
  const header = parts.header ?? { x5c: [Buffer.from(keyOf(PS256).der).toString('base64')] };
  const json = `{"payload":"${b64url(parts.payload ?? GOOD_PAYLOAD)}","protected":"${b64url(protectedText)}","header":${typeof header === 'string' ? header : JSON.stringify(header)},"signature":"${parts.signature ?? b64url(new Uint8Array(256).fill(7))}"${parts.extra ?? ''}}`;
  return new Uint8Array(Buffer.from(json));
}

function assertEnvelopeError(fn: () => unknown, code: NotaryErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EnvelopeError, `expected EnvelopeError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

async function assertSigningError(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (e: unknown) => e instanceof SigningError && e.code === 'SIGNING_FAILED');
}

function withProtected(changes: Record<string, unknown>, remove: readonly string[] = []): Uint8Array {
  const header: Record<string, unknown> = { ...GOOD_PROTECTED, ...changes };
  for (const key of remove) delete header[key];
  return envelope({ protected: header });
}

describe('decodeJws reads real Notation signatures', () => {
  it('decodes and verifies the timestamped blob signature notation-go 1.3 made', () => {
    const decoded = decodeJws(readFileSync(join(SIGNATURES, 'blob.jws.sig')));
    const { signerInfo, payload } = decoded.content;
    assert.equal(decoded.mediaType, JWS_MEDIA_TYPE);
    assert.equal(signerInfo.signatureAlgorithm, 'RSASSA-PSS-SHA-256');
    assert.equal(signerInfo.signedAttributes.signingScheme, 'notary.x509');
    assert.equal(signerInfo.signedAttributes.signingTime.toISOString(), '2024-12-31T08:05:29.000Z');
    assert.equal(signerInfo.signedAttributes.expiry, undefined);
    assert.deepEqual(signerInfo.signedAttributes.extendedAttributes, []);
    assert.equal(signerInfo.unsignedAttributes.signingAgent, 'notation-go/1.3.0+unreleased');
    // A DER TimeStampToken is a CMS ContentInfo: SEQUENCE, then the signedData OID.
    assert.equal(signerInfo.unsignedAttributes.timestampSignature?.[0], 0x30);
    assert.equal(signerInfo.certificateChain.length, 1);
    assert.equal(signerInfo.signature.length, 256);
    assert.equal(payload.contentType, PAYLOAD_CONTENT_TYPE);
    assert.match(Buffer.from(payload.content).toString(), /"size":11357/);
    const leaf = new X509Certificate(signerInfo.certificateChain[0]!);
    assert.equal(verifySignatureBytes(signerInfo.signatureAlgorithm, leaf.publicKey, decoded.signedBytes, signerInfo.signature, JWS_MEDIA_TYPE), true);
  });

  it('decodes and verifies the signature layer of the e2e-valid-signature OCI layout', () => {
    const blobs = join(NOTATION_LAYOUTS, 'e2e-valid-signature/blobs/sha256');
    const manifest = JSON.parse(readFileSync(join(blobs, '90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f'), 'utf8')) as { layers: { mediaType: string; digest: string }[] };
    const layer = manifest.layers[0]!;
    assert.equal(layer.mediaType, JWS_MEDIA_TYPE);
    const decoded = decodeJws(readFileSync(join(blobs, layer.digest.slice('sha256:'.length))));
    const { signerInfo } = decoded.content;
    // The protected header says 2023-06-27T13:30:33+08:00: the offset is honoured.
    assert.equal(signerInfo.signedAttributes.signingTime.toISOString(), '2023-06-27T05:30:33.000Z');
    assert.equal(signerInfo.unsignedAttributes.signingAgent, 'Notation/1.0.0');
    assert.equal(signerInfo.unsignedAttributes.timestampSignature, undefined);
    const leaf = new X509Certificate(signerInfo.certificateChain[0]!);
    assert.equal(leaf.subject.includes('CN=e2e'), true);
    assert.equal(verifySignatureBytes(signerInfo.signatureAlgorithm, leaf.publicKey, decoded.signedBytes, signerInfo.signature, JWS_MEDIA_TYPE), true);
  });

  it("re-serializes Notation's protected header and payload byte for byte, as golang-jwt writes them", () => {
    const raw = JSON.parse(readFileSync(join(SIGNATURES, 'blob.jws.sig'), 'utf8')) as { protected: string; payload: string };
    for (const part of [raw.protected, raw.payload]) {
      const text = Buffer.from(part, 'base64url').toString();
      assert.equal(encodeGoJson(parseJson(text, { code: 'ENVELOPE_INVALID', what: 'test' })), text);
    }
  });

  it('rejects malformed.jws.sig as an EnvelopeError', () => {
    assertEnvelopeError(() => decodeJws(readFileSync(join(SIGNATURES, 'malformed.jws.sig'))), 'ENVELOPE_INVALID');
  });
});

describe('encodeJws', () => {
  for (const algorithm of ALGORITHMS) {
    it(`writes ${algorithm.jws} envelopes that jose's flattenedVerify accepts with the leaf key`, async () => {
      const bytes = await sign(algorithm, { expiry: new Date('2030-01-01T00:00:00Z'), extendedAttributes: [{ key: 'io.example.critical', value: 'x', critical: true }] });
      const jws = JSON.parse(Buffer.from(bytes).toString()) as { payload: string; protected: string; signature: string; header: Record<string, unknown> };
      const result = await flattenedVerify(jws, keyOf(algorithm).publicKey, {
        algorithms: [algorithm.jws],
        crit: { 'io.cncf.notary.signingScheme': true, 'io.cncf.notary.expiry': true, 'io.example.critical': true },
      });
      assert.deepEqual(Buffer.from(result.payload).toString(), '{"targetArtifact":{"digest":"sha256:' + 'ab'.repeat(32) + '","mediaType":"application/vnd.oci.image.manifest.v1+json","size":517}}');
      assert.equal(result.protectedHeader?.alg, algorithm.jws);
    });
  }

  it('writes the protected header as Notation does: compact, keys sorted, UTC to the second, crit in Notation order', async () => {
    const bytes = await sign(PS256, {
      signingScheme: 'notary.x509.signingAuthority',
      expiry: new Date('2030-01-01T00:00:00.900Z'),
      extendedAttributes: [
        { key: 'io.cncf.notary.verificationPlugin', value: 'plugin-name', critical: true },
        { key: 'a<b>&c', value: { z: 1, a: [true, null, 'é'] }, critical: false },
      ],
    });
    const jws = JSON.parse(Buffer.from(bytes).toString()) as { protected: string; header: Record<string, unknown> };
    assert.equal(
      Buffer.from(jws.protected, 'base64url').toString(),
      '{"a\\u003cb\\u003e\\u0026c":{"a":[true,null,"é"],"z":1},"alg":"PS256","crit":["io.cncf.notary.signingScheme","io.cncf.notary.verificationPlugin","io.cncf.notary.authenticSigningTime","io.cncf.notary.expiry"],' +
        '"cty":"application/vnd.cncf.notary.payload.v1+json","io.cncf.notary.authenticSigningTime":"2024-12-31T08:05:29Z","io.cncf.notary.expiry":"2030-01-01T00:00:00Z",' +
        '"io.cncf.notary.signingScheme":"notary.x509.signingAuthority","io.cncf.notary.verificationPlugin":"plugin-name"}',
    );
    assert.deepEqual(Object.keys(JSON.parse(Buffer.from(bytes).toString()) as object), ['payload', 'protected', 'header', 'signature']);
    assert.deepEqual(Object.keys(jws.header), ['x5c', 'io.cncf.notary.signingAgent']);
  });

  it('puts a timestamp token from the timestamp hook in the unprotected header, over the raw signature', async () => {
    let seen: Uint8Array | undefined;
    const bytes = await encodeJws(request(ES256), createRawSigner(keyOf(ES256).privateKey, ES256.name), {
      timestamp: async (signature) => {
        seen = signature;
        return Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01);
      },
    });
    const jws = JSON.parse(Buffer.from(bytes).toString()) as { header: Record<string, unknown> };
    assert.deepEqual(Object.keys(jws.header), ['io.cncf.notary.timestampSignature', 'x5c', 'io.cncf.notary.signingAgent']);
    const decoded = decodeJws(bytes);
    assert.deepEqual(decoded.content.signerInfo.signature, seen);
    assert.deepEqual(decoded.content.signerInfo.unsignedAttributes.timestampSignature, Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01));
  });

  it('refuses requests that cannot make a valid envelope', async () => {
    const signer = createRawSigner(keyOf(PS256).privateKey, PS256.name);
    const cases: [string, Partial<SignRequest>][] = [
      ['another content type', { payload: { contentType: 'application/json', content: encodePayload(TARGET) } }],
      ['an empty payload', { payload: { contentType: PAYLOAD_CONTENT_TYPE, content: new Uint8Array(0) } }],
      ['a payload that is a JSON array', { payload: { contentType: PAYLOAD_CONTENT_TYPE, content: Buffer.from('[1]') } }],
      ['a payload with duplicate keys', { payload: { contentType: PAYLOAD_CONTENT_TYPE, content: Buffer.from('{"a":1,"a":2}') } }],
      ['an empty chain', { certificateChain: [] }],
      ['a leaf whose key is another spec', { certificateChain: [keyOf(ES256).der] }],
      ['an expiry equal to the signing time (after truncation)', { expiry: new Date('2024-12-31T08:05:29.999Z') }],
      ['an invalid signing time', { signingTime: new Date(NaN) }],
      ['an unknown signing scheme', { signingScheme: 'notary.other' as SigningScheme }],
      ['an extended attribute named like a standard header', { extendedAttributes: [{ key: 'cty', value: 'x', critical: false }] }],
      ['an extended attribute differing from a standard header only in case', { extendedAttributes: [{ key: 'ALG', value: 'x', critical: false }] }],
      ['an extended attribute named x5c', { extendedAttributes: [{ key: 'x5c', value: 'x', critical: false }] }],
      ['two extended attributes with one key', { extendedAttributes: [{ key: 'k', value: 1, critical: false }, { key: 'k', value: 2, critical: false }] }],
      ['an integer extended attribute key', { extendedAttributes: [{ key: 7, value: 1, critical: false }] }],
      ['an extended attribute JSON cannot carry', { extendedAttributes: [{ key: 'k', value: 1n, critical: false }] }],
      ['a year JSON RFC 3339 cannot carry', { signingTime: new Date('+010000-01-01T00:00:00Z') }],
    ];
    for (const [why, overrides] of cases) {
      await assertSigningError(encodeJws(request(PS256, overrides), signer)).catch((e: unknown) => assert.fail(`${why}: ${String(e)}`));
    }
  });

  it('refuses a signer that returns DER ECDSA instead of r||s, or fails', async () => {
    await assertSigningError(encodeJws(request(ES256), async () => new Uint8Array(70)));
    await assertSigningError(encodeJws(request(ES256), async () => Promise.reject(new Error('hsm offline'))));
  });

  it('refuses an empty timestamp token, as Notation aborts when the TSA gives none', async () => {
    const signer = createRawSigner(keyOf(PS256).privateKey, PS256.name);
    await assertSigningError(encodeJws(request(PS256), signer, { timestamp: async () => new Uint8Array(0) }));
    await assertSigningError(encodeJws(request(PS256), signer, { timestamp: async () => Promise.reject(new Error('tsa down')) }));
  });

  it('refuses a timestamp for the signingAuthority scheme', async () => {
    const signer = createRawSigner(keyOf(PS256).privateKey, PS256.name);
    await assertSigningError(encodeJws(request(PS256, { signingScheme: 'notary.x509.signingAuthority' }), signer, { timestamp: async () => new Uint8Array(1) }));
  });
});

describe('encodeJws and decodeJws round-trip', () => {
  for (const algorithm of ALGORITHMS) {
    for (const scheme of ['notary.x509', 'notary.x509.signingAuthority'] as const) {
      it(`keeps every attribute for ${algorithm.jws} with ${scheme}`, async () => {
        const extendedAttributes = [
          { key: 'io.cncf.notary.verificationPlugin', value: 'com.example.plugin', critical: true },
          { key: 'io.cncf.notary.verificationPluginMinVersion', value: '1.0.0', critical: true },
          { key: 'io.example.note', value: { nested: [1, 2.5, 'three'] }, critical: false },
        ];
        const expiry = new Date('2125-01-01T00:00:00Z');
        const bytes = await sign(algorithm, { signingScheme: scheme, expiry, extendedAttributes, certificateChain: [keyOf(algorithm).der, keyOf(PS256).der] });
        const decoded = decodeJws(bytes);
        const { signerInfo, payload } = decoded.content;
        assert.equal(signerInfo.signatureAlgorithm, algorithm.name);
        assert.equal(signerInfo.signature.length, algorithm.signatureSize);
        assert.equal(signerInfo.signedAttributes.signingScheme, scheme);
        assert.equal(signerInfo.signedAttributes.signingTime.toISOString(), '2024-12-31T08:05:29.000Z');
        assert.deepEqual(signerInfo.signedAttributes.expiry, expiry);
        assert.deepEqual(
          [...signerInfo.signedAttributes.extendedAttributes].sort((a, b) => String(a.key).localeCompare(String(b.key))),
          [...extendedAttributes].sort((a, b) => a.key.localeCompare(b.key)),
        );
        assert.equal(signerInfo.unsignedAttributes.signingAgent, 'sigil/test');
        assert.deepEqual(signerInfo.certificateChain, [keyOf(algorithm).der, keyOf(PS256).der]);
        assert.equal(payload.contentType, PAYLOAD_CONTENT_TYPE);
        assert.equal(verifySignatureBytes(algorithm.name, keyOf(algorithm).publicKey, decoded.signedBytes, signerInfo.signature, JWS_MEDIA_TYPE), true);
      });
    }
  }

  it('omits an empty signing agent, as Go omitempty does', async () => {
    const decoded = decodeJws(await sign(ES256, { signingAgent: '' }));
    assert.equal(decoded.content.signerInfo.unsignedAttributes.signingAgent, undefined);
  });
});

describe('decodeJws and verifySignatureBytes detect tampering', () => {
  it('decodes a tampered payload, protected header or signature, but the signature no longer verifies', async () => {
    const bytes = await sign(PS256);
    const jws = JSON.parse(Buffer.from(bytes).toString()) as Record<string, string>;
    const tampered = [
      { ...jws, payload: b64url(Buffer.from(Buffer.from(jws.payload!, 'base64url').toString().replace('517', '518'))) },
      { ...jws, protected: b64url(Buffer.from(Buffer.from(jws.protected!, 'base64url').toString().replace('08:05:29', '08:05:30'))) },
      { ...jws, signature: b64url(Buffer.from(jws.signature!, 'base64url').map((b, i) => (i === 10 ? b ^ 1 : b))) },
    ];
    for (const variant of tampered) {
      const decoded = decodeJws(Buffer.from(JSON.stringify(variant)));
      const { signerInfo } = decoded.content;
      assert.equal(verifySignatureBytes(signerInfo.signatureAlgorithm, keyOf(PS256).publicKey, decoded.signedBytes, signerInfo.signature, JWS_MEDIA_TYPE), false);
    }
  });
});

describe('decodeJws rejects envelopes that break signature-envelope-jws.md', () => {
  const x5c = [Buffer.from(keyOf(PS256).der).toString('base64')];
  const cases: [string, () => Uint8Array, NotaryErrorCode][] = [
    ['a padded base64url protected header', () => {
      const json = Buffer.from(envelope()).toString();
      const text = JSON.stringify(GOOD_PROTECTED).slice(0, -1) + ' }';
      return Buffer.from(json.replace(/"protected":"[^"]*"/, `"protected":"${Buffer.from(text).toString('base64url')}=="`));
    }, 'ENVELOPE_INVALID'],
    ['a padded base64url signature', () => envelope({ signature: Buffer.from(new Uint8Array(255)).toString('base64url') + '=' }), 'ENVELOPE_INVALID'],
    ['standard base64 characters in the signature', () => envelope({ signature: '+/' + 'A'.repeat(340) }), 'ENVELOPE_INVALID'],
    ['a base64url length no encoder makes', () => envelope({ signature: 'A'.repeat(341) }), 'ENVELOPE_INVALID'],
    ['a line break in the payload', () => Buffer.from(Buffer.from(envelope()).toString().replace('"payload":"eyJ', '"payload":"ey\\nJ')), 'ENVELOPE_INVALID'],
    ['no x5c', () => envelope({ header: {} }), 'ENVELOPE_INVALID'],
    ['an empty x5c', () => envelope({ header: { x5c: [] } }), 'ENVELOPE_INVALID'],
    ['x5c as a string', () => envelope({ header: { x5c: x5c[0] } }), 'ENVELOPE_INVALID'],
    ['an x5c entry in base64url', () => envelope({ header: { x5c: [Buffer.from(keyOf(PS256).der).toString('base64url')] } }), 'ENVELOPE_INVALID'],
    ['an unpadded x5c entry', () => envelope({ header: { x5c: ['AAAAAA'.slice(0, 5)] } }), 'ENVELOPE_INVALID'],
    ['no header', () => Buffer.from(`{"payload":"${b64url(GOOD_PAYLOAD)}","protected":"${b64url(JSON.stringify(GOOD_PROTECTED))}","signature":"AAAA"}`), 'ENVELOPE_INVALID'],
    ['a non-string signing agent', () => envelope({ header: { x5c, 'io.cncf.notary.signingAgent': 1 } }), 'ENVELOPE_INVALID'],
    ['a timestamp in base64url', () => envelope({ header: { x5c, 'io.cncf.notary.timestampSignature': '-_-_' } }), 'ENVELOPE_INVALID'],
    ['an unknown alg', () => withProtected({ alg: 'PS1024' }), 'ALGORITHM_UNSUPPORTED'],
    ['alg none', () => withProtected({ alg: 'none' }), 'ALGORITHM_UNSUPPORTED'],
    ['RSASSA-PKCS1-v1_5 (RS256)', () => withProtected({ alg: 'RS256' }), 'ALGORITHM_UNSUPPORTED'],
    ['HMAC (HS256)', () => withProtected({ alg: 'HS256' }), 'ALGORITHM_UNSUPPORTED'],
    ['a missing alg', () => withProtected({}, ['alg']), 'ENVELOPE_INVALID'],
    ['a non-string alg', () => withProtected({ alg: 1 }), 'ENVELOPE_INVALID'],
    ['a missing crit', () => withProtected({}, ['crit']), 'ENVELOPE_INVALID'],
    ['an empty crit', () => withProtected({ crit: [] }), 'ENVELOPE_INVALID'],
    ['crit not an array', () => withProtected({ crit: 'io.cncf.notary.signingScheme' }), 'ENVELOPE_INVALID'],
    ['crit without signingScheme', () => withProtected({ crit: ['io.example.x'], 'io.example.x': 1 }), 'ENVELOPE_INVALID'],
    ['crit listing alg, a standard header', () => withProtected({ crit: ['io.cncf.notary.signingScheme', 'alg'] }), 'ENVELOPE_INVALID'],
    ['crit listing signingTime, a standard header', () => withProtected({ crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.signingTime'] }), 'ENVELOPE_INVALID'],
    ['crit listing a header that is not present', () => withProtected({ crit: ['io.cncf.notary.signingScheme', 'io.example.absent'] }), 'ENVELOPE_INVALID'],
    ['crit listing signingScheme twice', () => withProtected({ crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.signingScheme'] }), 'ENVELOPE_INVALID'],
    ['crit listing expiry when there is none', () => withProtected({ crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'] }), 'ENVELOPE_INVALID'],
    ['an expiry not marked critical', () => withProtected({ 'io.cncf.notary.expiry': '2099-01-01T00:00:00Z' }), 'ENVELOPE_INVALID'],
    ['signingAuthority without authenticSigningTime in crit', () =>
      withProtected({ 'io.cncf.notary.signingScheme': 'notary.x509.signingAuthority', 'io.cncf.notary.authenticSigningTime': '2024-12-31T08:05:29Z' }, ['io.cncf.notary.signingTime']), 'ENVELOPE_INVALID'],
    ['signingTime missing for notary.x509', () => withProtected({}, ['io.cncf.notary.signingTime']), 'ENVELOPE_INVALID'],
    ['signingTime at the Go zero time, which Notation reads as missing', () => withProtected({ 'io.cncf.notary.signingTime': '0001-01-01T00:00:00Z' }), 'ENVELOPE_INVALID'],
    ['authenticSigningTime for notary.x509', () => withProtected({ 'io.cncf.notary.authenticSigningTime': '2024-12-31T08:05:29Z' }), 'ENVELOPE_INVALID'],
    ['signingTime present for signingAuthority', () =>
      withProtected({
        'io.cncf.notary.signingScheme': 'notary.x509.signingAuthority',
        crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.authenticSigningTime'],
        'io.cncf.notary.authenticSigningTime': '2024-12-31T08:05:29Z',
      }), 'ENVELOPE_INVALID'],
    ['authenticSigningTime missing for signingAuthority', () =>
      withProtected({ 'io.cncf.notary.signingScheme': 'notary.x509.signingAuthority', crit: ['io.cncf.notary.signingScheme'] }, ['io.cncf.notary.signingTime']), 'ENVELOPE_INVALID'],
    ['an expiry before the signing time', () =>
      withProtected({ crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'], 'io.cncf.notary.expiry': '2024-12-31T08:05:28Z' }), 'ENVELOPE_INVALID'],
    ['an expiry equal to the signing time', () =>
      withProtected({ crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'], 'io.cncf.notary.expiry': '2024-12-31T10:05:29+02:00' }), 'ENVELOPE_INVALID'],
    ['a signing time without a zone', () => withProtected({ 'io.cncf.notary.signingTime': '2024-12-31T08:05:29' }), 'ENVELOPE_INVALID'],
    ['a signing time with a lower-case t', () => withProtected({ 'io.cncf.notary.signingTime': '2024-12-31t08:05:29Z' }), 'ENVELOPE_INVALID'],
    ['a leap second', () => withProtected({ 'io.cncf.notary.signingTime': '2016-12-31T23:59:60Z' }), 'ENVELOPE_INVALID'],
    ['a signing time as a number', () => withProtected({ 'io.cncf.notary.signingTime': 1735632329 }), 'ENVELOPE_INVALID'],
    ['an unknown signing scheme', () => withProtected({ 'io.cncf.notary.signingScheme': 'notary.x509.v2' }), 'ENVELOPE_UNSUPPORTED'],
    ['a missing signing scheme', () => withProtected({}, ['io.cncf.notary.signingScheme']), 'ENVELOPE_INVALID'],
    ['a wrong cty', () => withProtected({ cty: 'application/json' }), 'ENVELOPE_INVALID'],
    ['a missing cty', () => withProtected({}, ['cty']), 'ENVELOPE_INVALID'],
    ['a protected header key differing from alg only in case', () => withProtected({ ALG: 'ES256' }), 'ENVELOPE_INVALID'],
    ['a protected header that is an array', () => envelope({ protected: '[]' }), 'ENVELOPE_INVALID'],
    ['a protected header that is not JSON', () => envelope({ protected: 'not json' }), 'ENVELOPE_INVALID'],
    ['a header parameter in both headers', () => withProtected({ x5c: ['AAAA'] }), 'ENVELOPE_INVALID'],
    ['duplicate top-level keys', () => envelope({ extra: `,"payload":"${b64url('{"a":1}')}"` }), 'ENVELOPE_INVALID'],
    ['duplicate keys in the protected header', () => envelope({ protected: JSON.stringify(GOOD_PROTECTED).replace('{', '{"alg":"ES256",') }), 'ENVELOPE_INVALID'],
    ['duplicate keys spelled with escapes', () => envelope({ protected: JSON.stringify(GOOD_PROTECTED).replace('{', '{"\\u0061lg":"ES256",') }), 'ENVELOPE_INVALID'],
    ['duplicate keys in the unprotected header', () => envelope({ header: `{"x5c":${JSON.stringify(x5c)},"x5c":[]}` }), 'ENVELOPE_INVALID'],
    ['duplicate keys in an ignored top-level value', () => envelope({ extra: ',"ignored":{"a":1,"a":2}' }), 'ENVELOPE_INVALID'],
    ['a top-level key differing from payload only in case', () => envelope({ extra: ',"Payload":"e30"' }), 'ENVELOPE_INVALID'],
    ['a top-level key matching signature under Unicode folding (ſ)', () => envelope({ extra: ',"ſignature":"AAAA"' }), 'ENVELOPE_INVALID'],
    ['100000 levels of nesting in an ignored key', () => envelope({ extra: `,"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}` }), 'ENVELOPE_INVALID'],
    ['100000 levels of nesting in the protected header', () => envelope({ protected: `{"x":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}` }), 'ENVELOPE_INVALID'],
    ['an empty payload', () => envelope({ payload: '' }), 'PAYLOAD_INVALID'],
    ['a payload that is a JSON string', () => envelope({ payload: '"x"' }), 'PAYLOAD_INVALID'],
    ['a payload with trailing data (golang-jwt ignores it, notation-go does not)', () => envelope({ payload: `${GOOD_PAYLOAD}x` }), 'PAYLOAD_INVALID'],
    ['a payload with duplicate keys', () => envelope({ payload: '{"a":1,"a":2}' }), 'PAYLOAD_INVALID'],
    ['an empty signature', () => envelope({ signature: '' }), 'ENVELOPE_INVALID'],
    ['a missing signature', () => Buffer.from(Buffer.from(envelope()).toString().replace(/,"signature":"[^"]*"/, '')), 'ENVELOPE_INVALID'],
    ['a numeric payload field', () => Buffer.from(Buffer.from(envelope()).toString().replace(/"payload":"[^"]*"/, '"payload":1')), 'ENVELOPE_INVALID'],
    ['an envelope that is an array', () => Buffer.from('[]'), 'ENVELOPE_INVALID'],
    ['trailing bytes after the envelope', () => Buffer.concat([envelope(), Buffer.from(' {}')]), 'ENVELOPE_INVALID'],
    ['a byte-order mark', () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), envelope()]), 'ENVELOPE_INVALID'],
    ['invalid UTF-8', () => Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), 'ENVELOPE_INVALID'],
    ['an envelope over 32 MiB', () => new Uint8Array(32 * 1024 * 1024 + 1), 'ENVELOPE_INVALID'],
  ];
  for (const [why, make, code] of cases) {
    it(`rejects ${why} with ${code}`, () => assertEnvelopeError(() => decodeJws(make()), code));
  }

  it('accepts what golang-jwt and Go accept: unknown top-level keys, offsets and fractions in times, extended critical headers', () => {
    const decoded = decodeJws(
      envelope({
        protected: {
          ...GOOD_PROTECTED,
          crit: ['io.cncf.notary.signingScheme', 'io.example.crit', 'io.cncf.notary.expiry'],
          'io.cncf.notary.signingTime': '2024-12-31T09:05:29.123456789+01:00',
          'io.cncf.notary.expiry': '2124-12-31T08:05:29Z',
          'io.example.crit': { any: ['json'] },
          'io.example.plain': 42,
        },
        header: { x5c, ignored: true, 'io.cncf.notary.timestampSignature': '' },
        extra: ',"signatures":[],"__proto__":{"x":1}',
      }),
    );
    const { signedAttributes, unsignedAttributes } = decoded.content.signerInfo;
    assert.equal(signedAttributes.signingTime.toISOString(), '2024-12-31T08:05:29.123Z');
    assert.equal(signedAttributes.expiry?.toISOString(), '2124-12-31T08:05:29.000Z');
    assert.deepEqual(signedAttributes.extendedAttributes, [
      { key: 'io.example.crit', value: { any: ['json'] }, critical: true },
      { key: 'io.example.plain', value: 42, critical: false },
    ]);
    // An empty timestamp is no timestamp (Go's len(...) == 0).
    assert.equal(unsignedAttributes.timestampSignature, undefined);
  });

  it('reads an expiry at the Go zero time as no expiry, as notation-core-go does', () => {
    const decoded = decodeJws(withProtected({ 'io.cncf.notary.expiry': '0001-01-01T00:00:00Z' }));
    assert.equal(decoded.content.signerInfo.signedAttributes.expiry, undefined);
  });

  it('signs over the base64url text exactly as sent', () => {
    const bytes = envelope();
    const json = JSON.parse(Buffer.from(bytes).toString()) as Record<string, string>;
    assert.equal(Buffer.from(decodeJws(bytes).signedBytes).toString('ascii'), `${json.protected}.${json.payload}`);
  });

  it('only ever throws EnvelopeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          decodeJws(bytes);
        } catch (e) {
          assert.ok(e instanceof EnvelopeError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('only ever throws EnvelopeError on random JSON documents and on mutated real envelopes', async () => {
    const real = Buffer.from(await sign(ES256, { expiry: new Date('2030-01-01T00:00:00Z') }));
    fc.assert(
      fc.property(fc.json(), fc.integer({ min: 0, max: real.length - 1 }), fc.integer({ min: 0, max: 255 }), (json, at, byte) => {
        for (const bytes of [Buffer.from(json), Buffer.from(real).fill(byte, at, at + 1), real.subarray(0, at)]) {
          try {
            decodeJws(bytes);
          } catch (e) {
            assert.ok(e instanceof EnvelopeError, String(e));
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parseJson', () => {
  it('agrees with JSON.parse on every JSON text without duplicate keys', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        assert.deepEqual(parseJson(text, { code: 'ENVELOPE_INVALID', what: 't' }), JSON.parse(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same answer, value or error message, on its fast path as the strict parser', () => {
    const outcome = (parse: typeof parseJson, text: string, numbers: 'value' | 'text'): unknown => {
      try {
        return { value: parse(text, { code: 'ENVELOPE_INVALID', what: 't', numbers }) };
      } catch (error) {
        return { error: (error as Error).message };
      }
    };
    // Past 16 keys the duplicate check changes representation.
    const wide = Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(',');
    const key = (k: string) => k.replace(/["\\\u0000-\u001f]/g, '');
    const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom('-0', '0', '1.0', '1e2', '12345678901234567', '999999999999999', '-999999999999999', '9007199254740993', '0.1'));
    const texts = fc.oneof(
      fc.json(),
      // A duplicate key somewhere inside, or a key repeated in sibling objects (allowed).
      fc.tuple(fc.json(), fc.string({ maxLength: 4 }), fc.boolean()).map(([inner, k, duplicate]) => `{"${key(k)}":${inner},"x":[{"k":1},{"k":2}]${duplicate ? `,"${key(k)}":0` : ''}}`),
      // Payload-shaped documents whose numbers are integers, or nearly.
      fc.tuple(number, fc.string({ maxLength: 6 }), number).map(([size, k, other]) => `{"targetArtifact":{"mediaType":"m","digest":"d","size":${String(size)},"annotations":{"${key(k)}":"v"}},"__proto__":${String(other)}}`),
      fc.constantFrom('{"a":1,"a":2}', '[{"a":{"b":1,"b":2}}]', '{"a":1e400}', '[-1e999]', `${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`, '{"a":[1,2,{"a":3}],"b":{}}', '{} ', '{"a" :  "b" , "c":[ ]}', '{"__proto__":1}', '[[1],{"a":[2,-3]}]', `{${wide}}`, `{${wide},"k3":0}`, `[{${wide}},{${wide}}]`),
    );
    fc.assert(
      fc.property(texts, (text) => {
        for (const numbers of ['value', 'text'] as const) assert.deepStrictEqual(outcome(parseJson, text, numbers), outcome(parseJsonStrictly, text, numbers));
      }),
      { numRuns: 3000 },
    );
    // An own "__proto__" key stays an ordinary property on the fast path too.
    const parsed = parseJson('{"__proto__":7}', { code: 'ENVELOPE_INVALID', what: 't', numbers: 'text' }) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
    assert.ok(Object.hasOwn(parsed, '__proto__'));
    assert.equal((parsed['__proto__'] as JsonNumber).text, '7');
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and rejects one more`, () => {
    assert.doesNotThrow(() => parseJson('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH), { code: 'ENVELOPE_INVALID', what: 't' }));
    assertEnvelopeError(() => parseJson('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1), { code: 'ENVELOPE_INVALID', what: 't' }), 'ENVELOPE_INVALID');
  });

  it('rejects what RFC 8259 does not allow', () => {
    for (const text of ['', '{', '{"a":1,}', '[1,]', '01', '1.', '.5', '+1', '"\t"', "'a'", '{a:1}', 'NaN', 'True', '"\\x41"', '"\\u12"', '1e400', '[1] [2]', '\u00a01']) {
      assertEnvelopeError(() => parseJson(text, { code: 'PAYLOAD_INVALID', what: 't' }), 'PAYLOAD_INVALID');
    }
  });

  it('replaces escaped lone surrogates with U+FFFD, as Go does, so they collide as keys', () => {
    assert.equal(parseJson('"\\ud800x"', { code: 'ENVELOPE_INVALID', what: 't' }), '\ufffdx');
    assert.equal(parseJson('"\\ud83d\\ude00"', { code: 'ENVELOPE_INVALID', what: 't' }), '😀');
    assertEnvelopeError(() => parseJson('{"\\ud800":1,"\\udc00":2}', { code: 'ENVELOPE_INVALID', what: 't' }), 'ENVELOPE_INVALID');
  });

  it('keeps "__proto__" as an ordinary key', () => {
    const value = parseJson('{"__proto__":{"polluted":true}}', { code: 'ENVELOPE_INVALID', what: 't' }) as Record<string, unknown>;
    assert.deepEqual(Object.keys(value), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('encodeGoJson', () => {
  it("escapes as Go's encoding/json: HTML characters, U+2028/9, control characters, lone surrogates", () => {
    assert.equal(encodeGoJson('<a & b>\u2028\u2029\u0001\b\f\n\r\t"\\/é\ud800'), '"\\u003ca \\u0026 b\\u003e\\u2028\\u2029\\u0001\\b\\f\\n\\r\\t\\"\\\\/é\\ufffd"');
  });

  it('sorts keys by their UTF-8 bytes, as Go sorts map keys', () => {
    // UTF-16 order would put U+FF5E before U+1F600; UTF-8 order puts it first as well, but
    // U+E000 (EE 80 80) sorts before U+1F600 (F0 9F 98 80) only bytewise.
    assert.equal(encodeGoJson({ '😀': 1, '\ue000': 2, b: 3, a: 4 }), '{"a":4,"b":3,"\ue000":2,"😀":1}');
  });

  it('refuses values JSON cannot carry', () => {
    for (const value of [undefined, NaN, Infinity, 1n, new Date(0), new Map(), () => 1]) {
      assert.throws(() => encodeGoJson(value), TypeError);
    }
  });
});

describe('RFC 3339 times', () => {
  it('parses what Go parses', () => {
    const cases: [string, string][] = [
      ['2023-06-27T13:30:33+08:00', '2023-06-27T05:30:33.000Z'],
      ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59.000Z'],
      ['2024-12-31T08:05:29.5-00:30', '2024-12-31T08:35:29.500Z'],
      ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
      ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000Z'],
      // Years below 100, where Date.UTC would read 19xx: 0000 is a leap year, 1900 is not.
      ['0000-02-29T12:00:00Z', '0000-02-29T12:00:00.000Z'],
      ['0048-02-29T00:00:00+01:00', '0048-02-28T23:00:00.000Z'],
      ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
      ['9999-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59.999Z'],
    ];
    for (const [text, iso] of cases) assert.equal(parseRfc3339(text)?.toISOString(), iso, text);
  });

  it('rejects what Go rejects', () => {
    for (const text of ['2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '0100-02-29T00:00:00Z', '2024-04-31T00:00:00Z', '2024-13-01T00:00:00Z', '2024-00-01T00:00:00Z', '2024-01-32T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:60:00Z', '2024-01-01 00:00:00Z', '2024-01-01T00:00:00z', '2024-01-01T00:00:00+24:00', '2024-01-01T00:00:00+0100', '24-01-01T00:00:00Z', '2024-01-01T00:00:00,5Z']) {
      assert.equal(parseRfc3339(text), undefined, text);
    }
  });

  it('formats UTC to the second, as Notation signs', () => {
    assert.equal(formatRfc3339(new Date('2024-12-31T08:05:29Z')), '2024-12-31T08:05:29Z');
    assert.equal(formatRfc3339(new Date('0099-01-01T00:00:00Z')), '0099-01-01T00:00:00Z');
  });

  it('round-trips every second of years 0 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: -62167219200, max: 253402300799 }), (seconds) => {
        const time = new Date(seconds * 1000);
        assert.equal(parseRfc3339(formatRfc3339(time))?.getTime(), time.getTime());
      }),
    );
  });
});
