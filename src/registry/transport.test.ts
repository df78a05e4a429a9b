// Table tests of the transport's pure helpers (Retry-After, durations) and of how errors.ts turns a
// status and a distribution-spec v1.1.1 error body into a RegistryError.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeErrorBody, errorFromResponse, RegistryError, type ErrorSubject, type RegistryErrorCode, type RegistryErrorDetail } from './errors.js';
import { failure, formatDuration, parseRetryAfter } from './transport.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('parseRetryAfter', () => {
  // RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds.
  const now = Date.UTC(1994, 10, 6, 8, 49, 34); // three seconds before the RFC's sample date
  const cases: ReadonlyArray<[name: string, value: string | undefined, expectedMs: number | undefined]> = [
    ['absent header', undefined, undefined],
    ['delay-seconds', '120', 120_000],
    ['zero seconds', '0', 0],
    ['delay-seconds with surrounding space', ' 5 ', 5_000],
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT', 3_000],
    ['obsolete RFC 850 date', 'Sunday, 06-Nov-94 08:49:37 GMT', 3_000],
    ['obsolete asctime date', 'Sun Nov  6 08:49:37 1994', 3_000],
    ['HTTP-date in the past', 'Sat, 05 Nov 1994 08:49:37 GMT', 0],
    ['empty', '', undefined],
    ['a word', 'soon', undefined],
    ['a unit', '2 hours', undefined],
    ['fractional seconds', '1.5', undefined],
    ['negative seconds', '-1', undefined],
    ['signed seconds', '+5', undefined],
    ['hexadecimal', '0x10', undefined],
    ['exponent', '1e3', undefined],
    ['digits then garbage', '12abc', undefined],
  ];
  for (const [name, value, expected] of cases) {
    it(`${name} (${JSON.stringify(value)}) gives ${String(expected)}`, () => {
      assert.equal(parseRetryAfter(value, now), expected);
    });
  }
});

describe('formatDuration', () => {
  const cases: ReadonlyArray<[ms: number, text: string]> = [
    [0, '0ms'],
    [250, '250ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1049, '1s'],
    [1500, '1.5s'],
    [30_000, '30s'],
    [60_000, '60s'],
  ];
  for (const [ms, text] of cases) {
    it(`renders ${ms} ms as ${text}`, () => assert.equal(formatDuration(ms), text));
  }
});

describe('decodeErrorBody', () => {
  const cases: ReadonlyArray<[name: string, body: Uint8Array, expected: RegistryErrorDetail[]]> = [
    ['an empty body', new Uint8Array(0), []],
    ['an HTML proxy page', bytes('<html>\n<body>502 Bad Gateway</body>\n</html>'), []],
    ['bytes that are not UTF-8', Uint8Array.of(0xff, 0xfe, 0x00), []],
    ['JSON null', bytes('null'), []],
    ['JSON without errors', bytes('{"message":"nope"}'), []],
    ['errors that is not a list', bytes('{"errors":"nope"}'), []],
    ['a spec error', bytes('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"tag":"v9"}}]}'), [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { tag: 'v9' } }]],
    ['an unknown code, kept verbatim', bytes('{"errors":[{"code":"UNAVAILABLE","message":"back soon"}]}'), [{ code: 'UNAVAILABLE', message: 'back soon' }]],
    ['a code in another case, kept verbatim', bytes('{"errors":[{"code":"denied"}]}'), [{ code: 'denied' }]],
    ['entries without a string code, dropped', bytes('{"errors":[null,"DENIED",{"code":7},{"message":"x"},{"code":"DENIED"}]}'), [{ code: 'DENIED' }]],
    ['a message that is not a string, dropped', bytes('{"errors":[{"code":"DENIED","message":{"text":"x"}}]}'), [{ code: 'DENIED' }]],
  ];
  for (const [name, body, expected] of cases) {
    it(`decodes ${name}`, () => assert.deepEqual(decodeErrorBody(body), expected));
  }

  it('keeps at most 16 entries', () => {
    const errors = Array.from({ length: 40 }, (_, i) => ({ code: `CODE_${i}` }));
    const decoded = decodeErrorBody(bytes(JSON.stringify({ errors })));
    assert.equal(decoded.length, 16);
    assert.equal(decoded[15]?.code, 'CODE_15');
  });
});

describe('errorFromResponse', () => {
  const registry = 'reg.example:5000';
  const subject: ErrorSubject = { registry, repository: 'team/app' };
  const detail = (code: string, message?: string): RegistryErrorDetail => (message === undefined ? { code } : { code, message });

  interface Case {
    readonly name: string;
    readonly status: number;
    readonly details?: readonly RegistryErrorDetail[];
    readonly subject?: ErrorSubject;
    readonly code: RegistryErrorCode;
    /** Substrings the message must hold (hints, the registry's words). */
    readonly includes?: readonly string[];
    readonly excludes?: readonly string[];
  }
  const cases: readonly Case[] = [
    { name: '401 hints at sigil login for the registry', status: 401, code: 'UNAUTHORIZED', includes: [`; run sigil login ${registry}`] },
    { name: '401 does not repeat what the registry said', status: 401, details: [detail('UNAUTHORIZED', 'authentication required')], code: 'UNAUTHORIZED', excludes: ['registry says'] },
    { name: '403 hints at the action and repository', status: 403, subject: { ...subject, action: 'push' }, code: 'DENIED', includes: ['; check that your account may push team/app'] },
    { name: '403 without an action or repository', status: 403, subject: { registry }, code: 'DENIED', includes: ['; check that your account may access this registry'] },
    { name: '429 says to try later', status: 429, code: 'TOOMANYREQUESTS', includes: ['; try again later'] },
    { name: '404 uses the endpoint code', status: 404, subject: { ...subject, notFound: 'MANIFEST_UNKNOWN' }, code: 'MANIFEST_UNKNOWN' },
    { name: '404 defaults to NAME_UNKNOWN', status: 404, code: 'NAME_UNKNOWN' },
    { name: 'a spec code in the body wins over the status', status: 404, details: [detail('BLOB_UNKNOWN')], subject: { ...subject, notFound: 'MANIFEST_UNKNOWN' }, code: 'BLOB_UNKNOWN' },
    { name: 'the first spec code wins over unknown ones', status: 400, details: [detail('SOMETHING_ELSE', 'x'), detail('MANIFEST_INVALID', 'bad layers')], code: 'MANIFEST_INVALID', includes: ['(registry says: bad layers)'] },
    { name: 'an unknown code falls back to the status', status: 503, details: [detail('UNAVAILABLE', 'back soon')], code: 'SERVER_ERROR', includes: ['(registry says: back soon)'] },
    { name: '405', status: 405, code: 'UNSUPPORTED' },
    { name: '413', status: 413, code: 'SIZE_INVALID' },
    { name: '416', status: 416, code: 'BLOB_UPLOAD_INVALID' },
    { name: '500', status: 500, code: 'SERVER_ERROR' },
    { name: '502', status: 502, code: 'SERVER_ERROR' },
    { name: 'a status the spec does not give', status: 418, code: 'RESPONSE_INVALID' },
    { name: 'the reference after the status', status: 404, subject: { ...subject, reference: 'v9', notFound: 'MANIFEST_UNKNOWN' }, code: 'MANIFEST_UNKNOWN', includes: ['reg.example:5000/team/app: 404 manifest unknown: v9'] },
    { name: 'a registry message equal to the code words is not repeated', status: 404, details: [detail('MANIFEST_UNKNOWN', 'Manifest Unknown')], code: 'MANIFEST_UNKNOWN', excludes: ['registry says'] },
    { name: 'a multi-line registry message', status: 400, details: [detail('NAME_INVALID', 'bad\nname\r\nhere')], code: 'NAME_INVALID', includes: ['registry says: bad\\nname\\r\\nhere'] },
  ];
  for (const c of cases) {
    it(`maps ${c.name} to ${c.code}`, () => {
      const details = c.details ?? [];
      const error = errorFromResponse(c.status, details, c.subject ?? subject);
      assert.ok(error instanceof RegistryError);
      assert.equal(error.code, c.code);
      assert.equal(error.status, c.status);
      assert.equal(error.registry, registry);
      assert.equal(error.repository, (c.subject ?? subject).repository);
      assert.deepEqual(error.details, details, 'details are kept verbatim, unknown codes included');
      assert.ok(!/[\r\n]/.test(error.message), `one line: ${JSON.stringify(error.message)}`);
      assert.ok(error.message.startsWith(`${registry}`), error.message);
      for (const text of c.includes ?? []) assert.ok(error.message.includes(text), `${JSON.stringify(error.message)} includes ${JSON.stringify(text)}`);
      for (const text of c.excludes ?? []) assert.ok(!error.message.includes(text), `${JSON.stringify(error.message)} leaves out ${JSON.stringify(text)}`);
    });
  }
});

describe('failure', () => {
  const context = { registry: 'reg.example:5000', repository: 'app', signal: new AbortController().signal, timeoutMs: 30_000 };
  const cases: Array<[string, RegistryErrorCode, RegExp]> = [
    ['ENOTFOUND', 'UNREACHABLE', /^reg\.example:5000: cannot connect \(ENOTFOUND\); unknown host, check the registry name$/],
    ['EAI_AGAIN', 'UNREACHABLE', /unknown host, check the registry name$/],
    ['ECONNREFUSED', 'UNREACHABLE', /cannot connect \(ECONNREFUSED\); nothing listens there, check the host and port$/],
    ['ECONNRESET', 'UNREACHABLE', /^reg\.example:5000: connection lost \(ECONNRESET\)$/],
    ['UND_ERR_HEADERS_TIMEOUT', 'TIMEOUT', /^reg\.example:5000\/app: request timed out after 30s$/],
  ];
  for (const [code, expected, message] of cases) {
    it(`maps ${code} to ${expected} with a hint`, () => {
      const err = failure(Object.assign(new Error('socket trouble'), { code }), context);
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, expected);
      assert.match(err.message, message);
    });
  }

  it('reports ABORTED when the caller signal fired, whatever the socket said', () => {
    const controller = new AbortController();
    controller.abort();
    const err = failure(Object.assign(new Error('x'), { code: 'ECONNRESET' }), { ...context, signal: controller.signal });
    assert.ok(err instanceof RegistryError && err.code === 'ABORTED');
  });
});
