// One repository of a remote registry as a content target: manifests, blobs, tags and referrers
// over the distribution-spec v1.1.1 HTTP API, with the referrers tag schema where the API is missing.

import {
  addReferrer,
  decodeManifest,
  detectManifestMediaType,
  DigestError,
  digestOf,
  emptyReferrersIndex,
  encodeManifest,
  filterReferrers,
  isDigest,
  isManifestMediaType,
  MANIFEST_MEDIA_TYPES,
  MAX_MANIFEST_BYTES,
  MAX_METADATA_BYTES,
  MEDIA_TYPE_IMAGE_INDEX,
  parseDigest,
  isTag,
  mediaTypeOfContentType,
  printable,
  readVerified,
  referrerDescriptor,
  referrersTag,
  removeReferrer,
  toStream,
  verifyContent,
  type BlobMounter,
  type ByteStream,
  type Deleter,
  type Descriptor,
  type ImageIndex,
  type Manifest,
  type OperationOptions,
  type ReadOnlyStorage,
  type ReferencePusher,
  type ReferrerLister,
  type ReferrersOptions,
  type TagLister,
  type Target,
} from '../oci/index.js';
import { repositoryScope } from './auth.js';
import type { RegistryClient, RegistryRequest } from './client.js';
import { RegistryError, type DistributionErrorCode } from './errors.js';
import { discardBody, errorFrom, readBody, type HttpMethod, type HttpResponse, type RegistryLogger, type RequestBody } from './transport.js';

/**
 * How a repository finds and keeps referrers: `auto` probes the referrers API once and falls
 * back to the tag schema when it is missing; `api` uses only the API; `tag-schema` uses only
 * the `<alg>-<hex>` tag (distribution-spec v1.1.1, "Referrers Tag Schema"), as `--force-referrers-tag` asks.
 */
export type ReferrersCapability = 'auto' | 'api' | 'tag-schema';

/** Options of a Repository; RegistryClient.repository fills them in. */
export interface RepositoryOptions {
  readonly registry: string;
  readonly repository: string;
  readonly client: RegistryClient;
  /** Default 'auto'. */
  readonly referrersCapability?: ReferrersCapability;
  readonly logger?: RegistryLogger;
}


/** `Accept` for manifest requests: every manifest type Sigil reads, so the registry never converts. */
const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

/** The media type part of a Content-Type header (`application/json; charset=utf-8` → `application/json`). */
function mediaTypeOf(contentType: string | undefined): string | undefined {
  return mediaTypeOfContentType(contentType)?.toLowerCase();
}

/**
 * The `next` URL of a `Link` header (RFC 8288), resolved against the URL that answered
 * (distribution-spec v1.1.1, "Listing Tags" and "Listing Referrers" pagination).
 */
export function parseNextLink(header: string | undefined, base: URL): URL | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match === null) continue;
    const params = match[2] ?? '';
    if (!/(^|;)\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(params)) continue;
    try {
      return new URL(match[1] ?? '', base);
    } catch {
      // a Link target that is not a URL is no next page
      return undefined;
    }
  }
  return undefined;
}

/** True for a referrers API answer: 200 with an image index (Content-Type decides; the body is checked when read). */
function isReferrersAnswer(response: HttpResponse): boolean {
  return response.status === 200 && mediaTypeOf(response.header('content-type')) === MEDIA_TYPE_IMAGE_INDEX;
}

/** Yields `source` unchanged, failing with SIZE_INVALID as soon as it runs past `desc.size` and at its end when short. */
async function* checkLength(source: ByteStream, desc: Descriptor, name: string): ByteStream {
  let received = 0;
  for await (const chunk of source) {
    received += chunk.byteLength;
    if (received > desc.size) throw new DigestError('SIZE_MISMATCH', `${name}: content is longer than the expected ${desc.size} bytes`);
    yield chunk;
  }
  if (received !== desc.size) throw new DigestError('SIZE_MISMATCH', `${name}: content ended after ${received} of ${desc.size} bytes`);
}

/** Yields a response body, mapping transport failures to RegistryErrors and releasing the body when the reader stops early. */
async function* bodyOf(response: HttpResponse): ByteStream {
  let finished = false;
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) yield chunk;
    finished = true;
  } catch (err) {
    throw response.failure(err);
  } finally {
    if (!finished) response.body.destroy();
  }
}

/**
 * A repository of a remote registry implementing Target, ReferrerLister, Deleter,
 * ReferencePusher and TagLister. Every fetched byte is checked against its digest before use;
 * manifests and listing pages are capped at 4 MiB. When a manifest with a `subject` is pushed
 * to a registry without the referrers API (no `OCI-Subject` in the answer), the referrers index
 * under the tag schema is updated, and on delete the entry is removed, as distribution-spec
 * v1.1.1 "Pushing Manifests with Subject" and "Deleting Manifests" describe.
 */
export class Repository implements Target, ReferrerLister, Deleter, ReferencePusher, TagLister, BlobMounter {
  /** Registry host as the user named it. */
  readonly registry: string;
  /** Repository path within the registry (`library/alpine`). */
  readonly repository: string;
  readonly #client: RegistryClient;
  readonly #logger: RegistryLogger | undefined;
  /** What is known of the referrers API: undefined until probed in 'auto'. */
  #referrersApi: boolean | undefined;
  /** True when the caller chose 'api' or 'tag-schema': answers from the registry never change it. */
  readonly #pinned: boolean;
  /** Tag-schema index updates per subject, serialized so two pushes in this process do not lose an entry. */
  readonly #indexUpdates = new Map<string, Promise<void>>();

  constructor(options: RepositoryOptions) {
    this.registry = options.registry;
    this.repository = options.repository;
    this.#client = options.client;
    this.#logger = options.logger;
    const capability = options.referrersCapability ?? 'auto';
    this.#referrersApi = capability === 'auto' ? undefined : capability === 'api';
    this.#pinned = capability !== 'auto';
  }

  /** `registry/repository`, as messages name it. */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** What is known of the referrers API: true (has it), false (uses the tag schema) or undefined (not probed yet). */
  get referrersApi(): boolean | undefined {
    return this.#referrersApi;
  }

  /**
   * Resolves a tag or digest to the manifest's descriptor with HEAD (distribution-spec v1.1.1,
   * "Checking if content exists"); when the registry omits Docker-Content-Digest or a usable
   * Content-Type, the manifest is fetched and described from its bytes. A digest reference must
   * match the digest the registry reports.
   */
  async resolve(reference: string, { signal }: OperationOptions): Promise<Descriptor> {
    this.#checkReference(reference);
    const byDigest = isDigest(reference);
    const head = await this.#request({ method: 'HEAD', path: `manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, signal, action: 'pull' });
    if (head.status !== 200) throw await this.#error(head, { reference, notFound: 'MANIFEST_UNKNOWN', action: 'pull' });
    await discardBody(head);
    const mediaType = mediaTypeOf(head.header('content-type'));
    const digest = head.header('docker-content-digest');
    const length = head.header('content-length');
    if (byDigest && digest !== undefined && digest !== reference) {
      throw this.#invalid(head, `${this.name}@${reference}: the registry answered for a different digest (${printable(digest, 80)})`);
    }
    if (mediaType !== undefined && isManifestMediaType(mediaType) && digest !== undefined && isDigest(digest) && length !== undefined && /^\d+$/.test(length)) {
      const size = Number(length);
      if (size > MAX_MANIFEST_BYTES) throw this.#tooLarge(head, reference, size);
      return Object.freeze({ mediaType, digest, size });
    }
    const fetched = await this.#getManifest(reference, signal);
    return fetched.descriptor;
  }

  /**
   * Fetches a manifest (buffered, at most 4 MiB, digest checked before the stream yields) or a
   * blob (streamed; size and digest checked as bytes pass, an endless body stops past `size`).
   */
  async fetch(desc: Descriptor, { signal }: OperationOptions): Promise<ByteStream> {
    parseDigest(desc.digest);
    if (isManifestMediaType(desc.mediaType)) {
      if (desc.size > MAX_MANIFEST_BYTES) throw this.#tooLarge(undefined, desc.digest, desc.size);
      const response = await this.#request({ method: 'GET', path: `manifests/${desc.digest}`, headers: { accept: MANIFEST_ACCEPT }, signal, action: 'pull' });
      if (response.status !== 200) throw await this.#error(response, { reference: desc.digest, notFound: 'MANIFEST_UNKNOWN', action: 'pull' });
      const bytes = await readBody(response, MAX_MANIFEST_BYTES, this.#where());
      return toStream(await readVerified(toStream(bytes), desc, `${this.name}@${desc.digest}`));
    }
    const response = await this.#request({ method: 'GET', path: `blobs/${desc.digest}`, signal, action: 'pull', streaming: true });
    if (response.status !== 200) throw await this.#error(response, { reference: desc.digest, notFound: 'BLOB_UNKNOWN', action: 'pull' });
    const declared = response.header('content-length');
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) !== desc.size) {
      response.body.destroy();
      throw this.#invalid(response, `${this.name}@${desc.digest}: the registry sent ${declared} bytes for a ${desc.size}-byte blob`);
    }
    return verifyContent(bodyOf(response), desc, `${this.name}@${desc.digest}`);
  }

  /** True when the manifest or blob is in the repository (HEAD; 404 means absent). */
  async exists(desc: Descriptor, { signal }: OperationOptions): Promise<boolean> {
    parseDigest(desc.digest);
    const manifest = isManifestMediaType(desc.mediaType);
    const response = await this.#request({
      method: 'HEAD',
      path: `${manifest ? 'manifests' : 'blobs'}/${desc.digest}`,
      ...(manifest ? { headers: { accept: MANIFEST_ACCEPT } } : {}),
      signal,
      action: 'pull',
    });
    await discardBody(response);
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw await this.#error(response, { reference: desc.digest, notFound: manifest ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', action: 'pull' });
  }

  /**
   * Pushes content stated by `desc`. A manifest is verified, decoded and PUT by digest; a blob
   * up to the monolithic limit is verified in memory and uploaded with POST + PUT, a larger one
   * streams in PATCH chunks with Content-Range and is committed only when its digest checked out
   * (distribution-spec v1.1.1, "Pushing blobs"). A failed upload session is cancelled.
   */
  async push(desc: Descriptor, content: ByteStream | Uint8Array, { signal }: OperationOptions): Promise<void> {
    parseDigest(desc.digest);
    if (isManifestMediaType(desc.mediaType)) {
      await this.#pushManifest(desc, content, desc.digest, signal);
      return;
    }
    if (desc.size <= this.#client.settings.monolithicUploadMaxBytes) {
      const bytes = await readVerified(toStream(content), desc, `${this.name}@${desc.digest}`);
      const location = await this.#startUpload(signal);
      await this.#commitUpload(location, desc, bytes, signal);
      return;
    }
    const location = await this.#startUpload(signal);
    let current = location;
    try {
      current = await this.#uploadChunks(location, desc, toStream(content), signal);
      await this.#commitUpload(current, desc, undefined, signal);
    } catch (err) {
      await this.#cancelUpload(current);
      throw err;
    }
  }

  /**
   * Mounts a blob from another repository of the same registry (distribution-spec v1.1.1,
   * "Mounting a blob from another repository"). Returns true when mounted; false when the
   * registry declined (it then opened an upload session, which is cancelled) so the caller pushes.
   */
  async mount(desc: Descriptor, fromRepository: string, { signal }: OperationOptions): Promise<boolean> {
    parseDigest(desc.digest);
    const response = await this.#request({
      method: 'POST',
      path: 'blobs/uploads/',
      query: { mount: desc.digest, from: fromRepository },
      signal,
      action: 'push',
      extraScopes: [repositoryScope(fromRepository, 'pull')],
      retryable: true,
    });
    if (response.status === 201) {
      await discardBody(response);
      return true;
    }
    if (response.status === 202) {
      await discardBody(response);
      const location = response.header('location');
      if (location !== undefined) await this.#cancelUpload(this.#resolveLocation(response, location));
      return false;
    }
    throw await this.#error(response, { reference: desc.digest, notFound: 'BLOB_UNKNOWN', action: 'push' });
  }

  /**
   * Mounts `desc` from `source` when it is another repository of this registry (so `sigil cp`
   * between repositories moves no bytes); answers false for any other source.
   */
  async mountFrom(desc: Descriptor, source: ReadOnlyStorage, options: OperationOptions): Promise<boolean> {
    if (!(source instanceof Repository) || source.registry !== this.registry || source.repository === this.repository) return false;
    return this.mount(desc, source.repository, options);
  }

  /**
   * Points `reference` at a manifest already in the repository: its bytes are fetched (and
   * checked) and PUT under the tag, since the distribution-spec has no other way to tag.
   */
  async tag(desc: Descriptor, reference: string, { signal }: OperationOptions): Promise<void> {
    this.#checkReference(reference);
    if (isDigest(reference)) {
      if (reference !== desc.digest) throw new RegistryError('REFERENCE_INVALID', `${this.name}: a digest reference cannot name ${desc.digest}`, this.#where());
      return;
    }
    const bytes = await readVerified(await this.fetch(desc, { signal }), desc, `${this.name}@${desc.digest}`);
    await this.#putManifest(desc, bytes, reference, signal);
  }

  /** Pushes a manifest under a tag in one PUT (and maintains the tag schema as `push` does). */
  async pushReference(desc: Descriptor, content: ByteStream | Uint8Array, reference: string, { signal }: OperationOptions): Promise<void> {
    this.#checkReference(reference);
    if (!isManifestMediaType(desc.mediaType)) {
      throw new RegistryError('REFERENCE_INVALID', `${this.name}:${reference}: only manifests can be tagged, not ${printable(desc.mediaType)}`, this.#where());
    }
    await this.#pushManifest(desc, content, reference, signal);
  }

  /**
   * Deletes a manifest by digest (which removes its tags) or a blob (distribution-spec v1.1.1,
   * "Deleting Manifests", "Deleting Blobs"). A manifest with a subject is also removed from its
   * subject's tag-schema index when the registry has no referrers API.
   */
  async delete(desc: Descriptor, { signal }: OperationOptions): Promise<void> {
    parseDigest(desc.digest);
    const manifest = isManifestMediaType(desc.mediaType);
    let subject: Descriptor | undefined;
    if (manifest && this.#referrersApi !== true) {
      const bytes = await readVerified(await this.fetch(desc, { signal }), desc, `${this.name}@${desc.digest}`);
      subject = decodeManifest(bytes, desc.mediaType, `${this.name}@${desc.digest}`).subject;
    }
    const response = await this.#request({ method: 'DELETE', path: `${manifest ? 'manifests' : 'blobs'}/${desc.digest}`, signal, action: 'delete' });
    if (response.status !== 202 && response.status !== 200 && response.status !== 204) {
      const error = await this.#error(response, { reference: desc.digest, notFound: manifest ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', action: 'delete' });
      if (error.code === 'UNSUPPORTED') {
        throw new RegistryError('UNSUPPORTED', `${this.name}: the registry does not allow deletes (${error.status ?? 405})`, { ...this.#where(), status: error.status ?? 405, details: error.details });
      }
      throw error;
    }
    await discardBody(response);
    if (subject !== undefined && (await this.#usesTagSchema(subject, signal))) {
      await this.#updateReferrersIndex(subject, signal, (index) => removeReferrer(index, desc.digest));
    }
  }

  /**
   * Lists referrers of `subject`: the referrers API (paginated, `artifactType` filtered by the
   * registry when it says so in OCI-Filters-Applied, else here), or the tag-schema index when the
   * registry has no API (a 404, distribution-spec v1.1.1 "Listing Referrers").
   */
  async *referrers(subject: Descriptor, { signal, artifactType }: ReferrersOptions): AsyncGenerator<Descriptor, void, undefined> {
    parseDigest(subject.digest);
    if (this.#referrersApi !== false) {
      let url: URL | undefined = this.#url(`referrers/${subject.digest}`, artifactType === undefined ? {} : { artifactType });
      // Whether this listing is the probe: decided before the request, since a concurrent listing may settle it meanwhile.
      const probing = this.#referrersApi === undefined;
      for (let page = 0; url !== undefined; page++) {
        if (page >= this.#client.settings.maxReferrersPages) {
          throw new RegistryError('RESPONSE_INVALID', `${this.name}@${subject.digest}: more than ${this.#client.settings.maxReferrersPages} pages of referrers`, this.#where());
        }
        const response = await this.#send({ method: 'GET', url, headers: { accept: MEDIA_TYPE_IMAGE_INDEX }, signal, action: 'pull' });
        if (page === 0 && probing && !isReferrersAnswer(response)) {
          // distribution-spec v1.1.1, Listing Referrers: a registry with the API answers 200 with an image
          // index and never 404. GHCR redirects to a UI page instead, others answer 405 or 501: no API.
          if (response.status !== 404 && response.status !== 405 && response.status !== 501 && response.status !== 200) {
            throw await this.#error(response, { reference: subject.digest, notFound: 'MANIFEST_UNKNOWN', action: 'pull' });
          }
          await discardBody(response);
          if (this.#referrersApi === undefined) this.#referrersApi = false;
          if (this.#referrersApi === false) break;
          // a concurrent probe found the API: this answer is the registry's error, not a missing API
          throw new RegistryError('RESPONSE_INVALID', `${this.name}@${subject.digest}: the referrers API answered ${response.status} without an image index`, { ...this.#where(), status: response.status });
        }
        if (response.status !== 200) throw await this.#error(response, { reference: subject.digest, notFound: 'MANIFEST_UNKNOWN', action: 'pull' });
        const index = await this.#readIndex(response, `${this.name} referrers of ${subject.digest}`);
        if (!this.#pinned) this.#referrersApi = true;
        const applied = (response.header('oci-filters-applied') ?? '').split(',').map((s) => s.trim());
        yield* applied.includes('artifactType') ? index.manifests : filterReferrers(index.manifests, artifactType);
        const next = parseNextLink(response.header('link'), response.url);
        if (next !== undefined && next.origin !== response.url.origin) {
          throw new RegistryError('RESPONSE_INVALID', `${this.name}: referrers Link header points to another host (${next.host})`, this.#where());
        }
        url = next;
      }
      if (this.#referrersApi !== false) return;
    }
    const index = await this.#fetchReferrersIndex(subject.digest, signal);
    yield* filterReferrers(index?.index.manifests ?? [], artifactType);
  }

  /**
   * Lists tags in lexical order, after `last` when given, following `Link` pages
   * (distribution-spec v1.1.1, "Listing Tags"). Pages are gathered and sorted here: the spec
   * asks registries for lexical order, but Distribution 2.8 returns its filesystem order.
   */
  async *tags({ signal, last }: OperationOptions & { readonly last?: string }): AsyncGenerator<string, void, undefined> {
    const settings = this.#client.settings;
    const found = new Set<string>();
    let url: URL | undefined = this.#url('tags/list', { n: String(settings.tagPageSize), ...(last === undefined ? {} : { last }) });
    for (let page = 0; url !== undefined; page++) {
      if (page >= settings.maxTagPages) throw new RegistryError('RESPONSE_INVALID', `${this.name}: more than ${settings.maxTagPages} pages of tags`, this.#where());
      const response = await this.#send({ method: 'GET', url, signal, action: 'pull' });
      if (response.status !== 200) throw await this.#error(response, { notFound: 'NAME_UNKNOWN', action: 'pull' });
      const bytes = await readBody(response, MAX_METADATA_BYTES, this.#where());
      let doc: unknown;
      try {
        doc = JSON.parse(new TextDecoder().decode(bytes));
      } catch (cause) {
        throw new RegistryError('RESPONSE_INVALID', `${this.name}: the tag list is not JSON`, { ...this.#where(), status: 200, cause });
      }
      const tags = (doc as { tags?: unknown } | null)?.tags;
      if (tags !== null && tags !== undefined && (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string'))) {
        throw new RegistryError('RESPONSE_INVALID', `${this.name}: the tag list's "tags" is not a list of strings`, { ...this.#where(), status: 200 });
      }
      for (const tag of tags ?? []) if (last === undefined || tag > last) found.add(tag);
      const next = parseNextLink(response.header('link'), response.url);
      if (next !== undefined && next.origin !== response.url.origin) {
        throw new RegistryError('RESPONSE_INVALID', `${this.name}: tags Link header points to another host (${next.host})`, this.#where());
      }
      url = next;
    }
    // Code-unit order, as Distribution's sort.Strings and the OCI layout use.
    yield* [...found].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  // ---- manifests ----

  async #pushManifest(desc: Descriptor, content: ByteStream | Uint8Array, reference: string, signal: AbortSignal): Promise<void> {
    if (desc.size > MAX_MANIFEST_BYTES) throw this.#tooLarge(undefined, desc.digest, desc.size);
    const name = `${this.name}@${desc.digest}`;
    const bytes = await readVerified(toStream(content), desc, name);
    const manifest = decodeManifest(bytes, desc.mediaType, name);
    await this.#putManifest(desc, bytes, reference, signal);
    if (manifest.subject === undefined) return;
    // distribution-spec v1.1.1, Pushing Manifests with Subject, says an answer without OCI-Subject
    // means "use the tag schema". The header alone is not trusted the other way: ECR (before its
    // GA) and Docker Hub sent it without having the API, and referrers were lost. So the API is
    // probed once instead, and decides.
    if (!(await this.#usesTagSchema(manifest.subject, signal))) return;
    const entry = referrerDescriptor(manifest, desc);
    await this.#updateReferrersIndex(manifest.subject, signal, (index) => addReferrer(index, entry));
  }

  /** PUT /v2/NAME/manifests/REFERENCE; returns the (body-released) response for its headers. */
  async #putManifest(desc: Descriptor, bytes: Uint8Array, reference: string, signal: AbortSignal): Promise<HttpResponse> {
    const response = await this.#request({
      method: 'PUT',
      path: `manifests/${reference}`,
      headers: { 'content-type': desc.mediaType },
      body: bytes,
      signal,
      action: 'push',
    });
    if (response.status !== 201 && response.status !== 200) {
      throw await this.#error(response, { reference, notFound: 'NAME_UNKNOWN', action: 'push' });
    }
    await discardBody(response);
    const digest = response.header('docker-content-digest');
    if (digest !== undefined && digest !== desc.digest && digest.startsWith(`${parseDigest(desc.digest).algorithm}:`)) {
      throw this.#invalid(response, `${this.name}:${reference}: the registry stored ${printable(digest, 80)} instead of ${desc.digest}`);
    }
    return response;
  }

  /** GET a manifest by tag or digest, bounded, its digest computed (by tag) or checked (by digest). */
  async #getManifest(reference: string, signal: AbortSignal): Promise<{ descriptor: Descriptor; bytes: Uint8Array }> {
    const response = await this.#request({ method: 'GET', path: `manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, signal, action: 'pull' });
    if (response.status !== 200) throw await this.#error(response, { reference, notFound: 'MANIFEST_UNKNOWN', action: 'pull' });
    const bytes = await readBody(response, MAX_MANIFEST_BYTES, this.#where());
    const header = mediaTypeOf(response.header('content-type'));
    const mediaType = header !== undefined && isManifestMediaType(header) ? header : this.#detect(response, bytes, reference);
    const claimed = isDigest(reference) ? reference : response.header('docker-content-digest');
    const algorithm = claimed !== undefined && isDigest(claimed) ? parseDigest(claimed).algorithm : 'sha256';
    const actual = digestOf(bytes, algorithm);
    if (claimed !== undefined && actual !== claimed) {
      throw new RegistryError('DIGEST_INVALID', `${this.name}:${printable(reference, 80)}: manifest digest ${actual} does not match ${printable(claimed, 80)}`, { ...this.#where(), status: 200 });
    }
    return { descriptor: Object.freeze({ mediaType, digest: actual, size: bytes.byteLength }), bytes };
  }

  #detect(response: HttpResponse, bytes: Uint8Array, reference: string): string {
    try {
      const detected = detectManifestMediaType(bytes);
      if (isManifestMediaType(detected)) return detected;
    } catch {
      // not a JSON object: reported below with the content type the registry gave
    }
    throw this.#invalid(response, `${this.name}:${printable(reference, 80)}: the registry answered with ${printable(response.header('content-type') ?? 'no content type', 80)}, not a manifest`);
  }

  async #readIndex(response: HttpResponse, name: string): Promise<ImageIndex> {
    const bytes = await readBody(response, MAX_METADATA_BYTES, this.#where());
    let manifest: Manifest;
    try {
      manifest = decodeManifest(bytes, MEDIA_TYPE_IMAGE_INDEX, name);
    } catch (cause) {
      throw new RegistryError('RESPONSE_INVALID', `${name}: not an image index (${cause instanceof Error ? cause.message : String(cause)})`, { ...this.#where(), status: response.status, cause });
    }
    if (manifest.kind !== 'index') throw this.#invalid(response, `${name}: not an image index`);
    return manifest;
  }

  // ---- the referrers tag schema ----

  /** True when referrers of `subject` are kept in the tag schema here (probing the API once in 'auto'). */
  async #usesTagSchema(subject: Descriptor, signal: AbortSignal): Promise<boolean> {
    if (this.#referrersApi === undefined) {
      // Listing once settles the capability; the entries themselves are not needed.
      for await (const _ of this.referrers(subject, { signal })) break;
    }
    return this.#referrersApi === false;
  }

  /** The tag-schema index of a subject and its descriptor, or undefined when the tag does not exist. */
  async #fetchReferrersIndex(subjectDigest: string, signal: AbortSignal): Promise<{ index: ImageIndex; descriptor: Descriptor } | undefined> {
    const tag = referrersTag(subjectDigest);
    // Accept every manifest type: distribution answers 404 when the tag holds a type not accepted, hiding a squatter.
    const response = await this.#request({ method: 'GET', path: `manifests/${tag}`, headers: { accept: MANIFEST_ACCEPT }, signal, action: 'pull' });
    if (response.status === 404) {
      await discardBody(response);
      return undefined;
    }
    if (response.status !== 200) throw await this.#error(response, { reference: tag, notFound: 'MANIFEST_UNKNOWN', action: 'pull' });
    const bytes = await readBody(response, MAX_MANIFEST_BYTES, this.#where());
    const mediaType = mediaTypeOf(response.header('content-type'));
    // distribution-spec v1.1.1, Pushing Manifests with Subject: a tag holding anything but an image index is a failure to report.
    if (mediaType !== MEDIA_TYPE_IMAGE_INDEX) {
      throw this.#invalid(response, `${this.name}:${tag}: the referrers tag holds ${printable(mediaType ?? 'unknown content', 80)}, not an image index`);
    }
    const name = `${this.name}:${tag}`;
    let index: Manifest;
    try {
      index = decodeManifest(bytes, MEDIA_TYPE_IMAGE_INDEX, name);
    } catch (cause) {
      throw new RegistryError('RESPONSE_INVALID', `${name}: invalid referrers index (${cause instanceof Error ? cause.message : String(cause)})`, { ...this.#where(), status: 200, cause });
    }
    if (index.kind !== 'index') throw this.#invalid(response, `${name}: not an image index`);
    return { index, descriptor: Object.freeze({ mediaType: MEDIA_TYPE_IMAGE_INDEX, digest: digestOf(bytes), size: bytes.byteLength }) };
  }

  /**
   * Reads the subject's tag-schema index, applies `change` and writes it back under the same
   * tag, then deletes the superseded index so it does not linger untagged (as oras-go does);
   * an emptied index is deleted rather than rewritten. Updates of one subject are serialized.
   */
  async #updateReferrersIndex(subject: Descriptor, signal: AbortSignal, change: (index: ImageIndex) => ImageIndex | undefined): Promise<void> {
    const tag = referrersTag(subject.digest);
    const previous = this.#indexUpdates.get(tag) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      const current = await this.#fetchReferrersIndex(subject.digest, signal);
      const next = change(current?.index ?? emptyReferrersIndex());
      if (next === undefined) return;
      if (next.manifests.length > 0) {
        const bytes = encodeManifest(next);
        const descriptor: Descriptor = { mediaType: MEDIA_TYPE_IMAGE_INDEX, digest: digestOf(bytes), size: bytes.byteLength };
        await this.#putManifest(descriptor, bytes, tag, signal);
        if (current !== undefined && current.descriptor.digest !== descriptor.digest) await this.#deleteSuperseded(current.descriptor, signal);
      } else if (current !== undefined) {
        await this.#deleteSuperseded(current.descriptor, signal);
      }
    });
    this.#indexUpdates.set(tag, run);
    try {
      await run;
    } finally {
      if (this.#indexUpdates.get(tag) === run) this.#indexUpdates.delete(tag);
    }
  }

  async #deleteSuperseded(desc: Descriptor, signal: AbortSignal): Promise<void> {
    try {
      const response = await this.#request({ method: 'DELETE', path: `manifests/${desc.digest}`, signal, action: 'delete' });
      if (response.status === 202 || response.status === 200 || response.status === 204 || response.status === 404) {
        await discardBody(response);
        return;
      }
      throw await this.#error(response, { reference: desc.digest, notFound: 'MANIFEST_UNKNOWN', action: 'delete' });
    } catch (err) {
      if (signal.aborted) throw err;
      // The new index is in place; a registry that forbids deletes just keeps the old one untagged.
      this.#logger?.warn({ registry: this.registry, repository: this.repository, digest: desc.digest, error: err instanceof Error ? err.message : String(err) }, 'could not delete the superseded referrers index');
    }
  }

  // ---- blob uploads ----

  /** POST /v2/NAME/blobs/uploads/ → the upload session URL (distribution-spec v1.1.1, "Pushing blobs"). */
  async #startUpload(signal: AbortSignal): Promise<URL> {
    const response = await this.#request({ method: 'POST', path: 'blobs/uploads/', signal, action: 'push', retryable: true });
    if (response.status !== 202) throw await this.#error(response, { notFound: 'NAME_UNKNOWN', action: 'push' });
    await discardBody(response);
    return this.#sessionLocation(response);
  }

  /** PUT the upload session with `?digest=` (and the bytes, for a monolithic upload): 201 commits the blob. */
  async #commitUpload(location: URL, desc: Descriptor, bytes: Uint8Array | undefined, signal: AbortSignal): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', desc.digest);
    const response = await this.#send({
      method: 'PUT',
      url,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes?.byteLength ?? 0) },
      ...(bytes === undefined ? {} : { body: bytes }),
      signal,
      action: 'push',
      streaming: true,
    });
    if (response.status !== 201) {
      const error = await this.#error(response, { reference: desc.digest, notFound: 'BLOB_UPLOAD_UNKNOWN', action: 'push' });
      if (bytes !== undefined) await this.#cancelUpload(location);
      throw error;
    }
    await discardBody(response);
  }

  /**
   * Streams the blob in PATCH requests of uploadChunkBytes, each with Content-Range and
   * Content-Length (distribution-spec v1.1.1, "Pushing a blob in chunks"). Only the length is
   * checked here; the digest is the registry's to check when the upload is closed with
   * `?digest=` (the spec makes it a MUST), which saves hashing a large blob twice on a copy
   * whose source already verified it. Returns the last Location.
   */
  async #uploadChunks(start: URL, desc: Descriptor, source: ByteStream, signal: AbortSignal): Promise<URL> {
    const chunkBytes = this.#client.settings.uploadChunkBytes;
    const verified = checkLength(source, desc, `${this.name}@${desc.digest}`)[Symbol.asyncIterator]();
    let carry: Uint8Array | undefined;
    let location = start;
    for (let offset = 0; offset < desc.size; ) {
      const length = Math.min(chunkBytes, desc.size - offset);
      const body = async function* (): ByteStream {
        let remaining = length;
        while (remaining > 0) {
          let chunk = carry;
          carry = undefined;
          if (chunk === undefined) {
            const next = await verified.next();
            if (next.done) return; // short content: checkLength has thrown already; guard anyway
            chunk = next.value;
          }
          if (chunk.byteLength > remaining) {
            carry = chunk.subarray(remaining);
            chunk = chunk.subarray(0, remaining);
          }
          remaining -= chunk.byteLength;
          yield chunk;
        }
      };
      const response = await this.#send({
        method: 'PATCH',
        url: location,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length), 'content-range': `${offset}-${offset + length - 1}` },
        body: body(),
        signal,
        action: 'push',
        streaming: true,
      });
      if (response.status !== 202) throw await this.#error(response, { reference: desc.digest, notFound: 'BLOB_UPLOAD_UNKNOWN', action: 'push' });
      await discardBody(response);
      location = this.#sessionLocation(response, location);
      offset += length;
    }
    // Pull once more so the length check sees the end before anything is committed.
    const end = await verified.next();
    if (end.done !== true || carry !== undefined) {
      throw new RegistryError('SIZE_INVALID', `${this.name}@${desc.digest}: content is longer than ${desc.size} bytes`, this.#where());
    }
    return location;
  }

  /** DELETE an upload session; best effort, since the session expires on the registry anyway. */
  async #cancelUpload(location: URL): Promise<void> {
    try {
      const response = await this.#send({ method: 'DELETE', url: location, signal: AbortSignal.timeout(this.#client.transportSettings.requestTimeoutMs), action: 'push' });
      await discardBody(response);
    } catch {
      // the registry expires abandoned sessions; nothing else to do
    }
  }

  #sessionLocation(response: HttpResponse, fallback?: URL): URL {
    const location = response.header('location');
    if (location === undefined) {
      if (fallback !== undefined) return fallback;
      throw this.#invalid(response, `${this.name}: the registry opened an upload without a Location header`);
    }
    return this.#resolveLocation(response, location);
  }

  #resolveLocation(response: HttpResponse, location: string): URL {
    let url: URL;
    try {
      url = new URL(location, response.url);
    } catch (cause) {
      throw new RegistryError('RESPONSE_INVALID', `${this.name}: upload Location "${printable(location, 80)}" is not a URL`, { ...this.#where(), status: response.status, cause });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw this.#invalid(response, `${this.name}: upload Location is not an HTTP URL`);
    return url;
  }

  // ---- requests ----

  #checkReference(reference: string): void {
    if (isDigest(reference)) return;
    if (!isTag(reference)) {
      throw new RegistryError('REFERENCE_INVALID', `${this.name}: "${printable(reference, 80)}" is neither a tag nor a digest`, this.#where());
    }
  }

  #url(path: string, query: Record<string, string> = {}): URL {
    const url = new URL(`/v2/${this.repository}/${path}`, this.#client.baseUrl(this.registry));
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    return url;
  }

  #where(): { registry: string; repository: string } {
    return { registry: this.registry, repository: this.repository };
  }

  async #request(request: {
    method: HttpMethod;
    path: string;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    body?: RequestBody;
    signal: AbortSignal;
    action: 'pull' | 'push' | 'delete';
    extraScopes?: readonly string[];
    streaming?: boolean;
    retryable?: boolean;
  }): Promise<HttpResponse> {
    const { path, query, ...rest } = request;
    return this.#send({ ...rest, url: this.#url(path, query) });
  }

  async #send(request: Omit<RegistryRequest, 'scopes' | 'repository'> & { action: 'pull' | 'push' | 'delete'; extraScopes?: readonly string[] }): Promise<HttpResponse> {
    const { action, extraScopes, ...rest } = request;
    const actions = action === 'pull' ? ['pull'] : action === 'push' ? ['pull', 'push'] : ['delete'];
    return this.#client.send(this.registry, {
      ...rest,
      repository: this.repository,
      scopes: [repositoryScope(this.repository, ...actions), ...(extraScopes ?? [])],
    });
  }

  async #error(response: HttpResponse, subject: { reference?: string; notFound: DistributionErrorCode; action: string }): Promise<RegistryError> {
    return errorFrom(response, { ...this.#where(), ...subject });
  }

  #invalid(response: HttpResponse, message: string): RegistryError {
    return new RegistryError('RESPONSE_INVALID', message, { ...this.#where(), status: response.status });
  }

  #tooLarge(response: HttpResponse | undefined, reference: string, size: number): RegistryError {
    if (response !== undefined) response.body.destroy();
    return new RegistryError('RESPONSE_TOO_LARGE', `${this.name}@${printable(reference, 80)}: manifest of ${size} bytes exceeds the ${MAX_MANIFEST_BYTES}-byte limit`, {
      ...this.#where(),
      ...(response === undefined ? {} : { status: response.status }),
    });
  }
}
