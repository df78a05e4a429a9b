// Key specs and hash algorithms of the Notary Project signature specification, Algorithm Selection.

import type { KeyObject } from 'node:crypto';
import { KeyError } from './errors.js';

/** The key types and sizes Notation accepts, spelled as the plugin protocol spells them. */
export type KeySpec = 'RSA-2048' | 'RSA-3072' | 'RSA-4096' | 'EC-256' | 'EC-384' | 'EC-521';

/** The hash algorithm each key spec signs with. */
export type HashAlgorithm = 'SHA-256' | 'SHA-384' | 'SHA-512';

const HASH_OF: Readonly<Record<KeySpec, HashAlgorithm>> = Object.freeze({
  'RSA-2048': 'SHA-256',
  'RSA-3072': 'SHA-384',
  'RSA-4096': 'SHA-512',
  'EC-256': 'SHA-256',
  'EC-384': 'SHA-384',
  'EC-521': 'SHA-512',
});

const CURVES: Readonly<Record<string, KeySpec>> = Object.freeze({ 'prime256v1': 'EC-256', 'P-256': 'EC-256', 'secp384r1': 'EC-384', 'P-384': 'EC-384', 'secp521r1': 'EC-521', 'P-521': 'EC-521' });

/**
 * The key spec of a public or private key. Only exactly 2048/3072/4096-bit RSA and the three NIST
 * curves are allowed: notation-core-go's algorithm.go rejects every other size (the spec's "≥ 2048").
 */
export function keySpecOf(key: KeyObject): KeySpec {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength;
    if (bits === 2048 || bits === 3072 || bits === 4096) return `RSA-${bits}`;
    throw new KeyError('KEY_UNSUPPORTED', `RSA key size ${String(bits)} is not supported; use 2048, 3072 or 4096 bits`);
  }
  if (key.asymmetricKeyType === 'ec') {
    const spec = CURVES[details.namedCurve ?? ''];
    if (spec !== undefined) return spec;
    throw new KeyError('KEY_UNSUPPORTED', `EC curve ${String(details.namedCurve)} is not supported; use P-256, P-384 or P-521`);
  }
  throw new KeyError('KEY_UNSUPPORTED', `key type ${String(key.asymmetricKeyType)} is not supported; use RSA or EC keys`);
}

/** The hash a key spec signs with (signature specification, Algorithm Selection). */
export function hashAlgorithmOf(spec: KeySpec): HashAlgorithm {
  return HASH_OF[spec];
}
