// The admission webhook server: admission.k8s.io/v1 AdmissionReview on /validate and /mutate, the
// Kyverno apiCall verifier endpoint /checkimages, and /healthz, /readyz, over node:https.

import { createServer, type Server } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  buildVerificationRecord,
  DEFAULT_WEBHOOK_TIMEOUT_SECONDS,
  decodeAdmissionReview,
  encodeAdmissionResponse,
  evaluateImages,
  labelMap,
  MAX_ADMISSION_REVIEW_BYTES,
  requestSummary,
  recordPatches,
  ReviewError,
  unbackedClaims,
  verifiedBefore,
  type AdmissionErrorCode,
  type AdmissionRequest,
  type AdmissionResponseInput,
  type EvaluationRequest,
  type ImageCheck,
  type ImageEvaluation,
  type KyvernoPolicy,
  type PolicyException,
  type Rule,
  type VerifyImage,
} from '../../admission/index.js';
import type { AdmissionMetrics } from './metrics.js';
import { ReportStore } from './reports.js';

/** Kyverno caps webhook timeouts at 30 s, as the apiserver does (reference §3c). */
const MAX_WEBHOOK_TIMEOUT_SECONDS = 30;

/** Largest /checkimages body: a list of image strings. */
export const MAX_CHECK_IMAGES_BYTES = 256 * 1024;

/** Most images one /checkimages call may name. */
export const MAX_CHECK_IMAGES = 256;

/** The policies the server enforces. */
export interface AdmissionPolicySet {
  readonly policies: readonly KyvernoPolicy[];
  readonly exceptions: readonly PolicyException[];
}

/** Options of AdmissionServer. */
export interface AdmissionServerOptions {
  /** PEM serving certificate chain and private key. */
  readonly tls: { readonly cert: Buffer | string; readonly key: Buffer | string };
  /** Verifies one image against one attestor entry (createNotaryImageVerifier in production). */
  readonly verifyImage: VerifyImage;
  /** The policies; until given (here or with setPolicies) /readyz answers 503 and reviews are refused. */
  readonly policies?: AdmissionPolicySet;
  /**
   * Subtracted from the webhook timeout (the largest `webhookTimeoutSeconds` of the policies,
   * default 10 s) to get the verification deadline, leaving time to answer before the apiserver
   * gives up; at most half the timeout is taken. Default 1000 ms.
   */
  readonly deadlineMarginMs?: number;
  /** Where PolicyReports of admitted resources go; GET /reports lists them. Default: kept in memory only. */
  readonly reports?: ReportStore;
  /** Told about failures outside any request's answer (a report that could not be written). */
  readonly onError?: (error: unknown) => void;
  /** The webhook configuration's `timeoutSeconds` (1–30), which bounds every review; default: from the policies. */
  readonly timeoutSeconds?: number;
  /** Records requests, results and verification facts; GET /metrics serves them. */
  readonly metrics?: AdmissionMetrics;
  /** A namespace's labels as the cluster has them, for namespaceSelector; undefined when unknown. */
  readonly namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined;
}

/** HTTP status of each review decoding error (one table, STYLE.md rule 7). */
const REVIEW_ERROR_STATUS: Partial<Record<AdmissionErrorCode, number>> = Object.freeze({
  REVIEW_TOO_LARGE: 413,
  REVIEW_MEDIA_TYPE_UNSUPPORTED: 415,
  REVIEW_INVALID: 400,
});

/** A request the server answers with a status and a one-line text body. */
class HttpProblem extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The abort reason when a request's verification deadline passes. */
class DeadlineError extends Error {}

/**
 * Wraps `verify` so an answer cut short by the deadline says so: the registry client reports only
 * that it was aborted, and people need to know it was the webhook's deadline, not the registry, that ended it.
 */
function deadlineAware(verify: VerifyImage): VerifyImage {
  return (image, rule, attestor, context) => {
    let pending: Promise<ImageCheck>;
    try {
      pending = verify(image, rule, attestor, context);
    } catch (error) {
      // A verifier that throws rather than rejects still fails only its own check.
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return pending.then((check) => {
      const reason: unknown = context.signal.reason;
      if (check.status !== 'error' || !(reason instanceof DeadlineError)) return check;
      return { ...check, message: `${check.message} (${reason.message})` };
    });
  };
}

/**
 * Reads the body, refusing (413) as soon as it passes `limit` bytes, whatever Content-Length says;
 * a refused body is not read further (the request is destroyed). Rejects when the request fails or
 * closes before its end.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new HttpProblem(413, `request body of ${declared} bytes exceeds the ${limit}-byte limit`));
  // Events rather than `for await`: the async iterator costs a few promises per chunk, and most bodies are one chunk.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength;
      if (size > limit) {
        done();
        req.destroy();
        reject(new HttpProblem(413, `request body exceeds the ${limit}-byte limit`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    };
    const onError = (error: Error): void => {
      done();
      reject(error);
    };
    const onClose = (): void => {
      done();
      reject(new Error('the request closed before its body ended'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The engine's view of an AdmissionRequest; without `namespaceLabels` (standalone) a namespace's labels are only its name label. */
function evaluationRequest(request: AdmissionRequest, namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined): EvaluationRequest {
  const summary = requestSummary(request);
  const metadata = isObject(request.object?.metadata) ? request.object.metadata : {};
  return {
    kind: request.kind,
    subresource: request.subResource,
    name: summary.name,
    namespace: summary.namespace,
    operation: request.operation,
    labels: labelMap(metadata.labels),
    annotations: labelMap(metadata.annotations),
    namespaceLabels: summary.namespace === '' ? {} : { ...namespaceLabels?.(summary.namespace), 'kubernetes.io/metadata.name': summary.namespace },
    userInfo: { username: request.userInfo.username, groups: request.userInfo.groups },
    object: request.object,
  };
}

/** A request-wide match-all: every Pod, any namespace, any operation. */
const MATCH_ANY_POD: Rule['match'] = Object.freeze({
  mode: 'any',
  filters: Object.freeze([
    Object.freeze({
      resources: Object.freeze({ kinds: ['Pod'], names: [], namespaces: [], annotations: undefined, selector: undefined, namespaceSelector: undefined, operations: undefined }),
      userInfo: Object.freeze({ roles: [], clusterRoles: [], subjects: [] }),
    }),
  ]),
});

/**
 * The policies as /checkimages applies them: only the image checks count (there is no resource to
 * match), so every rule with verifyImages matches a Pod anywhere, failures are Enforce, and autogen is off.
 */
function checkImagesPolicies(policies: readonly KyvernoPolicy[]): KyvernoPolicy[] {
  return policies.map((policy) => ({
    ...policy,
    kind: 'ClusterPolicy',
    spec: {
      ...policy.spec,
      rules: policy.spec.rules.filter((r) => r.verifyImages.length > 0).map((rule) => ({ ...rule, match: MATCH_ANY_POD, exclude: undefined, failureAction: 'Enforce' })),
      validationFailureAction: 'Enforce',
      validationFailureActionOverrides: [],
      applyRules: 'All',
      autogenControllers: [],
    },
  }));
}

/** The largest `webhookTimeoutSeconds` of the policies, else 10; between 1 and 30. */
function policyTimeoutSeconds(policies: readonly KyvernoPolicy[]): number {
  const values = policies.map((p) => p.spec.webhookTimeoutSeconds).filter((t): t is number => t !== undefined);
  return Math.min(MAX_WEBHOOK_TIMEOUT_SECONDS, Math.max(1, values.length === 0 ? DEFAULT_WEBHOOK_TIMEOUT_SECONDS : Math.max(...values)));
}

/** One image's answer in /checkimages. */
export interface CheckImageResult {
  readonly image: string;
  readonly verified: boolean;
  /** The digest it was verified at. */
  readonly digest?: string;
  readonly message: string;
  /** `policy.rule: result` for every rule that checked it. */
  readonly rules: readonly { readonly policy: string; readonly rule: string; readonly result: string; readonly message: string }[];
}

/** The /checkimages answer (the kyverno-notation-aws contract, policy 06). */
export interface CheckImagesResponse {
  readonly verified: boolean;
  readonly message: string;
  readonly results: readonly CheckImageResult[];
}

/**
 * The admission webhook. `listen` serves HTTPS; `close` stops accepting, lets in-flight reviews
 * finish (their deadline bounds them) and closes idle keep-alive connections.
 */
export class AdmissionServer {
  readonly #options: AdmissionServerOptions;
  readonly #verifyImage: VerifyImage;
  #policies: AdmissionPolicySet | undefined;
  #checkPolicies: KyvernoPolicy[] = [];
  /** timeoutSeconds from the policies, worked out when they are set: every review reads it. */
  #policyTimeoutSeconds = policyTimeoutSeconds([]);
  #server: Server | undefined;
  readonly #reports: ReportStore;
  #tls: { readonly cert: Buffer | string; readonly key: Buffer | string };

  constructor(options: AdmissionServerOptions) {
    this.#options = options;
    this.#reports = options.reports ?? new ReportStore();
    this.#tls = options.tls;
    this.#verifyImage = deadlineAware(options.verifyImage);
    if (options.policies !== undefined) this.setPolicies(options.policies);
  }

  /** Replaces the enforced policies; the next review uses them. */
  setPolicies(set: AdmissionPolicySet): void {
    this.#policies = set;
    this.#checkPolicies = checkImagesPolicies(set.policies);
    this.#policyTimeoutSeconds = policyTimeoutSeconds(set.policies);
  }

  /**
   * Serves new connections with this certificate chain and key (a renewed serving certificate);
   * open connections keep theirs. Throws, changing nothing, when the pair is not usable.
   */
  setTls(tls: { readonly cert: Buffer | string; readonly key: Buffer | string }): void {
    // createSecureContext checks that the key matches the certificate before anything is replaced.
    createSecureContext({ cert: tls.cert, key: tls.key });
    this.#tls = tls;
    this.#server?.setSecureContext({ cert: tls.cert, key: tls.key });
  }

  /**
   * The webhook timeout in seconds: the webhook configuration's (`timeoutSeconds` option) when
   * given — the apiserver waits no longer, whatever a policy says — else the largest of the
   * policies' `webhookTimeoutSeconds`, else 10; capped at 30.
   */
  get timeoutSeconds(): number {
    const configured = this.#options.timeoutSeconds;
    if (configured !== undefined) return Math.min(MAX_WEBHOOK_TIMEOUT_SECONDS, Math.max(1, configured));
    return this.#policyTimeoutSeconds;
  }

  /** How long verification may run for one request. */
  get deadlineMs(): number {
    const timeout = this.timeoutSeconds * 1000;
    return Math.max(timeout / 2, timeout - (this.#options.deadlineMarginMs ?? 1000));
  }

  /** Starts serving; resolves with the bound address. */
  async listen(port: number, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
    if (this.#server !== undefined) throw new Error('the admission server is already listening');
    // Kyverno's server uses 30 s read and write timeouts; headers must come sooner.
    const server = createServer({ cert: this.#tls.cert, key: this.#tls.key, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 30_000 }, (req, res) => {
      this.#handle(req, res).catch(() => {
        // #handle answers every failure itself; this only guards against a throw while answering
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    server.on('clientError', (_err, socket) => {
      // a TLS or HTTP parse failure of one client must not reach the process
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    const address = server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Stops accepting connections and waits for in-flight requests to be answered. */
  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      switch (path) {
        case '/healthz':
          return this.#text(res, req.method === 'GET' || req.method === 'HEAD' ? 200 : 405, 'ok');
        case '/readyz':
          if (req.method !== 'GET' && req.method !== 'HEAD') return this.#text(res, 405, 'use GET');
          return this.#policies === undefined ? this.#text(res, 503, 'policies are not loaded yet') : this.#text(res, 200, 'ok');
        case '/validate':
        case '/mutate':
          if (req.method !== 'POST') return this.#text(res, 405, `${path}: use POST with an AdmissionReview body`);
          return await this.#review(req, res, path === '/mutate');
        case '/metrics':
          if (req.method !== 'GET') return this.#text(res, 405, '/metrics: use GET');
          return await this.#metrics(res);
        case '/reports':
          if (req.method !== 'GET') return this.#text(res, 405, '/reports: use GET');
          return this.#reportList(req, res);
        case '/checkimages':
          if (req.method !== 'POST') return this.#text(res, 405, '/checkimages: use POST with {"images": [...]}');
          return await this.#checkImages(req, res);
        default:
          return this.#text(res, 404, `${path ?? '/'}: not found; the webhook serves /validate, /mutate, /checkimages, /reports, /metrics, /healthz and /readyz`);
      }
    } catch (error) {
      if (error instanceof HttpProblem) return this.#text(res, error.status, error.message);
      if (error instanceof ReviewError) {
        const status = REVIEW_ERROR_STATUS[error.code];
        if (status !== undefined) return this.#text(res, status, error.message.split('\n')[0] ?? error.message);
      }
      return this.#text(res, 500, `internal error: ${error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)}`);
    }
  }

  #text(res: ServerResponse, status: number, message: string): void {
    if (res.headersSent) return;
    // After a refused body the rest of it is not read: close the connection rather than parse it as a request.
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...(status === 413 ? { connection: 'close' } : {}) });
    res.end(`${message}\n`);
  }

  #json(res: ServerResponse, body: Uint8Array | string): void {
    // With a length the answer goes out in one piece, not chunked (writeHead fixes the framing before end sees the body).
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength });
    res.end(body);
  }

  /** Runs `work` with an AbortSignal that fires at the deadline (or when the client goes away); past the deadline plus a grace, `late` answers instead. */
  async #withDeadline<T>(req: IncomingMessage, work: (signal: AbortSignal) => Promise<T>, late: (seconds: number) => T): Promise<T> {
    const controller = new AbortController();
    const deadline = this.deadlineMs;
    const seconds = deadline / 1000;
    // A verifier that ignores the signal still cannot hold the answer past the webhook timeout.
    const grace = Math.min(250, (this.timeoutSeconds * 1000 - deadline) / 2);
    let cut: (answer: T) => void = () => undefined;
    const cutoff = new Promise<T>((resolve) => {
      cut = resolve;
    });
    // One timer at a time: the abort at the deadline arms the cutoff after the grace.
    let timer = setTimeout(() => {
      controller.abort(new DeadlineError(`could not complete in time: the ${seconds}s verification deadline passed`));
      timer = setTimeout(() => cut(late(seconds)), grace);
    }, deadline);
    const onClose = () => controller.abort(new Error('the client closed the connection'));
    req.socket.once('close', onClose);
    try {
      return await Promise.race([work(controller.signal), cutoff]);
    } finally {
      clearTimeout(timer);
      req.socket.off('close', onClose);
    }
  }

  async #review(req: IncomingMessage, res: ServerResponse, mutate: boolean): Promise<void> {
    const started = performance.now();
    const body = await readBody(req, MAX_ADMISSION_REVIEW_BYTES);
    const request = decodeAdmissionReview(body, req.headers['content-type']);
    const { response, evaluation, input } = await this.#decide(req, request, mutate);
    this.#json(res, encodeAdmissionResponse(response));
    const metrics = this.#options.metrics;
    if (metrics === undefined) return;
    const observed = {
      webhook: mutate ? ('mutate' as const) : ('validate' as const),
      kind: request.kind.kind,
      namespace: input?.namespace ?? request.namespace,
      operation: request.operation,
      dryRun: request.dryRun,
      allowed: response.allowed,
      seconds: (performance.now() - started) / 1000,
    };
    metrics.observeReview(observed);
    // Rule results are counted once per request, at the validating stage (the one every install has).
    if (!mutate && evaluation !== undefined) metrics.observeResults(observed, this.#policies?.policies ?? [], evaluation.results);
  }

  /** The answer to one decoded review, with the evaluation behind it when there was one. */
  async #decide(req: IncomingMessage, request: AdmissionRequest, mutate: boolean): Promise<{ response: AdmissionResponseInput; evaluation?: ImageEvaluation; input?: EvaluationRequest }> {
    const set = this.#policies;
    if (set === undefined) {
      // Not ready: never a silent allow.
      return { response: { uid: request.uid, allowed: false, message: 'sigil admission: policies are not loaded yet; retry shortly', code: 503 } };
    }
    // Kyverno skips DELETE and CONNECT for image verification: there is no new object to check.
    if (request.operation === 'DELETE' || request.operation === 'CONNECT' || request.object === null) {
      return { response: { uid: request.uid, allowed: true } };
    }
    const input = evaluationRequest(request, this.#options.namespaceLabels);
    const resource = `${input.kind.kind}/${input.namespace}/${input.name}`;
    let evaluation: ImageEvaluation;
    try {
      evaluation = await this.#withDeadline(
        req,
        (signal) =>
          evaluateImages({
            policies: set.policies,
            exceptions: set.exceptions,
            request: input,
            verifyImage: this.#verifyImage,
            signal,
            ...(request.operation === 'UPDATE' && request.oldObject !== null ? { verifiedBefore: verifiedBefore(request.oldObject, input.kind.kind, set.policies) } : {}),
          }),
        (seconds) => ({
          allowed: false,
          message: `resource ${resource} was blocked: image verification could not complete in time (the ${seconds}s deadline passed); denied as failurePolicy Fail requires`,
          warnings: [],
          results: [],
          patches: [],
        }),
      );
    } catch (error) {
      if (error instanceof ReviewError && error.code === 'RESOURCE_INVALID') {
        return { response: { uid: request.uid, allowed: false, message: `resource ${resource}: ${error.message}`, code: 400 }, input };
      }
      throw error;
    }
    if (!mutate && evaluation.allowed) {
      // The record is the mutating webhook's to write; a claim Sigil did not make is refused here,
      // so no stored object carries one for a later UPDATE to rely on.
      const claims = unbackedClaims(request.object, input.kind.kind, evaluation.results);
      if (claims.length > 0) return { response: { uid: request.uid, allowed: false, message: `resource ${resource} was blocked: ${claims.join('; ')}` }, evaluation, input };
    }
    if (!mutate && evaluation.allowed && !request.dryRun) this.#recordReport(request, input, evaluation);
    // Kyverno order: the record's annotation patches first, then the digest pins.
    const patch = mutate && evaluation.allowed ? [...recordPatches(request.object, buildVerificationRecord(evaluation.results, set.policies)), ...evaluation.patches] : [];
    return {
      response: {
        uid: request.uid,
        allowed: evaluation.allowed,
        ...(evaluation.message === undefined ? {} : { message: evaluation.message }),
        ...(patch.length > 0 ? { patch } : {}),
        warnings: evaluation.warnings,
      },
      evaluation,
      input,
    };
  }

  /** Records the validating stage's results as the resource's PolicyReport, in the background: the answer does not wait for it. */
  #recordReport(request: AdmissionRequest, input: EvaluationRequest, evaluation: ImageEvaluation): void {
    if (evaluation.results.length === 0) return;
    const metadata = isObject(request.object?.metadata) ? request.object.metadata : {};
    const uid = typeof metadata.uid === 'string' && metadata.uid !== '' ? metadata.uid : undefined;
    const resource = {
      apiVersion: input.kind.group === '' ? input.kind.version : `${input.kind.group}/${input.kind.version}`,
      kind: input.kind.kind,
      name: input.name,
      ...(input.namespace === '' ? {} : { namespace: input.namespace }),
      ...(uid === undefined ? {} : { uid }),
    };
    this.#reports.record({ resource, results: evaluation.results, policies: this.#policies?.policies ?? [] }).catch((error: unknown) => this.#options.onError?.(error));
  }

  async #metrics(res: ServerResponse): Promise<void> {
    const metrics = this.#options.metrics;
    if (metrics === undefined) return this.#text(res, 404, '/metrics: this server was started without metrics');
    const text = await metrics.text();
    res.writeHead(200, { 'content-type': metrics.contentType });
    res.end(text);
  }

  #reportList(req: IncomingMessage, res: ServerResponse): void {
    const namespace = new URL(req.url ?? '/', 'https://sigil.invalid').searchParams.get('namespace') ?? undefined;
    this.#json(res, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: this.#reports.list(namespace) }));
  }

  async #checkImages(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') throw new HttpProblem(415, `content type ${JSON.stringify(req.headers['content-type'] ?? '')} is not supported; send application/json`);
    const started = performance.now();
    const body = await readBody(req, MAX_CHECK_IMAGES_BYTES);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (cause) {
      throw new HttpProblem(400, `body is not JSON: ${cause instanceof Error ? (cause.message.split('\n')[0] ?? '') : 'syntax error'}`);
    }
    const images = isObject(parsed) ? parsed.images : undefined;
    if (!Array.isArray(images) || !images.every((i): i is string => typeof i === 'string' && i !== '')) throw new HttpProblem(400, 'body must be {"images": ["REGISTRY/REPO:TAG", ...]}');
    if (images.length > MAX_CHECK_IMAGES) throw new HttpProblem(400, `${images.length} images: at most ${MAX_CHECK_IMAGES} per call`);
    if (this.#policies === undefined) throw new HttpProblem(503, 'policies are not loaded yet');
    const answer = images.length === 0 ? { verified: true, message: 'no images to verify', results: [] } : await this.#withDeadline(req, (signal) => this.#verifyImages(images, signal), (seconds) => ({
      verified: false,
      message: `verification could not complete in time (the ${seconds}s deadline passed)`,
      results: images.map((image) => ({ image, verified: false, message: 'verification could not complete in time', rules: [] })),
    }));
    this.#json(res, JSON.stringify(answer));
    this.#options.metrics?.observeCheckImages({ images: images.length, verified: answer.verified, seconds: (performance.now() - started) / 1000 });
  }

  async #verifyImages(images: readonly string[], signal: AbortSignal): Promise<CheckImagesResponse> {
    const unique = [...new Set(images)];
    const object = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'checkimages' }, spec: { containers: unique.map((image, i) => ({ name: `c${i}`, image })) } };
    const evaluation = await evaluateImages({
      policies: this.#checkPolicies,
      exceptions: [],
      request: { kind: { group: '', version: 'v1', kind: 'Pod' }, name: 'checkimages', namespace: '', operation: 'CREATE', labels: {}, namespaceLabels: {}, object },
      verifyImage: this.#verifyImage,
      signal,
    });
    const results: CheckImageResult[] = unique.map((image) => {
      const rules = evaluation.results.filter((r) => r.image === image);
      const checked = rules.filter((r) => r.result !== 'skip');
      const failed = checked.find((r) => r.result !== 'pass');
      const digest = checked.find((r) => r.digest !== undefined)?.digest;
      // Fail closed: an image no verifyImages rule covers is not verified; one every rule skips is.
      const verified = rules.length > 0 && failed === undefined;
      const message = failed?.message ?? (rules.length === 0 ? `no verifyImages rule of the loaded policies covers ${image}` : checked.length === 0 ? `skipped image ${image}: it matches skipImageReferences` : `verified image signatures for ${image}`);
      return { image, verified, ...(digest === undefined ? {} : { digest }), message, rules: rules.map((r) => ({ policy: r.policy, rule: r.rule, result: r.result, message: r.message })) };
    });
    const bad = results.filter((r) => !r.verified);
    return {
      verified: bad.length === 0,
      message: bad.length === 0 ? `verified ${results.length} ${results.length === 1 ? 'image' : 'images'}` : bad.map((r) => r.message).join('; '),
      results,
    };
  }
}
