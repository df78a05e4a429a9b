// The admission verification cache (reference §5a, §9 item 4). Verdicts are keyed by the resolved
// manifest digest, the repository (signatures are per repository) and a fingerprint of the trust
// material, never by tag, so a moved tag cannot inherit a verdict (Kyverno keys by the image string,
// which may be a tag: GHSA-2r43-6962-xcw5). Only passes are stored, each until the earliest of the
// TTL and what the pass relied on; identical verifications in flight together share one run.

import { isDigest } from '../oci/index.js';
import type { ImageCheck } from './engine.js';
import type { CacheLookup } from './observer.js';

/** How long a pass is reused: Kyverno's --imageVerifyCacheTTLDuration default of 60 minutes. */
export const DEFAULT_CACHE_TTL_MS = 60 * 60 * 1000;
/** Passes kept at most, the least recently used evicted first: Kyverno's --imageVerifyCacheMaxSize default. */
export const DEFAULT_CACHE_MAX_ENTRIES = 1000;

/** What a verdict depends on; never a tag. */
export interface VerificationKey {
  /** `registry/repository` the signatures were listed in. */
  readonly scope: string;
  /** The manifest digest the tag resolved to (or the reference named). */
  readonly digest: string;
  /** A fingerprint of the trust material: trust policy statement, trust store certificates, TSA roots. */
  readonly trust: string;
}

/** What one verification produced: the check, and the last instant a pass may be reused. */
export interface VerificationResult {
  readonly check: ImageCheck;
  /** The earliest expiry among what the pass relied on (signature expiry, certificate notAfter); undefined: only the TTL bounds it. */
  readonly validUntil?: Date | undefined;
}

/** Options of a VerificationCache. */
export interface VerificationCacheOptions {
  /** Default DEFAULT_CACHE_TTL_MS (1 hour); a positive number of milliseconds. */
  readonly ttlMs?: number;
  /** Default DEFAULT_CACHE_MAX_ENTRIES (1000); an integer of at least 1. */
  readonly maxEntries?: number;
  /** The clock entries expire on, in epoch milliseconds; defaults to Date.now. */
  readonly now?: () => number;
}

/** A lookup's answer: how it was served, and the check (rejecting only if the caller's signal aborts first). */
export interface CacheAnswer {
  readonly lookup: CacheLookup;
  readonly result: Promise<ImageCheck>;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('the operation was aborted', 'AbortError');
}

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

interface Flight<T> {
  readonly promise: Promise<T>;
  readonly controller: AbortController;
  waiters: number;
  settled: boolean;
}

/**
 * Identical work in flight together runs once: callers with the same key while it runs share its
 * promise, and nothing is kept once it settles. The work runs under its own signal, aborted only
 * when every caller waiting for it has gone; each caller races its own signal.
 */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Flight<T>>();

  /** Keys with work in flight. */
  get size(): number {
    return this.#flights.size;
  }

  /** Joins the work in flight for `key`, or starts `work`; `joined` says which. */
  run(key: string, work: (signal: AbortSignal) => Promise<T>, { signal }: { signal: AbortSignal }): { joined: boolean; result: Promise<T> } {
    if (signal.aborted) return { joined: false, result: Promise.reject(abortReason(signal)) };
    let flight = this.#flights.get(key);
    const joined = flight !== undefined;
    if (flight === undefined) {
      const controller = new AbortController();
      const started: Flight<T> = { promise: new Promise<T>((resolve) => resolve(work(controller.signal))), controller, waiters: 0, settled: false };
      const done = (): void => {
        started.settled = true;
        if (this.#flights.get(key) === started) this.#flights.delete(key);
      };
      started.promise.then(done, done);
      this.#flights.set(key, started);
      flight = started;
    }
    flight.waiters++;
    return { joined, result: this.#wait(key, flight, signal) };
  }

  async #wait(key: string, flight: Flight<T>, signal: AbortSignal): Promise<T> {
    try {
      return await raceAbort(flight.promise, signal);
    } finally {
      flight.waiters--;
      if (flight.waiters === 0 && !flight.settled) {
        // Nobody wants the answer any more: stop the work, and let the next caller start afresh.
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
        flight.controller.abort(abortReason(signal));
      }
    }
  }
}

interface Entry {
  readonly check: ImageCheck;
  readonly expiresAt: number;
}

function keyString(key: VerificationKey): string {
  // A tag here would let a moved tag inherit the verdict of the digest it used to name.
  if (!isDigest(key.digest)) throw new RangeError(`verification cache key ${JSON.stringify(key.digest)} is not a digest; verdicts are keyed by digest, never by tag`);
  return JSON.stringify([key.scope, key.digest, key.trust]);
}

/**
 * Passing verdicts by digest, repository and trust material, bounded by a TTL and an LRU entry
 * limit, with single-flight verification. Fails and errors are never stored: a signature pushed
 * after a denial counts on the next try, and a registry outage does not outlive itself. One
 * instance serves every admission request of a process.
 */
export class VerificationCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  // A Map iterates in insertion order; a hit re-inserts, so the first key is the least recently used.
  readonly #entries = new Map<string, Entry>();
  readonly #flights = new SingleFlight<ImageCheck>();

  constructor(options: VerificationCacheOptions = {}) {
    const ttlMs = options.ttlMs ?? DEFAULT_CACHE_TTL_MS;
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new RangeError(`verification cache: ttlMs must be a positive number, got ${ttlMs}`);
    const maxEntries = options.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`verification cache: maxEntries must be an integer of at least 1, got ${maxEntries}`);
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#now = options.now ?? Date.now;
  }

  /** Stored passes, expired ones not yet noticed included. */
  get size(): number {
    return this.#entries.size;
  }

  /** Verifications in flight. */
  get inFlight(): number {
    return this.#flights.size;
  }

  /** The stored pass for `key`, if it has not expired; marks it recently used. */
  get(key: VerificationKey): ImageCheck | undefined {
    return this.#get(keyString(key));
  }

  /**
   * Answers from a stored pass (`hit`), joins the identical verification in flight (`shared`), or
   * starts `verify` (`miss`) under a signal of its own that aborts only when every caller waiting
   * for it has gone. A pass it produces is stored until the TTL or its `validUntil`, whichever
   * comes first. `result` rejects only when the caller's `signal` aborts first or `verify` throws.
   */
  lookup(key: VerificationKey, verify: (signal: AbortSignal) => Promise<VerificationResult>, options: { signal: AbortSignal }): CacheAnswer {
    const k = keyString(key);
    const stored = this.#get(k);
    if (stored !== undefined) return { lookup: 'hit', result: Promise.resolve(stored) };
    const { joined, result } = this.#flights.run(
      k,
      async (signal) => {
        const outcome = await verify(signal);
        // Stored before the flight settles, so no caller in between finds neither.
        this.#store(k, outcome);
        return outcome.check;
      },
      options,
    );
    return { lookup: joined ? 'shared' : 'miss', result };
  }

  /** Forgets the stored pass for `key`. */
  delete(key: VerificationKey): boolean {
    return this.#entries.delete(keyString(key));
  }

  /** Forgets every stored pass (a trust material rotation, say); verifications in flight go on. */
  clear(): void {
    this.#entries.clear();
  }

  #get(k: string): ImageCheck | undefined {
    const entry = this.#entries.get(k);
    if (entry === undefined) return undefined;
    this.#entries.delete(k);
    if (entry.expiresAt <= this.#now()) return undefined;
    this.#entries.set(k, entry);
    return entry.check;
  }

  #store(k: string, outcome: VerificationResult): void {
    if (outcome.check.status !== 'pass') return;
    const now = this.#now();
    const expiresAt = Math.min(now + this.#ttlMs, outcome.validUntil?.getTime() ?? Number.POSITIVE_INFINITY);
    if (!(expiresAt > now)) return;
    this.#entries.delete(k);
    this.#entries.set(k, Object.freeze({ check: outcome.check, expiresAt }));
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }
}
