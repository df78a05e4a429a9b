// createNotaryImageVerifier with its cache, single-flight and registry limits. Most tests read a
// real Notation-signed OCI layout (the e2e valid-signature layout) through a fake ImageSource that
// counts calls and can be held, slowed or made to fail; the last ones go through a real
// docker-registry and the real registry client.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copy, digestOf, OciLayout, readVerified, type ByteStream, type Descriptor, type OperationOptions, type ReferrersOptions } from '../oci/index.js';
import { RegistryClient, RegistryError } from '../registry/index.js';
import { startDockerRegistry, type RunningRegistry } from '../../test/support/docker-registry.js';
import { copyWritable, NOTATION_E2E, NOTATION_LAYOUTS } from '../../test/support/shared.js';
import { VerificationCache } from './cache.js';
import type { EvaluationRequest, ImageCheck, VerifyImage } from './engine.js';
import { normalizeImage, type NormalizedImage } from './images.js';
import type { CertificatesAttestor, KyvernoPolicy, Rule } from './model.js';
import type { AdmissionObserver, CacheLookup } from './observer.js';
import { decodePolicyDocuments } from './policy.js';
import { RegistryLimiter } from './registry-limits.js';
import { createNotaryImageVerifier, trustFingerprint, type ImageCredentials, type ImageSource } from './verifier.js';
import { podRulePolicyText } from '../../test/support/admission.js';

const REG = '127.0.0.1:5000';
const OTHER_REG = '127.0.0.1:6000';
let home: string;
let layout: OciLayout;
let E2E_CERT: string;
let NEW_E2E_CERT: string;
/** The signed image's digest, and one of an unsigned image beside it in the same layout. */
let signedDigest: string;
let unsignedDigest: string;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-verifier-'));
  E2E_CERT = await readFile(join(NOTATION_E2E, 'config/localkeys/e2e.crt'), 'utf8');
  NEW_E2E_CERT = await readFile(join(NOTATION_E2E, 'config/localkeys/new_e2e.crt'), 'utf8');
  await copyWritable(join(NOTATION_LAYOUTS, 'e2e-valid-signature'), join(home, 'layout'));
  layout = await OciLayout.open(join(home, 'layout'));
  const opts = { signal: new AbortController().signal };
  const signed = await layout.resolve('v1', opts);
  signedDigest = signed.digest;
  // The same image with one more annotation: another digest, no signature — where a moved tag points.
  const manifest = JSON.parse(new TextDecoder().decode(await readVerified(await layout.fetch(signed, opts), signed))) as Record<string, unknown>;
  const bytes = new TextEncoder().encode(JSON.stringify({ ...manifest, annotations: { 'test.sigil.dev/moved': 'yes' } }));
  const moved: Descriptor = { mediaType: signed.mediaType, digest: digestOf(bytes), size: bytes.byteLength };
  await layout.push(moved, bytes, opts);
  unsignedDigest = moved.digest;
});

after(async () => {
  await rm(home, { recursive: true, force: true });
});

type Operation = 'resolve' | 'exists' | 'fetch' | 'referrers';

/** An ImageSource over the layout that counts calls per operation, can hold them at a gate, and can fail them. */
class FakeSource implements ImageSource {
  readonly calls: Record<Operation, number> = { resolve: 0, exists: 0, fetch: 0, referrers: 0 };
  readonly signals: Partial<Record<Operation, AbortSignal[]>> = {};
  inFlight = 0;
  maxInFlight = 0;
  /** tag → digest the registry now answers for it. */
  readonly tags = new Map<string, string>();
  /** Calls of these operations wait until the gate opens (or their signal aborts). */
  readonly held = new Set<Operation>();
  readonly failures = new Map<Operation, () => Error>();
  #open: () => void = () => {};
  #gate: Promise<void> = this.#newGate();

  #newGate(): Promise<void> {
    return new Promise<void>((resolve) => (this.#open = resolve));
  }

  /** Lets held calls through and keeps later ones from being held. */
  open(): void {
    this.held.clear();
    this.#open();
    this.#gate = this.#newGate();
  }

  async #enter(operation: Operation, signal: AbortSignal): Promise<void> {
    this.calls[operation]++;
    (this.signals[operation] ??= []).push(signal);
    if (this.held.has(operation)) {
      await new Promise<void>((resolve, reject) => {
        const aborted = (): void => reject(new RegistryError('ABORTED', `${REG}/e2e: aborted`, { registry: REG }));
        if (signal.aborted) aborted();
        signal.addEventListener('abort', aborted, { once: true });
        void this.#gate.then(resolve);
      });
    }
    const failure = this.failures.get(operation);
    if (failure !== undefined) throw failure();
  }

  async #run<T>(operation: Operation, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.#enter(operation, signal);
      return await work();
    } finally {
      this.inFlight--;
    }
  }

  resolve(reference: string, options: OperationOptions): Promise<Descriptor> {
    return this.#run('resolve', options.signal, () => layout.resolve(this.tags.get(reference) ?? reference, options));
  }
  exists(descriptor: Descriptor, options: OperationOptions): Promise<boolean> {
    return this.#run('exists', options.signal, () => layout.exists(descriptor, options));
  }
  fetch(descriptor: Descriptor, options: OperationOptions): Promise<ByteStream> {
    return this.#run('fetch', options.signal, () => layout.fetch(descriptor, options));
  }
  async *referrers(subject: Descriptor, options: ReferrersOptions): AsyncIterable<Descriptor> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.#enter('referrers', options.signal);
    } finally {
      this.inFlight--;
    }
    yield* layout.referrers(subject, options);
  }
}

/** Records what the verifier reports. */
class CountingObserver implements AdmissionObserver {
  readonly lookups: CacheLookup[] = [];
  readonly calls: Array<{ registry: string; operation: string; outcome: 'ok' | 'error' }> = [];
  readonly verifications: Array<{ registry: string; status: 'pass' | 'fail' | 'error' }> = [];
  cacheLookup(result: CacheLookup): void {
    this.lookups.push(result);
  }
  registryCall(registry: string, operation: string, seconds: number, outcome: 'ok' | 'error'): void {
    assert.ok(seconds >= 0);
    this.calls.push({ registry, operation, outcome });
  }
  verification(registry: string, seconds: number, status: 'pass' | 'fail' | 'error'): void {
    assert.ok(seconds >= 0);
    this.verifications.push({ registry, status });
  }
}

interface Subject {
  readonly policy: KyvernoPolicy;
  readonly rule: Rule;
  readonly attestor: CertificatesAttestor;
}

/** A ClusterPolicy with one Notary rule and one certificates entry, decoded as the engine gets it. */
function subject(options: { cert?: string; certChain?: string; useCache?: boolean; rule?: string; imageRegistryCredentials?: Record<string, unknown> } = {}): Subject {
  const certificates = { cert: options.cert ?? E2E_CERT, ...(options.certChain === undefined ? {} : { certChain: options.certChain }) };
  const text = podRulePolicyText([{ type: 'Notary', imageReferences: ['*'], attestors: [{ entries: [{ certificates }] }], ...(options.useCache === undefined ? {} : { useCache: options.useCache }), ...(options.imageRegistryCredentials === undefined ? {} : { imageRegistryCredentials: options.imageRegistryCredentials }) }], { rule: options.rule ?? 'r' });
  const policy = decodePolicyDocuments(text, 'test')[0] as KyvernoPolicy;
  const rule = policy.spec.rules[0] as Rule;
  const attestor = rule.verifyImages[0]?.attestors[0]?.entries[0] as CertificatesAttestor;
  return { policy, rule, attestor };
}

function image(reference = `${REG}/e2e/app:v1`): NormalizedImage {
  return normalizeImage(reference);
}

/** A Pod CREATE in namespace `ns` with `pullSecrets` as its imagePullSecrets. */
function podRequest(pullSecrets: readonly string[] = [], ns = 'team-a'): EvaluationRequest {
  return {
    kind: { group: '', version: 'v1', kind: 'Pod' },
    name: 'web',
    namespace: ns,
    operation: 'CREATE',
    labels: {},
    namespaceLabels: {},
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: ns }, spec: { containers: [{ name: 'c', image: 'x' }], imagePullSecrets: pullSecrets.map((name) => ({ name })) } },
  };
}

function check(verify: VerifyImage, s: Subject, target: NormalizedImage = image(), signal: AbortSignal = new AbortController().signal, request: EvaluationRequest = podRequest()): Promise<ImageCheck> {
  return verify(target, s.rule, s.attestor, { policy: s.policy, signal, request });
}

/** Waits until `condition` holds, turning the event loop meanwhile. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(condition(), 'condition never held');
}

function clock(start = Date.now()): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function setup(options: { cache?: VerificationCache | false; limiter?: RegistryLimiter } = {}): { source: FakeSource; observer: CountingObserver; verify: VerifyImage } {
  const source = new FakeSource();
  const observer = new CountingObserver();
  const verify = createNotaryImageVerifier({
    openRepository: () => source,
    observer,
    ...(options.cache === undefined ? {} : { cache: options.cache }),
    ...(options.limiter === undefined ? {} : { registryLimits: options.limiter }),
  });
  return { source, observer, verify };
}

describe('createNotaryImageVerifier: the verification cache', () => {
  it('verifies a signed image once and answers the same digest from the cache, still resolving the tag each time', async () => {
    const { source, observer, verify } = setup();
    const s = subject();
    const first = await check(verify, s);
    assert.equal(first.status, 'pass', first.message);
    assert.equal(first.digest, signedDigest);
    const second = await check(verify, s);
    assert.equal(second.status, 'pass');
    assert.equal(second.digest, signedDigest);
    assert.match(second.message, /\(from cache\)$/);
    assert.deepEqual(observer.lookups, ['miss', 'hit']);
    assert.deepEqual(observer.verifications, [{ registry: REG, status: 'pass' }]);
    assert.equal(source.calls.resolve, 2);
    assert.equal(source.calls.referrers, 1);
  });

  it('answers a digest-pinned image from the cache without any registry call', async () => {
    const { source, observer, verify } = setup();
    const s = subject();
    const pinned = image(`${REG}/e2e/app:v1@${signedDigest}`);
    assert.equal((await check(verify, s, pinned)).status, 'pass');
    const calls = { ...source.calls };
    const again = await check(verify, s, pinned);
    assert.equal(again.status, 'pass');
    assert.equal(again.digest, signedDigest);
    assert.deepEqual(source.calls, calls, 'a digest cannot move: nothing is asked of the registry');
    assert.deepEqual(observer.lookups, ['miss', 'hit']);
  });

  it('does not store a fail: a signature the trust store does not hold is checked again next time', async () => {
    const { source, observer, verify } = setup();
    const s = subject({ cert: NEW_E2E_CERT });
    for (let i = 0; i < 2; i++) assert.equal((await check(verify, s)).status, 'fail');
    assert.deepEqual(observer.lookups, ['miss', 'miss']);
    assert.equal(observer.verifications.length, 2);
    assert.equal(source.calls.referrers, 2);
  });

  it('does not store an error: once the registry answers properly the image is verified and passes', async () => {
    const { source, observer, verify } = setup();
    const s = subject();
    source.failures.set('referrers', () => new RegistryError('RESPONSE_INVALID', `${REG}/e2e/app: referrers response is not JSON`, { registry: REG, repository: 'e2e/app' }));
    const broken = await check(verify, s);
    assert.equal(broken.status, 'error');
    assert.match(broken.message, /referrers response is not JSON/);
    source.failures.clear();
    assert.equal((await check(verify, s)).status, 'pass');
    assert.deepEqual(observer.lookups, ['miss', 'miss']);
    assert.deepEqual(
      observer.verifications.map((v) => v.status),
      ['error', 'pass'],
    );
  });

  it('verifies a moved tag again instead of inheriting the verdict of its old digest', async () => {
    const { source, observer, verify } = setup();
    const s = subject();
    assert.equal((await check(verify, s)).status, 'pass');
    source.tags.set('v1', unsignedDigest);
    const moved = await check(verify, s);
    assert.equal(moved.status, 'fail');
    assert.match(moved.message, new RegExp(`no signature is associated with "${REG}/e2e/app@${unsignedDigest}"`));
    assert.deepEqual(observer.lookups, ['miss', 'miss']);
    // Back to the signed digest: that verdict is still cached.
    source.tags.delete('v1');
    assert.match((await check(verify, s)).message, /from cache/);
  });

  it('keys by trust material: other certificates or another statement are another entry, a reloaded policy shares it', async () => {
    const { observer, verify } = setup();
    const a = subject();
    const b = subject({ certChain: NEW_E2E_CERT });
    // Kyverno's fixed statement is named after the rule, so another rule is another statement.
    const c = subject({ rule: 'another-rule' });
    // The same policy loaded again (new objects, same material) is the same entry.
    const reloaded = subject();
    assert.notEqual(trustFingerprint(a.rule, a.attestor), trustFingerprint(b.rule, b.attestor));
    assert.notEqual(trustFingerprint(a.rule, a.attestor), trustFingerprint(c.rule, c.attestor));
    assert.equal(trustFingerprint(a.rule, a.attestor), trustFingerprint(reloaded.rule, reloaded.attestor));
    for (const s of [a, b, c, reloaded]) assert.equal((await check(verify, s)).status, 'pass');
    assert.deepEqual(observer.lookups, ['miss', 'miss', 'miss', 'hit']);
    assert.equal(observer.verifications.length, 3);
  });

  it('keys by repository: the same digest in another repository is verified there', async () => {
    const { observer, verify } = setup();
    const s = subject();
    assert.equal((await check(verify, s, image(`${REG}/e2e/app:v1`))).status, 'pass');
    assert.equal((await check(verify, s, image(`${REG}/e2e/copy:v1`))).status, 'pass');
    assert.deepEqual(observer.lookups, ['miss', 'miss']);
  });

  it('expires entries after the TTL and keeps at most maxEntries, on the injected clock', async () => {
    const c = clock();
    const { observer, verify } = setup({ cache: new VerificationCache({ ttlMs: 60_000, maxEntries: 1, now: c.now }) });
    const s = subject();
    await check(verify, s);
    c.advance(59_000);
    await check(verify, s);
    c.advance(1_000);
    await check(verify, s);
    assert.deepEqual(observer.lookups, ['miss', 'hit', 'miss']);
    // A second repository evicts the first (one entry at most).
    await check(verify, s, image(`${REG}/e2e/copy:v1`));
    await check(verify, s);
    assert.deepEqual(observer.lookups.slice(3), ['miss', 'miss']);
    assert.equal(observer.verifications.length, 4);
  });

  it('keeps a pass no longer than the signing certificate chain is valid', async () => {
    // e2e.crt is valid until 2122-12-19T02:43:39Z; verify ten minutes before that.
    const notAfter = Date.parse('2122-12-19T02:43:39Z');
    const c = clock(notAfter - 10 * 60_000);
    const source = new FakeSource();
    const observer = new CountingObserver();
    const verify = createNotaryImageVerifier({ openRepository: () => source, observer, now: () => new Date(c.now()), cache: new VerificationCache({ now: c.now }) });
    const s = subject();
    assert.equal((await check(verify, s)).status, 'pass');
    c.advance(10 * 60_000 - 1000);
    assert.equal((await check(verify, s)).status, 'pass');
    c.advance(1000);
    await check(verify, s);
    assert.deepEqual(observer.lookups, ['miss', 'hit', 'miss']);
  });

  it('bypasses lookup and storage for useCache: false', async () => {
    const cache = new VerificationCache();
    const { observer, verify } = setup({ cache });
    const s = subject({ useCache: false });
    for (let i = 0; i < 2; i++) assert.equal((await check(verify, s)).status, 'pass');
    assert.deepEqual(observer.lookups, []);
    assert.equal(observer.verifications.length, 2);
    assert.equal(cache.size, 0);
  });

  it('verifies every time with cache: false', async () => {
    const { observer, verify } = setup({ cache: false });
    const s = subject();
    for (let i = 0; i < 2; i++) assert.equal((await check(verify, s)).status, 'pass');
    assert.deepEqual(observer.lookups, []);
    assert.equal(observer.verifications.length, 2);
  });
});

describe('createNotaryImageVerifier: single-flight', () => {
  it('runs one resolution and one verification for 200 concurrent admissions of one new image', async () => {
    const { source, observer, verify } = setup();
    const s = subject();
    source.held.add('resolve');
    const checks = Array.from({ length: 200 }, () => check(verify, s));
    await until(() => source.calls.resolve > 0);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(source.calls.resolve, 1);
    source.open();
    const results = await Promise.all(checks);
    assert.ok(results.every((r) => r.status === 'pass' && r.digest === signedDigest));
    assert.equal(source.calls.resolve, 1);
    assert.equal(source.calls.referrers, 1);
    assert.equal(source.calls.fetch, 2, 'one signature manifest and one envelope');
    assert.equal(source.maxInFlight, 1);
    assert.deepEqual(observer.verifications, [{ registry: REG, status: 'pass' }]);
    assert.equal(observer.lookups.filter((l) => l === 'miss').length, 1);
    assert.equal(observer.lookups.filter((l) => l === 'shared').length, 199);
  });

  it('keeps the shared verification going when one waiter aborts', async () => {
    const { source, observer, verify } = setup();
    const s = subject();
    source.held.add('referrers');
    const leaving = new AbortController();
    const left = check(verify, s, image(), leaving.signal);
    const staying = check(verify, s);
    await until(() => source.calls.referrers > 0);
    leaving.abort(new Error('deadline'));
    const gone = await left;
    assert.equal(gone.status, 'error');
    assert.match(gone.message, /aborted$/);
    assert.equal(source.signals.referrers?.[0]?.aborted, false);
    source.open();
    assert.equal((await staying).status, 'pass');
    assert.deepEqual(observer.lookups, ['miss', 'shared']);
    assert.deepEqual(observer.verifications, [{ registry: REG, status: 'pass' }]);
  });

  it('aborts the shared verification when its last waiter aborts, and starts afresh for the next caller', async () => {
    const { source, observer, verify } = setup();
    const s = subject();
    source.held.add('referrers');
    const a = new AbortController();
    const b = new AbortController();
    const first = check(verify, s, image(), a.signal);
    const second = check(verify, s, image(), b.signal);
    await until(() => source.calls.referrers > 0);
    a.abort(new Error('deadline'));
    b.abort(new Error('deadline'));
    assert.deepEqual([(await first).status, (await second).status], ['error', 'error']);
    await until(() => observer.verifications.length === 1);
    assert.equal(source.signals.referrers?.[0]?.aborted, true);
    assert.deepEqual(observer.verifications, [{ registry: REG, status: 'error' }]);
    source.open();
    assert.equal((await check(verify, s)).status, 'pass');
    assert.deepEqual(observer.lookups, ['miss', 'shared', 'miss']);
    assert.equal(source.calls.referrers, 2);
  });
});

describe('createNotaryImageVerifier: registry limits', () => {
  it('keeps at most N registry calls in flight per registry, leaving other registries unaffected', async () => {
    const limiter = new RegistryLimiter({ concurrency: 2 });
    const sources = new Map([
      [REG, new FakeSource()],
      [OTHER_REG, new FakeSource()],
    ]);
    const verify = createNotaryImageVerifier({ openRepository: (i) => sources.get(i.target.registry) as FakeSource, registryLimits: limiter });
    const busy = sources.get(REG) as FakeSource;
    busy.held.add('resolve');
    const s = subject();
    const checks = Array.from({ length: 8 }, (_, i) => check(verify, s, image(`${REG}/e2e/app${i}:v1`)));
    await until(() => busy.calls.resolve === 2);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(busy.calls.resolve, 2);
    assert.equal(limiter.status(REG).queued, 6);
    // The other registry is not stuck behind them.
    assert.equal((await check(verify, s, image(`${OTHER_REG}/e2e/app:v1`))).status, 'pass');
    busy.open();
    assert.ok((await Promise.all(checks)).every((r) => r.status === 'pass'));
    assert.equal(busy.maxInFlight, 2);
  });

  it('fails fast with error, naming the registry and the last failure, after a 503; recovers after the window', async () => {
    const c = clock();
    const limiter = new RegistryLimiter({ now: c.now });
    const { source, observer, verify } = setup({ limiter });
    const s = subject();
    source.failures.set('resolve', () => new RegistryError('SERVER_ERROR', `${REG}/e2e/app: 503 server error: v1`, { registry: REG, repository: 'e2e/app', status: 503 }));
    const first = await check(verify, s);
    assert.equal(first.status, 'error');
    assert.match(first.message, /503 server error/);
    const fast = await check(verify, s);
    assert.equal(fast.status, 'error');
    assert.match(fast.message, /127\.0\.0\.1:5000: not contacted until \S+ \(in 250ms\) after 1 failure in a row; last failure: 127\.0\.0\.1:5000\/e2e\/app: 503 server error/);
    assert.equal(source.calls.resolve, 1, 'the fail-fast call did not reach the registry');
    source.failures.clear();
    c.advance(250);
    assert.equal((await check(verify, s)).status, 'pass');
    assert.deepEqual(
      observer.calls.filter((x) => x.operation === 'resolve').map((x) => x.outcome),
      ['error', 'ok'],
    );
  });

  it('backs off after a 429 with its Retry-After, and after a refused connection', async () => {
    const c = clock();
    const limiter = new RegistryLimiter({ now: c.now });
    const { source, verify } = setup({ limiter });
    const s = subject();
    source.failures.set('resolve', () =>
      Object.assign(new RegistryError('TOOMANYREQUESTS', `${REG}/e2e/app: 429 toomanyrequests; try again later`, { registry: REG, repository: 'e2e/app', status: 429 }), { retryAfterMs: 2000 }),
    );
    assert.equal((await check(verify, s)).status, 'error');
    c.advance(1999);
    assert.match((await check(verify, s)).message, /not contacted until .*\(in 1ms\).*429 toomanyrequests/);
    c.advance(1);
    source.failures.set('resolve', () => new RegistryError('UNREACHABLE', `${REG}: cannot connect (ECONNREFUSED); nothing listens there, check the host and port`, { registry: REG }));
    assert.equal((await check(verify, s)).status, 'error');
    const fast = await check(verify, s);
    assert.equal(fast.status, 'error');
    assert.match(fast.message, /not contacted until .*after 2 failures in a row; last failure: 127\.0\.0\.1:5000: cannot connect \(ECONNREFUSED\)/);
    assert.equal(source.calls.resolve, 2);
  });

  it('does not count the caller aborting as a registry failure', async () => {
    const limiter = new RegistryLimiter();
    const { source, verify } = setup({ limiter });
    const s = subject();
    source.held.add('resolve');
    const controller = new AbortController();
    const pending = check(verify, s, image(), controller.signal);
    await until(() => source.calls.resolve > 0);
    controller.abort(new Error('deadline'));
    const aborted = await pending;
    assert.equal(aborted.status, 'error');
    assert.match(aborted.message, /aborted$/);
    await until(() => limiter.status(REG).inFlight === 0);
    assert.equal(limiter.status(REG).failures, 0);
    source.open();
    assert.equal((await check(verify, s)).status, 'pass');
  });
});

describe('createNotaryImageVerifier: observer', () => {
  it('times every registry call and reports each real verification once', async () => {
    const { observer, verify } = setup();
    const s = subject();
    await check(verify, s);
    await check(verify, s);
    assert.deepEqual(observer.calls, [
      { registry: REG, operation: 'resolve', outcome: 'ok' },
      { registry: REG, operation: 'fetch', outcome: 'ok' },
      { registry: REG, operation: 'fetch', outcome: 'ok' },
      { registry: REG, operation: 'referrers', outcome: 'ok' },
      { registry: REG, operation: 'resolve', outcome: 'ok' },
    ]);
    assert.deepEqual(observer.verifications, [{ registry: REG, status: 'pass' }]);
    assert.deepEqual(observer.lookups, ['miss', 'hit']);
  });
});

describe('createNotaryImageVerifier: registry credentials', () => {
  /** A verifier whose credentialsFor answers by the Pod's first pull secret, opening one FakeSource per credential key. */
  function credentialed(): { verify: VerifyImage; sources: Map<string, FakeSource>; opened: Array<ImageCredentials | undefined> } {
    const sources = new Map<string, FakeSource>();
    const opened: Array<ImageCredentials | undefined> = [];
    const verify = createNotaryImageVerifier({
      credentialsFor: (_image, _rule, _attestor, context) => {
        const object = context.request.object as { spec: { imagePullSecrets: Array<{ name: string }> } };
        const first = object.spec.imagePullSecrets[0]?.name;
        return first === undefined ? undefined : { key: `secret:${first}`, store: { get: async () => ({ username: first, password: 'pw' }) }, notes: first === 'gone' ? ['imagePullSecret team-a/gone not used: not found'] : [] };
      },
      openRepository: (_image, { credentials }) => {
        opened.push(credentials);
        const key = credentials?.key ?? '';
        let source = sources.get(key);
        if (source === undefined) sources.set(key, (source = new FakeSource()));
        return source;
      },
    });
    return { verify, sources, opened };
  }

  it("opens the repository with the credentials credentialsFor resolved from the request", async () => {
    const { verify, opened } = credentialed();
    assert.equal((await check(verify, subject(), image(), undefined, podRequest(['regcred']))).status, 'pass');
    assert.equal(opened[0]?.key, 'secret:regcred');
    assert.deepEqual(await opened[0]?.store?.get(REG), { username: 'regcred', password: 'pw' });
  });

  it('shares a tag resolution in flight only between callers with the same credentials', async () => {
    const { verify, sources } = credentialed();
    const s = subject({ useCache: false });
    const held = ['regcred', 'other', ''].map((key) => {
      const source = new FakeSource();
      source.held.add('resolve');
      sources.set(key === '' ? '' : `secret:${key}`, source);
      return source;
    });
    const checks = [
      check(verify, s, image(), undefined, podRequest(['regcred'])),
      check(verify, s, image(), undefined, podRequest(['regcred'])),
      check(verify, s, image(), undefined, podRequest(['other'])),
      check(verify, s, image(), undefined, podRequest([])),
    ];
    await until(() => held.every((source) => source.calls.resolve > 0));
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(held.map((source) => source.calls.resolve), [1, 1, 1], 'one resolution per credential set, none shared across sets');
    for (const source of held) source.open();
    assert.ok((await Promise.all(checks)).every((c) => c.status === 'pass'));
  });

  it('does not hand an unauthorized resolution to a caller that has credentials', async () => {
    const { verify, sources } = credentialed();
    const anonymous = new FakeSource();
    anonymous.held.add('resolve');
    anonymous.failures.set('resolve', () => new RegistryError('UNAUTHORIZED', `${REG}/e2e/app: 401 unauthorized`, { registry: REG }));
    sources.set('', anonymous);
    const s = subject({ useCache: false });
    const without = check(verify, s, image(), undefined, podRequest([]));
    await until(() => anonymous.calls.resolve > 0);
    const withCredentials = check(verify, s, image(), undefined, podRequest(['regcred']));
    anonymous.open();
    assert.equal((await without).status, 'error');
    assert.equal((await withCredentials).status, 'pass');
  });

  it('keeps the verdict cached by digest for every credential set: it is about the signature, not pull access', async () => {
    const { verify, sources } = credentialed();
    const s = subject();
    const pinned = image(`${REG}/e2e/app:v1@${signedDigest}`);
    assert.equal((await check(verify, s, pinned, undefined, podRequest(['regcred']))).status, 'pass');
    const again = await check(verify, s, pinned, undefined, podRequest(['other']));
    assert.equal(again.status, 'pass');
    assert.match(again.message, /from cache/);
    assert.equal(sources.get('secret:other'), undefined, 'a cached digest needs no repository, so no credentials either');
  });

  it("adds credentialsFor's notes to a message that is not a pass, and leaves a pass alone", async () => {
    const { verify, sources } = credentialed();
    const failing = new FakeSource();
    failing.failures.set('resolve', () => new RegistryError('UNAUTHORIZED', `${REG}/e2e/app: 401 unauthorized`, { registry: REG }));
    sources.set('secret:gone', failing);
    const denied = await check(verify, subject(), image(), undefined, podRequest(['gone']));
    assert.equal(denied.status, 'error');
    assert.match(denied.message, /401 unauthorized \(imagePullSecret team-a\/gone not used: not found\)$/);
    const passed = await check(verify, subject(), image(), undefined, podRequest(['regcred']));
    assert.doesNotMatch(passed.message, /not used/);
  });

  it('says cloud credential helpers are not supported yet when an entry names providers and verification does not pass', async () => {
    const { verify, sources } = credentialed();
    const failing = new FakeSource();
    failing.failures.set('resolve', () => new RegistryError('UNAUTHORIZED', `${REG}/e2e/app: 401 unauthorized`, { registry: REG }));
    sources.set('', failing);
    const denied = await check(verify, subject({ imageRegistryCredentials: { providers: ['amazon', 'default'] } }), image(), undefined, podRequest([]));
    assert.equal(denied.status, 'error');
    assert.match(denied.message, /cloud credential helpers \(imageRegistryCredentials\.providers amazon\) are not supported yet; the server's own registry credentials were used\)$/);
  });

  it('says allowInsecureRegistry is not supported yet, naming --insecure-registry, when verification does not pass', async () => {
    const { verify, sources } = credentialed();
    const failing = new FakeSource();
    failing.failures.set('resolve', () => new RegistryError('UNREACHABLE', `${REG}: cannot connect (ECONNREFUSED)`, { registry: REG }));
    sources.set('', failing);
    const denied = await check(verify, subject({ imageRegistryCredentials: { allowInsecureRegistry: true } }), image(), undefined, podRequest([]));
    assert.equal(denied.status, 'error');
    assert.match(denied.message, /imageRegistryCredentials\.allowInsecureRegistry is not supported yet \(TLS is still verified\); for a plain-HTTP registry start the server with --insecure-registry 127\.0\.0\.1:5000\)$/);
  });
});

describe('createNotaryImageVerifier through docker-registry', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  before(async () => {
    registry = await startDockerRegistry();
    client = new RegistryClient({});
    await copy(layout, 'v1', client.repository(registry.host, 'admission/signed'), 'v1', { signal: new AbortController().signal, referrers: true });
  });
  after(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('verifies a real signed image, then answers it from the cache with only the tag resolved again', async () => {
    const observer = new CountingObserver();
    const verify = createNotaryImageVerifier({ openRepository: (i) => client.repository(i.target.registry, i.target.repository), observer });
    const s = subject();
    const target = image(`${registry.host}/admission/signed:v1`);
    const first = await check(verify, s, target);
    assert.equal(first.status, 'pass', first.message);
    assert.equal(first.digest, signedDigest);
    const second = await check(verify, s, target);
    assert.equal(second.status, 'pass');
    assert.match(second.message, /from cache/);
    assert.deepEqual(observer.lookups, ['miss', 'hit']);
    assert.deepEqual(observer.verifications, [{ registry: registry.host, status: 'pass' }]);
    const operations = observer.calls.map((c) => c.operation);
    assert.equal(operations.filter((o) => o === 'resolve').length, 2);
    assert.equal(operations.filter((o) => o === 'referrers').length, 1);
    assert.ok(observer.calls.every((c) => c.registry === registry.host && c.outcome === 'ok'));
  });

  it('denies an unsigned digest of the same repository and keeps denying it', async () => {
    const observer = new CountingObserver();
    const verify = createNotaryImageVerifier({ openRepository: (i) => client.repository(i.target.registry, i.target.repository), observer });
    const repo = client.repository(registry.host, 'admission/unsigned');
    await copy(layout, unsignedDigest, repo, 'v1', { signal: new AbortController().signal });
    const target = image(`${registry.host}/admission/unsigned:v1`);
    for (let i = 0; i < 2; i++) assert.equal((await check(verify, subject(), target)).status, 'fail');
    assert.deepEqual(observer.lookups, ['miss', 'miss']);
  });

  it('reports a closed port as error, then fails fast naming the registry', async () => {
    const observer = new CountingObserver();
    const verify = createNotaryImageVerifier({ openRepository: (i) => client.repository(i.target.registry, i.target.repository), observer });
    const target = image('127.0.0.1:1/admission/signed:v1');
    const first = await check(verify, subject(), target);
    assert.equal(first.status, 'error');
    assert.match(first.message, /ECONNREFUSED/);
    const fast = await check(verify, subject(), target);
    assert.equal(fast.status, 'error');
    assert.match(fast.message, /127\.0\.0\.1:1: not contacted until .*last failure: 127\.0\.0\.1:1: cannot connect \(ECONNREFUSED\)/);
    assert.deepEqual(observer.calls, [{ registry: '127.0.0.1:1', operation: 'resolve', outcome: 'error' }]);
  });
});
