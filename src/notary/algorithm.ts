// Signature algorithms of the Notary Project signature specification, Algorithm Selection,
// with their JWS (RFC 7518) and COSE (RFC 9053) identifiers.

import type { HashAlgorithm, KeySpec } from '../pki/index.js';

/** A signature algorithm, spelled as the plugin protocol spells it. */
export type SignatureAlgorithm =
  | 'RSASSA-PSS-SHA-256'
  | 'RSASSA-PSS-SHA-384'
  | 'RSASSA-PSS-SHA-512'
  | 'ECDSA-SHA-256'
  | 'ECDSA-SHA-384'
  | 'ECDSA-SHA-512';

/** Everything one algorithm is called and needs. */
export interface AlgorithmInfo {
  readonly name: SignatureAlgorithm;
  readonly keySpec: KeySpec;
  readonly hash: HashAlgorithm;
  readonly jws: 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';
  readonly cose: -37 | -38 | -39 | -7 | -35 | -36;
  /** Byte length of the raw signature: the RSA modulus, or r‖s for ECDSA (IEEE P1363). */
  readonly signatureSize: number;
}

/** The six algorithms, one per key spec (notation-core-go internal/algorithm/algorithm.go). */
export const ALGORITHMS: readonly AlgorithmInfo[] = Object.freeze([
  { name: 'RSASSA-PSS-SHA-256', keySpec: 'RSA-2048', hash: 'SHA-256', jws: 'PS256', cose: -37, signatureSize: 256 },
  { name: 'RSASSA-PSS-SHA-384', keySpec: 'RSA-3072', hash: 'SHA-384', jws: 'PS384', cose: -38, signatureSize: 384 },
  { name: 'RSASSA-PSS-SHA-512', keySpec: 'RSA-4096', hash: 'SHA-512', jws: 'PS512', cose: -39, signatureSize: 512 },
  { name: 'ECDSA-SHA-256', keySpec: 'EC-256', hash: 'SHA-256', jws: 'ES256', cose: -7, signatureSize: 64 },
  { name: 'ECDSA-SHA-384', keySpec: 'EC-384', hash: 'SHA-384', jws: 'ES384', cose: -35, signatureSize: 96 },
  { name: 'ECDSA-SHA-512', keySpec: 'EC-521', hash: 'SHA-512', jws: 'ES512', cose: -36, signatureSize: 132 },
].map((a) => Object.freeze(a as AlgorithmInfo)));

/** The algorithm a key spec signs with. */
export function algorithmForKeySpec(spec: KeySpec): AlgorithmInfo {
  const found = ALGORITHMS.find((a) => a.keySpec === spec);
  if (found === undefined) throw new Error(`unreachable: no algorithm for key spec ${spec}`);
  return found;
}

/** The algorithm with a given name, or undefined. */
export function algorithmByName(name: string): AlgorithmInfo | undefined {
  return ALGORITHMS.find((a) => a.name === name);
}
