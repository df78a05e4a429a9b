// The X.509 trust store (trust-store-trust-policy.md v1.1, Trust Store): named stores of trusted
// certificates under `<root>/x509/{ca|signingAuthority|tsa}/<name>/`, read as notation-go
// verifier/truststore does, plus the add / list / delete operations behind `sigil cert`.
// This is the storage adapter for the trust store (STYLE.md rule 11): all its filesystem code is here.

import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CertificateError, decodeCertificates, isIssuedBy, isSelfSigned, type Certificate } from '../pki/index.js';
import { TrustStoreError } from './errors.js';

/** The trust store types the spec defines: code-signing roots, signing authorities, and timestamping roots. */
export type TrustStoreType = 'ca' | 'signingAuthority' | 'tsa';

/** Every trust store type, in notation-go's order. */
export const TRUST_STORE_TYPES: readonly TrustStoreType[] = Object.freeze(['ca', 'signingAuthority', 'tsa']);

// notation-go internal/file IsValidFileName: a store name must be a portable directory name.
const STORE_NAME = /^[a-zA-Z0-9_.-]+$/;

/** Whether `value` names a trust store type. */
export function isTrustStoreType(value: string): value is TrustStoreType {
  return (TRUST_STORE_TYPES as readonly string[]).includes(value);
}

/** Whether `name` is a valid named-store name: `[a-zA-Z0-9_.-]+`, but not `.` or `..`. */
export function isTrustStoreName(name: string): boolean {
  // ⚠ notation-go's pattern alone admits `.` and `..`, which name the type directory or x509/ itself
  // (and would let `cert delete --all` remove every store); Sigil refuses them.
  return STORE_NAME.test(name) && name !== '.' && name !== '..';
}

/** Where trusted certificates come from; the verifier asks for one named store of one type at a time. */
export interface TrustStore {
  /** The certificates of store `name` of `type`; throws TrustStoreError when the store is missing or unusable. */
  getCertificates(type: TrustStoreType, name: string): Promise<readonly Certificate[]>;
}

/** Options of a FileTrustStore. */
export interface FileTrustStoreOptions {
  /** The trust store directory, `<config>/truststore` (it holds `x509/`). */
  readonly root: string;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function storeDirectory(root: string, type: TrustStoreType, name: string): string {
  return join(root, 'x509', type, name);
}

function checkStoreId(type: string, name: string): asserts type is TrustStoreType {
  if (!isTrustStoreType(type)) throw new TrustStoreError('TRUST_STORE_INVALID', `unsupported trust store type: ${type}; use one of ${TRUST_STORE_TYPES.join(', ')}`);
  if (!isTrustStoreName(name)) throw new TrustStoreError('TRUST_STORE_INVALID', `trust store name needs to follow [a-zA-Z0-9_.-]+ format, ${name} is invalid`);
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/**
 * notation-go ValidateCertificates (every store type): each certificate must be a CA or self-signed,
 * so a self-signed leaf made by `cert generate-test` may be trusted directly; returns the problem or undefined.
 */
function signingStoreProblem(cert: Certificate): string | undefined {
  if (cert.basicConstraints?.cA === true || isSelfSigned(cert)) return undefined;
  return `certificate with subject ${quote(cert.subject)} is not a CA certificate or self-signed signing certificate`;
}

/**
 * notation-go isRootCACertificate (tsa stores): the certificate must verify under its own key as a CA
 * (Go's CheckSignatureFrom) and its issuer must equal its subject.
 */
function tsaStoreProblem(cert: Certificate): string | undefined {
  if (!cert.isSelfIssued) return `certificate with subject ${quote(cert.subject)} is not a root CA certificate: issuer (${cert.issuer}) and subject (${cert.subject}) are not the same`;
  // isIssuedBy is Go's CheckSignatureFrom: a v3 certificate needs cA, a key usage needs keyCertSign.
  if (!isIssuedBy(cert, cert)) return `certificate with subject ${quote(cert.subject)} is not a root CA certificate: it is not a CA whose signature verifies with its own key`;
  return undefined;
}

/** Decodes one trust store file and applies the rules for its store type; throws TrustStoreError. */
function certificatesOfFile(bytes: Uint8Array, path: string, file: string, type: TrustStoreType, name: string): Certificate[] {
  const where = `the trusted certificate ${file} in trust store ${name} of type ${type}`;
  let certs: Certificate[];
  try {
    certs = decodeCertificates(bytes, path);
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    // notation-go prints only the first half; the reason is what notation#699–701 asked for.
    throw new TrustStoreError('TRUST_STORE_INVALID', `failed to read ${where}: ${error.message}`, { cause: error });
  }
  if (certs.length === 0) throw new TrustStoreError('TRUST_STORE_INVALID', `failed to validate ${where}: no certificate found in the file`);
  for (const cert of certs) {
    const problem = signingStoreProblem(cert) ?? (type === 'tsa' ? tsaStoreProblem(cert) : undefined);
    if (problem !== undefined) throw new TrustStoreError('TRUST_STORE_INVALID', `failed to validate ${where}: ${problem}`);
  }
  return certs;
}

async function readStore(root: string, type: TrustStoreType, name: string): Promise<readonly Certificate[]> {
  const dir = storeDirectory(root, type, name);
  try {
    const info = await lstat(dir);
    if (!info.isDirectory()) {
      // notation-go: a store that is a symlink or a file is refused, not followed.
      throw new TrustStoreError(
        'TRUST_STORE_NOT_FOUND',
        `the trust store ${name} of type ${type} with path ${dir} is not a regular directory (symlinks are not supported)`,
      );
    }
  } catch (error) {
    if (error instanceof TrustStoreError) throw error;
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) {
      throw new TrustStoreError(
        'TRUST_STORE_NOT_FOUND',
        `the trust store ${quote(name)} of type ${quote(type)} does not exist; add certificates with sigil cert add --type ${type} --store ${name} FILE`,
        { cause: error },
      );
    }
    throw new TrustStoreError('TRUST_STORE_INVALID', `failed to access the trust store ${quote(name)} of type ${quote(type)}: ${(error as Error).message}`, { cause: error });
  }

  // os.ReadDir returns entries sorted by name; so does this, so certificates come in a stable order.
  const entries = (await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    throw new TrustStoreError('TRUST_STORE_INVALID', `failed to access the trust store ${quote(name)} of type ${quote(type)}: ${(error as Error).message}`, { cause: error });
  })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const certificates: Certificate[] = [];
  for (const entry of entries) {
    // ⚠ The spec says sub-directories are ignored; notation-go refuses them and symlinks, and so does Sigil.
    // Sockets and FIFOs are refused as well (notation-go would try to read them).
    if (!entry.isFile()) {
      throw new TrustStoreError(
        'TRUST_STORE_INVALID',
        `trusted certificate ${entry.name} in trust store ${name} of type ${type} is not a regular file (directories or symlinks are not supported)`,
      );
    }
    const path = join(dir, entry.name);
    const bytes = await readFile(path).catch((error: unknown) => {
      throw new TrustStoreError('TRUST_STORE_INVALID', `failed to read the trusted certificate ${entry.name} in trust store ${name} of type ${type}: ${(error as Error).message}`, { cause: error });
    });
    certificates.push(...certificatesOfFile(bytes, path, entry.name, type, name));
  }
  if (certificates.length === 0) {
    // notation-go wraps fs.ErrNotExist here: an empty store is as good as a missing one.
    throw new TrustStoreError('TRUST_STORE_NOT_FOUND', `no x509 certificates were found in trust store ${quote(name)} of type ${quote(type)}`);
  }
  return Object.freeze(certificates);
}

/** The trust store on disk as Notation lays it out, each store read once per instance (see the cache note). */
export class FileTrustStore implements TrustStore {
  // Cache: a store is remembered after its first successful read (keyed by type and name) and never
  // reread, so one verification sees one consistent snapshot; build a new instance, as every CLI
  // command does, to see certificates added since. Failed reads are not remembered.
  readonly #root: string;
  readonly #cache = new Map<string, Promise<readonly Certificate[]>>();

  constructor(options: FileTrustStoreOptions) {
    this.#root = options.root;
  }

  /** Reads (once) and validates store `name` of `type`; throws TrustStoreError. */
  async getCertificates(type: TrustStoreType, name: string): Promise<readonly Certificate[]> {
    checkStoreId(type, name);
    const key = `${type}:${name}`;
    let pending = this.#cache.get(key);
    if (pending === undefined) {
      pending = readStore(this.#root, type, name);
      this.#cache.set(key, pending);
      pending.catch(() => this.#cache.delete(key));
    }
    return pending;
  }
}

/** One certificate file in the trust store, as `sigil cert list` shows it. */
export interface TrustStoreEntry {
  readonly type: TrustStoreType;
  readonly name: string;
  /** The file's full path. */
  readonly path: string;
}

/** Which part of the trust store to list: everything, one type, one store name across types, or one store. */
export interface ListTrustStoreOptions {
  readonly root: string;
  readonly type?: TrustStoreType;
  readonly name?: string;
}

async function directoryEntries(dir: string): Promise<{ name: string; isDirectory: boolean; isFile: boolean }[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.map((e) => ({ name: e.name, isDirectory: e.isDirectory(), isFile: e.isFile() })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (error) {
    // A type or store never created simply has nothing in it, as `notation cert ls` shows.
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return [];
    throw error;
  }
}

/** Lists the regular files of the selected stores, sorted by type, store and file name, as `notation cert ls` does. */
export async function listTrustStoreCertificates(options: ListTrustStoreOptions): Promise<readonly TrustStoreEntry[]> {
  // Like notation, symlinks and nested directories are left out and missing stores list nothing.
  // Unlike notation, files are not decoded here (an undecodable one does not hide the rest):
  // getCertificates is what judges them.
  const types = options.type === undefined ? TRUST_STORE_TYPES : [options.type];
  const result: TrustStoreEntry[] = [];
  try {
    for (const type of types) {
      for (const store of await directoryEntries(join(options.root, 'x509', type))) {
        if (!store.isDirectory || (options.name !== undefined && store.name !== options.name)) continue;
        for (const file of await directoryEntries(storeDirectory(options.root, type, store.name))) {
          if (file.isFile) result.push(Object.freeze({ type, name: store.name, path: join(storeDirectory(options.root, type, store.name), file.name) }));
        }
      }
    }
  } catch (error) {
    throw new TrustStoreError('TRUST_STORE_INVALID', `failed to list the trust store at ${options.root}: ${(error as Error).message}`, { cause: error });
  }
  return Object.freeze(result);
}

/** Whether anything (a symlink included) is at `path`. */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return false;
    throw new TrustStoreError('TRUST_STORE_INVALID', `cannot access ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Which store to add certificate files to, and the files. */
export interface AddTrustStoreOptions {
  readonly root: string;
  readonly type: TrustStoreType;
  readonly name: string;
  /** Paths of PEM or DER certificate files; each is copied verbatim under its own file name. */
  readonly files: readonly string[];
}

/** Copies certificate files verbatim into a store, creating it, and refuses a file name already there, as `notation cert add` does. */
export async function addTrustStoreCertificates(options: AddTrustStoreOptions): Promise<readonly TrustStoreEntry[]> {
  // Unlike notation (which only checks that a file decodes), every file must pass the rules
  // getCertificates applies, and nothing is copied unless all pass, so an add cannot break the store.
  checkStoreId(options.type, options.name);
  const dir = storeDirectory(options.root, options.type, options.name);
  const seen = new Set<string>();
  for (const file of options.files) {
    const fileName = basename(file);
    if (seen.has(fileName)) throw new TrustStoreError('TRUST_STORE_INVALID', `${file}: another file named ${fileName} is being added to trust store ${options.name} of type ${options.type}`);
    seen.add(fileName);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new TrustStoreError('TRUST_STORE_INVALID', `${file}: cannot read the certificate file: ${(error as Error).message}`, { cause: error });
    }
    certificatesOfFile(bytes, file, fileName, options.type, options.name);
    if (await exists(join(dir, fileName))) {
      throw new TrustStoreError('TRUST_STORE_INVALID', `certificate ${fileName} already exists in trust store ${options.name} of type ${options.type}; delete it first with sigil cert delete`);
    }
  }
  const added: TrustStoreEntry[] = [];
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const file of options.files) {
      const path = join(dir, basename(file));
      // COPYFILE_EXCL: a file that appeared since the check above is still never overwritten.
      await copyFile(file, path, constants.COPYFILE_EXCL);
      added.push(Object.freeze({ type: options.type, name: options.name, path }));
    }
  } catch (error) {
    throw new TrustStoreError('TRUST_STORE_INVALID', `failed to add certificates to trust store ${options.name} of type ${options.type}: ${(error as Error).message}`, { cause: error });
  }
  return Object.freeze(added);
}

/** Which certificate to delete: one file by name, or (`file` omitted) the whole store, as `--all` does. */
export interface DeleteTrustStoreOptions {
  readonly root: string;
  readonly type: TrustStoreType;
  readonly name: string;
  /** A file name inside the store (not a path); omit to delete every certificate of the store. */
  readonly file?: string;
}

/** Deletes one certificate file, or the whole named store; throws TrustStoreError (TRUST_STORE_NOT_FOUND) when it is not there. */
export async function deleteTrustStoreCertificates(options: DeleteTrustStoreOptions): Promise<void> {
  checkStoreId(options.type, options.name);
  const dir = storeDirectory(options.root, options.type, options.name);
  const target = options.file === undefined ? dir : join(dir, options.file);
  // A file name must stay inside the store: no separators, no `.` or `..`.
  if (options.file !== undefined && (options.file === '' || options.file === '.' || options.file === '..' || basename(options.file) !== options.file || options.file.includes('/') || options.file.includes('\\'))) {
    throw new TrustStoreError('TRUST_STORE_INVALID', `${options.file}: not a certificate file name; give the name sigil cert list shows, without a directory`);
  }
  try {
    await lstat(target);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw new TrustStoreError('TRUST_STORE_INVALID', `cannot access ${target}: ${(error as Error).message}`, { cause: error });
    const what = options.file === undefined ? `the trust store ${quote(options.name)} of type ${quote(options.type)}` : `certificate ${quote(options.file)} in trust store ${quote(options.name)} of type ${quote(options.type)}`;
    throw new TrustStoreError('TRUST_STORE_NOT_FOUND', `${what} does not exist`, { cause: error });
  }
  try {
    if (options.file === undefined) await rm(dir, { recursive: true });
    else await unlink(target);
  } catch (error) {
    throw new TrustStoreError('TRUST_STORE_INVALID', `failed to delete ${target}: ${(error as Error).message}`, { cause: error });
  }
}
