// Defaults of the registry client: timeouts, retries, redirects, upload sizes and page sizes.
// Each number says where it comes from (STYLE.md rules 14 and 15); RegistryClient options override them.

/** How long a connection attempt may take: undici's own default, long enough for a TLS handshake across the world. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * How long a whole metadata exchange (manifest, tag list, referrers page, token, upload
 * bookkeeping) may take, from sending to the last body byte: 30 s, as Docker's and oras's
 * HTTP clients allow for a response header, and far more than a 4 MiB document needs.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Blob transfers have no total deadline (a 10 GiB layer takes what it takes); instead the
 * response headers must arrive within this time, and the body may not stall longer than
 * BODY_IDLE_TIMEOUT_MS between chunks, in either direction.
 */
export const HEADERS_TIMEOUT_MS = 30_000;

/** Longest pause between two body chunks of a blob transfer before it counts as stalled (undici's bodyTimeout is 300 s; 60 s fails faster). */
export const BODY_IDLE_TIMEOUT_MS = 60_000;

/** Keep idle pooled connections this long; registries usually close after 60–120 s, so 10 s stays clear of races. */
export const KEEP_ALIVE_TIMEOUT_MS = 10_000;

/** Retries after the first attempt for idempotent requests on 429/502/503/504 and connection resets (oras-go's retry policy uses 5; 3 keeps failures prompt). */
export const MAX_RETRIES = 3;

/** First backoff delay; doubles per attempt with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"). */
export const RETRY_BASE_DELAY_MS = 250;

/** Ceiling of one backoff delay when the registry sends no Retry-After. */
export const RETRY_MAX_DELAY_MS = 5_000;

/**
 * The longest Retry-After Sigil waits for (RFC 9110 §10.2.3). A registry that asks for more
 * (Docker Hub's pull limit asks for hours) gets a TOOMANYREQUESTS error at once instead.
 */
export const RETRY_AFTER_MAX_MS = 30_000;

/** Redirects followed per request: Go's net/http stops after 10, and Docker and oras-go inherit that. */
export const MAX_REDIRECTS = 10;

/** Bytes read from an error response to decode its `errors` body; spec error bodies are a few hundred bytes. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Bytes read from a token service response; real tokens are under 8 KiB, JWTs with many scopes stay far below 1 MiB. */
export const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/**
 * Blobs up to this size are buffered, verified, and uploaded with one PUT (distribution-spec
 * v1.1.1, "Monolithic upload"); larger ones stream in chunks. 16 MiB bounds memory per
 * concurrent push while keeping every config and most layers to two requests.
 */
export const MONOLITHIC_UPLOAD_MAX_BYTES = 16 * 1024 * 1024;

/** Bytes per PATCH of a chunked upload (distribution-spec v1.1.1, "Pushing a blob in chunks"); streamed, never buffered. */
export const UPLOAD_CHUNK_BYTES = 32 * 1024 * 1024;

/** Tags requested per page (`n`, distribution-spec v1.1.1, "Listing Tags"); distribution caps `n` at 1000 since v2.8.2. */
export const TAG_PAGE_SIZE = 1000;

/** Pages of a tag list followed before stopping with RESPONSE_INVALID: a million tags at the default page size. */
export const MAX_TAG_PAGES = 1000;

/** Pages of a referrers list followed: 100 pages of a 4 MiB index is far beyond the 100 signatures verify tries. */
export const MAX_REFERRERS_PAGES = 100;

/** How long a docker-credential helper may run; desktop helpers can prompt for a keychain unlock. */
export const CREDENTIAL_HELPER_TIMEOUT_MS = 30_000;

/** Bytes a credential helper may print; its JSON answer is well under 64 KiB. */
export const MAX_CREDENTIAL_HELPER_OUTPUT = 1024 * 1024;

/** Token lifetime when the token service omits `expires_in` (Docker token authentication specification: 60 s). */
export const TOKEN_DEFAULT_EXPIRES_SECONDS = 60;

/** A cached token is dropped this long before it expires, so a request does not race the expiry. */
export const TOKEN_EXPIRY_MARGIN_MS = 5_000;

/** Sent as `User-Agent` on every request. */
export const USER_AGENT = 'sigil';

/** The knobs of the HTTP transport, all in milliseconds or counts; defaults above. */
export interface TransportSettings {
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyIdleTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxRetries: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly retryAfterMaxMs: number;
  readonly maxRedirects: number;
  readonly userAgent: string;
}

/** The transport settings Sigil ships with. */
export const DEFAULT_TRANSPORT_SETTINGS: TransportSettings = Object.freeze({
  connectTimeoutMs: CONNECT_TIMEOUT_MS,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  headersTimeoutMs: HEADERS_TIMEOUT_MS,
  bodyIdleTimeoutMs: BODY_IDLE_TIMEOUT_MS,
  keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
  maxRetries: MAX_RETRIES,
  retryBaseDelayMs: RETRY_BASE_DELAY_MS,
  retryMaxDelayMs: RETRY_MAX_DELAY_MS,
  retryAfterMaxMs: RETRY_AFTER_MAX_MS,
  maxRedirects: MAX_REDIRECTS,
  userAgent: USER_AGENT,
});

/** The sizes a Repository uses for uploads and listings; defaults above. */
export interface RepositorySettings {
  readonly monolithicUploadMaxBytes: number;
  readonly uploadChunkBytes: number;
  readonly tagPageSize: number;
  readonly maxTagPages: number;
  readonly maxReferrersPages: number;
}

/** The repository settings Sigil ships with. */
export const DEFAULT_REPOSITORY_SETTINGS: RepositorySettings = Object.freeze({
  monolithicUploadMaxBytes: MONOLITHIC_UPLOAD_MAX_BYTES,
  uploadChunkBytes: UPLOAD_CHUNK_BYTES,
  tagPageSize: TAG_PAGE_SIZE,
  maxTagPages: MAX_TAG_PAGES,
  maxReferrersPages: MAX_REFERRERS_PAGES,
});
