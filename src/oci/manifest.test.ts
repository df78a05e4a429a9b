import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NOTATION_LAYOUTS } from '../../test/support/shared.js';
import fc from 'fast-check';
import type { Descriptor } from './descriptor.js';
import { digestOf } from './digest.js';
import { ManifestError } from './errors.js';
import { MAX_MANIFEST_BYTES } from './limits.js';
import {
  artifactTypeOf,
  decodeManifest,
  describeManifest,
  detectManifestMediaType,
  encodeManifest,
  referrerDescriptor,
  successorsOf,
  type ArtifactManifest,
  type ImageIndex,
  type ImageManifest,
  type Manifest,
} from './manifest.js';
import {
  EMPTY_JSON_DIGEST,
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPE_ARTIFACT_MANIFEST,
  MEDIA_TYPE_DOCKER_CONFIG,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_EMPTY_JSON,
  MEDIA_TYPE_IMAGE_CONFIG,
  MEDIA_TYPE_IMAGE_INDEX,
  MEDIA_TYPE_IMAGE_LAYER_GZIP,
  MEDIA_TYPE_IMAGE_MANIFEST,
  MEDIA_TYPE_NOTARY_SIGNATURE,
} from './mediatype.js';

const encoder = new TextEncoder();
const bytes = (value: unknown): Uint8Array => encoder.encode(typeof value === 'string' ? value : JSON.stringify(value));
const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

function isManifestError(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof ManifestError && e.code === code;
}

const emptyConfig: Descriptor = { mediaType: MEDIA_TYPE_EMPTY_JSON, digest: EMPTY_JSON_DIGEST, size: 2 };
const subject: Descriptor = { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: digest(1), size: 517 };
const layer: Descriptor = { mediaType: MEDIA_TYPE_IMAGE_LAYER_GZIP, digest: digest(2), size: 1024, annotations: { 'org.opencontainers.image.title': 'a.tgz' } };

/** An OCI artifact manifest in the image-spec v1.1 form: artifactType, empty config, subject. */
const ociArtifact = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPE_IMAGE_MANIFEST,
  artifactType: 'application/vnd.example.sbom.v1',
  config: emptyConfig,
  layers: [{ mediaType: 'application/spdx+json', digest: digest(3), size: 300 }],
  subject,
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
};

const ociImage = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPE_IMAGE_MANIFEST,
  config: { mediaType: MEDIA_TYPE_IMAGE_CONFIG, digest: digest(4), size: 1469 },
  layers: [layer, { mediaType: MEDIA_TYPE_IMAGE_LAYER_GZIP, digest: digest(5), size: 2048, urls: ['https://example.com/layer'] }],
};

const ociIndex = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPE_IMAGE_INDEX,
  manifests: [
    { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: digest(6), size: 500, platform: { architecture: 'amd64', os: 'linux' } },
    { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: digest(7), size: 501, platform: { architecture: 'arm', os: 'linux', variant: 'v7' } },
    { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: digest(8), size: 502, platform: { architecture: 'amd64', os: 'windows', 'os.version': '10.0.17763.1', 'os.features': ['win32k'] } },
  ],
  annotations: { 'org.opencontainers.image.ref.name': 'v1' },
};

const ociIndexArtifact = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPE_IMAGE_INDEX,
  artifactType: 'application/vnd.example.bundle',
  manifests: [{ mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: digest(9), size: 10 }],
  subject,
};

const dockerManifest = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPE_DOCKER_MANIFEST,
  config: { mediaType: MEDIA_TYPE_DOCKER_CONFIG, digest: digest(10), size: 7023 },
  layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: digest(11), size: 32654 }],
};

const dockerList = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  manifests: [
    { mediaType: MEDIA_TYPE_DOCKER_MANIFEST, digest: digest(12), size: 7143, platform: { architecture: 'ppc64le', os: 'linux' } },
    { mediaType: MEDIA_TYPE_DOCKER_MANIFEST, digest: digest(13), size: 7682, platform: { architecture: 'amd64', os: 'linux', 'os.features': ['sse4'] } },
  ],
};

/** The artifact manifest of image-spec v1.1.0-rc2, as Notation 1.0.0-rc wrote signatures. */
const artifactManifest = {
  mediaType: MEDIA_TYPE_ARTIFACT_MANIFEST,
  artifactType: MEDIA_TYPE_NOTARY_SIGNATURE,
  blobs: [{ mediaType: 'application/jose+json', digest: digest(14), size: 2070 }],
  subject,
  annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': '["abc"]' },
};

const fixtures: Array<[string, Record<string, unknown>, Manifest['kind']]> = [
  ['an OCI manifest with artifactType, subject and annotations', ociArtifact, 'manifest'],
  ['an OCI image manifest', ociImage, 'manifest'],
  ['an OCI index with platforms', ociIndex, 'index'],
  ['an OCI index with artifactType and subject', ociIndexArtifact, 'index'],
  ['a Docker schema 2 manifest', dockerManifest, 'manifest'],
  ['a Docker manifest list', dockerList, 'index'],
  ['a legacy OCI artifact manifest', artifactManifest, 'artifact'],
];

describe('decodeManifest', () => {
  for (const [why, doc, kind] of fixtures) {
    it(`decodes ${why}`, () => {
      const manifest = decodeManifest(bytes(doc), doc.mediaType as string);
      assert.deepEqual(manifest, { kind, ...doc });
      assert.ok(Object.isFrozen(manifest));
    });

    it(`round-trips ${why} through encodeManifest`, () => {
      const manifest = decodeManifest(bytes(doc), doc.mediaType as string);
      assert.deepEqual(decodeManifest(encodeManifest(manifest), manifest.mediaType), manifest);
      assert.equal('kind' in JSON.parse(new TextDecoder().decode(encodeManifest(manifest))), false);
    });
  }

  it('accepts a manifest without mediaType, taking the one it was served with', () => {
    const { mediaType: _mediaType, ...doc } = ociImage;
    assert.equal(decodeManifest(bytes(doc), MEDIA_TYPE_IMAGE_MANIFEST).mediaType, MEDIA_TYPE_IMAGE_MANIFEST);
  });

  it('accepts an empty layers array (image-spec v1.1 artifacts)', () => {
    const manifest = decodeManifest(bytes({ ...ociArtifact, layers: [] }), MEDIA_TYPE_IMAGE_MANIFEST);
    assert.deepEqual(successorsOf(manifest), [emptyConfig]);
  });

  it('accepts an artifact manifest without blobs', () => {
    const { blobs: _blobs, ...doc } = artifactManifest;
    assert.deepEqual((decodeManifest(bytes(doc), MEDIA_TYPE_ARTIFACT_MANIFEST) as ArtifactManifest).blobs, []);
  });

  it('ignores unknown top-level fields', () => {
    assert.deepEqual(decodeManifest(bytes({ ...ociImage, 'x-extra': [1, 2] }), MEDIA_TYPE_IMAGE_MANIFEST), { kind: 'manifest', ...ociImage });
  });

  it('accepts a document of exactly the size limit', () => {
    const doc = { ...ociImage, annotations: { pad: '' } };
    const padding = MAX_MANIFEST_BYTES - bytes(doc).byteLength;
    const big = bytes({ ...ociImage, annotations: { pad: 'x'.repeat(padding) } });
    assert.equal(big.byteLength, MAX_MANIFEST_BYTES);
    assert.equal(decodeManifest(big, MEDIA_TYPE_IMAGE_MANIFEST).kind, 'manifest');
  });
});

describe('decodeManifest rejects invalid documents', () => {
  const MANIFEST = MEDIA_TYPE_IMAGE_MANIFEST;
  const invalid: Array<[string, Uint8Array, string, string]> = [
    ['bytes that are not JSON', bytes('not json'), MANIFEST, 'MANIFEST_INVALID'],
    ['truncated JSON', bytes(JSON.stringify(ociImage).slice(0, -1)), MANIFEST, 'MANIFEST_INVALID'],
    ['empty bytes', new Uint8Array(0), MANIFEST, 'MANIFEST_INVALID'],
    ['bytes that are not UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), MANIFEST, 'MANIFEST_INVALID'],
    ['a lone surrogate byte sequence', new Uint8Array([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]), MANIFEST, 'MANIFEST_INVALID'],
    ['a JSON array', bytes([ociImage]), MANIFEST, 'MANIFEST_INVALID'],
    ['JSON null', bytes('null'), MANIFEST, 'MANIFEST_INVALID'],
    ['a JSON string', bytes('"manifest"'), MANIFEST, 'MANIFEST_INVALID'],
    ['a JSON number', bytes('2'), MANIFEST, 'MANIFEST_INVALID'],
    ['schemaVersion 1', bytes({ ...ociImage, schemaVersion: 1 }), MANIFEST, 'MANIFEST_INVALID'],
    ['schemaVersion as a string', bytes({ ...ociImage, schemaVersion: '2' }), MANIFEST, 'MANIFEST_INVALID'],
    ['a missing schemaVersion', bytes({ ...ociImage, schemaVersion: undefined }), MANIFEST, 'MANIFEST_INVALID'],
    ['a mediaType that does not match the content type', bytes(ociIndex), MANIFEST, 'MANIFEST_INVALID'],
    ['a Docker mediaType served as OCI', bytes(dockerManifest), MANIFEST, 'MANIFEST_INVALID'],
    ['a mediaType that is not a string', bytes({ ...ociImage, mediaType: 2 }), MANIFEST, 'MANIFEST_INVALID'],
    ['a mediaType object that cannot become a string', bytes('{"mediaType":{"toString":1}}'), MANIFEST, 'MANIFEST_INVALID'],
    ['a missing config', bytes({ ...ociImage, config: undefined }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['a config without mediaType', bytes({ ...ociImage, config: { digest: digest(4), size: 1 } }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['missing layers', bytes({ ...ociImage, layers: undefined }), MANIFEST, 'MANIFEST_INVALID'],
    ['layers that are not an array', bytes({ ...ociImage, layers: { 0: layer } }), MANIFEST, 'MANIFEST_INVALID'],
    ['layers that hold a string', bytes({ ...ociImage, layers: [digest(2)] }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['a bad digest in a layer', bytes({ ...ociImage, layers: [layer, { ...layer, digest: 'sha256:1234' }] }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['a negative layer size', bytes({ ...ociImage, layers: [{ ...layer, size: -1 }] }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['a fractional layer size', bytes({ ...ociImage, layers: [{ ...layer, size: 0.5 }] }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['a layer size beyond 2^53', bytes({ ...ociImage, layers: [{ ...layer, size: 2 ** 60 }] }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['a layer size that overflows a double', bytes(JSON.stringify({ ...ociImage, layers: [{ ...layer, size: 0 }] }).replace('"size":0', '"size":1e400')), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['an annotation value that is not a string', bytes({ ...ociImage, annotations: { a: 1 } }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['annotations that are an array', bytes({ ...ociImage, annotations: ['a'] }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['a layer annotation that is not a string', bytes({ ...ociImage, layers: [{ ...layer, annotations: { a: true } }] }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['an invalid subject', bytes({ ...ociArtifact, subject: { ...subject, digest: 'sha256:zz' } }), MANIFEST, 'DESCRIPTOR_INVALID'],
    ['an artifactType that is not a media type', bytes({ ...ociArtifact, artifactType: 'sbom' }), MANIFEST, 'MANIFEST_INVALID'],
    ['a Docker manifest with subject', bytes({ ...dockerManifest, subject }), MEDIA_TYPE_DOCKER_MANIFEST, 'MANIFEST_INVALID'],
    ['a Docker manifest with artifactType', bytes({ ...dockerManifest, artifactType: 'application/x.y' }), MEDIA_TYPE_DOCKER_MANIFEST, 'MANIFEST_INVALID'],
    ['a Docker manifest list with subject', bytes({ ...dockerList, subject }), MEDIA_TYPE_DOCKER_MANIFEST_LIST, 'MANIFEST_INVALID'],
    ['an index without manifests', bytes({ ...ociIndex, manifests: undefined }), MEDIA_TYPE_IMAGE_INDEX, 'MANIFEST_INVALID'],
    ['an index entry with a bad platform', bytes({ ...ociIndex, manifests: [{ ...ociIndex.manifests[0], platform: { os: 'linux' } }] }), MEDIA_TYPE_IMAGE_INDEX, 'DESCRIPTOR_INVALID'],
    ['an artifact manifest without artifactType', bytes({ ...artifactManifest, artifactType: undefined }), MEDIA_TYPE_ARTIFACT_MANIFEST, 'MANIFEST_INVALID'],
    ['artifact blobs that are not an array', bytes({ ...artifactManifest, blobs: 'x' }), MEDIA_TYPE_ARTIFACT_MANIFEST, 'MANIFEST_INVALID'],
    ['a document over 4 MiB', bytes({ ...ociImage, annotations: { pad: 'x'.repeat(MAX_MANIFEST_BYTES) } }), MANIFEST, 'MANIFEST_INVALID'],
    ['an unsupported media type', bytes(ociImage), 'application/json', 'MEDIA_TYPE_UNSUPPORTED'],
    ['a Docker schema 1 media type', bytes(ociImage), 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'MEDIA_TYPE_UNSUPPORTED'],
    ['a config media type', bytes(ociImage), MEDIA_TYPE_IMAGE_CONFIG, 'MEDIA_TYPE_UNSUPPORTED'],
    ['an empty media type', bytes(ociImage), '', 'MEDIA_TYPE_UNSUPPORTED'],
  ];
  for (const [why, input, mediaType, code] of invalid) {
    it(`rejects ${why} with ${code}`, () => assert.throws(() => decodeManifest(input, mediaType), isManifestError(code)));
  }

  it('checks the size before parsing, so an oversized document of any shape is refused', () => {
    const huge = new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20);
    assert.throws(() => decodeManifest(huge, MEDIA_TYPE_IMAGE_MANIFEST), isManifestError('MANIFEST_INVALID'));
  });

  it('names the document and the field in the message', () => {
    assert.throws(
      () => decodeManifest(bytes({ ...ociImage, layers: [layer, { ...layer, digest: 'sha256:1234' }] }), MANIFEST, 'ghcr.io/acme/app:v1'),
      (e: unknown) => isManifestError('DESCRIPTOR_INVALID')(e) && (e as Error).message.startsWith('ghcr.io/acme/app:v1.layers[1].digest:'),
    );
  });
});

describe('manifest graph helpers', () => {
  const image = decodeManifest(bytes(ociImage), MEDIA_TYPE_IMAGE_MANIFEST);
  const artifact = decodeManifest(bytes(ociArtifact), MEDIA_TYPE_IMAGE_MANIFEST);
  const index = decodeManifest(bytes(ociIndex), MEDIA_TYPE_IMAGE_INDEX);
  const indexArtifact = decodeManifest(bytes(ociIndexArtifact), MEDIA_TYPE_IMAGE_INDEX);
  const legacy = decodeManifest(bytes(artifactManifest), MEDIA_TYPE_ARTIFACT_MANIFEST);

  it('lists config then layers as the successors of a manifest', () => {
    assert.deepEqual(successorsOf(image), [ociImage.config, ...ociImage.layers]);
  });

  it('lists the entries of an index and the blobs of an artifact manifest', () => {
    assert.deepEqual(successorsOf(index), ociIndex.manifests);
    assert.deepEqual(successorsOf(legacy), artifactManifest.blobs);
  });

  it('never lists the subject as a successor', () => {
    for (const manifest of [artifact, indexArtifact, legacy]) {
      assert.ok(!successorsOf(manifest).some((d) => d.digest === subject.digest));
    }
  });

  const artifactTypes: Array<[string, Manifest, string | undefined]> = [
    ['artifactType when set', artifact, 'application/vnd.example.sbom.v1'],
    ['config.mediaType when artifactType is missing', image, MEDIA_TYPE_IMAGE_CONFIG],
    ['config.mediaType of a Docker manifest', decodeManifest(bytes(dockerManifest), MEDIA_TYPE_DOCKER_MANIFEST), MEDIA_TYPE_DOCKER_CONFIG],
    [
      'config.mediaType of a Notation 1.x signature manifest',
      decodeManifest(bytes({ ...ociImage, config: { ...emptyConfig, mediaType: MEDIA_TYPE_NOTARY_SIGNATURE }, subject }), MEDIA_TYPE_IMAGE_MANIFEST),
      MEDIA_TYPE_NOTARY_SIGNATURE,
    ],
    [
      'artifactType over config.mediaType (Notation 2 form)',
      decodeManifest(bytes({ ...ociArtifact, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE }), MEDIA_TYPE_IMAGE_MANIFEST),
      MEDIA_TYPE_NOTARY_SIGNATURE,
    ],
    ['the artifactType of an index', indexArtifact, 'application/vnd.example.bundle'],
    ['nothing for an index without artifactType', index, undefined],
    ['the artifactType of a legacy artifact manifest', legacy, MEDIA_TYPE_NOTARY_SIGNATURE],
  ];
  for (const [why, manifest, expected] of artifactTypes) {
    it(`takes ${why} as the artifact type`, () => assert.equal(artifactTypeOf(manifest), expected));
  }

  it('describes manifest bytes by sha256 digest and size', () => {
    const raw = bytes(ociImage);
    assert.deepEqual(describeManifest(raw, MEDIA_TYPE_IMAGE_MANIFEST), { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: digestOf(raw), size: raw.byteLength });
    assert.deepEqual(describeManifest(raw, MEDIA_TYPE_IMAGE_MANIFEST, { artifactType: 'application/x.y' }).artifactType, 'application/x.y');
  });

  it('builds the referrers API descriptor with artifactType and annotations copied in', () => {
    const raw = bytes(ociArtifact);
    const desc = describeManifest(raw, MEDIA_TYPE_IMAGE_MANIFEST);
    assert.deepEqual(referrerDescriptor(artifact, desc), { ...desc, artifactType: ociArtifact.artifactType, annotations: ociArtifact.annotations });
    assert.deepEqual(referrerDescriptor(index, { ...desc, mediaType: MEDIA_TYPE_IMAGE_INDEX }), { ...desc, mediaType: MEDIA_TYPE_IMAGE_INDEX, annotations: ociIndex.annotations });
  });
});

describe('detectManifestMediaType', () => {
  const table: Array<[string, unknown, string]> = [
    ['the mediaType field', dockerManifest, MEDIA_TYPE_DOCKER_MANIFEST],
    ['manifests[] without mediaType', { schemaVersion: 2, manifests: [] }, MEDIA_TYPE_IMAGE_INDEX],
    ['blobs[] without mediaType', { blobs: [] }, MEDIA_TYPE_ARTIFACT_MANIFEST],
    ['anything else without mediaType', { schemaVersion: 2, config: emptyConfig, layers: [] }, MEDIA_TYPE_IMAGE_MANIFEST],
  ];
  for (const [why, doc, expected] of table) {
    it(`uses ${why}`, () => assert.equal(detectManifestMediaType(bytes(doc)), expected));
  }

  it('rejects bytes that are not a JSON object', () => {
    assert.throws(() => detectManifestMediaType(bytes('[]')), isManifestError('MANIFEST_INVALID'));
  });
});

describe('Notation-made manifests (notation e2e testdata)', () => {
  const blobs = join(NOTATION_LAYOUTS, 'e2e-valid-signature/blobs/sha256');
  const signatureDigest = 'sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f';
  const imageDigest = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
  const referrersIndexDigest = 'sha256:13e107e0dd246f07ff18998a3d39e226965c41477a1bc1765f7617632ff3f283';
  const read = (d: string): Uint8Array => new Uint8Array(readFileSync(`${blobs}/${d.slice('sha256:'.length)}`));

  it('has blobs whose content matches their names', () => {
    for (const d of [signatureDigest, imageDigest, referrersIndexDigest]) assert.equal(digestOf(read(d)), d);
  });

  it('decodes the signature manifest as a Notation 1.x signature whose subject is the image', () => {
    const raw = read(signatureDigest);
    const signature = decodeManifest(raw, MEDIA_TYPE_IMAGE_MANIFEST, signatureDigest) as ImageManifest;
    assert.equal(signature.kind, 'manifest');
    assert.equal(signature.artifactType, undefined);
    assert.equal(artifactTypeOf(signature), MEDIA_TYPE_NOTARY_SIGNATURE);
    assert.deepEqual(signature.subject, { mediaType: MEDIA_TYPE_IMAGE_MANIFEST, digest: imageDigest, size: read(imageDigest).byteLength });
    assert.equal(signature.config.digest, EMPTY_JSON_DIGEST);
    assert.deepEqual(signature.layers.map((l) => l.mediaType), ['application/jose+json']);
  });

  it('decodes the image manifest', () => {
    const image = decodeManifest(read(imageDigest), MEDIA_TYPE_IMAGE_MANIFEST, imageDigest);
    assert.equal(image.kind, 'manifest');
    assert.equal(image.subject, undefined);
    assert.equal(artifactTypeOf(image), 'application/vnd.notation.config');
    assert.deepEqual(successorsOf(image).map((d) => d.digest), [EMPTY_JSON_DIGEST, 'sha256:6de5fe1f75e4b1094c98086f403d5fd8117776ebe5aad1609281403d13dea070']);
  });

  it('decodes the referrers tag schema index and reproduces its entry from the signature manifest', () => {
    const index = decodeManifest(read(referrersIndexDigest), MEDIA_TYPE_IMAGE_INDEX, referrersIndexDigest) as ImageIndex;
    assert.equal(index.kind, 'index');
    assert.equal(index.manifests.length, 1);
    const raw = read(signatureDigest);
    const signature = decodeManifest(raw, MEDIA_TYPE_IMAGE_MANIFEST);
    assert.deepEqual(referrerDescriptor(signature, describeManifest(raw, MEDIA_TYPE_IMAGE_MANIFEST)), index.manifests[0]);
  });

  it('round-trips each through encodeManifest', () => {
    for (const [d, mediaType] of [[signatureDigest, MEDIA_TYPE_IMAGE_MANIFEST], [imageDigest, MEDIA_TYPE_IMAGE_MANIFEST], [referrersIndexDigest, MEDIA_TYPE_IMAGE_INDEX]] as const) {
      const manifest = decodeManifest(read(d), mediaType);
      assert.deepEqual(decodeManifest(encodeManifest(manifest), mediaType), manifest);
    }
  });
});

// Generators: valid descriptors, and manifest-shaped objects whose fields may be any JSON.
const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });
const annotations = fc.dictionary(fc.oneof(fc.string(), fc.constant('__proto__')), fc.string(), { maxKeys: 4, noNullPrototype: true });
const mediaType = fc.constantFrom('application/vnd.oci.image.layer.v1.tar', 'application/jose+json', 'application/vnd.cncf.notary.signature', 'text/plain');
const descriptor = fc.record(
  { mediaType, digest: hex64.map((h) => `sha256:${h}`), size: fc.nat(), annotations, artifactType: mediaType },
  { requiredKeys: ['mediaType', 'digest', 'size'], noNullPrototype: true },
);

describe('manifest properties', () => {
  it('round-trips generated manifests and indexes through encodeManifest', () => {
    const common = { subject: descriptor, annotations, artifactType: mediaType };
    const imageManifest = fc.record(
      { kind: fc.constant('manifest' as const), schemaVersion: fc.constant(2 as const), mediaType: fc.constant(MEDIA_TYPE_IMAGE_MANIFEST), config: descriptor, layers: fc.array(descriptor, { maxLength: 3 }), ...common },
      { requiredKeys: ['kind', 'schemaVersion', 'mediaType', 'config', 'layers'], noNullPrototype: true },
    );
    const imageIndex = fc.record(
      { kind: fc.constant('index' as const), schemaVersion: fc.constant(2 as const), mediaType: fc.constant(MEDIA_TYPE_IMAGE_INDEX), manifests: fc.array(descriptor, { maxLength: 3 }), ...common },
      { requiredKeys: ['kind', 'schemaVersion', 'mediaType', 'manifests'], noNullPrototype: true },
    );
    fc.assert(
      fc.property(fc.oneof(imageManifest, imageIndex), (manifest) => {
        const m = manifest as Manifest;
        assert.deepEqual(decodeManifest(encodeManifest(m), m.mediaType), m);
      }),
      { numRuns: 500 },
    );
  });

  // Objects with keys that trip naive code: String() on {"toString": 1} throws, "__proto__" assignment is ignored.
  const hostileObject = fc.dictionary(fc.constantFrom('toString', 'valueOf', '__proto__', 'constructor', 'length'), fc.jsonValue({ maxDepth: 1 }), {
    minKeys: 1,
    noNullPrototype: true,
  });
  const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 4 }), hostileObject);
  const manifestShaped = fc.record(
    {
      schemaVersion: fc.oneof(fc.constant(2), anyJson),
      mediaType: fc.oneof(fc.constantFrom(...MANIFEST_MEDIA_TYPES), anyJson),
      artifactType: fc.oneof(mediaType, anyJson),
      config: fc.oneof(descriptor, anyJson),
      layers: fc.oneof(fc.array(fc.oneof(descriptor, anyJson), { maxLength: 3 }), anyJson),
      manifests: fc.oneof(fc.array(fc.oneof(descriptor, anyJson), { maxLength: 3 }), anyJson),
      blobs: fc.oneof(fc.array(fc.oneof(descriptor, anyJson), { maxLength: 3 }), anyJson),
      subject: fc.oneof(descriptor, anyJson),
      annotations: fc.oneof(annotations, anyJson),
    },
    { requiredKeys: [] },
  );

  it('throws only ManifestError for any JSON value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), manifestShaped), fc.constantFrom(...MANIFEST_MEDIA_TYPES), (value, type) => {
        try {
          decodeManifest(bytes(JSON.stringify(value)), type);
        } catch (e) {
          if (!(e instanceof ManifestError)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('throws only ManifestError for arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...MANIFEST_MEDIA_TYPES), (raw, type) => {
        try {
          decodeManifest(raw, type);
        } catch (e) {
          if (!(e instanceof ManifestError)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });
});
