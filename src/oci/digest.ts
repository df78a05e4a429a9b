// Content digests: parsing, computing, and checking bytes against a descriptor while they stream.
// image-spec v1.1.0 descriptor.md#digests; Sigil accepts the registered algorithms sha256 and sha512.

import { createHash, type Hash } from 'node:crypto';
import { DigestError } from './errors.js';

/** Digest algorithms registered by image-spec v1.1.0 (descriptor.md#registered-algorithms). */
export type DigestAlgorithm = 'sha256' | 'sha512';

const ENCODED_LENGTH: Readonly<Record<DigestAlgorithm, number>> = Object.freeze({ sha256: 64, sha512: 128 });
const LOWER_HEX = /^[a-f0-9]+$/;

/** A parsed digest: `algorithm:encoded`. */
export interface ParsedDigest {
  readonly algorithm: DigestAlgorithm;
  readonly encoded: string;
}

/** Parses and validates a digest string; throws DigestError(DIGEST_INVALID) naming what is wrong. */
export function parseDigest(digest: string): ParsedDigest {
  const colon = digest.indexOf(':');
  if (colon <= 0) throw new DigestError('DIGEST_INVALID', `invalid digest "${printable(digest)}": expected ALGORITHM:HEX`);
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new DigestError('DIGEST_INVALID', `invalid digest "${printable(digest)}": unsupported algorithm "${printable(algorithm)}" (want sha256 or sha512)`);
  }
  if (encoded.length !== ENCODED_LENGTH[algorithm] || !LOWER_HEX.test(encoded)) {
    throw new DigestError('DIGEST_INVALID', `invalid digest "${printable(digest)}": ${algorithm} needs ${ENCODED_LENGTH[algorithm]} lower-case hex characters`);
  }
  return { algorithm, encoded };
}

/** True when `digest` is a well-formed sha256 or sha512 digest. */
export function isDigest(digest: string): boolean {
  try {
    parseDigest(digest);
    return true;
  } catch {
    // a malformed digest is exactly what this predicate reports
    return false;
  }
}

/** Computes the digest of bytes held in memory. */
export function digestOf(content: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(content).digest('hex')}`;
}

/** The descriptor fields a content check needs. */
export interface ExpectedContent {
  readonly digest: string;
  readonly size: number;
}

/**
 * Wraps a stream so that it yields the same chunks while checking them against `expected`:
 * more bytes than `size` fail at once (an endless body stops there), and at the end the
 * length and digest must match. Consumers must read to the end before trusting the bytes.
 */
export async function* verifyContent(
  source: AsyncIterable<Uint8Array>,
  expected: ExpectedContent,
  name = expected.digest,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { algorithm } = parseDigest(expected.digest);
  const hash: Hash = createHash(algorithm);
  let received = 0;
  for await (const chunk of source) {
    received += chunk.byteLength;
    if (received > expected.size) {
      throw new DigestError('SIZE_MISMATCH', `${name}: content is longer than the expected ${expected.size} bytes`);
    }
    hash.update(chunk);
    yield chunk;
  }
  if (received !== expected.size) {
    throw new DigestError('SIZE_MISMATCH', `${name}: content ended after ${received} of ${expected.size} bytes`);
  }
  const actual = `${algorithm}:${hash.digest('hex')}`;
  if (actual !== expected.digest) {
    throw new DigestError('DIGEST_MISMATCH', `${name}: content digest ${actual} does not match ${expected.digest}`);
  }
}

/** Reads a whole stream into memory, checking size and digest; the safe way to buffer content. */
export async function readVerified(source: AsyncIterable<Uint8Array>, expected: ExpectedContent, name?: string): Promise<Uint8Array> {
  const out = new Uint8Array(expected.size);
  let offset = 0;
  for await (const chunk of verifyContent(source, expected, name)) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Reads a stream of unknown digest into memory, failing with SIZE_EXCEEDS_LIMIT past `limit`
 * bytes (used for manifests fetched by tag, whose digest is learned from the bytes).
 */
export async function readLimited(source: AsyncIterable<Uint8Array>, limit: number, name: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > limit) throw new DigestError('SIZE_EXCEEDS_LIMIT', `${name}: content exceeds the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  return concatBytes(chunks, total);
}

/** Joins chunks into one array. */
export function concatBytes(chunks: readonly Uint8Array[], total = chunks.reduce((n, c) => n + c.byteLength, 0)): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Renders untrusted text safely inside a one-line message: control characters escaped, length capped. */
export function printable(text: string, max = 200): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}
