// Container images of an admitted resource: Kyverno's normalization of image strings, the
// container image JSON pointers of Pods and pod controllers, and Kyverno's verified-images annotations.

import { formatReference, parseDockerReference, printable, ReferenceSyntaxError, withDefaultTag, type Reference } from '../oci/index.js';
import { ImageReferenceError, ReviewError } from './errors.js';

/** Kyverno's `defaultRegistry` (ConfigMap default), prepended when an image names no registry. */
const DEFAULT_REGISTRY = 'docker.io';
/** Kyverno's implicit tag for an image with neither tag nor digest. */
const DEFAULT_TAG = 'latest';

/** An image string as Kyverno sees it before matching `imageReferences`, plus what a registry client needs. */
export interface NormalizedImage {
  /** The image string exactly as the resource spelled it. */
  readonly image: string;
  /**
   * Kyverno's registry: the first path component when it contains '.' or ':' or is `localhost`,
   * else `docker.io`. Kept as written, so `index.docker.io` stays `index.docker.io`.
   */
  readonly registry: string;
  /**
   * Kyverno's path (ImageInfo.Path): the repository as written, with no `library/` added, so
   * `nginx` has path `nginx` while `docker.io/library/nginx` has path `library/nginx`.
   */
  readonly path: string;
  /** The distribution-spec repository to ask the registry for: `library/nginx` for `nginx`. */
  readonly repository: string;
  /** The tag as written, or `latest` when the image has neither tag nor digest. */
  readonly tag?: string;
  /** The digest as written (`sha256:…`). */
  readonly digest?: string;
  /**
   * What `imageReferences` patterns are matched against (Kyverno ImageInfo.String()):
   * `registry/path:tag`, or `registry/path@digest` when there is a digest — the tag is then
   * dropped, so `ghcr.io/org/app:*` does not match `ghcr.io/org/app:v1@sha256:…`.
   */
  readonly reference: string;
  /** `registry/path:tag` whenever there is a tag, digest or not (Kyverno ReferenceWithTag). */
  readonly referenceWithTag?: string;
  /** The fully qualified reference to resolve and verify, as `docker pull` reads the image. */
  readonly target: Reference;
}

/** distribution/reference splitDockerDomain, as Kyverno's addDefaultRegistry applies it. */
function isRegistryComponent(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/**
 * Normalizes an image string as Kyverno does before matching (pkg/utils/image/infos.go
 * GetImageInfo with the default `docker.io` and `enableDefaultRegistryMutation: true`):
 * `nginx` → `docker.io/nginx:latest`, `user/app` → `docker.io/user/app:latest`,
 * `name@sha256:…` → `docker.io/name@sha256:…`. Kyverno does not add `library/` to the string it
 * matches (its own tests pin `docker.io/nginx:latest`); `repository` and `target` carry it for the
 * registry. Throws ImageReferenceError(IMAGE_REFERENCE_INVALID) for anything that is not a reference.
 */
export function normalizeImage(image: string): NormalizedImage {
  if (typeof image !== 'string') throw new ImageReferenceError('IMAGE_REFERENCE_INVALID', `invalid image: expected a string, got ${typeof image}`);
  // A review normalizes each image three to five times (engine, record, patches), and a cluster
  // admits the same few hundred images over and over: parsing was 7% of a warm /validate.
  let normalized = NORMALIZED.get(image);
  if (normalized === undefined) {
    normalized = normalize(image);
    if (NORMALIZED.size >= MAX_NORMALIZED) NORMALIZED.clear();
    NORMALIZED.set(image, normalized);
  }
  return normalized;
}

/** Normalized images kept for reuse (the value is frozen and a pure function of the string). */
const NORMALIZED = new Map<string, NormalizedImage>();
/** At most this many, then the map starts over: bounds memory whatever images a cluster sends. */
const MAX_NORMALIZED = 4096;

function normalize(image: string): NormalizedImage {
  let parsed: Reference;
  try {
    // Validates the whole grammar; it differs from Kyverno only where Kyverno would accept a name
    // no registry can serve (an upper-case first component taken as a host), which Sigil refuses.
    parsed = parseDockerReference(image);
  } catch (cause) {
    if (!(cause instanceof ReferenceSyntaxError)) throw cause;
    throw new ImageReferenceError('IMAGE_REFERENCE_INVALID', cause.message.replace(/^invalid reference /, 'invalid image '), { cause });
  }
  const slash = image.indexOf('/');
  const hasRegistry = slash !== -1 && isRegistryComponent(image.slice(0, slash));
  const registry = hasRegistry ? image.slice(0, slash) : DEFAULT_REGISTRY;
  let path = hasRegistry ? image.slice(slash + 1) : image;
  const at = path.indexOf('@');
  if (at !== -1) path = path.slice(0, at);
  const colon = path.indexOf(':', path.lastIndexOf('/') + 1);
  if (colon !== -1) path = path.slice(0, colon);

  const tag = parsed.tag ?? (parsed.digest === undefined ? DEFAULT_TAG : undefined);
  const name = `${registry}/${path}`;
  const out: {
    image: string;
    registry: string;
    path: string;
    repository: string;
    tag?: string;
    digest?: string;
    reference: string;
    referenceWithTag?: string;
    target: Reference;
  } = {
    image,
    registry,
    path,
    repository: parsed.repository,
    reference: parsed.digest === undefined ? `${name}:${tag ?? DEFAULT_TAG}` : `${name}@${parsed.digest}`,
    target: Object.freeze(withDefaultTag(parsed)),
  };
  if (tag !== undefined) {
    out.tag = tag;
    out.referenceWithTag = `${name}:${tag}`;
  }
  if (parsed.digest !== undefined) out.digest = parsed.digest;
  return Object.freeze(out);
}

/** The fully qualified form of a normalized image, `registry/repository[:tag][@digest]`, as a registry is asked for it. */
export function formatTarget(image: NormalizedImage): string {
  // Normalized images are frozen and shared (normalizeImage keeps them), so their text is too.
  let text = TARGET_TEXT.get(image);
  if (text === undefined) TARGET_TEXT.set(image, (text = formatReference(image.target)));
  return text;
}

/** formatTarget of each normalized image seen. */
const TARGET_TEXT = new WeakMap<NormalizedImage, string>();

/** The three container lists of a PodSpec, in the order Kyverno extracts them. */
export const CONTAINER_FIELDS = Object.freeze(['initContainers', 'containers', 'ephemeralContainers'] as const);

/** One of the PodSpec's container lists. */
export type ContainerField = (typeof CONTAINER_FIELDS)[number];

/** One container image of a resource and where it sits. */
export interface ExtractedImage {
  /** RFC 6901 JSON pointer to the `image` field, e.g. `/spec/template/spec/containers/0/image`. */
  readonly path: string;
  /** The image string as written. */
  readonly image: string;
  readonly field: ContainerField;
  readonly index: number;
  /** The container's name, when it has one. */
  readonly name?: string;
}

/** Where each pod-bearing kind keeps its PodSpec (Kyverno autogen, pkg/autogen/v1). */
const POD_SPEC_PATHS: ReadonlyMap<string, readonly string[]> = new Map([
  ['Pod', ['spec']],
  ['Deployment', ['spec', 'template', 'spec']],
  ['DaemonSet', ['spec', 'template', 'spec']],
  ['StatefulSet', ['spec', 'template', 'spec']],
  ['ReplicaSet', ['spec', 'template', 'spec']],
  ['ReplicationController', ['spec', 'template', 'spec']],
  ['Job', ['spec', 'template', 'spec']],
  ['CronJob', ['spec', 'jobTemplate', 'spec', 'template', 'spec']],
]);

/** The kinds Kyverno's autogen covers besides Pod, in its order. */
export const POD_CONTROLLER_KINDS = Object.freeze(['DaemonSet', 'Deployment', 'Job', 'StatefulSet', 'ReplicaSet', 'ReplicationController', 'CronJob'] as const);

/** The JSON pointer of the PodSpec of `kind` (`/spec`, `/spec/template/spec`, …), or undefined for a kind without one. */
export function podSpecPointer(kind: string): string | undefined {
  const segments = POD_SPEC_PATHS.get(kind);
  return segments === undefined ? undefined : `/${segments.join('/')}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own property only, so `constructor` or `__proto__` in a hostile body never reaches the prototype. */
function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Lists every image of `containers`, `initContainers` and `ephemeralContainers` in the PodSpec of
 * a Pod, a pod controller or a CronJob, with its JSON pointer; returns [] for kinds without a
 * PodSpec. Throws ReviewError(RESOURCE_INVALID) when the resource is not shaped as its kind
 * requires, including an `image` that is present but not a string.
 */
export function extractImages(resource: unknown, kind: string): ExtractedImage[] {
  const segments = POD_SPEC_PATHS.get(kind);
  if (segments === undefined) return [];
  const fail = (message: string): ReviewError => new ReviewError('RESOURCE_INVALID', `${kind} ${message}`);
  if (!isObject(resource)) throw fail(`resource is ${kindOf(resource)}, not an object`);
  let spec: Record<string, unknown> = resource;
  let pointer = '';
  for (const segment of segments) {
    const next = own(spec, segment);
    pointer += `/${segment}`;
    if (!isObject(next)) throw fail(`${pointer} is ${next === undefined ? 'missing' : kindOf(next)}; expecting an object`);
    spec = next;
  }
  const images: ExtractedImage[] = [];
  for (const field of CONTAINER_FIELDS) {
    const containers = own(spec, field);
    // Omitted and null lists are both "no containers" (Go encodes a nil slice as null).
    if (containers === undefined || containers === null) continue;
    if (!Array.isArray(containers)) throw fail(`${pointer}/${field} is ${kindOf(containers)}, not an array`);
    containers.forEach((container: unknown, index) => {
      const at = `${pointer}/${field}/${index}`;
      if (!isObject(container)) throw fail(`${at} is ${kindOf(container)}, not a container object`);
      const image = own(container, 'image');
      // Kubernetes omits an empty image (`omitempty`); pod templates may leave it to be set later.
      if (image === undefined || image === '') return;
      if (typeof image !== 'string') throw fail(`${at}/image is ${kindOf(image)}, not a string`);
      const name = own(container, 'name');
      const entry: { path: string; image: string; field: ContainerField; index: number; name?: string } = { path: `${at}/image`, image, field, index };
      if (typeof name === 'string') entry.name = name;
      images.push(Object.freeze(entry));
    });
  }
  return images;
}

/** Kyverno's annotation of verified images (api/kyverno/constants.go), unscoped: image → status. */
export const VERIFY_IMAGES_ANNOTATION = 'kyverno.io/verify-images';
/** Kyverno 1.19's annotation of verified images scoped by policy and rule. */
export const VERIFY_IMAGES_SCOPED_ANNOTATION = 'kyverno.io/verify-images-scoped';
/** The only version of the scoped annotation's document Kyverno writes. */
const SCOPED_ANNOTATION_VERSION = 1;
/** Kubernetes TotalAnnotationSizeLimitB (apimachinery validation): all annotations of an object together. */
const MAX_ANNOTATION_LENGTH = 256 * 1024;

/** What Kyverno records for an image: verified, failed, or matched by `skipImageReferences`. */
export type ImageVerificationStatus = 'pass' | 'fail' | 'skip';

/** The unscoped annotation's content: normalized image reference → status. */
export type VerifyImagesAnnotation = ReadonlyMap<string, ImageVerificationStatus>;

/** The scoped annotation's content: policy key (`ns/name`, `/name` for a ClusterPolicy) → rule → image → status. */
export type ScopedVerifyImagesAnnotation = ReadonlyMap<string, ReadonlyMap<string, VerifyImagesAnnotation>>;

function annotationError(key: string, problem: string, cause?: unknown): ReviewError {
  return new ReviewError('ANNOTATION_INVALID', `annotation ${key}: ${problem}`, cause === undefined ? undefined : { cause });
}

function parseAnnotationJson(key: string, value: string): unknown {
  if (typeof value !== 'string') throw annotationError(key, `expected a string, got ${kindOf(value)}`);
  if (value.length > MAX_ANNOTATION_LENGTH) throw annotationError(key, `value is ${value.length} characters, more than Kubernetes allows (${MAX_ANNOTATION_LENGTH})`);
  try {
    return JSON.parse(value) as unknown;
  } catch (cause) {
    throw annotationError(key, 'value is not JSON', cause);
  }
}

/** Decodes one image → status map; `where` names the place in the document for messages. */
function decodeStatusMap(key: string, where: string, value: unknown): VerifyImagesAnnotation {
  if (!isObject(value)) throw annotationError(key, `${where} is ${kindOf(value)}, not a JSON object`);
  const out = new Map<string, ImageVerificationStatus>();
  for (const [image, status] of Object.entries(value)) {
    if (status === 'pass' || status === 'fail' || status === 'skip') out.set(image, status);
    // Kyverno before the pass/skip strings wrote booleans (ImageVerificationMetadata map[string]bool).
    else if (typeof status === 'boolean') out.set(image, status ? 'pass' : 'fail');
    else throw annotationError(key, `${where}: status of "${printable(image)}" is ${kindOf(status)}; expecting "pass", "fail" or "skip"`);
  }
  return out;
}

/**
 * Decodes Kyverno's `kyverno.io/verify-images` value, a JSON object of normalized image → `"pass"`,
 * `"fail"` or `"skip"` (legacy `true`/`false` read as pass/fail). The caller must not trust it from
 * a request: it is only ever compared with what Sigil wrote. Throws ReviewError(ANNOTATION_INVALID).
 */
export function decodeVerifyImagesAnnotation(value: string): VerifyImagesAnnotation {
  return decodeStatusMap(VERIFY_IMAGES_ANNOTATION, 'value', parseAnnotationJson(VERIFY_IMAGES_ANNOTATION, value));
}

/** A JSON string as Go's encoding/json writes it (HTML-safe escapes), so values match Kyverno's byte for byte. */
function goJsonString(text: string): string {
  return JSON.stringify(text).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A JSON object with keys sorted as Go marshals a map; built as text so no key touches a prototype. */
function goJsonObject(entries: Iterable<[string, string]>): string {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${sorted.map(([k, v]) => `${goJsonString(k)}:${v}`).join(',')}}`;
}

function encodeStatusMap(map: VerifyImagesAnnotation): string {
  return goJsonObject([...map].map(([image, status]): [string, string] => [image, goJsonString(status)]));
}

/** Encodes the `kyverno.io/verify-images` value as Kyverno writes it: compact JSON, keys sorted. */
export function encodeVerifyImagesAnnotation(map: VerifyImagesAnnotation): string {
  return encodeStatusMap(map);
}

/**
 * Decodes Kyverno 1.19's `kyverno.io/verify-images-scoped` value,
 * `{"version":1,"policies":{"<ns>/<policy>":{"<rule>":{"<image>":"pass"}}}}`.
 * Throws ReviewError(ANNOTATION_INVALID) for another version or shape.
 */
export function decodeScopedVerifyImagesAnnotation(value: string): ScopedVerifyImagesAnnotation {
  const key = VERIFY_IMAGES_SCOPED_ANNOTATION;
  const doc = parseAnnotationJson(key, value);
  if (!isObject(doc)) throw annotationError(key, `value is ${kindOf(doc)}, not a JSON object`);
  const version = own(doc, 'version');
  if (version !== SCOPED_ANNOTATION_VERSION) throw annotationError(key, `unsupported version ${printable(JSON.stringify(version) ?? 'missing')}; expecting ${SCOPED_ANNOTATION_VERSION}`);
  const policies = own(doc, 'policies');
  if (!isObject(policies)) throw annotationError(key, `policies is ${kindOf(policies)}, not a JSON object`);
  const out = new Map<string, Map<string, VerifyImagesAnnotation>>();
  for (const [policy, rules] of Object.entries(policies)) {
    if (!isObject(rules)) throw annotationError(key, `policies["${printable(policy)}"] is ${kindOf(rules)}, not a JSON object`);
    const byRule = new Map<string, VerifyImagesAnnotation>();
    for (const [rule, images] of Object.entries(rules)) {
      byRule.set(rule, decodeStatusMap(key, `policies["${printable(policy)}"]["${printable(rule)}"]`, images));
    }
    out.set(policy, byRule);
  }
  return out;
}

/** Encodes the `kyverno.io/verify-images-scoped` value as Kyverno 1.19 writes it. */
export function encodeScopedVerifyImagesAnnotation(annotation: ScopedVerifyImagesAnnotation): string {
  const policies = goJsonObject(
    [...annotation].map(([policy, rules]): [string, string] => [policy, goJsonObject([...rules].map(([rule, images]): [string, string] => [rule, encodeStatusMap(images)]))]),
  );
  return `{"version":${SCOPED_ANNOTATION_VERSION},"policies":${policies}}`;
}
