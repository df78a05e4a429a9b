// The COSE signature envelope (signature-envelope-cose.md): COSE_Sign1_Tagged (RFC 9052 §4.2)
// with an attached payload, read and written as notation-core-go signature/cose does on top
// of go-cose v1.3.0.

import { MAX_ENVELOPE_BYTES } from '../oci/index.js';
import { ALGORITHMS, type AlgorithmInfo } from './algorithm.js';
import { CborFloat, CborTag, decodeCbor, encodeCbor, isCborMap, MAX_CBOR_NESTING, type CborKey, type CborMap, type CborValue } from './cbor.js';
import { COSE_MEDIA_TYPE, PAYLOAD_CONTENT_TYPE, type DecodedEnvelope, type ExtendedAttribute, type RawSigner, type SignRequest, type SigningScheme } from './envelope.js';
import { EnvelopeError, SigningError, type NotaryErrorCode } from './errors.js';
import {
  checkCritical,
  checkSigningTimes,
  HEADER_AUTHENTIC_SIGNING_TIME,
  HEADER_EXPIRY,
  HEADER_SIGNING_AGENT,
  HEADER_SIGNING_SCHEME,
  HEADER_SIGNING_TIME,
  HEADER_TIMESTAMP_SIGNATURE,
  isSigningScheme,
  prepareSignRequest,
  signChecked,
  signingTimeHeaderOf,
  timestampOf,
  type EnvelopeEncodeOptions,
} from './jws.js';

/** COSE header labels (RFC 9052 §3.1; x5chain: RFC 9360 §2). */
const LABEL_ALG = 1;
const LABEL_CRIT = 2;
const LABEL_CONTENT_TYPE = 3;
const LABEL_KID = 4;
const LABEL_IV = 5;
const LABEL_PARTIAL_IV = 6;
const LABEL_X5CHAIN = 33;
/** RFC 9052 §4.2: COSE_Sign1_Tagged is tag 18. */
const TAG_COSE_SIGN1 = 18;
/** RFC 8949 §3.4.2: epoch-based date/time. */
const TAG_EPOCH_TIME = 1;

/** notation-core-go cose/envelope.go validateCritHeaders systemHeaders: protected labels that are not extended attributes. */
const SYSTEM_LABELS: readonly (string | number)[] = [LABEL_ALG, LABEL_CRIT, LABEL_CONTENT_TYPE, HEADER_EXPIRY, HEADER_SIGNING_SCHEME, HEADER_SIGNING_TIME, HEADER_AUTHENTIC_SIGNING_TIME];
const SYSTEM = new Set<CborKey>(SYSTEM_LABELS);

const WHAT = 'cose envelope';

function invalid(message: string, code: NotaryErrorCode = 'ENVELOPE_INVALID'): EnvelopeError {
  return new EnvelopeError(code, `${WHAT}: ${message}`);
}

function labelText(label: CborKey): string {
  return typeof label === 'string' ? JSON.stringify(label) : String(label);
}

function isInt(value: CborValue): value is number | bigint {
  return typeof value === 'number' || typeof value === 'bigint';
}

/**
 * The generic header checks go-cose headers.go validateHeaderParameters applies to each bucket:
 * alg an int or tstr, crit only in the protected bucket (a non-empty array of present int/tstr
 * labels), content type a tstr or uint, kid/IV/Partial IV byte strings and never both IVs.
 */
function checkCommonParameters(header: CborMap, isProtected: boolean): void {
  const bucket = isProtected ? 'protected header' : 'unprotected header';
  for (const [label, value] of header) {
    switch (label) {
      case LABEL_ALG:
        if (!isInt(value) && typeof value !== 'string') throw invalid(`${bucket} alg must be an int or tstr`);
        break;
      case LABEL_CRIT:
        if (!isProtected) throw invalid('crit is not allowed in the unprotected header (RFC 9052 section 3.1)');
        if (!Array.isArray(value) || value.length === 0) throw invalid('protected header crit must be a non-empty array');
        for (const item of value as readonly CborValue[]) {
          if (!isInt(item) && typeof item !== 'string') throw invalid('protected header crit entries must be int or tstr labels');
          if (!header.has(item)) throw invalid(`missing critical header ${labelText(item)}`);
        }
        break;
      case LABEL_CONTENT_TYPE:
        if (typeof value === 'string') {
          if (value.length === 0 || value.startsWith(' ') || value.endsWith(' ') || value.split('/').length !== 2) throw invalid(`${bucket} content type must be of the form type/subtype`);
        } else if (!isInt(value) || value < 0) throw invalid(`${bucket} content type must be a tstr or uint`);
        break;
      case LABEL_KID:
      case LABEL_IV:
      case LABEL_PARTIAL_IV:
        if (!(value instanceof Uint8Array)) throw invalid(`${bucket} label ${label} must be a bstr`);
        break;
      default:
        break;
    }
  }
  if (header.has(LABEL_IV) && header.has(LABEL_PARTIAL_IV)) throw invalid(`${bucket} must not hold both IV and Partial IV`);
}

/** Reads a signing time or expiry: only tag 1 (epoch seconds) is accepted, as notation-core-go parseTime. */
function decodeTime(header: CborMap, label: string): Date | undefined {
  if (!header.has(label)) return undefined;
  const value = header.get(label);
  if (!(value instanceof CborTag) || value.tag !== TAG_EPOCH_TIME) {
    throw invalid(`protected header ${label}: only Tag \`1\` Datetime CBOR object is supported`);
  }
  // signature-envelope-cose.md: "optional fractional seconds SHOULD NOT be used", so a float is
  // still valid, and fxamacker/cbor (hence Notation) decodes it.
  const content = value.value;
  const seconds = content instanceof CborFloat ? content.value : isInt(content) ? Number(content) : NaN;
  const time = new Date(Math.floor(seconds * 1000));
  if (!Number.isFinite(seconds) || Number.isNaN(time.getTime())) throw invalid(`protected header ${label}: time ${String(seconds)} is out of range`);
  return time;
}

function decodeProtected(bytes: Uint8Array): {
  algorithm: AlgorithmInfo;
  contentType: string;
  signingScheme: SigningScheme;
  signingTime: Date;
  expiry: Date | undefined;
  extendedAttributes: ExtendedAttribute[];
  header: CborMap;
} {
  // go-cose ProtectedHeader.UnmarshalCBOR: an empty bstr is an empty map, which then lacks alg.
  if (bytes.length === 0) throw invalid('protected header is empty; alg is missing');
  const header = decodeCbor(bytes, { allowTags: true });
  if (!isCborMap(header)) throw invalid('protected header must be a CBOR map');
  checkCommonParameters(header, true);

  const alg = header.get(LABEL_ALG);
  if (alg === undefined) throw invalid('protected header alg is missing');
  const algorithm = ALGORITHMS.find((a) => a.cose === alg);
  if (algorithm === undefined) {
    throw invalid(`signature algorithm ${typeof alg === 'string' ? JSON.stringify(alg) : isInt(alg) ? String(alg) : '(not an int)'} is not supported; want one of ${ALGORITHMS.map((a) => a.cose).join(', ')}`, 'ALGORITHM_UNSUPPORTED');
  }

  const contentType = header.get(LABEL_CONTENT_TYPE);
  if (contentType === undefined) throw invalid('protected header content type is missing');
  if (typeof contentType !== 'string') throw invalid("content type should be of 'tstr' type");
  if (contentType !== PAYLOAD_CONTENT_TYPE) throw invalid(`payload content type ${JSON.stringify(contentType)} is not supported; want ${PAYLOAD_CONTENT_TYPE}`);

  const scheme = header.get(HEADER_SIGNING_SCHEME);
  if (typeof scheme !== 'string') throw invalid(`protected header ${HEADER_SIGNING_SCHEME} ${scheme === undefined ? 'is missing' : 'must be a tstr'}`);
  if (!isSigningScheme(scheme)) throw invalid(`unsupported signing scheme ${JSON.stringify(scheme)}`, 'ENVELOPE_UNSUPPORTED');

  const crit = header.get(LABEL_CRIT);
  if (crit === undefined) throw invalid('protected header crit is missing');
  const critLabels = crit as readonly (number | string)[];

  const times = checkSigningTimes(
    scheme,
    { signingTime: decodeTime(header, HEADER_SIGNING_TIME), authenticSigningTime: decodeTime(header, HEADER_AUTHENTIC_SIGNING_TIME), expiry: decodeTime(header, HEADER_EXPIRY) },
    `${WHAT}: protected header`,
  );
  const extendedAttributes: ExtendedAttribute[] = [];
  for (const [label, value] of header) {
    if (SYSTEM.has(label)) continue;
    if (typeof label === 'bigint') throw invalid(`protected header label ${label} is out of range`);
    extendedAttributes.push(Object.freeze({ key: label, value, critical: critLabels.includes(label) }));
  }
  for (const label of critLabels) {
    // signature-envelope-cose.md: crit "MUST only contain parameters apart from integer labels in the range of 0 to 8".
    if (typeof label === 'number' && label >= 0 && label <= 8) throw invalid(`protected header crit must not list label ${label}`);
  }
  checkCritical(critLabels, { scheme, hasExpiry: header.has(HEADER_EXPIRY), isExtended: (l) => !SYSTEM.has(l) && header.has(l) }, `${WHAT}: protected header`);
  return { algorithm, contentType, signingScheme: scheme, ...times, extendedAttributes, header };
}

function decodeUnprotected(header: CborMap): { certificateChain: Uint8Array[]; signingAgent: string | undefined; timestampSignature: Uint8Array | undefined } {
  checkCommonParameters(header, false);
  const chain = header.get(LABEL_X5CHAIN);
  // notation-core-go cose/envelope.go reads x5chain only as an array, even for one certificate.
  if (chain instanceof Uint8Array) throw invalid('unprotected header x5chain must be an array of bstr, not a single bstr');
  if (!Array.isArray(chain) || chain.length === 0) throw invalid('certificate chain is not present: unprotected header x5chain must be a non-empty array');
  const certificateChain = (chain as readonly CborValue[]).map((der, i) => {
    if (!(der instanceof Uint8Array) || der.length === 0) throw invalid(`unprotected header x5chain[${i}] must be a non-empty bstr`);
    return der;
  });
  const agent = header.get(HEADER_SIGNING_AGENT);
  if (agent !== undefined && typeof agent !== 'string') throw invalid(`unprotected header ${HEADER_SIGNING_AGENT} must be a tstr`);
  const timestamp = header.get(HEADER_TIMESTAMP_SIGNATURE);
  if (timestamp !== undefined && !(timestamp instanceof Uint8Array)) throw invalid(`unprotected header ${HEADER_TIMESTAMP_SIGNATURE} must be a bstr`);
  return { certificateChain, signingAgent: agent, timestampSignature: timestamp === undefined || timestamp.length === 0 ? undefined : timestamp };
}

/** RFC 9052 §4.4: ToBeSigned is the CBOR encoding of ["Signature1", protected, external_aad (empty), payload]. */
function toBeSigned(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  // Sized up front: the array and string heads take at most 1 + 11 + 9 + 1 + 9 bytes.
  return encodeCbor(['Signature1', protectedBytes, new Uint8Array(0), payload], protectedBytes.length + payload.length + 32);
}

/**
 * Decodes a COSE_Sign1_Tagged envelope and checks every rule of signature-envelope-cose.md and
 * notation-core-go signature/cose; throws EnvelopeError (ENVELOPE_INVALID, ENVELOPE_UNSUPPORTED,
 * ALGORITHM_UNSUPPORTED or PAYLOAD_INVALID). The signature itself is not checked: pass
 * `signedBytes` (ToBeSigned) to verifySignatureBytes.
 */
export function decodeCose(bytes: Uint8Array): DecodedEnvelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw invalid(`${bytes.length} bytes exceeds the ${MAX_ENVELOPE_BYTES}-byte envelope limit`);
  // go-cose sign1.go: the message must begin 0xd2 0x84, tag 18 and a four-element array, each in
  // its one-byte form.
  if (bytes[0] !== 0xd2 || bytes[1] !== 0x84) throw invalid('not a COSE_Sign1_Tagged object: it must start with tag 18 (0xd2) and a 4-element array (0x84)');
  // go-cose decodes the array with tags forbidden: only the protected header (a bstr) may hold tags.
  const message = decodeCbor(bytes.subarray(1), { allowTags: false }) as readonly CborValue[];
  const [protectedBytes, unprotected, payload, signature] = message;
  if (!(protectedBytes instanceof Uint8Array)) throw invalid('protected header must be a bstr');
  if (unprotected === undefined || !isCborMap(unprotected)) throw invalid('unprotected header must be a map');
  if (!(payload instanceof Uint8Array)) throw invalid('payload must be an attached bstr; detached payloads are not supported', 'PAYLOAD_INVALID');
  if (payload.length === 0) throw invalid('payload is empty', 'PAYLOAD_INVALID');
  if (!(signature instanceof Uint8Array) || signature.length === 0) throw invalid('signature must be a non-empty bstr');

  const attributes = decodeProtected(protectedBytes);
  const unsigned = decodeUnprotected(unprotected);
  // RFC 9052 section 3: a label must not be in both buckets.
  for (const label of unprotected.keys()) {
    if (attributes.header.has(label)) throw invalid(`header label ${labelText(label)} appears in both the protected and the unprotected header`);
  }
  return Object.freeze({
    mediaType: COSE_MEDIA_TYPE,
    content: Object.freeze({
      signerInfo: Object.freeze({
        signedAttributes: Object.freeze({
          signingScheme: attributes.signingScheme,
          signingTime: attributes.signingTime,
          expiry: attributes.expiry,
          extendedAttributes: Object.freeze(attributes.extendedAttributes),
        }),
        unsignedAttributes: Object.freeze({ signingAgent: unsigned.signingAgent, timestampSignature: unsigned.timestampSignature }),
        signatureAlgorithm: attributes.algorithm.name,
        certificateChain: Object.freeze(unsigned.certificateChain),
        signature,
      }),
      payload: Object.freeze({ contentType: attributes.contentType, content: payload }),
    }),
    // go-cose re-encodes the protected bstr's head minimally and the payload from its bytes,
    // which is what encoding the Sig_structure here does.
    signedBytes: toBeSigned(protectedBytes, payload),
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Turns an extended attribute value into CBOR: CBOR values as they are, plain objects as tstr-keyed maps. */
function toCbor(value: unknown, depth: number): CborValue {
  if (depth > MAX_CBOR_NESTING) throw new TypeError(`nesting deeper than ${MAX_CBOR_NESTING} levels`);
  if (value === null || value === undefined || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') return value;
  if (value instanceof Uint8Array || value instanceof CborFloat) return value;
  if (value instanceof CborTag) return new CborTag(value.tag, toCbor(value.value, depth + 1));
  if (Array.isArray(value)) return value.map((item) => toCbor(item, depth + 1));
  if (value instanceof Map) {
    const map = new Map<CborKey, CborValue>();
    for (const [key, item] of value as Map<unknown, unknown>) {
      if (typeof key !== 'string' && typeof key !== 'bigint' && !(typeof key === 'number' && Number.isInteger(key))) throw new TypeError('map keys must be integers or strings');
      map.set(key, toCbor(item, depth + 1));
    }
    return map;
  }
  if (isPlainObject(value)) return new Map(Object.entries(value).map(([k, v]) => [k, toCbor(v, depth + 1)]));
  throw new TypeError(`unsupported value of type ${typeof value}`);
}

/**
 * Signs a request into a COSE_Sign1_Tagged envelope as notation-core-go writes it: protected
 * alg, crit (signingScheme, authenticSigningTime, expiry, then critical extended attributes),
 * content type, signing scheme and times as tag 1 epoch seconds; unprotected x5chain array,
 * signing agent and optional timestamp; every map in canonical order. Throws SigningError for a
 * request that cannot produce a valid envelope.
 */
export async function encodeCose(request: SignRequest, sign: RawSigner, options: EnvelopeEncodeOptions = {}): Promise<Uint8Array> {
  const prepared = prepareSignRequest(request, [...SYSTEM_LABELS, LABEL_X5CHAIN, HEADER_SIGNING_AGENT, HEADER_TIMESTAMP_SIGNATURE], WHAT);
  const crit: CborKey[] = [HEADER_SIGNING_SCHEME];
  if (prepared.signingScheme === 'notary.x509.signingAuthority') crit.push(HEADER_AUTHENTIC_SIGNING_TIME);
  if (prepared.expiry !== undefined) crit.push(HEADER_EXPIRY);
  const header = new Map<CborKey, CborValue>([
    [LABEL_ALG, prepared.algorithm.cose],
    [LABEL_CONTENT_TYPE, PAYLOAD_CONTENT_TYPE],
    [HEADER_SIGNING_SCHEME, prepared.signingScheme],
    [signingTimeHeaderOf(prepared.signingScheme), new CborTag(TAG_EPOCH_TIME, prepared.signingTime.getTime() / 1000)],
  ]);
  if (prepared.expiry !== undefined) header.set(HEADER_EXPIRY, new CborTag(TAG_EPOCH_TIME, prepared.expiry.getTime() / 1000));
  for (const { key, value, critical } of prepared.extendedAttributes) {
    if (typeof key === 'number' && !Number.isSafeInteger(key)) throw new SigningError('SIGNING_FAILED', `${WHAT}: extended attribute label ${key} must be an integer`);
    if (critical && typeof key === 'number' && key >= 0 && key <= 8) throw new SigningError('SIGNING_FAILED', `${WHAT}: label ${key} cannot be critical (signature-envelope-cose.md: crit excludes labels 0 to 8)`);
    try {
      header.set(key, toCbor(value, 1));
    } catch (cause) {
      throw new SigningError('SIGNING_FAILED', `${WHAT}: extended attribute ${labelText(key)} cannot be CBOR: ${(cause as Error).message}`, { cause });
    }
    if (critical) crit.push(key);
  }
  header.set(LABEL_CRIT, crit);

  let protectedBytes: Uint8Array;
  try {
    protectedBytes = encodeCbor(header);
    // The decoder is the one statement of the rules: never ask the signer to sign a header it rejects.
    decodeProtected(protectedBytes);
  } catch (cause) {
    throw new SigningError('SIGNING_FAILED', `${WHAT}: the protected header would be invalid: ${(cause as Error).message}`, { cause });
  }
  const signature = await signChecked(sign, toBeSigned(protectedBytes, prepared.payload), prepared.algorithm, WHAT);
  const timestamp = await timestampOf(options, prepared.signingScheme, signature, WHAT);
  const unprotected = new Map<CborKey, CborValue>([[LABEL_X5CHAIN, prepared.certificateChain.map((der) => der)]]);
  if (prepared.signingAgent !== undefined) unprotected.set(HEADER_SIGNING_AGENT, prepared.signingAgent);
  if (timestamp !== undefined) unprotected.set(HEADER_TIMESTAMP_SIGNATURE, timestamp);
  return encodeCbor(new CborTag(TAG_COSE_SIGN1, [protectedBytes, unprotected, prepared.payload, signature]));
}
