// The verifier as a matrix, after notation-go's TestNotationVerificationCombinations: signing
// scheme × envelope format × verification level (presets and overrides) × the check that fails,
// plus integrity tampering, chain rules, target artifact and user metadata, and Notation's own
// e2e signatures.

import assert from 'node:assert/strict';
import { constants, sign as cryptoSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  AFTER_LEAF_EXPIRY,
  createTestChain,
  LEAF_NOT_AFTER,
  LEAF_NOT_BEFORE,
  MemoryTrustStore,
  rootAuthority,
  SIGNING_TIME,
  signTestEnvelope,
  TARGET,
  testStatement,
  VERIFY_TIME,
  type TestChain,
} from '../../test/support/notary.js';
import { NOTATION_E2E, NOTATION_LAYOUTS } from '../../test/support/shared.js';
import type { Descriptor } from '../oci/index.js';
import { createCertificate, decodeCertificates, EKU_CODE_SIGNING, EKU_SERVER_AUTH, EKU_TIME_STAMPING, type Certificate } from '../pki/index.js';
import { CborTag, decodeCbor, encodeCbor, isCborMap, type CborKey, type CborValue } from './cbor.js';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, PAYLOAD_CONTENT_TYPE, type EnvelopeMediaType, type SigningScheme } from './envelope.js';
import type { ValidationAction, ValidationType } from './levels.js';
import { encodePayload } from './payload.js';
import type { TrustPolicyStatementOptions } from './trustpolicy.js';
import { Verifier, type VerificationOutcome } from './verifier.js';

const ORDER: readonly ValidationType[] = ['integrity', 'authenticity', 'expiry', 'authenticTimestamp', 'revocation'];
const ENVELOPES: readonly EnvelopeMediaType[] = [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE];
const SCHEMES: readonly SigningScheme[] = ['notary.x509', 'notary.x509.signingAuthority'];
const DAY = 24 * 3600_000;
const LOG_WARNING = /^(\w+) was set to "log" and failed with error: /;

type Actions = Readonly<Record<ValidationType, ValidationAction>>;

function actions(authenticity: ValidationAction, expiry: ValidationAction, authenticTimestamp: ValidationAction, revocation: ValidationAction): Actions {
  return { integrity: 'enforce', authenticity, expiry, authenticTimestamp, revocation };
}

/** Verification levels of trust-store-trust-policy.md §4.4, and overrides of them, with the actions each must resolve to. */
const LEVEL_CASES: readonly { title: string; name: string; policy: Pick<TrustPolicyStatementOptions, 'level' | 'override'>; actions: Actions }[] = [
  { title: 'strict', name: 'strict', policy: { level: 'strict' }, actions: actions('enforce', 'enforce', 'enforce', 'enforce') },
  { title: 'permissive', name: 'permissive', policy: { level: 'permissive' }, actions: actions('enforce', 'log', 'log', 'log') },
  { title: 'audit', name: 'audit', policy: { level: 'audit' }, actions: actions('log', 'log', 'log', 'log') },
  { title: 'strict, authenticity: log', name: 'custom', policy: { level: 'strict', override: { authenticity: 'log' } }, actions: actions('log', 'enforce', 'enforce', 'enforce') },
  { title: 'audit, expiry: enforce', name: 'custom', policy: { level: 'audit', override: { expiry: 'enforce' } }, actions: actions('log', 'enforce', 'log', 'log') },
  { title: 'strict, revocation: skip', name: 'custom', policy: { level: 'strict', override: { revocation: 'skip' } }, actions: actions('enforce', 'enforce', 'enforce', 'skip') },
  {
    title: 'permissive, authenticTimestamp: enforce, revocation: skip',
    name: 'custom',
    policy: { level: 'permissive', override: { authenticTimestamp: 'enforce', revocation: 'skip' } },
    actions: actions('enforce', 'log', 'enforce', 'skip'),
  },
];

function storeTypeOf(scheme: SigningScheme): 'ca' | 'signingAuthority' {
  return scheme === 'notary.x509' ? 'ca' : 'signingAuthority';
}

function trusting(...certificates: Certificate[]): MemoryTrustStore {
  return new MemoryTrustStore({ 'ca:test': certificates, 'signingAuthority:test': certificates });
}

async function verify(
  bytes: Uint8Array,
  options: {
    readonly mediaType: string;
    readonly scheme?: SigningScheme;
    readonly policy?: Partial<TrustPolicyStatementOptions>;
    readonly trustStore?: MemoryTrustStore;
    readonly now?: Date;
    readonly artifact?: Descriptor;
    readonly userMetadata?: Readonly<Record<string, string>>;
  },
): Promise<VerificationOutcome> {
  const scheme = options.scheme ?? 'notary.x509';
  const verifier = new Verifier({ trustStore: options.trustStore ?? trusting(rootAuthority().certificate), now: () => options.now ?? VERIFY_TIME });
  return verifier.verifySignature({
    envelope: { mediaType: options.mediaType, bytes },
    statement: testStatement({ trustStores: [`${storeTypeOf(scheme)}:test`], ...options.policy }),
    artifact: options.artifact ?? TARGET,
    ...(options.userMetadata === undefined ? {} : { userMetadata: options.userMetadata }),
  });
}

function result(outcome: VerificationOutcome, type: ValidationType) {
  const found = outcome.results.find((r) => r.type === type);
  assert.ok(found, `no ${type} result`);
  return found;
}

/**
 * Checks an outcome against the spec's rules: checks run in order; a failure of an enforced check
 * fails the signature and leaves the later checks not evaluated; a logged failure becomes a
 * warning; a skipped check never runs; revocation, when not skipped, is reported as unsupported.
 */
function assertOutcome(outcome: VerificationOutcome, expected: { actions: Actions; failing: ValidationType | 'none' }): void {
  assert.deepEqual(
    outcome.results.map((r) => r.type),
    ORDER,
  );
  let stoppedBy: ValidationType | undefined;
  const logged: string[] = [];
  for (const type of ORDER) {
    const r = result(outcome, type);
    const action = expected.actions[type];
    assert.equal(r.action, action, `${type} action`);
    if (stoppedBy !== undefined) {
      assert.equal(r.status, 'skipped', `${type} after the enforced ${stoppedBy} failure`);
      assert.match(r.reason ?? '', /^not evaluated/);
    } else if (action === 'skip') {
      assert.equal(r.status, 'skipped', type);
      assert.match(r.reason ?? '', /set to "skip"/);
    } else if (type === expected.failing) {
      assert.equal(r.status, 'failed', type);
      assert.ok(r.reason !== undefined && r.reason.length > 0);
      if (action === 'enforce') stoppedBy = type;
      else logged.push(type);
    } else if (type === 'revocation') {
      assert.equal(r.status, 'skipped');
      assert.equal(r.reason, 'revocation checking is not supported yet');
    } else {
      assert.equal(r.status, 'passed', `${type}: ${r.reason ?? ''}`);
      assert.equal(r.reason, undefined);
    }
  }
  assert.deepEqual(
    outcome.warnings.map((w) => LOG_WARNING.exec(w)?.[1]),
    logged,
    `warnings: ${outcome.warnings.join(' | ')}`,
  );
  if (stoppedBy === undefined) {
    assert.equal(outcome.status, 'passed', outcome.failure?.message);
    assert.equal(outcome.failure, undefined);
  } else {
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.failure?.kind, stoppedBy);
    assert.ok(outcome.failure.message.startsWith(`${stoppedBy} validation failed: `), outcome.failure.message);
  }
}

/** Asserts that integrity failed and nothing else ran: the outcome of a bad envelope at any level. */
function assertIntegrityFailure(outcome: VerificationOutcome, reason?: RegExp): void {
  assert.equal(outcome.status, 'failed');
  assert.equal(outcome.failure?.kind, 'integrity');
  assert.equal(outcome.failure.inconclusive, undefined);
  const integrity = result(outcome, 'integrity');
  assert.equal(integrity.status, 'failed');
  assert.equal(integrity.action, 'enforce');
  if (reason !== undefined) assert.match(integrity.reason ?? '', reason);
  for (const type of ORDER.slice(1)) {
    assert.equal(result(outcome, type).status, 'skipped', type);
    assert.match(result(outcome, type).reason ?? '', /^not evaluated: integrity failed/);
  }
  assert.deepEqual(outcome.warnings, []);
}

// ---------------------------------------------------------------------------------------------
// Editing envelopes after signing (what an attacker can do)

interface EnvelopeParts {
  payload: Uint8Array;
  /** The protected header: JWS as a JSON object, COSE as a CBOR map. */
  protectedHeader: Map<CborKey, CborValue> | Record<string, unknown>;
  /** x5c / x5chain, leaf first. */
  chain: Uint8Array[];
  signature: Uint8Array;
}

/** Decodes an envelope into its parts, lets `edit` change them, and re-encodes without re-signing. */
function editEnvelope(mediaType: EnvelopeMediaType, bytes: Uint8Array, edit: (parts: EnvelopeParts) => void): Uint8Array {
  if (mediaType === JWS_MEDIA_TYPE) {
    const jws = JSON.parse(Buffer.from(bytes).toString('utf8')) as { payload: string; protected: string; header: { x5c: string[] }; signature: string };
    const parts: EnvelopeParts = {
      payload: Buffer.from(jws.payload, 'base64url'),
      protectedHeader: JSON.parse(Buffer.from(jws.protected, 'base64url').toString('utf8')) as Record<string, unknown>,
      chain: jws.header.x5c.map((c) => Buffer.from(c, 'base64')),
      signature: Buffer.from(jws.signature, 'base64url'),
    };
    const protectedText = jws.protected;
    const original = JSON.stringify(parts.protectedHeader);
    edit(parts);
    jws.payload = Buffer.from(parts.payload).toString('base64url');
    // Keep the signed bytes exactly when the header was not edited.
    jws.protected = JSON.stringify(parts.protectedHeader) === original ? protectedText : Buffer.from(JSON.stringify(parts.protectedHeader)).toString('base64url');
    jws.header.x5c = parts.chain.map((c) => Buffer.from(c).toString('base64'));
    jws.signature = Buffer.from(parts.signature).toString('base64url');
    return new Uint8Array(Buffer.from(JSON.stringify(jws)));
  }
  const message = decodeCbor(bytes);
  assert.ok(message instanceof CborTag && Array.isArray(message.value));
  const [protectedBytes, unprotected, payload, signature] = message.value as [Uint8Array, Map<CborKey, CborValue>, Uint8Array, Uint8Array];
  const header = decodeCbor(protectedBytes);
  assert.ok(isCborMap(header));
  const parts: EnvelopeParts = {
    payload,
    protectedHeader: new Map(header),
    chain: [...(unprotected.get(33) as Uint8Array[])],
    signature,
  };
  edit(parts);
  const newUnprotected = new Map(unprotected);
  newUnprotected.set(33, parts.chain);
  const editedHeader = encodeCbor(parts.protectedHeader as Map<CborKey, CborValue>);
  const keepHeader = Buffer.from(editedHeader).equals(Buffer.from(encodeCbor(header)));
  return encodeCbor(new CborTag(18, [keepHeader ? protectedBytes : editedHeader, newUnprotected, parts.payload, parts.signature]));
}

/** Moves the signing time one second, in either envelope's representation. */
function moveSigningTime(parts: EnvelopeParts): void {
  const keys = ['io.cncf.notary.signingTime', 'io.cncf.notary.authenticSigningTime'];
  const header = parts.protectedHeader;
  if (header instanceof Map) {
    for (const key of keys) {
      const time = header.get(key);
      if (time instanceof CborTag) header.set(key, new CborTag(1, (time.value as number) + 1));
    }
  } else {
    for (const key of keys) if (typeof header[key] === 'string') header[key] = '2025-03-01T10:00:01Z';
  }
}

function flipFirstByte(bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[0] = (copy[0] as number) ^ 0x01;
  return copy;
}

const chains = new Map<string, TestChain>();
/** Chains are issued once per name and key spec. */
function chainOf(name = 'test', keySpec: 'RSA-2048' | 'RSA-3072' | 'EC-256' | 'EC-384' = 'RSA-2048', keyIndex = 0): TestChain {
  const id = `${name}/${keySpec}/${keyIndex}`;
  let chain = chains.get(id);
  if (chain === undefined) {
    chain = createTestChain({ name, keySpec, keyIndex });
    chains.set(id, chain);
  }
  return chain;
}

const envelopes = new Map<string, Promise<Uint8Array>>();
/** A signed envelope per (format, scheme, variant), made once. */
function envelopeOf(mediaType: EnvelopeMediaType, scheme: SigningScheme, variant: 'valid' | 'expired' | 'signed-before-leaf-validity' = 'valid', chain = chainOf()): Promise<Uint8Array> {
  const id = `${mediaType}/${scheme}/${variant}/${chain.leaf.sha256Fingerprint}`;
  let envelope = envelopes.get(id);
  if (envelope === undefined) {
    envelope = signTestEnvelope({
      mediaType,
      chain,
      signingScheme: scheme,
      ...(variant === 'expired' ? { expiry: new Date(SIGNING_TIME.getTime() + DAY) } : {}),
      ...(variant === 'signed-before-leaf-validity' ? { signingTime: new Date(LEAF_NOT_BEFORE.getTime() - DAY) } : {}),
    });
    envelopes.set(id, envelope);
  }
  return envelope;
}

// ---------------------------------------------------------------------------------------------

describe('Verifier: signing scheme × envelope × level × failing check', () => {
  for (const scheme of SCHEMES) {
    for (const mediaType of ENVELOPES) {
      for (const level of LEVEL_CASES) {
        const where = `${scheme}, ${mediaType}, ${level.title}`;

        it(`passes a good signature and reports every check (${where})`, async () => {
          const outcome = await verify(await envelopeOf(mediaType, scheme), { mediaType, scheme, policy: level.policy });
          assertOutcome(outcome, { actions: level.actions, failing: 'none' });
          assert.equal(outcome.level.name, level.name);
          assert.deepEqual(outcome.targetArtifact, TARGET);
          assert.equal(outcome.envelope?.mediaType, mediaType);
          assert.equal(outcome.envelope.content.signerInfo.signedAttributes.signingScheme, scheme);
          assert.deepEqual(
            outcome.certificateChain.map((c) => c.subject),
            chainOf().certificates.map((c) => c.subject),
          );
        });

        it(`applies the authenticity action to a chain the trust store does not hold (${where})`, async () => {
          const outcome = await verify(await envelopeOf(mediaType, scheme), { mediaType, scheme, policy: level.policy, trustStore: trusting(rootAuthority('other').certificate) });
          assertOutcome(outcome, { actions: level.actions, failing: 'authenticity' });
          assert.equal(result(outcome, 'authenticity').reason, "the signature's certificate chain does not contain any trusted certificate");
        });

        it(`applies the expiry action to an expired signature (${where})`, async () => {
          const outcome = await verify(await envelopeOf(mediaType, scheme, 'expired'), { mediaType, scheme, policy: level.policy });
          assertOutcome(outcome, { actions: level.actions, failing: 'expiry' });
          assert.match(result(outcome, 'expiry').reason ?? '', /^digital signature has expired on "Sun, 02 Mar 2025 10:00:00 \+0000"$/);
        });

        if (scheme === 'notary.x509') {
          it(`applies the authenticTimestamp action when the leaf has expired and nothing is timestamped (${where})`, async () => {
            const outcome = await verify(await envelopeOf(mediaType, scheme), { mediaType, scheme, policy: level.policy, now: AFTER_LEAF_EXPIRY });
            assertOutcome(outcome, { actions: level.actions, failing: 'authenticTimestamp' });
            assert.match(result(outcome, 'authenticTimestamp').reason ?? '', /^verification time is after certificate "CN=test leaf,[^"]*" validity period, it was expired at "Thu, 01 Jan 2026 00:00:00 \+0000"$/);
          });
        } else {
          it(`applies the authenticTimestamp action when the chain was not valid at the authentic signing time (${where})`, async () => {
            const outcome = await verify(await envelopeOf(mediaType, scheme, 'signed-before-leaf-validity'), { mediaType, scheme, policy: level.policy });
            assertOutcome(outcome, { actions: level.actions, failing: 'authenticTimestamp' });
            assert.match(result(outcome, 'authenticTimestamp').reason ?? '', /^certificate "CN=test leaf,[^"]*" was not valid when the digital signature was produced at "Tue, 31 Dec 2024 00:00:00 \+0000"$/);
          });
        }
      }
    }
  }
});

describe('Verifier: integrity failures fail at every level', () => {
  const tamperings: readonly { title: string; reason: RegExp; edit: (parts: EnvelopeParts) => void }[] = [
    { title: 'a tampered payload', reason: /signature is invalid/, edit: (p) => (p.payload = encodePayload({ ...TARGET, size: TARGET.size + 1 })) },
    { title: 'a tampered protected header', reason: /signature is invalid/, edit: moveSigningTime },
    { title: 'tampered signature bytes', reason: /signature is invalid/, edit: (p) => (p.signature = flipFirstByte(p.signature)) },
    { title: 'the x5c order reversed', reason: /CA certificate|self-signed/, edit: (p) => p.chain.reverse() },
    { title: 'the leaf missing from x5c', reason: /is a CA certificate .* but appears as the leaf/, edit: (p) => p.chain.shift() },
    { title: 'the root missing from x5c', reason: /is not self-signed/, edit: (p) => p.chain.pop() },
    { title: 'another leaf of the same key spec in x5c', reason: /signature is invalid/, edit: (p) => (p.chain = [...chainOf('other', 'RSA-2048', 1).ders]) },
    { title: 'an alg that does not match the leaf key', reason: /^mismatch between signature algorithm derived from signing certificate/, edit: (p) => (p.chain = [...chainOf('other', 'EC-256').ders]) },
    { title: 'an empty x5c', reason: /./, edit: (p) => (p.chain = []) },
    { title: 'a certificate that is not DER', reason: /./, edit: (p) => (p.chain[0] = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])) },
  ];
  for (const scheme of SCHEMES) {
    for (const mediaType of ENVELOPES) {
      for (const tampering of tamperings) {
        it(`fails ${tampering.title} at every level (${scheme}, ${mediaType})`, async () => {
          const bytes = editEnvelope(mediaType, await envelopeOf(mediaType, scheme), tampering.edit);
          for (const level of LEVEL_CASES) {
            const outcome = await verify(bytes, { mediaType, scheme, policy: level.policy });
            assertIntegrityFailure(outcome, tampering.reason);
          }
        });
      }

      it(`fails an unknown critical attribute at every level (${scheme}, ${mediaType})`, async () => {
        const bytes = await signTestEnvelope({ mediaType, chain: chainOf(), signingScheme: scheme, extendedAttributes: [{ key: 'com.example.mustUnderstand', value: 'x', critical: true }] });
        for (const level of LEVEL_CASES) assertIntegrityFailure(await verify(bytes, { mediaType, scheme, policy: level.policy }), /unknown critical attribute "com.example.mustUnderstand"/);
      });

      it(`ignores a non-critical extended attribute (${scheme}, ${mediaType})`, async () => {
        const bytes = await signTestEnvelope({ mediaType, chain: chainOf(), signingScheme: scheme, extendedAttributes: [{ key: 'com.example.note', value: 'x', critical: false }] });
        assertOutcome(await verify(bytes, { mediaType, scheme }), { actions: LEVEL_CASES[0]!.actions, failing: 'none' });
      });

      it(`fails a signature naming a verification plugin with kind plugin at every level (${scheme}, ${mediaType})`, async () => {
        const bytes = await signTestEnvelope({
          mediaType,
          chain: chainOf(),
          signingScheme: scheme,
          extendedAttributes: [
            { key: 'io.cncf.notary.verificationPlugin', value: 'com.example.plugin', critical: true },
            { key: 'io.cncf.notary.verificationPluginMinVersion', value: '1.0.0', critical: true },
            { key: 'com.example.signingJob', value: 'job-1', critical: true },
          ],
        });
        for (const level of LEVEL_CASES) {
          const outcome = await verify(bytes, { mediaType, scheme, policy: level.policy });
          assert.equal(outcome.status, 'failed');
          assert.equal(outcome.failure?.kind, 'plugin');
          assert.equal(outcome.failure.inconclusive, true);
          assert.match(outcome.failure.message, /"com.example.plugin"/);
          assert.equal(result(outcome, 'integrity').status, 'passed');
          for (const type of ORDER.slice(1)) assert.match(result(outcome, type).reason ?? '', /^not evaluated: the signature needs a verification plugin/);
        }
      });
    }
  }

  it('fails an envelope whose payload content type is not the Notary payload', async () => {
    const bytes = editEnvelope(JWS_MEDIA_TYPE, await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509'), (p) => {
      (p.protectedHeader as Record<string, unknown>).cty = 'application/json';
    });
    assertIntegrityFailure(await verify(bytes, { mediaType: JWS_MEDIA_TYPE }), /payload content type/);
  });

  it('fails an envelope signed with RSASSA-PSS at the wrong hash for its key (PS384 with an RSA-2048 leaf)', async () => {
    const chain = chainOf();
    const protectedText = Buffer.from(
      JSON.stringify({ alg: 'PS384', crit: ['io.cncf.notary.signingScheme'], cty: PAYLOAD_CONTENT_TYPE, 'io.cncf.notary.signingScheme': 'notary.x509', 'io.cncf.notary.signingTime': '2025-03-01T10:00:00Z' }),
    ).toString('base64url');
    const payloadText = Buffer.from(encodePayload(TARGET)).toString('base64url');
    const signature = cryptoSign('sha384', Buffer.from(`${protectedText}.${payloadText}`), { key: chain.leafKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 });
    const bytes = Buffer.from(
      JSON.stringify({ payload: payloadText, protected: protectedText, header: { x5c: chain.ders.map((d) => Buffer.from(d).toString('base64')) }, signature: signature.toString('base64url') }),
    );
    assertIntegrityFailure(await verify(bytes, { mediaType: JWS_MEDIA_TYPE }), /^mismatch between signature algorithm derived from signing certificate \(RSASSA-PSS-SHA-256\) and signing algorithm specified \(RSASSA-PSS-SHA-384\)$/);
  });

  it('fails bytes that are no envelope, and an envelope media type Sigil does not read', async () => {
    for (const level of LEVEL_CASES) {
      assertIntegrityFailure(await verify(Buffer.from('invalid signature\n'), { mediaType: JWS_MEDIA_TYPE, policy: level.policy }), /^unable to parse the signature envelope/);
      assertIntegrityFailure(await verify(await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509'), { mediaType: 'application/vnd.oci.image.layer.v1.tar', policy: level.policy }), /not supported/);
      assertIntegrityFailure(await verify(await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509'), { mediaType: COSE_MEDIA_TYPE, policy: level.policy }));
    }
  });
});

describe('Verifier: certificate chain rules', () => {
  const integrityCases: readonly { title: string; options: Parameters<typeof createTestChain>[0]; reason: RegExp }[] = [
    { title: 'a CA certificate as the leaf', options: { name: 'ca-leaf', leaf: { basicConstraints: { cA: true }, keyUsage: { usages: ['digitalSignature', 'keyCertSign'] } } }, reason: /is a CA certificate/ },
    { title: 'a leaf with the serverAuth extended key usage', options: { name: 'server-leaf', leaf: { extKeyUsage: { oids: [EKU_SERVER_AUTH] } } }, reason: /serverAuth/ },
    { title: 'a leaf with the timeStamping extended key usage', options: { name: 'tsa-leaf', leaf: { extKeyUsage: { oids: [EKU_CODE_SIGNING, EKU_TIME_STAMPING] } } }, reason: /timeStamping/ },
    { title: 'a leaf without the digitalSignature key usage', options: { name: 'no-ds-leaf', leaf: { keyUsage: { usages: ['nonRepudiation'] } } }, reason: /digitalSignature/ },
    { title: 'a leaf with the keyEncipherment key usage', options: { name: 'ke-leaf', leaf: { keyUsage: { usages: ['digitalSignature', 'keyEncipherment'] } } }, reason: /keyEncipherment/ },
    { title: 'a leaf whose key usage is not critical', options: { name: 'soft-ku-leaf', leaf: { keyUsage: { usages: ['digitalSignature'], critical: false } } }, reason: /not marked critical/ },
    { title: 'a leaf without key usage', options: { name: 'no-ku-leaf', leaf: { keyUsage: undefined } }, reason: /no key usage/ },
    { title: 'an intermediate that is not a CA', options: { name: 'non-ca-intermediate', intermediate: { basicConstraints: undefined } }, reason: /is not a CA certificate/ },
    { title: 'an intermediate without keyCertSign', options: { name: 'no-kcs-intermediate', intermediate: { keyUsage: { usages: ['cRLSign'] } } }, reason: /keyCertSign/ },
  ];
  for (const mediaType of ENVELOPES) {
    for (const c of integrityCases) {
      it(`fails integrity at every level for ${c.title} (${mediaType})`, async () => {
        const chain = createTestChain(c.options);
        const bytes = await signTestEnvelope({ mediaType, chain });
        for (const level of LEVEL_CASES) assertIntegrityFailure(await verify(bytes, { mediaType, policy: level.policy, trustStore: trusting(chain.root.certificate) }), c.reason);
      });
    }

    it(`fails integrity for an RSA-1024 leaf, whatever the alg says (${mediaType})`, async () => {
      const weak = createTestChain({ name: 'rsa-1024', keySpec: 'RSA-1024' });
      const bytes = editEnvelope(mediaType, await envelopeOf(mediaType, 'notary.x509'), (p) => (p.chain = [...weak.ders]));
      assertIntegrityFailure(await verify(bytes, { mediaType, trustStore: trusting(weak.root.certificate) }), /unsupported key|RSA key size 1024/);
    });

    it(`passes a self-signed leaf alone in x5c that the ca store holds, the generate-test flow (${mediaType})`, async () => {
      const chain = createTestChain({ name: 'self-signed' });
      const leaf = createCertificate({
        subject: 'C=US, ST=WA, L=Seattle, O=Notary, CN=generate-test',
        publicKey: chain.leaf.publicKey,
        signingKey: chain.leafKey,
        notBefore: LEAF_NOT_BEFORE,
        notAfter: LEAF_NOT_AFTER,
        keyUsage: { usages: ['digitalSignature'] },
        extKeyUsage: { oids: [EKU_CODE_SIGNING] },
      });
      const bytes = await signTestEnvelope({ mediaType, chain, certificateChain: [leaf.der] });
      const outcome = await verify(bytes, { mediaType, trustStore: trusting(leaf), policy: { trustedIdentities: ['x509.subject: C=US, ST=WA, O=Notary, CN=generate-test'] } });
      assertOutcome(outcome, { actions: LEVEL_CASES[0]!.actions, failing: 'none' });
    });

    it(`fails authenticTimestamp for a leaf not yet valid at verification time (${mediaType})`, async () => {
      const chain = createTestChain({ name: 'future-leaf', leaf: { notBefore: new Date(VERIFY_TIME.getTime() + DAY), notAfter: new Date(VERIFY_TIME.getTime() + 400 * DAY) } });
      const outcome = await verify(await signTestEnvelope({ mediaType, chain }), { mediaType, trustStore: trusting(chain.root.certificate) });
      assertOutcome(outcome, { actions: LEVEL_CASES[0]!.actions, failing: 'authenticTimestamp' });
      assert.match(result(outcome, 'authenticTimestamp').reason ?? '', /^verification time is before certificate "CN=future-leaf leaf,[^"]*" validity period, it will be valid from "/);
    });

    it(`fails authenticTimestamp for an intermediate that expired before verification (${mediaType})`, async () => {
      const chain = createTestChain({ name: 'expired-intermediate', intermediate: { notAfter: new Date(VERIFY_TIME.getTime() - DAY) } });
      const outcome = await verify(await signTestEnvelope({ mediaType, chain }), { mediaType, trustStore: trusting(chain.root.certificate) });
      assertOutcome(outcome, { actions: LEVEL_CASES[0]!.actions, failing: 'authenticTimestamp' });
      assert.match(result(outcome, 'authenticTimestamp').reason ?? '', /CN=expired-intermediate intermediate,[^"]*" validity period, it was expired at/);
    });

    it(`passes a signingAuthority signature whose leaf expired after the authentic signing time (${mediaType})`, async () => {
      const outcome = await verify(await envelopeOf(mediaType, 'notary.x509.signingAuthority'), { mediaType, scheme: 'notary.x509.signingAuthority', now: AFTER_LEAF_EXPIRY });
      assertOutcome(outcome, { actions: LEVEL_CASES[0]!.actions, failing: 'none' });
    });

    it(`fails authenticity for a chain that does not reach the trust store, and passes when the store pins the intermediate or the leaf (${mediaType})`, async () => {
      const bytes = await envelopeOf(mediaType, 'notary.x509');
      const chain = chainOf();
      assertOutcome(await verify(bytes, { mediaType, trustStore: trusting(rootAuthority('other').certificate, chainOf('other').intermediate.certificate) }), {
        actions: LEVEL_CASES[0]!.actions,
        failing: 'authenticity',
      });
      for (const pinned of [chain.intermediate.certificate, chain.leaf]) {
        assertOutcome(await verify(bytes, { mediaType, trustStore: trusting(pinned) }), { actions: LEVEL_CASES[0]!.actions, failing: 'none' });
      }
    });
  }
});

describe('Verifier: authenticity and trusted identities', () => {
  const strict = LEVEL_CASES[0]!.actions;
  const audit = LEVEL_CASES[2]!.actions;

  for (const mediaType of ENVELOPES) {
    it(`passes when some x509.subject identity is a subset of the leaf subject (${mediaType})`, async () => {
      const bytes = await envelopeOf(mediaType, 'notary.x509');
      for (const identity of ['x509.subject: C=US, ST=WA, O=Acme', 'x509.subject: C=US, ST=WA, L=Seattle, O=Acme, OU=Build, CN=test leaf', 'x509.subject: CN=test leaf, O=Acme, ST=WA, C=US']) {
        assertOutcome(await verify(bytes, { mediaType, policy: { trustedIdentities: [identity] } }), { actions: strict, failing: 'none' });
      }
      assertOutcome(await verify(bytes, { mediaType, policy: { trustedIdentities: ['x509.subject: C=US, ST=WA, O=Other', 'x509.subject: C=US, ST=WA, O=Acme, OU=Build'] } }), { actions: strict, failing: 'none' });
    });

    it(`passes any leaf subject with the * identity, for both schemes (${mediaType})`, async () => {
      for (const scheme of SCHEMES) {
        const outcome = await verify(await envelopeOf(mediaType, scheme), { mediaType, scheme, policy: { trustedIdentities: ['*'] } });
        assertOutcome(outcome, { actions: strict, failing: 'none' });
      }
    });

    it(`fails authenticity when no trusted identity matches the leaf, logs it under audit (${mediaType})`, async () => {
      const bytes = await envelopeOf(mediaType, 'notary.x509');
      for (const identity of ['x509.subject: C=US, ST=WA, O=Other', 'x509.subject: C=US, ST=WA, O=acme', 'x509.subject: C=US, ST=WA, O=Acme, OU=Build, CN=other']) {
        const outcome = await verify(bytes, { mediaType, policy: { trustedIdentities: [identity] } });
        assertOutcome(outcome, { actions: strict, failing: 'authenticity' });
        assert.match(result(outcome, 'authenticity').reason ?? '', /^signing certificate from the digital signature does not match the X\.509 trusted identities .* defined in the trust policy "test-statement"$/);
        assertOutcome(await verify(bytes, { mediaType, policy: { level: 'audit', trustedIdentities: [identity] } }), { actions: audit, failing: 'authenticity' });
      }
    });

    it(`fails authenticity when the only trusted identities are of a kind that needs a plugin (${mediaType})`, async () => {
      const outcome = await verify(await envelopeOf(mediaType, 'notary.x509'), { mediaType, policy: { trustedIdentities: ['arn:aws:signer:us-west-2:123456789012:/signing-profiles/p'] } });
      assertOutcome(outcome, { actions: strict, failing: 'authenticity' });
      assert.match(result(outcome, 'authenticity').reason ?? '', /no x509 trusted identities/);
    });

    for (const scheme of SCHEMES) {
      const other = scheme === 'notary.x509' ? 'signingAuthority' : 'ca';
      it(`needs a trust store of the scheme's type: ${scheme} with only a ${other} store is inconclusive (${mediaType})`, async () => {
        const outcome = await verify(await envelopeOf(mediaType, scheme), { mediaType, scheme, policy: { trustStores: [`${other}:test`] } });
        assertOutcome(outcome, { actions: strict, failing: 'authenticity' });
        assert.equal(outcome.failure?.inconclusive, true);
        assert.equal(result(outcome, 'authenticity').inconclusive, true);
        assert.match(result(outcome, 'authenticity').reason ?? '', new RegExp(`no trust store of type "${storeTypeOf(scheme)}"`));
      });
    }

    it(`reads every store of the scheme's type and trusts a certificate from any of them (${mediaType})`, async () => {
      const store = new MemoryTrustStore({ 'ca:a': [rootAuthority('other').certificate], 'ca:b': [rootAuthority().certificate] });
      const outcome = await verify(await envelopeOf(mediaType, 'notary.x509'), { mediaType, trustStore: store, policy: { trustStores: ['ca:a', 'ca:b', 'signingAuthority:test'] } });
      assertOutcome(outcome, { actions: strict, failing: 'none' });
      assert.deepEqual([...store.reads.keys()].sort(), ['ca:a', 'ca:b']);
    });
  }

  it('reports a missing trust store as an inconclusive authenticity failure, logged under audit', async () => {
    const bytes = await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509');
    const empty = new MemoryTrustStore({});
    const outcome = await verify(bytes, { mediaType: JWS_MEDIA_TYPE, trustStore: empty });
    assertOutcome(outcome, { actions: strict, failing: 'authenticity' });
    assert.equal(outcome.failure?.inconclusive, true);
    assert.match(result(outcome, 'authenticity').reason ?? '', /^error while loading the trust store, the trust store "test" of type "ca" does not exist$/);
    const audited = await verify(bytes, { mediaType: JWS_MEDIA_TYPE, trustStore: empty, policy: { level: 'audit' } });
    assertOutcome(audited, { actions: audit, failing: 'authenticity' });
    assert.equal(result(audited, 'authenticity').inconclusive, true);
  });

  it('reports a trust store without certificates as inconclusive', async () => {
    const outcome = await verify(await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509'), { mediaType: JWS_MEDIA_TYPE, trustStore: new MemoryTrustStore({ 'ca:test': [] }) });
    assertOutcome(outcome, { actions: strict, failing: 'authenticity' });
    assert.equal(result(outcome, 'authenticity').reason, 'no trusted certificates are found to verify authenticity');
    assert.equal(outcome.failure?.inconclusive, true);
  });

  it('marks an untrusted chain as failed, not inconclusive', async () => {
    const outcome = await verify(await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509'), { mediaType: JWS_MEDIA_TYPE, trustStore: trusting(rootAuthority('other').certificate) });
    assert.equal(outcome.failure?.kind, 'authenticity');
    assert.equal(outcome.failure.inconclusive, undefined);
    assert.equal(result(outcome, 'authenticity').inconclusive, undefined);
  });
});

describe('Verifier: expiry and authentic timestamp', () => {
  const strict = LEVEL_CASES[0]!.actions;
  const permissive = LEVEL_CASES[1]!.actions;

  it('counts a signature as expired from the expiry instant on', async () => {
    const bytes = await envelopeOf(COSE_MEDIA_TYPE, 'notary.x509', 'expired');
    const expiry = new Date(SIGNING_TIME.getTime() + DAY);
    assertOutcome(await verify(bytes, { mediaType: COSE_MEDIA_TYPE, now: new Date(expiry.getTime() - 1000) }), { actions: strict, failing: 'none' });
    assertOutcome(await verify(bytes, { mediaType: COSE_MEDIA_TYPE, now: expiry }), { actions: strict, failing: 'expiry' });
  });

  for (const mediaType of ENVELOPES) {
    it(`fails authenticTimestamp as unsupported when a tsa store asks for timestamp verification, logged under permissive (${mediaType})`, async () => {
      const bytes = await envelopeOf(mediaType, 'notary.x509');
      const policy = { trustStores: ['ca:test', 'tsa:test'] };
      const outcome = await verify(bytes, { mediaType, policy });
      assertOutcome(outcome, { actions: strict, failing: 'authenticTimestamp' });
      assert.equal(outcome.failure?.inconclusive, true);
      assert.match(result(outcome, 'authenticTimestamp').reason ?? '', /timestamp countersignatures cannot be verified yet/);
      assertOutcome(await verify(bytes, { mediaType, policy: { ...policy, level: 'permissive' } }), { actions: permissive, failing: 'authenticTimestamp' });
    });

    it(`with verifyTimestamp afterCertExpiry, needs no timestamp while the chain is valid and fails as unsupported once it expired (${mediaType})`, async () => {
      const bytes = await envelopeOf(mediaType, 'notary.x509');
      const policy = { trustStores: ['ca:test', 'tsa:test'], verifyTimestamp: 'afterCertExpiry' };
      assertOutcome(await verify(bytes, { mediaType, policy }), { actions: strict, failing: 'none' });
      const expired = await verify(bytes, { mediaType, policy, now: AFTER_LEAF_EXPIRY });
      assertOutcome(expired, { actions: strict, failing: 'authenticTimestamp' });
      assert.match(result(expired, 'authenticTimestamp').reason ?? '', /cannot be verified yet/);
    });

    it(`with verifyTimestamp afterCertExpiry, a leaf not yet valid is not "expired": the validity rule applies (${mediaType})`, async () => {
      const chain = createTestChain({ name: 'future-leaf-tsa', leaf: { notBefore: new Date(VERIFY_TIME.getTime() + DAY), notAfter: new Date(VERIFY_TIME.getTime() + 400 * DAY) } });
      const outcome = await verify(await signTestEnvelope({ mediaType, chain }), {
        mediaType,
        trustStore: trusting(chain.root.certificate),
        policy: { trustStores: ['ca:test', 'tsa:test'], verifyTimestamp: 'afterCertExpiry' },
      });
      assertOutcome(outcome, { actions: strict, failing: 'authenticTimestamp' });
      assert.match(result(outcome, 'authenticTimestamp').reason ?? '', /^verification time is before certificate/);
    });

    it(`ignores a tsa store for signingAuthority signatures (${mediaType})`, async () => {
      const outcome = await verify(await envelopeOf(mediaType, 'notary.x509.signingAuthority'), { mediaType, scheme: 'notary.x509.signingAuthority', policy: { trustStores: ['signingAuthority:test', 'tsa:test'] } });
      assertOutcome(outcome, { actions: strict, failing: 'none' });
    });
  }
});

describe('Verifier: target artifact and user metadata', () => {
  const mismatches: readonly { title: string; artifact: Descriptor }[] = [
    { title: 'another digest', artifact: { ...TARGET, digest: `sha256:${'5d'.repeat(32)}` } },
    { title: 'another size', artifact: { ...TARGET, size: TARGET.size + 1 } },
    { title: 'another media type', artifact: { ...TARGET, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' } },
  ];
  for (const mediaType of ENVELOPES) {
    for (const { title, artifact } of mismatches) {
      it(`fails with kind targetArtifact at every level when the signed descriptor has ${title} (${mediaType})`, async () => {
        for (const level of LEVEL_CASES) {
          const outcome = await verify(await envelopeOf(mediaType, 'notary.x509'), { mediaType, policy: level.policy, artifact });
          assert.equal(outcome.status, 'failed');
          assert.equal(outcome.failure?.kind, 'targetArtifact');
          assert.match(outcome.failure.message, /^content descriptor mismatch/);
          // Every check ran and passed: the mismatch is a separate, fatal step.
          for (const type of ORDER.slice(0, 4)) assert.equal(result(outcome, type).status === 'passed' || result(outcome, type).action === 'skip', true, type);
          assert.deepEqual(outcome.targetArtifact, TARGET);
        }
      });
    }
  }

  it('ignores annotations on the artifact descriptor: only media type, digest and size are compared', async () => {
    const outcome = await verify(await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509'), { mediaType: JWS_MEDIA_TYPE, artifact: { ...TARGET, annotations: { a: 'b' } } });
    assert.equal(outcome.status, 'passed');
  });

  for (const mediaType of ENVELOPES) {
    it(`checks --user-metadata against the signed annotations, at every level (${mediaType})`, async () => {
      const bytes = await signTestEnvelope({ mediaType, chain: chainOf(), target: { ...TARGET, annotations: { buildId: '123', team: 'core' } } });
      const cases: readonly [Record<string, string> | undefined, boolean][] = [
        [undefined, true],
        [{}, true],
        [{ buildId: '123' }, true],
        [{ buildId: '123', team: 'core' }, true],
        [{ buildId: '124' }, false],
        [{ other: 'x' }, false],
        [{ buildId: '123', other: 'x' }, false],
        [{ toString: 'x' }, false],
      ];
      for (const level of LEVEL_CASES) {
        for (const [userMetadata, passes] of cases) {
          const outcome = await verify(bytes, { mediaType, policy: level.policy, ...(userMetadata === undefined ? {} : { userMetadata }) });
          assert.equal(outcome.status, passes ? 'passed' : 'failed', JSON.stringify(userMetadata));
          if (!passes) {
            assert.equal(outcome.failure?.kind, 'userMetadata');
            assert.match(outcome.failure.message, /^unable to find specified metadata in the signature/);
          }
        }
      }
    });
  }

  it('fails user metadata when the signature has no annotations at all', async () => {
    const outcome = await verify(await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509'), { mediaType: JWS_MEDIA_TYPE, userMetadata: { buildId: '123' } });
    assert.equal(outcome.failure?.kind, 'userMetadata');
  });

  it('reports an enforced check failure before a target artifact mismatch', async () => {
    const outcome = await verify(await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509', 'expired'), { mediaType: JWS_MEDIA_TYPE, artifact: { ...TARGET, size: 1 } });
    assert.equal(outcome.failure?.kind, 'expiry');
  });
});

describe('Verifier: levels and the outcome', () => {
  it('verifies nothing at level skip, even garbage, and says so for every check', async () => {
    const outcome = await verify(Buffer.from('not an envelope'), { mediaType: JWS_MEDIA_TYPE, policy: { level: 'skip', trustStores: [], trustedIdentities: [] } });
    assert.equal(outcome.status, 'passed');
    assert.equal(outcome.level.name, 'skip');
    assert.deepEqual(
      outcome.results.map((r) => [r.type, r.action, r.status]),
      ORDER.map((t) => [t, 'skip', 'skipped']),
    );
    assert.equal(outcome.envelope, undefined);
  });

  it('returns a frozen outcome', async () => {
    const outcome = await verify(await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509'), { mediaType: JWS_MEDIA_TYPE });
    assert.ok(Object.isFrozen(outcome));
    assert.ok(Object.isFrozen(outcome.results));
    assert.ok(outcome.results.every((r) => Object.isFrozen(r)));
    assert.ok(Object.isFrozen(outcome.warnings));
  });

  it('uses the wall clock when no now is given', async () => {
    // The test chain's leaf expired long before the wall clock; a verifier at the real time sees that.
    const verifier = new Verifier({ trustStore: trusting(rootAuthority().certificate) });
    const outcome = await verifier.verifySignature({ envelope: { mediaType: JWS_MEDIA_TYPE, bytes: await envelopeOf(JWS_MEDIA_TYPE, 'notary.x509') }, statement: testStatement(), artifact: TARGET });
    assert.ok(Date.now() > LEAF_NOT_AFTER.getTime());
    assert.equal(outcome.failure?.kind, 'authenticTimestamp');
  });
});

describe('Verifier: Notation e2e signatures', () => {
  const artifact: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9', size: 517 };
  const blob = (layout: string, hex: string) => new Uint8Array(readFileSync(join(NOTATION_LAYOUTS, layout, 'blobs/sha256', hex)));
  const certificate = (name: string) => decodeCertificates(readFileSync(join(NOTATION_E2E, 'config/localkeys', name)), name);
  const valid = blob('e2e-valid-signature', 'c9af07e038b2b1a463e648986ad7273157511ffeba0b689f33e5472bae471f50');
  const expired = blob('e2e-expired-signature', 'b5f927564088f65dad86c81bcdd0b55415a8b4c9a0a5391107210e0cdb305cc7');
  const invalid = blob('e2e-invalid-signature', '9a8decdf3775708f4eed16859f19561d730cad40b1af0dcfc37ac1e5f879a934');

  async function verifyE2e(bytes: Uint8Array, level: string, storeCertificate: string, mediaType = JWS_MEDIA_TYPE): Promise<VerificationOutcome> {
    const verifier = new Verifier({ trustStore: new MemoryTrustStore({ 'ca:e2e': certificate(storeCertificate) }) });
    return verifier.verifySignature({
      envelope: { mediaType, bytes },
      statement: testStatement({ level, trustStores: ['ca:e2e'], trustedIdentities: ['x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=e2e'] }),
      artifact,
    });
  }

  it('passes e2e-valid-signature with e2e.crt in the ca store at every level', async () => {
    for (const level of ['strict', 'permissive', 'audit']) {
      const outcome = await verifyE2e(valid, level, 'e2e.crt');
      assert.equal(outcome.status, 'passed', outcome.failure?.message);
      assert.deepEqual(outcome.warnings, []);
      assert.deepEqual(outcome.targetArtifact, artifact);
      assert.equal(outcome.envelope?.content.signerInfo.unsignedAttributes.signingAgent, 'Notation/1.0.0');
      assert.equal(outcome.certificateChain[0]?.subject, 'CN=e2e,O=Notary,L=Seattle,ST=WA,C=US');
    }
  });

  it('fails e2e-valid-signature on authenticity with new_e2e.crt under strict and permissive, passes with a warning under audit', async () => {
    for (const level of ['strict', 'permissive']) {
      const outcome = await verifyE2e(valid, level, 'new_e2e.crt');
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.failure?.kind, 'authenticity');
      assert.equal(result(outcome, 'authenticity').reason, "the signature's certificate chain does not contain any trusted certificate");
    }
    const audit = await verifyE2e(valid, 'audit', 'new_e2e.crt');
    assert.equal(audit.status, 'passed');
    assert.deepEqual(audit.warnings, [`authenticity was set to "log" and failed with error: the signature's certificate chain does not contain any trusted certificate`]);
  });

  it('fails e2e-expired-signature on expiry under strict, passes with a warning under permissive and audit', async () => {
    const strict = await verifyE2e(expired, 'strict', 'e2e.crt');
    assert.equal(strict.status, 'failed');
    assert.equal(strict.failure?.kind, 'expiry');
    assert.equal(result(strict, 'expiry').reason, 'digital signature has expired on "Tue, 27 Jun 2023 05:21:21 +0000"');
    for (const level of ['permissive', 'audit']) {
      const outcome = await verifyE2e(expired, level, 'e2e.crt');
      assert.equal(outcome.status, 'passed');
      assert.deepEqual(outcome.warnings, ['expiry was set to "log" and failed with error: digital signature has expired on "Tue, 27 Jun 2023 05:21:21 +0000"']);
    }
  });

  it('fails e2e-invalid-signature (a text layer) on integrity at every level', async () => {
    for (const level of ['strict', 'permissive', 'audit']) {
      assertIntegrityFailure(await verifyE2e(invalid, level, 'e2e.crt', 'application/vnd.oci.image.layer.v1.tar'));
      assertIntegrityFailure(await verifyE2e(invalid, level, 'e2e.crt'));
    }
  });
});
