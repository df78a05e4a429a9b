import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryError } from '../registry/index.js';
import { RegistryBackoffError } from './errors.js';
import { isUnhealthyRegistryFailure, RegistryLimiter } from './registry-limits.js';

const REG = '127.0.0.1:5000';
const OTHER = '127.0.0.1:6000';
const never = new AbortController().signal;

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const unavailable = (): RegistryError => new RegistryError('SERVER_ERROR', `${REG}/app: 503 server error`, { registry: REG, repository: 'app', status: 503 });
const refused = (): RegistryError => new RegistryError('UNREACHABLE', `${REG}: cannot connect (ECONNREFUSED); nothing listens there, check the host and port`, { registry: REG });
const tooMany = (retryAfterMs?: number): RegistryError =>
  Object.assign(new RegistryError('TOOMANYREQUESTS', `${REG}/app: 429 toomanyrequests; try again later`, { registry: REG, repository: 'app', status: 429 }), retryAfterMs === undefined ? {} : { retryAfterMs });
const notFound = (): RegistryError => new RegistryError('MANIFEST_UNKNOWN', `${REG}/app: 404 manifest unknown: v9`, { registry: REG, repository: 'app', status: 404 });

async function fails(limiter: RegistryLimiter, error: Error, registry = REG): Promise<void> {
  await assert.rejects(
    limiter.run(registry, () => Promise.reject(error), { signal: never }),
    (e) => e === error,
  );
}

async function backsOff(limiter: RegistryLimiter, registry = REG): Promise<RegistryBackoffError> {
  let caught: unknown;
  let ran = false;
  try {
    await limiter.run(registry, async () => void (ran = true), { signal: never });
  } catch (error) {
    caught = error;
  }
  assert.equal(ran, false, 'the operation must not reach a registry in its backoff window');
  assert.ok(caught instanceof RegistryBackoffError, `expected RegistryBackoffError, got ${String(caught)}`);
  assert.equal(caught.code, 'REGISTRY_BACKING_OFF');
  return caught;
}

describe('RegistryLimiter: concurrency', () => {
  it('never has more than N operations in flight per registry; others queue, other registries are unaffected', async () => {
    const limiter = new RegistryLimiter({ concurrency: 3 });
    let inFlight = 0;
    let max = 0;
    const releases: Array<() => void> = [];
    const op = () =>
      new Promise<void>((resolve) => {
        inFlight++;
        max = Math.max(max, inFlight);
        releases.push(() => {
          inFlight--;
          resolve();
        });
      });
    const calls = Array.from({ length: 10 }, () => limiter.run(REG, op, { signal: never }));
    await new Promise((r) => setImmediate(r));
    assert.equal(inFlight, 3);
    assert.deepEqual({ ...limiter.status(REG), retryAt: undefined }, { inFlight: 3, queued: 7, failures: 0, retryAt: undefined, lastFailure: undefined });
    // Another registry has its own slots.
    let otherRan = false;
    await limiter.run(OTHER, async () => void (otherRan = true), { signal: never });
    assert.equal(otherRan, true);
    while (releases.length > 0) {
      releases.shift()?.();
      await new Promise((r) => setImmediate(r));
      assert.ok(inFlight <= 3);
    }
    await Promise.all(calls);
    assert.equal(max, 3);
    assert.equal(limiter.status(REG).inFlight, 0);
  });

  it('defaults to 16 per registry', async () => {
    const limiter = new RegistryLimiter();
    let inFlight = 0;
    let max = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const calls = Array.from({ length: 40 }, () =>
      limiter.run(
        REG,
        async () => {
          inFlight++;
          max = Math.max(max, inFlight);
          await gate;
          inFlight--;
        },
        { signal: new AbortController().signal },
      ),
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(inFlight, 16);
    open();
    await Promise.all(calls);
    assert.equal(max, 16);
  });

  it('lets a queued caller whose signal aborts leave the queue without taking a slot', async () => {
    const limiter = new RegistryLimiter({ concurrency: 1 });
    let release!: () => void;
    const holder = limiter.run(REG, () => new Promise<void>((r) => (release = r)), { signal: never });
    const controller = new AbortController();
    let ran = false;
    const queued = limiter.run(REG, async () => void (ran = true), { signal: controller.signal });
    await new Promise((r) => setImmediate(r));
    assert.equal(limiter.status(REG).queued, 1);
    controller.abort(new Error('caller deadline'));
    await assert.rejects(queued, /caller deadline/);
    assert.equal(limiter.status(REG).queued, 0);
    release();
    await holder;
    assert.equal(ran, false);
    assert.equal(limiter.status(REG).inFlight, 0);
  });
});

describe('RegistryLimiter: backoff', () => {
  it('fails fast after a 503, naming the registry, the last failure and when it is retried; recovers after the window', async () => {
    const c = clock();
    const limiter = new RegistryLimiter({ now: c.now });
    await fails(limiter, unavailable());
    const error = await backsOff(limiter);
    assert.equal(error.registry, REG);
    assert.equal(error.failures, 1);
    assert.equal(error.retryAt.getTime(), c.now() + 250);
    assert.match(error.message, /^127\.0\.0\.1:5000: not contacted until \S+Z \(in 250ms\) after 1 failure in a row; last failure: 127\.0\.0\.1:5000\/app: 503 server error$/);
    assert.ok(error.message.includes(error.retryAt.toISOString()));
    assert.equal(limiter.status(OTHER).retryAt, undefined, 'other registries are not held back');
    c.advance(250);
    assert.equal(await limiter.run(REG, async () => 'ok', { signal: never }), 'ok');
    assert.deepEqual(limiter.status(REG), { inFlight: 0, queued: 0, failures: 0, retryAt: undefined, lastFailure: undefined });
  });

  it('doubles the window from 250 ms for each failure in a row, up to 5 s, and resets on the first success', async () => {
    const c = clock();
    const limiter = new RegistryLimiter({ now: c.now });
    const windows: number[] = [];
    for (let i = 0; i < 7; i++) {
      await fails(limiter, refused());
      const retryAt = limiter.status(REG).retryAt;
      assert.ok(retryAt !== undefined);
      windows.push(retryAt.getTime() - c.now());
      c.advance(retryAt.getTime() - c.now());
    }
    assert.deepEqual(windows, [250, 500, 1000, 2000, 4000, 5000, 5000]);
    await limiter.run(REG, async () => undefined, { signal: never });
    await fails(limiter, refused());
    assert.equal((limiter.status(REG).retryAt?.getTime() ?? 0) - c.now(), 250);
  });

  it('backs off after 429 and after a connection refused, and counts a definite answer (404) as the registry being up', async () => {
    const c = clock();
    const limiter = new RegistryLimiter({ now: c.now });
    await fails(limiter, tooMany());
    await backsOff(limiter);
    c.advance(250);
    await fails(limiter, notFound());
    assert.equal(limiter.status(REG).failures, 0);
    await fails(limiter, refused());
    assert.match((await backsOff(limiter)).message, /last failure: 127\.0\.0\.1:5000: cannot connect \(ECONNREFUSED\)/);
  });

  it('honours Retry-After when the error carries it, capped at 30 s', async () => {
    const c = clock();
    const limiter = new RegistryLimiter({ now: c.now });
    await fails(limiter, tooMany(3000));
    assert.equal((await backsOff(limiter)).retryAt.getTime(), c.now() + 3000);
    c.advance(2999);
    await backsOff(limiter);
    c.advance(1);
    await limiter.run(REG, async () => undefined, { signal: never });
    await fails(limiter, tooMany(120_000));
    assert.equal((await backsOff(limiter)).retryAt.getTime(), c.now() + 30_000);
  });

  it('does not count the caller aborting (its deadline) against the registry', async () => {
    const limiter = new RegistryLimiter();
    const controller = new AbortController();
    const call = limiter.run(
      REG,
      () =>
        new Promise<void>((_, reject) => {
          const aborted = () => reject(new RegistryError('ABORTED', `${REG}/app: aborted`, { registry: REG }));
          if (controller.signal.aborted) aborted();
          else controller.signal.addEventListener('abort', aborted);
        }),
      { signal: controller.signal },
    );
    controller.abort(new Error('deadline'));
    await assert.rejects(call, /aborted/);
    // Even an unhealthy-looking error, when the caller had already given up, is not the registry's fault.
    const late = new AbortController();
    const timedOut = limiter.run(
      REG,
      async () => {
        late.abort(new Error('deadline'));
        throw new RegistryError('TIMEOUT', `${REG}/app: request timed out after 10s`, { registry: REG });
      },
      { signal: late.signal },
    );
    await assert.rejects(timedOut, /timed out/);
    assert.deepEqual(limiter.status(REG), { inFlight: 0, queued: 0, failures: 0, retryAt: undefined, lastFailure: undefined });
    assert.equal(await limiter.run(REG, async () => 'ok', { signal: never }), 'ok');
  });

  it('escalates once for calls that failed together in one outage', async () => {
    const c = clock();
    const limiter = new RegistryLimiter({ now: c.now });
    let fail!: () => void;
    const gate = new Promise<void>((r) => (fail = r));
    const calls = Array.from({ length: 5 }, () =>
      limiter.run(
        REG,
        async () => {
          await gate;
          throw unavailable();
        },
        { signal: never },
      ),
    );
    fail();
    await Promise.allSettled(calls);
    assert.equal(limiter.status(REG).failures, 1);
    assert.equal((limiter.status(REG).retryAt?.getTime() ?? 0) - c.now(), 250);
  });

  it('fails queued callers fast when the window opens while they wait', async () => {
    const limiter = new RegistryLimiter({ concurrency: 1 });
    let fail!: () => void;
    const holder = limiter.run(REG, () => new Promise<void>((_, reject) => (fail = () => reject(unavailable()))), { signal: never });
    let ran = false;
    const queued = limiter.run(REG, async () => void (ran = true), { signal: never });
    await new Promise((r) => setImmediate(r));
    fail();
    await assert.rejects(holder, /503/);
    await assert.rejects(queued, RegistryBackoffError);
    assert.equal(ran, false);
    assert.equal(limiter.status(REG).inFlight, 0);
  });

  it('classifies unhealthy failures', () => {
    assert.equal(isUnhealthyRegistryFailure(unavailable()), true);
    assert.equal(isUnhealthyRegistryFailure(refused()), true);
    assert.equal(isUnhealthyRegistryFailure(tooMany()), true);
    assert.equal(isUnhealthyRegistryFailure(new RegistryError('TIMEOUT', 'x', { registry: REG })), true);
    assert.equal(isUnhealthyRegistryFailure(new RegistryError('RESPONSE_INVALID', 'x', { registry: REG, status: 502 })), true);
    assert.equal(isUnhealthyRegistryFailure(notFound()), false);
    assert.equal(isUnhealthyRegistryFailure(new RegistryError('UNAUTHORIZED', 'x', { registry: REG, status: 401 })), false);
    assert.equal(isUnhealthyRegistryFailure(new RegistryError('ABORTED', 'x', { registry: REG })), false);
    assert.equal(isUnhealthyRegistryFailure(new Error('ECONNREFUSED')), false);
  });

  it('validates its options', () => {
    assert.throws(() => new RegistryLimiter({ concurrency: 0 }), RangeError);
    assert.throws(() => new RegistryLimiter({ initialBackoffMs: -1 }), RangeError);
  });
});
