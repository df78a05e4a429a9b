import assert from 'node:assert/strict';
import { constants, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decode as cbor2Decode, encode as cbor2Encode, Tag as ReferenceTag } from 'cbor2';
import fc from 'fast-check';
import { SHARED_TESTDATA } from '../../test/support/shared.js';
import { ALGORITHMS, type AlgorithmInfo } from './algorithm.js';
import { CborFloat, CborTag, decodeCbor, encodeCbor, isCborMap, type CborKey, type CborValue } from './cbor.js';
import { createRawSigner, verifySignatureBytes } from './codec.js';
import { decodeCose, encodeCose } from './cose.js';
import { COSE_MEDIA_TYPE, PAYLOAD_CONTENT_TYPE, type SignRequest } from './envelope.js';
import { EnvelopeError, SigningError, type NotaryErrorCode } from './errors.js';
import { encodePayload } from './payload.js';
import { fixtureKeyOf as keyOf } from '../../test/support/notary.js';

/** cbor2 serializes a Node Buffer through toJSON; hand it plain Uint8Arrays, as CBOR byte strings. */
function plainBytes(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  if (Array.isArray(value)) return value.map(plainBytes);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [plainBytes(k), plainBytes(v)]));
  return value;
}

const SIGNATURES = join(SHARED_TESTDATA, 'notation-e2e/signatures');

const PS256 = ALGORITHMS[0]!;
const ES384 = ALGORITHMS[4]!;

const TARGET = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'cd'.repeat(32)}`, size: 481 };
const SIGNING_TIME = new Date('2025-01-07T08:42:43.400Z');
/** cbor2, an independent CBOR implementation: maps as Map, byte strings as Buffer. */
const reference = { decode: (bytes: Uint8Array): unknown => cbor2Decode(Buffer.from(bytes), { preferMap: true }) };
const referenceEncoder = { encode: (value: unknown): Buffer => Buffer.from(cbor2Encode(plainBytes(value))) };

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
  return encodeCose(request(algorithm, overrides), createRawSigner(keyOf(algorithm).privateKey, algorithm.name));
}

function assertEnvelopeError(fn: () => unknown, code: NotaryErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EnvelopeError, `expected EnvelopeError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** The protected header of a valid notary.x509 PS256 signature, as a map to change. */
function goodProtected(): Map<CborKey, CborValue> {
  return new Map<CborKey, CborValue>([
    [1, -37],
    [2, ['io.cncf.notary.signingScheme']],
    [3, PAYLOAD_CONTENT_TYPE],
    ['io.cncf.notary.signingScheme', 'notary.x509'],
    ['io.cncf.notary.signingTime', new CborTag(1, 1736239363)],
  ]);
}

function goodUnprotected(): Map<CborKey, CborValue> {
  return new Map<CborKey, CborValue>([[33, [keyOf(PS256).der]], ['io.cncf.notary.signingAgent', 'sigil/test']]);
}

/** Builds a COSE_Sign1_Tagged from parts; the signature bytes are arbitrary. */
function message(parts: { protected?: Map<CborKey, CborValue> | Uint8Array; unprotected?: CborValue; payload?: CborValue; signature?: CborValue } = {}): Uint8Array {
  const protectedPart = parts.protected ?? goodProtected();
  return encodeCbor(
    new CborTag(18, [
      protectedPart instanceof Uint8Array ? protectedPart : encodeCbor(protectedPart),
      parts.unprotected ?? goodUnprotected(),
      'payload' in parts ? parts.payload : encodePayload(TARGET),
      parts.signature ?? new Uint8Array(256).fill(9),
    ]),
  );
}

function withProtected(change: (header: Map<CborKey, CborValue>) => void): Uint8Array {
  const header = goodProtected();
  change(header);
  return message({ protected: header });
}

function withUnprotected(change: (header: Map<CborKey, CborValue>) => void): Uint8Array {
  const header = goodUnprotected();
  change(header);
  return message({ unprotected: header });
}

describe('decodeCose reads a real Notation signature', () => {
  const bytes = readFileSync(join(SIGNATURES, 'blob.cose.sig'));

  it('decodes and verifies the timestamped blob signature notation-go 1.3 made', () => {
    const decoded = decodeCose(bytes);
    const { signerInfo, payload } = decoded.content;
    assert.equal(decoded.mediaType, COSE_MEDIA_TYPE);
    assert.equal(signerInfo.signatureAlgorithm, 'RSASSA-PSS-SHA-256');
    assert.equal(signerInfo.signedAttributes.signingScheme, 'notary.x509');
    assert.equal(signerInfo.signedAttributes.signingTime.toISOString(), '2025-01-07T08:42:43.000Z');
    assert.equal(signerInfo.signedAttributes.expiry, undefined);
    assert.deepEqual(signerInfo.signedAttributes.extendedAttributes, []);
    assert.equal(signerInfo.unsignedAttributes.signingAgent, 'notation-go/1.3.0+unreleased');
    assert.equal(signerInfo.unsignedAttributes.timestampSignature?.[0], 0x30);
    assert.equal(payload.contentType, PAYLOAD_CONTENT_TYPE);
    assert.match(Buffer.from(payload.content).toString(), /"size":11357/);
    const leaf = new X509Certificate(signerInfo.certificateChain[0]!);
    assert.equal(verifySignatureBytes(signerInfo.signatureAlgorithm, leaf.publicKey, decoded.signedBytes, signerInfo.signature, COSE_MEDIA_TYPE), true);
  });

  it("re-encodes Notation's protected header byte for byte: go-cose's canonical map order is Sigil's", () => {
    const outer = reference.decode(bytes) as ReferenceTag;
    const protectedBytes = (outer.contents as Buffer[])[0]!;
    const header = decodeCbor(protectedBytes);
    assert.ok(isCborMap(header));
    assert.deepEqual(Buffer.from(encodeCbor(header)), protectedBytes);
  });

  it('builds the same ToBeSigned as cbor2 does from the RFC 9052 Sig_structure', () => {
    const outer = reference.decode(bytes) as ReferenceTag;
    const [protectedBytes, , payload] = outer.contents as Buffer[];
    assert.deepEqual(Buffer.from(decodeCose(bytes).signedBytes), referenceEncoder.encode(['Signature1', protectedBytes, Buffer.alloc(0), payload]));
  });
});

describe('encodeCose', () => {
  for (const algorithm of ALGORITHMS) {
    it(`writes ${algorithm.jws} envelopes that cbor2 reads as COSE_Sign1_Tagged and node:crypto verifies over a rebuilt Sig_structure`, async () => {
      const expiry = new Date('2030-01-01T00:00:00Z');
      const bytes = await sign(algorithm, { expiry });
      assert.deepEqual([...bytes.subarray(0, 2)], [0xd2, 0x84]);
      const outer = reference.decode(Buffer.from(bytes)) as ReferenceTag;
      assert.ok(outer instanceof ReferenceTag);
      assert.equal(outer.tag, 18);
      const [protectedBytes, unprotected, payload, signature] = outer.contents as [Buffer, Map<unknown, unknown>, Buffer, Buffer];
      const header = reference.decode(protectedBytes) as Map<unknown, unknown>;
      assert.equal(header.get(1), algorithm.cose);
      assert.deepEqual(header.get(2), ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry']);
      assert.equal(header.get(3), PAYLOAD_CONTENT_TYPE);
      assert.equal(header.get('io.cncf.notary.signingScheme'), 'notary.x509');
      // cbor2 turns tag 1 into a Date; the bytes show it is tag 1 around a uint32 of seconds.
      assert.deepEqual(header.get('io.cncf.notary.signingTime'), new Date('2025-01-07T08:42:43Z'));
      assert.deepEqual(header.get('io.cncf.notary.expiry'), expiry);
      assert.ok(protectedBytes.includes(Buffer.from([0xc1, 0x1a, ...Buffer.from((1736239363).toString(16), 'hex')])));
      const chain = unprotected.get(33) as Buffer[];
      assert.ok(Array.isArray(chain));
      assert.deepEqual(new Uint8Array(chain[0]!), keyOf(algorithm).der);
      assert.equal(unprotected.get('io.cncf.notary.signingAgent'), 'sigil/test');
      assert.deepEqual(new Uint8Array(payload), encodePayload(TARGET));
      const toBeSigned = referenceEncoder.encode(['Signature1', protectedBytes, Buffer.alloc(0), payload]);
      const hash = algorithm.hash.replace('-', '').toLowerCase();
      const key = keyOf(algorithm).publicKey;
      const ok = algorithm.jws.startsWith('PS')
        ? cryptoVerify(hash, toBeSigned, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature)
        : cryptoVerify(hash, toBeSigned, { key, dsaEncoding: 'ieee-p1363' }, signature);
      assert.equal(ok, true);
    });
  }

  it('writes maps in canonical order and crit in notation-core-go order', async () => {
    const bytes = await sign(PS256, {
      signingScheme: 'notary.x509.signingAuthority',
      expiry: new Date('2030-01-01T00:00:00Z'),
      extendedAttributes: [
        { key: 'io.cncf.notary.verificationPlugin', value: 'plugin', critical: true },
        { key: 100, value: 1, critical: false },
      ],
    });
    const outer = decodeCbor(bytes.subarray(1), { allowTags: false }) as readonly CborValue[];
    const header = decodeCbor(outer[0] as Uint8Array);
    assert.ok(isCborMap(header));
    assert.deepEqual([...header.keys()], [1, 2, 3, 100, 'io.cncf.notary.expiry', 'io.cncf.notary.signingScheme', 'io.cncf.notary.verificationPlugin', 'io.cncf.notary.authenticSigningTime']);
    assert.deepEqual(header.get(2), ['io.cncf.notary.signingScheme', 'io.cncf.notary.authenticSigningTime', 'io.cncf.notary.expiry', 'io.cncf.notary.verificationPlugin']);
    const unprotected = outer[1];
    assert.ok(unprotected !== undefined && isCborMap(unprotected));
    assert.deepEqual([...unprotected.keys()], [33, 'io.cncf.notary.signingAgent']);
  });

  it('puts a timestamp token from the hook in the unprotected header', async () => {
    const token = Uint8Array.of(0x30, 0x00);
    const bytes = await encodeCose(request(ES384), createRawSigner(keyOf(ES384).privateKey, ES384.name), { timestamp: async () => token });
    assert.deepEqual(decodeCose(bytes).content.signerInfo.unsignedAttributes.timestampSignature, token);
  });

  it('refuses requests that cannot make a valid envelope', async () => {
    const signer = createRawSigner(keyOf(PS256).privateKey, PS256.name);
    const cases: [string, Partial<SignRequest>][] = [
      ['an empty payload', { payload: { contentType: PAYLOAD_CONTENT_TYPE, content: new Uint8Array(0) } }],
      ['another content type', { payload: { contentType: 'text/plain', content: Buffer.from('x') } }],
      ['an empty chain', { certificateChain: [] }],
      ['a leaf whose key is another spec', { certificateChain: [keyOf(ES384).der] }],
      ['an expiry before the signing time', { expiry: new Date('2020-01-01T00:00:00Z') }],
      ['an extended attribute labelled 3', { extendedAttributes: [{ key: 3, value: 'x', critical: false }] }],
      ['an extended attribute labelled 33, which the unprotected header uses', { extendedAttributes: [{ key: 33, value: 'x', critical: false }] }],
      ['an extended attribute named like the signing time', { extendedAttributes: [{ key: 'io.cncf.notary.signingTime', value: 'x', critical: false }] }],
      ['a critical label in 0..8', { extendedAttributes: [{ key: 4, value: Uint8Array.of(1), critical: true }] }],
      ['a fractional label', { extendedAttributes: [{ key: 1.5, value: 'x', critical: false }] }],
      ['a value CBOR cannot carry', { extendedAttributes: [{ key: 'k', value: new Date(0), critical: false }] }],
      ['a kid (label 4) that is not a bstr, which decodeCose would reject', { extendedAttributes: [{ key: 4, value: 'key-1', critical: false }] }],
      ['an extended attribute value nested too deeply', { extendedAttributes: [{ key: 'k', value: JSON.parse('['.repeat(40) + ']'.repeat(40)) as unknown, critical: false }] }],
    ];
    for (const [why, overrides] of cases) {
      await assert.rejects(encodeCose(request(PS256, overrides), signer), (e: unknown) => e instanceof SigningError && e.code === 'SIGNING_FAILED', why);
    }
    await assert.rejects(encodeCose(request(PS256), async () => new Uint8Array(255)), SigningError);
  });
});

describe('encodeCose and decodeCose round-trip', () => {
  for (const algorithm of ALGORITHMS) {
    for (const scheme of ['notary.x509', 'notary.x509.signingAuthority'] as const) {
      it(`keeps every attribute for ${algorithm.jws} with ${scheme}`, async () => {
        const expiry = new Date('2125-01-01T00:00:00Z');
        const bytes = await sign(algorithm, {
          signingScheme: scheme,
          expiry,
          certificateChain: [keyOf(algorithm).der, keyOf(PS256).der],
          extendedAttributes: [
            { key: 'io.cncf.notary.verificationPlugin', value: 'com.example.plugin', critical: true },
            { key: -65537, value: Uint8Array.of(1, 2, 3), critical: true },
            { key: 'io.example.note', value: { nested: [1, 2.5, 'three', null, true] }, critical: false },
          ],
        });
        const decoded = decodeCose(bytes);
        const { signerInfo } = decoded.content;
        assert.equal(signerInfo.signatureAlgorithm, algorithm.name);
        assert.equal(signerInfo.signature.length, algorithm.signatureSize);
        assert.equal(signerInfo.signedAttributes.signingScheme, scheme);
        assert.equal(signerInfo.signedAttributes.signingTime.toISOString(), '2025-01-07T08:42:43.000Z');
        assert.deepEqual(signerInfo.signedAttributes.expiry, expiry);
        assert.deepEqual(signerInfo.signedAttributes.extendedAttributes, [
          { key: -65537, value: Uint8Array.of(1, 2, 3), critical: true },
          { key: 'io.example.note', value: new Map<string, CborValue>([['nested', [1, new CborFloat(2.5), 'three', null, true]]]), critical: false },
          { key: 'io.cncf.notary.verificationPlugin', value: 'com.example.plugin', critical: true },
        ]);
        assert.deepEqual(signerInfo.certificateChain, [keyOf(algorithm).der, keyOf(PS256).der]);
        assert.equal(signerInfo.unsignedAttributes.signingAgent, 'sigil/test');
        assert.deepEqual(decoded.content.payload.content, encodePayload(TARGET));
        assert.equal(verifySignatureBytes(algorithm.name, keyOf(algorithm).publicKey, decoded.signedBytes, signerInfo.signature, COSE_MEDIA_TYPE), true);
      });
    }
  }
});

describe('decodeCose and verifySignatureBytes detect tampering', () => {
  it('decodes a tampered payload, protected header or signature, but the signature no longer verifies', async () => {
    const bytes = await sign(ES384);
    const outer = decodeCbor(bytes.subarray(1), { allowTags: false }) as readonly CborValue[];
    const [protectedBytes, unprotected, payload, signature] = outer as [Uint8Array, CborValue, Uint8Array, Uint8Array];
    const header = decodeCbor(protectedBytes) as Map<CborKey, CborValue>;
    header.set('io.cncf.notary.signingTime', new CborTag(1, 1736239364));
    const variants = [
      encodeCbor(new CborTag(18, [protectedBytes, unprotected, Buffer.from(Buffer.from(payload).toString().replace('481', '482')), signature])),
      encodeCbor(new CborTag(18, [encodeCbor(header), unprotected, payload, signature])),
      encodeCbor(new CborTag(18, [protectedBytes, unprotected, payload, signature.map((b, i) => (i === 0 ? b ^ 0x80 : b))])),
    ];
    for (const variant of variants) {
      const decoded = decodeCose(variant);
      const { signerInfo } = decoded.content;
      assert.equal(verifySignatureBytes(signerInfo.signatureAlgorithm, keyOf(ES384).publicKey, decoded.signedBytes, signerInfo.signature, COSE_MEDIA_TYPE), false);
    }
  });
});

describe('decodeCose rejects envelopes that break signature-envelope-cose.md', () => {
  const good = message();
  const cases: [string, () => Uint8Array, NotaryErrorCode][] = [
    ['an untagged COSE_Sign1', () => good.subarray(1), 'ENVELOPE_INVALID'],
    ['tag 18 in its two-byte form', () => Uint8Array.from([0xd8, 0x12, ...good.subarray(1)]), 'ENVELOPE_INVALID'],
    ['COSE_Sign (tag 98)', () => Uint8Array.from([0xd8, 0x62, ...good.subarray(1)]), 'ENVELOPE_INVALID'],
    ['a three-element array', () => encodeCbor(new CborTag(18, [encodeCbor(goodProtected()), goodUnprotected(), encodePayload(TARGET)])), 'ENVELOPE_INVALID'],
    ['an indefinite-length array', () => Uint8Array.from([0xd2, 0x9f, ...good.subarray(2), 0xff]), 'ENVELOPE_INVALID'],
    ['an indefinite-length unprotected map', () => {
      const unprotected = encodeCbor(goodUnprotected());
      const start = Buffer.from(good).indexOf(Buffer.from(unprotected));
      return Uint8Array.from([...good.subarray(0, start), 0xbf, ...unprotected.subarray(1), 0xff, ...good.subarray(start + unprotected.length)]);
    }, 'ENVELOPE_INVALID'],
    ['an indefinite-length protected map', () => {
      const inner = encodeCbor(goodProtected());
      return message({ protected: Uint8Array.from([0xbf, ...inner.subarray(1), 0xff]) });
    }, 'ENVELOPE_INVALID'],
    ['trailing bytes', () => Uint8Array.from([...good, 0x00]), 'ENVELOPE_INVALID'],
    ['a tag in the unprotected header', () => withUnprotected((h) => h.set('io.cncf.notary.signingAgent', new CborTag(32, 'x'))), 'ENVELOPE_INVALID'],
    ['a protected header that is not a bstr', () => encodeCbor(new CborTag(18, [goodProtected(), goodUnprotected(), encodePayload(TARGET), new Uint8Array(256)])), 'ENVELOPE_INVALID'],
    ['an empty protected header', () => message({ protected: new Uint8Array(0) }), 'ENVELOPE_INVALID'],
    ['a protected header that is an array', () => message({ protected: encodeCbor([1]) }), 'ENVELOPE_INVALID'],
    ['a protected header with trailing bytes', () => message({ protected: Uint8Array.from([...encodeCbor(goodProtected()), 0x00]) }), 'ENVELOPE_INVALID'],
    ['duplicate labels in the protected header', () => {
      const inner = encodeCbor(goodProtected());
      return message({ protected: Uint8Array.from([0xa6, ...inner.subarray(1), 0x01, 0x38, 0x24]) });
    }, 'ENVELOPE_INVALID'],
    ['a detached (nil) payload', () => message({ payload: null }), 'PAYLOAD_INVALID'],
    ['an empty payload', () => message({ payload: new Uint8Array(0) }), 'PAYLOAD_INVALID'],
    ['an empty signature', () => message({ signature: new Uint8Array(0) }), 'ENVELOPE_INVALID'],
    ['a signature that is not a bstr', () => message({ signature: 'sig' }), 'ENVELOPE_INVALID'],
    ['an unprotected header that is not a map', () => message({ unprotected: [] }), 'ENVELOPE_INVALID'],
    ['a signing time as an untagged integer', () => withProtected((h) => h.set('io.cncf.notary.signingTime', 1736239363)), 'ENVELOPE_INVALID'],
    ['a signing time as tag 0 text', () => withProtected((h) => h.set('io.cncf.notary.signingTime', new CborTag(0, '2025-01-07T08:42:43Z'))), 'ENVELOPE_INVALID'],
    ['a signing time under another tag', () => withProtected((h) => h.set('io.cncf.notary.signingTime', new CborTag(100, 20095))), 'ENVELOPE_INVALID'],
    ['an expiry as text', () => withProtected((h) => {
      h.set(2, ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry']);
      h.set('io.cncf.notary.expiry', '2030-01-01T00:00:00Z');
    }), 'ENVELOPE_INVALID'],
    ['a signing time out of range', () => withProtected((h) => h.set('io.cncf.notary.signingTime', new CborTag(1, 9_000_000_000_000_000))), 'ENVELOPE_INVALID'],
    ['a signing time of NaN', () => withProtected((h) => h.set('io.cncf.notary.signingTime', new CborTag(1, new CborFloat(NaN)))), 'ENVELOPE_INVALID'],
    ['an x5chain that is a bare bstr', () => withUnprotected((h) => h.set(33, keyOf(PS256).der)), 'ENVELOPE_INVALID'],
    ['no x5chain', () => withUnprotected((h) => h.delete(33)), 'ENVELOPE_INVALID'],
    ['an empty x5chain', () => withUnprotected((h) => h.set(33, [])), 'ENVELOPE_INVALID'],
    ['an x5chain entry that is text', () => withUnprotected((h) => h.set(33, ['MIIB'])), 'ENVELOPE_INVALID'],
    ['x5chain only in the protected header', () => message({ protected: new Map([...goodProtected(), [33, [keyOf(PS256).der]]]), unprotected: new Map([['io.cncf.notary.signingAgent', 'x']]) }), 'ENVELOPE_INVALID'],
    ['a label in both buckets', () => message({ unprotected: new Map([...goodUnprotected(), [3, PAYLOAD_CONTENT_TYPE]]) }), 'ENVELOPE_INVALID'],
    ['crit in the unprotected header', () => withUnprotected((h) => h.set(2, ['io.cncf.notary.signingAgent'])), 'ENVELOPE_INVALID'],
    ['a non-text signing agent', () => withUnprotected((h) => h.set('io.cncf.notary.signingAgent', 1)), 'ENVELOPE_INVALID'],
    ['a text timestamp', () => withUnprotected((h) => h.set('io.cncf.notary.timestampSignature', 'MIIB')), 'ENVELOPE_INVALID'],
    ['an unknown alg (EdDSA)', () => withProtected((h) => h.set(1, -8)), 'ALGORITHM_UNSUPPORTED'],
    ['RSASSA-PKCS1-v1_5 (RS256, -257)', () => withProtected((h) => h.set(1, -257)), 'ALGORITHM_UNSUPPORTED'],
    ['HMAC 256/256 (5)', () => withProtected((h) => h.set(1, 5)), 'ALGORITHM_UNSUPPORTED'],
    ['a text alg', () => withProtected((h) => h.set(1, 'PS256')), 'ALGORITHM_UNSUPPORTED'],
    ['a float alg', () => withProtected((h) => h.set(1, new CborFloat(-37))), 'ENVELOPE_INVALID'],
    ['a missing alg', () => withProtected((h) => h.delete(1)), 'ENVELOPE_INVALID'],
    ['a wrong content type', () => withProtected((h) => h.set(3, 'application/json')), 'ENVELOPE_INVALID'],
    ['a content type as a CoAP number', () => withProtected((h) => h.set(3, 50)), 'ENVELOPE_INVALID'],
    ['a missing content type', () => withProtected((h) => h.delete(3)), 'ENVELOPE_INVALID'],
    ['a missing crit', () => withProtected((h) => h.delete(2)), 'ENVELOPE_INVALID'],
    ['an empty crit', () => withProtected((h) => h.set(2, [])), 'ENVELOPE_INVALID'],
    ['crit without signingScheme', () => withProtected((h) => h.set(2, ['io.example.x']).set('io.example.x', 1)), 'ENVELOPE_INVALID'],
    ['crit listing label 1', () => withProtected((h) => h.set(2, ['io.cncf.notary.signingScheme', 1])), 'ENVELOPE_INVALID'],
    ['crit listing label 4, which is present', () => withProtected((h) => h.set(2, ['io.cncf.notary.signingScheme', 4]).set(4, Uint8Array.of(1))), 'ENVELOPE_INVALID'],
    ['crit listing the signing time', () => withProtected((h) => h.set(2, ['io.cncf.notary.signingScheme', 'io.cncf.notary.signingTime'])), 'ENVELOPE_INVALID'],
    ['crit listing a label that is not present', () => withProtected((h) => h.set(2, ['io.cncf.notary.signingScheme', 'io.example.absent'])), 'ENVELOPE_INVALID'],
    ['crit listing a byte string', () => withProtected((h) => h.set(2, ['io.cncf.notary.signingScheme', Uint8Array.of(1)])), 'ENVELOPE_INVALID'],
    ['an expiry not marked critical', () => withProtected((h) => h.set('io.cncf.notary.expiry', new CborTag(1, 1900000000))), 'ENVELOPE_INVALID'],
    ['an expiry before the signing time', () =>
      withProtected((h) => h.set(2, ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry']).set('io.cncf.notary.expiry', new CborTag(1, 1736239362))), 'ENVELOPE_INVALID'],
    ['signingTime missing for notary.x509', () => withProtected((h) => h.delete('io.cncf.notary.signingTime')), 'ENVELOPE_INVALID'],
    ['signingTime present for signingAuthority', () =>
      withProtected((h) =>
        h
          .set('io.cncf.notary.signingScheme', 'notary.x509.signingAuthority')
          .set(2, ['io.cncf.notary.signingScheme', 'io.cncf.notary.authenticSigningTime'])
          .set('io.cncf.notary.authenticSigningTime', new CborTag(1, 1736239363)),
      ), 'ENVELOPE_INVALID'],
    ['signingAuthority without authenticSigningTime in crit', () =>
      withProtected((h) => {
        h.set('io.cncf.notary.signingScheme', 'notary.x509.signingAuthority').set('io.cncf.notary.authenticSigningTime', new CborTag(1, 1736239363));
        h.delete('io.cncf.notary.signingTime');
      }), 'ENVELOPE_INVALID'],
    ['an unknown signing scheme', () => withProtected((h) => h.set('io.cncf.notary.signingScheme', 'notary.x509.v2')), 'ENVELOPE_UNSUPPORTED'],
    ['a kid that is not a bstr', () => withProtected((h) => h.set(4, 'key-1')), 'ENVELOPE_INVALID'],
    ['both IV and Partial IV', () => withUnprotected((h) => h.set(5, Uint8Array.of(1)).set(6, Uint8Array.of(2))), 'ENVELOPE_INVALID'],
    ['a protected label beyond 2^53', () => withProtected((h) => h.set(2n ** 60n, 1)), 'ENVELOPE_INVALID'],
    ['an envelope over 32 MiB', () => new Uint8Array(32 * 1024 * 1024 + 1).fill(0xd2), 'ENVELOPE_INVALID'],
  ];
  for (const [why, make, code] of cases) {
    it(`rejects ${why} with ${code}`, () => assertEnvelopeError(() => decodeCose(make()), code));
  }

  it('accepts a fractional tag 1 time, which the spec discourages but allows', () => {
    const decoded = decodeCose(withProtected((h) => h.set('io.cncf.notary.signingTime', new CborTag(1, new CborFloat(1736239363.25)))));
    assert.equal(decoded.content.signerInfo.signedAttributes.signingTime.toISOString(), '2025-01-07T08:42:43.250Z');
  });

  it('accepts extended attributes with int labels, unknown unprotected labels and non-preferred encodings', () => {
    const decoded = decodeCose(
      message({
        protected: new Map([...goodProtected(), [2, ['io.cncf.notary.signingScheme', -70000]], [-70000, 'crit'], [9, new Map([[1, 2]])]]),
        unprotected: new Map([...goodUnprotected(), [99, 'ignored']]),
      }),
    );
    assert.deepEqual(decoded.content.signerInfo.signedAttributes.extendedAttributes, [
      { key: 9, value: new Map([[1, 2]]), critical: false },
      { key: -70000, value: 'crit', critical: true },
    ]);
    const inner = encodeCbor(goodProtected());
    // 0xb8 0x05: the map count written in two bytes instead of one.
    assert.doesNotThrow(() => decodeCose(message({ protected: Uint8Array.from([0xb8, 0x05, ...inner.subarray(1)]) })));
  });

  it('signs over the protected bytes as received', () => {
    const inner = encodeCbor(goodProtected());
    const nonPreferred = Uint8Array.from([0xb8, 0x05, ...inner.subarray(1)]);
    const decoded = decodeCose(message({ protected: nonPreferred }));
    assert.deepEqual(Buffer.from(decoded.signedBytes), referenceEncoder.encode(['Signature1', Buffer.from(nonPreferred), Buffer.alloc(0), Buffer.from(encodePayload(TARGET))]));
  });

  it('only ever throws EnvelopeError on random bytes, random CBOR and mutated real envelopes', async () => {
    const real = Buffer.from(await sign(ES384, { expiry: new Date('2030-01-01T00:00:00Z') }));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.integer({ min: 0, max: real.length - 1 }), fc.integer({ min: 0, max: 255 }), (random, at, byte) => {
        for (const bytes of [random, Uint8Array.from([0xd2, 0x84, ...random]), Buffer.from(real).fill(byte, at, at + 1), real.subarray(0, at)]) {
          try {
            decodeCose(bytes);
          } catch (e) {
            assert.ok(e instanceof EnvelopeError, String(e));
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
