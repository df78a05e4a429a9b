// The referrers tag schema: how referrers are kept where the referrers API is missing.
// distribution-spec v1.1.0, "Referrers Tag Schema" and "Pushing Manifests with Subject".

import type { Descriptor } from './descriptor.js';
import { parseDigest } from './digest.js';
import type { ImageIndex } from './manifest.js';
import { MEDIA_TYPE_IMAGE_INDEX } from './mediatype.js';

/** distribution-spec v1.1.0, Referrers Tag Schema: `<ref>` has a limit of 64 characters. */
const REFERRERS_TAG_REF_LENGTH = 64;

/**
 * The tag that holds the referrers index of `subjectDigest`: `<alg>-<ref>`, with the encoded
 * digest truncated to 64 characters (distribution-spec v1.1.0, Referrers Tag Schema), so a
 * sha512 subject gets `sha512-` and the first 64 hex characters.
 */
export function referrersTag(subjectDigest: string): string {
  const { algorithm, encoded } = parseDigest(subjectDigest);
  return `${algorithm}-${encoded.slice(0, REFERRERS_TAG_REF_LENGTH)}`;
}

/** An empty referrers index, ready to have entries added. */
export function emptyReferrersIndex(): ImageIndex {
  return Object.freeze({ kind: 'index', schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests: [] });
}

/**
 * The index with `referrer` added (kept once, by digest). Returns `undefined` when it is
 * already present, so the caller can skip the write.
 */
export function addReferrer(index: ImageIndex, referrer: Descriptor): ImageIndex | undefined {
  if (index.manifests.some((m) => m.digest === referrer.digest)) return undefined;
  return Object.freeze({ ...index, manifests: [...index.manifests, referrer] });
}

/** The index without `digest`, or `undefined` when it was not listed. */
export function removeReferrer(index: ImageIndex, digest: string): ImageIndex | undefined {
  const manifests = index.manifests.filter((m) => m.digest !== digest);
  if (manifests.length === index.manifests.length) return undefined;
  return Object.freeze({ ...index, manifests });
}

/** Keeps the referrers of the wanted artifact type (all when `artifactType` is undefined). */
export function filterReferrers(referrers: readonly Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType === undefined ? [...referrers] : referrers.filter((r) => r.artifactType === artifactType);
}
