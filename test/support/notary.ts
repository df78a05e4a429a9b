// Helpers for the Notary signing and verification tests: certificate chains (root CA →
// intermediate → leaf, RSA and EC) issued with pki's createCertificate, envelopes signed with
// them, an in-memory trust store and one-statement trust policies.

import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalSigner, type Signer } from '../../src/keys/index.js';
import type { Descriptor } from '../../src/oci/index.js';
import {
  createCertificate,
  EKU_CODE_SIGNING,
  keySpecOf,
  type Certificate,
  type CreateCertificateOptions,
  type KeySpec,
} from '../../src/pki/index.js';
import {
  algorithmForKeySpec,
  type AlgorithmInfo,
  createRawSigner,
  createTrustPolicyDocument,
  encodeEnvelope,
  encodePayload,
  PAYLOAD_CONTENT_TYPE,
  TrustStoreError,
  type EnvelopeMediaType,
  type ExtendedAttribute,
  type SigningScheme,
  type TrustPolicyStatement,
  type TrustPolicyStatementOptions,
  type TrustStore,
  type TrustStoreType,
} from '../../src/notary/index.js';

const DAY = 24 * 3600_000;

/** Every certificate authority in a test chain is valid from here… */
export const CA_NOT_BEFORE = new Date('2024-01-01T00:00:00Z');
/** …to here. */
export const CA_NOT_AFTER = new Date('2034-01-01T00:00:00Z');
/** A test leaf is valid from here… */
export const LEAF_NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
/** …to here. */
export const LEAF_NOT_AFTER = new Date('2026-01-01T00:00:00Z');
/** When test signatures are made: inside every validity period. */
export const SIGNING_TIME = new Date('2025-03-01T10:00:00Z');
/** When test signatures are verified: after SIGNING_TIME, inside every validity period. */
export const VERIFY_TIME = new Date('2025-06-01T12:00:00Z');
/** A day after the test leaf expired (the CAs are still valid). */
export const AFTER_LEAF_EXPIRY = new Date(LEAF_NOT_AFTER.getTime() + DAY);

/** The artifact test signatures are for: an image manifest. */
export const TARGET: Descriptor = Object.freeze({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'5c'.repeat(32)}`,
  size: 1234,
});

/** The subject of test leaves; `CN` is set per chain. */
export const LEAF_SUBJECT = 'C=US, ST=WA, L=Seattle, O=Acme, OU=Build';

const FIXTURES = new URL('../../../test/fixtures/notary/', import.meta.url);
const KEY_FILES: Readonly<Record<KeySpec, string>> = {
  'RSA-2048': 'rsa-2048',
  'RSA-3072': 'rsa-3072',
  'RSA-4096': 'rsa-4096',
  'EC-256': 'ec-256',
  'EC-384': 'ec-384',
  'EC-521': 'ec-521',
};
const keys = new Map<string, KeyObject>();

/**
 * The `n`th private key of a key spec: n = 0 is the committed test key (test/fixtures/notary),
 * others are generated once per process.
 */
export function testKey(spec: KeySpec | 'RSA-1024', n = 0): KeyObject {
  const id = `${spec}#${n}`;
  let key = keys.get(id);
  if (key === undefined) {
    if (n === 0 && spec !== 'RSA-1024') {
      key = createPrivateKey(readFileSync(new URL(`${KEY_FILES[spec]}.key.pem`, FIXTURES)));
    } else if (spec.startsWith('RSA')) {
      key = generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)) }).privateKey;
    } else {
      key = generateKeyPairSync('ec', { namedCurve: `P-${spec.slice(3)}` }).privateKey;
    }
    keys.set(id, key);
  }
  return key;
}

/** An issuing CA: its certificate and key. */
export interface TestAuthority {
  readonly certificate: Certificate;
  readonly privateKey: KeyObject;
}

/** A code-signing chain and the leaf's key. */
export interface TestChain {
  readonly root: TestAuthority;
  readonly intermediate: TestAuthority;
  readonly leaf: Certificate;
  readonly leafKey: KeyObject;
  /** leaf, intermediate, root: the order `x5c` carries. */
  readonly certificates: readonly Certificate[];
  readonly ders: readonly Uint8Array[];
}

/** What to vary in a test chain; everything else is a valid chain. */
export interface TestChainOptions {
  /** Names the chain's certificates (`CN=<name> root` …); default `test`. */
  readonly name?: string;
  /** The leaf key; default RSA-2048. */
  readonly keySpec?: KeySpec | 'RSA-1024';
  /** Which key of that spec (see testKey). */
  readonly keyIndex?: number;
  /** Reuse this root instead of issuing a new one. */
  readonly root?: TestAuthority;
  /** Overrides of the leaf certificate's options (validity, extensions, subject). */
  readonly leaf?: Partial<CreateCertificateOptions>;
  /** Overrides of the intermediate certificate's options. */
  readonly intermediate?: Partial<CreateCertificateOptions>;
}

/** A self-signed root CA, EC P-256, valid CA_NOT_BEFORE..CA_NOT_AFTER. */
export function createRootAuthority(name = 'test', overrides: Partial<CreateCertificateOptions> = {}, keyIndex = 1): TestAuthority {
  const privateKey = testKey('EC-256', keyIndex);
  const certificate = createCertificate({
    subject: `C=US, ST=WA, O=Acme, CN=${name} root`,
    publicKey: publicOf(privateKey),
    signingKey: privateKey,
    notBefore: CA_NOT_BEFORE,
    notAfter: CA_NOT_AFTER,
    basicConstraints: { cA: true },
    keyUsage: { usages: ['keyCertSign', 'cRLSign'] },
    ...overrides,
  });
  return { certificate, privateKey };
}

function publicOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey);
}

const roots = new Map<string, TestAuthority>();

/** The root of chain `name` (made once per process, so chains of one name share it). */
export function rootAuthority(name = 'test'): TestAuthority {
  let root = roots.get(name);
  if (root === undefined) {
    root = createRootAuthority(name, {}, 1 + roots.size);
    roots.set(name, root);
  }
  return root;
}

/**
 * Issues root → intermediate → leaf. The leaf is a code-signing leaf as the Notary Project
 * requires (key usage digitalSignature, critical; EKU codeSigning; no CA) valid
 * LEAF_NOT_BEFORE..LEAF_NOT_AFTER, with subject `LEAF_SUBJECT, CN=<name> leaf`.
 */
export function createTestChain(options: TestChainOptions = {}): TestChain {
  const name = options.name ?? 'test';
  const root = options.root ?? rootAuthority(name);
  const intermediateKey = testKey('EC-256', 100);
  const intermediate: TestAuthority = {
    privateKey: intermediateKey,
    certificate: createCertificate({
      subject: `C=US, ST=WA, O=Acme, CN=${name} intermediate`,
      publicKey: publicOf(intermediateKey),
      issuer: root,
      notBefore: CA_NOT_BEFORE,
      notAfter: CA_NOT_AFTER,
      basicConstraints: { cA: true, pathLenConstraint: 0 },
      keyUsage: { usages: ['keyCertSign', 'cRLSign'] },
      ...options.intermediate,
    }),
  };
  const leafKey = testKey(options.keySpec ?? 'RSA-2048', options.keyIndex ?? 0);
  const leaf = createCertificate({
    subject: `${LEAF_SUBJECT}, CN=${name} leaf`,
    publicKey: publicOf(leafKey),
    issuer: intermediate,
    notBefore: LEAF_NOT_BEFORE,
    notAfter: LEAF_NOT_AFTER,
    keyUsage: { usages: ['digitalSignature'] },
    extKeyUsage: { oids: [EKU_CODE_SIGNING] },
    ...options.leaf,
  });
  const certificates = Object.freeze([leaf, intermediate.certificate, root.certificate]);
  return { root, intermediate, leaf, leafKey, certificates, ders: Object.freeze(certificates.map((c) => c.der)) };
}

/** What to sign into a test envelope. */
export interface TestEnvelopeOptions {
  readonly mediaType: EnvelopeMediaType;
  readonly chain: TestChain;
  /** Default notary.x509. */
  readonly signingScheme?: SigningScheme;
  /** Default TARGET. */
  readonly target?: Descriptor;
  /** Default SIGNING_TIME. */
  readonly signingTime?: Date;
  readonly expiry?: Date;
  readonly extendedAttributes?: readonly ExtendedAttribute[];
  /** What goes in x5c / x5chain; default the chain's certificates. */
  readonly certificateChain?: readonly Uint8Array[];
}

/** Signs a Notary payload for `target` with the chain's leaf key, straight through encodeEnvelope (no chain checks). */
export async function signTestEnvelope(options: TestEnvelopeOptions): Promise<Uint8Array> {
  const algorithm = algorithmForKeySpec(keySpecOf(options.chain.leaf.publicKey));
  return encodeEnvelope(
    options.mediaType,
    {
      payload: { contentType: PAYLOAD_CONTENT_TYPE, content: encodePayload(options.target ?? TARGET) },
      signingScheme: options.signingScheme ?? 'notary.x509',
      signingTime: options.signingTime ?? SIGNING_TIME,
      expiry: options.expiry,
      extendedAttributes: options.extendedAttributes,
      signingAgent: 'sigil-test/1.0.0',
      signatureAlgorithm: algorithm.name,
      certificateChain: options.certificateChain ?? options.chain.ders,
    },
    createRawSigner(options.chain.leafKey, algorithm.name),
  );
}

/** A local signer over the chain's leaf key. */
export function signerOf(chain: TestChain): Signer {
  return createLocalSigner(chain.leafKey, chain.certificates, 'test key');
}

/** A trust store held in memory: `type:name` → certificates; an unknown store throws TrustStoreError(TRUST_STORE_NOT_FOUND). */
export class MemoryTrustStore implements TrustStore {
  readonly #stores = new Map<string, readonly Certificate[]>();
  /** How many times each `type:name` was read. */
  readonly reads = new Map<string, number>();

  constructor(stores: Readonly<Record<string, readonly Certificate[]>> = {}) {
    for (const [id, certificates] of Object.entries(stores)) this.#stores.set(id, certificates);
  }

  async getCertificates(type: TrustStoreType, name: string): Promise<readonly Certificate[]> {
    const id = `${type}:${name}`;
    this.reads.set(id, (this.reads.get(id) ?? 0) + 1);
    const certificates = this.#stores.get(id);
    if (certificates === undefined) throw new TrustStoreError('TRUST_STORE_NOT_FOUND', `the trust store ${JSON.stringify(name)} of type ${JSON.stringify(type)} does not exist`);
    return certificates;
  }
}

/** One validated trust policy statement: scope `*`, level strict, store `ca:test`, identity `*`, unless overridden. */
export function testStatement(options: Partial<TrustPolicyStatementOptions> = {}): TrustPolicyStatement {
  const document = createTrustPolicyDocument({ name: 'test-statement', registryScopes: ['*'], level: 'strict', trustStores: ['ca:test'], trustedIdentities: ['*'], ...options });
  const statement = document.trustPolicies[0];
  if (statement === undefined) throw new Error('unreachable: a one-statement document without its statement');
  return statement;
}

/** A key pair from test/fixtures/notary (made with openssl, one per key spec) and its certificate's DER. */
export interface FixtureKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly der: Uint8Array;
}

const FIXTURE_DIR = new URL('../../../test/fixtures/notary/', import.meta.url);
const fixtureKeys = new Map<string, FixtureKey>();

/** The fixture key for an algorithm's key spec (read once per process). */
export function fixtureKeyOf(algorithm: AlgorithmInfo): FixtureKey {
  let key = fixtureKeys.get(algorithm.keySpec);
  if (key === undefined) {
    const name = algorithm.keySpec.toLowerCase();
    const certificate = new X509Certificate(readFileSync(new URL(`${name}.crt.pem`, FIXTURE_DIR)));
    key = { privateKey: createPrivateKey(readFileSync(new URL(`${name}.key.pem`, FIXTURE_DIR))), publicKey: certificate.publicKey, der: new Uint8Array(certificate.raw) };
    fixtureKeys.set(algorithm.keySpec, key);
  }
  return key;
}
