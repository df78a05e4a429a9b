// The real VerifyImage for `type: Notary` attestors: resolve the image's tag to a digest over its
// registry repository, then verify through verify/ with the attestor entry's certificates as the
// trust store. Around that: the digest-keyed verification cache with single-flight (cache.ts),
// per-registry concurrency and backoff (registry-limits.ts), and an observer told about every
// registry call, cache lookup and verification (observer.ts).

import { createHash } from 'node:crypto';
import { isRegistryError, type CredentialStore } from '../registry/index.js';
import type { ByteStream, Descriptor, ReadOnlyTarget, ReferrerLister } from '../oci/index.js';
import { decodeCertificates, type Certificate } from '../pki/index.js';
import { NotaryError, TRUST_POLICY_VERSION, TrustStoreError, Verifier, type TrustPolicyDocument, type TrustStore, type TrustStoreType } from '../notary/index.js';
import { verifyArtifact, type VerificationReport } from '../verify/index.js';
import { SingleFlight, VerificationCache, type VerificationResult } from './cache.js';
import { verificationOfAttestor } from './credentials.js';
import type { ImageCheck, VerifyImage, VerifyImageContext } from './engine.js';
import { formatTarget, type NormalizedImage } from './images.js';
import { ADMISSION_TRUST_STORE_NAME, type CertificatesAttestor, type NotaryAttestor, type Rule } from './model.js';
import { NOOP_OBSERVER, type AdmissionObserver } from './observer.js';
import { RegistryLimiter, type RegistryLimitsOptions } from './registry-limits.js';

/** Where the Notary verifier reads an image and its signatures from. */
export type ImageSource = ReadOnlyTarget & ReferrerLister;

/** The registry credentials one verification uses, as `credentialsFor` resolved them. */
export interface ImageCredentials {
  /**
   * Equal keys mean equal credentials for the image's registry (a digest of them, never the
   * secrets): tag resolutions are shared only between callers with the same key, and a caller may
   * reuse one client per key.
   */
  readonly key: string;
  /** What the repository authenticates with; undefined means the server's own credentials. */
  readonly store: CredentialStore | undefined;
  /** Why credentials the policy or the Pod names were not used (a Secret not found, say); added to a message that is not a pass. */
  readonly notes: readonly string[];
}

/** Options of createNotaryImageVerifier. */
export interface NotaryImageVerifierOptions {
  /**
   * Opens the repository of `image.target` (registry and repository) with `credentials` (as
   * `credentialsFor` resolved them; undefined without it: the server's own).
   */
  readonly openRepository: (image: NormalizedImage, options: { readonly credentials: ImageCredentials | undefined }) => ImageSource | Promise<ImageSource>;
  /**
   * The registry credentials for verifying `image` with `attestor` of `rule` in the context's
   * request (the entry's imageRegistryCredentials, the Pod's imagePullSecrets); default none,
   * every image is opened with the server's own. Called only when the registry is asked, not for
   * a digest answered from the cache.
   */
  readonly credentialsFor?: (image: NormalizedImage, rule: Rule, attestor: CertificatesAttestor, context: VerifyImageContext) => ImageCredentials | undefined | Promise<ImageCredentials | undefined>;
  /** The verification instant; defaults to the wall clock. */
  readonly now?: () => Date;
  /**
   * Where passing verdicts are kept and concurrent identical verifications joined; default a new
   * VerificationCache with its defaults (1 hour, 1000 entries); `false` verifies every time.
   * Share one instance between verifiers only if they open repositories with the same credentials.
   */
  readonly cache?: VerificationCache | false;
  /** Told about registry calls, cache lookups and verifications; default NOOP_OBSERVER. */
  readonly observer?: AdmissionObserver;
  /** Per-registry concurrency and backoff: a limiter (to share one), or options for a new one; default a new RegistryLimiter with its defaults. */
  readonly registryLimits?: RegistryLimiter | RegistryLimitsOptions;
}

/** An in-memory trust store holding `ca:kyverno` (the entry's cert + certChain) and optionally `tsa:kyverno`. */
class AttestorTrustStore implements TrustStore {
  readonly #ca: readonly Certificate[];
  readonly #tsa: readonly Certificate[] | undefined;
  constructor(ca: readonly Certificate[], tsa: readonly Certificate[] | undefined) {
    this.#ca = ca;
    this.#tsa = tsa;
  }
  async getCertificates(type: TrustStoreType, name: string): Promise<readonly Certificate[]> {
    if (name === ADMISSION_TRUST_STORE_NAME && type === 'ca') return this.#ca;
    if (name === ADMISSION_TRUST_STORE_NAME && type === 'tsa' && this.#tsa !== undefined) return this.#tsa;
    throw new TrustStoreError('TRUST_STORE_NOT_FOUND', `trust store ${type}:${name} does not exist; an attestor provides ca:${ADMISSION_TRUST_STORE_NAME} and the rule's tsaCertificates tsa:${ADMISSION_TRUST_STORE_NAME}`);
  }
}

/** Registry answers that mean "this image does not exist": a definite no, not an inconclusive error. */
const NOT_FOUND_CODES = ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN'] as const;

/** Everything one (rule, attestor entry) pair verifies with, built once. */
interface Trust {
  readonly verifier: Verifier;
  readonly trustPolicy: TrustPolicyDocument;
  /** sha256 over the canonical encoding of the statement, the entry's PEM and the rule's TSA roots. */
  readonly fingerprint: string;
  /** False when a verifyImages entry holding this attestor says `useCache: false`. */
  readonly useCache: boolean;
}

/** JSON with object keys sorted and undefined members dropped, so equal trust material encodes equally. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value)) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v: unknown) => canonicalJson(v ?? null)).join(',')}]`;
  if (typeof value === 'object') {
    const prototype: unknown = Object.getPrototypeOf(value);
    // A Map or Date would encode as {} and make different material collide.
    if (prototype !== Object.prototype && prototype !== null) throw new TypeError(`trust material holds ${Object.prototype.toString.call(value)}, which has no canonical encoding`);
    const members = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`trust material holds a ${typeof value}, which has no canonical encoding`);
}

/** The cache's trust fingerprint: what the verifier trusts for this rule and attestor entry. */
export function trustFingerprint(rule: Rule, attestor: CertificatesAttestor): string {
  const material = { statement: rule.trustPolicy.statement, cert: attestor.cert, certChain: attestor.certChain, tsaCertificates: rule.trustPolicy.tsaCertificates };
  return `sha256:${createHash('sha256').update(canonicalJson(material)).digest('hex')}`;
}

function holdsAttestor(entries: readonly NotaryAttestor[], attestor: CertificatesAttestor): boolean {
  return entries.some((e) => e === attestor || (e.kind === 'nested' && holdsAttestor(e.attestorSet.entries, attestor)));
}

/** useCache of the verifyImages entries that hold `attestor`: any `false` among them turns the cache off. */
function usesCache(rule: Rule, attestor: CertificatesAttestor): boolean {
  return rule.verifyImages.every((v) => v.useCache || !v.attestors.some((set) => holdsAttestor(set.entries as readonly NotaryAttestor[], attestor)));
}

/**
 * The earliest instant after `now` that the passing signature relied on: its expiry, and the
 * notAfter of each certificate in its chain. Instants already past did not decide the pass (an
 * expiry check set to log, or a timestamp vouching for a signature made while the chain was
 * valid), so they do not bound reuse either.
 */
function reliedUntil(report: VerificationReport, now: Date): Date | undefined {
  const outcome = report.verified?.outcome;
  if (outcome === undefined) return undefined;
  const instants = [outcome.envelope?.content.signerInfo.signedAttributes.expiry, ...outcome.certificateChain.map((c) => c.notAfter)]
    .filter((d): d is Date => d !== undefined)
    .map((d) => d.getTime())
    .filter((t) => t > now.getTime());
  return instants.length === 0 ? undefined : new Date(Math.min(...instants));
}

/** What a thrown error means for the verdict: a missing image or no applicable statement is `fail`, everything else `error`. */
function checkOfError(error: unknown, where: string): ImageCheck {
  const text = error instanceof Error ? error.message : String(error);
  if (isRegistryError(error, ...NOT_FOUND_CODES)) return { status: 'fail', message: `failed to verify ${where}: ${text}` };
  if (error instanceof NotaryError && error.code === 'NO_APPLICABLE_TRUST_POLICY') return { status: 'fail', message: `failed to verify ${where}: ${text}` };
  // Said in words, since the fix (a pull secret, the entry's imageRegistryCredentials) is the requester's, not the registry's.
  if (isRegistryError(error, 'UNAUTHORIZED')) return { status: 'error', message: `${where}: registry authentication failed: ${text}` };
  // Everything else — the registry unreachable, slow, rate-limiting, answering 5xx or garbage, in
  // its backoff window, the deadline passing, unusable certificates in the policy — means the
  // answer is unknown.
  return { status: 'error', message: `${where}: ${text}` };
}

function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}

/**
 * `source` with every call bounded by `limiter` and reported to `observer`. A fetch holds its slot
 * until the body has been read, has failed, or the reader stopped; a referrers listing takes a
 * slot per step (never while the caller works on what it yielded) and is reported once, with the
 * time spent waiting for the registry.
 */
function limitedSource(source: ImageSource, registry: string, limiter: RegistryLimiter, observer: AdmissionObserver): ImageSource {
  const call = async <T>(operation: string, signal: AbortSignal, run: () => Promise<T>): Promise<T> => {
    const permit = await limiter.acquire(registry, { signal });
    const started = performance.now();
    try {
      const value = await run();
      permit.succeeded();
      observer.registryCall(registry, operation, secondsSince(started), 'ok');
      return value;
    } catch (error) {
      permit.failed(error);
      observer.registryCall(registry, operation, secondsSince(started), 'error');
      throw error;
    }
  };
  return {
    resolve: (reference, options) => call('resolve', options.signal, () => source.resolve(reference, options)),
    exists: (descriptor, options) => call('exists', options.signal, () => source.exists(descriptor, options)),
    fetch: async (descriptor, options) => {
      const { signal } = options;
      const permit = await limiter.acquire(registry, { signal });
      const started = performance.now();
      let done = false;
      const finish = (error?: unknown): void => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) permit.succeeded();
        else permit.failed(error);
        observer.registryCall(registry, 'fetch', secondsSince(started), error === undefined ? 'ok' : 'error');
      };
      // A body nobody reads must not keep its slot past the caller's interest in it.
      const onAbort = (): void => finish(signal.reason ?? new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      let body: ByteStream;
      try {
        body = await source.fetch(descriptor, options);
      } catch (error) {
        finish(error);
        throw error;
      }
      return {
        [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
          const inner = body[Symbol.asyncIterator]();
          return {
            async next(): Promise<IteratorResult<Uint8Array>> {
              try {
                const step = await inner.next();
                if (step.done === true) finish();
                return step;
              } catch (error) {
                finish(error);
                throw error;
              }
            },
            async return(value?: unknown): Promise<IteratorResult<Uint8Array>> {
              // The reader stopped early (a size bound, say): the registry did nothing wrong.
              finish();
              return (await inner.return?.(value)) ?? { done: true, value: undefined };
            },
          };
        },
      };
    },
    referrers: (subject, options) => ({
      [Symbol.asyncIterator](): AsyncIterator<Descriptor> {
        let inner: AsyncIterator<Descriptor> | undefined;
        let waited = 0;
        let reported = false;
        const report = (outcome: 'ok' | 'error'): void => {
          if (reported) return;
          reported = true;
          observer.registryCall(registry, 'referrers', waited / 1000, outcome);
        };
        return {
          async next(): Promise<IteratorResult<Descriptor>> {
            let permit;
            try {
              permit = await limiter.acquire(registry, options);
            } catch (error) {
              report('error');
              throw error;
            }
            const started = performance.now();
            try {
              inner ??= source.referrers(subject, options)[Symbol.asyncIterator]();
              const step = await inner.next();
              permit.succeeded();
              waited += performance.now() - started;
              if (step.done === true) report('ok');
              return step;
            } catch (error) {
              permit.failed(error);
              waited += performance.now() - started;
              report('error');
              throw error;
            }
          },
          async return(value?: unknown): Promise<IteratorResult<Descriptor>> {
            report('ok');
            return (await inner?.return?.(value)) ?? { done: true, value: undefined };
          },
        };
      },
    }),
  };
}

/**
 * The real VerifyImage for `type: Notary`: the attestor entry's `cert` and `certChain` become the
 * trust store `ca:kyverno` (as Kyverno's Notary verifier builds it), the rule's trust policy
 * statement (Kyverno's fixed strict / `*` one unless the Sigil annotation sets another) decides,
 * tags are resolved to digests on every call (concurrent identical resolutions share one request),
 * and verifyArtifact runs over the repository. Passes are cached by digest, repository and trust
 * material unless the entry says `useCache: false`; concurrent identical verifications run once.
 * Registry failures (unreachable, timeout, 429, 5xx, auth, backoff) are `error`; a missing image
 * or signature is `fail`.
 */
export function createNotaryImageVerifier(options: NotaryImageVerifierOptions): VerifyImage {
  const cache = options.cache === false ? undefined : (options.cache ?? new VerificationCache());
  const observer = options.observer ?? NOOP_OBSERVER;
  const limiter = options.registryLimits instanceof RegistryLimiter ? options.registryLimits : new RegistryLimiter(options.registryLimits);
  const now = options.now ?? (() => new Date());
  const resolutions = new SingleFlight<Descriptor>();
  const trusts = new WeakMap<Rule, WeakMap<CertificatesAttestor, Trust>>();

  const trustFor = (rule: Rule, attestor: CertificatesAttestor): Trust => {
    let byAttestor = trusts.get(rule);
    if (byAttestor === undefined) trusts.set(rule, (byAttestor = new WeakMap()));
    let trust = byAttestor.get(attestor);
    if (trust === undefined) {
      const pem = [attestor.cert, attestor.certChain].filter((s): s is string => s !== undefined).join('\n');
      const ca = decodeCertificates(Buffer.from(pem, 'utf8'), `rule ${rule.name} certificates`);
      const tsaPem = rule.trustPolicy.tsaCertificates;
      const tsa = tsaPem === undefined ? undefined : decodeCertificates(Buffer.from(tsaPem, 'utf8'), `rule ${rule.name} tsaCertificates`);
      const built: Trust = {
        verifier: new Verifier({ trustStore: new AttestorTrustStore(ca, tsa), now }),
        trustPolicy: { version: TRUST_POLICY_VERSION, trustPolicies: [rule.trustPolicy.statement] },
        fingerprint: trustFingerprint(rule, attestor),
        useCache: usesCache(rule, attestor),
      };
      byAttestor.set(attestor, (trust = Object.freeze(built)));
    }
    return trust;
  };

  /** One real verification of `artifact`; never throws, and tells the observer once. */
  const verify = async (source: ImageSource, registry: string, scope: string, artifact: Descriptor, trust: Trust, signal: AbortSignal): Promise<VerificationResult> => {
    const started = performance.now();
    const target = `${scope}@${artifact.digest}`;
    let result: VerificationResult;
    try {
      const report = await verifyArtifact({ source, artifact, scope, trustPolicy: trust.trustPolicy, verifier: trust.verifier, signal });
      switch (report.status) {
        case 'verified':
          result = { check: { status: 'pass', digest: artifact.digest, message: `verified ${target}` }, validUntil: reliedUntil(report, now()) };
          break;
        case 'skipped':
          result = { check: { status: 'pass', digest: artifact.digest, message: `signature verification of ${target} skipped by trust policy ${report.statement.name}` } };
          break;
        case 'failed': {
          const reasons = report.signatures.map((s) => s.message).filter((m): m is string => m !== undefined);
          const detail = reasons.length === 0 ? '' : `: ${reasons.join('; ')}`;
          result = { check: { status: 'fail', digest: artifact.digest, message: `failed to verify ${target}: ${report.message ?? 'verification failed'}${detail}` } };
          break;
        }
      }
    } catch (error) {
      result = { check: checkOfError(error, target) };
    }
    observer.verification(registry, secondsSince(started), result.check.status);
    return result;
  };

  const verifyOnce = async (image: NormalizedImage, rule: Rule, attestor: CertificatesAttestor, context: VerifyImageContext, notes: string[]): Promise<ImageCheck> => {
    const { registry, repository } = image.target;
    const scope = `${registry}/${repository}`;
    let artifact: Descriptor | undefined;
    try {
      const trust = trustFor(rule, attestor);
      // A digest cannot move, so a stored pass for it needs no registry call at all (the warm path).
      if (image.digest !== undefined && cache !== undefined && trust.useCache) {
        const stored = cache.get({ scope, digest: image.digest, trust: trust.fingerprint });
        if (stored !== undefined) {
          observer.cacheLookup('hit');
          return { ...stored, message: `${stored.message} (from cache)` };
        }
      }
      const credentials = await options.credentialsFor?.(image, rule, attestor, context);
      if (credentials !== undefined) notes.push(...credentials.notes);
      const source = limitedSource(await options.openRepository(image, { credentials }), registry, limiter, observer);
      // Never cached: a tag may have moved since the last request. Identical resolutions in flight
      // share one request, but only between callers with the same credentials: a 401 for one
      // without them must not reach one that has them (nor a pull one may not make reach one without).
      const reference = image.digest ?? image.tag ?? 'latest';
      const flight = JSON.stringify([registry, repository, reference, credentials?.key ?? '']);
      artifact = await resolutions.run(flight, (signal) => source.resolve(reference, { signal }), context).result;
      if (image.digest !== undefined && artifact.digest !== image.digest) {
        return { status: 'fail', message: `${scope}@${image.digest}: the registry returned ${artifact.digest}` };
      }
      const resolved = artifact;
      // The verdict is keyed by digest, repository and trust, not by credentials: it is about the
      // signature, not about who may pull. A tag-only caller reaches it after resolving the tag
      // with its own credentials; a pinned digest with a stored pass asks the registry nothing
      // (above). Either way the kubelet's pull still needs its own access.
      const run = (signal: AbortSignal): Promise<VerificationResult> => verify(source, registry, scope, resolved, trust, signal);
      if (cache === undefined || !trust.useCache) return (await run(context.signal)).check;
      const answer = cache.lookup({ scope, digest: artifact.digest, trust: trust.fingerprint }, run, context);
      observer.cacheLookup(answer.lookup);
      const check = await answer.result;
      return answer.lookup === 'hit' ? { ...check, message: `${check.message} (from cache)` } : check;
    } catch (error) {
      const where = artifact === undefined ? formatTarget(image) : `${scope}@${artifact.digest}`;
      // The caller's deadline, not the registry, ended it; the caller knows why (the registry client words it the same).
      if (context.signal.aborted) return { status: 'error', message: `${where}: aborted` };
      return checkOfError(error, where);
    }
  };

  return async (image, rule, attestor, context) => {
    const notes: string[] = [];
    const check = await verifyOnce(image, rule, attestor, context, notes);
    if (check.status === 'pass') return check;
    const credentials = verificationOfAttestor(rule, attestor)?.imageRegistryCredentials;
    const providers = credentials?.providers.filter((p) => p !== 'default') ?? [];
    if (providers.length > 0) notes.push(`cloud credential helpers (imageRegistryCredentials.providers ${providers.join(', ')}) are not supported yet; the server's own registry credentials were used`);
    // Kyverno's allowInsecureRegistry also skips TLS verification; Sigil does not, and says so where it may matter.
    if (credentials?.allowInsecureRegistry === true) notes.push(`imageRegistryCredentials.allowInsecureRegistry is not supported yet (TLS is still verified); for a plain-HTTP registry start the server with --insecure-registry ${image.target.registry}`);
    return notes.length === 0 ? check : { ...check, message: `${check.message} (${notes.join('; ')})` };
  };
}
