// The OCI image layout store: blobs, tags and referrers in a directory on disk.
// image-spec v1.1.0 image-layout.md; referrers as oras-go's content/oci store keeps them, plus the
// distribution-spec v1.1.0 referrers tag schema that Notation-made layouts also carry.

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type {
  ByteStream,
  Deleter,
  OperationOptions,
  ReferencePusher,
  ReferrerLister,
  ReferrersOptions,
  TagLister,
  Target,
} from './content.js';
import { toStream } from './content.js';
import { decodeAnnotations, decodeDescriptor, isMediaType, isRecord, type Descriptor } from './descriptor.js';
import { digestOf, parseDigest, printable, readVerified, verifyContent, type ExpectedContent } from './digest.js';
import { ContentError, DigestError, LayoutError, ManifestError, OciError, ReferenceSyntaxError } from './errors.js';
import { MAX_LAYOUT_INDEX_BYTES, MAX_MANIFEST_BYTES } from './limits.js';
import { decodeManifest, detectManifestMediaType, referrerDescriptor, type ImageIndex, type Manifest } from './manifest.js';
import { MEDIA_TYPE_IMAGE_INDEX, isIndexMediaType, isManifestMediaType } from './mediatype.js';
import { isTag } from './reference.js';
import { filterReferrers, referrersTag } from './referrers.js';

/** image-spec v1.1.0 image-layout.md#oci-layout-file: the only layout version there is. */
export const IMAGE_LAYOUT_VERSION = '1.0.0';

/** image-spec v1.1.0 annotations.md: the annotation on an index.json entry that names its tag. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** The `oci-layout` file is one small JSON object; anything past 4 KiB is not one. */
const MAX_LAYOUT_FILE_BYTES = 4096;

/**
 * A lock file older than this is left over from a crashed writer and may be broken. An index
 * update holds the lock for milliseconds; 10 s leaves room for a slow disk and a 64 MiB index.
 */
const INDEX_LOCK_STALE_MS = 10_000;

/** Decoded manifests are cached by digest (content never changes under a digest); bounded so a huge layout cannot grow it without limit. */
const MANIFEST_CACHE_ENTRIES = 4096;

/** image-spec v1.1.0 image-layout.md#oci-layout-file. */
export interface OciLayoutFile {
  readonly imageLayoutVersion: string;
}

function layoutInvalid(message: string, cause?: unknown): LayoutError {
  return new LayoutError('LAYOUT_INVALID', message, cause === undefined ? undefined : { cause });
}

function parseJson(bytes: Uint8Array, name: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw layoutInvalid(`${name}: not valid UTF-8 JSON (${printable((cause as Error).message, 120)})`, cause);
  }
  if (!isRecord(value)) throw layoutInvalid(`${name}: must be a JSON object`);
  return value;
}

/** Decodes the `oci-layout` file; throws LayoutError(LAYOUT_INVALID) naming `name` unless the version is 1.0.0. */
export function decodeOciLayoutFile(bytes: Uint8Array, name = 'oci-layout'): OciLayoutFile {
  const doc = parseJson(bytes, name);
  if (typeof doc.imageLayoutVersion !== 'string') throw layoutInvalid(`${name}: imageLayoutVersion is missing`);
  if (doc.imageLayoutVersion !== IMAGE_LAYOUT_VERSION) {
    throw layoutInvalid(`${name}: imageLayoutVersion "${printable(doc.imageLayoutVersion)}" is not supported (want ${IMAGE_LAYOUT_VERSION})`);
  }
  return Object.freeze({ imageLayoutVersion: doc.imageLayoutVersion });
}

/** Encodes the `oci-layout` file. */
export function encodeOciLayoutFile(): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }));
}

/**
 * Decodes a layout's `index.json` (image-spec v1.1.0 image-layout.md#indexjson-file): an image
 * index, whose `mediaType` many tools omit (Notation's layouts do), capped at
 * MAX_LAYOUT_INDEX_BYTES rather than the manifest limit. Throws LayoutError(LAYOUT_INVALID) naming `name`.
 */
export function decodeLayoutIndex(bytes: Uint8Array, name = 'index.json'): ImageIndex {
  if (bytes.byteLength > MAX_LAYOUT_INDEX_BYTES) {
    throw layoutInvalid(`${name}: ${bytes.byteLength} bytes exceeds the ${MAX_LAYOUT_INDEX_BYTES}-byte index limit`);
  }
  const doc = parseJson(bytes, name);
  if (doc.schemaVersion !== 2) throw layoutInvalid(`${name}: schemaVersion must be 2`);
  if (doc.mediaType !== undefined && doc.mediaType !== MEDIA_TYPE_IMAGE_INDEX) {
    // String() on a JSON object can throw ({"toString": 1}); only strings are shown.
    const shown = typeof doc.mediaType === 'string' ? `"${printable(doc.mediaType)}"` : '(not a string)';
    throw layoutInvalid(`${name}: mediaType ${shown} is not ${MEDIA_TYPE_IMAGE_INDEX}`);
  }
  if (!Array.isArray(doc.manifests)) throw layoutInvalid(`${name}: manifests must be an array`);
  try {
    const manifests = doc.manifests.map((item, i) => decodeDescriptor(item, `${name}.manifests[${i}]`));
    const index: Record<string, unknown> = { kind: 'index', schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests };
    if (doc.annotations !== undefined) index.annotations = decodeAnnotations(doc.annotations, `${name}.annotations`);
    if (doc.artifactType !== undefined && isMediaType(doc.artifactType)) index.artifactType = doc.artifactType;
    return Object.freeze(index) as unknown as ImageIndex;
  } catch (cause) {
    if (cause instanceof LayoutError) throw cause;
    throw layoutInvalid((cause as Error).message, cause);
  }
}

/** Encodes a layout's `index.json`, with `mediaType` set as image-spec v1.1.0 recommends. */
export function encodeLayoutIndex(index: Pick<ImageIndex, 'manifests' | 'annotations'>): Uint8Array {
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests: index.manifests };
  if (index.annotations !== undefined) doc.annotations = index.annotations;
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** The tag an index.json entry carries, if any. */
function refNameOf(entry: Descriptor): string | undefined {
  return entry.annotations?.[ANNOTATION_REF_NAME];
}

/** The descriptor a caller sees for an index.json entry: identity and type, not the entry's annotations. */
function plainDescriptor(entry: Descriptor): Descriptor {
  const out: Record<string, unknown> = { mediaType: entry.mediaType, digest: entry.digest, size: entry.size };
  if (entry.artifactType !== undefined) out.artifactType = entry.artifactType;
  return Object.freeze(out) as unknown as Descriptor;
}

function taggedEntry(desc: Descriptor, reference: string): Descriptor {
  return Object.freeze({ ...plainDescriptor(desc), annotations: Object.freeze({ [ANNOTATION_REF_NAME]: reference }) });
}

/** distribution-spec v1.1.0 tag grammar. */
/** image-spec v1.1.0 annotations.md, `org.opencontainers.image.ref.name` grammar (a tag or a fully qualified reference). */
const REF_NAME_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const REF_NAME = new RegExp(`^${REF_NAME_COMPONENT}(?:/${REF_NAME_COMPONENT})*$`);
/** A digest reference: `algorithm:encoded` (image-spec v1.1.0 descriptor.md#digests). */
const DIGEST_LIKE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function isErrno(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

function isMissing(err: unknown): boolean {
  return isErrno(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR');
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/** Maps a foreign (node:fs) error to the oci module's errors; ours and aborts pass through (STYLE.md rule 7). */
function storageError(err: unknown, context: string): unknown {
  if (err instanceof OciError || isAbort(err)) return err;
  if (isErrno(err)) {
    if (isMissing(err)) return new ContentError('NOT_FOUND', `${context}: not found`, { cause: err });
    return new ContentError('IO_FAILED', `${context}: ${err.code} during ${err.syscall}`, { cause: err });
  }
  return err;
}

/** Closes what a caller handed us but we do not need (a stream whose content is already stored). */
async function discard(content: ByteStream | Uint8Array): Promise<void> {
  if (content instanceof Uint8Array) return;
  await content[Symbol.asyncIterator]().return?.();
}

async function writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Makes a rename durable: fsync the directory that holds the new name. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // some file systems cannot fsync a directory; the rename is still atomic, just less durable
    if (!isErrno(err) || (err.code !== 'EINVAL' && err.code !== 'EPERM' && err.code !== 'EISDIR')) throw err;
  } finally {
    await handle.close();
  }
}

function temporaryName(base: string): string {
  return `${base}.${randomBytes(8).toString('hex')}.tmp`;
}

/** Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename. */
async function writeAtomically(path: string, dir: string, bytes: Uint8Array): Promise<void> {
  const tmp = temporaryName(path);
  const handle = await open(tmp, 'wx');
  let renamed = false;
  try {
    await writeFully(handle, bytes);
    await handle.sync();
    await handle.close();
    await rename(tmp, path);
    renamed = true;
    await syncDirectory(dir);
  } finally {
    if (!renamed) {
      await handle.close().catch(() => undefined); // already closed on the success path up to rename
      await rm(tmp, { force: true });
    }
  }
}

/** Creates `path` with `bytes` unless it exists (another writer won the race, which is fine). */
async function createIfAbsent(path: string, dir: string, bytes: Uint8Array): Promise<void> {
  const tmp = temporaryName(path);
  await writeFile(tmp, bytes);
  try {
    await link(tmp, path);
    await syncDirectory(dir);
  } catch (err) {
    if (!isErrno(err) || err.code !== 'EEXIST') throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

async function writeFile(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await writeFully(handle, bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads a whole file of at most `limit` bytes; undefined when it does not exist. */
async function readBounded(path: string, limit: number, tooLarge: (size: number) => Error): Promise<Uint8Array | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size > limit) throw tooLarge(size);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** What a manifest contributes to referrer discovery, cached by digest. */
interface ManifestFacts {
  readonly subjectDigest: string | undefined;
  readonly referrer: Descriptor;
  readonly children: readonly Descriptor[];
}

/** Options for opening a layout. */
export interface OpenLayoutOptions {
  /** Create the directory, `oci-layout` and an empty `index.json` when absent; default false (open read-only content as is). */
  readonly create?: boolean;
}

/**
 * An OCI image layout (image-spec v1.1.0 image-layout.md) as a content target. Blobs live at
 * `blobs/ALG/HEX` and are written atomically after their size and digest are checked; tags are
 * index.json entries annotated with `org.opencontainers.image.ref.name`; manifests that nothing
 * else points at (referrers, untagged roots) are kept reachable as untagged entries, as oras-go
 * and Notation do. index.json updates are serialized in-process and across processes by a lock file.
 */
export class OciLayout implements Target, ReferrerLister, Deleter, TagLister, ReferencePusher {
  readonly #root: string;
  #indexQueue: Promise<unknown> = Promise.resolve();
  readonly #facts = new Map<string, ManifestFacts | null>();

  private constructor(root: string) {
    this.#root = root;
  }

  /**
   * Opens the layout at `root`, checking `oci-layout` (version 1.0.0) and `index.json`; with
   * `create`, makes whatever is absent. Throws LayoutError(LAYOUT_INVALID) naming the path.
   */
  static async open(root: string, options: OpenLayoutOptions = {}): Promise<OciLayout> {
    const create = options.create ?? false;
    try {
      let info;
      try {
        info = await stat(root);
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
      if (info === undefined) {
        if (!create) throw layoutInvalid(`${root}: no such directory; not an OCI image layout`);
        await mkdir(root, { recursive: true });
      } else if (!info.isDirectory()) {
        throw layoutInvalid(`${root}: not a directory; an OCI image layout is a directory`);
      }

      const markerPath = join(root, 'oci-layout');
      const tooLargeMarker = (size: number) => layoutInvalid(`${markerPath}: ${size} bytes is too large for an oci-layout file`);
      let marker = await readBounded(markerPath, MAX_LAYOUT_FILE_BYTES, tooLargeMarker);
      if (marker === undefined) {
        if (!create) throw layoutInvalid(`${markerPath}: missing; ${root} is not an OCI image layout`);
        await createIfAbsent(markerPath, root, encodeOciLayoutFile());
        marker = (await readBounded(markerPath, MAX_LAYOUT_FILE_BYTES, tooLargeMarker)) ?? encodeOciLayoutFile();
      }
      decodeOciLayoutFile(marker, markerPath);

      const layout = new OciLayout(root);
      const indexPath = join(root, 'index.json');
      if (create && !(await readBounded(indexPath, MAX_LAYOUT_INDEX_BYTES, layout.#indexTooLarge()))) {
        await createIfAbsent(indexPath, root, encodeLayoutIndex({ manifests: [] }));
      }
      await layout.#readIndex();
      if (create) await mkdir(join(root, 'blobs'), { recursive: true });
      return layout;
    } catch (err) {
      throw storageError(err, root);
    }
  }

  /** The layout's directory, as given to `open`. */
  get root(): string {
    return this.#root;
  }

  /** Fetches a blob or manifest; the stream checks size and digest as it is read. */
  async fetch(desc: Descriptor, { signal }: OperationOptions): Promise<ByteStream> {
    signal.throwIfAborted();
    const path = this.#blobPath(desc.digest);
    const name = this.#name(desc.digest);
    try {
      if (!(await this.#isBlob(path))) throw new ContentError('NOT_FOUND', `${name}: blob not found`);
    } catch (err) {
      throw storageError(err, name);
    }
    return verifyContent(this.#readBlob(path, name, signal), desc, name);
  }

  /** True when the blob or manifest is stored. */
  async exists(desc: Descriptor, { signal }: OperationOptions): Promise<boolean> {
    signal.throwIfAborted();
    const path = this.#blobPath(desc.digest);
    try {
      return await this.#isBlob(path);
    } catch (err) {
      throw storageError(err, this.#name(desc.digest));
    }
  }

  /**
   * Stores content under its digest after checking size and digest as it streams (a mismatch
   * leaves nothing behind and throws DigestError). A manifest is decoded first and, unless an
   * index.json entry already names it, recorded as an untagged entry so it stays reachable;
   * an index makes the untagged entries of its children redundant, so they are dropped.
   * Content already present is not written again.
   */
  async push(desc: Descriptor, content: ByteStream | Uint8Array, { signal }: OperationOptions): Promise<void> {
    signal.throwIfAborted();
    const { algorithm, encoded } = parseDigest(desc.digest);
    const dir = join(this.#root, 'blobs', algorithm);
    const path = join(dir, encoded);
    const name = this.#name(desc.digest);
    try {
      if (!isManifestMediaType(desc.mediaType)) {
        if (await this.#isBlob(path)) return await discard(content);
        return await this.#writeBlob(dir, path, toStream(content), desc, name, signal);
      }
      if (desc.size > MAX_MANIFEST_BYTES) {
        throw new ContentError('SIZE_EXCEEDS_LIMIT', `${name}: ${desc.size} bytes exceeds the ${MAX_MANIFEST_BYTES}-byte manifest limit`);
      }
      const bytes = await readVerified(toStream(content), desc, name);
      const manifest = decodeManifest(bytes, desc.mediaType, name);
      if (!(await this.#isBlob(path))) await this.#writeBlob(dir, path, toStream(bytes), desc, name, signal);
      this.#remember(desc, manifest);
      await this.#recordManifest(desc, manifest, signal);
    } catch (err) {
      throw storageError(err, name);
    }
  }

  /**
   * Points `reference` at stored content: one index.json entry per tag, so tagging again moves
   * it; a manifest the tag moved away from stays reachable as an untagged entry.
   */
  async tag(desc: Descriptor, reference: string, { signal }: OperationOptions): Promise<void> {
    signal.throwIfAborted();
    const name = this.#name(reference);
    if (DIGEST_LIKE.test(reference)) {
      // Tagging with a digest names what is already there (oras-go does the same).
      if (reference !== desc.digest) {
        throw new ReferenceSyntaxError('REFERENCE_INVALID', `${name}: a digest reference cannot name ${desc.digest}`);
      }
    } else if (!isTag(reference) && !REF_NAME.test(reference)) {
      throw new ReferenceSyntaxError('REFERENCE_INVALID', `${this.#root}: "${printable(reference)}" is not a valid tag`);
    }
    try {
      if (!(await this.#isBlob(this.#blobPath(desc.digest)))) {
        throw new ContentError('NOT_FOUND', `${name}: cannot tag ${desc.digest}, which is not in the layout`);
      }
      if (DIGEST_LIKE.test(reference)) return;
      await this.#updateIndex(signal, (entries) => {
        const previous = entries.filter((e) => refNameOf(e) === reference);
        const only = previous[0];
        if (previous.length === 1 && only !== undefined && only.digest === desc.digest && only.mediaType === desc.mediaType) return undefined;
        const next = entries.filter((e) => refNameOf(e) !== reference && !(refNameOf(e) === undefined && e.digest === desc.digest));
        for (const old of previous) {
          if (old.digest !== desc.digest && isManifestMediaType(old.mediaType) && !next.some((e) => e.digest === old.digest)) {
            next.push(plainDescriptor(old));
          }
        }
        next.push(taggedEntry(desc, reference));
        return next;
      });
    } catch (err) {
      throw storageError(err, name);
    }
  }

  /** Pushes a manifest and tags it. */
  async pushReference(desc: Descriptor, content: ByteStream | Uint8Array, reference: string, options: OperationOptions): Promise<void> {
    await this.push(desc, content, options);
    await this.tag(desc, reference, options);
  }

  /**
   * Resolves a tag through index.json, or a digest through index.json and then the blobs
   * (reading the manifest to learn its media type). Throws ContentError(NOT_FOUND) naming the
   * layout and the reference.
   */
  async resolve(reference: string, { signal }: OperationOptions): Promise<Descriptor> {
    signal.throwIfAborted();
    const name = this.#name(reference);
    try {
      const entries = await this.#readEntries();
      if (DIGEST_LIKE.test(reference)) {
        parseDigest(reference);
        const entry = entries.findLast((e) => e.digest === reference);
        if (entry !== undefined) return plainDescriptor(entry);
        const found = await this.#describeStoredManifest(reference, signal);
        if (found !== undefined) return found;
        throw new ContentError('NOT_FOUND', `${name}: manifest not found`);
      }
      const entry = entries.findLast((e) => refNameOf(e) === reference);
      if (entry === undefined) throw new ContentError('NOT_FOUND', `${name}: tag not found`);
      return plainDescriptor(entry);
    } catch (err) {
      throw storageError(err, name);
    }
  }

  /**
   * Lists the manifests whose `subject` is `subject`: every manifest reachable from index.json
   * whose subject matches, united with the referrers index tagged `<alg>-<hex>`
   * (distribution-spec v1.1.0, Referrers Tag Schema), which Notation-made layouts also carry.
   * Each referrer is listed once, with `artifactType` (or the config media type) and annotations.
   */
  async *referrers(subject: Descriptor, { signal, artifactType }: ReferrersOptions): AsyncGenerator<Descriptor, void, undefined> {
    signal.throwIfAborted();
    const name = this.#name(subject.digest);
    let found: Descriptor[];
    try {
      found = await this.#findReferrers(subject.digest, signal);
    } catch (err) {
      throw storageError(err, name);
    }
    yield* filterReferrers(found, artifactType);
  }

  /**
   * Deletes content: every index.json entry naming it (tags included), its place in its
   * subject's referrers index, then the blob. Throws ContentError(NOT_FOUND) when none was there.
   */
  async delete(desc: Descriptor, { signal }: OperationOptions): Promise<void> {
    signal.throwIfAborted();
    const path = this.#blobPath(desc.digest);
    const name = this.#name(desc.digest);
    try {
      const facts = isManifestMediaType(desc.mediaType) ? await this.#manifestFacts(desc, signal) : undefined;
      let removedEntries = false;
      await this.#updateIndex(signal, async (entries) => {
        let next = entries.filter((e) => e.digest !== desc.digest);
        removedEntries = next.length !== entries.length;
        if (facts?.subjectDigest !== undefined) {
          next = (await this.#withoutReferrer(next, facts.subjectDigest, desc.digest, signal)) ?? next;
        }
        return next.length === entries.length && next.every((e, i) => e === entries[i]) ? undefined : next;
      });
      let removedBlob = true;
      try {
        await unlink(path);
      } catch (err) {
        if (!isMissing(err)) throw err;
        removedBlob = false;
      }
      this.#facts.delete(desc.digest);
      if (!removedEntries && !removedBlob) throw new ContentError('NOT_FOUND', `${name}: not found`);
    } catch (err) {
      throw storageError(err, name);
    }
  }

  /** Lists the tags of index.json in lexical (code unit) order, after `last` when given. */
  async *tags({ signal, last }: OperationOptions & { readonly last?: string }): AsyncGenerator<string, void, undefined> {
    signal.throwIfAborted();
    let entries: readonly Descriptor[];
    try {
      entries = await this.#readEntries();
    } catch (err) {
      throw storageError(err, this.#root);
    }
    const names = new Set<string>();
    for (const entry of entries) {
      const ref = refNameOf(entry);
      if (ref !== undefined && (last === undefined || ref > last)) names.add(ref);
    }
    yield* [...names].sort();
  }

  // --- blobs ---

  #blobPath(digest: string): string {
    const { algorithm, encoded } = parseDigest(digest);
    return join(this.#root, 'blobs', algorithm, encoded);
  }

  #name(reference: string): string {
    return reference.includes(':') && DIGEST_LIKE.test(reference) ? `${this.#root}@${reference}` : `${this.#root}:${printable(reference)}`;
  }

  async #isBlob(path: string): Promise<boolean> {
    try {
      return (await stat(path)).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async *#readBlob(path: string, name: string, signal: AbortSignal): AsyncGenerator<Uint8Array, void, undefined> {
    // Opened on first read, so a stream that is never consumed holds no file descriptor.
    const stream = createReadStream(path, { signal, highWaterMark: 256 * 1024 });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk;
    } catch (err) {
      signal.throwIfAborted();
      throw storageError(err, name);
    } finally {
      stream.destroy();
    }
  }

  async #writeBlob(dir: string, path: string, source: ByteStream, expected: ExpectedContent, name: string, signal: AbortSignal): Promise<void> {
    await mkdir(dir, { recursive: true });
    // A hidden temp name in the same directory, so the rename is atomic and readers never see a partial blob.
    const tmp = join(dir, `.${temporaryName(randomBytes(4).toString('hex'))}`);
    const handle = await open(tmp, 'wx');
    let closed = false;
    let renamed = false;
    try {
      for await (const chunk of verifyContent(source, expected, name)) {
        signal.throwIfAborted();
        await writeFully(handle, chunk);
      }
      await handle.sync();
      closed = true;
      await handle.close();
      await rename(tmp, path);
      renamed = true;
      await syncDirectory(dir);
    } finally {
      if (!closed) await handle.close().catch(() => undefined); // closing after a failed write; the write error is what matters
      if (!renamed) await rm(tmp, { force: true });
    }
  }

  /** Reads and decodes a stored manifest; undefined when it is missing, too large, corrupt or not a manifest. */
  async #manifestFacts(desc: Descriptor, signal: AbortSignal): Promise<ManifestFacts | undefined> {
    const cached = this.#facts.get(desc.digest);
    if (cached !== undefined) return cached ?? undefined;
    if (desc.size > MAX_MANIFEST_BYTES || !isManifestMediaType(desc.mediaType)) return undefined;
    const path = this.#blobPath(desc.digest);
    let manifest: Manifest;
    try {
      const bytes = await readVerified(this.#readBlob(path, this.#name(desc.digest), signal), desc, this.#name(desc.digest));
      manifest = decodeManifest(bytes, desc.mediaType, this.#name(desc.digest));
    } catch (err) {
      // A manifest that cannot be read or decoded refers to nothing; listing it would hand out content that fails later.
      if (err instanceof DigestError || err instanceof ManifestError || (err instanceof ContentError && err.code === 'NOT_FOUND')) {
        return undefined;
      }
      throw err;
    }
    return this.#remember(desc, manifest);
  }

  #remember(desc: Descriptor, manifest: Manifest): ManifestFacts {
    if (this.#facts.size >= MANIFEST_CACHE_ENTRIES) this.#facts.clear();
    const facts: ManifestFacts = {
      subjectDigest: manifest.subject?.digest,
      referrer: referrerDescriptor(manifest, desc),
      children: manifest.kind === 'index' ? manifest.manifests : [],
    };
    this.#facts.set(desc.digest, facts);
    return facts;
  }

  /** A stored blob named by digest alone, when it is a manifest: its descriptor, media type read from the bytes. */
  async #describeStoredManifest(digest: string, signal: AbortSignal): Promise<Descriptor | undefined> {
    const path = this.#blobPath(digest);
    let size: number;
    try {
      const info = await stat(path);
      if (!info.isFile()) return undefined;
      size = info.size;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    if (size > MAX_MANIFEST_BYTES) return undefined;
    const name = this.#name(digest);
    const bytes = await readVerified(this.#readBlob(path, name, signal), { digest, size }, name);
    try {
      const mediaType = detectManifestMediaType(bytes);
      const manifest = decodeManifest(bytes, mediaType, name);
      const desc: Descriptor = { mediaType, digest, size };
      this.#remember(desc, manifest);
      const artifactType = manifest.artifactType;
      return Object.freeze(artifactType === undefined ? desc : { ...desc, artifactType });
    } catch (err) {
      // the blob is a config or layer, not a manifest: resolving it by digest finds no manifest
      if (err instanceof ManifestError) return undefined;
      throw err;
    }
  }

  // --- index.json ---

  #indexTooLarge(): (size: number) => Error {
    return (size) => layoutInvalid(`${join(this.#root, 'index.json')}: ${size} bytes exceeds the ${MAX_LAYOUT_INDEX_BYTES}-byte index limit`);
  }

  async #readIndex(): Promise<ImageIndex> {
    const path = join(this.#root, 'index.json');
    const bytes = await readBounded(path, MAX_LAYOUT_INDEX_BYTES, this.#indexTooLarge());
    if (bytes === undefined) throw layoutInvalid(`${path}: missing; ${this.#root} is not an OCI image layout`);
    return decodeLayoutIndex(bytes, path);
  }

  async #readEntries(): Promise<readonly Descriptor[]> {
    return (await this.#readIndex()).manifests;
  }

  /**
   * Read-modify-write of index.json under the layout lock: queued behind this process's other
   * updates, then holding `index.json.lock` against other processes, re-reading the file under
   * the lock so no update is lost, and replacing it atomically. `mutate` returns undefined for no change.
   */
  async #updateIndex(
    signal: AbortSignal,
    mutate: (entries: Descriptor[]) => Descriptor[] | undefined | Promise<Descriptor[] | undefined>,
  ): Promise<void> {
    const run = async (): Promise<void> => {
      signal.throwIfAborted();
      const release = await this.#lockIndex(signal);
      try {
        const index = await this.#readIndex();
        const next = await mutate([...index.manifests]);
        if (next === undefined) return;
        const bytes = encodeLayoutIndex({ manifests: next, ...(index.annotations === undefined ? {} : { annotations: index.annotations }) });
        if (bytes.byteLength > MAX_LAYOUT_INDEX_BYTES) {
          throw new ContentError('SIZE_EXCEEDS_LIMIT', `${join(this.#root, 'index.json')}: update would exceed the ${MAX_LAYOUT_INDEX_BYTES}-byte index limit`);
        }
        await writeAtomically(join(this.#root, 'index.json'), this.#root, bytes);
      } finally {
        await release();
      }
    };
    const result = this.#indexQueue.then(run, run);
    this.#indexQueue = result.catch(() => undefined); // the caller gets the error; the queue moves on
    return result;
  }

  /** Takes `index.json.lock` (created with O_EXCL), breaking a lock left by a writer that died; returns the release. */
  async #lockIndex(signal: AbortSignal): Promise<() => Promise<void>> {
    const lockPath = join(this.#root, 'index.json.lock');
    const token = randomBytes(16).toString('hex');
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      try {
        await writeFile(lockPath, new TextEncoder().encode(token));
        break;
      } catch (err) {
        if (!isErrno(err) || err.code !== 'EEXIST') throw err;
      }
      await this.#breakStaleLock(lockPath);
      const backoff = Math.min(2 ** Math.min(attempt, 5), 25);
      await delay(backoff + Math.random() * backoff, undefined, { signal }).catch((err: unknown) => {
        signal.throwIfAborted(); // the caller's reason (a TimeoutError, say), not the timer's AbortError
        throw err;
      });
    }
    return async () => {
      try {
        // Only remove the lock if it is still ours (it may have been broken as stale and retaken).
        const holder = await readFile(lockPath, 'utf8');
        if (holder === token) await unlink(lockPath);
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    };
  }

  async #breakStaleLock(lockPath: string): Promise<void> {
    let info;
    try {
      info = await stat(lockPath);
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    if (Date.now() - info.mtimeMs < INDEX_LOCK_STALE_MS) return;
    // Rename first (atomic), then check we moved the stale file and not a lock taken meanwhile.
    const moved = temporaryName(`${lockPath}.stale`);
    try {
      await rename(lockPath, moved);
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    const movedInfo = await stat(moved);
    if (movedInfo.ino !== info.ino || movedInfo.mtimeMs !== info.mtimeMs) {
      try {
        await link(moved, lockPath); // put the live lock back
      } catch (err) {
        if (!isErrno(err) || err.code !== 'EEXIST') throw err;
      }
    }
    await rm(moved, { force: true });
  }

  /** Records a pushed manifest in index.json as an untagged entry unless an entry already names it. */
  async #recordManifest(desc: Descriptor, manifest: Manifest, signal: AbortSignal): Promise<void> {
    const children = new Set(manifest.kind === 'index' ? manifest.manifests.map((m) => m.digest) : []);
    await this.#updateIndex(signal, (entries) => {
      // Children of an index are reachable through it; their untagged entries are redundant.
      const next = entries.filter((e) => !(refNameOf(e) === undefined && children.has(e.digest)));
      if (!next.some((e) => e.digest === desc.digest)) next.push(plainDescriptor(desc));
      return next.length === entries.length && next.every((e, i) => e === entries[i]) ? undefined : next;
    });
  }

  /**
   * Entries with `referrerDigest` removed from the referrers index tagged for `subjectDigest`
   * (the new index is written as a blob; an emptied index loses its tag); undefined when it was not listed.
   */
  async #withoutReferrer(entries: Descriptor[], subjectDigest: string, referrerDigest: string, signal: AbortSignal): Promise<Descriptor[] | undefined> {
    const tag = referrersTag(subjectDigest);
    const tagged = entries.findLast((e) => refNameOf(e) === tag);
    if (tagged === undefined || !isIndexMediaType(tagged.mediaType) || tagged.size > MAX_MANIFEST_BYTES) return undefined;
    const path = this.#blobPath(tagged.digest);
    const name = this.#name(tagged.digest);
    let index: Manifest;
    try {
      const bytes = await readVerified(this.#readBlob(path, name, signal), tagged, name);
      index = decodeManifest(bytes, tagged.mediaType, name);
    } catch (err) {
      if (err instanceof DigestError || err instanceof ManifestError || (err instanceof ContentError && err.code === 'NOT_FOUND')) return undefined;
      throw err;
    }
    if (index.kind !== 'index' || !index.manifests.some((m) => m.digest === referrerDigest)) return undefined;
    const remaining = index.manifests.filter((m) => m.digest !== referrerDigest);
    const next = entries.filter((e) => refNameOf(e) !== tag);
    if (remaining.length > 0) {
      const bytes = new TextEncoder().encode(JSON.stringify({ ...stripKind(index), manifests: remaining }));
      const { algorithm } = parseDigest(tagged.digest);
      const desc: Descriptor = { mediaType: tagged.mediaType, digest: digestOf(bytes, algorithm), size: bytes.byteLength };
      const newPath = this.#blobPath(desc.digest);
      if (!(await this.#isBlob(newPath))) await writeAtomically(newPath, join(this.#root, 'blobs', algorithm), bytes);
      next.push(taggedEntry(desc, tag));
    }
    return next;
  }

  async #findReferrers(subjectDigest: string, signal: AbortSignal): Promise<Descriptor[]> {
    const entries = await this.#readEntries();
    const found = new Map<string, Descriptor>();
    // (a) Subject scan: walk every manifest reachable from index.json (oras-go's predecessor graph).
    const queue: Descriptor[] = [...entries];
    const visited = new Set<string>();
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      signal.throwIfAborted();
      if (visited.has(next.digest) || !isManifestMediaType(next.mediaType)) continue;
      visited.add(next.digest);
      const facts = await this.#manifestFacts(next, signal);
      if (facts === undefined) continue;
      if (facts.subjectDigest === subjectDigest && !found.has(next.digest)) found.set(next.digest, facts.referrer);
      queue.push(...facts.children);
    }
    // (b) The referrers tag schema: the index tagged <alg>-<hex> lists referrers (distribution-spec v1.1.0).
    const tagged = entries.findLast((e) => refNameOf(e) === referrersTag(subjectDigest));
    if (tagged !== undefined && isIndexMediaType(tagged.mediaType)) {
      const facts = await this.#manifestFacts(tagged, signal);
      for (const referrer of facts?.children ?? []) {
        if (found.has(referrer.digest)) continue;
        // Listed but gone (deleted by another tool): not a referrer anyone can fetch.
        if (await this.#isBlob(this.#blobPath(referrer.digest))) found.set(referrer.digest, referrer);
      }
    }
    return [...found.values()];
  }
}

function stripKind(manifest: Manifest): Record<string, unknown> {
  const { kind: _kind, ...doc } = manifest;
  return doc;
}
