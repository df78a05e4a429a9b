// Defaults of the Kubernetes client: timeouts, caps, page sizes, token refresh and watch backoff.
// Each number says where it comes from (STYLE.md rules 14 and 15); KubeClient and ListWatch options override them.

/** How long a connection attempt may take (undici's default); the API server is normally one hop away. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** A whole non-watch exchange, sending to last byte: client-go's default is none, kubectl's `--request-timeout` is commonly 30 s. */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * `timeoutSeconds` asked of the API server for one watch; it closes the stream then and the
 * ListWatch resumes from the last resourceVersion. client-go's reflector picks 5–10 minutes.
 */
export const WATCH_TIMEOUT_SECONDS = 300;

/** Silence on a watch stream after which it counts as dead: the server's own timeout plus a minute of slack. */
export const WATCH_IDLE_MARGIN_MS = 60_000;

/** Largest non-watch response body: one list page of `LIST_PAGE_SIZE` objects of up to 1.5 MiB (etcd's request limit) stays far below. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Largest error body read for its Status; a Status is a few hundred bytes. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Largest single watch event (one line of the stream): an object is at most 1.5 MiB in etcd, JSON-escaped it stays below this. */
export const MAX_WATCH_EVENT_BYTES = 16 * 1024 * 1024;

/** Objects per list page (`limit`); client-go's pager uses 500. */
export const LIST_PAGE_SIZE = 500;

/** Pages followed before a list fails with RESPONSE_INVALID: half a million objects at the default page size. */
export const MAX_LIST_PAGES = 1000;

/**
 * How often a token file is re-read. Bound service account tokens rotate (the kubelet refreshes
 * them at 80% of their lifetime, at least hourly); client-go re-reads the file every minute.
 */
export const TOKEN_REFRESH_MS = 60_000;

/** First reconnect delay of a ListWatch; doubles per failure (client-go's reflector backoff starts at 800 ms). */
export const WATCH_BACKOFF_INITIAL_MS = 800;

/** Ceiling of the reconnect delay (client-go's reflector caps at 30 s). */
export const WATCH_BACKOFF_MAX_MS = 30_000;

/** Retries of a GET answered 429/502/503/504; a ListWatch adds its own backoff on top, so two keep failures prompt. */
export const RETRY_MAX = 2;

/** First retry delay without Retry-After; doubles per attempt, with jitter. */
export const RETRY_BASE_DELAY_MS = 200;

/** The longest Retry-After honoured; a server asking for more gets the error at once (an admission review cannot wait longer). */
export const RETRY_AFTER_MAX_MS = 5_000;

/** Sent as `User-Agent` on every request. */
export const USER_AGENT = 'sigil';
