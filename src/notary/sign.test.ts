import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  createTestChain,
  LEAF_NOT_AFTER,
  LEAF_NOT_BEFORE,
  MemoryTrustStore,
  SIGNING_TIME,
  signerOf,
  TARGET,
  testStatement,
  VERIFY_TIME,
  type TestChain,
} from '../../test/support/notary.js';
import type { Signer } from '../keys/index.js';
import {
  describeManifest,
  digestOf,
  encodeManifest,
  MEDIA_TYPE_EMPTY_JSON,
  MEDIA_TYPE_IMAGE_LAYER,
  MEDIA_TYPE_IMAGE_MANIFEST,
  MEDIA_TYPE_NOTARY_SIGNATURE,
  OciLayout,
  readVerified,
  type Descriptor,
  type Exister,
  type Pusher,
} from '../oci/index.js';
import type { KeySpec } from '../pki/index.js';
import { ALGORITHMS } from './algorithm.js';
import { decodeEnvelope } from './codec.js';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, type EnvelopeMediaType } from './envelope.js';
import { NotaryError, SigningError } from './errors.js';
import { decodePayload } from './payload.js';
import { isSameArtifact, pushSignature, signArtifact, withUserMetadata, type SignArtifactRequest } from './sign.js';
import { ANNOTATION_CREATED, ANNOTATION_THUMBPRINT, decodeSignatureManifest, thumbprintsOf } from './signature-manifest.js';
import { Verifier } from './verifier.js';

const KEY_SPECS: readonly KeySpec[] = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'EC-256', 'EC-384', 'EC-521'];
const ENVELOPES: readonly EnvelopeMediaType[] = [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE];
const DAY = 24 * 3600_000;
const options = () => ({ signal: AbortSignal.timeout(60_000) });

const chains = new Map<KeySpec, TestChain>();
function chainFor(spec: KeySpec): TestChain {
  let chain = chains.get(spec);
  if (chain === undefined) {
    chain = createTestChain({ name: `sign-${spec.toLowerCase()}`, keySpec: spec });
    chains.set(spec, chain);
  }
  return chain;
}

function request(overrides: Partial<SignArtifactRequest> = {}): SignArtifactRequest {
  return { artifact: TARGET, signer: signerOf(chainFor('RSA-2048')), envelopeMediaType: JWS_MEDIA_TYPE, signingTime: SIGNING_TIME, signingAgent: 'sigil/0.1.0', ...overrides };
}

async function rejectsWith(promise: Promise<unknown>, cls: typeof NotaryError, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

async function verifyPacked(chain: TestChain, mediaType: string, bytes: Uint8Array, artifact: Descriptor = TARGET) {
  const verifier = new Verifier({ trustStore: new MemoryTrustStore({ 'ca:test': [chain.root.certificate] }), now: () => VERIFY_TIME });
  return verifier.verifySignature({ envelope: { mediaType, bytes }, statement: testStatement(), artifact });
}

describe('signArtifact', () => {
  for (const spec of KEY_SPECS) {
    for (const mediaType of ENVELOPES) {
      it(`signs with a ${spec} key into ${mediaType} that decodes and verifies`, async () => {
        const chain = chainFor(spec);
        const packed = await signArtifact(request({ signer: signerOf(chain), envelopeMediaType: mediaType }));
        const algorithm = ALGORITHMS.find((a) => a.keySpec === spec);
        const decoded = decodeEnvelope(mediaType, packed.envelope.bytes);
        const { signerInfo } = decoded.content;
        assert.equal(signerInfo.signatureAlgorithm, algorithm?.name);
        assert.equal(signerInfo.signature.length, algorithm?.signatureSize);
        assert.equal(signerInfo.signedAttributes.signingScheme, 'notary.x509');
        assert.deepEqual(signerInfo.signedAttributes.signingTime, SIGNING_TIME);
        assert.equal(signerInfo.signedAttributes.expiry, undefined);
        assert.equal(signerInfo.unsignedAttributes.signingAgent, 'sigil/0.1.0');
        assert.deepEqual(signerInfo.certificateChain.map((d) => Buffer.from(d).toString('hex')), chain.ders.map((d) => Buffer.from(d).toString('hex')));
        assert.deepEqual(decodePayload(decoded.content.payload.content).targetArtifact, TARGET);
        // The packed envelope is what the manifest's one layer describes.
        assert.deepEqual(packed.envelope.descriptor, { mediaType, digest: digestOf(packed.envelope.bytes), size: packed.envelope.bytes.length });
        const outcome = await verifyPacked(chain, mediaType, packed.envelope.bytes);
        assert.equal(outcome.status, 'passed', outcome.failure?.message);
      });
    }
  }

  it('signs the expiry and truncates both times to the second', async () => {
    for (const mediaType of ENVELOPES) {
      const signingTime = new Date(SIGNING_TIME.getTime() + 750);
      const packed = await signArtifact(request({ envelopeMediaType: mediaType, signingTime, expiry: new Date(SIGNING_TIME.getTime() + DAY + 999) }));
      const attributes = decodeEnvelope(mediaType, packed.envelope.bytes).content.signerInfo.signedAttributes;
      assert.deepEqual(attributes.signingTime, SIGNING_TIME);
      assert.deepEqual(attributes.expiry, new Date(SIGNING_TIME.getTime() + DAY));
      const manifest = decodeSignatureManifest(packed.manifest.bytes, MEDIA_TYPE_IMAGE_MANIFEST, 'signature');
      assert.equal(manifest.annotations[ANNOTATION_CREATED], '2025-03-01T10:00:00Z');
    }
  });

  it('signs user metadata into targetArtifact.annotations, next to the artifact’s own annotations', async () => {
    for (const mediaType of ENVELOPES) {
      const artifact = { ...TARGET, annotations: { 'org.opencontainers.image.title': 'app' } };
      const packed = await signArtifact(request({ envelopeMediaType: mediaType, artifact, userMetadata: { buildId: '123', 'com.example/team': 'core' } }));
      const target = decodePayload(decodeEnvelope(mediaType, packed.envelope.bytes).content.payload.content).targetArtifact;
      assert.deepEqual(target.annotations, { 'org.opencontainers.image.title': 'app', buildId: '123', 'com.example/team': 'core' });
      // The subject keeps only media type, digest and size.
      const manifest = decodeSignatureManifest(packed.manifest.bytes, MEDIA_TYPE_IMAGE_MANIFEST, 'signature');
      assert.deepEqual(manifest.subject, TARGET);
      const outcome = await verifyPacked(chainFor('RSA-2048'), mediaType, packed.envelope.bytes);
      assert.equal(outcome.status, 'passed');
      assert.deepEqual(outcome.targetArtifact?.annotations, target.annotations);
    }
  });

  it('refuses reserved io.cncf.notary user metadata keys and keys the artifact already has', async () => {
    for (const key of ['io.cncf.notary.signingTime', 'io.cncf.notary', 'io.cncf.notaryx']) {
      await rejectsWith(signArtifact(request({ userMetadata: { [key]: 'x' } })), NotaryError, 'USER_METADATA_INVALID');
    }
    await rejectsWith(signArtifact(request({ artifact: { ...TARGET, annotations: { buildId: '1' } }, userMetadata: { buildId: '2' } })), NotaryError, 'USER_METADATA_INVALID');
  });

  it('refuses an expiry equal to or before the signing time', async () => {
    for (const expiry of [SIGNING_TIME, new Date(SIGNING_TIME.getTime() - 1000), new Date(SIGNING_TIME.getTime() + 500)]) {
      await rejectsWith(signArtifact(request({ expiry })), SigningError, 'SIGNING_FAILED');
    }
  });

  it('refuses a chain that is not valid at the signing time', async () => {
    for (const signingTime of [new Date(LEAF_NOT_BEFORE.getTime() - 1000), new Date(LEAF_NOT_AFTER.getTime() + 1000)]) {
      await rejectsWith(signArtifact(request({ signingTime })), SigningError, 'SIGNING_FAILED');
    }
  });

  it('refuses a chain that breaks the certificate requirements', async () => {
    const caLeaf = createTestChain({ name: 'sign-ca-leaf', leaf: { basicConstraints: { cA: true }, keyUsage: { usages: ['digitalSignature', 'keyCertSign'] } } });
    await rejectsWith(signArtifact(request({ signer: signerOf(caLeaf) })), SigningError, 'SIGNING_FAILED');
    const chain = chainFor('RSA-2048');
    const noRoot: Signer = { ...signerOf(chain), certificateChain: chain.certificates.slice(0, 2) };
    await rejectsWith(signArtifact(request({ signer: noRoot })), SigningError, 'SIGNING_FAILED');
    await rejectsWith(signArtifact(request({ signer: { ...signerOf(chain), certificateChain: [] } })), SigningError, 'SIGNING_FAILED');
  });

  describe('refuses a signer that misbehaves, before anything is pushed', () => {
    const chain = chainFor('EC-256');
    const good = signerOf(chain);
    const signers: readonly [string, Signer][] = [
      ['random bytes of the right size', { ...good, sign: async () => new Uint8Array(randomBytes(64)) }],
      ['bytes of the wrong size', { ...good, sign: async () => new Uint8Array(63) }],
      ['a DER-encoded ECDSA signature', { ...good, sign: async (data) => new Uint8Array(Buffer.concat([Buffer.from([0x30, 0x44, 0x02, 0x20]), Buffer.from((await good.sign(data)).subarray(0, 32)), Buffer.from([0x02, 0x20]), Buffer.from((await good.sign(data)).subarray(32))])) }],
      ['an exception', { ...good, sign: async () => Promise.reject(new Error('HSM unplugged')) }],
      ['a signature by another key', { ...good, sign: (data) => signerOf(createTestChain({ name: 'sign-other', keySpec: 'EC-256', keyIndex: 1 })).sign(data) }],
      ['a key spec that is not its key', { ...good, keySpec: 'EC-384' }],
      ['a key spec Notary does not have', { ...good, keySpec: 'ED-25519' as KeySpec }],
    ];
    for (const [title, signer] of signers) {
      for (const mediaType of ENVELOPES) {
        it(`${title} (${mediaType})`, async () => {
          const pushed: Descriptor[] = [];
          const target: Pusher & Exister = {
            push: async (desc) => void pushed.push(desc),
            exists: async () => false,
          };
          await rejectsWith(
            signArtifact(request({ signer, envelopeMediaType: mediaType })).then((packed) => pushSignature(target, packed, options())),
            SigningError,
            'SIGNING_FAILED',
          );
          assert.deepEqual(pushed, []);
        });
      }
    }
  });
});

describe('withUserMetadata', () => {
  it('keeps only media type, digest, size and annotations, and freezes the result', () => {
    const artifact: Descriptor = { ...TARGET, artifactType: 'application/example', urls: ['https://example.com'], annotations: { a: '1' } };
    const target = withUserMetadata(artifact, { b: '2' });
    assert.deepEqual(target, { ...TARGET, annotations: { a: '1', b: '2' } });
    assert.ok(Object.isFrozen(target));
    assert.deepEqual(withUserMetadata(TARGET, undefined), TARGET);
    assert.deepEqual(withUserMetadata(TARGET, {}), TARGET);
    assert.equal('annotations' in withUserMetadata(TARGET, {}), false);
  });

  it('treats keys named like Object.prototype members as plain keys', () => {
    const metadata = JSON.parse('{"__proto__":"a","toString":"b","constructor":"c","hasOwnProperty":"d"}') as Record<string, string>;
    const target = withUserMetadata(TARGET, metadata);
    assert.deepEqual(Object.entries(target.annotations ?? {}), [
      ['__proto__', 'a'],
      ['toString', 'b'],
      ['constructor', 'c'],
      ['hasOwnProperty', 'd'],
    ]);
  });

  it('refuses a key colliding with an existing annotation, and the reserved prefix, with USER_METADATA_INVALID', () => {
    for (const [artifact, metadata] of [
      [{ ...TARGET, annotations: { k: 'v' } }, { k: 'v' }],
      [TARGET, { 'io.cncf.notary.x509chain.thumbprint#S256': '[]' }],
    ] as const) {
      assert.throws(
        () => withUserMetadata(artifact, metadata),
        (e: unknown) => e instanceof NotaryError && e.code === 'USER_METADATA_INVALID',
      );
    }
  });
});

describe('isSameArtifact', () => {
  it('compares media type, digest and size, not annotations', () => {
    assert.equal(isSameArtifact(TARGET, { ...TARGET, annotations: { a: 'b' } }), true);
    assert.equal(isSameArtifact(TARGET, { ...TARGET, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' }), false);
    assert.equal(isSameArtifact(TARGET, { ...TARGET, size: TARGET.size + 1 }), false);
    assert.equal(isSameArtifact(TARGET, { ...TARGET, digest: `sha256:${'00'.repeat(32)}` }), false);
  });
});

describe('pushSignature', () => {
  const roots: string[] = [];
  after(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  /** A layout holding one image (empty config, one layer), and its manifest descriptor. */
  async function layoutWithImage(): Promise<{ layout: OciLayout; subject: Descriptor }> {
    const root = await mkdtemp(join(tmpdir(), 'sigil-sign-'));
    roots.push(root);
    const layout = await OciLayout.open(join(root, 'layout'), { create: true });
    const config = new TextEncoder().encode('{}');
    const layer = new TextEncoder().encode('awesome sigil\n');
    const configDescriptor = { mediaType: MEDIA_TYPE_EMPTY_JSON, digest: digestOf(config), size: config.length };
    const layerDescriptor = { mediaType: MEDIA_TYPE_IMAGE_LAYER, digest: digestOf(layer), size: layer.length };
    await layout.push(configDescriptor, config, options());
    await layout.push(layerDescriptor, layer, options());
    const manifest = encodeManifest({ kind: 'manifest', schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, config: configDescriptor, layers: [layerDescriptor] });
    const subject = describeManifest(manifest, MEDIA_TYPE_IMAGE_MANIFEST);
    await layout.pushReference(subject, manifest, 'v1', options());
    return { layout, subject };
  }

  for (const mediaType of ENVELOPES) {
    it(`makes the signature a referrer of the subject in an OCI layout, and it verifies from there (${mediaType})`, async () => {
      const { layout, subject } = await layoutWithImage();
      const chain = chainFor('EC-384');
      const packed = await signArtifact(request({ artifact: subject, signer: signerOf(chain), envelopeMediaType: mediaType }));
      await pushSignature(layout, packed, options());

      const referrers: Descriptor[] = [];
      for await (const r of layout.referrers(subject, { ...options(), artifactType: MEDIA_TYPE_NOTARY_SIGNATURE })) referrers.push(r);
      assert.equal(referrers.length, 1);
      const [referrer] = referrers as [Descriptor];
      assert.equal(referrer.digest, packed.manifest.descriptor.digest);
      assert.equal(referrer.artifactType, MEDIA_TYPE_NOTARY_SIGNATURE);
      assert.equal(referrer.annotations?.[ANNOTATION_THUMBPRINT], thumbprintsOf(chain.ders));

      const manifestBytes = await readVerified(await layout.fetch(referrer, options()), referrer);
      const manifest = decodeSignatureManifest(manifestBytes, referrer.mediaType, referrer.digest);
      assert.deepEqual(manifest.subject, subject);
      const envelope = await readVerified(await layout.fetch(manifest.envelope, options()), manifest.envelope);
      const outcome = await verifyPacked(chain, manifest.envelope.mediaType, envelope, subject);
      assert.equal(outcome.status, 'passed', outcome.failure?.message);
    });
  }

  it('pushes blobs before the manifest, skips blobs already present, and lists each signature once', async () => {
    const { layout, subject } = await layoutWithImage();
    const first = await signArtifact(request({ artifact: subject }));
    const second = await signArtifact(request({ artifact: subject, envelopeMediaType: COSE_MEDIA_TYPE }));
    const order: string[] = [];
    const recording: Pusher & Exister = {
      push: async (desc, content, o) => {
        order.push(desc.mediaType);
        await layout.push(desc, content, o);
      },
      exists: (desc, o) => layout.exists(desc, o),
    };
    await pushSignature(recording, first, options());
    assert.deepEqual(order, [JWS_MEDIA_TYPE, MEDIA_TYPE_IMAGE_MANIFEST]);
    order.length = 0;
    await pushSignature(recording, second, options());
    await pushSignature(recording, second, options());
    assert.deepEqual(order, [COSE_MEDIA_TYPE, MEDIA_TYPE_IMAGE_MANIFEST, MEDIA_TYPE_IMAGE_MANIFEST]);
    const digests: string[] = [];
    for await (const r of layout.referrers(subject, options())) digests.push(r.digest);
    assert.deepEqual(digests.sort(), [first.manifest.descriptor.digest, second.manifest.descriptor.digest].sort());
  });
});
