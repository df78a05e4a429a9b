// Errors raised by the kube module. Codes are API: add, never rename or reuse (STYLE.md rule 5).
// Kubernetes API conventions, "Response Status Kind": HTTP statuses map to codes; the Status `reason` is kept verbatim.

/** Closed set of codes the kube module raises. */
export type KubeErrorCode =
  /** A kubeconfig or the in-cluster service account files are missing, unreadable or malformed. */
  | 'CONFIG_INVALID'
  /** A kubeconfig asks for something Sigil does not do yet (`exec`, `auth-provider`). */
  | 'CONFIG_UNSUPPORTED'
  /** 400, 405, 406, 415: the API server refused the request as malformed. */
  | 'BAD_REQUEST'
  /** 401: no or bad credentials. */
  | 'UNAUTHORIZED'
  /** 403: the credentials may not do this (RBAC). */
  | 'FORBIDDEN'
  /** 404: the object, the namespace or the resource type (CRD not installed) does not exist. */
  | 'NOT_FOUND'
  /** 409: AlreadyExists on create, Conflict on a stale resourceVersion; `reason` tells which. */
  | 'CONFLICT'
  /** 410: the resourceVersion or continue token is too old (Expired, Gone); relist. */
  | 'GONE'
  /** 422: the object fails validation. */
  | 'INVALID'
  /** 429: the API server's priority and fairness throttled the request. */
  | 'TOO_MANY_REQUESTS'
  /** 5xx or a status the API conventions do not give. */
  | 'SERVER_ERROR'
  /** The API server could not be reached (DNS, refused, reset, TLS handshake). */
  | 'UNREACHABLE'
  /** A request (or a stalled watch) took longer than its timeout. */
  | 'TIMEOUT'
  /** The caller's signal aborted the operation, or the watcher was stopped. */
  | 'ABORTED'
  /** A response is not what the API conventions describe (bad JSON, no items, bad watch event). */
  | 'RESPONSE_INVALID'
  /** A response body or watch event is larger than its cap (defaults.ts). */
  | 'RESPONSE_TOO_LARGE'
  /** A ListWatch's onChange callback threw; the watch goes on. */
  | 'CALLBACK_FAILED';

/** Where an error happened and what the API server said; context lives here, not in the message. */
export interface KubeErrorOptions {
  /** `GET`, `PUT`, …, when the error is about a request. */
  readonly method?: string;
  /** The request path without the query (`/api/v1/namespaces`). */
  readonly path?: string;
  /** HTTP status, or the `code` of a watch ERROR event's Status. */
  readonly status?: number;
  /** The Status object's `reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Expired`), verbatim. */
  readonly reason?: string;
  readonly cause?: unknown;
}

/** Every error the kube module throws; `code` is stable, the message is one line and never holds a token. */
export class KubeError extends Error {
  readonly code: KubeErrorCode;
  readonly method?: string;
  readonly path?: string;
  readonly status?: number;
  readonly reason?: string;

  constructor(code: KubeErrorCode, message: string, options: KubeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    if (options.method !== undefined) this.method = options.method;
    if (options.path !== undefined) this.path = options.path;
    if (options.status !== undefined) this.status = options.status;
    if (options.reason !== undefined) this.reason = options.reason;
  }
}

/** True when `value` is a KubeError, optionally with one of `codes`. */
export function isKubeError(value: unknown, ...codes: KubeErrorCode[]): value is KubeError {
  return value instanceof KubeError && (codes.length === 0 || codes.includes(value.code));
}

/** The code for an HTTP status (or a Status object's `code`), per the API conventions' status table. */
export function codeForStatus(status: number): KubeErrorCode {
  switch (status) {
    case 400:
    case 405:
    case 406:
    case 415:
      return 'BAD_REQUEST';
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'CONFLICT';
    case 410:
      return 'GONE';
    case 422:
      return 'INVALID';
    case 429:
      return 'TOO_MANY_REQUESTS';
    case 504:
      return 'TIMEOUT';
    default:
      return 'SERVER_ERROR';
  }
}
