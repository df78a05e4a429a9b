// References to content in a registry (`registry/repository[:tag][@digest]`) and in an OCI layout.
// Grammar of github.com/distribution/reference v0.6.0 (reference.go, regexp.go, normalize.go):
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := domain "/" path                     (Sigil's strict form needs the domain)
//   domain           := host [ ":" port-number ]
//   host             := domain-name | "[" IPv6address "]"
//   domain-name      := domain-component [ "." domain-component ]*
//   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//   port-number      := /[0-9]+/
//   path             := path-component [ "/" path-component ]*
//   path-component   := /[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/
//   tag              := /[\w][\w.-]{0,127}/
//   digest           := sha256 or sha512 digest (image-spec v1.1.0 descriptor.md#digests)
//
// The name (domain "/" path) is at most 255 characters (distribution/reference NameTotalLengthMax;
// distribution-spec v1.1.0 "less than 256 characters"). Sigil is stricter than the grammar in two
// places that only reject addresses no registry can have: a bracketed host must be a real IPv6
// address and a port must be at most 65535.

import { isIPv6 } from 'node:net';
import { DigestError, ReferenceSyntaxError } from './errors.js';
import { parseDigest, printable } from './digest.js';

/** A parsed registry reference; `repository` is the path without the registry. */
export interface Reference {
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** distribution/reference NameTotalLengthMax: registry, '/', and repository path together. */
const MAX_NAME_LENGTH = 255;
/** distribution/reference tag grammar: one word character then up to 127 more. */
const MAX_TAG_LENGTH = 128;
/** Highest TCP port. */
const MAX_PORT = 65535;

/** Docker Hub's canonical registry name, which `docker pull` uses when none is given. */
const DOCKER_HUB = 'docker.io';
/** Docker Hub's legacy name, normalised to DOCKER_HUB (distribution/reference normalize.go). */
const DOCKER_HUB_LEGACY = 'index.docker.io';
/** Namespace of Docker Hub's official images, added to one-component repositories there. */
const DOCKER_OFFICIAL_NAMESPACE = 'library';

/** distribution-spec v1.1.1, Pulling manifests: a tag is `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
const TAG = /^\w[\w.-]{0,127}$/;

/** True when `value` is a valid tag (distribution-spec v1.1.1 tag grammar). */
export function isTag(value: string): boolean {
  return TAG.test(value);
}
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const IPV6_CHARACTERS = /^[0-9a-fA-F:]+$/;
const PORT = /^[0-9]+$/;
/** docker/distribution anchoredIdentifierRegexp: a bare image ID, which Docker refuses as a name. */
const IMAGE_ID = /^[a-f0-9]{64}$/;
/** Dotted-quad IPv4 without leading zeros, so "loopback" is never claimed for an ambiguous spelling. */
const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

function invalid(input: string, problem: string, cause?: unknown, what = 'reference'): ReferenceSyntaxError {
  return new ReferenceSyntaxError('REFERENCE_INVALID', `invalid ${what} "${printable(input)}": ${problem}`, cause === undefined ? undefined : { cause });
}

function invalidLayout(input: string, problem: string, cause?: unknown): ReferenceSyntaxError {
  return invalid(input, problem, cause, 'OCI layout reference');
}

/** Rejects what no reference may contain: nothing at all, whitespace, control or non-ASCII characters. */
function checkCharacters(input: string): void {
  if (input.length === 0) throw invalid(input, 'reference is empty');
  if (/[\x00-\x20\x7f]/.test(input)) throw invalid(input, 'contains whitespace or control characters');
  if (/[^\x21-\x7e]/.test(input)) throw invalid(input, 'contains non-ASCII characters');
}

/** The pieces of `name[:tag][@digest]`, split but not yet validated. */
interface RawReference {
  readonly name: string;
  readonly tag?: string;
  readonly digest?: string;
}

function splitReference(input: string): RawReference {
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest.length === 0) throw invalid(input, "missing digest after '@'");
  }
  // A tag follows the last '/': neither path components nor tags contain ':', so any ':' there
  // starts the tag. Without a '/', "host:port" and "name:tag" look alike; callers decide.
  let tag: string | undefined;
  // A bracketed IPv6 host with no '/' after it ("[::1]:5000") is left whole: its ':'s are not a tag.
  const colon = rest.indexOf(':', rest.lastIndexOf('/') + 1);
  if (colon !== -1 && (rest.includes('/') || !rest.startsWith('['))) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag.length === 0) throw invalid(input, "missing tag after ':'");
  }
  const out: { name: string; tag?: string; digest?: string } = { name: rest };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** distribution/reference splitDockerDomain: a first component naming a host rather than a path. */
function isHostLike(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component.startsWith('[');
}

function checkRegistry(input: string, registry: string): void {
  let host = registry;
  let port: string | undefined;
  if (registry.startsWith('[')) {
    const close = registry.indexOf(']');
    if (close === -1) throw invalid(input, `registry host "${printable(registry)}" has no closing ']'`);
    host = registry.slice(1, close);
    const after = registry.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(':')) throw invalid(input, `unexpected "${printable(after)}" after the IPv6 registry host`);
      port = after.slice(1);
    }
    if (!IPV6_CHARACTERS.test(host) || !isIPv6(host)) throw invalid(input, `registry host "[${printable(host)}]" is not an IPv6 address`);
  } else {
    const colon = registry.indexOf(':');
    if (colon !== -1) {
      host = registry.slice(0, colon);
      port = registry.slice(colon + 1);
      if (port.includes(':')) throw invalid(input, `registry host "${printable(registry)}" is invalid; an IPv6 host must be in brackets, as [::1]:5000`);
    }
    if (host.length === 0) throw invalid(input, 'missing registry host');
    if (!host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) {
      throw invalid(input, `registry host "${printable(host)}" is invalid; use letters, digits, '-' inside and '.' between labels`);
    }
  }
  if (port !== undefined) {
    if (port.length === 0) throw invalid(input, "missing port after ':' in the registry");
    if (!PORT.test(port)) throw invalid(input, `registry port "${printable(port)}" is not a number`);
    if (Number(port) > MAX_PORT) throw invalid(input, `registry port ${printable(port)} is out of range`);
  }
}

function checkRepository(input: string, repository: string): void {
  for (const component of repository.split('/')) {
    if (component === '.' || component === '..') throw invalid(input, `path component "${component}" is not allowed`);
    if (PATH_COMPONENT.test(component)) continue;
    if (/[A-Z]/.test(component)) throw invalid(input, 'repository name must be lower case');
    if (/^[._-]|[._-]$/.test(component)) {
      throw invalid(input, `path component "${printable(component)}" must start and end with a letter or digit`);
    }
    throw invalid(input, `invalid path component "${printable(component)}"; use a-z, 0-9 and separators '.', '_', '__' or dashes`);
  }
}

/** Checks the split pieces against the grammar and builds the frozen reference. */
function buildReference(input: string, registry: string, repository: string, raw: RawReference): Reference {
  checkRegistry(input, registry);
  checkRepository(input, repository);
  const nameLength = registry.length + 1 + repository.length;
  if (nameLength > MAX_NAME_LENGTH) throw invalid(input, `repository name is ${nameLength} characters, longer than ${MAX_NAME_LENGTH}`);
  const out: { registry: string; repository: string; tag?: string; digest?: string } = { registry, repository };
  if (raw.tag !== undefined) {
    if (raw.tag.length > MAX_TAG_LENGTH) throw invalid(input, `tag "${printable(raw.tag, 64)}" is longer than ${MAX_TAG_LENGTH} characters`);
    if (!TAG.test(raw.tag)) throw invalid(input, `invalid tag "${printable(raw.tag)}"; use letters, digits, '_', '.' and '-', not starting with '.' or '-'`);
    out.tag = raw.tag;
  }
  if (raw.digest !== undefined) {
    try {
      parseDigest(raw.digest);
    } catch (cause) {
      if (!(cause instanceof DigestError)) throw cause;
      throw invalid(input, cause.message, cause);
    }
    out.digest = raw.digest;
  }
  return Object.freeze(out);
}

/** Rejects a leading, trailing or doubled '/' before the name is split into registry and path. */
function checkSlashes(input: string, name: string): void {
  if (name.length === 0) throw invalid(input, 'missing repository');
  if (name.startsWith('/')) throw invalid(input, "name starts with '/'");
  if (name.endsWith('/')) throw invalid(input, "name ends with '/'");
  if (name.includes('//')) throw invalid(input, "name contains '//'");
}

/**
 * Parses a fully qualified reference `registry/repository[:tag][@digest]` as Notation requires
 * one; throws ReferenceSyntaxError(REFERENCE_INVALID) naming the input and the problem.
 */
export function parseReference(input: string): Reference {
  checkCharacters(input);
  const raw = splitReference(input);
  checkSlashes(input, raw.name);
  const slash = raw.name.indexOf('/');
  if (slash === -1) {
    if (isHostLike(raw.name)) throw invalid(input, 'missing repository');
    throw missingRegistry(input);
  }
  const registry = raw.name.slice(0, slash);
  if (!isHostLike(registry)) throw missingRegistry(input);
  return buildReference(input, registry, raw.name.slice(slash + 1), raw);
}

/** The error for a reference without a registry, suggesting the Docker Hub spelling when it has one. */
function missingRegistry(input: string): ReferenceSyntaxError {
  // A Docker-style parse either finds the real problem (upper case, bad tag) or the full name to suggest.
  const suggestion = formatReference(parseDockerReference(input));
  return invalid(input, `missing registry host; use a fully qualified reference such as "${printable(suggestion)}"`);
}

/**
 * Parses a reference as `docker pull` does: no registry means `docker.io`, a one-component
 * repository there gains `library/`, and `index.docker.io` becomes `docker.io`; adds no tag.
 */
export function parseDockerReference(input: string): Reference {
  checkCharacters(input);
  const raw = splitReference(input);
  checkSlashes(input, raw.name);
  if (IMAGE_ID.test(input)) throw invalid(input, 'a 64-character hex string is an image ID, not a repository name');
  const slash = raw.name.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = raw.name;
  // distribution/reference splitDockerDomain also treats an upper-case first component as a host;
  // Sigil does not, so "Foo/bar" is reported as not lower case rather than sent to a host "Foo".
  if (slash !== -1 && isHostLike(raw.name.slice(0, slash))) {
    registry = raw.name.slice(0, slash);
    repository = raw.name.slice(slash + 1);
  }
  if (registry === DOCKER_HUB_LEGACY) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `${DOCKER_OFFICIAL_NAMESPACE}/${repository}`;
  return buildReference(input, registry, repository, raw);
}

/** The reference with tag `latest` added when it has neither tag nor digest, as `docker pull` does. */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag !== undefined || ref.digest !== undefined) return ref;
  return Object.freeze({ ...ref, tag: 'latest' });
}

/** Renders a reference as `registry/repository[:tag][@digest]` (no validation). */
export function formatReference(ref: Reference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${ref.registry}/${ref.repository}${tag}${digest}`;
}

/**
 * The part after the repository that a Resolver resolves: the digest when there is one (it
 * pins the content; a tag beside it is informational), else the tag; throws when neither.
 */
export function referenceForTarget(ref: Reference): string {
  if (ref.digest !== undefined) return ref.digest;
  if (ref.tag !== undefined) return ref.tag;
  throw invalid(formatReference(ref), 'no tag or digest; expecting REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST');
}

/** True for a 0-255 decimal octet written without leading zeros. */
function isOctet(text: string): boolean {
  return IPV4_OCTET.test(text) && Number(text) <= 255;
}

/** True for the IPv6 loopback address in any hex spelling (`::1`, `0:0:0:0:0:0:0:1`, `::0001`). */
function isIPv6Loopback(host: string): boolean {
  if (!IPV6_CHARACTERS.test(host) || !isIPv6(host)) return false;
  const halves = host.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  return groups.length === 8 && groups.every((g, i) => parseInt(g, 16) === (i === 7 ? 1 : 0));
}

/**
 * True when a registry (`host[:port]`) is on loopback: `localhost`, 127.0.0.0/8 or `[::1]`;
 * such registries use plain HTTP (DESIGN.md, Fixed interfaces).
 */
export function isLoopbackRegistry(registry: string): boolean {
  let host = registry;
  let port: string | undefined;
  if (registry.startsWith('[')) {
    const close = registry.indexOf(']');
    if (close === -1) return false;
    host = registry.slice(1, close);
    const after = registry.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(':')) return false;
      port = after.slice(1);
    }
    if (port !== undefined && !PORT.test(port)) return false;
    return isIPv6Loopback(host);
  }
  const colon = registry.indexOf(':');
  if (colon !== -1) {
    host = registry.slice(0, colon);
    port = registry.slice(colon + 1);
    if (!PORT.test(port)) return false;
  }
  if (host.toLowerCase() === 'localhost') return true;
  const octets = host.split('.');
  return octets.length === 4 && octets[0] === '127' && octets.every(isOctet);
}

/** A reference to an OCI image layout on disk: its directory and, when given, a tag or digest in it. */
export interface LayoutReference {
  readonly path: string;
  readonly reference?: string;
}

/**
 * Parses an OCI layout reference `DIR`, `DIR:TAG` or `DIR@DIGEST` as Notation and oras do:
 * an '@' in the last path segment splits off a digest, which must be valid; otherwise a ':' in
 * the last segment followed by a valid tag splits off the tag; anything else is all path.
 */
export function parseLayoutReference(input: string): LayoutReference {
  if (input.length === 0) throw invalidLayout(input, 'missing OCI layout path');
  if (input.includes('\0')) throw invalidLayout(input, 'contains a NUL character');
  const lastSegment = input.lastIndexOf('/') + 1;
  const at = input.indexOf('@', lastSegment);
  if (at !== -1) {
    const digest = input.slice(at + 1);
    if (digest.length === 0) throw invalidLayout(input, "missing digest after '@'");
    try {
      parseDigest(digest);
    } catch (cause) {
      if (!(cause instanceof DigestError)) throw cause;
      throw invalidLayout(input, cause.message, cause);
    }
    return layoutReference(input, input.slice(0, at), digest);
  }
  const colon = input.lastIndexOf(':');
  if (colon >= lastSegment) {
    const tag = input.slice(colon + 1);
    if (tag.length === 0) throw invalidLayout(input, "missing tag after ':'");
    if (TAG.test(tag)) return layoutReference(input, input.slice(0, colon), tag);
  }
  return Object.freeze({ path: input });
}

function layoutReference(input: string, path: string, reference: string): LayoutReference {
  if (path.length === 0) throw invalidLayout(input, 'missing OCI layout path');
  return Object.freeze({ path, reference });
}
