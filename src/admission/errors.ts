// Errors raised by the admission module. Codes are API: add, never rename or reuse (STYLE.md rule 5).

/** Closed set of error codes the admission module raises. */
export type AdmissionErrorCode = 'POLICY_INVALID' | 'POLICY_UNSUPPORTED' | 'REVIEW_INVALID' | 'RESOURCE_INVALID' | 'IMAGE_REFERENCE_INVALID' | 'ANNOTATION_INVALID' | 'PATCH_INVALID' | 'REVIEW_TOO_LARGE' | 'REVIEW_MEDIA_TYPE_UNSUPPORTED' | 'REGISTRY_BACKING_OFF';

/** Base class of every error the admission module throws; `code` is stable, the message is for people. */
export class AdmissionError extends Error {
  readonly code: AdmissionErrorCode;
  constructor(code: AdmissionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem found while loading a policy document: where it is and why. */
export interface PolicyProblem {
  /** The file (or cluster object) the document came from. */
  readonly source: string;
  /** Path inside the document, e.g. `spec.rules[0].verifyImages[0].attestors[0].count`. */
  readonly path: string;
  readonly message: string;
  /** `error`: the policy is refused; `unsupported`: a field Sigil does not implement yet (also refused, never ignored). */
  readonly severity: 'error' | 'unsupported';
}

/** A Kyverno policy document is invalid or uses fields Sigil does not support; `problems` lists every one. */
export class PolicyError extends AdmissionError {
  readonly problems: readonly PolicyProblem[];
  constructor(problems: readonly PolicyProblem[]) {
    const first = problems[0];
    super(
      problems.some((p) => p.severity === 'error') ? 'POLICY_INVALID' : 'POLICY_UNSUPPORTED',
      first === undefined ? 'invalid policy' : `${first.source}: ${first.path}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
    );
    this.problems = problems;
  }
}

/** An AdmissionReview body or the resource inside it is malformed. */
export class ReviewError extends AdmissionError {}

/** An image string cannot be parsed as a container image reference. */
export class ImageReferenceError extends AdmissionError {}

/** A JSON Patch (RFC 6902) cannot be built or applied: a bad pointer, a missing target, a bad index. */
export class PatchError extends AdmissionError {}

/**
 * A registry that just failed as an unhealthy one does (unreachable, timing out, 429, 5xx) is not
 * called again until `retryAt`: admission answers at once that verification could not complete.
 */
export class RegistryBackoffError extends AdmissionError {
  /** Registry host as the image names it (`127.0.0.1:5000`, `docker.io`). */
  readonly registry: string;
  /** When calls to the registry resume. */
  readonly retryAt: Date;
  /** Unhealthy failures in a row so far. */
  readonly failures: number;
  /** The message of the failure that started or extended the window. */
  readonly lastFailure: string;
  constructor(options: { registry: string; retryAt: Date; failures: number; lastFailure: string; message: string; cause?: unknown }) {
    super('REGISTRY_BACKING_OFF', options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.registry = options.registry;
    this.retryAt = options.retryAt;
    this.failures = options.failures;
    this.lastFailure = options.lastFailure;
  }
}
