// JSON Patch (RFC 6902) for mutating admission answers: Kyverno's digest pins and annotation
// patches, the AdmissionResponse `patch` encoding, and a small applier to prove patches apply.

import { DigestError, parseDigest, printable } from '../oci/index.js';
import { ImageReferenceError, PatchError } from './errors.js';
import { normalizeImage } from './images.js';

/** The JSON values a patch carries. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The RFC 6902 operations Sigil emits (§4.1 add, §4.2 remove, §4.3 replace). */
export type PatchOperation =
  | { readonly op: 'add'; readonly path: string; readonly value: JsonValue }
  | { readonly op: 'replace'; readonly path: string; readonly value: JsonValue }
  | { readonly op: 'remove'; readonly path: string };

/** RFC 6901 §3: `~` is written `~0` and `/` is written `~1` inside a reference token. */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** RFC 6901 §4: splits a JSON pointer into unescaped tokens; `""` is the whole document. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError('PATCH_INVALID', `JSON pointer "${printable(pointer)}" must be empty or start with '/'`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => {
      if (/~[^01]|~$/.test(token)) throw new PatchError('PATCH_INVALID', `JSON pointer "${printable(pointer)}" has '~' not followed by 0 or 1`);
      return token.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

/** An image at a JSON pointer and the digest its tag resolved to. */
export interface DigestPin {
  /** JSON pointer of the `image` field (from extractImages). */
  readonly path: string;
  /** The image string as the resource has it. */
  readonly image: string;
  /** The digest the image's tag resolved to and was verified at. */
  readonly digest: string;
}

/**
 * Kyverno's mutateDigest patches (pkg/engine/internal/utils.go makeAddDigestPatch): each image
 * without a digest is replaced by its normalized reference plus `@digest`, keeping the tag
 * (`nginx` → `docker.io/nginx:latest@sha256:…`); images that already carry a digest are left
 * alone. Throws ImageReferenceError(IMAGE_REFERENCE_INVALID) for a bad image or digest.
 */
export function digestPatches(pins: readonly DigestPin[]): PatchOperation[] {
  const ops: PatchOperation[] = [];
  for (const pin of pins) {
    const image = normalizeImage(pin.image);
    if (image.digest !== undefined) continue;
    try {
      parseDigest(pin.digest);
    } catch (cause) {
      if (!(cause instanceof DigestError)) throw cause;
      throw new ImageReferenceError('IMAGE_REFERENCE_INVALID', `digest for ${image.reference}: ${cause.message}`, { cause });
    }
    parsePointer(pin.path);
    ops.push({ op: 'replace', path: pin.path, value: `${image.reference}@${pin.digest}` });
  }
  return ops;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Patches setting the annotations `entries` on `resource`, in Kyverno's shape
 * (pkg/engine/api/imageverifymetadata.go): `add /metadata/annotations {}` first when the object
 * has none, then one op per key — `replace` when the key exists, else `add` — with `/` in keys
 * escaped as `~1`. Throws PatchError(PATCH_INVALID) when metadata or annotations are not objects.
 */
export function annotationPatches(resource: unknown, entries: Readonly<Record<string, string>> | ReadonlyMap<string, string>): PatchOperation[] {
  if (!isObject(resource)) throw new PatchError('PATCH_INVALID', 'cannot annotate a resource that is not a JSON object');
  const ops: PatchOperation[] = [];
  const metadata = Object.hasOwn(resource, 'metadata') ? resource['metadata'] : undefined;
  let annotations: Record<string, unknown> | undefined;
  if (metadata === undefined || metadata === null) {
    ops.push({ op: 'add', path: '/metadata', value: { annotations: {} } });
  } else if (!isObject(metadata)) {
    throw new PatchError('PATCH_INVALID', 'cannot annotate a resource whose metadata is not an object');
  } else {
    const current = Object.hasOwn(metadata, 'annotations') ? metadata['annotations'] : undefined;
    if (current === undefined || current === null) ops.push({ op: 'add', path: '/metadata/annotations', value: {} });
    else if (!isObject(current)) throw new PatchError('PATCH_INVALID', 'cannot annotate a resource whose metadata.annotations is not an object');
    else annotations = current;
  }
  const list = entries instanceof Map ? [...(entries as ReadonlyMap<string, string>)] : Object.entries(entries as Readonly<Record<string, string>>);
  for (const [key, value] of list) {
    const path = `/metadata/annotations/${escapePointerToken(key)}`;
    ops.push(annotations !== undefined && Object.hasOwn(annotations, key) ? { op: 'replace', path, value } : { op: 'add', path, value });
  }
  return ops;
}

/** Patches setting one annotation `key` to `value` on `resource` (see annotationPatches). */
export function annotationPatch(resource: unknown, key: string, value: string): PatchOperation[] {
  return annotationPatches(resource, new Map([[key, value]]));
}

/** The AdmissionResponse `patch` field: base64 (standard alphabet, padded) of the JSON array (admission.k8s.io/v1). */
export function encodePatch(ops: readonly PatchOperation[]): string {
  return Buffer.from(JSON.stringify(ops), 'utf8').toString('base64');
}

/** Decodes an AdmissionResponse `patch` field back into operations; throws PatchError(PATCH_INVALID). */
export function decodePatch(patch: string): PatchOperation[] {
  if (typeof patch !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(patch) || patch.length % 4 !== 0) {
    throw new PatchError('PATCH_INVALID', 'patch is not padded standard base64');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
  } catch (cause) {
    throw new PatchError('PATCH_INVALID', 'patch is not a JSON document', { cause });
  }
  // k8tz sends `null` (bnVsbA==); the apiserver treats it as no change.
  if (parsed === null) return [];
  if (!Array.isArray(parsed)) throw new PatchError('PATCH_INVALID', 'patch is not a JSON array');
  return parsed.map((op: unknown, i): PatchOperation => {
    if (!isObject(op) || typeof op['path'] !== 'string') throw new PatchError('PATCH_INVALID', `patch operation ${i} has no string path`);
    const path = op['path'];
    switch (op['op']) {
      case 'add':
      case 'replace':
        if (!Object.hasOwn(op, 'value')) throw new PatchError('PATCH_INVALID', `patch operation ${i} (${op['op']}) has no value`);
        return { op: op['op'], path, value: op['value'] as JsonValue };
      case 'remove':
        return { op: 'remove', path };
      default:
        throw new PatchError('PATCH_INVALID', `patch operation ${i} has unsupported op ${printable(JSON.stringify(op['op']) ?? 'missing')}`);
    }
  });
}

/** RFC 6901 §4: an array index is `0` or digits without a leading zero. */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;

function defineMember(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, not assignment, so a `__proto__` token creates a member instead of a prototype.
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * Applies add, replace and remove operations (RFC 6902 §4.1–4.3) to a deep copy of `doc` and
 * returns it; `doc` is not changed. Throws PatchError(PATCH_INVALID) naming the failing operation.
 */
export function applyPatch(doc: unknown, ops: readonly PatchOperation[]): unknown {
  let root: unknown = structuredClone(doc);
  ops.forEach((op, i) => {
    const fail = (problem: string): PatchError => new PatchError('PATCH_INVALID', `patch operation ${i} (${op.op} ${printable(op.path)}): ${problem}`);
    const tokens = parsePointer(op.path);
    const last = tokens.pop();
    if (last === undefined) {
      // The whole document: add and replace set it (RFC 6902 §4.1), remove is not meaningful.
      if (op.op === 'remove') throw fail('cannot remove the whole document');
      root = structuredClone(op.value);
      return;
    }
    let parent: unknown = root;
    for (const token of tokens) {
      if (Array.isArray(parent)) {
        if (!ARRAY_INDEX.test(token) || Number(token) >= parent.length) throw fail(`no array element "${printable(token)}"`);
        parent = parent[Number(token)];
      } else if (isObject(parent)) {
        if (!Object.hasOwn(parent, token)) throw fail(`no member "${printable(token)}"`);
        parent = parent[token];
      } else {
        throw fail(`cannot descend into ${parent === null ? 'null' : typeof parent} at "${printable(token)}"`);
      }
    }
    if (Array.isArray(parent)) {
      const index = last === '-' && op.op === 'add' ? parent.length : ARRAY_INDEX.test(last) ? Number(last) : -1;
      const limit = op.op === 'add' ? parent.length : parent.length - 1;
      if (index < 0 || index > limit) throw fail(`array index "${printable(last)}" is out of range`);
      if (op.op === 'add') parent.splice(index, 0, structuredClone(op.value));
      else if (op.op === 'replace') parent[index] = structuredClone(op.value);
      else parent.splice(index, 1);
    } else if (isObject(parent)) {
      if (op.op !== 'add' && !Object.hasOwn(parent, last)) throw fail(`no member "${printable(last)}" to ${op.op}`);
      if (op.op === 'remove') delete parent[last];
      else defineMember(parent, last, structuredClone(op.value));
    } else {
      throw fail(`parent is ${parent === null ? 'null' : typeof parent}, not an object or array`);
    }
  });
  return root;
}
