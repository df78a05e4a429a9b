// An informer-like ListWatch: list a collection, watch from the list's resourceVersion, keep the
// objects in memory by namespace/name. Kubernetes API concepts, "Efficient detection of changes" (410 Gone means: relist).

import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeList, KubeObject, ListOptions, WatchEvent, WatchOptions } from './client.js';
import { LIST_PAGE_SIZE, WATCH_BACKOFF_INITIAL_MS, WATCH_BACKOFF_MAX_MS } from './defaults.js';
import { KubeError } from './errors.js';

/** What a ListWatch needs of a client: list and watch (KubeClient has both). */
export interface ListWatchSource {
  list(path: string, options: ListOptions): Promise<KubeList>;
  watch(path: string, options: WatchOptions): AsyncIterable<WatchEvent>;
}

/** One change to the store. A relist reports the difference to what was held before. */
export interface ListWatchChange {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** `namespace/name`, or `name` for a cluster-scoped object. */
  readonly key: string;
  /** The object as it is now; for DELETED, its last state. */
  readonly object: KubeObject;
}

/** Options of ListWatch. */
export interface ListWatchOptions {
  readonly client: ListWatchSource;
  /** The collection path (`resourcePath(type)` for all namespaces, or with `{ namespace }`). */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Objects per list page (default LIST_PAGE_SIZE). */
  readonly pageSize?: number;
  /** Watch `timeoutSeconds` (default the client's). */
  readonly watchTimeoutSeconds?: number;
  /**
   * Called after every relist (with the difference, possibly empty, so the first call marks the
   * initial sync) and after every ADDED, MODIFIED or DELETED event. It must not block; a throw is
   * reported through onError as CALLBACK_FAILED and the watch goes on.
   */
  readonly onChange?: (changes: readonly ListWatchChange[], objects: ReadonlyMap<string, KubeObject>) => void;
  /** Failures the ListWatch recovers from by retrying (default: ignored). */
  readonly onError?: (error: KubeError) => void;
  /** First reconnect delay (default WATCH_BACKOFF_INITIAL_MS); doubles per consecutive failure. */
  readonly backoffInitialMs?: number;
  /** Ceiling of the reconnect delay (default WATCH_BACKOFF_MAX_MS). */
  readonly backoffMaxMs?: number;
}

/** The store key of an object: `namespace/name`, or `name` when it has no namespace. */
export function objectKey(object: KubeObject): string {
  const { name = '', namespace } = object.metadata;
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

/** A watch that ended normally this long after it began is resumed at once; a shorter empty one backs off. */
const HEALTHY_WATCH_MS = 1000;

function asKubeError(error: unknown, path: string): KubeError {
  return error instanceof KubeError ? error : new KubeError('RESPONSE_INVALID', `watch ${path}: ${error instanceof Error ? error.message : String(error)}`, { path, cause: error });
}

/**
 * Lists, then watches from the list's resourceVersion, applying ADDED, MODIFIED, DELETED and
 * BOOKMARK events in order. A 410 (an HTTP status or an ERROR event with code 410) relists;
 * a watch the server ends is resumed from the last resourceVersion; failures reconnect with
 * exponential backoff. `synced` resolves after the first successful list.
 */
export class ListWatch {
  /** The collection being watched. */
  readonly path: string;
  /** Resolves once the first list has been applied; rejects with ABORTED if stopped before that. */
  readonly synced: Promise<void>;
  readonly #options: ListWatchOptions;
  readonly #store = new Map<string, KubeObject>();
  readonly #controller = new AbortController();
  #resourceVersion = '';
  #isSynced = false;
  #resolveSynced!: () => void;
  #rejectSynced!: (error: KubeError) => void;
  #running: Promise<void> | undefined;

  constructor(options: ListWatchOptions) {
    this.#options = options;
    this.path = options.path;
    this.synced = new Promise<void>((resolve, reject) => {
      this.#resolveSynced = resolve;
      this.#rejectSynced = reject;
    });
    // A caller that never awaits synced must not see an unhandled rejection when it stops early.
    this.synced.catch(() => undefined);
  }

  /** Starts listing and watching; calling it again does nothing. */
  start(): this {
    this.#running ??= this.#run(this.#controller.signal);
    return this;
  }

  /** Stops the watch and waits for it to wind down. The store keeps its last state. */
  async stop(): Promise<void> {
    this.#controller.abort();
    if (!this.#isSynced) this.#rejectSynced(new KubeError('ABORTED', `watch ${this.path}: stopped before the first list`, { path: this.path }));
    await this.#running;
  }

  /** True once the first list has been applied. */
  get isSynced(): boolean {
    return this.#isSynced;
  }

  /** The last resourceVersion seen (list, event or bookmark). */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** The objects held, by objectKey. */
  get objects(): ReadonlyMap<string, KubeObject> {
    return this.#store;
  }

  /** One object by key (`namespace/name` or `name`). */
  get(key: string): KubeObject | undefined {
    return this.#store.get(key);
  }

  async #run(signal: AbortSignal): Promise<void> {
    let relist = true;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (relist) {
          await this.#relist(signal);
          relist = false;
          failures = 0;
        }
        const started = Date.now();
        const outcome = await this.#watch(signal);
        if (outcome.gone) {
          // The resourceVersion is too old for the watch cache: start over from a fresh list.
          relist = true;
          continue;
        }
        if (outcome.events > 0 || Date.now() - started >= HEALTHY_WATCH_MS) {
          failures = 0;
          continue;
        }
      } catch (error) {
        if (signal.aborted) break;
        const failure = asKubeError(error, this.path);
        if (failure.code === 'GONE' && !relist) {
          relist = true;
          continue;
        }
        this.#report(failure);
      }
      failures++;
      try {
        await sleep(this.#delay(failures), undefined, { signal });
      } catch {
        // aborted while waiting: stop() was called
        break;
      }
    }
  }

  #delay(failures: number): number {
    const initial = this.#options.backoffInitialMs ?? WATCH_BACKOFF_INITIAL_MS;
    const max = this.#options.backoffMaxMs ?? WATCH_BACKOFF_MAX_MS;
    const base = Math.min(max, initial * 2 ** Math.min(failures - 1, 30));
    // Half fixed, half jitter, so replicas that lost the API server together do not return together.
    return base / 2 + Math.random() * (base / 2);
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const list = await this.#options.client.list(this.path, {
      signal,
      limit: this.#options.pageSize ?? LIST_PAGE_SIZE,
      ...(this.#options.labelSelector === undefined ? {} : { labelSelector: this.#options.labelSelector }),
      ...(this.#options.fieldSelector === undefined ? {} : { fieldSelector: this.#options.fieldSelector }),
    });
    if (signal.aborted) return;
    const fresh = new Map<string, KubeObject>();
    for (const item of list.items) fresh.set(objectKey(item), item);
    const changes: ListWatchChange[] = [];
    for (const [key, object] of fresh) {
      const before = this.#store.get(key);
      if (before === undefined) changes.push({ type: 'ADDED', key, object });
      else if (before.metadata.resourceVersion !== object.metadata.resourceVersion) changes.push({ type: 'MODIFIED', key, object });
    }
    for (const [key, object] of this.#store) if (!fresh.has(key)) changes.push({ type: 'DELETED', key, object });
    this.#store.clear();
    for (const [key, object] of fresh) this.#store.set(key, object);
    this.#resourceVersion = list.resourceVersion;
    if (!this.#isSynced) {
      this.#isSynced = true;
      this.#resolveSynced();
    }
    this.#emit(changes);
  }

  async #watch(signal: AbortSignal): Promise<{ gone: boolean; events: number }> {
    let events = 0;
    const stream = this.#options.client.watch(this.path, {
      signal,
      allowWatchBookmarks: true,
      ...(this.#resourceVersion === '' ? {} : { resourceVersion: this.#resourceVersion }),
      ...(this.#options.labelSelector === undefined ? {} : { labelSelector: this.#options.labelSelector }),
      ...(this.#options.fieldSelector === undefined ? {} : { fieldSelector: this.#options.fieldSelector }),
      ...(this.#options.watchTimeoutSeconds === undefined ? {} : { timeoutSeconds: this.#options.watchTimeoutSeconds }),
    });
    for await (const event of stream) {
      if (signal.aborted) break;
      events++;
      switch (event.type) {
        case 'ERROR':
          if (event.error.code === 'GONE') return { gone: true, events };
          throw event.error;
        case 'BOOKMARK':
          // A bookmark carries only a resourceVersion: progress to resume from, no change.
          this.#resourceVersion = event.object.metadata.resourceVersion ?? this.#resourceVersion;
          break;
        case 'ADDED':
        case 'MODIFIED':
        case 'DELETED': {
          const key = objectKey(event.object);
          if (event.type === 'DELETED') this.#store.delete(key);
          else this.#store.set(key, event.object);
          this.#resourceVersion = event.object.metadata.resourceVersion ?? this.#resourceVersion;
          this.#emit([{ type: event.type, key, object: event.object }]);
          break;
        }
      }
    }
    return { gone: false, events };
  }

  #emit(changes: readonly ListWatchChange[]): void {
    try {
      this.#options.onChange?.(changes, this.#store);
    } catch (error) {
      this.#report(new KubeError('CALLBACK_FAILED', `watch ${this.path}: onChange threw: ${error instanceof Error ? error.message : String(error)}`, { path: this.path, cause: error }));
    }
  }

  #report(error: KubeError): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // an error reporter that fails has nowhere left to report to; the watch must go on
    }
  }
}
