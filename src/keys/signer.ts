// The one signer interface (DESIGN.md: local keys, HSM keys, plugins and the signing authority all
// serve it), and its local-key implementation: a PKCS#8 key file beside its certificate chain.

import { constants, createPublicKey, sign as cryptoSign, type KeyObject, type SignKeyObjectInput, type SigningOptions } from 'node:crypto';
import { decodeCertificates, decodePrivateKeyPem, hashAlgorithmOf, keySpecOf, type Certificate, type HashAlgorithm, type KeySpec } from '../pki/index.js';
import { SigningKeyError } from './errors.js';

/**
 * Produces raw signatures with a key whose certificate chain is known: the plugin protocol's
 * `describe-key` + `generate-signature` (RAW) contract. `sign` returns RSASSA-PSS bytes (salt =
 * hash length) or ECDSA r‖s, over `data` hashed with `hashAlgorithm`.
 */
export interface Signer {
  readonly keySpec: KeySpec;
  readonly hashAlgorithm: HashAlgorithm;
  /** Leaf first, up to and including the root. */
  readonly certificateChain: readonly Certificate[];
  sign(data: Uint8Array): Promise<Uint8Array>;
}

const NODE_HASH: Readonly<Record<HashAlgorithm, string>> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };
const HASH_BYTES: Readonly<Record<HashAlgorithm, number>> = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

function spkiOf(key: KeyObject): string {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' }).toString('base64');
}

/**
 * Signs raw bytes the way the Notary Project signature specification requires for a key spec.
 * The callback form of crypto.sign runs on libuv's thread pool, keeping RSA-4096 off the event loop.
 */
export function signRaw(privateKey: KeyObject, keySpec: KeySpec, data: Uint8Array): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const failed = (error: Error) => reject(new SigningKeyError('KEY_INVALID', `signing with the ${keySpec} key failed: ${error.message}`, { cause: error }));
    try {
      cryptoSign(NODE_HASH[hashAlgorithmOf(keySpec)], data, signOptions(privateKey, keySpec), (error, signature) => (error === null ? resolve(new Uint8Array(signature)) : failed(error)));
    } catch (error) {
      failed(error as Error);
    }
  });
}

function signOptions(privateKey: KeyObject, keySpec: KeySpec): SignKeyObjectInput & SigningOptions {
  const hash = hashAlgorithmOf(keySpec);
  if (keySpec.startsWith('RSA')) {
    // signature-specification.md, Algorithm Selection: RSASSA-PSS, MGF1 with the same hash, salt = hash length.
    return { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[hash] };
  }
  // ECDSA signatures are the fixed-width r‖s of IEEE P1363 in both JWS (RFC 7518 §3.4) and COSE (RFC 9053 §2.1).
  return { key: privateKey, dsaEncoding: 'ieee-p1363' };
}

/** A signer over an in-memory key and its chain; the key must be the leaf certificate's key. */
export function createLocalSigner(privateKey: KeyObject, certificateChain: readonly Certificate[], name = 'signing key'): Signer {
  if (privateKey.type !== 'private') throw new SigningKeyError('KEY_INVALID', `${name}: a ${privateKey.type} key cannot sign; give the private key`);
  const leaf = certificateChain[0];
  if (leaf === undefined) throw new SigningKeyError('KEY_INVALID', `${name}: the certificate chain is empty`);
  let keySpec: KeySpec;
  try {
    keySpec = keySpecOf(privateKey);
  } catch (error) {
    throw new SigningKeyError('KEY_UNSUPPORTED', `${name}: ${(error as Error).message}`, { cause: error });
  }
  if (spkiOf(privateKey) !== spkiOf(leaf.publicKey)) {
    throw new SigningKeyError('KEY_INVALID', `${name}: the private key does not match the public key of certificate "${leaf.subject}"; give the key and certificate that belong together`);
  }
  const chain = Object.freeze([...certificateChain]);
  return Object.freeze({
    keySpec,
    hashAlgorithm: hashAlgorithmOf(keySpec),
    certificateChain: chain,
    sign: (data: Uint8Array) =>
      signRaw(privateKey, keySpec, data).catch((error: unknown) => {
        throw new SigningKeyError('KEY_INVALID', `${name}: ${(error as Error).message}`, { cause: error });
      }),
  });
}

/** A local signer from the bytes of a PEM key file and a PEM/DER certificate chain file. */
export function loadLocalSigner(key: { bytes: Uint8Array; source: string }, certificates: { bytes: Uint8Array; source: string }): Signer {
  let privateKey: KeyObject;
  let chain: Certificate[];
  try {
    privateKey = decodePrivateKeyPem(Buffer.from(key.bytes).toString('utf8'), key.source);
    chain = decodeCertificates(certificates.bytes, certificates.source);
  } catch (error) {
    throw new SigningKeyError('KEY_INVALID', (error as Error).message, { cause: error });
  }
  return createLocalSigner(privateKey, chain, key.source);
}
