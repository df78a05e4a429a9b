// Decoding Kyverno policy YAML into the frozen model of model.ts: multi-document YAML, strict about
// every field (unknown ⇒ error, real Kyverno field Sigil does not implement ⇒ unsupported), Kyverno's
// defaults (api/kyverno/v1 image_verification_types.go) and its policy-admission validations
// (pkg/validation/policy/validate.go) as ../shared/reference/kyverno.md §1, §3 and §4b list them.

import { isScalar, Lexer, parseAllDocuments, type Document } from 'yaml';
import { createTrustPolicyDocument, TrustPolicyError } from '../notary/index.js';
import { PolicyError, type PolicyProblem } from './errors.js';
import { parseKindSelector } from './match.js';
import {
  ADMISSION_TRUST_STORE_NAME,
  AUTOGEN_CONTROLLERS_ANNOTATION,
  deepFreeze,
  normalizeFailureAction,
  TRUST_POLICY_ANNOTATION,
  type AttestorSet,
  type CosignAttestor,
  type DocumentOrigin,
  type ExceptionTarget,
  type FailureAction,
  type FailureActionOverride,
  type FailurePolicy,
  type ImageRegistryCredentials,
  type ImageVerification,
  type KyvernoPolicy,
  type LabelSelector,
  type LabelSelectorRequirement,
  type MatchResources,
  type NotaryAttestor,
  type ObjectMetadata,
  type Operation,
  type PodController,
  type PolicyDocument,
  type PolicyException,
  type PolicySpec,
  type ResourceDescription,
  type ResourceFilter,
  type Rule,
  type RuleTrustPolicy,
  type Subject,
  type UserInfo,
} from './model.js';

/** Largest policy text accepted (UTF-8 bytes): below etcd's 1.5 MiB request limit, so any object the API server can store fits. */
export const MAX_POLICY_TEXT_BYTES = 1024 * 1024;

/** Alias expansions allowed per document (the yaml package's own default): a billion-laughs document stops here. */
export const MAX_YAML_ALIAS_COUNT = 100;

/** Deepest flow-collection nesting (`[[[…`): real policies nest a few levels; deeper only exhausts the parser. */
export const MAX_FLOW_NESTING = 64;

/** Documents accepted in one source; a policy directory holds a handful per file. */
export const MAX_DOCUMENTS = 1000;

/** Nested `entries[].attestor` sets followed; Kyverno has no limit, Sigil refuses deeper recursion. */
export const MAX_ATTESTOR_NESTING = 4;

/** YAML parser problems reported per document before the rest are summarised. */
const MAX_YAML_PROBLEMS = 10;

/** Kyverno's CRD limit on rule names (Rule.Name MaxLength=63). */
const MAX_RULE_NAME_LENGTH = 63;

const POD_CONTROLLERS: readonly PodController[] = ['DaemonSet', 'Deployment', 'Job', 'StatefulSet', 'ReplicaSet', 'ReplicationController', 'CronJob'];
const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
const PROVIDERS = ['default', 'google', 'azure', 'amazon', 'github'] as const;
const SIGNATURE_ALGORITHMS = ['sha224', 'sha256', 'sha384', 'sha512'];
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const KYVERNO_KINDS_NOT_SUPPORTED = ['ImageValidatingPolicy', 'ValidatingPolicy', 'MutatingPolicy', 'GeneratingPolicy', 'DeletingPolicy', 'CleanupPolicy', 'ClusterCleanupPolicy', 'GlobalContext'];

type Mapping = Record<string, unknown>;

/** Collects problems for one document. */
class Problems {
  readonly list: PolicyProblem[] = [];
  constructor(readonly source: string) {}
  error(path: string, message: string): void {
    this.list.push({ source: this.source, path, message, severity: 'error' });
  }
  unsupported(path: string, message: string): void {
    this.list.push({ source: this.source, path, message, severity: 'unsupported' });
  }
}

/** `spec.rules` + `name` → `spec.rules.name`; keys that are not identifiers are quoted: `annotations["a/b"]`. */
function field(path: string, key: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

function item(path: string, index: number): string {
  return `${path}[${index}]`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Checks the keys of `object`: `known` are read by the caller; `unsupported` maps a real Kyverno field
 * to why Sigil refuses it; anything else is an unknown field.
 */
function checkFields(
  p: Problems,
  object: Mapping,
  path: string,
  known: readonly string[],
  unsupported: Readonly<Record<string, string>> = {},
  hints: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    if (Object.hasOwn(unsupported, key)) p.unsupported(field(path, key), unsupported[key] ?? 'not supported');
    else p.error(field(path, key), `unknown field ${JSON.stringify(key)}${Object.hasOwn(hints, key) ? `; ${hints[key]}` : ''}`);
  }
}

/** A mapping, or undefined when absent or null (Kubernetes treats `field: null` as unset). */
function mapping(p: Problems, value: unknown, path: string): Mapping | undefined {
  if (value === undefined || value === null) return undefined;
  if (isMapping(value)) return value;
  p.error(path, `must be a mapping, found ${describe(value)}`);
  return undefined;
}

function list(p: Problems, value: unknown, path: string): readonly unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value as unknown[];
  p.error(path, `must be a list, found ${describe(value)}`);
  return undefined;
}

function string(p: Problems, value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  p.error(path, `must be a string, found ${describe(value)}`);
  return undefined;
}

function boolean(p: Problems, value: unknown, path: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  p.error(path, `must be true or false, found ${describe(value)}`);
  return undefined;
}

function integer(p: Problems, value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  p.error(path, `must be an integer, found ${typeof value === 'number' ? String(value) : describe(value)}`);
  return undefined;
}

function stringList(p: Problems, value: unknown, path: string): string[] {
  const out: string[] = [];
  (list(p, value, path) ?? []).forEach((entry, i) => {
    const s = string(p, entry, item(path, i));
    if (s !== undefined) out.push(s);
  });
  return out;
}

function stringMap(p: Problems, value: unknown, path: string): Record<string, string> | undefined {
  const object = mapping(p, value, path);
  if (object === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(object)) {
    const s = typeof entry === 'string' ? entry : undefined;
    if (s === undefined) p.error(field(path, key), `must be a string, found ${describe(entry)}`);
    else Object.defineProperty(out, key, { value: s, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function oneOf<T extends string>(p: Problems, value: unknown, path: string, allowed: readonly T[]): T | undefined {
  const s = string(p, value, path);
  if (s === undefined) return undefined;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  p.error(path, `${JSON.stringify(s)} is not one of ${allowed.join(', ')}`);
  return undefined;
}

function failureAction(p: Problems, value: unknown, path: string): FailureAction | undefined {
  const s = string(p, value, path);
  if (s === undefined) return undefined;
  const action = normalizeFailureAction(s);
  if (action === undefined) p.error(path, `${JSON.stringify(s)} is not a failure action; use Audit or Enforce`);
  return action;
}

function hasVariable(s: string): boolean {
  return s.includes('{{');
}

// ---------------------------------------------------------------------------------------------
// YAML

/** Deepest `[`/`{` nesting in `text`, from yaml's lexer (which is iterative and safe on hostile input). */
function flowNesting(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') deepest = Math.max(deepest, ++depth);
    else if (token === ']' || token === '}') depth = Math.max(0, depth - 1);
    if (deepest > MAX_FLOW_NESTING) break;
  }
  return deepest;
}

/** A document that parsed, with the problem list its decoding reports into. */
interface ParsedDocument {
  readonly value: unknown;
  readonly index: number;
  readonly problems: Problems;
}

/**
 * Parses YAML into plain values. Problems with the text as a whole are thrown at once; problems of
 * one document go into that document's list (named `source#N` when there are several documents),
 * and a document with YAML problems is left out of `documents`.
 */
function parseYaml(text: string, source: string): { documents: ParsedDocument[]; problems: Problems[] } {
  const top = new Problems(source);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_POLICY_TEXT_BYTES) {
    top.error('', `policy text is ${bytes} bytes, over the ${MAX_POLICY_TEXT_BYTES}-byte limit`);
    throw new PolicyError(top.list);
  }
  if (flowNesting(text) > MAX_FLOW_NESTING) {
    top.error('', `flow collections nest deeper than ${MAX_FLOW_NESTING} levels`);
    throw new PolicyError(top.list);
  }
  let parsed: Document.Parsed[];
  try {
    // YAML 1.2 core schema: no `<<` merge keys, no !!binary/!!set/!!timestamp, `yes` is a string.
    const stream = parseAllDocuments(text, { schema: 'core', version: '1.2', uniqueKeys: true, prettyErrors: false, resolveKnownTags: false });
    parsed = Array.isArray(stream) ? stream : [];
  } catch (error) {
    // The parser reports problems rather than throwing; a RangeError on absurd input still must not escape.
    top.error('', `cannot parse YAML: ${error instanceof Error ? error.message : String(error)}`);
    throw new PolicyError(top.list);
  }
  if (parsed.length > MAX_DOCUMENTS) {
    top.error('', `${parsed.length} documents, over the limit of ${MAX_DOCUMENTS}`);
    throw new PolicyError(top.list);
  }
  const documents: ParsedDocument[] = [];
  const problems: Problems[] = [];
  parsed.forEach((document, index) => {
    // An empty document (a stray `---`) is skipped, as kubectl skips it.
    const contents = document.contents;
    const empty = contents === null || (isScalar(contents) && contents.source === '' && contents.tag === undefined && contents.anchor === undefined);
    if (empty && document.errors.length === 0 && document.warnings.length === 0) return;
    const p = new Problems(parsed.length > 1 ? `${source}#${index + 1}` : source);
    problems.push(p);
    const yamlProblems = [...document.errors, ...document.warnings];
    for (const problem of yamlProblems.slice(0, MAX_YAML_PROBLEMS)) {
      const where = problem.linePos?.[0];
      const message = problem.message.split('\n')[0] ?? problem.message;
      p.error('', `invalid YAML (${problem.code})${where === undefined ? '' : ` at line ${where.line}, column ${where.col}`}: ${message}`);
    }
    if (yamlProblems.length > MAX_YAML_PROBLEMS) p.error('', `and ${yamlProblems.length - MAX_YAML_PROBLEMS} more YAML problems`);
    if (yamlProblems.length > 0) return;
    try {
      documents.push({ value: document.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT }), index, problems: p });
    } catch (error) {
      // yaml throws ReferenceError for an alias bomb or an unknown alias.
      p.error('', `invalid YAML: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  return { documents, problems };
}

// ---------------------------------------------------------------------------------------------
// metadata

function decodeMetadata(p: Problems, value: unknown, kind: string, namespaced: boolean): ObjectMetadata | undefined {
  const path = 'metadata';
  const object = mapping(p, value, path);
  if (object === undefined) {
    p.error(path, 'metadata with a name is required');
    return undefined;
  }
  checkFields(
    p,
    object,
    path,
    // Written by the API server; kept or harmless when a policy is exported from a cluster.
    ['name', 'namespace', 'labels', 'annotations', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'finalizers', 'ownerReferences', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds'],
    { generateName: 'a policy needs a fixed metadata.name; generateName is not used' },
  );
  const name = string(p, object.name, field(path, 'name'));
  if (name === undefined) p.error(field(path, 'name'), 'metadata.name is required');
  else if (!DNS_SUBDOMAIN.test(name)) p.error(field(path, 'name'), `${JSON.stringify(name)} is not a valid name (lower-case DNS subdomain)`);
  const namespace = string(p, object.namespace, field(path, 'namespace'));
  if (namespaced && namespace === undefined) p.error(field(path, 'namespace'), `a ${kind} is namespaced; metadata.namespace is required`);
  if (!namespaced && namespace !== undefined) p.error(field(path, 'namespace'), `a ${kind} is cluster-scoped; remove metadata.namespace`);
  const labels = stringMap(p, object.labels, field(path, 'labels')) ?? {};
  const annotations = stringMap(p, object.annotations, field(path, 'annotations')) ?? {};
  if (name === undefined) return undefined;
  return {
    name,
    namespace: namespaced ? namespace : undefined,
    labels,
    annotations,
    uid: string(p, object.uid, field(path, 'uid')),
    resourceVersion: string(p, object.resourceVersion, field(path, 'resourceVersion')),
  };
}

// ---------------------------------------------------------------------------------------------
// match / exclude

function decodeLabelSelector(p: Problems, value: unknown, path: string): LabelSelector | undefined {
  const object = mapping(p, value, path);
  if (object === undefined) return undefined;
  checkFields(p, object, path, ['matchLabels', 'matchExpressions']);
  const matchLabels = stringMap(p, object.matchLabels, field(path, 'matchLabels')) ?? {};
  const matchExpressions: LabelSelectorRequirement[] = [];
  const expressionsPath = field(path, 'matchExpressions');
  (list(p, object.matchExpressions, expressionsPath) ?? []).forEach((entry, i) => {
    const at = item(expressionsPath, i);
    const expression = mapping(p, entry, at);
    if (expression === undefined) return;
    checkFields(p, expression, at, ['key', 'operator', 'values']);
    const key = string(p, expression.key, field(at, 'key'));
    if (key === undefined) p.error(field(at, 'key'), 'key is required');
    const operator = oneOf(p, expression.operator, field(at, 'operator'), ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const);
    if (expression.operator === undefined) p.error(field(at, 'operator'), 'operator is required');
    const values = stringList(p, expression.values, field(at, 'values'));
    // Kubernetes LabelSelectorRequirement validation: In/NotIn need values, Exists/DoesNotExist take none.
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) p.error(field(at, 'values'), `operator ${operator} needs at least one value`);
    if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) p.error(field(at, 'values'), `operator ${operator} takes no values`);
    if (key !== undefined && operator !== undefined) matchExpressions.push({ key, operator, values });
  });
  return { matchLabels, matchExpressions };
}

function decodeResourceDescription(p: Problems, value: unknown, path: string): ResourceDescription {
  const object = mapping(p, value, path) ?? {};
  checkFields(p, object, path, ['kinds', 'name', 'names', 'namespaces', 'annotations', 'selector', 'namespaceSelector', 'operations']);
  const kinds = stringList(p, object.kinds, field(path, 'kinds'));
  kinds.forEach((kind, i) => {
    if (parseKindSelector(kind) === undefined) p.error(item(field(path, 'kinds'), i), `${JSON.stringify(kind)} is not Kind, Version/Kind or Group/Version/Kind[/subresource]`);
  });
  const name = string(p, object.name, field(path, 'name'));
  const names = stringList(p, object.names, field(path, 'names'));
  if (name !== undefined && object.names !== undefined) p.error(field(path, 'name'), 'name and names are mutually exclusive; use names');
  const operations: Operation[] = [];
  const operationsPath = field(path, 'operations');
  (list(p, object.operations, operationsPath) ?? []).forEach((entry, i) => {
    const operation = oneOf(p, entry, item(operationsPath, i), OPERATIONS);
    if (operation !== undefined) operations.push(operation);
  });
  return {
    kinds,
    names: name === undefined ? names : [name, ...names],
    namespaces: stringList(p, object.namespaces, field(path, 'namespaces')),
    annotations: stringMap(p, object.annotations, field(path, 'annotations')),
    selector: decodeLabelSelector(p, object.selector, field(path, 'selector')),
    namespaceSelector: decodeLabelSelector(p, object.namespaceSelector, field(path, 'namespaceSelector')),
    operations: object.operations === undefined || object.operations === null ? undefined : operations,
  };
}

function decodeSubjects(p: Problems, value: unknown, path: string): Subject[] {
  const out: Subject[] = [];
  (list(p, value, path) ?? []).forEach((entry, i) => {
    const at = item(path, i);
    const object = mapping(p, entry, at);
    if (object === undefined) return;
    checkFields(p, object, at, ['kind', 'name', 'namespace', 'apiGroup']);
    const kind = oneOf(p, object.kind, field(at, 'kind'), ['User', 'Group', 'ServiceAccount'] as const);
    const name = string(p, object.name, field(at, 'name'));
    const namespace = string(p, object.namespace, field(at, 'namespace'));
    string(p, object.apiGroup, field(at, 'apiGroup'));
    if (object.kind === undefined) p.error(field(at, 'kind'), 'kind is required');
    if (name === undefined) p.error(field(at, 'name'), 'name is required');
    if (kind === 'ServiceAccount' && namespace === undefined) p.error(field(at, 'namespace'), 'a ServiceAccount subject needs a namespace');
    if (kind === undefined || name === undefined) return;
    out.push(kind === 'ServiceAccount' ? { kind, name, namespace: namespace ?? '' } : { kind, name });
  });
  return out;
}

interface MatchOptions {
  readonly block: 'match' | 'exclude';
  /** kyverno.io/v1 accepts the deprecated form with filters directly under match/exclude. */
  readonly allowDeprecatedForm: boolean;
  /** Rules and exceptions with background processing cannot match on the requesting user. */
  readonly background: boolean;
  /** verifyImages rules may not match wildcard kinds. */
  readonly forbidWildcardKinds: boolean;
}

function decodeFilter(p: Problems, object: Mapping, path: string, options: MatchOptions): ResourceFilter {
  const resources = decodeResourceDescription(p, object.resources, field(path, 'resources'));
  const userInfo: UserInfo = {
    roles: stringList(p, object.roles, field(path, 'roles')),
    clusterRoles: stringList(p, object.clusterRoles, field(path, 'clusterRoles')),
    subjects: decodeSubjects(p, object.subjects, field(path, 'subjects')),
  };
  if (options.block === 'match' && resources.kinds.length === 0) {
    // Kyverno: "the kind attribute is mandatory when working with the resources element".
    p.error(field(field(path, 'resources'), 'kinds'), 'kinds is required in match: name at least one kind');
  }
  if (options.forbidWildcardKinds && options.block === 'match') {
    resources.kinds.forEach((kind, i) => {
      const selector = parseKindSelector(kind);
      if (selector !== undefined && /[*?]/.test(selector.kind)) p.error(item(field(field(path, 'resources'), 'kinds'), i), `wildcard kind ${JSON.stringify(kind)} is not allowed in a verifyImages rule`);
    });
  }
  for (const key of ['subjects', 'roles', 'clusterRoles'] as const) {
    if (options.background && object[key] !== undefined && object[key] !== null) {
      p.error(field(path, key), `${key} matches the requesting user, which background processing does not have; set background: false`);
    }
  }
  return { resources, userInfo };
}

function decodeMatch(p: Problems, value: unknown, path: string, options: MatchOptions): MatchResources | undefined {
  const object = mapping(p, value, path);
  if (object === undefined) {
    if (options.block === 'match') p.error(path, 'match is required');
    return undefined;
  }
  const deprecated = ['resources', 'subjects', 'roles', 'clusterRoles'];
  checkFields(p, object, path, ['any', 'all', ...deprecated]);
  const hasAny = object.any !== undefined && object.any !== null;
  const hasAll = object.all !== undefined && object.all !== null;
  const hasDeprecated = deprecated.some((key) => object[key] !== undefined && object[key] !== null);
  if (hasAny && hasAll) {
    p.error(path, 'any and all cannot both be set');
    return undefined;
  }
  if (hasDeprecated && (hasAny || hasAll)) {
    p.error(path, `${hasAny ? 'any' : 'all'} cannot be combined with resources/subjects/roles/clusterRoles directly under ${options.block}`);
    return undefined;
  }
  if (hasDeprecated) {
    if (!options.allowDeprecatedForm) {
      p.error(path, `this apiVersion accepts only any or all under ${options.block}`);
      return undefined;
    }
    return { mode: 'all', filters: [decodeFilter(p, object, path, options)] };
  }
  if (!hasAny && !hasAll) {
    if (options.block === 'match') p.error(path, 'match needs any, all or resources');
    return undefined;
  }
  const mode = hasAny ? 'any' : 'all';
  const listPath = field(path, mode);
  const entries = list(p, object[mode], listPath) ?? [];
  if (entries.length === 0) p.error(listPath, `${mode} needs at least one filter`);
  const filters: ResourceFilter[] = [];
  entries.forEach((entry, i) => {
    const at = item(listPath, i);
    const filter = mapping(p, entry, at);
    if (filter === undefined) {
      if (entry === null || entry === undefined) p.error(at, 'a filter must be a mapping');
      return;
    }
    checkFields(p, filter, at, deprecated);
    filters.push(decodeFilter(p, filter, at, options));
  });
  return { mode, filters };
}

// ---------------------------------------------------------------------------------------------
// verifyImages

type VerificationType = ImageVerification['type'];

const NOT_FOR_NOTARY = 'applies to type Cosign only';

function decodeCertificates(p: Problems, value: unknown, path: string, type: VerificationType): NotaryAttestor & CosignAttestor | undefined {
  const object = mapping(p, value, path);
  if (object === undefined) return undefined;
  const cosignOnly: Record<string, string> = type === 'Notary' ? { rekor: `rekor ${NOT_FOR_NOTARY}`, ctlog: `ctlog ${NOT_FOR_NOTARY}` } : {};
  // For Cosign, rekor/ctlog are modelled when the Cosign verifier lands; the entry is refused until then.
  checkFields(p, object, path, type === 'Notary' ? ['cert', 'certChain'] : ['cert', 'certChain', 'rekor', 'ctlog'], cosignOnly);
  const cert = string(p, object.cert, field(path, 'cert'));
  const certChain = string(p, object.certChain, field(path, 'certChain'));
  if (cert === undefined && certChain === undefined) p.error(path, 'cert or certChain is required');
  for (const [key, pem] of [['cert', cert], ['certChain', certChain]] as const) {
    if (pem === undefined) continue;
    if (hasVariable(pem)) p.unsupported(field(path, key), 'variables are not supported: Sigil has no policy context; put the PEM certificate inline');
    else if (!pem.includes('-----BEGIN CERTIFICATE-----')) p.error(field(path, key), `${key} must hold PEM certificates (-----BEGIN CERTIFICATE-----)`);
  }
  return { kind: 'certificates', cert, certChain };
}

function decodeKeys(p: Problems, object: Mapping, path: string): CosignAttestor {
  checkFields(p, object, path, ['publicKeys', 'kms', 'secret', 'signatureAlgorithm', 'rekor', 'ctlog']);
  let secret: { name: string; namespace: string } | undefined;
  const secretObject = mapping(p, object.secret, field(path, 'secret'));
  if (secretObject !== undefined) {
    checkFields(p, secretObject, field(path, 'secret'), ['name', 'namespace']);
    secret = { name: string(p, secretObject.name, field(field(path, 'secret'), 'name')) ?? '', namespace: string(p, secretObject.namespace, field(field(path, 'secret'), 'namespace')) ?? '' };
  }
  return {
    kind: 'keys',
    publicKeys: string(p, object.publicKeys, field(path, 'publicKeys')),
    kms: string(p, object.kms, field(path, 'kms')),
    secret,
    signatureAlgorithm: oneOf(p, object.signatureAlgorithm, field(path, 'signatureAlgorithm'), SIGNATURE_ALGORITHMS) ?? 'sha256',
  };
}

function decodeKeyless(p: Problems, object: Mapping, path: string): CosignAttestor {
  checkFields(p, object, path, ['issuer', 'issuerRegExp', 'subject', 'subjectRegExp', 'roots', 'additionalExtensions', 'rekor', 'ctlog']);
  return {
    kind: 'keyless',
    issuer: string(p, object.issuer, field(path, 'issuer')),
    issuerRegExp: string(p, object.issuerRegExp, field(path, 'issuerRegExp')),
    subject: string(p, object.subject, field(path, 'subject')),
    subjectRegExp: string(p, object.subjectRegExp, field(path, 'subjectRegExp')),
    roots: string(p, object.roots, field(path, 'roots')),
  };
}

function decodeAttestor(p: Problems, value: unknown, path: string, type: VerificationType, depth: number): CosignAttestor | undefined {
  const object = mapping(p, value, path);
  if (object === undefined) {
    p.error(path, 'an attestor entry must be a mapping');
    return undefined;
  }
  checkFields(p, object, path, ['certificates', 'keys', 'keyless', 'attestor', 'signatureAlgorithm'], {
    annotations: type === 'Notary' ? "Kyverno's Notary verifier ignores annotations; Sigil does not check them yet" : 'annotation checks are not implemented yet',
    repository: type === 'Notary' ? "Kyverno's Notary verifier ignores repository; Sigil does not implement signature repositories yet" : 'signature repositories are not implemented yet',
  });
  // The CRD defaults signatureAlgorithm to sha256, so policies exported from a cluster carry it; it means nothing for Notary.
  const algorithm = oneOf(p, object.signatureAlgorithm, field(path, 'signatureAlgorithm'), SIGNATURE_ALGORITHMS);
  if (type === 'Notary' && algorithm !== undefined && algorithm !== 'sha256') p.unsupported(field(path, 'signatureAlgorithm'), `signatureAlgorithm ${NOT_FOR_NOTARY}`);
  const kinds = (['keys', 'certificates', 'keyless', 'attestor'] as const).filter((key) => object[key] !== undefined && object[key] !== null);
  if (kinds.length === 0) {
    p.error(path, 'keys, certificates, keyless, or a nested attestor is required');
    return undefined;
  }
  if (kinds.length > 1) {
    p.error(path, `only one of keys, certificates, keyless or attestor may be set, found ${kinds.join(', ')}`);
    return undefined;
  }
  const kind = kinds[0];
  if (kind === undefined) return undefined;
  const at = field(path, kind);
  switch (kind) {
    case 'certificates':
      return decodeCertificates(p, object.certificates, at, type);
    case 'keys':
    case 'keyless': {
      if (type === 'Notary') {
        // Kyverno's messages: "Keys field is not allowed for type notary" / "Keyless field …".
        p.error(at, `${kind === 'keys' ? 'keys' : 'keyless'} field is not allowed for type Notary; use certificates`);
        return undefined;
      }
      const inner = mapping(p, object[kind], at);
      if (inner === undefined) return undefined;
      return kind === 'keys' ? decodeKeys(p, inner, at) : decodeKeyless(p, inner, at);
    }
    case 'attestor': {
      if (depth >= MAX_ATTESTOR_NESTING) {
        p.error(at, `nested attestors deeper than ${MAX_ATTESTOR_NESTING} levels are not accepted`);
        return undefined;
      }
      const attestorSet = decodeAttestorSet(p, object.attestor, at, type, depth + 1);
      return attestorSet === undefined ? undefined : { kind: 'nested', attestorSet };
    }
  }
}

function decodeAttestorSet(p: Problems, value: unknown, path: string, type: VerificationType, depth: number): AttestorSet<CosignAttestor> | undefined {
  const object = mapping(p, value, path);
  if (object === undefined) {
    p.error(path, 'an attestor set must be a mapping');
    return undefined;
  }
  checkFields(p, object, path, ['count', 'entries']);
  const entriesPath = field(path, 'entries');
  const raw = list(p, object.entries, entriesPath) ?? [];
  // Kyverno accepts an empty set, whose "all of none" verifies nothing and passes; Sigil refuses it.
  if (raw.length === 0) p.error(entriesPath, 'an attestor set needs at least one entry');
  const entries: CosignAttestor[] = [];
  raw.forEach((entry, i) => {
    const attestor = decodeAttestor(p, entry, item(entriesPath, i), type, depth);
    if (attestor !== undefined) entries.push(attestor);
  });
  const count = integer(p, object.count, field(path, 'count'));
  // CRD: minimum 1; validate.go: count may not exceed the entries. Unset means all entries.
  if (count !== undefined && count < 1) p.error(field(path, 'count'), `count must be at least 1, found ${count}; omit it to require all entries`);
  else if (count !== undefined && count > raw.length) p.error(field(path, 'count'), `count ${count} is greater than the number of entries (${raw.length})`);
  return { count: count ?? raw.length, entries };
}

function decodeCredentials(p: Problems, value: unknown, path: string): ImageRegistryCredentials | undefined {
  const object = mapping(p, value, path);
  if (object === undefined) return undefined;
  checkFields(p, object, path, ['allowInsecureRegistry', 'providers', 'secrets'], {}, { helpers: "Kyverno's docs say helpers, but its CRD field is providers" });
  const providers: ImageRegistryCredentials['providers'][number][] = [];
  const providersPath = field(path, 'providers');
  (list(p, object.providers, providersPath) ?? []).forEach((entry, i) => {
    const provider = oneOf(p, entry, item(providersPath, i), PROVIDERS);
    if (provider !== undefined) providers.push(provider);
  });
  const secrets = stringList(p, object.secrets, field(path, 'secrets'));
  secrets.forEach((secret, i) => {
    if (!/^([a-z0-9][-a-z0-9]*\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(secret)) p.error(item(field(path, 'secrets'), i), `${JSON.stringify(secret)} is not a Secret name or namespace/name`);
  });
  return { allowInsecureRegistry: boolean(p, object.allowInsecureRegistry, field(path, 'allowInsecureRegistry')) ?? false, providers, secrets };
}

const DEPRECATED_COSIGN_FIELDS = ['key', 'roots', 'subject', 'issuer', 'additionalExtensions', 'annotations'];

function decodeImageVerification(p: Problems, value: unknown, path: string, policyAction: FailureAction): ImageVerification | undefined {
  const object = mapping(p, value, path);
  if (object === undefined) {
    p.error(path, 'a verifyImages entry must be a mapping');
    return undefined;
  }
  const typePath = field(path, 'type');
  const type: VerificationType = oneOf(p, object.type, typePath, ['Cosign', 'SigstoreBundle', 'Notary'] as const) ?? 'Cosign';
  const known = ['type', 'image', 'imageReferences', 'skipImageReferences', 'attestors', 'mutateDigest', 'verifyDigest', 'required', 'useCache', 'failureAction', 'imageRegistryCredentials', 'repository', 'cosignOCI11'];
  const unsupported: Record<string, string> = {
    attestations: 'attestation checks are not implemented yet',
    validate: 'verifyImages validate.deny is not implemented yet',
  };
  for (const key of DEPRECATED_COSIGN_FIELDS) unsupported[key] = `deprecated Cosign field ${key} is not supported; use attestors`;
  if (type === 'Notary') {
    unsupported.repository = "Kyverno's Notary verifier ignores repository; Sigil does not implement signature repositories yet";
    for (const key of DEPRECATED_COSIGN_FIELDS) {
      if (object[key] !== undefined) {
        p.error(field(path, key), `${key} is a Cosign field and not allowed for type Notary`);
        delete unsupported[key];
        known.push(key);
      }
    }
  }
  checkFields(p, object, path, type === 'Notary' ? known.filter((key) => key !== 'repository') : known, unsupported);
  if (type !== 'Notary') {
    p.unsupported(object.type === undefined ? path : typePath, `type ${type}${object.type === undefined ? " (Kyverno's default when type is unset)" : ''} is not supported yet; Sigil verifies type: Notary`);
  }
  const imagePath = field(path, 'image');
  const image = string(p, object.image, imagePath);
  const imageReferences = stringList(p, object.imageReferences, field(path, 'imageReferences'));
  if (image !== undefined) imageReferences.unshift(image);
  if (imageReferences.length === 0) p.error(field(path, 'imageReferences'), 'an image reference is required');
  imageReferences.forEach((reference, i) => {
    const at = image !== undefined && i === 0 ? imagePath : item(field(path, 'imageReferences'), image !== undefined ? i - 1 : i);
    if (hasVariable(reference)) p.error(at, 'variables are not allowed in image reference');
    else if (reference === '') p.error(at, 'an image reference pattern cannot be empty');
  });
  const skipImageReferences = stringList(p, object.skipImageReferences, field(path, 'skipImageReferences'));
  skipImageReferences.forEach((reference, i) => {
    if (hasVariable(reference)) p.unsupported(item(field(path, 'skipImageReferences'), i), 'variables are not supported: Sigil has no policy context');
  });

  const action = failureAction(p, object.failureAction, field(path, 'failureAction'));
  const mutateDigest = boolean(p, object.mutateDigest, field(path, 'mutateDigest')) ?? true;
  // validate.go: the entry's action if set, else the policy's; Audit cannot mutate digests.
  if (mutateDigest && (action ?? policyAction) === 'Audit') {
    p.error(field(path, 'mutateDigest'), `mutateDigest must be set to false for 'Audit' failure action${object.mutateDigest === undefined ? ' (it defaults to true)' : ''}`);
  }
  const cosignOCI11 = boolean(p, object.cosignOCI11, field(path, 'cosignOCI11')) ?? false;
  if (type === 'Notary' && cosignOCI11) p.error(field(path, 'cosignOCI11'), `cosignOCI11 ${NOT_FOR_NOTARY}`);

  const attestorsPath = field(path, 'attestors');
  const attestors: AttestorSet<CosignAttestor>[] = [];
  (list(p, object.attestors, attestorsPath) ?? []).forEach((entry, i) => {
    const set = decodeAttestorSet(p, entry, item(attestorsPath, i), type, 0);
    if (set !== undefined) attestors.push(set);
  });

  const base = {
    imageReferences,
    skipImageReferences,
    mutateDigest,
    verifyDigest: boolean(p, object.verifyDigest, field(path, 'verifyDigest')) ?? true,
    required: boolean(p, object.required, field(path, 'required')) ?? true,
    useCache: boolean(p, object.useCache, field(path, 'useCache')) ?? true,
    failureAction: action,
    imageRegistryCredentials: decodeCredentials(p, object.imageRegistryCredentials, field(path, 'imageRegistryCredentials')),
  };
  if (type === 'Notary') {
    // decodeAttestor refuses keys/keyless for Notary, so only certificates and nested sets remain.
    return { ...base, type, attestors: attestors as AttestorSet<NotaryAttestor>[] };
  }
  return { ...base, type, attestors, repository: string(p, object.repository, field(path, 'repository')), cosignOCI11 };
}

// ---------------------------------------------------------------------------------------------
// Sigil's per-rule Notation trust policy (model.ts TRUST_POLICY_ANNOTATION)

const TRUST_POLICY_PATH = field('metadata.annotations', TRUST_POLICY_ANNOTATION);

function trustPolicyStatement(p: Problems, path: string, options: Parameters<typeof createTrustPolicyDocument>[0]): RuleTrustPolicy['statement'] | undefined {
  try {
    return createTrustPolicyDocument(options).trustPolicies[0];
  } catch (error) {
    if (!(error instanceof TrustPolicyError)) throw error;
    p.error(path, `invalid Notation trust policy: ${error.message}`);
    return undefined;
  }
}

/** Kyverno's fixed Notary trust policy (reference §1e): strict, any identity, the entry's certificates as `ca:kyverno`. */
function kyvernoTrustPolicy(ruleName: string): RuleTrustPolicy {
  const statement = createTrustPolicyDocument({ name: ruleName, registryScopes: ['*'], level: 'strict', trustStores: [`ca:${ADMISSION_TRUST_STORE_NAME}`], trustedIdentities: ['*'] }).trustPolicies[0];
  if (statement === undefined) throw new Error('unreachable: a one-statement document has a statement');
  return { origin: 'kyverno', statement, tsaCertificates: undefined };
}

function decodeTrustPolicies(p: Problems, annotation: string, ruleNames: readonly string[]): Map<string, RuleTrustPolicy> {
  const out = new Map<string, RuleTrustPolicy>();
  let parsed: readonly ParsedDocument[];
  try {
    const result = parseYaml(annotation, p.source);
    const problems = result.problems.flatMap((inner) => inner.list);
    for (const problem of problems) p.error(TRUST_POLICY_PATH, problem.message);
    if (problems.length > 0) return out;
    parsed = result.documents;
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    for (const problem of error.problems) p.error(TRUST_POLICY_PATH, problem.message);
    return out;
  }
  if (parsed.length !== 1) {
    p.error(TRUST_POLICY_PATH, 'must hold one YAML or JSON mapping from rule name to trust policy statement');
    return out;
  }
  const rules = mapping(p, parsed[0]?.value, TRUST_POLICY_PATH);
  if (rules === undefined) {
    p.error(TRUST_POLICY_PATH, 'must hold one YAML or JSON mapping from rule name to trust policy statement');
    return out;
  }
  for (const [ruleName, value] of Object.entries(rules)) {
    const path = field(TRUST_POLICY_PATH, ruleName);
    if (!ruleNames.includes(ruleName)) {
      p.error(path, `no rule named ${JSON.stringify(ruleName)} in this policy`);
      continue;
    }
    const object = mapping(p, value, path);
    if (object === undefined) continue;
    checkFields(p, object, path, ['signatureVerification', 'trustedIdentities', 'registryScopes', 'tsaCertificates'], {
      trustStores: 'trust stores are the attestor certificates (ca:kyverno) and tsaCertificates (tsa:kyverno)',
    });
    const verification = mapping(p, object.signatureVerification, field(path, 'signatureVerification')) ?? {};
    const verificationPath = field(path, 'signatureVerification');
    checkFields(p, verification, verificationPath, ['level', 'override', 'verifyTimestamp']);
    const level = string(p, verification.level, field(verificationPath, 'level')) ?? 'strict';
    if (level === 'skip') {
      p.error(field(verificationPath, 'level'), 'level skip verifies nothing; list the images in skipImageReferences instead');
      continue;
    }
    const tsaCertificates = string(p, object.tsaCertificates, field(path, 'tsaCertificates'));
    if (tsaCertificates !== undefined && !tsaCertificates.includes('-----BEGIN CERTIFICATE-----')) p.error(field(path, 'tsaCertificates'), 'tsaCertificates must hold PEM certificates');
    const statement = trustPolicyStatement(p, path, {
      name: ruleName,
      registryScopes: object.registryScopes === undefined ? ['*'] : stringList(p, object.registryScopes, field(path, 'registryScopes')),
      level,
      override: stringMap(p, verification.override, field(verificationPath, 'override')),
      verifyTimestamp: string(p, verification.verifyTimestamp, field(verificationPath, 'verifyTimestamp')),
      trustStores: [`ca:${ADMISSION_TRUST_STORE_NAME}`, ...(tsaCertificates === undefined ? [] : [`tsa:${ADMISSION_TRUST_STORE_NAME}`])],
      trustedIdentities: object.trustedIdentities === undefined ? ['*'] : stringList(p, object.trustedIdentities, field(path, 'trustedIdentities')),
    });
    if (statement !== undefined) out.set(ruleName, { origin: 'annotation', statement, tsaCertificates });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ClusterPolicy / Policy

function decodeRule(p: Problems, value: unknown, path: string, policyAction: FailureAction, background: boolean, allowDeprecatedForm: boolean): Omit<Rule, 'trustPolicy'> | undefined {
  const object = mapping(p, value, path);
  if (object === undefined) {
    p.error(path, 'a rule must be a mapping');
    return undefined;
  }
  checkFields(p, object, path, ['name', 'match', 'exclude', 'verifyImages', 'reportProperties', 'skipBackgroundRequests', 'mutate', 'validate', 'generate'], {
    context: 'context entries (configMap, apiCall, variables) are not implemented yet',
    preconditions: 'preconditions are not implemented yet',
    celPreconditions: 'celPreconditions are not implemented yet',
    imageExtractors: 'imageExtractors are not implemented yet; Sigil reads Pod and pod-controller images',
  });
  const name = string(p, object.name, field(path, 'name'));
  if (name === undefined) p.error(field(path, 'name'), 'rule name is required');
  else if (name.length === 0 || name.length > MAX_RULE_NAME_LENGTH) p.error(field(path, 'name'), `rule name must be 1 to ${MAX_RULE_NAME_LENGTH} characters`);
  const types = (['mutate', 'validate', 'generate', 'verifyImages'] as const).filter((key) => object[key] !== undefined && object[key] !== null);
  if (types.length === 0) p.error(path, 'a rule needs one of mutate, validate, generate or verifyImages; Sigil implements verifyImages');
  if (types.length > 1) p.error(path, `a rule may have only one of mutate, validate, generate or verifyImages, found ${types.join(', ')}`);
  for (const type of types) if (type !== 'verifyImages') p.unsupported(field(path, type), `${type} rules are not supported; Sigil implements verifyImages`);
  boolean(p, object.skipBackgroundRequests, field(path, 'skipBackgroundRequests'));
  const options = { allowDeprecatedForm, background, forbidWildcardKinds: true } as const;
  const match = decodeMatch(p, object.match, field(path, 'match'), { ...options, block: 'match' });
  const exclude = decodeMatch(p, object.exclude, field(path, 'exclude'), { ...options, block: 'exclude' });
  const verifyImagesPath = field(path, 'verifyImages');
  const rawEntries = list(p, object.verifyImages, verifyImagesPath);
  if (rawEntries !== undefined && rawEntries.length === 0) p.error(verifyImagesPath, 'verifyImages needs at least one entry');
  const verifyImages: ImageVerification[] = [];
  (rawEntries ?? []).forEach((entry, i) => {
    const verification = decodeImageVerification(p, entry, item(verifyImagesPath, i), policyAction);
    if (verification !== undefined) verifyImages.push(verification);
  });
  const actions = verifyImages.map((v) => v.failureAction).filter((a) => a !== undefined);
  // engineresponse.go ruleAction: any Enforce entry makes the rule Enforce.
  const ruleAction: FailureAction | undefined = actions.includes('Enforce') ? 'Enforce' : actions.length > 0 ? 'Audit' : undefined;
  const reportProperties = stringMap(p, object.reportProperties, field(path, 'reportProperties')) ?? {};
  if (name === undefined || match === undefined) return undefined;
  return { name, match, exclude, verifyImages, failureAction: ruleAction, reportProperties };
}

function decodeOverrides(p: Problems, value: unknown, path: string): FailureActionOverride[] {
  const out: FailureActionOverride[] = [];
  (list(p, value, path) ?? []).forEach((entry, i) => {
    const at = item(path, i);
    const object = mapping(p, entry, at);
    if (object === undefined) return;
    checkFields(p, object, at, ['action', 'namespaces', 'namespaceSelector']);
    const action = failureAction(p, object.action, field(at, 'action'));
    if (object.action === undefined) p.error(field(at, 'action'), 'action is required');
    const namespaces = stringList(p, object.namespaces, field(at, 'namespaces'));
    const namespaceSelector = decodeLabelSelector(p, object.namespaceSelector, field(at, 'namespaceSelector'));
    if (action !== undefined) out.push({ action, namespaces, namespaceSelector });
  });
  return out;
}

function timeoutSeconds(p: Problems, value: unknown, path: string): number | undefined {
  const seconds = integer(p, value, path);
  // validate.go: webhook timeouts must be between 1 and 30 seconds (the API server's own bounds).
  if (seconds !== undefined && (seconds < 1 || seconds > 30)) p.error(path, `timeout must be between 1 and 30 seconds, found ${seconds}`);
  return seconds;
}

function decodeAutogen(p: Problems, annotations: Readonly<Record<string, string>>): PodController[] | undefined {
  const value = annotations[AUTOGEN_CONTROLLERS_ANNOTATION];
  if (value === undefined) return undefined;
  if (value.trim() === 'none') return [];
  const out: PodController[] = [];
  for (const raw of value.split(',')) {
    const kind = raw.trim();
    if ((POD_CONTROLLERS as readonly string[]).includes(kind)) out.push(kind as PodController);
    else p.error(field('metadata.annotations', AUTOGEN_CONTROLLERS_ANNOTATION), `${JSON.stringify(kind)} is not a pod controller; use none or a comma-separated list of ${POD_CONTROLLERS.join(', ')}`);
  }
  return out;
}

const SPEC_UNSUPPORTED_WHEN_TRUE: Readonly<Record<string, string>> = {
  emitWarning: 'API warnings for policy results are not implemented yet',
  mutateExistingOnPolicyUpdate: 'applies to mutate rules, which Sigil does not implement',
  generateExisting: 'applies to generate rules, which Sigil does not implement',
  generateExistingOnPolicyUpdate: 'applies to generate rules, which Sigil does not implement',
  useServerSideApply: 'applies to mutate and generate rules, which Sigil does not implement',
};

function decodeSpec(p: Problems, value: unknown, kind: 'ClusterPolicy' | 'Policy', metadata: ObjectMetadata | undefined, allowDeprecatedForm: boolean): PolicySpec | undefined {
  const path = 'spec';
  const object = mapping(p, value, path);
  if (object === undefined) {
    p.error(path, 'spec is required');
    return undefined;
  }
  const known = ['rules', 'validationFailureAction', 'validationFailureActionOverrides', 'failurePolicy', 'webhookTimeoutSeconds', 'webhookConfiguration', 'background', 'applyRules', 'admission', 'schemaValidation', ...Object.keys(SPEC_UNSUPPORTED_WHEN_TRUE)];
  checkFields(p, object, path, known);
  for (const [key, why] of Object.entries(SPEC_UNSUPPORTED_WHEN_TRUE)) {
    if (boolean(p, object[key], field(path, key)) === true) p.unsupported(field(path, key), why);
  }
  // Deprecated and without effect in Kyverno itself; accepted so exported policies load.
  boolean(p, object.schemaValidation, field(path, 'schemaValidation'));
  if (boolean(p, object.admission, field(path, 'admission')) === false) {
    p.error(field(path, 'admission'), 'disabling admission processing is only allowed with validation policies; verifyImages needs admission');
  }
  const validationFailureAction = failureAction(p, object.validationFailureAction, field(path, 'validationFailureAction')) ?? 'Audit';
  const overridesPath = field(path, 'validationFailureActionOverrides');
  if (kind === 'Policy' && object.validationFailureActionOverrides !== undefined) p.error(overridesPath, 'validationFailureActionOverrides applies to ClusterPolicy only');
  const validationFailureActionOverrides = decodeOverrides(p, object.validationFailureActionOverrides, overridesPath);
  const background = boolean(p, object.background, field(path, 'background')) ?? true;
  const applyRules = oneOf(p, object.applyRules, field(path, 'applyRules'), ['All', 'One'] as const) ?? 'All';

  const webhookPath = field(path, 'webhookConfiguration');
  const webhook = mapping(p, object.webhookConfiguration, webhookPath) ?? {};
  checkFields(p, webhook, webhookPath, ['failurePolicy', 'timeoutSeconds'], { matchConditions: 'webhook matchConditions (CEL) are not implemented yet' });
  const failurePolicies: (FailurePolicy | undefined)[] = [
    oneOf(p, webhook.failurePolicy, field(webhookPath, 'failurePolicy'), ['Fail', 'Ignore'] as const),
    oneOf(p, object.failurePolicy, field(path, 'failurePolicy'), ['Fail', 'Ignore'] as const),
  ];
  const timeouts = [timeoutSeconds(p, webhook.timeoutSeconds, field(webhookPath, 'timeoutSeconds')), timeoutSeconds(p, object.webhookTimeoutSeconds, field(path, 'webhookTimeoutSeconds'))];

  const rulesPath = field(path, 'rules');
  const rawRules = list(p, object.rules, rulesPath) ?? [];
  if (rawRules.length === 0) p.error(rulesPath, 'a policy needs at least one rule');
  const decoded: Omit<Rule, 'trustPolicy'>[] = [];
  const seen = new Set<string>();
  rawRules.forEach((entry, i) => {
    const rule = decodeRule(p, entry, item(rulesPath, i), validationFailureAction, background, allowDeprecatedForm);
    if (rule === undefined) return;
    if (seen.has(rule.name)) p.error(field(item(rulesPath, i), 'name'), `duplicate rule name ${JSON.stringify(rule.name)}`);
    seen.add(rule.name);
    decoded.push(rule);
  });
  const annotations = metadata?.annotations ?? {};
  const trustPolicyAnnotation = annotations[TRUST_POLICY_ANNOTATION];
  const trustPolicies = trustPolicyAnnotation === undefined ? new Map<string, RuleTrustPolicy>() : decodeTrustPolicies(p, trustPolicyAnnotation, [...seen]);
  return {
    rules: decoded.map((rule) => ({ ...rule, trustPolicy: trustPolicies.get(rule.name) ?? kyvernoTrustPolicy(rule.name) })),
    validationFailureAction,
    validationFailureActionOverrides,
    // GetFailurePolicy / GetWebhookTimeoutSeconds: webhookConfiguration wins over the deprecated fields.
    failurePolicy: failurePolicies.find((f) => f !== undefined) ?? 'Fail',
    webhookTimeoutSeconds: timeouts.find((t) => t !== undefined),
    background,
    applyRules,
    autogenControllers: decodeAutogen(p, annotations),
  };
}

// ---------------------------------------------------------------------------------------------
// PolicyException

function decodeException(p: Problems, value: unknown): Pick<PolicyException, 'exceptions' | 'match' | 'background'> | undefined {
  const path = 'spec';
  const object = mapping(p, value, path);
  if (object === undefined) {
    p.error(path, 'spec is required');
    return undefined;
  }
  checkFields(p, object, path, ['exceptions', 'match', 'background'], {
    conditions: 'JMESPath conditions are not implemented yet',
    podSecurity: 'Pod Security exemptions do not apply to verifyImages',
  });
  const background = boolean(p, object.background, field(path, 'background')) ?? true;
  const exceptionsPath = field(path, 'exceptions');
  const raw = list(p, object.exceptions, exceptionsPath) ?? [];
  if (raw.length === 0) p.error(exceptionsPath, 'exceptions needs at least one entry');
  const exceptions: ExceptionTarget[] = [];
  raw.forEach((entry, i) => {
    const at = item(exceptionsPath, i);
    const target = mapping(p, entry, at);
    if (target === undefined) return;
    checkFields(p, target, at, ['policyName', 'ruleNames']);
    const policyName = string(p, target.policyName, field(at, 'policyName'));
    if (policyName === undefined || policyName === '') p.error(field(at, 'policyName'), 'policyName is required');
    const ruleNames = stringList(p, target.ruleNames, field(at, 'ruleNames'));
    if (ruleNames.length === 0) p.error(field(at, 'ruleNames'), 'ruleNames needs at least one rule name');
    if (policyName !== undefined && policyName !== '') exceptions.push({ policyName, ruleNames });
  });
  const match = decodeMatch(p, object.match, field(path, 'match'), { block: 'match', allowDeprecatedForm: false, background, forbidWildcardKinds: false });
  if (match === undefined) return undefined;
  return { exceptions, match, background };
}

// ---------------------------------------------------------------------------------------------

const POLICY_API_VERSIONS = ['kyverno.io/v1', 'kyverno.io/v2beta1'] as const;
const EXCEPTION_API_VERSIONS = ['kyverno.io/v2', 'kyverno.io/v2beta1'] as const;

function decodeDocument(p: Problems, value: unknown, origin: DocumentOrigin): PolicyDocument | undefined {
  if (!isMapping(value)) {
    p.error('', `a policy document must be a mapping, found ${describe(value)}`);
    return undefined;
  }
  // status is written by the cluster and carries no policy meaning.
  checkFields(p, value, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  const kind = string(p, value.kind, 'kind');
  const apiVersion = string(p, value.apiVersion, 'apiVersion');
  if (kind === undefined || apiVersion === undefined) {
    if (kind === undefined) p.error('kind', 'kind is required');
    if (apiVersion === undefined) p.error('apiVersion', 'apiVersion is required');
    return undefined;
  }
  if (kind === 'ClusterPolicy' || kind === 'Policy') {
    if (!(POLICY_API_VERSIONS as readonly string[]).includes(apiVersion)) {
      p.error('apiVersion', `${kind} apiVersion must be ${POLICY_API_VERSIONS.join(' or ')}, found ${JSON.stringify(apiVersion)}`);
      return undefined;
    }
    const metadata = decodeMetadata(p, value.metadata, kind, kind === 'Policy');
    const spec = decodeSpec(p, value.spec, kind, metadata, apiVersion === 'kyverno.io/v1');
    if (metadata === undefined || spec === undefined) return undefined;
    return { kind, apiVersion: apiVersion as KyvernoPolicy['apiVersion'], metadata, spec, origin };
  }
  if (kind === 'PolicyException') {
    if (!(EXCEPTION_API_VERSIONS as readonly string[]).includes(apiVersion)) {
      p.error('apiVersion', `PolicyException apiVersion must be ${EXCEPTION_API_VERSIONS.join(' or ')}, found ${JSON.stringify(apiVersion)}`);
      return undefined;
    }
    const metadata = decodeMetadata(p, value.metadata, kind, true);
    const spec = decodeException(p, value.spec);
    if (metadata === undefined || spec === undefined) return undefined;
    return { kind, apiVersion: apiVersion as PolicyException['apiVersion'], metadata, ...spec, origin };
  }
  if (KYVERNO_KINDS_NOT_SUPPORTED.includes(kind)) {
    p.unsupported('kind', `${kind} is not supported yet; Sigil loads ClusterPolicy, Policy and PolicyException`);
  } else {
    p.error('kind', `${JSON.stringify(kind)} is not a policy kind; expected ClusterPolicy, Policy or PolicyException`);
  }
  return undefined;
}

/**
 * Decodes every YAML document in `text` (named `source` in problems; `source#N` when there are
 * several documents) into frozen policies and exceptions, or throws one PolicyError listing every
 * problem of every document. Empty documents are skipped.
 */
export function decodePolicyDocuments(text: string, source: string): PolicyDocument[] {
  const { documents, problems } = parseYaml(text, source);
  const out: PolicyDocument[] = [];
  for (const { value, index, problems: p } of documents) {
    const document = decodeDocument(p, value, { source, index });
    if (document !== undefined && p.list.length === 0) out.push(deepFreeze(document));
  }
  const all = problems.flatMap((p) => p.list);
  if (all.length > 0) throw new PolicyError(all);
  return out;
}
