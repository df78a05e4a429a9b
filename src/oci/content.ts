// The content model every store implements: the remote registry, the OCI layout on disk and the
// embedded registry's store. Tiny interfaces composed as oras-go v2 does (content/storage.go, target.go).

import type { Descriptor } from './descriptor.js';

/** Every operation that may touch the network or disk takes a cancellation signal (STYLE.md rule 15). */
export interface OperationOptions {
  readonly signal: AbortSignal;
}

/** A stream of bytes; Node streams, web streams and undici bodies all satisfy it (STYLE.md rule 13). */
export type ByteStream = AsyncIterable<Uint8Array>;

/** Fetches content by descriptor; the stream is checked against the descriptor's size and digest as it is read. */
export interface Fetcher {
  fetch(desc: Descriptor, options: OperationOptions): Promise<ByteStream>;
}

/** Pushes content whose descriptor is stated first; a mismatch between bytes and descriptor is rejected. */
export interface Pusher {
  push(desc: Descriptor, content: ByteStream | Uint8Array, options: OperationOptions): Promise<void>;
}

/** Reports whether content is present. */
export interface Exister {
  exists(desc: Descriptor, options: OperationOptions): Promise<boolean>;
}

/** Fetch and exists: what reading needs. */
export interface ReadOnlyStorage extends Fetcher, Exister {}

/** Fetch, exists and push. */
export interface Storage extends ReadOnlyStorage, Pusher {}

/** Resolves a tag or digest (the part after the repository) to a descriptor. */
export interface Resolver {
  resolve(reference: string, options: OperationOptions): Promise<Descriptor>;
}

/** Points a tag at content already in the store. */
export interface Tagger {
  tag(desc: Descriptor, reference: string, options: OperationOptions): Promise<void>;
}

/** What copying *from* needs. */
export interface ReadOnlyTarget extends ReadOnlyStorage, Resolver {}

/** A full content target: storage plus tag resolution. */
export interface Target extends Storage, Resolver, Tagger {}

/** Removes content (a manifest by digest, or a blob). */
export interface Deleter {
  delete(desc: Descriptor, options: OperationOptions): Promise<void>;
}

/** Pushes a manifest and tags it in one step (a PUT by tag on a registry). Optional. */
export interface ReferencePusher {
  pushReference(desc: Descriptor, content: ByteStream | Uint8Array, reference: string, options: OperationOptions): Promise<void>;
}

/** Options for listing referrers. */
export interface ReferrersOptions extends OperationOptions {
  /** Only referrers of this artifact type (distribution-spec v1.1, Listing Referrers, `artifactType` filter). */
  readonly artifactType?: string;
}

/**
 * Lists the manifests whose `subject` is the given descriptor, as descriptors carrying
 * `artifactType` and `annotations` (distribution-spec v1.1, Listing Referrers). Optional
 * capability: find it with `isReferrerLister`.
 */
export interface ReferrerLister {
  referrers(subject: Descriptor, options: ReferrersOptions): AsyncIterable<Descriptor>;
}

/** Lists tags in lexical order. Optional. */
export interface TagLister {
  tags(options: OperationOptions & { readonly last?: string }): AsyncIterable<string>;
}

/**
 * Makes a blob appear without transferring it, when the source is another repository of the
 * same registry (distribution-spec v1.1.1, "Mounting a blob from another repository"). Optional:
 * find it with `isBlobMounter`; `mountFrom` answers false when it cannot mount from `source`.
 */
export interface BlobMounter {
  mountFrom(desc: Descriptor, source: ReadOnlyStorage, options: OperationOptions): Promise<boolean>;
}

/** True when the store can mount blobs from some sources. */
export function isBlobMounter(value: object): value is BlobMounter {
  return typeof (value as Partial<BlobMounter>).mountFrom === 'function';
}

/** True when the store can list referrers. */
export function isReferrerLister(value: object): value is ReferrerLister {
  return typeof (value as Partial<ReferrerLister>).referrers === 'function';
}

/** True when the store can delete content. */
export function isDeleter(value: object): value is Deleter {
  return typeof (value as Partial<Deleter>).delete === 'function';
}

/** True when the store can push and tag a manifest in one call. */
export function isReferencePusher(value: object): value is ReferencePusher {
  return typeof (value as Partial<ReferencePusher>).pushReference === 'function';
}

/** True when the store can list tags. */
export function isTagLister(value: object): value is TagLister {
  return typeof (value as Partial<TagLister>).tags === 'function';
}

/** Turns in-memory bytes into a one-chunk stream. */
export async function* streamOf(bytes: Uint8Array): ByteStream {
  yield bytes;
}

/** Accepts either form of content and yields a stream. */
export function toStream(content: ByteStream | Uint8Array): ByteStream {
  return content instanceof Uint8Array ? streamOf(content) : content;
}
