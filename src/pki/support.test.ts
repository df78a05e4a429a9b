// Shared helpers for the pki tests (no tests of its own): running openssl, temporary files, test
// keys, and small CA hierarchies built with createCertificate.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDer, derBitString, derSequence } from './asn1.js';
import { decodeCertificate, EKU_CODE_SIGNING } from './certificate.js';
import type { Certificate } from './certificate.js';
import type { PkiError, PkiErrorCode } from './errors.js';
import { createCertificate } from './generate.js';
import type { CreateCertificateOptions } from './generate.js';

/** One hour in milliseconds. */
export const HOUR = 3600_000;
/** One day in milliseconds. */
export const DAY = 24 * HOUR;

/** A fixed instant the test certificates are valid around. */
export const NOW = new Date('2025-01-15T12:00:00Z');

/** Runs openssl and returns stdout (stderr folded in on failure). */
export function openssl(args: readonly string[], input?: string | Uint8Array): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-pki-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes `content` to `dir/name` and returns the path. */
export function writeTemp(dir: string, name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** A key pair. */
export interface KeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

const keyCache = new Map<string, KeyPair[]>();

/** The `n`th cached key pair of a kind, generated on first use. */
export function testKey(kind: 'ec-256' | 'ec-384' | 'ec-521' | 'rsa-1024' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096', n = 0): KeyPair {
  const list = keyCache.get(kind) ?? [];
  keyCache.set(kind, list);
  while (list.length <= n) {
    const [type, size] = kind.split('-') as ['ec' | 'rsa', string];
    list.push(
      type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: `P-${size}` })
        : generateKeyPairSync('rsa', { modulusLength: Number(size) }),
    );
  }
  return list[n] as KeyPair;
}

/** A certificate with its private key. */
export interface Issued {
  readonly certificate: Certificate;
  readonly privateKey: KeyObject;
}

type Overrides = Partial<Omit<CreateCertificateOptions, 'publicKey' | 'issuer' | 'signingKey'>> & { key?: KeyPair };

/** A self-signed root CA (cA, keyCertSign critical), valid a year around NOW. */
export function makeRoot(name = 'Root', overrides: Overrides = {}): Issued {
  const key = overrides.key ?? testKey('ec-256', 0);
  const certificate = createCertificate({
    subject: `C=US, O=Sigil Test, CN=${name}`,
    notBefore: new Date(NOW.getTime() - 365 * DAY),
    notAfter: new Date(NOW.getTime() + 365 * DAY),
    basicConstraints: { cA: true },
    keyUsage: { usages: ['keyCertSign', 'cRLSign'] },
    ...overrides,
    publicKey: key.publicKey,
    signingKey: key.privateKey,
  });
  return { certificate, privateKey: key.privateKey };
}

/** An intermediate CA issued by `parent`. */
export function makeIntermediate(parent: Issued, name = 'Intermediate', overrides: Overrides = {}): Issued {
  const key = overrides.key ?? testKey('ec-256', 1);
  const certificate = createCertificate({
    subject: `C=US, O=Sigil Test, CN=${name}`,
    notBefore: new Date(NOW.getTime() - 300 * DAY),
    notAfter: new Date(NOW.getTime() + 300 * DAY),
    basicConstraints: { cA: true },
    keyUsage: { usages: ['keyCertSign', 'cRLSign'] },
    ...overrides,
    publicKey: key.publicKey,
    issuer: parent,
  });
  return { certificate, privateKey: key.privateKey };
}

/** A code-signing leaf issued by `parent` (KU digitalSignature critical, EKU codeSigning). */
export function makeLeaf(parent: Issued, name = 'Leaf', overrides: Overrides = {}): Issued {
  const key = overrides.key ?? testKey('rsa-2048', 0);
  const certificate = createCertificate({
    subject: `C=US, ST=WA, O=Sigil Test, CN=${name}`,
    notBefore: new Date(NOW.getTime() - 30 * DAY),
    notAfter: new Date(NOW.getTime() + 30 * DAY),
    keyUsage: { usages: ['digitalSignature'] },
    extKeyUsage: { oids: [EKU_CODE_SIGNING] },
    ...overrides,
    publicKey: key.publicKey,
    issuer: parent,
  });
  return { certificate, privateKey: key.privateKey };
}

/**
 * Re-signs `cert` with another algorithm (e.g. SHA-1 or MD5 with RSA, which createCertificate
 * refuses to make), replacing both signature algorithm fields.
 */
export function resign(cert: Certificate, signer: KeyObject, algorithmIdentifier: Uint8Array, nodeHash: string): Certificate {
  const tbs = decodeDer(cert.der).children[0];
  if (tbs === undefined) throw new Error('no tbsCertificate');
  const fields = tbs.children.map((c) => c.bytes);
  fields[2] = algorithmIdentifier;
  const newTbs = derSequence(...fields);
  const signature = sign(nodeHash, newTbs, signer);
  return decodeCertificate(derSequence(newTbs, algorithmIdentifier, derBitString(signature)));
}

/** An assert.throws predicate: the error is an instance of `cls` with `code`. */
export function isPkiError(cls: abstract new (...args: never[]) => PkiError, code: PkiErrorCode): (e: unknown) => boolean {
  return (e: unknown) => {
    if (e instanceof cls && e.code === code) return true;
    throw e instanceof Error ? e : new Error(String(e));
  };
}
