// The OCI trust policy document (trust-store-trust-policy.md v1.1, Trust Policy) as a pure codec:
// decoded and validated once into a frozen object, then a pure lookup picks the statement for an artifact.
// Validation follows notation-go verifier/trustpolicy (oci.go Validate, trustpolicy.go validatePolicyCore)
// rule for rule and in the same order, with its messages; where the spec and notation-go differ, notation-go wins.

import { DistinguishedNameError, isSubsetOf, validateTrustedIdentityName, type DistinguishedName } from '../pki/index.js';
import { TrustPolicyError } from './errors.js';
import { resolveVerificationLevel, type ValidationAction, type ValidationType, type VerificationLevel, type VerificationLevelName } from './levels.js';
import { isTrustStoreName, isTrustStoreType, type TrustStoreType } from './truststore.js';

/** The only trust policy document version there is (trust-store-trust-policy.md, Trust Policy properties). */
export const TRUST_POLICY_VERSION = '1.0';

/** Notation's tutorial link, which it appends to policy errors. */
export const TRUST_POLICY_LINK = 'https://notaryproject.dev/docs/quickstart/#create-a-trust-policy';

/** When to verify a timestamp countersignature: always (the default), or only once a signing certificate has expired. */
export type VerifyTimestamp = 'always' | 'afterCertExpiry';

/** A `trustStores` entry, `type:name`, split. */
export interface TrustStoreReference {
  readonly type: TrustStoreType;
  readonly name: string;
}

/**
 * A `trustedIdentities` entry: `*` (any identity), an `x509.subject:` distinguished name, or another
 * `prefix:value` that notation-go accepts unvalidated for plugins; `raw` is the string as written.
 */
export type TrustedIdentity =
  | { readonly kind: 'any'; readonly raw: '*' }
  | { readonly kind: 'x509.subject'; readonly raw: string; readonly dn: DistinguishedName }
  | { readonly kind: 'other'; readonly raw: string; readonly prefix: string; readonly value: string };

/** A statement's `signatureVerification` object, with `verifyTimestamp` defaulted to `always`. */
export interface SignatureVerification {
  readonly level: VerificationLevelName;
  /** Per-check overrides as written; undefined when absent or empty (notation-go treats both alike). */
  readonly override: Readonly<Partial<Record<ValidationType, ValidationAction>>> | undefined;
  readonly verifyTimestamp: VerifyTimestamp;
}

/** One validated trust policy statement. */
export interface TrustPolicyStatement {
  readonly name: string;
  /** `*` alone, or fully qualified repositories (`registry/repository`), each used by no other statement. */
  readonly registryScopes: readonly string[];
  readonly signatureVerification: SignatureVerification;
  /** The level `signatureVerification` resolves to: a preset, or `custom` when overridden. */
  readonly level: VerificationLevel;
  /** Empty exactly when the level is `skip`. */
  readonly trustStores: readonly TrustStoreReference[];
  /** Empty exactly when the level is `skip`. */
  readonly trustedIdentities: readonly TrustedIdentity[];
}

/** A validated, frozen OCI trust policy document. */
export interface TrustPolicyDocument {
  readonly version: typeof TRUST_POLICY_VERSION;
  readonly trustPolicies: readonly TrustPolicyStatement[];
}

// ---------------------------------------------------------------------------------------------
// Phase 1: JSON → the shapes Go's encoding/json would fill. A JSON type that cannot fill the Go field
// makes json.Decode fail, which notation reports as "malformed trust policy" before any rule runs.

class Malformed extends Error {}

interface RawStatement {
  readonly name: string;
  readonly registryScopes: readonly string[];
  readonly level: string;
  readonly override: ReadonlyMap<string, string> | undefined;
  readonly verifyTimestamp: string;
  readonly trustStores: readonly string[];
  readonly trustedIdentities: readonly string[];
}

interface RawDocument {
  readonly version: string;
  readonly trustPolicies: readonly RawStatement[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Go's encoding/json matches object keys to struct fields case-insensitively (an exact match or a
 * case fold) and a later key overwrites an earlier one, so `"Version"` fills `version` as well.
 */
function field(object: Record<string, unknown>, name: string): unknown {
  const folded = name.toLowerCase();
  let found: unknown;
  for (const [key, value] of Object.entries(object)) {
    if (key === name || key.toLowerCase() === folded) found = value;
  }
  return found;
}

/** A Go string field: absent or null leaves it empty; anything but a string is a type error. */
function goString(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new Malformed();
  return value;
}

/** A Go []string field: absent or null is empty; a null element decodes to "". */
function goStrings(value: unknown): readonly string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Malformed();
  return value.map(goString);
}

/** A Go struct field: absent or null leaves every field zero. */
function goStruct(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new Malformed();
  return value;
}

/** A Go map[string]string field: absent or null is nil; a null value decodes to "". */
function goStringMap(value: unknown): ReadonlyMap<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new Malformed();
  return new Map(Object.entries(value).map(([k, v]) => [k, goString(v)]));
}

function rawStatement(value: unknown): RawStatement {
  const statement = goStruct(value);
  const verification = goStruct(field(statement, 'signatureVerification'));
  return {
    name: goString(field(statement, 'name')),
    registryScopes: goStrings(field(statement, 'registryScopes')),
    level: goString(field(verification, 'level')),
    override: goStringMap(field(verification, 'override')),
    verifyTimestamp: goString(field(verification, 'verifyTimestamp')),
    trustStores: goStrings(field(statement, 'trustStores')),
    trustedIdentities: goStrings(field(statement, 'trustedIdentities')),
  };
}

function rawDocument(value: unknown): RawDocument {
  // A JSON null document leaves the Go struct zero (and then fails on its empty version).
  const document = goStruct(value);
  const statements = field(document, 'trustPolicies');
  if (statements !== undefined && statements !== null && !Array.isArray(statements)) throw new Malformed();
  return {
    version: goString(field(document, 'version')),
    trustPolicies: ((statements ?? []) as unknown[]).map(rawStatement),
  };
}

/**
 * notation reads the policy with json.Decoder.Decode, which consumes the first JSON value and ignores
 * whatever follows it; for an object or array document, this finds where that first value ends.
 */
function firstValue(text: string): string {
  let start = 0;
  while (start < text.length && ' \t\n\r'.includes(text.charAt(start))) start++;
  const open = text.charAt(start);
  if (open !== '{' && open !== '[') return text;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charAt(i);
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return text.slice(0, i + 1);
    }
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Phase 2: notation-go's rules, first violation wins, in notation-go's order.

/** Go's %q for the strings Notation quotes in its messages. */
function quote(text: string): string {
  return JSON.stringify(text);
}

// distribution/reference grammar as notation-go's validateRegistryScopeFormat uses it, rewritten
// without nested ambiguous quantifiers (JavaScript backtracks where Go's RE2 does not):
// domain label = alnum, with inner hyphens; path component = alnum runs joined by `.`, `_`, `__` or `-`+.
const DOMAIN = /^[a-zA-Z0-9]+(?:-+[a-zA-Z0-9]+)*(?:\.[a-zA-Z0-9]+(?:-+[a-zA-Z0-9]+)*)*(?::[0-9]+)?$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const SCOPE_HINT =
  'make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout';

/** notation-go validateRegistryScopeFormat: the message for a bad scope, or undefined when it is valid. */
function registryScopeProblem(scope: string): string | undefined {
  if (scope.length > 1 && scope.includes('*')) return `registry scope ${quote(scope)} with wild card(s) is not valid, ${SCOPE_HINT}`;
  const slash = scope.indexOf('/');
  const domain = scope.slice(0, slash);
  const repository = scope.slice(slash + 1);
  if (slash < 0 || domain === '' || repository === '' || !DOMAIN.test(domain) || !REPOSITORY.test(repository)) {
    return `registry scope ${quote(scope)} is not valid, ${SCOPE_HINT}`;
  }
  return undefined;
}

const WILDCARD = '*';
const X509_SUBJECT = 'x509.subject';

function freezeAll<T>(items: T[]): readonly T[] {
  return Object.freeze(items);
}

function validateTrustStores(name: string, values: readonly string[]): readonly TrustStoreReference[] {
  return freezeAll(
    values.map((value) => {
      const colon = value.indexOf(':');
      if (colon < 0) {
        throw new Malformed(`trust policy statement ${quote(name)} has malformed trust store value ${quote(value)}. The required format is <TrustStoreType>:<TrustStoreName>`);
      }
      const type = value.slice(0, colon);
      const storeName = value.slice(colon + 1);
      if (!isTrustStoreType(type)) {
        throw new Malformed(`trust policy statement ${quote(name)} uses an unsupported trust store type ${quote(type)} in trust store value ${quote(value)}`);
      }
      if (!isTrustStoreName(storeName)) {
        throw new Malformed(
          `trust policy statement ${quote(name)} uses an unsupported trust store name ${quote(storeName)} in trust store value ${quote(value)}. Named store name needs to follow [a-zA-Z0-9_.-]+ format`,
        );
      }
      return Object.freeze({ type, name: storeName });
    }),
  );
}

function validateTrustedIdentities(name: string, values: readonly string[]): readonly TrustedIdentity[] {
  if (values.length > 1 && values.includes(WILDCARD)) {
    throw new Malformed(`trust policy statement ${quote(name)} uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values`);
  }
  const identities = values.map((raw): TrustedIdentity => {
    if (raw === '') throw new Malformed(`trust policy statement ${quote(name)} has an empty trusted identity`);
    if (raw === WILDCARD) return Object.freeze({ kind: 'any', raw: WILDCARD });
    const colon = raw.indexOf(':');
    if (colon < 0) throw new Malformed(`trust policy statement ${quote(name)} has trusted identity ${quote(raw)} missing separator`);
    const prefix = raw.slice(0, colon);
    const value = raw.slice(colon + 1);
    // notation-go checks only x509.subject identities; any other prefix is for a verification plugin.
    if (prefix !== X509_SUBJECT) return Object.freeze({ kind: 'other', raw, prefix, value });
    if (value === '') throw new Malformed(`trust policy statement ${quote(name)} has trusted identity ${quote(raw)} without an identity value`);
    try {
      // The value is parsed as written, leading space included, as notation-go does (and quotes it so).
      const dn = validateTrustedIdentityName(value);
      return Object.freeze({ kind: 'x509.subject', raw, dn });
    } catch (error) {
      if (!(error instanceof DistinguishedNameError)) throw error;
      throw new Malformed(`trust policy statement ${quote(name)} has trusted identity ${quote(raw)} with invalid identity value: ${error.message}`, { cause: error });
    }
  });
  // notation-go validateOverlappingDNs: no x509.subject may be a subset of another (duplicates included).
  const subjects = identities.flatMap((identity) => (identity.kind === 'x509.subject' ? [identity] : []));
  for (const [i, a] of subjects.entries()) {
    for (const [j, b] of subjects.entries()) {
      if (i !== j && isSubsetOf(a.dn, b.dn)) {
        throw new Malformed(`trust policy statement ${quote(name)} has overlapping x509 trustedIdentities, ${quote(a.raw)} overlaps with ${quote(b.raw)}`);
      }
    }
  }
  return freezeAll(identities);
}

/** notation-go validatePolicyCore: everything about a statement except its registry scopes. */
function validateStatementCore(raw: RawStatement, index: number): Omit<TrustPolicyStatement, 'registryScopes'> {
  // The spec leaves nothing to name here; the document path stands in for the statement name.
  if (raw.name === '') throw new Malformed(`a trust policy statement is missing a name, every statement requires a name (trustPolicies[${index}])`);
  const invalidVerification = (message: string, cause?: unknown): Malformed =>
    new Malformed(`trust policy statement ${quote(raw.name)} has invalid signatureVerification: ${message}`, { cause });

  const settings = { level: raw.level, override: raw.override === undefined ? undefined : Object.fromEntries(raw.override) };
  let level: VerificationLevel;
  try {
    level = resolveVerificationLevel(settings);
  } catch (error) {
    if (!(error instanceof TrustPolicyError)) throw error;
    throw invalidVerification(error.message, error);
  }
  // notation-go: "" means always, and nothing else is allowed.
  if (raw.verifyTimestamp !== '' && raw.verifyTimestamp !== 'always' && raw.verifyTimestamp !== 'afterCertExpiry') {
    throw invalidVerification(`verifyTimestamp must be "always" or "afterCertExpiry", but got ${quote(raw.verifyTimestamp)}`);
  }
  const verifyTimestamp: VerifyTimestamp = raw.verifyTimestamp === 'afterCertExpiry' ? 'afterCertExpiry' : 'always';
  const override = raw.override === undefined || raw.override.size === 0 ? undefined : Object.freeze(Object.fromEntries(raw.override) as Partial<Record<ValidationType, ValidationAction>>);
  const signatureVerification: SignatureVerification = Object.freeze({ level: raw.level as VerificationLevelName, override, verifyTimestamp });

  let trustStores: readonly TrustStoreReference[] = freezeAll([]);
  let trustedIdentities: readonly TrustedIdentity[] = freezeAll([]);
  if (level.name === 'skip') {
    if (raw.trustStores.length > 0 || raw.trustedIdentities.length > 0) {
      throw new Malformed(
        `trust policy statement ${quote(raw.name)} is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped`,
      );
    }
  } else {
    if (raw.trustStores.length === 0 || raw.trustedIdentities.length === 0) {
      throw new Malformed(`trust policy statement ${quote(raw.name)} is either missing trust stores or trusted identities, both must be specified`);
    }
    trustStores = validateTrustStores(raw.name, raw.trustStores);
    trustedIdentities = validateTrustedIdentities(raw.name, raw.trustedIdentities);
  }
  return { name: raw.name, signatureVerification, level, trustStores, trustedIdentities };
}

/** notation-go validateRegistryScopes, over the whole document once every statement's core passed. */
function validateRegistryScopes(statements: readonly RawStatement[]): void {
  const users = new Map<string, string[]>();
  for (const statement of statements) {
    const scopes = statement.registryScopes;
    if (scopes.length === 0) {
      throw new Malformed(`oci trust policy statement ${quote(statement.name)} has zero registry scopes, it must specify registry scopes with at least one value`);
    }
    if (scopes.length > 1 && scopes.includes(WILDCARD)) {
      throw new Malformed(
        `oci trust policy statement ${quote(statement.name)} uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values`,
      );
    }
    for (const scope of scopes) {
      const problem = scope === WILDCARD ? undefined : registryScopeProblem(scope);
      // notation-go's message names only the scope; Sigil leads with the statement (STYLE.md rule 9).
      if (problem !== undefined) throw new Malformed(`oci trust policy statement ${quote(statement.name)}: ${problem}`);
      users.set(scope, [...(users.get(scope) ?? []), statement.name]);
    }
  }
  // notation-go counts every occurrence, so a scope listed twice in one statement is refused too. It
  // walks a Go map (random order); Sigil reports the first such scope in document order.
  for (const [scope, names] of users) {
    if (names.length > 1) {
      const distinct = [...new Set(names)].map(quote).join(', ');
      throw new Malformed(
        `registry scope ${quote(scope)} is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement (used by ${distinct})`,
      );
    }
  }
}

/** notation-go OCIDocument.Validate. */
function validateDocument(raw: RawDocument): TrustPolicyDocument {
  if (raw.version === '') throw new Malformed('oci trust policy document has empty version, version must be specified');
  if (raw.version !== TRUST_POLICY_VERSION) throw new Malformed(`oci trust policy document uses unsupported version ${quote(raw.version)}`);
  if (raw.trustPolicies.length === 0) throw new Malformed('oci trust policy document can not have zero trust policy statements');

  const names = new Set<string>();
  const cores = raw.trustPolicies.map((statement, index) => {
    if (names.has(statement.name)) {
      throw new Malformed(`multiple oci trust policy statements use the same name ${quote(statement.name)}, statement names must be unique`);
    }
    let core;
    try {
      core = validateStatementCore(statement, index);
    } catch (error) {
      if (!(error instanceof Malformed)) throw error;
      throw new Malformed(`oci trust policy: ${error.message}`, { cause: error.cause });
    }
    names.add(statement.name);
    return core;
  });
  validateRegistryScopes(raw.trustPolicies);

  const trustPolicies = cores.map((core, i) => Object.freeze({ ...core, registryScopes: freezeAll([...(raw.trustPolicies[i]?.registryScopes ?? [])]) }));
  return Object.freeze({ version: TRUST_POLICY_VERSION, trustPolicies: freezeAll(trustPolicies) });
}

function policyError(message: string, source: string | undefined, cause?: unknown): TrustPolicyError {
  return new TrustPolicyError('TRUST_POLICY_INVALID', source === undefined ? message : `${source}: ${message}`, { cause });
}

function validated(raw: () => RawDocument, source: string | undefined): TrustPolicyDocument {
  try {
    return validateDocument(raw());
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    throw policyError(error.message, source, error.cause);
  }
}

const MALFORMED = `malformed trust policy. To create a trust policy, see: ${TRUST_POLICY_LINK}`;

/**
 * Decodes and validates an OCI trust policy document (`trustpolicy.json` / `trustpolicy.oci.json`);
 * throws TrustPolicyError (TRUST_POLICY_INVALID) naming `source` and, where there is one, the statement.
 */
export function decodeTrustPolicyDocument(input: Uint8Array | string, source: string): TrustPolicyDocument {
  // Keep a byte order mark so that it is refused, as Go's encoding/json refuses it; invalid UTF-8 becomes
  // U+FFFD, as Go's decoder does inside strings.
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8', { ignoreBOM: true }).decode(input);
  let json: unknown;
  try {
    json = JSON.parse(firstValue(text));
  } catch (error) {
    // SyntaxError, or RangeError on absurd nesting: either way not a document notation could read.
    throw policyError(MALFORMED, source, error);
  }
  return validated(() => {
    try {
      return rawDocument(json);
    } catch (error) {
      if (error instanceof Malformed) throw new Malformed(MALFORMED);
      throw error;
    }
  }, source);
}

function encodeStatement(statement: TrustPolicyStatement): Record<string, unknown> {
  const verification: Record<string, unknown> = { level: statement.signatureVerification.level };
  if (statement.signatureVerification.override !== undefined) verification.override = statement.signatureVerification.override;
  // `always` is the default; writing it out would change nothing.
  if (statement.signatureVerification.verifyTimestamp !== 'always') verification.verifyTimestamp = statement.signatureVerification.verifyTimestamp;
  const encoded: Record<string, unknown> = { name: statement.name, registryScopes: statement.registryScopes, signatureVerification: verification };
  if (statement.trustStores.length > 0) encoded.trustStores = statement.trustStores.map((s) => `${s.type}:${s.name}`);
  if (statement.trustedIdentities.length > 0) encoded.trustedIdentities = statement.trustedIdentities.map((i) => i.raw);
  return encoded;
}

/** Encodes a document as indented JSON in the spec's field order, ready to write as `trustpolicy.json`. */
export function encodeTrustPolicyDocument(document: TrustPolicyDocument): string {
  return `${JSON.stringify({ version: document.version, trustPolicies: document.trustPolicies.map(encodeStatement) }, null, 2)}\n`;
}

/** What `sigil policy init` asks for: one statement, validated exactly as a decoded document is. */
export interface TrustPolicyStatementOptions {
  readonly name: string;
  readonly registryScopes: readonly string[];
  /** A preset level name; defaults to `strict`. */
  readonly level?: string;
  readonly override?: Readonly<Record<string, string>>;
  /** `always` or `afterCertExpiry`; defaults to `always`. */
  readonly verifyTimestamp?: string;
  /** `type:name` values, as in the document. */
  readonly trustStores?: readonly string[];
  readonly trustedIdentities?: readonly string[];
}

/** Builds a one-statement document for `sigil policy init`; throws TrustPolicyError as the decoder would. */
export function createTrustPolicyDocument(options: TrustPolicyStatementOptions): TrustPolicyDocument {
  const statement: RawStatement = {
    name: options.name,
    registryScopes: [...options.registryScopes],
    level: options.level ?? 'strict',
    override: options.override === undefined ? undefined : new Map(Object.entries(options.override)),
    verifyTimestamp: options.verifyTimestamp ?? '',
    trustStores: [...(options.trustStores ?? [])],
    trustedIdentities: [...(options.trustedIdentities ?? [])],
  };
  return validated(() => ({ version: TRUST_POLICY_VERSION, trustPolicies: [statement] }), undefined);
}

/** Picks the statement for `registry/repository@digest`, or throws TrustPolicyError (NO_APPLICABLE_TRUST_POLICY). */
export function findApplicableTrustPolicy(document: TrustPolicyDocument, artifactReference: string): TrustPolicyStatement {
  // trust-store-trust-policy.md, Selecting a trust policy based on artifact URI: the statement listing
  // the repository exactly wins over the `*` statement. As in notation-go, the scope is the text before
  // the last `@` and is compared as written, never normalised (docker.io/library/x is not x).
  const at = artifactReference.lastIndexOf('@');
  if (at < 0) {
    throw new TrustPolicyError(
      'NO_APPLICABLE_TRUST_POLICY',
      `artifact URI ${quote(artifactReference)} could not be parsed, make sure it is the fully qualified oci artifact URI without the scheme/protocol. e.g domain.com:80/my/repository@sha256:digest`,
    );
  }
  const scope = artifactReference.slice(0, at);
  const problem = registryScopeProblem(scope);
  if (problem !== undefined) throw new TrustPolicyError('NO_APPLICABLE_TRUST_POLICY', problem);

  let exact: TrustPolicyStatement | undefined;
  let wildcard: TrustPolicyStatement | undefined;
  for (const statement of document.trustPolicies) {
    if (statement.registryScopes.includes(WILDCARD)) wildcard = statement;
    else if (statement.registryScopes.includes(scope)) exact = statement;
  }
  const applicable = exact ?? wildcard;
  if (applicable === undefined) {
    throw new TrustPolicyError(
      'NO_APPLICABLE_TRUST_POLICY',
      `artifact ${quote(artifactReference)} has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. To create a trust policy, see: ${TRUST_POLICY_LINK}`,
    );
  }
  return applicable;
}
