// Copying a content graph from one target to another, and with `referrers` the graph of its
// referrers too (signatures, signatures of signatures). Built on the content interfaces only,
// never on HTTP, as oras-go v2 copy.go and extendedcopy.go are.

import type { ReadOnlyStorage, ReadOnlyTarget, ReferrerLister, Storage, Target } from './content.js';
import { isBlobMounter, isReferencePusher, isReferrerLister } from './content.js';
import type { Descriptor } from './descriptor.js';
import { isDigest, readVerified } from './digest.js';
import { ContentError, CopyError, ReferenceSyntaxError, type CopySide } from './errors.js';
import { MAX_MANIFEST_BYTES, MAX_REFERRERS_DEPTH } from './limits.js';
import { decodeManifest, successorsOf, type Manifest } from './manifest.js';
import { isIndexMediaType, isManifestMediaType } from './mediatype.js';

/** Transfers in flight at once when the caller does not say: 4, between oras-go's default of 3 and the CLI's usual 5. */
export const DEFAULT_COPY_CONCURRENCY = 4;

/** What a copy reports as it goes; `descriptor` names the node the event is about. */
export type CopyEvent =
  /** A transfer begins: the node is absent at the destination and is being fetched and pushed. */
  | { readonly type: 'start'; readonly descriptor: Descriptor }
  /** `bytes` more bytes of the node passed from source to destination. */
  | { readonly type: 'bytes'; readonly descriptor: Descriptor; readonly bytes: number }
  /** The node is now at the destination. */
  | { readonly type: 'copied'; readonly descriptor: Descriptor }
  /** The blob was mounted from another repository of the same registry, so no bytes moved. */
  | { readonly type: 'mounted'; readonly descriptor: Descriptor }
  /** The node was already at the destination, so it was not transferred (nor, for a manifest, what it points to). */
  | { readonly type: 'skipped'; readonly descriptor: Descriptor }
  /** A referrer of `subject` was found at the source and will be copied (only with `referrers`). */
  | { readonly type: 'referrer'; readonly descriptor: Descriptor; readonly subject: Descriptor };

/** Options of `copy` and `copyGraph`. */
export interface CopyOptions {
  /** Cancels the copy; in-flight transfers stop and the copy rejects with the signal's reason. */
  readonly signal: AbortSignal;
  /**
   * Most transfers in flight at once over the whole copy, referrers included: an exists check,
   * a fetch and push of one node, or one referrers listing each hold one slot. Default
   * DEFAULT_COPY_CONCURRENCY (4); must be an integer of at least 1.
   */
  readonly concurrency?: number;
  /**
   * Also copy the referrers of every manifest in the graph (each platform manifest of an index
   * included), and theirs in turn, up to MAX_REFERRERS_DEPTH levels: `oras cp -r`. Needs a
   * source that lists referrers; ignored otherwise. Default false.
   */
  readonly referrers?: boolean;
  /** Receives progress events, synchronously, as they happen; it must not throw. */
  readonly onProgress?: (event: CopyEvent) => void;
}

/** A counting semaphore bound to one signal: when it aborts, every waiter gives up. */
class Semaphore {
  #available: number;
  readonly #signal: AbortSignal;
  readonly #waiters: Array<{ wake: () => void; fail: (reason: unknown) => void }> = [];

  constructor(size: number, signal: AbortSignal) {
    this.#available = size;
    this.#signal = signal;
    // One listener for all waiters, however many queue up.
    signal.addEventListener('abort', () => {
      for (const waiter of this.#waiters.splice(0)) waiter.fail(signal.reason);
    }, { once: true });
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  async #acquire(): Promise<void> {
    this.#signal.throwIfAborted();
    if (this.#available > 0) {
      this.#available--;
      return;
    }
    await new Promise<void>((wake, fail) => this.#waiters.push({ wake, fail }));
  }

  #release(): void {
    const next = this.#waiters.shift();
    if (next !== undefined) next.wake();
    else this.#available++;
  }
}

/** The root of a `copy`, pushed with its destination reference. */
interface RootReference {
  readonly digest: string;
  readonly reference: string;
}

/**
 * One copy: a walk over the graph from the root, each node copied once (an in-flight map keyed
 * by digest), successors before the manifest that points at them, every transfer holding a slot
 * of one shared semaphore. Referrer walks run as detached tasks after their subject is copied,
 * so a referrer that points back into the graph cannot deadlock the walk.
 */
class GraphCopier {
  readonly #src: ReadOnlyStorage;
  readonly #dst: Storage;
  readonly #callerSignal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #signal: AbortSignal;
  readonly #slots: Semaphore;
  readonly #lister: ReferrerLister | undefined;
  readonly #onProgress: ((event: CopyEvent) => void) | undefined;
  readonly #root: RootReference | undefined;
  readonly #nodes = new Map<string, Promise<void>>();
  readonly #walked = new Set<string>();
  readonly #announced = new Set<string>();
  readonly #tasks = new Set<Promise<void>>();
  #failure: { readonly error: unknown } | undefined;
  #rootTagged = false;

  constructor(src: ReadOnlyStorage, dst: Storage, options: CopyOptions, root?: RootReference) {
    const concurrency = options.concurrency ?? DEFAULT_COPY_CONCURRENCY;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError(`copy concurrency ${concurrency}: must be an integer of at least 1`);
    this.#src = src;
    this.#dst = dst;
    this.#callerSignal = options.signal;
    this.#signal = AbortSignal.any([options.signal, this.#controller.signal]);
    this.#slots = new Semaphore(concurrency, this.#signal);
    this.#lister = options.referrers === true && isReferrerLister(src) ? src : undefined;
    this.#onProgress = options.onProgress;
    this.#root = root;
  }

  /** True when the root was pushed together with its reference (so it needs no separate tag). */
  get rootTagged(): boolean {
    return this.#rootTagged;
  }

  /** Copies the graph under `root` (and referrers when asked); rejects with the first failure, after in-flight work has stopped. */
  async run(root: Descriptor): Promise<void> {
    try {
      await this.#copyNode(root, 0);
      // Referrer walks add tasks as they go; wait until none is left.
      while (this.#tasks.size > 0 && this.#failure === undefined) await Promise.all([...this.#tasks]);
      if (this.#failure !== undefined) throw this.#failure.error;
    } catch (err) {
      this.#fail(err);
      await Promise.allSettled([...this.#nodes.values(), ...this.#tasks]);
      this.#callerSignal.throwIfAborted();
      throw this.#failure?.error ?? err;
    }
  }

  /** Records the first failure and stops every other transfer. */
  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = { error };
    this.#controller.abort();
  }

  #emit(event: CopyEvent): void {
    this.#onProgress?.(event);
  }

  /** Wraps a failure with the side it happened on; an abort (ours or the caller's) passes through. */
  #wrap(side: CopySide, desc: Descriptor, err: unknown): unknown {
    if (err instanceof CopyError || this.#signal.aborted) return err;
    return new CopyError(side, { descriptor: desc }, err);
  }

  async #on<T>(side: CopySide, desc: Descriptor, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (err) {
      throw this.#wrap(side, desc, err);
    }
  }

  #copyNode(desc: Descriptor, depth: number): Promise<void> {
    let copying = this.#nodes.get(desc.digest);
    if (copying === undefined) {
      copying = isManifestMediaType(desc.mediaType) ? this.#copyManifest(desc, depth) : this.#copyBlob(desc);
      this.#nodes.set(desc.digest, copying);
      copying.catch((err: unknown) => this.#fail(err));
    }
    return copying;
  }

  async #copyBlob(desc: Descriptor): Promise<void> {
    await this.#slots.run(async () => {
      if (await this.#on('destination', desc, () => this.#dst.exists(desc, { signal: this.#signal }))) {
        this.#emit({ type: 'skipped', descriptor: desc });
        return;
      }
      this.#emit({ type: 'start', descriptor: desc });
      const dst = this.#dst;
      if (isBlobMounter(dst) && (await this.#on('destination', desc, () => dst.mountFrom(desc, this.#src, { signal: this.#signal })))) {
        this.#emit({ type: 'mounted', descriptor: desc });
        return;
      }
      const source = await this.#on('source', desc, () => this.#src.fetch(desc, { signal: this.#signal }));
      // Blobs stream from source to destination; a failure while reading is the source's.
      let sourceFailure: { readonly error: unknown } | undefined;
      const emit = (bytes: number): void => this.#emit({ type: 'bytes', descriptor: desc, bytes });
      const passing = (async function* (): AsyncGenerator<Uint8Array, void, undefined> {
        try {
          for await (const chunk of source) {
            emit(chunk.byteLength);
            yield chunk;
          }
        } catch (error) {
          sourceFailure = { error };
          throw error;
        }
      })();
      try {
        await this.#dst.push(desc, passing, { signal: this.#signal });
      } catch (err) {
        throw sourceFailure !== undefined ? this.#wrap('source', desc, sourceFailure.error) : this.#wrap('destination', desc, err);
      } finally {
        await passing.return(undefined); // close the source if the destination stopped reading early
      }
      this.#emit({ type: 'copied', descriptor: desc });
    });
  }

  async #copyManifest(desc: Descriptor, depth: number): Promise<void> {
    if (desc.size > MAX_MANIFEST_BYTES) {
      const error = new ContentError('SIZE_EXCEEDS_LIMIT', `${desc.digest}: ${desc.size} bytes exceeds the ${MAX_MANIFEST_BYTES}-byte manifest limit`);
      throw new CopyError('source', { descriptor: desc }, error);
    }
    const present = await this.#slots.run(async () => {
      const exists = await this.#on('destination', desc, () => this.#dst.exists(desc, { signal: this.#signal }));
      return exists ? undefined : await this.#fetchManifest(desc);
    });
    if (present === undefined) {
      this.#emit({ type: 'skipped', descriptor: desc });
      // A present index was copied with its platform manifests, but their referrers may be new.
      if (this.#lister !== undefined && isIndexMediaType(desc.mediaType)) {
        const { manifest } = await this.#slots.run(() => this.#fetchManifest(desc));
        await Promise.all(successorsOf(manifest).map((child) => this.#copyNode(child, depth)));
      }
      this.#walkReferrers(desc, depth);
      return;
    }
    const { bytes, manifest } = present;
    // The subject is not a successor: a referrer may be copied before or without its subject.
    await Promise.all(successorsOf(manifest).map((child) => this.#copyNode(child, depth)));
    await this.#slots.run(async () => {
      this.#emit({ type: 'start', descriptor: desc });
      await this.#on('destination', desc, async () => {
        const root = this.#root;
        if (root !== undefined && root.digest === desc.digest && isReferencePusher(this.#dst)) {
          await this.#dst.pushReference(desc, bytes, root.reference, { signal: this.#signal });
          this.#rootTagged = true;
        } else {
          await this.#dst.push(desc, bytes, { signal: this.#signal });
        }
      });
      this.#emit({ type: 'bytes', descriptor: desc, bytes: bytes.byteLength });
      this.#emit({ type: 'copied', descriptor: desc });
    });
    this.#walkReferrers(desc, depth);
  }

  async #fetchManifest(desc: Descriptor): Promise<{ bytes: Uint8Array; manifest: Manifest }> {
    return this.#on('source', desc, async () => {
      const bytes = await readVerified(await this.#src.fetch(desc, { signal: this.#signal }), desc, desc.digest);
      return { bytes, manifest: decodeManifest(bytes, desc.mediaType, desc.digest) };
    });
  }

  /** Starts copying the referrers of `subject` (once per subject), as a task `run` waits for. */
  #walkReferrers(subject: Descriptor, depth: number): void {
    const lister = this.#lister;
    if (lister === undefined || this.#walked.has(subject.digest) || depth >= MAX_REFERRERS_DEPTH) return;
    this.#walked.add(subject.digest);
    const task = (async () => {
      const found = await this.#slots.run(() =>
        this.#on('source', subject, async () => {
          const out: Descriptor[] = [];
          for await (const referrer of lister.referrers(subject, { signal: this.#signal })) out.push(referrer);
          return out;
        }),
      );
      await Promise.all(
        found.map(async (referrer) => {
          if (!this.#announced.has(referrer.digest)) {
            this.#announced.add(referrer.digest);
            this.#emit({ type: 'referrer', descriptor: referrer, subject });
          }
          await this.#copyNode(referrer, depth + 1);
        }),
      );
    })();
    this.#tasks.add(task);
    task.then(
      () => this.#tasks.delete(task),
      (err: unknown) => {
        this.#tasks.delete(task);
        this.#fail(err);
      },
    );
  }
}

/**
 * Copies the graph under `root` from `src` to `dst`: config and layers or index entries first,
 * then the manifest, skipping what `dst` already has; with `referrers`, every manifest's
 * referrers follow. Failures reject with CopyError naming the side and the descriptor.
 */
export async function copyGraph(src: ReadOnlyStorage, dst: Storage, root: Descriptor, options: CopyOptions): Promise<void> {
  options.signal.throwIfAborted();
  await new GraphCopier(src, dst, options).run(root);
}

/**
 * Resolves `srcReference` at `src`, copies its graph to `dst` (see copyGraph) and tags the root
 * there as `dstReference` (pushed with it in one step when `dst` is a ReferencePusher); an
 * undefined `dstReference`, or the root's own digest, leaves it untagged. Returns the root descriptor.
 */
export async function copy(
  src: ReadOnlyTarget,
  srcReference: string,
  dst: Target,
  dstReference: string | undefined,
  options: CopyOptions,
): Promise<Descriptor> {
  const { signal } = options;
  signal.throwIfAborted();
  let root: Descriptor;
  try {
    root = await src.resolve(srcReference, { signal });
  } catch (err) {
    signal.throwIfAborted();
    throw new CopyError('source', { reference: srcReference }, err);
  }
  let reference = dstReference;
  if (reference !== undefined && isDigest(reference)) {
    if (reference !== root.digest) {
      const error = new ReferenceSyntaxError('REFERENCE_INVALID', `destination digest ${reference} does not match the source's ${root.digest}`);
      throw new CopyError('destination', { descriptor: root }, error);
    }
    reference = undefined;
  }
  const copier = new GraphCopier(src, dst, options, reference === undefined ? undefined : { digest: root.digest, reference });
  await copier.run(root);
  if (reference !== undefined && !copier.rootTagged) {
    try {
      await dst.tag(root, reference, { signal });
    } catch (err) {
      signal.throwIfAborted();
      throw new CopyError('destination', { descriptor: root }, err);
    }
  }
  return root;
}
