// Errors raised by the oci module. Codes are API: add, never rename or reuse (STYLE.md rule 5).

import type { Descriptor } from './descriptor.js';

/** Closed set of error codes the oci module raises. */
export type OciErrorCode =
  | 'DIGEST_INVALID'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'SIZE_EXCEEDS_LIMIT'
  | 'REFERENCE_INVALID'
  | 'DESCRIPTOR_INVALID'
  | 'MANIFEST_INVALID'
  | 'MEDIA_TYPE_UNSUPPORTED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'UNSUPPORTED'
  | 'LAYOUT_INVALID'
  | 'COPY_FAILED'
  | 'IO_FAILED';

/** Base class of every error the oci module throws; `code` is stable, the message is for people. */
export class OciError extends Error {
  readonly code: OciErrorCode;
  constructor(code: OciErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A digest string is malformed, or content does not match its digest or size. */
export class DigestError extends OciError {}

/** A reference string does not follow the distribution reference grammar. */
export class ReferenceSyntaxError extends OciError {}

/** A descriptor, manifest or index does not follow the image-spec. */
export class ManifestError extends OciError {}

/** Content is missing, too large, or the store cannot do what was asked. */
export class ContentError extends OciError {}

/** An OCI image layout on disk does not follow image-spec v1.1.0 image-layout.md. */
export class LayoutError extends OciError {}

/** Which end of a copy failed. */
export type CopySide = 'source' | 'destination';

/**
 * Copying one node of a graph failed; `side` says whether reading the source or writing the
 * destination failed, `descriptor` what was being copied (undefined when resolving the source
 * reference failed, then `reference` names it), `cause` the underlying error (oras-go copyerror.go).
 */
export class CopyError extends OciError {
  readonly side: CopySide;
  readonly descriptor: Descriptor | undefined;
  readonly reference: string | undefined;
  override readonly cause: unknown;
  constructor(side: CopySide, target: { descriptor: Descriptor } | { reference: string }, cause: unknown) {
    const what = 'descriptor' in target ? target.descriptor.digest : target.reference;
    const reason = (cause instanceof Error ? cause.message : String(cause)).replace(/\s*\n\s*/g, ' ');
    super('COPY_FAILED', `copy ${what} failed at ${side}: ${reason}`, { cause });
    this.side = side;
    this.descriptor = 'descriptor' in target ? target.descriptor : undefined;
    this.reference = 'reference' in target ? target.reference : undefined;
    this.cause = cause;
  }
}
