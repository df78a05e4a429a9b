// Errors raised by the registry module. Codes are API: add, never rename or reuse (STYLE.md rule 5).
// distribution-spec v1.1.1, Error Codes: registry codes are kept verbatim; Sigil adds transport codes.

import { printable } from '../oci/index.js';

/** The error codes of distribution-spec v1.1.1 ("Error Codes" table), spelled as registries send them. */
export const DISTRIBUTION_ERROR_CODES = Object.freeze([
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
] as const);

/** A distribution-spec v1.1.1 error code. */
export type DistributionErrorCode = (typeof DISTRIBUTION_ERROR_CODES)[number];

/**
 * Closed set of codes the registry module raises: the distribution-spec codes verbatim, then
 * Sigil's own for what happens around HTTP (connecting, timing out, bounds, credentials).
 */
export type RegistryErrorCode =
  | DistributionErrorCode
  /** The registry could not be reached (DNS, refused, reset). */
  | 'UNREACHABLE'
  /** A request (or a stalled body) took longer than its timeout. */
  | 'TIMEOUT'
  /** More redirects than the limit (defaults.ts MAX_REDIRECTS). */
  | 'REDIRECT_LIMIT'
  /** A response body is larger than the cap for its kind. */
  | 'RESPONSE_TOO_LARGE'
  /** A response does not follow the spec (bad JSON, missing header, wrong media type, foreign Link). */
  | 'RESPONSE_INVALID'
  /** The registry answered 5xx, or a status the spec does not give for the request. */
  | 'SERVER_ERROR'
  /** The credential store or a docker-credential helper failed. */
  | 'CREDENTIALS_ERROR'
  /** The caller's signal aborted the operation. */
  | 'ABORTED'
  /** A tag or other reference argument is malformed (checked before any request). */
  | 'REFERENCE_INVALID';

/** One entry of a registry's error body (distribution-spec v1.1.1, Error Codes), kept as received. */
export interface RegistryErrorDetail {
  /** The code as the registry sent it; may be outside the spec's list. */
  readonly code: string;
  readonly message?: string;
  readonly detail?: unknown;
}

/** Where an error happened and what the registry said; extra context lives here, not in the message. */
export interface RegistryErrorOptions {
  readonly registry: string;
  readonly repository?: string;
  readonly status?: number;
  readonly details?: readonly RegistryErrorDetail[];
  /** The response's Retry-After, in milliseconds. */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

/** Every error the registry module throws; `code` is stable, the message is for people and never holds secrets. */
export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  /** Registry host as the user named it (`127.0.0.1:5000`, `docker.io`). */
  readonly registry: string;
  readonly repository?: string;
  /** HTTP status, when a response was received. */
  readonly status?: number;
  /** The registry's error body entries, verbatim. */
  readonly details: readonly RegistryErrorDetail[];
  /** How long the registry asked to wait (Retry-After on a 429 or 503), in milliseconds. */
  readonly retryAfterMs?: number;

  constructor(code: RegistryErrorCode, message: string, options: RegistryErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    this.registry = options.registry;
    if (options.repository !== undefined) this.repository = options.repository;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    this.details = Object.freeze([...(options.details ?? [])]);
  }
}

/** True when `value` is a RegistryError, optionally with one of `codes`. */
export function isRegistryError(value: unknown, ...codes: RegistryErrorCode[]): value is RegistryError {
  return value instanceof RegistryError && (codes.length === 0 || codes.includes(value.code));
}

function isDistributionErrorCode(code: string): code is DistributionErrorCode {
  return (DISTRIBUTION_ERROR_CODES as readonly string[]).includes(code);
}

/**
 * Decodes a registry error body (`{"errors":[{"code","message","detail"}]}`, distribution-spec
 * v1.1.1, Error Codes). Anything else yields an empty list: error bodies are advisory.
 */
export function decodeErrorBody(bytes: Uint8Array): RegistryErrorDetail[] {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    // a non-JSON error body (an HTML proxy page, say) carries no codes; the status still speaks
    return [];
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { errors?: unknown }).errors)) return [];
  const out: RegistryErrorDetail[] = [];
  for (const entry of (doc as { errors: unknown[] }).errors.slice(0, 16)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { code, message, detail } = entry as Record<string, unknown>;
    if (typeof code !== 'string') continue;
    const item: { code: string; message?: string; detail?: unknown } = { code };
    if (typeof message === 'string') item.message = message;
    if (detail !== undefined) item.detail = detail;
    out.push(Object.freeze(item));
  }
  return out;
}

/** What the request was about, used to pick a code for a bare status and to word the message. */
export interface ErrorSubject {
  readonly registry: string;
  readonly repository?: string;
  /** The tag, digest or upload the request named, shown after the status (`404 manifest unknown: v9`). */
  readonly reference?: string;
  /** The code a 404 without a body means for this endpoint (MANIFEST_UNKNOWN on /manifests/, …). */
  readonly notFound?: DistributionErrorCode;
  /** The action a 401/403 refused, for the hint (`pull`, `push`, `delete`). */
  readonly action?: string;
}

function codeForStatus(status: number, subject: ErrorSubject): RegistryErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return subject.notFound ?? 'NAME_UNKNOWN';
  if (status === 405) return 'UNSUPPORTED';
  if (status === 413) return 'SIZE_INVALID';
  if (status === 416) return 'BLOB_UPLOAD_INVALID';
  if (status === 429) return 'TOOMANYREQUESTS';
  if (status >= 500) return 'SERVER_ERROR';
  return 'RESPONSE_INVALID';
}

/** `registry/repository` or `registry`, as messages name the place. */
export function locationOf(subject: Pick<ErrorSubject, 'registry' | 'repository'>): string {
  return subject.repository === undefined ? subject.registry : `${subject.registry}/${subject.repository}`;
}

/**
 * The error for an unsuccessful response: the first spec code in the body, else one chosen by
 * status; the message names the place, the status, the code and the next step.
 */
export function errorFromResponse(status: number, details: readonly RegistryErrorDetail[], subject: ErrorSubject, retryAfterMs?: number): RegistryError {
  const known = details.find((d) => isDistributionErrorCode(d.code));
  const code: RegistryErrorCode = known !== undefined ? (known.code as DistributionErrorCode) : codeForStatus(status, subject);
  const where = locationOf(subject);
  const words = code.toLowerCase().replaceAll('_', ' ');
  const about = subject.reference === undefined ? '' : `: ${printable(subject.reference, 100)}`;
  let hint = '';
  if (code === 'UNAUTHORIZED') hint = `; run sigil login ${subject.registry}`;
  else if (code === 'DENIED') hint = `; check that your account may ${subject.action ?? 'access'} ${subject.repository ?? 'this registry'}`;
  else if (code === 'TOOMANYREQUESTS') hint = '; try again later';
  const said = known?.message ?? details[0]?.message;
  const registrySays = said !== undefined && code !== 'UNAUTHORIZED' && said.toLowerCase() !== words ? ` (registry says: ${printable(said, 160)})` : '';
  return new RegistryError(code, `${where}: ${status} ${words}${about}${registrySays}${hint}`, {
    registry: subject.registry,
    ...(subject.repository === undefined ? {} : { repository: subject.repository }),
    status,
    details,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}
