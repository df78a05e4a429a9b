// REST paths of the Kubernetes API: the core group under /api/v1, every other group under
// /apis/GROUP/VERSION, namespaced resources under namespaces/NS/ (Kubernetes API concepts, "Resource URIs").

import { KubeError } from './errors.js';

/** A resource type as the API serves it: group ('' for core), version, plural name, and whether it is namespaced. */
export interface ResourceType {
  readonly group: string;
  readonly version: string;
  /** The lower-case plural in the URL: `namespaces`, `secrets`, `clusterpolicies`. */
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Core v1 Namespaces (cluster-scoped). */
export const NAMESPACES: ResourceType = Object.freeze({ group: '', version: 'v1', plural: 'namespaces', namespaced: false });

/** Core v1 Secrets. */
export const SECRETS: ResourceType = Object.freeze({ group: '', version: 'v1', plural: 'secrets', namespaced: true });

/** A path segment: non-empty, no `/`, not `.` or `..`; names and namespaces are DNS labels or subdomains, so nothing real is refused. */
function segment(value: string, what: string): string {
  if (value === '' || value.includes('/') || value === '.' || value === '..') throw new KubeError('BAD_REQUEST', `${what} ${JSON.stringify(value)} cannot be part of an API path`);
  return encodeURIComponent(value);
}

/** `/api/v1` for the core group, `/apis/GROUP/VERSION` otherwise. */
export function groupVersionPath(group: string, version: string): string {
  return group === '' ? `/api/${segment(version, 'version')}` : `/apis/${segment(group, 'group')}/${segment(version, 'version')}`;
}

/**
 * The path of a collection or of one object: `/api/v1/namespaces`, `/api/v1/namespaces/NS/secrets/NAME`,
 * `/apis/GROUP/VERSION/[namespaces/NS/]PLURAL[/NAME]`. A namespaced type without a namespace
 * names the collection across all namespaces (list and watch only); a cluster-scoped type refuses one.
 */
export function resourcePath(type: ResourceType, options: { readonly namespace?: string; readonly name?: string } = {}): string {
  const { namespace, name } = options;
  if (!type.namespaced && namespace !== undefined) throw new KubeError('BAD_REQUEST', `${type.plural} is cluster-scoped; it has no namespace ${JSON.stringify(namespace)}`);
  if (type.namespaced && namespace === undefined && name !== undefined) throw new KubeError('BAD_REQUEST', `${type.plural} is namespaced; ${JSON.stringify(name)} needs a namespace`);
  let path = groupVersionPath(type.group, type.version);
  if (namespace !== undefined) path += `/namespaces/${segment(namespace, 'namespace')}`;
  path += `/${segment(type.plural, 'resource')}`;
  if (name !== undefined) path += `/${segment(name, 'name')}`;
  return path;
}

/** The `apiVersion` of a resource type's objects: `v1` for core, `GROUP/VERSION` otherwise. */
export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}
