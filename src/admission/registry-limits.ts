// Per-registry limits on admission's registry calls (reference §5b, §9 item 4): at most N operations
// in flight per registry host, the rest queued in arrival order, and a backoff window after a
// registry fails the way an unhealthy one does (unreachable, timing out, 429, 5xx) during which
// calls fail fast instead of piling onto it. Kyverno has neither: a burst of admissions against a
// slow registry holds one call per image until every webhook deadline passes.

import { isRegistryError } from '../registry/index.js';
import { RegistryBackoffError } from './errors.js';

/** Registry operations in flight per registry host: enough for a burst of distinct images, few enough not to look like an attack. */
export const DEFAULT_REGISTRY_CONCURRENCY = 16;
/** The first backoff window after an unhealthy failure; each further failure in a row doubles it. */
export const DEFAULT_INITIAL_BACKOFF_MS = 250;
/** The longest window doubling reaches: short next to Kyverno's 10 s default webhook timeout, so a recovered registry is tried again within a request or two. */
export const DEFAULT_MAX_BACKOFF_MS = 5000;
/** The longest Retry-After honoured (RFC 9110 §10.2.3): a registry asking for more is tried again after this anyway. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 30_000;

/** Options of a RegistryLimiter. */
export interface RegistryLimitsOptions {
  /** Operations in flight per registry host; default DEFAULT_REGISTRY_CONCURRENCY (16); an integer of at least 1. */
  readonly concurrency?: number;
  /** Default DEFAULT_INITIAL_BACKOFF_MS (250 ms). */
  readonly initialBackoffMs?: number;
  /** Default DEFAULT_MAX_BACKOFF_MS (5 s). */
  readonly maxBackoffMs?: number;
  /** Default DEFAULT_MAX_RETRY_AFTER_MS (30 s). */
  readonly maxRetryAfterMs?: number;
  /** The clock backoff windows are measured on, in epoch milliseconds; defaults to Date.now. */
  readonly now?: () => number;
}

/** One slot for one registry operation; settle it exactly once (later calls are ignored). */
export interface RegistryPermit {
  /** The registry answered. */
  succeeded(): void;
  /** The operation failed with `error`; whether that says the registry is unhealthy is decided here. */
  failed(error: unknown): void;
}

/** What the limiter knows about one registry host. */
export interface RegistryStatus {
  readonly inFlight: number;
  readonly queued: number;
  /** Unhealthy failures in a row. */
  readonly failures: number;
  /** When calls resume; undefined when they are not held back. */
  readonly retryAt: Date | undefined;
  readonly lastFailure: string | undefined;
}

interface Waiter {
  readonly grant: () => void;
}

interface HostState {
  active: number;
  readonly queue: Waiter[];
  /** Bumped by each failure that escalates the backoff; a permit remembers the value it started under. */
  generation: number;
  failures: number;
  /** Epoch ms before which calls fail fast; 0 when there is no window. */
  retryAt: number;
  lastFailure: string | undefined;
  lastError: unknown;
}

/** The registry failed as an unhealthy registry does: it could not be reached, timed out, rate-limited (429) or answered 5xx. */
export function isUnhealthyRegistryFailure(error: unknown): boolean {
  if (!isRegistryError(error)) return false;
  if (error.code === 'UNREACHABLE' || error.code === 'TIMEOUT' || error.code === 'TOOMANYREQUESTS' || error.code === 'SERVER_ERROR') return true;
  return error.status !== undefined && (error.status === 429 || error.status >= 500);
}

/**
 * Retry-After in milliseconds when the error carries it (RegistryError.retryAfterMs, from a 429 or
 * 503 the transport did not wait out itself); anything else falls back to exponential backoff.
 */
function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('the operation was aborted', 'AbortError');
}

function formatDuration(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))}s` : `${Math.max(0, Math.round(ms))}ms`;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`registry limits: ${name} must be an integer of at least 1, got ${value}`);
  return value;
}

/**
 * Bounds concurrent registry operations per registry host and holds calls back from a registry
 * that just failed as an unhealthy one does. A caller's own abort (its deadline) is never counted
 * against the registry. One instance serves every admission request of a process.
 */
export class RegistryLimiter {
  readonly #concurrency: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #now: () => number;
  readonly #hosts = new Map<string, HostState>();

  constructor(options: RegistryLimitsOptions = {}) {
    this.#concurrency = positiveInteger(options.concurrency ?? DEFAULT_REGISTRY_CONCURRENCY, 'concurrency');
    this.#initialBackoffMs = positiveInteger(options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS, 'initialBackoffMs');
    this.#maxBackoffMs = positiveInteger(options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS, 'maxBackoffMs');
    this.#maxRetryAfterMs = positiveInteger(options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS, 'maxRetryAfterMs');
    this.#now = options.now ?? Date.now;
  }

  /**
   * Waits for a slot on `registry` (in arrival order; rejects with the signal's reason when it
   * aborts first). Throws RegistryBackoffError (REGISTRY_BACKING_OFF) at once, or when the slot
   * comes, while the registry is in its backoff window.
   */
  async acquire(registry: string, { signal }: { signal: AbortSignal }): Promise<RegistryPermit> {
    if (signal.aborted) throw abortReason(signal);
    const state = this.#state(registry);
    this.#failFast(registry, state);
    if (state.active < this.#concurrency && state.queue.length === 0) {
      state.active++;
    } else {
      try {
        await this.#wait(state, signal);
      } finally {
        this.#forget(registry, state);
      }
      try {
        // The window may have opened while this caller queued.
        this.#failFast(registry, state);
      } catch (error) {
        this.#release(registry, state);
        throw error;
      }
    }
    const generation = state.generation;
    let settled = false;
    return {
      succeeded: () => {
        if (settled) return;
        settled = true;
        this.#succeeded(state, generation);
        this.#release(registry, state);
      },
      failed: (error: unknown) => {
        if (settled) return;
        settled = true;
        if (signal.aborted) {
          // the caller gave up (its deadline): says nothing about the registry
        } else if (isUnhealthyRegistryFailure(error)) {
          this.#failed(state, generation, error);
        } else if (isRegistryError(error) && error.status !== undefined) {
          // a definite answer (404, 401, …) proves the registry is up
          this.#succeeded(state, generation);
        }
        this.#release(registry, state);
      },
    };
  }

  /** Runs `operation` under a permit for `registry` (see acquire), settling the permit by its outcome. */
  async run<T>(registry: string, operation: () => Promise<T>, options: { signal: AbortSignal }): Promise<T> {
    const permit = await this.acquire(registry, options);
    try {
      const value = await operation();
      permit.succeeded();
      return value;
    } catch (error) {
      permit.failed(error);
      throw error;
    }
  }

  /** What the limiter currently holds for `registry`. */
  status(registry: string): RegistryStatus {
    const state = this.#hosts.get(registry);
    if (state === undefined) return Object.freeze({ inFlight: 0, queued: 0, failures: 0, retryAt: undefined, lastFailure: undefined });
    return Object.freeze({
      inFlight: state.active,
      queued: state.queue.length,
      failures: state.failures,
      retryAt: state.retryAt > this.#now() ? new Date(state.retryAt) : undefined,
      lastFailure: state.lastFailure,
    });
  }

  #state(registry: string): HostState {
    let state = this.#hosts.get(registry);
    if (state === undefined) {
      state = { active: 0, queue: [], generation: 0, failures: 0, retryAt: 0, lastFailure: undefined, lastError: undefined };
      this.#hosts.set(registry, state);
    }
    return state;
  }

  #failFast(registry: string, state: HostState): void {
    const now = this.#now();
    if (state.retryAt <= now) return;
    const lastFailure = state.lastFailure ?? 'unknown failure';
    const retryAt = new Date(state.retryAt);
    throw new RegistryBackoffError({
      registry,
      retryAt,
      failures: state.failures,
      lastFailure,
      message: `${registry}: not contacted until ${retryAt.toISOString()} (in ${formatDuration(state.retryAt - now)}) after ${state.failures} failure${state.failures === 1 ? '' : 's'} in a row; last failure: ${lastFailure}`,
      cause: state.lastError,
    });
  }

  #wait(state: HostState, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = state.queue.indexOf(waiter);
        if (at >= 0) state.queue.splice(at, 1);
        reject(abortReason(signal));
      };
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      state.queue.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Hands the slot to the next waiter, or frees it. */
  #release(registry: string, state: HostState): void {
    const next = state.queue.shift();
    if (next !== undefined) {
      next.grant();
      return;
    }
    state.active--;
    this.#forget(registry, state);
  }

  /** Drops an idle, healthy host's state, so the map does not grow with every registry ever named. */
  #forget(registry: string, state: HostState): void {
    if (state.active === 0 && state.queue.length === 0 && state.failures === 0 && this.#hosts.get(registry) === state) this.#hosts.delete(registry);
  }

  #succeeded(state: HostState, generation: number): void {
    // A call that started before the latest failure proves nothing about the registry since then.
    if (generation !== state.generation) return;
    state.failures = 0;
    state.retryAt = 0;
    state.lastFailure = undefined;
    state.lastError = undefined;
  }

  #failed(state: HostState, generation: number, error: unknown): void {
    // Calls in flight together fail together in one outage: only the first of them (the one that
    // started under the current generation) escalates the backoff; the rest only refresh it.
    if (generation === state.generation) {
      state.generation++;
      state.failures++;
    }
    const retryAfter = retryAfterOf(error);
    const window = retryAfter !== undefined ? Math.min(retryAfter, this.#maxRetryAfterMs) : Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** Math.max(0, state.failures - 1));
    state.retryAt = Math.max(state.retryAt, this.#now() + window);
    state.lastFailure = error instanceof Error ? error.message : String(error);
    state.lastError = error;
  }
}
