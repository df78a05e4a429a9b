// The loader of the Notation-layout config directory (DESIGN.md "Fixed interfaces"): trust
// policy, trust store root, signingkeys.json, localkeys/ and config.json. The only place that
// reads or writes those files (STYLE.md rule 11); everything below receives decoded data.

import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { decodeSigningKeys, EMPTY_SIGNING_KEYS, encodeSigningKeys, type SigningKeysDocument } from '../keys/index.js';
import { decodeTrustPolicyDocument, TrustPolicyError, type TrustPolicyDocument } from '../notary/index.js';
import { CliError } from './errors.js';

/** Where Notation keeps the OCI trust policy: v2 name first, then the v1 name (notation-go dir/path.go). */
const TRUST_POLICY_FILES = ['trustpolicy.oci.json', 'trustpolicy.json'] as const;

/** Bound on config files read here: they are small JSON documents written by people or tools. */
const MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024;

/** Paths inside one config directory. */
export class NotationConfig {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  /** `truststore/`, the root FileTrustStore receives. */
  get trustStoreRoot(): string {
    return join(this.dir, 'truststore');
  }

  /** `localkeys/`, where generate-test writes keys. */
  get localKeysDir(): string {
    return join(this.dir, 'localkeys');
  }

  get #signingKeysPath(): string {
    return join(this.dir, 'signingkeys.json');
  }

  /** The trust policy file in use: trustpolicy.oci.json, else trustpolicy.json; undefined when neither exists. */
  trustPolicyPath(): string | undefined {
    return TRUST_POLICY_FILES.map((f) => join(this.dir, f)).find((p) => existsSync(p));
  }

  /**
   * Where `policy import` writes: the file already in use, so a directory shared with Notation 1.x
   * (which reads only trustpolicy.json) keeps working; trustpolicy.oci.json in a new directory.
   */
  trustPolicyWritePath(): string {
    return this.trustPolicyPath() ?? join(this.dir, TRUST_POLICY_FILES[0]);
  }

  /** Reads and validates the trust policy; a clear error when it is missing or invalid. */
  async loadTrustPolicy(): Promise<TrustPolicyDocument> {
    const path = this.trustPolicyPath();
    if (path === undefined) {
      throw new TrustPolicyError('TRUST_POLICY_NOT_FOUND', `trust policy is not present; create ${join(this.dir, TRUST_POLICY_FILES[0])} with sigil policy import FILE or sigil policy init`);
    }
    // notation-go: the trust policy must be a regular file, not a symlink.
    if ((await lstat(path)).isSymbolicLink()) throw new TrustPolicyError('TRUST_POLICY_INVALID', `trust policy ${path} is a symbolic link; it must be a regular file`);
    return decodeTrustPolicyDocument(await readBounded(path), path);
  }

  /** Reads signingkeys.json; a missing file is an empty document. */
  async loadSigningKeys(): Promise<SigningKeysDocument> {
    const path = this.#signingKeysPath;
    if (!existsSync(path)) return EMPTY_SIGNING_KEYS;
    return decodeSigningKeys(Buffer.from(await readBounded(path)).toString('utf8'), path);
  }

  /** Writes signingkeys.json atomically. */
  async saveSigningKeys(doc: SigningKeysDocument): Promise<void> {
    await writeAtomic(this.#signingKeysPath, encodeSigningKeys(doc), 0o600);
  }

  /** The default envelope format from Notation's config.json (`signatureFormat`), if set. */
  async signatureFormat(): Promise<'jws' | 'cose' | undefined> {
    const path = join(this.dir, 'config.json');
    if (!existsSync(path)) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(await readBounded(path)).toString('utf8'));
    } catch (error) {
      throw new CliError(`${path}: malformed JSON (${(error as Error).message})`, { code: 'FAILED' });
    }
    const format = (json as { signatureFormat?: unknown } | null)?.signatureFormat;
    if (format === undefined || format === '') return undefined;
    if (format !== 'jws' && format !== 'cose') throw new CliError(`${path}: signatureFormat must be "jws" or "cose", not ${JSON.stringify(format)}`, { code: 'FAILED' });
    return format;
  }

  /** A path from signingkeys.json made absolute against the config directory (Notation writes absolute paths). */
  resolvePath(path: string): string {
    return isAbsolute(path) ? path : resolve(this.dir, path);
  }
}

/** Reads a file with a size bound, naming the file in any error. */
export async function readBounded(path: string, limit = MAX_CONFIG_FILE_BYTES): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${code ?? (error as Error).message})`, { code: 'FAILED', cause: error });
  }
  if (bytes.byteLength > limit) throw new CliError(`${path}: ${bytes.byteLength} bytes exceeds the ${limit}-byte limit`, { code: 'FAILED' });
  return bytes;
}

/** Writes a file through a temp file and rename, so readers never see half of it. */
export async function writeAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, content, { mode });
  await chmod(temp, mode);
  await rename(temp, path);
}
