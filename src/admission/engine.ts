// The verifyImages engine: which rules apply to a request, which images each rule checks, the
// verdict per policy / rule / image, and the admission decision (Kyverno pkg/engine/image_verify.go,
// pkg/engine/internal/imageverifier.go, pkg/webhooks/utils/block.go; reference §2, §3c, §4b).
// Verification itself is injected (`VerifyImage`), so the engine is pure apart from it;
// createNotaryImageVerifier (verifier.ts) builds the real one over registry repositories.

import { effectiveRules } from './autogen.js';
import { extractImages, formatTarget, normalizeImage, type NormalizedImage } from './images.js';
import { findException, isInPolicyScope, matchesRule, resolveFailureAction, type MatchRequest } from './match.js';
import { policyKey, type AttestorSet, type CertificatesAttestor, type FailureAction, type FailurePolicy, type ImageVerification, type KyvernoPolicy, type NotaryAttestor, type PolicyException, type Rule } from './model.js';
import { digestPatches, type DigestPin, type PatchOperation } from './patch.js';
import { denyMessage, type RuleFailure } from './review.js';
import type { VerifiedBefore } from './record.js';
import { matchesAnyWildcard } from './wildcard.js';
import { ImageReferenceError } from './errors.js';

/** What one attestor entry said about one image: verified, bad or missing signature, or could not decide. */
export interface ImageCheck {
  /** `pass`: a signature verified; `fail`: no good signature; `error`: verification could not complete (registry down, timeout, 429, 5xx). */
  readonly status: 'pass' | 'fail' | 'error';
  /** The digest the image resolved to and was verified at. */
  readonly digest?: string;
  readonly message: string;
}

/** What a verifier is told besides the image, rule and attestor entry. */
export interface VerifyImageContext {
  readonly policy: KyvernoPolicy;
  readonly signal: AbortSignal;
  /** The request being evaluated: its namespace and object say where the Pod's `imagePullSecrets` are. */
  readonly request: EvaluationRequest;
}

/** Verifies `image` against one `certificates` attestor entry of `rule`; should not throw (a throw counts as `error`). */
export type VerifyImage = (image: NormalizedImage, rule: Rule, attestor: CertificatesAttestor, context: VerifyImageContext) => Promise<ImageCheck>;

/** The request being admitted: matching attributes plus the object. */
export interface EvaluationRequest extends MatchRequest {
  readonly object: unknown;
}

/** Input of evaluateImages. */
export interface EvaluateImagesInput {
  readonly policies: readonly KyvernoPolicy[];
  /** Only these are honoured; the caller decides which namespaces exceptions may come from. */
  readonly exceptions: readonly PolicyException[];
  readonly request: EvaluationRequest;
  readonly verifyImage: VerifyImage;
  readonly signal: AbortSignal;
  /** For an UPDATE: which digest-pinned images passed before, by the stored object's record (record.ts verifiedBefore). */
  readonly verifiedBefore?: VerifiedBefore;
}

/** One verdict, as Kyverno reports it per rule, here per image too. */
export interface ImageRuleResult {
  /** The policy key: `name`, or `namespace/name` for a Policy. */
  readonly policy: string;
  readonly rule: string;
  /** The image string as the resource has it; undefined for a rule skipped as a whole (PolicyException). */
  readonly image: string | undefined;
  /** JSON pointer of the image field. */
  readonly path: string | undefined;
  readonly result: 'pass' | 'fail' | 'error' | 'skip';
  readonly message: string;
  /** The digest the image was verified at. */
  readonly digest: string | undefined;
  /** The rule's resolved failure action. */
  readonly action: FailureAction;
  readonly failurePolicy: FailurePolicy;
}

/** The admission decision for one request. */
export interface ImageEvaluation {
  readonly allowed: boolean;
  /** Kyverno's denial text (denyMessage) when not allowed, else undefined. */
  readonly message: string | undefined;
  /** Audit failures, errors under failurePolicy Ignore and skipped images, as `policy <p>.<rule>: <message>`. */
  readonly warnings: readonly string[];
  readonly results: readonly ImageRuleResult[];
  /** mutateDigest pins for verified tag-only images. */
  readonly patches: readonly PatchOperation[];
}

/** What an attestor set (or the whole entry) came to, with the paths and reasons of what did not pass. */
interface Verdict {
  readonly status: 'pass' | 'fail' | 'error';
  readonly digest: string | undefined;
  readonly problems: readonly string[];
}

/** The problems of a pass: none, shared. */
const NO_PROBLEMS: readonly string[] = Object.freeze([]);

/** Matches a pattern list against an image, in Kyverno's form and also in its tag form. */
function matchesImage(patterns: readonly string[], image: NormalizedImage): boolean {
  // Kyverno matches only `reference`, which drops the tag of `repo:tag@digest`, so `repo:*` stops
  // matching once the mutating webhook pins a digest (reference §1f); Sigil also tries the tag form
  // so a pinned image is still checked by the rule that pinned it.
  return matchesAnyWildcard(patterns, image.reference) || (image.referenceWithTag !== undefined && matchesAnyWildcard(patterns, image.referenceWithTag));
}

class Evaluator {
  readonly #input: EvaluateImagesInput;
  // Identical image + rule + attestor checks share one promise (the same image in two containers,
  // or `nginx` and `docker.io/library/nginx:latest`).
  readonly #checks = new Map<Rule, Map<CertificatesAttestor, Map<string, Promise<ImageCheck>>>>();

  constructor(input: EvaluateImagesInput) {
    this.#input = input;
  }

  check(policy: KyvernoPolicy, rule: Rule, attestor: CertificatesAttestor, image: NormalizedImage): Promise<ImageCheck> {
    let byAttestor = this.#checks.get(rule);
    if (byAttestor === undefined) this.#checks.set(rule, (byAttestor = new Map<CertificatesAttestor, Map<string, Promise<ImageCheck>>>()));
    let byImage = byAttestor.get(attestor);
    if (byImage === undefined) byAttestor.set(attestor, (byImage = new Map<string, Promise<ImageCheck>>()));
    const key = formatTarget(image);
    let pending = byImage.get(key);
    if (pending === undefined) {
      pending = this.#input.verifyImage(image, rule, attestor, { policy, signal: this.#input.signal, request: this.#input.request }).catch((error: unknown) => ({
        status: 'error' as const,
        message: error instanceof Error ? error.message : String(error),
      }));
      byImage.set(key, pending);
    }
    return pending;
  }

  /** Kyverno's count: the first `count` successes of a set win; entries are tried in order. */
  async verifySet(policy: KyvernoPolicy, rule: Rule, set: AttestorSet<NotaryAttestor>, path: string, image: NormalizedImage): Promise<Verdict> {
    let passed = 0;
    let errored = 0;
    let digest: string | undefined;
    const problems: string[] = [];
    const { entries } = set;
    for (let j = 0; j < entries.length; j++) {
      const entry = entries[j] as NotaryAttestor;
      // The entry's path is spelled out only for a problem: a pass needs none.
      let verdict: Verdict;
      if (entry.kind === 'nested') {
        verdict = await this.verifySet(policy, rule, entry.attestorSet, `${path}.entries[${j}].attestor`, image);
      } else {
        const check = await this.check(policy, rule, entry, image);
        verdict = check.status === 'pass' ? { status: 'pass', digest: check.digest, problems: NO_PROBLEMS } : { status: check.status, digest: check.digest, problems: [`${path}.entries[${j}]: ${check.message}`] };
      }
      if (verdict.status === 'pass') {
        passed++;
        digest ??= verdict.digest;
        if (passed >= set.count) return { status: 'pass', digest, problems: [] };
      } else {
        if (verdict.status === 'error') errored++;
        problems.push(...verdict.problems);
      }
    }
    // Could the entries that errored have made up the count? Then the answer is unknown, not no.
    return { status: passed + errored >= set.count ? 'error' : 'fail', digest: undefined, problems };
  }

  /** One verifyImages entry against one image: attestor sets (all must pass), then verifyDigest and required. */
  async verifyImage(policy: KyvernoPolicy, rule: Rule, verification: ImageVerification, image: NormalizedImage): Promise<{ result: 'pass' | 'fail' | 'error'; message: string; digest: string | undefined }> {
    const reference = image.reference;
    if (verification.type !== 'Notary') {
      return { result: 'error', message: `failed to verify image ${reference}: verification type ${verification.type} is not supported yet; use type: Notary`, digest: undefined };
    }
    if (verification.attestors.length === 0) {
      // Kyverno records an image only when the entry has attestors, so `required` finds no record.
      if (verification.required) return { result: 'fail', message: `unverified image ${reference}`, digest: undefined };
      if (verification.verifyDigest && image.digest === undefined) return { result: 'fail', message: `missing digest for ${reference}`, digest: undefined };
      return { result: 'pass', message: 'image verified', digest: image.digest };
    }
    const verdicts: Verdict[] = [];
    const { attestors } = verification;
    for (let i = 0; i < attestors.length; i++) {
      const verdict = await this.verifySet(policy, rule, attestors[i] as AttestorSet<NotaryAttestor>, `.attestors[${i}]`, image);
      verdicts.push(verdict);
      // Every set must pass (AND); a definite failure of one decides the entry.
      if (verdict.status === 'fail') break;
    }
    const problems = verdicts.flatMap((v) => v.problems).join('; ');
    if (verdicts.some((v) => v.status === 'fail')) return { result: 'fail', message: `failed to verify image ${reference}: ${problems}`, digest: undefined };
    if (verdicts.some((v) => v.status === 'error')) return { result: 'error', message: `failed to verify image ${reference}: verification could not complete: ${problems}`, digest: undefined };
    const digest = verdicts.find((v) => v.digest !== undefined)?.digest ?? image.digest;
    // verifyDigest is checked in Kyverno's validating webhook, after mutateDigest pinned the digest.
    const pinned = image.digest !== undefined || (verification.mutateDigest && digest !== undefined);
    if (verification.verifyDigest && !pinned) return { result: 'fail', message: `missing digest for ${reference}`, digest };
    return { result: 'pass', message: `verified image signatures for ${reference}`, digest };
  }
}

interface Pending {
  readonly base: Omit<ImageRuleResult, 'result' | 'message' | 'digest'>;
  readonly verdict: Promise<{ result: ImageRuleResult['result']; message: string; digest: string | undefined }>;
  /** The pin to apply when the image passes and the entry mutates digests. */
  readonly pin: { path: string; image: string } | undefined;
}

/** effectiveRules of each policy, derived once: policies are immutable, and autogen was 5% of a warm /validate. */
const EFFECTIVE_RULES = new WeakMap<KyvernoPolicy, readonly Rule[]>();

function rulesOf(policy: KyvernoPolicy): readonly Rule[] {
  let rules = EFFECTIVE_RULES.get(policy);
  if (rules === undefined) EFFECTIVE_RULES.set(policy, (rules = effectiveRules(policy)));
  return rules;
}

/**
 * Evaluates every verifyImages rule of `policies` that matches the request (exclude wins; a
 * PolicyException skips exactly the rules it names for what it matches) against the images of
 * the object, verifying the images of the request in parallel, and decides: a failure of an
 * Enforce rule denies; an error (verification could not complete) denies when the policy's
 * failurePolicy is Fail; everything else is admitted, Audit failures and ignored errors as warnings.
 * Throws ReviewError(RESOURCE_INVALID) when the object is not shaped as its kind requires.
 */
export async function evaluateImages(input: EvaluateImagesInput): Promise<ImageEvaluation> {
  const { request } = input;
  const evaluator = new Evaluator(input);
  const extracted = extractImages(request.object, request.kind.kind);
  const images = extracted.map((e) => {
    try {
      return { extracted: e, image: normalizeImage(e.image), problem: undefined };
    } catch (error) {
      if (!(error instanceof ImageReferenceError)) throw error;
      return { extracted: e, image: undefined, problem: error.message };
    }
  });
  const pending: Pending[] = [];
  for (const policy of input.policies) {
    if (!isInPolicyScope(policy, request)) continue;
    const key = policyKey(policy);
    // Kyverno evaluates a policy's autogen rules too: a Pod rule also guards Deployments, CronJobs, ….
    for (const rule of rulesOf(policy)) {
      if (rule.verifyImages.length === 0 || !matchesRule(rule, request)) continue;
      const base = { policy: key, rule: rule.name, action: resolveFailureAction(policy, rule.failureAction, request.namespace, request.namespaceLabels), failurePolicy: policy.spec.failurePolicy };
      const exception = findException(input.exceptions, key, rule.name, request);
      if (exception !== undefined) {
        const name = exception.metadata.namespace === undefined ? exception.metadata.name : `${exception.metadata.namespace}/${exception.metadata.name}`;
        pending.push({ base: { ...base, image: undefined, path: undefined }, verdict: Promise.resolve({ result: 'skip', message: `rule is skipped due to policy exception ${name}`, digest: undefined }), pin: undefined });
      } else {
        for (const verification of rule.verifyImages) {
          for (const { extracted: e, image, problem } of images) {
            const at = { policy: base.policy, rule: base.rule, action: base.action, failurePolicy: base.failurePolicy, image: e.image, path: e.path };
            if (image === undefined) {
              pending.push({ base: at, verdict: Promise.resolve({ result: 'fail', message: `failed to verify image ${e.image}: ${problem ?? 'invalid image'}`, digest: undefined }), pin: undefined });
              continue;
            }
            if (!matchesImage(verification.imageReferences, image)) continue;
            if (matchesImage(verification.skipImageReferences, image)) {
              pending.push({ base: at, verdict: Promise.resolve({ result: 'skip', message: `skipped image ${image.reference}: it matches skipImageReferences`, digest: undefined }), pin: undefined });
              continue;
            }
            if (input.verifiedBefore?.(key, rule.name, e.path, image) === true) {
              pending.push({ base: at, verdict: Promise.resolve({ result: 'pass', message: `image ${image.reference} is unchanged since it was verified (the stored object's record)`, digest: image.digest }), pin: undefined });
              continue;
            }
            pending.push({ base: at, verdict: evaluator.verifyImage(policy, rule, verification, image), pin: verification.mutateDigest ? { path: e.path, image: e.image } : undefined });
          }
        }
      }
      // applyRules One: Kyverno stops after the first rule that applies.
      if (policy.spec.applyRules === 'One') break;
    }
  }

  const verdicts = await Promise.all(pending.map((p) => p.verdict));
  const results: ImageRuleResult[] = pending.map(({ base: b }, i) => {
    const v = verdicts[i] as (typeof verdicts)[number];
    return Object.freeze({ policy: b.policy, rule: b.rule, action: b.action, failurePolicy: b.failurePolicy, image: b.image, path: b.path, result: v.result, message: v.message, digest: v.digest });
  });
  const blocking = results.filter((r) => (r.result === 'fail' && r.action === 'Enforce') || (r.result === 'error' && r.failurePolicy === 'Fail'));
  const allowed = blocking.length === 0;
  const warnings: string[] = [];
  for (const r of results) {
    if (r.result === 'pass' || (r.result === 'skip' && r.image === undefined)) continue;
    if (!allowed && r.result !== 'skip') continue;
    warnings.push(`policy ${r.policy}.${r.rule}: ${r.message}${r.result === 'error' ? ' (admitted: failurePolicy Ignore)' : ''}`);
  }
  let message: string | undefined;
  if (!allowed) {
    // Kyverno lists every rule that did not pass or skip, Audit ones included, one message per rule.
    const byRule = new Map<string, RuleFailure & { messages: string[] }>();
    for (const r of results) {
      if (r.result === 'pass' || r.result === 'skip') continue;
      const k = JSON.stringify([r.policy, r.rule]);
      const entry = byRule.get(k) ?? { policy: r.policy, rule: r.rule, message: '', messages: [] };
      if (!entry.messages.includes(r.message)) entry.messages.push(r.message);
      byRule.set(k, entry);
    }
    message = denyMessage(
      { kind: request.kind.kind, namespace: request.namespace, name: request.name },
      [...byRule.values()].map((f) => ({ policy: f.policy, rule: f.rule, message: f.messages.join('; ') })),
    );
  }
  const pins: DigestPin[] = [];
  const seen = new Set<string>();
  pending.forEach((p, i) => {
    const r = results[i];
    if (p.pin === undefined || r === undefined || r.result !== 'pass' || r.digest === undefined || seen.has(p.pin.path)) return;
    seen.add(p.pin.path);
    pins.push({ ...p.pin, digest: r.digest });
  });
  return Object.freeze({ allowed, message, warnings: Object.freeze(warnings), results: Object.freeze(results), patches: Object.freeze(allowed ? digestPatches(pins) : []) });
}
