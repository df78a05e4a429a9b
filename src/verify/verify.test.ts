// verifyArtifact and its parts against real OCI layouts in temp directories, real signatures made
// with generated keys, and the file trust store: the notation-go Verify flow (first passing
// signature wins, at most maxSignatures tried, every attempt reported) plus Sigil's rule that a
// garbage referrer is one failed attempt rather than the end of verification.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildImageLayout } from '../../test/support/sigil-cli.js';
import { createLocalSigner } from '../keys/index.js';
import {
  addTrustStoreCertificates,
  COSE_MEDIA_TYPE,
  createTrustPolicyDocument,
  FileTrustStore,
  JWS_MEDIA_TYPE,
  pushSignature,
  signArtifact,
  TrustPolicyError,
  Verifier,
  type EnvelopeMediaType,
  type TrustPolicyDocument,
} from '../notary/index.js';
import {
  digestOf,
  EMPTY_JSON_DIGEST,
  MAX_ENVELOPE_BYTES,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPE_EMPTY_JSON,
  MEDIA_TYPE_IMAGE_CONFIG,
  MEDIA_TYPE_IMAGE_MANIFEST,
  MEDIA_TYPE_NOTARY_SIGNATURE,
  OciLayout,
  type Descriptor,
} from '../oci/index.js';
import { encodeCertificatesPem, generateTestCertificate, type TestCertificate } from '../pki/index.js';
import { DEFAULT_MAX_SIGNATURES, fetchSignature, listSignatures, statementFor, verifyArtifact, type SignatureSource, type VerifyArtifactRequest } from './index.js';
import { VerifyError } from './errors.js';

const SCOPE = 'registry.example/acme/app';
const opts = () => ({ signal: AbortSignal.timeout(30_000) });

let dir: string;
let trusted: TestCertificate;
let untrusted: TestCertificate;
let verifier: Verifier;
let layoutCount = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sigil-verify-'));
  // A minute in the past, so a signing time of "now" is inside the certificate's validity.
  const now = new Date(Date.now() - 60_000);
  trusted = generateTestCertificate({ name: 'trusted', now });
  untrusted = generateTestCertificate({ name: 'untrusted', now });
  const certPath = join(dir, 'trusted.crt');
  await writeFile(certPath, encodeCertificatesPem([trusted.certificate]));
  await addTrustStoreCertificates({ root: join(dir, 'truststore'), type: 'ca', name: 'acme', files: [certPath] });
  verifier = new Verifier({ trustStore: new FileTrustStore({ root: join(dir, 'truststore') }) });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function policy(level = 'strict', registryScopes: string[] = ['*']): TrustPolicyDocument {
  return level === 'skip'
    ? createTrustPolicyDocument({ name: 'skip-all', registryScopes, level })
    : createTrustPolicyDocument({ name: `acme-${level}`, registryScopes, level, trustStores: ['ca:acme'], trustedIdentities: ['*'] });
}

/** A fresh layout holding one small image; returns it and the image's descriptor. */
async function freshLayout(): Promise<{ layout: OciLayout; artifact: Descriptor }> {
  const root = join(dir, `layout-${layoutCount++}`);
  await buildImageLayout(root);
  const layout = await OciLayout.open(root);
  return { layout, artifact: await layout.resolve('v1', opts()) };
}

/** Signs `artifact` with `key` and pushes the signature into `layout`; returns the signature manifest's descriptor. */
async function sign(layout: OciLayout, artifact: Descriptor, key: TestCertificate, format: EnvelopeMediaType = JWS_MEDIA_TYPE): Promise<Descriptor> {
  const packed = await signArtifact({
    artifact,
    signer: createLocalSigner(key.privateKey, [key.certificate]),
    envelopeMediaType: format,
    signingTime: new Date(Math.floor(Date.now() / 1000) * 1000),
    userMetadata: { signer: key.certificate.subject },
    signingAgent: 'sigil-verify-test',
  });
  await pushSignature(layout, packed, opts());
  return packed.manifest.descriptor;
}

/** Pushes a manifest with `subject` = artifact (blobs it names are not pushed); returns its descriptor. */
async function pushReferrer(layout: OciLayout, artifact: Descriptor, fields: Record<string, unknown>): Promise<Descriptor> {
  const bytes = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_IMAGE_MANIFEST,
      config: { mediaType: MEDIA_TYPE_EMPTY_JSON, digest: EMPTY_JSON_DIGEST, size: 2 },
      layers: [],
      subject: { mediaType: artifact.mediaType, digest: artifact.digest, size: artifact.size },
      ...fields,
    }),
  );
  const descriptor: Descriptor = { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: digestOf(bytes), size: bytes.byteLength };
  await layout.push(descriptor, bytes, opts());
  return descriptor;
}

/** A referrer that says it is a signature but whose config says otherwise: decodeSignatureManifest refuses it. */
function pushNotASignatureManifest(layout: OciLayout, artifact: Descriptor): Promise<Descriptor> {
  const blob = { mediaType: JWS_MEDIA_TYPE, digest: digestOf(randomBytes(16)), size: 16 };
  return pushReferrer(layout, artifact, { artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, config: { mediaType: MEDIA_TYPE_IMAGE_CONFIG, digest: EMPTY_JSON_DIGEST, size: 2 }, layers: [blob] });
}

/** A well-formed signature manifest whose envelope blob was never pushed. */
function pushSignatureWithoutEnvelope(layout: OciLayout, artifact: Descriptor): Promise<Descriptor> {
  const envelope = { mediaType: JWS_MEDIA_TYPE, digest: digestOf(randomBytes(32)), size: 32 };
  return pushReferrer(layout, artifact, { artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, layers: [envelope] });
}

function request(source: SignatureSource, artifact: Descriptor, extra: Partial<VerifyArtifactRequest> = {}): VerifyArtifactRequest {
  return { source, artifact, scope: SCOPE, trustPolicy: policy(), verifier, ...opts(), ...extra };
}

/** Delegates to `source` and records each call, to prove what verifyArtifact did (and did not) read. */
function recording(source: SignatureSource): { source: SignatureSource; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    source: {
      fetch: (d, o) => (calls.push(`fetch ${d.digest}`), source.fetch(d, o)),
      exists: (d, o) => (calls.push(`exists ${d.digest}`), source.exists(d, o)),
      resolve: (r, o) => (calls.push(`resolve ${r}`), source.resolve(r, o)),
      referrers: (s, o) => (calls.push(`referrers ${s.digest}`), source.referrers(s, o)),
    },
  };
}

describe('verifyArtifact', () => {
  it('returns skipped for a skip statement without listing or fetching anything', async () => {
    const { layout, artifact } = await freshLayout();
    await sign(layout, artifact, trusted);
    const { source, calls } = recording(layout);
    const report = await verifyArtifact(request(source, artifact, { trustPolicy: policy('skip') }));
    assert.equal(report.status, 'skipped');
    assert.deepEqual(report.statement, { name: 'skip-all', level: 'skip' });
    assert.deepEqual(report.signatures, []);
    assert.equal(report.verified, undefined);
    assert.deepEqual(calls, []);
  });

  it('fails with Notation\'s message when the artifact has no signature', async () => {
    const { layout, artifact } = await freshLayout();
    const report = await verifyArtifact(request(layout, artifact));
    assert.equal(report.status, 'failed');
    assert.deepEqual(report.signatures, []);
    assert.equal(report.reference, `${SCOPE}@${artifact.digest}`);
    assert.equal(report.message, `no signature is associated with "${SCOPE}@${artifact.digest}", make sure the artifact was signed successfully`);
  });

  it('stops at the first signature that passes and reports the attempts in order', async () => {
    const { layout, artifact } = await freshLayout();
    const bad = await sign(layout, artifact, untrusted);
    const good = await sign(layout, artifact, trusted);
    const later = await sign(layout, artifact, trusted, COSE_MEDIA_TYPE);
    const { source, calls } = recording(layout);
    const report = await verifyArtifact(request(source, artifact));
    assert.equal(report.status, 'verified');
    assert.deepEqual(
      report.signatures.map((a) => [a.descriptor.digest, a.status]),
      [
        [bad.digest, 'failed'],
        [good.digest, 'passed'],
      ],
    );
    assert.equal(report.verified, report.signatures[1]);
    assert.equal(report.message, undefined);
    assert.match(report.signatures[0]?.message ?? '', /^authenticity validation failed: the signature's certificate chain does not contain any trusted certificate/);
    assert.equal(report.verified?.outcome?.targetArtifact?.digest, artifact.digest);
    assert.ok(!calls.some((c) => c === `fetch ${later.digest}`), 'the signature after the passing one is never fetched');
  });

  it('fails with the summary when every signature fails', async () => {
    const { layout, artifact } = await freshLayout();
    await sign(layout, artifact, untrusted);
    await sign(layout, artifact, untrusted, COSE_MEDIA_TYPE);
    const report = await verifyArtifact(request(layout, artifact));
    assert.equal(report.status, 'failed');
    assert.deepEqual(report.signatures.map((a) => a.status), ['failed', 'failed']);
    assert.equal(report.message, `signature verification failed for all the signatures associated with ${SCOPE}@${artifact.digest}`);
  });

  it('counts a referrer that is not a signature manifest as a failed attempt and tries the next', async () => {
    const { layout, artifact } = await freshLayout();
    const garbage = await pushNotASignatureManifest(layout, artifact);
    const good = await sign(layout, artifact, trusted);
    const report = await verifyArtifact(request(layout, artifact));
    assert.equal(report.status, 'verified');
    assert.deepEqual(report.signatures.map((a) => a.descriptor.digest), [garbage.digest, good.digest]);
    const [first] = report.signatures;
    assert.equal(first?.status, 'failed');
    assert.equal(first?.outcome, undefined);
    assert.match(first?.message ?? '', /^unable to retrieve the signature: .*not a Notary signature manifest/);
  });

  it('counts a signature manifest whose envelope blob is missing as a failed attempt and tries the next', async () => {
    const { layout, artifact } = await freshLayout();
    const missing = await pushSignatureWithoutEnvelope(layout, artifact);
    const good = await sign(layout, artifact, trusted);
    const report = await verifyArtifact(request(layout, artifact));
    assert.equal(report.status, 'verified');
    assert.deepEqual(report.signatures.map((a) => [a.descriptor.digest, a.status]), [
      [missing.digest, 'failed'],
      [good.digest, 'passed'],
    ]);
    assert.match(report.signatures[0]?.message ?? '', /^unable to retrieve the signature: .*not found/);
  });

  it('fails closed when the only referrers are garbage', async () => {
    const { layout, artifact } = await freshLayout();
    await pushNotASignatureManifest(layout, artifact);
    await pushSignatureWithoutEnvelope(layout, artifact);
    const report = await verifyArtifact(request(layout, artifact));
    assert.equal(report.status, 'failed');
    assert.equal(report.signatures.length, 2);
    assert.equal(report.message, `signature verification failed for all the signatures associated with ${SCOPE}@${artifact.digest}`);
  });

  it('stops after maxSignatures failed attempts with Notation\'s limit message', async () => {
    const { layout, artifact } = await freshLayout();
    const first = await sign(layout, artifact, untrusted);
    const second = await sign(layout, artifact, untrusted, COSE_MEDIA_TYPE);
    const good = await sign(layout, artifact, trusted);
    const { source, calls } = recording(layout);
    const report = await verifyArtifact(request(source, artifact, { maxSignatures: 2 }));
    assert.equal(report.status, 'failed');
    assert.deepEqual(report.signatures.map((a) => a.descriptor.digest), [first.digest, second.digest]);
    assert.equal(report.message, 'signature evaluation stopped. The configured limit of 2 signatures to verify per artifact exceeded');
    assert.ok(!calls.includes(`fetch ${good.digest}`), 'the signature past the limit is never fetched');
    // With room for one more, the good signature is reached.
    assert.equal((await verifyArtifact(request(layout, artifact, { maxSignatures: 3 }))).status, 'verified');
  });

  it('reports the summary, not the limit, when exactly maxSignatures signatures all fail', async () => {
    const { layout, artifact } = await freshLayout();
    await sign(layout, artifact, untrusted);
    const report = await verifyArtifact(request(layout, artifact, { maxSignatures: 1 }));
    assert.equal(report.status, 'failed');
    assert.equal(report.message, `signature verification failed for all the signatures associated with ${SCOPE}@${artifact.digest}`);
  });

  for (const bad of [0, -1, 1.5, Number.NaN]) {
    it(`throws VerifyError MAX_SIGNATURES_INVALID for maxSignatures ${bad}`, async () => {
      const { layout, artifact } = await freshLayout();
      await assert.rejects(verifyArtifact(request(layout, artifact, { maxSignatures: bad })), (error: unknown) => {
        assert.ok(error instanceof VerifyError);
        assert.equal(error.code, 'MAX_SIGNATURES_INVALID');
        assert.match(error.message, /^max-signatures value .* must be a positive number$/);
        return true;
      });
    });
  }

  it('throws TrustPolicyError NO_APPLICABLE_TRUST_POLICY when no statement covers the scope, before reading anything', async () => {
    const { layout, artifact } = await freshLayout();
    const { source, calls } = recording(layout);
    await assert.rejects(verifyArtifact(request(source, artifact, { trustPolicy: policy('strict', ['registry.example/acme/other']) })), (error: unknown) => {
      assert.ok(error instanceof TrustPolicyError);
      assert.equal(error.code, 'NO_APPLICABLE_TRUST_POLICY');
      assert.ok(error.message.includes(`${SCOPE}@${artifact.digest}`));
      return true;
    });
    assert.deepEqual(calls, []);
  });

  it('uses the statement naming the scope over the wildcard statement', async () => {
    const { layout, artifact } = await freshLayout();
    await sign(layout, artifact, trusted);
    const doc = createTrustPolicyDocument({ name: 'exact', registryScopes: [SCOPE], level: 'audit', trustStores: ['ca:acme'], trustedIdentities: ['*'] });
    const report = await verifyArtifact(request(layout, artifact, { trustPolicy: doc }));
    assert.deepEqual(report.statement, { name: 'exact', level: 'audit' });
    assert.equal(statementFor(doc, SCOPE, artifact).name, 'exact');
  });

  it('requires --user-metadata pairs to be signed', async () => {
    const { layout, artifact } = await freshLayout();
    await sign(layout, artifact, trusted);
    const present = await verifyArtifact(request(layout, artifact, { userMetadata: { signer: trusted.certificate.subject } }));
    assert.equal(present.status, 'verified');
    assert.deepEqual(present.verified?.outcome?.targetArtifact?.annotations, { signer: trusted.certificate.subject });
    const absent = await verifyArtifact(request(layout, artifact, { userMetadata: { stage: 'prod' } }));
    assert.equal(absent.status, 'failed');
    assert.equal(absent.signatures[0]?.message, 'unable to find specified metadata in the signature: stage=prod');
  });

  // Signing scheme notary.x509 × envelope × level × authenticity: a trusted signature passes at
  // every level; an untrusted one fails where authenticity is enforced and is logged under audit.
  for (const format of [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE] as const) {
    for (const level of ['strict', 'permissive', 'audit'] as const) {
      it(`${format} at ${level}: trusted passes, untrusted ${level === 'audit' ? 'passes with a warning' : 'fails authenticity'}`, async () => {
        const { layout, artifact } = await freshLayout();
        await sign(layout, artifact, trusted, format);
        const good = await verifyArtifact(request(layout, artifact, { trustPolicy: policy(level) }));
        assert.equal(good.status, 'verified');
        assert.deepEqual(good.verified?.outcome?.warnings, []);
        assert.equal(good.verified?.outcome?.results.find((r) => r.type === 'authenticity')?.status, 'passed');

        const other = await freshLayout();
        await sign(other.layout, other.artifact, untrusted, format);
        const report = await verifyArtifact(request(other.layout, other.artifact, { trustPolicy: policy(level) }));
        const authenticity = report.signatures[0]?.outcome?.results.find((r) => r.type === 'authenticity');
        assert.equal(authenticity?.status, 'failed');
        if (level === 'audit') {
          assert.equal(report.status, 'verified');
          assert.equal(authenticity?.action, 'log');
          assert.match(report.verified?.outcome?.warnings[0] ?? '', /^authenticity was set to "log" and failed with error: the signature's certificate chain does not contain any trusted certificate/);
        } else {
          assert.equal(report.status, 'failed');
          assert.equal(authenticity?.action, 'enforce');
        }
      });
    }
  }
});

describe('listSignatures', () => {
  it('lists only Notary signatures among the referrers', async () => {
    const { layout, artifact } = await freshLayout();
    await pushReferrer(layout, artifact, { artifactType: 'application/spdx+json', layers: [{ mediaType: 'application/spdx+json', digest: digestOf(randomBytes(8)), size: 8 }] });
    const signature = await sign(layout, artifact, trusted);
    const listed: Descriptor[] = [];
    for await (const d of listSignatures(layout, artifact, opts())) listed.push(d);
    assert.deepEqual(listed.map((d) => [d.digest, d.artifactType]), [[signature.digest, MEDIA_TYPE_NOTARY_SIGNATURE]]);
  });
});

describe('fetchSignature', () => {
  it('returns the signature manifest and its envelope bytes', async () => {
    const { layout, artifact } = await freshLayout();
    const signature = await sign(layout, artifact, trusted, COSE_MEDIA_TYPE);
    const { manifest, envelope } = await fetchSignature(layout, signature, opts());
    assert.equal(manifest.envelope.mediaType, COSE_MEDIA_TYPE);
    assert.equal(manifest.subject?.digest, artifact.digest);
    assert.equal(digestOf(envelope), manifest.envelope.digest);
  });

  it('refuses a signature manifest over 4 MiB before fetching it', async () => {
    const { layout } = await freshLayout();
    const { source, calls } = recording(layout);
    const huge: Descriptor = { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: digestOf(randomBytes(8)), size: MAX_MANIFEST_BYTES + 1 };
    await assert.rejects(fetchSignature(source, huge, opts()), (error: unknown) => error instanceof VerifyError && error.code === 'SIZE_EXCEEDS_LIMIT');
    assert.deepEqual(calls, []);
  });

  it('refuses an envelope over 32 MiB before fetching it', async () => {
    const { layout, artifact } = await freshLayout();
    const envelope = { mediaType: JWS_MEDIA_TYPE, digest: digestOf(randomBytes(8)), size: MAX_ENVELOPE_BYTES + 1 };
    const signature = await pushReferrer(layout, artifact, { artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, layers: [envelope] });
    const { source, calls } = recording(layout);
    await assert.rejects(fetchSignature(source, signature, opts()), (error: unknown) => error instanceof VerifyError && error.code === 'SIZE_EXCEEDS_LIMIT' && error.message.includes(envelope.digest));
    assert.deepEqual(calls, [`fetch ${signature.digest}`]);
  });
});

it('defaults to notation-go\'s 100 signatures per artifact', () => {
  assert.equal(DEFAULT_MAX_SIGNATURES, 100);
});
