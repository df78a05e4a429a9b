// "Is this artifact trusted?": pick the trust policy statement, list the artifact's signatures
// through the referrers API (or tag schema), fetch each within Notation's size limits and verify
// them in order until one passes (notation-go notation.go Verify).

import {
  MAX_ENVELOPE_BYTES,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPE_NOTARY_SIGNATURE,
  readVerified,
  type Descriptor,
  type ReadOnlyTarget,
  type ReferrerLister,
} from '../oci/index.js';
import {
  decodeSignatureManifest,
  findApplicableTrustPolicy,
  type SignatureManifest,
  type TrustPolicyDocument,
  type TrustPolicyStatement,
  type VerificationOutcome,
  type Verifier,
} from '../notary/index.js';
import { VerifyError } from './errors.js';

/** notation-go's default for --max-signatures: signatures tried per artifact before giving up. */
export const DEFAULT_MAX_SIGNATURES = 100;

/** Where signatures are read from: a registry repository or an OCI layout. */
export type SignatureSource = ReadOnlyTarget & ReferrerLister;

/** One signature that was tried. */
export interface SignatureAttempt {
  /** The signature manifest's descriptor. */
  readonly descriptor: Descriptor;
  /** The verifier's outcome; undefined when the signature could not even be fetched. */
  readonly outcome: VerificationOutcome | undefined;
  readonly status: 'passed' | 'failed';
  /** Why it failed (the failed check, or why it could not be retrieved); undefined when it passed. */
  readonly message: string | undefined;
}

/** The answer for one artifact: every signature tried, and the verdict. */
export interface VerificationReport {
  /** `registry/repository@digest` (or `scope@digest` for a layout), as the policy saw it. */
  readonly reference: string;
  readonly artifact: Descriptor;
  readonly statement: { readonly name: string; readonly level: string };
  /**
   * `verified`: one signature passed; `skipped`: the statement's level is skip; `failed`: no
   * signature, or none passed.
   */
  readonly status: 'verified' | 'skipped' | 'failed';
  readonly signatures: readonly SignatureAttempt[];
  /** The attempt that passed. */
  readonly verified: SignatureAttempt | undefined;
  /** Notation's summary line when status is failed. */
  readonly message: string | undefined;
}

/** What to verify, against what. */
export interface VerifyArtifactRequest {
  readonly source: SignatureSource;
  /** The resolved artifact (manifest) descriptor. */
  readonly artifact: Descriptor;
  /** `registry/repository` (or the `--scope` of a layout) the trust policy's registryScopes are matched against. */
  readonly scope: string;
  readonly trustPolicy: TrustPolicyDocument;
  readonly verifier: Verifier;
  readonly maxSignatures?: number;
  readonly userMetadata?: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}

/** Lists the Notary signature manifests of `subject` (referrers with the notary artifact type). */
export async function* listSignatures(source: ReferrerLister, subject: Descriptor, options: { signal: AbortSignal }): AsyncIterable<Descriptor> {
  for await (const referrer of source.referrers(subject, { signal: options.signal, artifactType: MEDIA_TYPE_NOTARY_SIGNATURE })) {
    // Filter again: a registry may ignore the filter without saying so, and the tag schema has none.
    if (referrer.artifactType === MEDIA_TYPE_NOTARY_SIGNATURE) yield referrer;
  }
}

/**
 * Fetches a signature manifest and its envelope, within the 4 MiB / 32 MiB limits notation-go
 * applies (VerifyError SIZE_EXCEEDS_LIMIT, raised before the oversized content is read).
 */
export async function fetchSignature(source: ReadOnlyTarget, descriptor: Descriptor, options: { signal: AbortSignal }): Promise<{ manifest: SignatureManifest; envelope: Uint8Array }> {
  if (descriptor.size > MAX_MANIFEST_BYTES) throw new VerifyError('SIZE_EXCEEDS_LIMIT', `signature manifest ${descriptor.digest} is ${descriptor.size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
  const manifestBytes = await readVerified(await source.fetch(descriptor, options), descriptor, `signature manifest ${descriptor.digest}`);
  const manifest = decodeSignatureManifest(manifestBytes, descriptor.mediaType, `signature manifest ${descriptor.digest}`);
  if (manifest.envelope.size > MAX_ENVELOPE_BYTES) throw new VerifyError('SIZE_EXCEEDS_LIMIT', `signature envelope ${manifest.envelope.digest} is ${manifest.envelope.size} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit`);
  const envelope = await readVerified(await source.fetch(manifest.envelope, options), manifest.envelope, `signature envelope ${manifest.envelope.digest}`);
  return { manifest, envelope };
}

/** The statement that applies to `scope@digest`; throws TrustPolicyError when none does. */
export function statementFor(trustPolicy: TrustPolicyDocument, scope: string, artifact: Descriptor): TrustPolicyStatement {
  return findApplicableTrustPolicy(trustPolicy, `${scope}@${artifact.digest}`);
}

/**
 * Verifies an artifact: the first signature that passes wins; at most `maxSignatures` are tried
 * and each attempt is reported. A signature that cannot be fetched or parsed counts as a failed
 * attempt and the next one is tried (notation-go aborts the whole verification instead; going on
 * keeps one garbage referrer from hiding a good signature, and the verdict still fails closed).
 */
export async function verifyArtifact(request: VerifyArtifactRequest): Promise<VerificationReport> {
  const max = request.maxSignatures ?? DEFAULT_MAX_SIGNATURES;
  if (!Number.isInteger(max) || max <= 0) throw new VerifyError('MAX_SIGNATURES_INVALID', `max-signatures value ${max} must be a positive number`);
  const reference = `${request.scope}@${request.artifact.digest}`;
  const statement = statementFor(request.trustPolicy, request.scope, request.artifact);
  const base = { reference, artifact: request.artifact, statement: { name: statement.name, level: statement.level.name } };
  if (statement.signatureVerification.level === 'skip') {
    return Object.freeze({ ...base, status: 'skipped', signatures: [], verified: undefined, message: undefined });
  }
  const attempts: SignatureAttempt[] = [];
  let listed = 0;
  for await (const descriptor of listSignatures(request.source, request.artifact, { signal: request.signal })) {
    listed++;
    if (attempts.length >= max) {
      return Object.freeze({ ...base, status: 'failed', signatures: attempts, verified: undefined, message: `signature evaluation stopped. The configured limit of ${max} signatures to verify per artifact exceeded` });
    }
    let fetched;
    try {
      fetched = await fetchSignature(request.source, descriptor, { signal: request.signal });
    } catch (error) {
      if (request.signal.aborted) throw error;
      attempts.push(Object.freeze({ descriptor, outcome: undefined, status: 'failed', message: `unable to retrieve the signature: ${(error as Error).message}` }));
      continue;
    }
    const outcome = await request.verifier.verifySignature({
      envelope: { mediaType: fetched.manifest.envelope.mediaType, bytes: fetched.envelope },
      statement,
      artifact: request.artifact,
      ...(request.userMetadata === undefined ? {} : { userMetadata: request.userMetadata }),
    });
    const attempt: SignatureAttempt = Object.freeze({ descriptor, outcome, status: outcome.status, message: outcome.failure?.message });
    attempts.push(attempt);
    if (outcome.status === 'passed') return Object.freeze({ ...base, status: 'verified', signatures: attempts, verified: attempt, message: undefined });
  }
  const message = listed === 0 ? `no signature is associated with "${reference}", make sure the artifact was signed successfully` : `signature verification failed for all the signatures associated with ${reference}`;
  return Object.freeze({ ...base, status: 'failed', signatures: attempts, verified: undefined, message });
}
