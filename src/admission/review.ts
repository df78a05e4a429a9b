// AdmissionReview codec (`admission.k8s.io/v1`, kubernetes/api admission/v1/types.go): decode the
// apiserver's request, encode the webhook's response, and format denials as Kyverno does.

import { ReviewError } from './errors.js';

/** The only AdmissionReview version Sigil speaks (the webhook configurations list `admissionReviewVersions: [v1]`). */
export const ADMISSION_REVIEW_API_VERSION = 'admission.k8s.io/v1';

/** The `kind` of every AdmissionReview body, request and response alike. */
export const ADMISSION_REVIEW_KIND = 'AdmissionReview';

/**
 * Largest AdmissionReview body accepted: 3 MiB, the apiserver's own write limit
 * (`MaxRequestBodyBytes`, kubernetes/apiserver pkg/server/config.go) and issue #5's bound. An
 * UPDATE carries `object` and `oldObject`, so a review of a near-limit object can exceed it; those
 * objects are far above anything a Pod or a controller template holds.
 */
export const MAX_ADMISSION_REVIEW_BYTES = 3 * 1024 * 1024;

/**
 * Deepest nesting of objects and arrays accepted in a review body. The apiserver allows 10,000
 * (apimachinery pkg/util/json `maxDepth`); built-in kinds nest fewer than 30 levels, and 1,000
 * keeps every recursive walk over the object (matching, patching, JSON.stringify) far from Node's
 * stack limit while leaving room for custom resources.
 */
export const MAX_ADMISSION_REVIEW_DEPTH = 1000;

/** The media type kube-apiserver sends and expects back (kubernetes/apiserver pkg/util/webhook/client.go). */
export const ADMISSION_REVIEW_MEDIA_TYPE = 'application/json';

/** A JSON value as decoded from the review body. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;

/** A JSON object as decoded from the review body (a Kubernetes object, or its options). */
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** `admission/v1` Operation: PATCH and PUT arrive as UPDATE; CONNECT is exec/attach/proxy. */
export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

const OPERATIONS: readonly AdmissionOperation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** `metav1.GroupVersionKind`; `group` is `""` for the core group (Pods). */
export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** `metav1.GroupVersionResource`; `resource` is the plural lower-case name (`pods`, `deployments`). */
export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

/** `authenticationv1.UserInfo` of the requester; absent lists and maps decode as empty. */
export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

/**
 * `admission/v1` AdmissionRequest. Optional strings the apiserver omits when empty (`subResource`,
 * `name` under `generateName`, `namespace` of cluster-scoped kinds) decode as `""`, as in Go.
 */
export interface AdmissionRequest {
  /** New for every webhook call (the mutating and the validating call of one API request differ); echoed in the response. */
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  readonly subResource: string;
  /** The kind of the original API request; equals `kind` unless the apiserver converted it (`matchPolicy: Equivalent`). */
  readonly requestKind: GroupVersionKind;
  readonly requestResource: GroupVersionResource;
  readonly requestSubResource: string;
  readonly name: string;
  readonly namespace: string;
  readonly operation: AdmissionOperation;
  readonly userInfo: UserInfo;
  /** The new object; `null` on DELETE. For CONNECT, the options object (e.g. PodExecOptions). */
  readonly object: JsonObject | null;
  /** The stored object on UPDATE and DELETE; `null` on CREATE and CONNECT. */
  readonly oldObject: JsonObject | null;
  readonly dryRun: boolean;
  /** CreateOptions, UpdateOptions or DeleteOptions; `null` for CONNECT. */
  readonly options: JsonObject | null;
}

/** What a person needs to recognise a request: in denials, reports, logs and metrics. */
export interface RequestSummary {
  readonly kind: string;
  /** `""` for cluster-scoped kinds. */
  readonly namespace: string;
  /** The object's name; at the mutating stage of a `generateName` CREATE, the `generateName` prefix. */
  readonly name: string;
  /** Set when the object is named by `generateName` (the mutating stage sees only the prefix). */
  readonly generateName?: string;
  readonly operation: AdmissionOperation;
  readonly dryRun: boolean;
}

/** One RFC 6902 JSON Patch operation, as the mutating webhook returns them. */
export interface AdmissionPatchOperation {
  readonly op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  readonly path: string;
  readonly value?: unknown;
  readonly from?: string;
}

/** What the webhook answers; encoded into an `admission/v1` AdmissionResponse. */
export interface AdmissionResponseInput {
  /** `request.uid`, echoed verbatim (the apiserver rejects any other). */
  readonly uid: string;
  readonly allowed: boolean;
  /** Shown to the user after `admission webhook "<name>" denied the request: `; read only when `allowed` is false. */
  readonly message?: string;
  /** HTTP status for a denial; the apiserver turns an absent code or one below 400 into 400. */
  readonly code?: number;
  /** JSON Patch for the mutating webhook; an empty list is omitted (it changes nothing). */
  readonly patch?: readonly AdmissionPatchOperation[];
  /** Returned to the client as `Warning: 299` headers; keep each under 120 characters. */
  readonly warnings?: readonly string[];
  /** Recorded in the audit log as `<webhook name>/<key>`. */
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

/** One failed (or errored) rule in a denial: Kyverno's `{policy: {rule: message}}` entry. */
export interface RuleFailure {
  readonly policy: string;
  readonly rule: string;
  readonly message: string;
}

/** The resource named in a denial (`RequestSummary` fits). */
export interface DeniedResource {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

function invalid(message: string, cause?: unknown): ReviewError {
  return new ReviewError('REVIEW_INVALID', `admission review ${message}`, cause === undefined ? undefined : { cause });
}

/** A user-supplied value for a message: JSON-quoted (so it stays on one line) and cut to 64 characters. */
function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${quote(value)}`;
}

function checkMediaType(contentType: string | undefined): void {
  const unsupported = (why: string): ReviewError =>
    new ReviewError('REVIEW_MEDIA_TYPE_UNSUPPORTED', `admission review content type ${why}; send ${ADMISSION_REVIEW_MEDIA_TYPE}`);
  if (contentType === undefined || contentType.trim() === '') throw unsupported('is missing');
  const [type = '', ...parameters] = contentType.split(';');
  if (type.trim().toLowerCase() !== ADMISSION_REVIEW_MEDIA_TYPE) throw unsupported(`${quote(contentType)} is not supported`);
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=').map((part) => part.trim().toLowerCase());
    // RFC 8259 §8.1: JSON is UTF-8; a charset parameter, if sent, may only say so.
    if (name !== 'charset' || value.replace(/^"(.*)"$/, '$1') !== 'utf-8') throw unsupported(`${quote(contentType)} has an unsupported parameter`);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Rejects nesting deeper than MAX_ADMISSION_REVIEW_DEPTH and duplicate object keys in `text`, which
 * JSON.parse has accepted. Duplicates are refused because parsers disagree on which copy wins
 * (Go's encoding/json and JSON.parse keep the last, others the first): the apiserver, Sigil and any
 * other webhook must all see the same object.
 */
function checkStructure(text: string): void {
  // The quick scan says only whether the text is fine; the rare body that is not is scanned again
  // by the one that names the place.
  if (!structureIsFine(text)) explainStructure(text);
}

/** Objects with more keys than this look keys up in a Set; fewer are compared one by one, which allocates nothing. */
const LINEAR_KEY_LOOKUP = 16;

/** checkStructure's question without its message: false at the first duplicate key or too deep nesting. */
function structureIsFine(text: string): boolean {
  // The keys of every open object, innermost last; per open container where its keys begin in
  // `keys`, or -1 for an array; and a Set for an open object past LINEAR_KEY_LOOKUP keys.
  // `keys` is used up to `count` and never shrunk: setting an array's length costs more than the scan.
  const keys: string[] = [];
  let count = 0;
  const starts: number[] = [];
  const sets: (Set<string> | undefined)[] = [];
  let depth = 0;
  let expectKey = false;
  let backslash = text.indexOf('\\');
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // JSON.parse accepted the text, so every string is closed.
      let end = i + 1;
      let escaped = false;
      for (;;) {
        const quote = text.indexOf('"', end);
        if (backslash !== -1 && backslash < end) backslash = text.indexOf('\\', end);
        if (backslash === -1 || backslash > quote) {
          end = quote;
          break;
        }
        escaped = true;
        end = backslash + 2;
      }
      if (expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        const top = depth - 1;
        const from = starts[top] ?? 0;
        const set = sets[top];
        if (set !== undefined) {
          if (set.has(key)) return false;
          set.add(key);
        } else {
          for (let k = from; k < count; k++) if (keys[k] === key) return false;
          keys[count++] = key;
          if (count - from > LINEAR_KEY_LOOKUP) sets[top] = new Set(keys.slice(from, count));
        }
        expectKey = false;
      }
      i = end;
    } else if (c === 0x2c /* , */) {
      expectKey = starts[depth - 1] !== -1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth >= MAX_ADMISSION_REVIEW_DEPTH) return false;
      sets[depth] = undefined;
      starts[depth++] = c === 0x7b ? count : -1;
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      const from = starts[--depth] ?? -1;
      if (from !== -1) count = from;
      sets[depth] = undefined;
      expectKey = false;
    }
  }
  return true;
}

/** Throws REVIEW_INVALID naming the first duplicate key or the first place nesting goes too deep in `text`. */
function explainStructure(text: string): void {
  // One frame per open container: the keys seen (objects) and the path segment for messages.
  const keys: (Set<string> | null)[] = [];
  const path: (string | number)[] = [];
  let expectKey = false;
  // Strings are most of the text: find their ends with indexOf rather than a character loop,
  // remembering where the next backslash is so each string costs one search.
  let backslash = text.indexOf('\\');
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (keys.length >= MAX_ADMISSION_REVIEW_DEPTH) throw invalid(`nests deeper than ${MAX_ADMISSION_REVIEW_DEPTH} levels at ${render(path)}`);
      keys.push(c === 0x7b ? new Set() : null);
      path.push(c === 0x7b ? '' : 0);
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      keys.pop();
      path.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      const top = path.length - 1;
      if (typeof path[top] === 'number') path[top] += 1;
      expectKey = keys[top] !== null;
    } else if (c === 0x22 /* " */) {
      // JSON.parse accepted the text, so every string is closed.
      let end = i + 1;
      let escaped = false;
      for (;;) {
        const quote = text.indexOf('"', end);
        if (backslash !== -1 && backslash < end) backslash = text.indexOf('\\', end);
        if (backslash === -1 || backslash > quote) {
          end = quote;
          break;
        }
        // An escape before the quote: skip it (it may be \" or \\) and look again.
        escaped = true;
        end = backslash + 2;
      }
      if (expectKey) {
        const seen = keys[keys.length - 1];
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        path[path.length - 1] = key;
        if (seen?.has(key)) throw invalid(`has a duplicate key at ${render(path)}`);
        seen?.add(key);
        expectKey = false;
      }
      i = end;
    }
  }
}

function render(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment) ? `${out === '' ? '' : '.'}${segment}` : `[${quote(segment)}]`;
  }
  if (out === '') return 'the top level';
  // A path 1,000 levels deep must not turn into a 4,000-character message.
  return out.length > 120 ? `${out.slice(0, 117)}...` : out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: unknown, path: string): Record<string, unknown> {
  if (!isObject(value)) throw invalid(`${path}: must be an object, got ${describe(value)}`);
  return value;
}

function stringAt(value: unknown, path: string, { nonEmpty = false } = {}): string {
  if (typeof value !== 'string') throw invalid(`${path}: must be a string, got ${describe(value)}`);
  if (nonEmpty && value === '') throw invalid(`${path}: must not be empty`);
  return value;
}

/** A field Go declares `omitempty`: absent means `""`. */
function optionalStringAt(value: unknown, path: string): string {
  return value === undefined ? '' : stringAt(value, path);
}

function stringListAt(value: unknown, path: string): readonly string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`${path}: must be an array of strings, got ${describe(value)}`);
  return value.map((item, index) => stringAt(item, `${path}[${index}]`));
}

/** `object`, `oldObject` and `options` are RawExtensions holding a Kubernetes object, or null. */
function rawObjectAt(value: unknown, path: string): JsonObject | null {
  if (value === undefined || value === null) return null;
  return objectAt(value, path) as JsonObject;
}

function groupVersionKindAt(value: unknown, path: string): GroupVersionKind {
  const gvk = objectAt(value, path);
  return {
    group: stringAt(gvk.group, `${path}.group`),
    version: stringAt(gvk.version, `${path}.version`, { nonEmpty: true }),
    kind: stringAt(gvk.kind, `${path}.kind`, { nonEmpty: true }),
  };
}

function groupVersionResourceAt(value: unknown, path: string): GroupVersionResource {
  const gvr = objectAt(value, path);
  return {
    group: stringAt(gvr.group, `${path}.group`),
    version: stringAt(gvr.version, `${path}.version`, { nonEmpty: true }),
    resource: stringAt(gvr.resource, `${path}.resource`, { nonEmpty: true }),
  };
}

function userInfoAt(value: unknown, path: string): UserInfo {
  // The apiserver always sends userInfo; hand-trimmed test bodies do not, and Go decodes the absence as an empty UserInfo.
  if (value === undefined) return { username: '', groups: [], extra: {} };
  const info = objectAt(value, path);
  const extra: Record<string, readonly string[]> = {};
  if (info.extra !== undefined && info.extra !== null) {
    for (const [key, values] of Object.entries(objectAt(info.extra, `${path}.extra`))) extra[key] = stringListAt(values, `${path}.extra[${quote(key)}]`);
  }
  return {
    username: optionalStringAt(info.username, `${path}.username`),
    ...(info.uid === undefined ? {} : { uid: stringAt(info.uid, `${path}.uid`) }),
    groups: stringListAt(info.groups, `${path}.groups`),
    extra,
  };
}

function operationAt(value: unknown, path: string): AdmissionOperation {
  const operation = OPERATIONS.find((candidate) => candidate === value);
  if (operation === undefined) throw invalid(`${path}: must be one of ${OPERATIONS.join(', ')}, got ${describe(value)}`);
  return operation;
}

function requestAt(value: unknown): AdmissionRequest {
  const request = objectAt(value, 'request');
  const kind = groupVersionKindAt(request.kind, 'request.kind');
  const resource = groupVersionResourceAt(request.resource, 'request.resource');
  const subResource = optionalStringAt(request.subResource, 'request.subResource');
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') throw invalid(`request.dryRun: must be a boolean, got ${describe(request.dryRun)}`);
  return {
    uid: stringAt(request.uid, 'request.uid', { nonEmpty: true }),
    kind,
    resource,
    subResource,
    // admission/v1: requestKind, requestResource and requestSubResource default to kind, resource and subResource.
    requestKind: request.requestKind === undefined ? kind : groupVersionKindAt(request.requestKind, 'request.requestKind'),
    requestResource: request.requestResource === undefined ? resource : groupVersionResourceAt(request.requestResource, 'request.requestResource'),
    requestSubResource: request.requestSubResource === undefined ? subResource : stringAt(request.requestSubResource, 'request.requestSubResource'),
    name: optionalStringAt(request.name, 'request.name'),
    namespace: optionalStringAt(request.namespace, 'request.namespace'),
    operation: operationAt(request.operation, 'request.operation'),
    userInfo: userInfoAt(request.userInfo, 'request.userInfo'),
    object: rawObjectAt(request.object, 'request.object'),
    oldObject: rawObjectAt(request.oldObject, 'request.oldObject'),
    dryRun: request.dryRun === true,
    options: rawObjectAt(request.options, 'request.options'),
  };
}

/**
 * Decodes an `admission.k8s.io/v1` AdmissionReview body into its request. Checks the size, the
 * media type, UTF-8, JSON syntax, nesting depth, duplicate keys, the envelope and every request
 * field the webhook reads; fields it does not know are ignored, as newer apiservers may add some.
 * Throws ReviewError (REVIEW_TOO_LARGE, REVIEW_MEDIA_TYPE_UNSUPPORTED, REVIEW_INVALID).
 */
export function decodeAdmissionReview(bytes: Uint8Array, contentType: string | undefined): AdmissionRequest {
  if (bytes.byteLength > MAX_ADMISSION_REVIEW_BYTES) {
    throw new ReviewError('REVIEW_TOO_LARGE', `admission review body of ${bytes.byteLength} bytes exceeds the ${MAX_ADMISSION_REVIEW_BYTES}-byte limit`);
  }
  checkMediaType(contentType);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch (cause) {
    throw invalid('body is not UTF-8', cause);
  }
  let review: unknown;
  try {
    review = JSON.parse(text);
  } catch (cause) {
    throw invalid(`body is not JSON: ${cause instanceof Error ? cause.message.split('\n')[0] : 'syntax error'}`, cause);
  }
  checkStructure(text);
  const envelope = objectAt(review, 'body');
  if (envelope.apiVersion !== ADMISSION_REVIEW_API_VERSION) throw invalid(`apiVersion: must be ${ADMISSION_REVIEW_API_VERSION}, got ${describe(envelope.apiVersion)}`);
  if (envelope.kind !== ADMISSION_REVIEW_KIND) throw invalid(`kind: must be ${ADMISSION_REVIEW_KIND}, got ${describe(envelope.kind)}`);
  if (envelope.request === undefined || envelope.request === null) throw invalid('request: is missing');
  return requestAt(envelope.request);
}

function metadataOf(object: JsonObject | null): Record<string, unknown> {
  const metadata = object?.metadata;
  return isObject(metadata) ? metadata : {};
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

/**
 * Names the request's object for people. The name comes from the request, else the object (the
 * stored one on DELETE); at the mutating stage of a `generateName` CREATE there is no name yet and
 * the prefix (`web-5f7b9c8d4b-`) stands in, where Kyverno would print an empty name.
 */
export function requestSummary(request: AdmissionRequest): RequestSummary {
  const metadata = metadataOf(request.object);
  const oldMetadata = metadataOf(request.oldObject);
  const generateName = stringOr(metadata.generateName, stringOr(oldMetadata.generateName, ''));
  const name = request.name || stringOr(metadata.name, stringOr(oldMetadata.name, generateName));
  return {
    kind: request.kind.kind,
    namespace: request.namespace || stringOr(metadata.namespace, stringOr(oldMetadata.namespace, '')),
    name,
    ...(generateName === '' ? {} : { generateName }),
    operation: request.operation,
    dryRun: request.dryRun,
  };
}

/**
 * Encodes the webhook's answer as an `admission.k8s.io/v1` AdmissionReview: compact JSON, fields in
 * the order Go's encoding/json writes them (so bytes match Kyverno's and k8tz's answers). A denial
 * carries `status` as Kyverno sends it: `{"metadata":{},"status":"Failure","message":…,"code":…}`.
 */
export function encodeAdmissionResponse(input: AdmissionResponseInput): Uint8Array {
  if (input.uid === '') throw invalid('response uid: must not be empty; echo request.uid');
  const response: Record<string, unknown> = { uid: input.uid, allowed: input.allowed };
  if (!input.allowed && (input.message !== undefined || input.code !== undefined)) {
    response.status = {
      metadata: {},
      status: 'Failure',
      ...(input.message === undefined ? {} : { message: input.message }),
      ...(input.code === undefined ? {} : { code: input.code }),
    };
  }
  if (input.patch !== undefined && input.patch.length > 0) {
    // admission/v1: patch is the base64 (standard alphabet, padded) of the RFC 6902 array.
    response.patch = Buffer.from(JSON.stringify(input.patch), 'utf8').toString('base64');
    response.patchType = 'JSONPatch';
  }
  if (input.auditAnnotations !== undefined && Object.keys(input.auditAnnotations).length > 0) response.auditAnnotations = input.auditAnnotations;
  if (input.warnings !== undefined && input.warnings.length > 0) response.warnings = input.warnings;
  return new TextEncoder().encode(JSON.stringify({ kind: ADMISSION_REVIEW_KIND, apiVersion: ADMISSION_REVIEW_API_VERSION, response }));
}

/**
 * Kyverno's denial text (kyverno pkg/webhooks/utils/block.go `GetBlockedMessages`):
 * `\n\nresource <Kind>/<ns>/<name> was blocked due to the following policies \n\n` and then the
 * YAML of `{policy: {rule: message}}` exactly as gopkg.in/yaml.v2 writes it (keys sorted, quoting
 * and folding at 80 columns), so tools and people that read Kyverno's denials read Sigil's. A later
 * failure for the same policy and rule replaces an earlier one, as in Kyverno's map. No failures,
 * no message (`""`), as in Kyverno.
 */
export function denyMessage(resource: DeniedResource, failures: readonly RuleFailure[]): string {
  if (failures.length === 0) return '';
  const byPolicy = new Map<string, Map<string, string>>();
  for (const { policy, rule, message } of failures) {
    const rules = byPolicy.get(policy) ?? new Map<string, string>();
    byPolicy.set(policy, rules.set(rule, message));
  }
  let yaml = '';
  for (const policy of [...byPolicy.keys()].sort(yamlKeyOrder)) {
    yaml += `${yamlScalar(policy, 0, 0, true)}:\n`;
    const rules: ReadonlyMap<string, string> = byPolicy.get(policy) ?? new Map<string, string>();
    for (const rule of [...rules.keys()].sort(yamlKeyOrder)) {
      const key = `  ${yamlScalar(rule, 2, 2, true)}:`;
      const value = yamlScalar(rules.get(rule) ?? '', [...key].length, 4, false);
      // A literal block that keeps its final line break has already ended the line.
      yaml += `${key}${value}${value.endsWith('\n') ? '' : '\n'}`;
    }
  }
  return `\n\nresource ${resource.kind}/${resource.namespace}/${resource.name} was blocked due to the following policies \n\n${yaml}`;
}

// ---- gopkg.in/yaml.v2 (v2.4) scalar output, for denyMessage ---------------------------------------
// Only what a map of maps of strings needs: key order (sorter.go), scalar style choice (encode.go
// stringv, emitterc.go analyze/select) and writing with folding at best_width 80 (emitterc.go).

const YAML_WIDTH = 80;

function isLetter(c: string): boolean {
  return /\p{L}/u.test(c);
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && /\p{Nd}/u.test(c);
}

/** yaml.v2's key order: letters by code point after non-letters, runs of digits by numeric value. */
function yamlKeyOrder(a: string, b: string): number {
  return yamlKeyLess(a, b) ? -1 : yamlKeyLess(b, a) ? 1 : 0;
}

function yamlKeyLess(a: string, b: string): boolean {
  const ar = [...a];
  const br = [...b];
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const x = ar[i] ?? '';
    const y = br[i] ?? '';
    if (x === y) continue;
    const xl = isLetter(x);
    const yl = isLetter(y);
    if (xl && yl) return (x.codePointAt(0) ?? 0) < (y.codePointAt(0) ?? 0);
    if (xl || yl) return yl;
    let an = 0;
    let bn = 0;
    if (x === '0' || y === '0') {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== '0') {
          an = 1;
          bn = 1;
          break;
        }
      }
    }
    let ai = i;
    for (; ai < ar.length && isDigit(ar[ai]); ai++) an = an * 10 + Number(ar[ai]);
    let bi = i;
    for (; bi < br.length && isDigit(br[bi]); bi++) bn = bn * 10 + Number(br[bi]);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return (x.codePointAt(0) ?? 0) < (y.codePointAt(0) ?? 0);
  }
  return ar.length < br.length;
}

/** Plain strings YAML 1.1 would read as something else (yaml.v2 resolve.go); yaml.v2 double-quotes them. */
function resolvesToNonString(s: string): boolean {
  if (s === '' || s === '<<') return true;
  if (/^(?:~|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/.test(s)) return true;
  if (/^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$/.test(s)) return true;
  const plain = s.replace(/_/g, '');
  if (/^[-+]?(?:0b[01]+|0o?[0-7]+|0x[0-9a-fA-F]+|[0-9]+)$/.test(plain)) return true;
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(plain)) return true;
  if (/^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(s)) return true; // base-60 float
  return /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:$|[Tt ])/.test(s); // timestamp
}

function isPrintable(c: number): boolean {
  return c === 0x0a || (c >= 0x20 && c <= 0x7e) || c === 0x85 || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff) || (c >= 0x10000 && c <= 0x10ffff);
}

const isBreak = (c: string | undefined): boolean => c === '\n' || c === '\r' || c === '\u0085' || c === '\u2028' || c === '\u2029';
const isBlank = (c: string | undefined): boolean => c === undefined || c === ' ' || c === '\t' || isBreak(c);

type ScalarStyle = 'plain' | 'single' | 'double' | 'literal';

/** emitterc.go yaml_emitter_analyze_scalar + select_scalar_style for a block mapping key or value. */
function scalarStyle(s: string, isKey: boolean): ScalarStyle {
  const chars = [...s];
  let blockIndicators = s.startsWith('---') || s.startsWith('...');
  let lineBreaks = false;
  let special = false;
  let tabs = false;
  let leadingSpace = false;
  let trailingSpace = false;
  let leadingBreak = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  let precededByWhitespace = true;
  chars.forEach((c, i) => {
    const followedByWhitespace = isBlank(chars[i + 1]);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(c)) blockIndicators = true;
      else if ((c === '?' || c === ':' || c === '-') && followedByWhitespace) blockIndicators = true;
    } else if ((c === ':' && followedByWhitespace) || (c === '#' && precededByWhitespace)) blockIndicators = true;
    if (c === '\t') tabs = true;
    else if (!isPrintable(c.codePointAt(0) ?? 0)) special = true;
    const last = i === chars.length - 1;
    if (c === ' ') {
      if (i === 0) leadingSpace = true;
      if (last) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (last) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlank(c);
  });
  const plainAllowed = !(leadingSpace || leadingBreak || trailingSpace || trailingBreak || breakSpace || spaceBreak || tabs || special || lineBreaks || blockIndicators);
  const singleAllowed = !(breakSpace || spaceBreak || tabs || special);
  const blockAllowed = !(trailingSpace || spaceBreak || special);
  // encode.go stringv: multi-line strings ask for literal style, strings that resolve to another type for double quotes.
  let style: ScalarStyle = s.includes('\n') ? 'literal' : resolvesToNonString(s) ? 'double' : 'plain';
  if (isKey && lineBreaks) style = 'double';
  if (style === 'plain' && !plainAllowed) style = 'single';
  if (style === 'single' && !singleAllowed) style = 'double';
  if (style === 'literal' && (!blockAllowed || isKey)) style = 'double';
  return style;
}

/**
 * Writes `s` as yaml.v2 would after a key (or as the key itself): `column` is where the writer
 * stands, `indent` where folded lines continue. Values come back with their leading space.
 */
function yamlScalar(s: string, column: number, indent: number, isKey: boolean): string {
  const style = scalarStyle(s, isKey);
  const chars = [...s];
  const allowBreaks = !isKey;
  let out = isKey ? '' : ' ';
  let col = column + out.length;
  const emit = (text: string): void => {
    out += text;
    col += [...text].length;
  };
  const newline = (): void => {
    out += `\n${' '.repeat(indent)}`;
    col = indent;
  };
  switch (style) {
    case 'plain':
    case 'single': {
      if (style === 'single') emit("'");
      let spaces = false;
      chars.forEach((c, i) => {
        if (c === ' ') {
          const inside = style === 'plain' || (i > 0 && i < chars.length - 1);
          if (allowBreaks && !spaces && col > YAML_WIDTH && inside && chars[i + 1] !== ' ') newline();
          else emit(c);
          spaces = true;
        } else {
          emit(style === 'single' && c === "'" ? "''" : c);
          spaces = false;
        }
      });
      if (style === 'single') emit("'");
      return out;
    }
    case 'double': {
      emit('"');
      let spaces = false;
      chars.forEach((c, i) => {
        const code = c.codePointAt(0) ?? 0;
        if (!isPrintable(code) || code === 0xfeff || isBreak(c) || c === '"' || c === '\\') {
          emit(`\\${doubleQuotedEscape(code)}`);
          spaces = false;
        } else if (c === ' ') {
          if (allowBreaks && !spaces && col > YAML_WIDTH && i > 0 && i < chars.length - 1) {
            newline();
            if (chars[i + 1] === ' ') emit('\\');
          } else emit(c);
          spaces = true;
        } else {
          emit(c);
          spaces = false;
        }
      });
      emit('"');
      return out;
    }
    case 'literal': {
      const indentHint = chars[0] === ' ' || isBreak(chars[0]) ? '2' : '';
      const lastBreak = isBreak(chars[chars.length - 1]);
      const chomp = !lastBreak ? '-' : chars.length === 1 || isBreak(chars[chars.length - 2]) ? '+' : '';
      emit(`|${indentHint}${chomp}`);
      // After the header the first line starts on a new line; after a break only the indent is written.
      let lineStart = true;
      let headerLine = true;
      for (const c of chars) {
        if (isBreak(c)) {
          out += c;
          col = 0;
          lineStart = true;
          headerLine = false;
        } else {
          if (lineStart) {
            out += `${headerLine ? '\n' : ''}${' '.repeat(indent)}`;
            col = indent;
            lineStart = false;
            headerLine = false;
          }
          emit(c);
        }
      }
      return out;
    }
  }
}

function doubleQuotedEscape(code: number): string {
  const named: Record<number, string> = { 0x00: '0', 0x07: 'a', 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'v', 0x0c: 'f', 0x0d: 'r', 0x1b: 'e', 0x22: '"', 0x5c: '\\', 0x85: 'N', 0xa0: '_', 0x2028: 'L', 0x2029: 'P' };
  const name = named[code];
  if (name !== undefined) return name;
  const hex = code.toString(16).toUpperCase();
  return code <= 0xff ? `x${hex.padStart(2, '0')}` : code <= 0xffff ? `u${hex.padStart(4, '0')}` : `U${hex.padStart(8, '0')}`;
}
