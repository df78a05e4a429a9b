// The verification record on admitted objects: Kyverno's `kyverno.io/verify-images` and
// `kyverno.io/verify-images-scoped` annotations (reference §3 steps 2, 4 and §9 item 3), written
// from Sigil's own verdicts and never taken from the request. The mutating webhook overwrites them
// on CREATE and UPDATE; the validating webhook refuses an object whose record claims more than
// Sigil found; an UPDATE that leaves a digest-pinned image where it was passes on the stored
// object's record, so re-admitting the same object costs no registry call.

import { createHash } from 'node:crypto';
import type { ImageRuleResult } from './engine.js';
import { ImageReferenceError, ReviewError } from './errors.js';
import {
  decodeScopedVerifyImagesAnnotation,
  encodeScopedVerifyImagesAnnotation,
  encodeVerifyImagesAnnotation,
  extractImages,
  normalizeImage,
  VERIFY_IMAGES_ANNOTATION,
  VERIFY_IMAGES_SCOPED_ANNOTATION,
  type ImageVerificationStatus,
  type NormalizedImage,
  type ScopedVerifyImagesAnnotation,
  type VerifyImagesAnnotation,
} from './images.js';
import { policyKey, type KyvernoPolicy } from './model.js';
import { annotationPatches, escapePointerToken, type PatchOperation } from './patch.js';

/**
 * Sigil's own annotation beside Kyverno's: scoped policy key → fingerprint of the policy the
 * verdicts were reached under. A stored pass is carried over only while the policy is unchanged,
 * so new trust anchors, a removed certificate or a Kyverno-written record of the same name never
 * stand in for a verification.
 */
export const VERIFIED_POLICIES_ANNOTATION = 'sigil.dev/verified-policies';

const fingerprints = new WeakMap<KyvernoPolicy, string>();

/** sha256 of the policy's decoded spec (rules, attestors, certificates, actions). */
export function policyFingerprint(policy: KyvernoPolicy): string {
  let fingerprint = fingerprints.get(policy);
  if (fingerprint === undefined) {
    fingerprint = `sha256:${createHash('sha256').update(JSON.stringify(policy.spec)).digest('hex')}`;
    fingerprints.set(policy, fingerprint);
  }
  return fingerprint;
}

/** Both annotations' content. */
export interface VerificationRecord {
  /** normalized image → status, for tools that read Kyverno's pre-1.19 annotation. */
  readonly unscoped: VerifyImagesAnnotation;
  /** policy (`ns/name`, `/name` for a ClusterPolicy) → rule → image → status. */
  readonly scoped: ScopedVerifyImagesAnnotation;
  /** scoped policy key → policyFingerprint, for the policies in `scoped` that were given. */
  readonly policies: ReadonlyMap<string, string>;
}

/** The record's image key, as Kyverno writes it: `registry/path@digest`, or the normalized reference while the digest is unknown. */
export function recordImageKey(image: NormalizedImage, digest: string | undefined): string {
  const at = digest ?? image.digest;
  return at === undefined ? image.reference : `${image.registry}/${image.path}@${at}`;
}

/** The scoped annotation's policy key: a Policy's `ns/name` as it is, a ClusterPolicy's `name` as `/name`. */
export function scopedPolicyKey(policy: string): string {
  return policy.includes('/') ? policy : `/${policy}`;
}

/** Which status wins when rules disagree about an image in the unscoped map: a failure is never hidden. */
const STATUS_RANK: Readonly<Record<ImageVerificationStatus, number>> = Object.freeze({ fail: 2, pass: 1, skip: 0 });

function recordStatus(result: ImageRuleResult['result']): ImageVerificationStatus | undefined {
  // An error is no verdict (Kyverno records only what an attestor decided), so it is not recorded.
  return result === 'error' ? undefined : result;
}

function normalizedOrUndefined(image: string): NormalizedImage | undefined {
  try {
    return normalizeImage(image);
  } catch (error) {
    if (error instanceof ImageReferenceError) return undefined;
    throw error;
  }
}

/** The record of an evaluation's results: every image a rule decided (pass, fail or skip), keyed by its digest when known. */
export function buildVerificationRecord(results: readonly ImageRuleResult[], policies: readonly KyvernoPolicy[] = []): VerificationRecord {
  const unscoped = new Map<string, ImageVerificationStatus>();
  const scoped = new Map<string, Map<string, Map<string, ImageVerificationStatus>>>();
  for (const r of results) {
    const status = recordStatus(r.result);
    if (status === undefined || r.image === undefined) continue;
    const image = normalizedOrUndefined(r.image);
    if (image === undefined) continue;
    const key = recordImageKey(image, r.digest);
    const previous = unscoped.get(key);
    if (previous === undefined || STATUS_RANK[status] > STATUS_RANK[previous]) unscoped.set(key, status);
    const policy = scopedPolicyKey(r.policy);
    let rules = scoped.get(policy);
    if (rules === undefined) scoped.set(policy, (rules = new Map<string, Map<string, ImageVerificationStatus>>()));
    let images = rules.get(r.rule);
    if (images === undefined) rules.set(r.rule, (images = new Map<string, ImageVerificationStatus>()));
    const before = images.get(key);
    if (before === undefined || STATUS_RANK[status] > STATUS_RANK[before]) images.set(key, status);
  }
  const used = new Map<string, string>();
  for (const policy of policies) {
    const key = scopedPolicyKey(policyKey(policy));
    if (scoped.has(key)) used.set(key, policyFingerprint(policy));
  }
  return { unscoped, scoped, policies: used };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object's own annotations (not a pod template's), or an empty object. */
function annotationsOf(object: unknown): Record<string, unknown> {
  const metadata = isObject(object) ? object['metadata'] : undefined;
  const annotations = isObject(metadata) ? metadata['annotations'] : undefined;
  return isObject(annotations) ? annotations : {};
}

/**
 * The patches that make the object's record exactly `record`: both annotations set (replacing
 * whatever the request carried) when it records anything, both removed when it records nothing
 * but the request set them. Kyverno places these before the image patches; so must the caller.
 */
export function recordPatches(object: unknown, record: VerificationRecord): PatchOperation[] {
  if (record.unscoped.size > 0) {
    return annotationPatches(
      object,
      new Map([
        [VERIFY_IMAGES_ANNOTATION, encodeVerifyImagesAnnotation(record.unscoped)],
        [VERIFY_IMAGES_SCOPED_ANNOTATION, encodeScopedVerifyImagesAnnotation(record.scoped)],
        [VERIFIED_POLICIES_ANNOTATION, JSON.stringify(Object.fromEntries([...record.policies].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))],
      ]),
    );
  }
  const present = annotationsOf(object);
  return [VERIFY_IMAGES_ANNOTATION, VERIFY_IMAGES_SCOPED_ANNOTATION, VERIFIED_POLICIES_ANNOTATION]
    .filter((key) => Object.hasOwn(present, key))
    .map((key): PatchOperation => ({ op: 'remove', path: `/metadata/annotations/${escapePointerToken(key)}` }));
}

/** The scoped record an object carries, or undefined when it has none; throws ReviewError(ANNOTATION_INVALID) when it is not Kyverno's format. */
function scopedRecordOf(object: unknown): ScopedVerifyImagesAnnotation | undefined {
  const value = annotationsOf(object)[VERIFY_IMAGES_SCOPED_ANNOTATION];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ReviewError('ANNOTATION_INVALID', `annotation ${VERIFY_IMAGES_SCOPED_ANNOTATION}: expected a string`);
  return decodeScopedVerifyImagesAnnotation(value);
}

/**
 * One string per list of values, different for different lists: each value is prefixed by its
 * length, so no value (a policy, rule, namespace or kind from a request) can run into the next.
 * Cheaper than JSON.stringify on paths that build a key per request.
 */
export function compositeKey(...values: readonly string[]): string {
  let key = '';
  for (const value of values) key += `${value.length}:${value}`;
  return key;
}

/**
 * Claims in the object's scoped record that Sigil's own `results` do not back: a pass or skip
 * recorded for a rule this evaluation ran, for an image the object has, that the rule did not
 * pass or skip. Each is one line naming policy, rule and image. An unreadable record is one claim.
 * The validating webhook denies on any: the record is the webhook's to write, not the request's.
 */
export function unbackedClaims(object: unknown, kind: string, results: readonly ImageRuleResult[]): string[] {
  let record: ScopedVerifyImagesAnnotation | undefined;
  try {
    record = scopedRecordOf(object);
  } catch (error) {
    if (error instanceof ReviewError) return [error.message];
    throw error;
  }
  if (record === undefined) return [];
  const present = new Set<string>();
  for (const { image } of extractImages(object, kind)) {
    const normalized = normalizedOrUndefined(image);
    if (normalized !== undefined) present.add(recordImageKey(normalized, undefined));
  }
  const backed = new Map<string, Set<string>>();
  const evaluated = new Set<string>();
  for (const r of results) {
    const rule = compositeKey(scopedPolicyKey(r.policy), r.rule);
    evaluated.add(rule);
    if ((r.result !== 'pass' && r.result !== 'skip') || r.image === undefined) continue;
    const image = normalizedOrUndefined(r.image);
    if (image === undefined) continue;
    let keys = backed.get(rule);
    if (keys === undefined) backed.set(rule, (keys = new Set()));
    keys.add(recordImageKey(image, r.digest));
    keys.add(recordImageKey(image, undefined));
  }
  const claims: string[] = [];
  for (const [policy, rules] of record) {
    for (const [rule, images] of rules) {
      const at = compositeKey(policy, rule);
      if (!evaluated.has(at)) continue;
      for (const [image, status] of images) {
        if (status === 'fail' || !present.has(image) || backed.get(at)?.has(image) === true) continue;
        claims.push(`annotation ${VERIFY_IMAGES_SCOPED_ANNOTATION} claims ${image} is ${status} for policy ${policy} rule ${rule}, which Sigil's verification does not confirm`);
      }
    }
  }
  return claims;
}

/** The fingerprints in a stored object's VERIFIED_POLICIES_ANNOTATION; empty when absent or unreadable. */
function storedFingerprints(object: unknown): Map<string, string> {
  const value = annotationsOf(object)[VERIFIED_POLICIES_ANNOTATION];
  if (typeof value !== 'string' || value.length > 64 * 1024) return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return new Map();
  }
  if (!isObject(parsed)) return new Map();
  return new Map(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Answers whether an image at a pointer passed a rule before, by the stored object's record. */
export type VerifiedBefore = (policy: string, rule: string, path: string, image: NormalizedImage) => boolean;

/** Nothing passed before (CREATE, or an UPDATE whose stored object has no usable record). */
export const NOTHING_VERIFIED_BEFORE: VerifiedBefore = () => false;

/**
 * For an UPDATE: true when the image is pinned to a digest, sits at the same JSON pointer in the
 * stored object (`oldObject`) spelled the same way, and the stored object's scoped record says the
 * same policy and rule passed or skipped it, under the policy exactly as it is now (its
 * fingerprint in VERIFIED_POLICIES_ANNOTATION). The stored record got there through this webhook
 * (mutate overwrites it, validate refuses unbacked claims), so it is Sigil's word; a tag-only
 * image is never carried over, since its tag may have moved.
 */
export function verifiedBefore(oldObject: unknown, kind: string, policies: readonly KyvernoPolicy[]): VerifiedBefore {
  let record: ScopedVerifyImagesAnnotation | undefined;
  try {
    record = scopedRecordOf(oldObject);
  } catch (error) {
    if (error instanceof ReviewError) return NOTHING_VERIFIED_BEFORE;
    throw error;
  }
  if (record === undefined) return NOTHING_VERIFIED_BEFORE;
  const stored = record;
  const under = storedFingerprints(oldObject);
  const current = new Map(policies.map((p) => [scopedPolicyKey(policyKey(p)), policyFingerprint(p)]));
  let before: Map<string, string>;
  try {
    before = new Map(extractImages(oldObject, kind).map((e) => [e.path, e.image]));
  } catch (error) {
    if (error instanceof ReviewError) return NOTHING_VERIFIED_BEFORE;
    throw error;
  }
  return (policy, rule, path, image) => {
    if (image.digest === undefined || before.get(path) !== image.image) return false;
    const key = scopedPolicyKey(policy);
    if (under.get(key) === undefined || under.get(key) !== current.get(key)) return false;
    const status = stored.get(key)?.get(rule)?.get(recordImageKey(image, undefined));
    return status === 'pass' || status === 'skip';
  };
}
