// Signature manifests field by field against signature-specification.md (Storage) and what
// Notation 1.x and 2 write and read.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createTestChain, TARGET } from '../../test/support/notary.js';
import { NOTATION_E2E, NOTATION_LAYOUTS } from '../../test/support/shared.js';
import {
  digestOf,
  EMPTY_JSON_DIGEST,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPE_ARTIFACT_MANIFEST,
  MEDIA_TYPE_EMPTY_JSON,
  MEDIA_TYPE_IMAGE_INDEX,
  MEDIA_TYPE_IMAGE_MANIFEST,
  MEDIA_TYPE_NOTARY_SIGNATURE,
  type Descriptor,
} from '../oci/index.js';
import { decodeCertificates } from '../pki/index.js';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE } from './envelope.js';
import { SignatureManifestError } from './errors.js';
import { ANNOTATION_CREATED, ANNOTATION_THUMBPRINT, decodeSignatureManifest, EMPTY_JSON, packSignature, thumbprintsOf } from './signature-manifest.js';
import { formatRfc3339 } from './jws.js';

const chain = createTestChain({ name: 'manifest' });
const ENVELOPE = new TextEncoder().encode('{"payload":"…","protected":"…","header":{},"signature":"…"}');
const SIGNING_TIME = new Date('2025-03-01T10:00:00.750Z');

function pack(overrides: Partial<Parameters<typeof packSignature>[0]> = {}) {
  return packSignature({ subject: TARGET, envelope: { mediaType: JWS_MEDIA_TYPE, bytes: ENVELOPE }, certificateChain: chain.ders, signingTime: SIGNING_TIME, ...overrides });
}

function json(bytes: Uint8Array): Record<string, unknown> {
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
}

function bytesOf(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function assertInvalid(bytes: Uint8Array, mediaType: string, what: string): void {
  assert.throws(
    () => decodeSignatureManifest(bytes, mediaType, 'signature'),
    (e: unknown) => e instanceof SignatureManifestError && e.code === 'SIGNATURE_MANIFEST_INVALID',
    what,
  );
}

const envelopeDescriptor: Descriptor = { mediaType: JWS_MEDIA_TYPE, digest: `sha256:${'e1'.repeat(32)}`, size: 2070 };
const notation1Config = { mediaType: MEDIA_TYPE_NOTARY_SIGNATURE, digest: EMPTY_JSON_DIGEST, size: 2 };
const notation2Config = { mediaType: MEDIA_TYPE_EMPTY_JSON, digest: EMPTY_JSON_DIGEST, size: 2, data: 'e30=' };

describe('packSignature', () => {
  const packed = pack();
  const manifest = json(packed.manifest.bytes);

  it('writes an image manifest with schemaVersion 2 and the Notary artifactType', () => {
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.artifactType, 'application/vnd.cncf.notary.signature');
  });

  it('uses the empty descriptor as config, and hands over its two-byte blob', () => {
    assert.deepEqual(manifest.config, { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 });
    assert.deepEqual(packed.config.descriptor, manifest.config);
    assert.equal(Buffer.from(packed.config.bytes).toString(), '{}');
    assert.equal(digestOf(EMPTY_JSON), EMPTY_JSON_DIGEST);
  });

  it('has exactly one layer, the envelope, described by media type, digest and size', () => {
    const expected = { mediaType: JWS_MEDIA_TYPE, digest: digestOf(ENVELOPE), size: ENVELOPE.length };
    assert.deepEqual(manifest.layers, [expected]);
    assert.deepEqual(packed.envelope.descriptor, expected);
    assert.equal(packed.envelope.bytes, ENVELOPE);
    assert.deepEqual(json(pack({ envelope: { mediaType: COSE_MEDIA_TYPE, bytes: ENVELOPE } }).manifest.bytes).layers, [{ ...expected, mediaType: COSE_MEDIA_TYPE }]);
  });

  it('points subject at the signed manifest with media type, digest and size only', () => {
    const subject = { ...TARGET, annotations: { a: 'b' }, artifactType: 'application/example', platform: { architecture: 'amd64', os: 'linux' } };
    assert.deepEqual(json(pack({ subject }).manifest.bytes).subject, { mediaType: TARGET.mediaType, digest: TARGET.digest, size: TARGET.size });
  });

  it('records the chain as a JSON array of lowercase SHA-256 hex of each DER certificate, leaf first', () => {
    const annotations = manifest.annotations as Record<string, string>;
    const thumbprints = JSON.parse(annotations[ANNOTATION_THUMBPRINT] ?? '') as string[];
    assert.equal(ANNOTATION_THUMBPRINT, 'io.cncf.notary.x509chain.thumbprint#S256');
    assert.deepEqual(
      thumbprints,
      chain.ders.map((der) => createHash('sha256').update(der).digest('hex')),
    );
    assert.ok(thumbprints.every((t) => /^[0-9a-f]{64}$/.test(t)));
    assert.equal(annotations[ANNOTATION_THUMBPRINT], thumbprintsOf(chain.ders));
  });

  it('records the signing time as org.opencontainers.image.created, RFC 3339 in UTC to the second', () => {
    assert.equal(ANNOTATION_CREATED, 'org.opencontainers.image.created');
    assert.equal((manifest.annotations as Record<string, string>)[ANNOTATION_CREATED], '2025-03-01T10:00:00Z');
    assert.equal(formatRfc3339(new Date('2023-06-27T13:30:33+08:00')), '2023-06-27T05:30:33Z');
  });

  it('keeps plugin annotations but never lets them replace the thumbprints or the created time', () => {
    const annotations = json(pack({ annotations: { 'com.example/job': '7', [ANNOTATION_THUMBPRINT]: '[]', [ANNOTATION_CREATED]: 'yesterday' } }).manifest.bytes).annotations;
    assert.deepEqual(annotations, { 'com.example/job': '7', [ANNOTATION_THUMBPRINT]: thumbprintsOf(chain.ders), [ANNOTATION_CREATED]: '2025-03-01T10:00:00Z' });
  });

  it('writes the fields in Go struct order, and describes the manifest as a referrer', () => {
    assert.deepEqual(Object.keys(manifest), ['schemaVersion', 'mediaType', 'artifactType', 'config', 'layers', 'subject', 'annotations']);
    assert.deepEqual(packed.manifest.descriptor, {
      mediaType: MEDIA_TYPE_IMAGE_MANIFEST,
      digest: digestOf(packed.manifest.bytes),
      size: packed.manifest.bytes.length,
      artifactType: MEDIA_TYPE_NOTARY_SIGNATURE,
      annotations: manifest.annotations,
    });
  });

  it('reads back what it packs', () => {
    const decoded = decodeSignatureManifest(packed.manifest.bytes, MEDIA_TYPE_IMAGE_MANIFEST, 'signature');
    assert.deepEqual(decoded.envelope, packed.envelope.descriptor);
    assert.deepEqual(decoded.subject, TARGET);
    assert.deepEqual(decoded.annotations, manifest.annotations);
  });
});

describe('thumbprintsOf', () => {
  it('matches the thumbprint Notation wrote for e2e.crt', () => {
    const [e2e] = decodeCertificates(readFileSync(join(NOTATION_E2E, 'config/localkeys/e2e.crt')), 'e2e.crt');
    assert.ok(e2e);
    assert.equal(thumbprintsOf([e2e.der]), '["e38aea13f2b051f7183cca64a51ee676f4d4456f41d9fecf15eb367efc7343b9"]');
    assert.equal(thumbprintsOf([]), '[]');
  });
});

describe('decodeSignatureManifest', () => {
  const subject = { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9', size: 517 };

  it('reads the Notation 1.x signature manifest of e2e-valid-signature', () => {
    const bytes = readFileSync(join(NOTATION_LAYOUTS, 'e2e-valid-signature/blobs/sha256/90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f'));
    assert.equal(digestOf(bytes), 'sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f');
    const decoded = decodeSignatureManifest(bytes, MEDIA_TYPE_IMAGE_MANIFEST, 'sha256:90ceaff2');
    assert.deepEqual(decoded.envelope, { mediaType: JWS_MEDIA_TYPE, digest: 'sha256:c9af07e038b2b1a463e648986ad7273157511ffeba0b689f33e5472bae471f50', size: 2070 });
    assert.deepEqual(decoded.subject, subject);
    assert.deepEqual(decoded.annotations, {
      [ANNOTATION_THUMBPRINT]: '["e38aea13f2b051f7183cca64a51ee676f4d4456f41d9fecf15eb367efc7343b9"]',
      [ANNOTATION_CREATED]: '2023-06-27T05:30:33Z',
    });
    assert.ok(Object.isFrozen(decoded));
    assert.ok(Object.isFrozen(decoded.annotations));
  });

  it('reads the Notation 2 form: artifactType and the empty config (with its data)', () => {
    const bytes = bytesOf({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, config: notation2Config, layers: [envelopeDescriptor], subject });
    const decoded = decodeSignatureManifest(bytes, MEDIA_TYPE_IMAGE_MANIFEST, 'signature');
    assert.deepEqual(decoded.envelope, envelopeDescriptor);
    assert.deepEqual(decoded.subject, subject);
    assert.deepEqual(decoded.annotations, {});
  });

  it('reads the pre-1.1 artifact manifest form', () => {
    const bytes = bytesOf({ mediaType: MEDIA_TYPE_ARTIFACT_MANIFEST, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, blobs: [{ ...envelopeDescriptor, mediaType: COSE_MEDIA_TYPE }], subject, annotations: { [ANNOTATION_CREATED]: '2023-01-01T00:00:00Z' } });
    const decoded = decodeSignatureManifest(bytes, MEDIA_TYPE_ARTIFACT_MANIFEST, 'signature');
    assert.deepEqual(decoded.envelope, { ...envelopeDescriptor, mediaType: COSE_MEDIA_TYPE });
    assert.equal(decoded.annotations[ANNOTATION_CREATED], '2023-01-01T00:00:00Z');
  });

  it('leaves a layer media type that is no envelope format to the verifier', () => {
    const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${'9a'.repeat(32)}`, size: 18 };
    const bytes = bytesOf({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, config: notation1Config, layers: [layer], subject });
    assert.deepEqual(decodeSignatureManifest(bytes, MEDIA_TYPE_IMAGE_MANIFEST, 'signature').envelope, layer);
  });

  it('accepts a signature manifest without subject (found through the tag schema)', () => {
    const bytes = bytesOf({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, config: notation1Config, layers: [envelopeDescriptor] });
    assert.equal(decodeSignatureManifest(bytes, MEDIA_TYPE_IMAGE_MANIFEST, 'signature').subject, undefined);
  });

  it('refuses zero or two layers, in every form', () => {
    for (const layers of [[], [envelopeDescriptor, envelopeDescriptor]]) {
      assertInvalid(bytesOf({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, config: notation1Config, layers, subject }), MEDIA_TYPE_IMAGE_MANIFEST, `v1 with ${layers.length} layers`);
      assertInvalid(bytesOf({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, config: notation2Config, layers, subject }), MEDIA_TYPE_IMAGE_MANIFEST, `v2 with ${layers.length} layers`);
      assertInvalid(bytesOf({ mediaType: MEDIA_TYPE_ARTIFACT_MANIFEST, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, blobs: layers, subject }), MEDIA_TYPE_ARTIFACT_MANIFEST, `artifact with ${layers.length} blobs`);
    }
    assertInvalid(bytesOf({ mediaType: MEDIA_TYPE_ARTIFACT_MANIFEST, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, subject }), MEDIA_TYPE_ARTIFACT_MANIFEST, 'artifact without blobs');
  });

  it('refuses manifests of other artifact types and mixed forms', () => {
    const cases: readonly [string, unknown, string][] = [
      ['a cosign signature', { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json', config: notation2Config, layers: [envelopeDescriptor] }, MEDIA_TYPE_IMAGE_MANIFEST],
      ['an image', { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: EMPTY_JSON_DIGEST, size: 2 }, layers: [envelopeDescriptor] }, MEDIA_TYPE_IMAGE_MANIFEST],
      ['an empty config without artifactType', { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, config: notation2Config, layers: [envelopeDescriptor] }, MEDIA_TYPE_IMAGE_MANIFEST],
      ['the Notary artifactType over the Notary config', { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, config: notation1Config, layers: [envelopeDescriptor] }, MEDIA_TYPE_IMAGE_MANIFEST],
      ['another artifact manifest', { mediaType: MEDIA_TYPE_ARTIFACT_MANIFEST, artifactType: 'application/vnd.example.sbom', blobs: [envelopeDescriptor] }, MEDIA_TYPE_ARTIFACT_MANIFEST],
      ['an index', { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE, manifests: [] }, MEDIA_TYPE_IMAGE_INDEX],
      ['a Docker manifest', { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: notation1Config, layers: [envelopeDescriptor] }, 'application/vnd.docker.distribution.manifest.v2+json'],
    ];
    for (const [what, manifest, mediaType] of cases) assertInvalid(bytesOf(manifest), mediaType, what);
  });

  it('refuses malformed JSON, a media type the bytes contradict, and an unknown media type', () => {
    assertInvalid(new TextEncoder().encode('{"schemaVersion":2,'), MEDIA_TYPE_IMAGE_MANIFEST, 'truncated JSON');
    assertInvalid(bytesOf({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests: [] }), MEDIA_TYPE_IMAGE_MANIFEST, 'an index sent as a manifest');
    assertInvalid(bytesOf({ schemaVersion: 2, config: notation1Config, layers: [envelopeDescriptor] }), 'application/octet-stream', 'an unknown media type');
  });

  it('refuses a manifest over 4 MiB, even a well-formed one', () => {
    const padding = 'x'.repeat(MAX_MANIFEST_BYTES);
    const bytes = bytesOf({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_MANIFEST, config: notation1Config, layers: [envelopeDescriptor], annotations: { padding } });
    assert.ok(bytes.length > MAX_MANIFEST_BYTES);
    assertInvalid(bytes, MEDIA_TYPE_IMAGE_MANIFEST, 'oversized');
  });
});
