// The embedded registry's errors: one catalogue of codes with their HTTP status (fastify-style),
// answered in the distribution-spec v1.1.1 "Error Codes" JSON format.

/** The codes the server answers with: distribution-spec v1.1.1 codes, plus RANGE_INVALID for 416. */
export type RegistryServerErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  | 'INTERNAL';

/** HTTP status per code, as distribution-spec v1.1.1 and the Distribution registry answer them. */
export const ERROR_STATUS: Readonly<Record<RegistryServerErrorCode, number>> = Object.freeze({
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  INTERNAL: 500,
});

/** A failure the server reports to the client; never carries internals (paths, stacks). */
export class RegistryServerError extends Error {
  readonly code: RegistryServerErrorCode;
  readonly status: number;
  /** For UNAUTHORIZED: the WWW-Authenticate challenge to answer with. */
  readonly challenge: string | undefined;
  /** For UNSUPPORTED (405): the methods the resource allows. */
  readonly allow: string | undefined;
  constructor(code: RegistryServerErrorCode, message: string, options?: { status?: number; cause?: unknown; challenge?: string; allow?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options?.status ?? ERROR_STATUS[code];
    this.challenge = options?.challenge;
    this.allow = options?.allow;
    this.name = 'RegistryServerError';
  }
}

/** The JSON body of an error answer (distribution-spec v1.1.1, Error Codes). RANGE_INVALID is sent as BLOB_UPLOAD_INVALID. */
export function errorBody(error: RegistryServerError): string {
  const code = error.code === 'RANGE_INVALID' ? 'BLOB_UPLOAD_INVALID' : error.code === 'INTERNAL' ? 'UNKNOWN' : error.code;
  return JSON.stringify({ errors: [{ code, message: error.message, detail: null }] });
}
