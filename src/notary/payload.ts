// The Notary Project signature payload (signature-specification.md, Payload): the JSON document
// `{"targetArtifact": <descriptor>}` that both envelopes sign.

import type { Descriptor } from '../oci/index.js';
import { EnvelopeError } from './errors.js';
import { decodeUtf8, encodeGoJson, isJsonObject, JsonNumber, parseJson, parsedPayloadDocument, rejectCaseVariants } from './jws.js';

/** The signed payload: the descriptor of the artifact the signature is for. */
export interface NotaryPayload {
  readonly targetArtifact: Descriptor;
}

const WHAT = 'signature payload';
const TARGET_WHAT = `${WHAT}: targetArtifact`;
/** The fields Go's ocispec.Descriptor reads; case variants of them are ambiguous (see rejectCaseVariants). */
const DOCUMENT_FIELDS = ['targetArtifact'] as const;
const DESCRIPTOR_FIELDS = ['mediaType', 'digest', 'size', 'urls', 'annotations', 'data', 'platform', 'artifactType'] as const;

/** image-spec v1.1.0 descriptor.md#digests grammar. */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/**
 * Encoded lengths of the SHA-2 digests Notation writes. sha384 is not registered by the
 * image-spec but Notation signs blobs with it when the key is RSA-3072 or EC P-384.
 */
const HEX_LENGTH: Readonly<Record<string, number>> = Object.freeze({ sha256: 64, sha384: 96, sha512: 128 });

function invalid(message: string): EnvelopeError {
  return new EnvelopeError('PAYLOAD_INVALID', `${WHAT}: ${message}`);
}

function checkDigest(digest: string, path: string): void {
  if (!DIGEST.test(digest)) throw invalid(`${path}.digest ${JSON.stringify(digest)} is not a digest (algorithm:encoded)`);
  const colon = digest.indexOf(':');
  const length = HEX_LENGTH[digest.slice(0, colon)];
  const encoded = digest.slice(colon + 1);
  if (length !== undefined && (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded))) {
    throw invalid(`${path}.digest ${JSON.stringify(digest)}: ${digest.slice(0, colon)} needs ${length} lower-case hex characters`);
  }
}

function checkAnnotations(value: unknown, path: string): Record<string, string> {
  if (!isJsonObject(value)) throw invalid(`${path}.annotations must be an object of strings`);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw invalid(`${path}.annotations[${JSON.stringify(key)}] must be a string`);
  }
  return value as Record<string, string>;
}

/**
 * Validates a descriptor's signed fields and keeps only mediaType, digest, size and annotations,
 * as notation-go's SanitizeTargetArtifact does before signing.
 */
function sanitize(value: Record<string, unknown>, size: unknown, path: string): Descriptor {
  const { mediaType, digest, annotations } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) throw invalid(`${path}.mediaType must be a non-empty string`);
  if (typeof digest !== 'string') throw invalid(`${path}.digest must be a string`);
  checkDigest(digest, path);
  // Go decodes size into int64: only a JSON integer fits; Sigil also needs it exact in a number.
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${path}.size must be a non-negative integer`);
  const descriptor: Record<string, unknown> = { mediaType, digest, size };
  if (annotations !== undefined) {
    const checked = checkAnnotations(annotations, path);
    if (Object.keys(checked).length > 0) descriptor.annotations = Object.freeze(Object.fromEntries(Object.entries(checked)));
  }
  return Object.freeze(descriptor) as unknown as Descriptor;
}

/**
 * Encodes the payload for a descriptor: `{"targetArtifact":{mediaType, digest, size,
 * annotations}}` in Go's struct field order with annotation keys sorted, as notation-go writes
 * it; other descriptor fields are dropped (SanitizeTargetArtifact). Throws
 * EnvelopeError(PAYLOAD_INVALID) for a descriptor the payload cannot carry.
 */
export function encodePayload(descriptor: Descriptor): Uint8Array {
  const target = sanitize(descriptor as unknown as Record<string, unknown>, descriptor.size, 'targetArtifact');
  const fields = [`"mediaType":${encodeGoJson(target.mediaType)}`, `"digest":${encodeGoJson(target.digest)}`, `"size":${encodeGoJson(target.size)}`];
  if (target.annotations !== undefined) fields.push(`"annotations":${encodeGoJson(target.annotations)}`);
  return new Uint8Array(Buffer.from(`{"targetArtifact":{${fields.join(',')}}}`, 'utf8'));
}

/**
 * Decodes and validates a payload: a JSON object (strict: no duplicate keys) whose
 * targetArtifact has a mediaType, a digest, a size written as a JSON integer (`1.0` fails, as
 * in Go) and optionally string annotations. Returns the sanitized descriptor; throws
 * EnvelopeError(PAYLOAD_INVALID).
 */
export function decodePayload(bytes: Uint8Array): NotaryPayload {
  return decodePayloadDocument(parseJson(decodeUtf8(bytes, 'PAYLOAD_INVALID', WHAT), { code: 'PAYLOAD_INVALID', what: WHAT, numbers: 'text' }));
}

/**
 * decodePayload for the content of a decoded envelope: the JWS decoder has already parsed it
 * strictly (the same parse, numbers as text), so only the payload rules remain to check.
 */
export function decodeEnvelopePayload(payload: { readonly content: Uint8Array }): NotaryPayload {
  const document = parsedPayloadDocument(payload);
  return document === undefined ? decodePayload(payload.content) : decodePayloadDocument(document);
}

/** The payload rules over a parsed document (strict JSON, numbers as JsonNumber). */
function decodePayloadDocument(document: unknown): NotaryPayload {
  if (!isJsonObject(document)) throw invalid('must be a JSON object');
  rejectCaseVariants(document, DOCUMENT_FIELDS, 'PAYLOAD_INVALID', WHAT);
  const target = document.targetArtifact;
  if (target === undefined) throw invalid('targetArtifact is missing');
  if (!isJsonObject(target)) throw invalid('targetArtifact must be an object');
  rejectCaseVariants(target, DESCRIPTOR_FIELDS, 'PAYLOAD_INVALID', TARGET_WHAT);
  const size = target.size;
  if (size === undefined) throw invalid('targetArtifact.size is missing');
  if (!(size instanceof JsonNumber) || !size.isInteger()) throw invalid('targetArtifact.size must be a JSON integer');
  return Object.freeze({ targetArtifact: sanitize(target, size.value, 'targetArtifact') });
}
