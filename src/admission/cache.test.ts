import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SingleFlight, VerificationCache, type VerificationResult } from './cache.js';
import type { ImageCheck } from './engine.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const KEY = { scope: '127.0.0.1:5000/app', digest: DIGEST, trust: 'sha256:t1' };
const PASS: ImageCheck = { status: 'pass', digest: DIGEST, message: 'verified' };
const never = new AbortController().signal;

/** A clock the test moves by hand. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** A verification that resolves when told to, counting runs and recording the signal it ran under. */
function deferred(result: VerificationResult = { check: PASS }): {
  verify: (signal: AbortSignal) => Promise<VerificationResult>;
  runs: number;
  signals: AbortSignal[];
  finish: () => void;
} {
  const state = {
    runs: 0,
    signals: [] as AbortSignal[],
    finish: () => {},
    verify: (signal: AbortSignal): Promise<VerificationResult> => {
      state.runs++;
      state.signals.push(signal);
      return new Promise((resolve) => {
        state.finish = () => resolve(result);
      });
    },
  };
  return state;
}

async function answer(cache: VerificationCache, check: ImageCheck, key = KEY, validUntil?: Date): Promise<string> {
  const a = cache.lookup(key, async () => ({ check, validUntil }), { signal: never });
  await a.result;
  return a.lookup;
}

describe('VerificationCache', () => {
  it('answers a stored pass as a hit, and never stores fail or error', async () => {
    const cache = new VerificationCache();
    assert.equal(await answer(cache, PASS), 'miss');
    assert.equal(await answer(cache, PASS), 'hit');
    assert.deepEqual(cache.get(KEY), PASS);
    const failKey = { ...KEY, digest: OTHER };
    assert.equal(await answer(cache, { status: 'fail', message: 'no signature' }, failKey), 'miss');
    assert.equal(await answer(cache, { status: 'fail', message: 'no signature' }, failKey), 'miss');
    assert.equal(await answer(cache, { status: 'error', message: 'registry down' }, failKey), 'miss');
    assert.equal(cache.get(failKey), undefined);
    assert.equal(cache.size, 1);
  });

  it('keys by digest, scope and trust: each differs into its own entry', async () => {
    const cache = new VerificationCache();
    await answer(cache, PASS);
    for (const key of [{ ...KEY, digest: OTHER }, { ...KEY, scope: '127.0.0.1:5000/other' }, { ...KEY, trust: 'sha256:t2' }]) {
      assert.equal(cache.get(key), undefined);
      assert.equal(await answer(cache, PASS, key), 'miss');
    }
    assert.equal(cache.size, 4);
  });

  it('refuses a tag where the digest goes', () => {
    const cache = new VerificationCache();
    assert.throws(() => cache.get({ ...KEY, digest: 'v1' }), RangeError);
    assert.throws(() => cache.lookup({ ...KEY, digest: 'latest' }, async () => ({ check: PASS }), { signal: never }), RangeError);
  });

  it('expires a pass after the TTL on the injected clock', async () => {
    const c = clock();
    const cache = new VerificationCache({ ttlMs: 60_000, now: c.now });
    await answer(cache, PASS);
    c.advance(59_999);
    assert.deepEqual(cache.get(KEY), PASS);
    c.advance(1);
    assert.equal(cache.get(KEY), undefined);
    assert.equal(cache.size, 0);
  });

  it('defaults to a one-hour TTL', async () => {
    const c = clock();
    const cache = new VerificationCache({ now: c.now });
    await answer(cache, PASS);
    c.advance(60 * 60 * 1000 - 1);
    assert.notEqual(cache.get(KEY), undefined);
    c.advance(1);
    assert.equal(cache.get(KEY), undefined);
  });

  it('caps an entry at validUntil when that comes before the TTL, and stores nothing already past it', async () => {
    const c = clock();
    const cache = new VerificationCache({ ttlMs: 60_000, now: c.now });
    await answer(cache, PASS, KEY, new Date(c.now() + 10_000));
    c.advance(9_999);
    assert.notEqual(cache.get(KEY), undefined);
    c.advance(1);
    assert.equal(cache.get(KEY), undefined);
    await answer(cache, PASS, KEY, new Date(c.now()));
    assert.equal(cache.size, 0);
    // A later validUntil than the TTL changes nothing.
    await answer(cache, PASS, KEY, new Date(c.now() + 10 * 60_000));
    c.advance(60_000);
    assert.equal(cache.get(KEY), undefined);
  });

  it('keeps at most maxEntries, evicting the least recently used', async () => {
    const cache = new VerificationCache({ maxEntries: 2 });
    const k = (n: number) => ({ ...KEY, digest: `sha256:${String(n).repeat(64)}` });
    await answer(cache, PASS, k(1));
    await answer(cache, PASS, k(2));
    assert.notEqual(cache.get(k(1)), undefined); // 1 is now the most recently used
    await answer(cache, PASS, k(3));
    assert.equal(cache.size, 2);
    assert.equal(cache.get(k(2)), undefined);
    assert.notEqual(cache.get(k(1)), undefined);
    assert.notEqual(cache.get(k(3)), undefined);
  });

  it('runs concurrent identical lookups once: one miss, the rest shared, then hits', async () => {
    const cache = new VerificationCache();
    const work = deferred();
    const answers = Array.from({ length: 200 }, () => cache.lookup(KEY, work.verify, { signal: new AbortController().signal }));
    assert.equal(work.runs, 1);
    assert.deepEqual(
      answers.map((a) => a.lookup),
      ['miss', ...Array<string>(199).fill('shared')],
    );
    assert.equal(cache.inFlight, 1);
    work.finish();
    const checks = await Promise.all(answers.map((a) => a.result));
    assert.ok(checks.every((c) => c.status === 'pass'));
    assert.equal(cache.inFlight, 0);
    assert.equal(cache.lookup(KEY, work.verify, { signal: never }).lookup, 'hit');
    assert.equal(work.runs, 1);
  });

  it('rejects a new lookup at once when its signal has already aborted, starting nothing', async () => {
    const cache = new VerificationCache();
    const work = deferred();
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    await assert.rejects(cache.lookup(KEY, work.verify, { signal: controller.signal }).result, /deadline/);
    assert.equal(work.runs, 0);
  });

  it('validates its options', () => {
    assert.throws(() => new VerificationCache({ ttlMs: 0 }), RangeError);
    assert.throws(() => new VerificationCache({ maxEntries: 0 }), RangeError);
    assert.throws(() => new VerificationCache({ maxEntries: 1.5 }), RangeError);
  });
});

describe('SingleFlight', () => {
  it('keeps nothing after the work settles', async () => {
    const flights = new SingleFlight<number>();
    let runs = 0;
    const first = flights.run('k', async () => ++runs, { signal: never });
    const second = flights.run('k', async () => ++runs, { signal: never });
    assert.deepEqual([first.joined, second.joined], [false, true]);
    assert.deepEqual(await Promise.all([first.result, second.result]), [1, 1]);
    assert.equal(flights.size, 0);
    assert.equal(await flights.run('k', async () => ++runs, { signal: never }).result, 2);
  });

  it('shares a rejection with every waiter, and forgets it', async () => {
    const flights = new SingleFlight<number>();
    const a = flights.run('k', async () => Promise.reject(new Error('boom')), { signal: never });
    const b = flights.run('k', async () => 1, { signal: never });
    await assert.rejects(a.result, /boom/);
    await assert.rejects(b.result, /boom/);
    assert.equal(flights.size, 0);
  });

  it('one waiter aborting leaves the work and the other waiters alone', async () => {
    const flights = new SingleFlight<VerificationResult>();
    const work = deferred();
    const leaving = new AbortController();
    const staying = flights.run('k', work.verify, { signal: never });
    const left = flights.run('k', work.verify, { signal: leaving.signal });
    leaving.abort(new Error('caller deadline'));
    await assert.rejects(left.result, /caller deadline/);
    assert.equal(work.signals[0]?.aborted, false);
    work.finish();
    assert.equal((await staying.result).check.status, 'pass');
    assert.equal(work.runs, 1);
  });

  it('aborts the work when the last waiter leaves, and the next caller starts afresh', async () => {
    const flights = new SingleFlight<VerificationResult>();
    const work = deferred();
    const a = new AbortController();
    const b = new AbortController();
    const first = flights.run('k', work.verify, { signal: a.signal });
    const second = flights.run('k', work.verify, { signal: b.signal });
    a.abort(new Error('a gone'));
    await assert.rejects(first.result, /a gone/);
    assert.equal(work.signals[0]?.aborted, false);
    b.abort(new Error('b gone'));
    await assert.rejects(second.result, /b gone/);
    assert.equal(work.signals[0]?.aborted, true);
    assert.equal(flights.size, 0);
    const third = flights.run('k', work.verify, { signal: never });
    assert.equal(third.joined, false);
    assert.equal(work.runs, 2);
    work.finish();
    assert.equal((await third.result).check.status, 'pass');
  });
});
