// What admission verification reports as it works, for metrics: cache lookups, registry calls and
// verifications. The admission server's Prometheus registry implements it; tests count with it.

/** How a verification-cache lookup ended: a stored verdict, a verification already in flight joined, or a new one started. */
export type CacheLookup = 'hit' | 'shared' | 'miss';

/** Receives what the admission verifier does. Every method must be cheap and must not throw. */
export interface AdmissionObserver {
  /** One lookup in the digest-keyed verification cache. */
  cacheLookup(result: CacheLookup): void;
  /** One call to a registry (`operation`: resolve, referrers, fetch, …), how long it took and whether it failed. */
  registryCall(registry: string, operation: string, seconds: number, outcome: 'ok' | 'error'): void;
  /** One verification that really ran (shared and cached answers are not counted), with its verdict. */
  verification(registry: string, seconds: number, status: 'pass' | 'fail' | 'error'): void;
}

/** An observer that records nothing. */
export const NOOP_OBSERVER: AdmissionObserver = Object.freeze({
  cacheLookup(): void {},
  registryCall(): void {},
  verification(): void {},
});
