// Errors raised by the oci module. Codes are API: add, never rename or reuse (STYLE.md rule 5).

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
  | 'COPY_FAILED';

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
