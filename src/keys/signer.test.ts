import assert from 'node:assert/strict';
import { constants, createPrivateKey, createPublicKey, generateKeyPairSync, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NOTATION_E2E } from '../../test/support/shared.js';
import { createCertificate, EKU_CODE_SIGNING, type Certificate, type HashAlgorithm, type KeySpec } from '../pki/index.js';
import { KeysError, SigningKeyError, type KeysErrorCode } from './errors.js';
import { createLocalSigner, loadLocalSigner, signRaw } from './signer.js';

const SPECS: readonly { spec: KeySpec; hash: HashAlgorithm; node: string; size: number }[] = [
  { spec: 'RSA-2048', hash: 'SHA-256', node: 'sha256', size: 256 },
  { spec: 'RSA-3072', hash: 'SHA-384', node: 'sha384', size: 384 },
  { spec: 'RSA-4096', hash: 'SHA-512', node: 'sha512', size: 512 },
  { spec: 'EC-256', hash: 'SHA-256', node: 'sha256', size: 64 },
  { spec: 'EC-384', hash: 'SHA-384', node: 'sha384', size: 96 },
  { spec: 'EC-521', hash: 'SHA-512', node: 'sha512', size: 132 },
];
const DATA = new TextEncoder().encode('eyJhbGciOiJQUzI1NiJ9.eyJ0YXJnZXRBcnRpZmFjdCI6e319');
const LOCALKEYS = join(NOTATION_E2E, 'config/localkeys');

const FIXTURES = new URL('../../../test/fixtures/notary/', import.meta.url);
const NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
const NOT_AFTER = new Date('2035-01-01T00:00:00Z');

/** The committed test key of a key spec (test/fixtures/notary). */
function fixtureKey(spec: KeySpec): KeyObject {
  return createPrivateKey(readFileSync(new URL(`${spec.toLowerCase()}.key.pem`, FIXTURES)));
}

interface TestChain {
  readonly leafKey: KeyObject;
  readonly rootKey: KeyObject;
  readonly leaf: Certificate;
  readonly certificates: readonly Certificate[];
}

/** Root CA (EC P-256) → code-signing leaf holding `leafKey`. */
function issueChain(leafKey: KeyObject, name: string): TestChain {
  const rootKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const root = createCertificate({
    subject: `C=US, ST=WA, O=Acme, CN=${name} root`,
    publicKey: createPublicKey(rootKey),
    signingKey: rootKey,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    basicConstraints: { cA: true },
    keyUsage: { usages: ['keyCertSign'] },
  });
  const leaf = createCertificate({
    subject: `C=US, ST=WA, O=Acme, CN=${name} leaf`,
    publicKey: createPublicKey(leafKey),
    issuer: { certificate: root, privateKey: rootKey },
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    keyUsage: { usages: ['digitalSignature'] },
    extKeyUsage: { oids: [EKU_CODE_SIGNING] },
  });
  return { leafKey, rootKey, leaf, certificates: [leaf, root] };
}

const chains = new Map<KeySpec, TestChain>();
function chainFor(spec: KeySpec): TestChain {
  let chain = chains.get(spec);
  if (chain === undefined) {
    chain = issueChain(fixtureKey(spec), `signer-${spec.toLowerCase()}`);
    chains.set(spec, chain);
  }
  return chain;
}

function throwsKeysError(fn: () => unknown, code: KeysErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SigningKeyError, String(e));
    assert.ok(e instanceof KeysError);
    assert.equal(e.code, code);
    return true;
  });
}

/** Checks a raw signature the way the Notary Project specification defines it, with node:crypto alone. */
function assertNotarySignature(publicKey: KeyObject, spec: (typeof SPECS)[number], signature: Uint8Array): void {
  assert.equal(signature.length, spec.size, 'raw signature size');
  if (spec.spec.startsWith('RSA')) {
    const pss = (saltLength: number) => cryptoVerify(spec.node, DATA, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
    const hashBytes = Number(spec.hash.slice(4)) / 8;
    // A PSS check with an explicit salt length passes only for that length: the salt is the hash length.
    assert.equal(pss(hashBytes), true, 'PSS with salt = hash length');
    assert.equal(pss(hashBytes - 1), false);
    assert.equal(pss(hashBytes + 1), false);
    assert.equal(pss(constants.RSA_PSS_SALTLEN_AUTO), true);
    // MGF1 uses the same hash: checking with another one fails.
    assert.equal(cryptoVerify(spec.node === 'sha256' ? 'sha384' : 'sha256', DATA, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hashBytes }, signature), false);
  } else {
    assert.equal(cryptoVerify(spec.node, DATA, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature), true, 'ECDSA r‖s');
    // Not DER: r‖s is two fixed-width integers, never a SEQUENCE.
    assert.equal(cryptoVerify(spec.node, DATA, { key: publicKey, dsaEncoding: 'der' }, signature), false);
  }
}

describe('createLocalSigner', () => {
  for (const spec of SPECS) {
    it(`serves a ${spec.spec} key: key spec, hash, chain, and signatures node:crypto verifies`, async () => {
      const chain = chainFor(spec.spec);
      const signer = createLocalSigner(chain.leafKey, chain.certificates);
      assert.equal(signer.keySpec, spec.spec);
      assert.equal(signer.hashAlgorithm, spec.hash);
      assert.deepEqual(signer.certificateChain, chain.certificates);
      assert.ok(Object.isFrozen(signer));
      assert.ok(Object.isFrozen(signer.certificateChain));
      assertNotarySignature(chain.leaf.publicKey, spec, await signer.sign(DATA));
    });
  }

  it('keeps its own copy of the chain', () => {
    const chain = chainFor('EC-256');
    const certificates = [...chain.certificates];
    const signer = createLocalSigner(chain.leafKey, certificates);
    certificates.pop();
    assert.equal(signer.certificateChain.length, 2);
  });

  it('refuses a key that is not the leaf certificate’s key', () => {
    throwsKeysError(() => createLocalSigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, chainFor('RSA-2048').certificates), 'KEY_INVALID');
    throwsKeysError(() => createLocalSigner(chainFor('EC-256').leafKey, chainFor('RSA-2048').certificates), 'KEY_INVALID');
    // The chain's root key signs nothing here: only the leaf counts.
    throwsKeysError(() => createLocalSigner(chainFor('RSA-2048').rootKey, chainFor('RSA-2048').certificates), 'KEY_INVALID');
  });

  it('refuses key types and sizes the Notary Project does not allow: RSA-1024, Ed25519, secp256k1', () => {
    const rsa1024 = issueChain(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey, 'signer-rsa-1024');
    throwsKeysError(() => createLocalSigner(rsa1024.leafKey, rsa1024.certificates), 'KEY_UNSUPPORTED');
    for (const pair of [generateKeyPairSync('ed25519'), generateKeyPairSync('ec', { namedCurve: 'secp256k1' })]) {
      throwsKeysError(() => createLocalSigner(pair.privateKey, chainFor('RSA-2048').certificates), 'KEY_UNSUPPORTED');
    }
  });

  it('refuses a public key and an empty chain', () => {
    const chain = chainFor('RSA-2048');
    throwsKeysError(() => createLocalSigner(createPublicKey(chain.leafKey), chain.certificates), 'KEY_INVALID');
    throwsKeysError(() => createLocalSigner(chain.leafKey, []), 'KEY_INVALID');
  });
});

describe('signRaw', () => {
  for (const spec of SPECS) {
    it(`signs ${spec.spec} as the signature specification requires`, async () => {
      const chain = chainFor(spec.spec);
      assertNotarySignature(chain.leaf.publicKey, spec, await signRaw(chain.leafKey, spec.spec, DATA));
    });
  }

  it('turns node:crypto failures into SigningKeyError', async () => {
    await assert.rejects(signRaw(createPublicKey(chainFor('EC-256').leafKey), 'EC-256', DATA), (e: unknown) => e instanceof KeysError && e.code === 'KEY_INVALID');
  });
});

describe('loadLocalSigner', () => {
  const key = { bytes: readFileSync(join(LOCALKEYS, 'e2e.key')), source: 'e2e.key' };
  const certificate = { bytes: readFileSync(join(LOCALKEYS, 'e2e.crt')), source: 'e2e.crt' };

  it('reads Notation’s e2e.key and e2e.crt and signs with them', async () => {
    const signer = loadLocalSigner(key, certificate);
    assert.equal(signer.keySpec, 'RSA-2048');
    assert.equal(signer.hashAlgorithm, 'SHA-256');
    assert.deepEqual(
      signer.certificateChain.map((c) => c.subject),
      ['CN=e2e,O=Notary,L=Seattle,ST=WA,C=US'],
    );
    const leaf = signer.certificateChain[0];
    assert.ok(leaf);
    assertNotarySignature(leaf.publicKey, SPECS[0]!, await signer.sign(DATA));
  });

  it('reads a PEM chain file, leaf first', async () => {
    const chain = chainFor('EC-384');
    const pem = chain.certificates.map((c) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(c.der).toString('base64')}\n-----END CERTIFICATE-----\n`).join('');
    const signer = loadLocalSigner({ bytes: Buffer.from(chain.leafKey.export({ type: 'pkcs8', format: 'pem' })), source: 'k.pem' }, { bytes: Buffer.from(pem), source: 'c.pem' });
    assert.deepEqual(signer.certificateChain, chain.certificates);
    assertNotarySignature(chain.leaf.publicKey, SPECS[4]!, await signer.sign(DATA));
  });

  it('matches key and certificate by public key: new_e2e.crt certifies the same key under another subject', () => {
    const signer = loadLocalSigner(key, { bytes: readFileSync(join(LOCALKEYS, 'new_e2e.crt')), source: 'new_e2e.crt' });
    assert.equal(signer.certificateChain[0]?.subject, 'O=Internet Widgits Pty Ltd,ST=Some-State,C=AU');
  });

  it('refuses a certificate that is not the key’s, naming the key file', () => {
    assert.throws(
      () => loadLocalSigner(key, { bytes: readFileSync(join(LOCALKEYS, 'expired_e2e.crt')), source: 'expired_e2e.crt' }),
      (e: unknown) => e instanceof SigningKeyError && e.code === 'KEY_INVALID' && e.message.startsWith('e2e.key: '),
    );
  });

  it('refuses unreadable key and certificate files with KEY_INVALID', () => {
    const encrypted = chainFor('RSA-2048').leafKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' });
    const cases: readonly [string, Parameters<typeof loadLocalSigner>][] = [
      ['a key file without a key', [{ bytes: Buffer.from('hello'), source: 'k' }, certificate]],
      ['an encrypted key', [{ bytes: Buffer.from(encrypted), source: 'k' }, certificate]],
      ['a certificate file without certificates', [key, { bytes: Buffer.from(''), source: 'c' }]],
      ['a certificate file holding the key', [key, { bytes: key.bytes, source: 'c' }]],
    ];
    for (const [what, args] of cases) {
      assert.throws(
        () => loadLocalSigner(...args),
        (e: unknown) => e instanceof SigningKeyError && e.code === 'KEY_INVALID',
        what,
      );
    }
  });

  it('refuses an Ed25519 key file with KEY_UNSUPPORTED', () => {
    const ed25519 = generateKeyPairSync('ed25519').privateKey;
    assert.throws(
      () => loadLocalSigner({ bytes: Buffer.from(ed25519.export({ type: 'pkcs8', format: 'pem' })), source: 'ed.key' }, certificate),
      (e: unknown) => e instanceof SigningKeyError && e.code === 'KEY_UNSUPPORTED',
    );
  });
});
