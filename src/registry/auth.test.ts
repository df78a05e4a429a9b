// Registry authentication: the WWW-Authenticate parser and scope helpers as tables and properties,
// the Docker token flow through RegistryClient against a fake registry and a fake token service on
// real loopback servers, and Basic auth against Debian's docker-registry with an htpasswd file.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startDockerRegistry, type RunningRegistry } from '../../test/support/docker-registry.js';
import { readAll, testBlob } from '../../test/support/target-conformance.js';
import { digestOf } from '../oci/index.js';
import { Authenticator, basicAuthorization, normalizeScopes, parseChallenges, repositoryScope, type AuthChallenge, type AuthTarget, type Credentials } from './auth.js';
import { RegistryClient } from './client.js';
import { RegistryError } from './errors.js';
import { Transport } from './transport.js';

const opts = () => ({ signal: AbortSignal.timeout(10_000) });

const PASSWORD = 'hunter2-secret';
const IDENTITY_TOKEN = 'refresh-secret-0123';
/** Every token the fake service issues starts with this, so a message can be searched for any of them. */
const TOKEN_PREFIX = 'tok-secret-';

// ---- parseChallenges, normalizeScopes, repositoryScope, basicAuthorization ----

const challenge = (scheme: string, params: Record<string, string> = {}): AuthChallenge => ({ scheme, params });

describe('parseChallenges', () => {
  const cases: Array<{ name: string; input: string | string[]; want: AuthChallenge[] }> = [
    {
      name: 'reads a Bearer challenge with realm, service and scope',
      input: 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:app:pull"',
      want: [challenge('bearer', { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:app:pull' })],
    },
    {
      name: 'keeps commas and spaces inside quoted strings',
      input: 'Bearer realm="https://auth.example/token",scope="repository:app:pull,push repository:base:pull"',
      want: [challenge('bearer', { realm: 'https://auth.example/token', scope: 'repository:app:pull,push repository:base:pull' })],
    },
    {
      name: 'unescapes backslash escapes in quoted strings',
      input: String.raw`Bearer realm="https://auth.example/token",error_description="say \"hi\", then \\ and \q"`,
      want: [challenge('bearer', { realm: 'https://auth.example/token', error_description: 'say "hi", then \\ and q' })],
    },
    {
      name: 'lower-cases the scheme and parameter names but not values',
      input: 'BEARER Realm="https://Auth.example/Token",SERVICE=Registry',
      want: [challenge('bearer', { realm: 'https://Auth.example/Token', service: 'Registry' })],
    },
    {
      name: 'accepts unquoted token values and whitespace around = and commas',
      input: 'Bearer realm = "https://auth.example/token" ,  service=registry.example ,scope="a:b:c"',
      want: [challenge('bearer', { realm: 'https://auth.example/token', service: 'registry.example', scope: 'a:b:c' })],
    },
    {
      name: 'splits several challenges in one header',
      input: 'Basic realm="sigil-test", Bearer realm="https://auth.example/token",service="registry.example", error="insufficient_scope"',
      want: [challenge('basic', { realm: 'sigil-test' }), challenge('bearer', { realm: 'https://auth.example/token', service: 'registry.example', error: 'insufficient_scope' })],
    },
    {
      name: 'concatenates the challenges of several headers in order',
      input: ['Basic realm="one"', 'Bearer realm="https://auth.example/token"', 'Foo'],
      want: [challenge('basic', { realm: 'one' }), challenge('bearer', { realm: 'https://auth.example/token' }), challenge('foo')],
    },
    { name: 'reads Basic with a realm', input: 'Basic realm="sigil-test"', want: [challenge('basic', { realm: 'sigil-test' })] },
    { name: 'reads Basic with a realm and charset', input: 'Basic realm="sigil-test", charset="UTF-8"', want: [challenge('basic', { realm: 'sigil-test', charset: 'UTF-8' })] },
    { name: 'reads a bare scheme without parameters', input: 'Basic', want: [challenge('basic')] },
    { name: 'skips a token68 after the scheme', input: 'Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg==', want: [challenge('negotiate')] },
    {
      name: 'skips a token68 and reads the challenge after it',
      input: 'Negotiate abc/def+ghi==, Basic realm="r"',
      want: [challenge('negotiate'), challenge('basic', { realm: 'r' })],
    },
    {
      name: 'skips a token68 ending in a single = and reads the challenge after it',
      input: 'Negotiate dG9rZW4=, Basic realm="r"',
      want: [challenge('negotiate'), challenge('basic', { realm: 'r' })],
    },
    { name: 'keeps an empty quoted value', input: 'Bearer realm="",service="s"', want: [challenge('bearer', { realm: '', service: 's' })] },
    { name: 'yields nothing for an empty header', input: '', want: [] },
    { name: 'yields nothing for only separators', input: ' , ,\t,', want: [] },
    { name: 'yields nothing for no headers', input: [], want: [] },
    { name: 'ignores a trailing comma', input: 'Bearer realm="https://auth.example/token",', want: [challenge('bearer', { realm: 'https://auth.example/token' })] },
    { name: 'reads an unterminated quoted string to the end', input: 'Bearer realm="https://auth.example/tok', want: [challenge('bearer', { realm: 'https://auth.example/tok' })] },
    {
      name: 'keeps what parsed before garbage',
      input: 'Bearer realm="https://auth.example/token",service="s" @@@ ((',
      want: [challenge('bearer', { realm: 'https://auth.example/token', service: 's' })],
    },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      assert.deepEqual(
        parseChallenges(input).map((c) => ({ scheme: c.scheme, params: { ...c.params } })),
        want.map((c) => ({ scheme: c.scheme, params: { ...c.params } })),
      );
    });
  }

  it('returns frozen challenges', () => {
    const [first] = parseChallenges('Bearer realm="x"');
    assert.ok(first !== undefined && Object.isFrozen(first) && Object.isFrozen(first.params));
  });

  /** Strings made of the pieces challenges are built from, so the parser's branches are reached. */
  const challengeLike = fc
    .array(fc.constantFrom('Bearer', 'Basic', 'realm', 'scope', 'x', ' ', '\t', ',', '=', '==', '"', '\\', '/', '+', '\n', 'é', '\u0000'), { maxLength: 30 })
    .map((parts) => parts.join(''));
  const anyString = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' }), challengeLike);

  it('never throws, and every challenge it yields has a lower-case token scheme', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.array(anyString, { maxLength: 4 })), (input) => {
        for (const c of parseChallenges(input)) {
          assert.match(c.scheme, /^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
          for (const key of Object.keys(c.params)) assert.equal(key, key.toLowerCase());
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('normalizeScopes', () => {
  const cases: Array<{ name: string; input: string[]; want: string[] }> = [
    { name: 'merges actions on one resource, sorted', input: ['repository:app:push', 'repository:app:pull'], want: ['repository:app:pull,push'] },
    { name: 'drops duplicate actions', input: ['repository:app:pull', 'repository:app:pull,pull'], want: ['repository:app:pull'] },
    { name: 'keeps resources apart and sorts them', input: ['repository:b:pull', 'repository:a:push'], want: ['repository:a:push', 'repository:b:pull'] },
    { name: 'splits space-separated scopes', input: ['repository:app:pull,push repository:base:pull'], want: ['repository:app:pull,push', 'repository:base:pull'] },
    { name: 'lets * stand alone', input: ['repository:app:pull', 'repository:app:*', 'repository:app:push'], want: ['repository:app:*'] },
    { name: 'keeps registry-type resources', input: ['registry:catalog:*'], want: ['registry:catalog:*'] },
    { name: 'keeps repository names with slashes and a resource class', input: ['repository(plugin):a/b/c:pull'], want: ['repository(plugin):a/b/c:pull'] },
    { name: 'passes opaque scopes through', input: ['openid', 'repository:app:pull', 'openid'], want: ['openid', 'repository:app:pull'] },
    { name: 'treats type:name without actions as opaque', input: ['repository:app'], want: ['repository:app'] },
    { name: 'ignores empty strings and extra spaces', input: ['', '  repository:app:pull  '], want: ['repository:app:pull'] },
    { name: 'yields nothing for nothing', input: [], want: [] },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => assert.deepEqual(normalizeScopes(input), want));
  }

  it('is idempotent and order-independent', () => {
    const scope = fc
      .tuple(fc.constantFrom('repository', 'registry'), fc.constantFrom('app', 'a/b', 'catalog'), fc.subarray(['pull', 'push', 'delete', '*'], { minLength: 1 }))
      .map(([type, name, actions]) => `${type}:${name}:${actions.join(',')}`);
    fc.assert(
      fc.property(fc.array(scope, { maxLength: 6 }), (scopes) => {
        const once = normalizeScopes(scopes);
        assert.deepEqual(normalizeScopes(once), once);
        assert.deepEqual(normalizeScopes([...scopes].reverse()), once);
      }),
    );
  });
});

describe('repositoryScope', () => {
  const cases: Array<{ args: [string, ...string[]]; want: string }> = [
    { args: ['app', 'pull'], want: 'repository:app:pull' },
    { args: ['library/alpine', 'pull', 'push'], want: 'repository:library/alpine:pull,push' },
    { args: ['a/b/c', 'delete'], want: 'repository:a/b/c:delete' },
  ];
  for (const { args, want } of cases) {
    it(`builds ${want}`, () => assert.equal(repositoryScope(...args), want));
  }
});

describe('basicAuthorization', () => {
  const cases: Array<{ name: string; username: string; password: string; want: string }> = [
    { name: 'encodes the RFC 7617 example', username: 'Aladdin', password: 'open sesame', want: 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==' },
    { name: 'encodes user:password', username: 'sigil', password: 'pw', want: 'Basic c2lnaWw6cHc=' },
    { name: 'keeps colons in the password', username: 'a', password: 'b:c', want: `Basic ${Buffer.from('a:b:c').toString('base64')}` },
    { name: 'encodes non-ASCII as UTF-8 (RFC 7617 §2.1 charset)', username: 'test', password: '123£', want: 'Basic dGVzdDoxMjPCow==' },
    { name: 'encodes an empty password', username: 'u', password: '', want: 'Basic dTo=' },
  ];
  for (const { name, username, password, want } of cases) {
    it(name, () => assert.equal(basicAuthorization(username, password), want));
  }
});

// ---- fakes on real loopback servers ----

type Reply = { status: number; headers?: Record<string, string>; body?: string | Uint8Array };
type Handler = (req: IncomingMessage, url: URL, body: Buffer) => Reply;

const servers: Server[] = [];
const clients: RegistryClient[] = [];
const transports: Transport[] = [];

after(async () => {
  await Promise.all([...clients.map((c) => c.close()), ...transports.map((t) => t.close())]);
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

/** Mounts `handler` on a real HTTP server on 127.0.0.1:0; closed in the file's `after` hook. */
async function serve(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://placeholder');
      let reply: Reply;
      try {
        reply = handler(req, url, Buffer.concat(chunks));
      } catch (err) {
        reply = { status: 500, body: String(err) };
      }
      const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : Buffer.from(reply.body ?? new Uint8Array(0));
      res.writeHead(reply.status, { 'content-length': String(body.byteLength), ...reply.headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function newClient(credentials?: Credentials): RegistryClient {
  const client = new RegistryClient(credentials === undefined ? {} : { credentials: { get: async () => credentials } });
  clients.push(client);
  return client;
}

const json = (status: number, doc: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(doc),
});

/** One request the token service received. */
interface TokenRequest {
  readonly method: string;
  readonly service: string | null;
  readonly scopes: string[];
  /** The Basic user name, when Basic credentials came with the request. */
  readonly username?: string;
  readonly authorization?: string;
  /** The OAuth2 form of a POST. */
  readonly form?: Record<string, string>;
}

/**
 * A Docker token service (distribution "Token Authentication Specification" and its OAuth2
 * form): GET with Basic credentials, or POST grant_type=refresh_token with an identity token.
 * It grants exactly the scopes asked for; anonymous callers get pull only, when allowed.
 */
class FakeTokenService {
  readonly requests: TokenRequest[] = [];
  /** token → the `type:name:action` grants it carries. */
  readonly grants = new Map<string, Set<string>>();
  allowAnonymous = false;
  /** Seconds sent as `expires_in`; undefined omits the field. */
  expiresIn: number | undefined = 300;
  #issued = 0;

  readonly handle: Handler = (req, url, body) => {
    if (url.pathname !== '/token') return { status: 404 };
    if (req.method === 'POST') {
      const form = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
      const scopes = (form.scope ?? '').split(' ').filter((s) => s !== '');
      this.requests.push({ method: 'POST', service: form.service ?? null, scopes, form, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      if (form.grant_type !== 'refresh_token' || form.refresh_token !== IDENTITY_TOKEN) return json(400, { error: 'invalid_grant' });
      if (form.service !== 'fake') return json(400, { error: 'invalid_request' });
      return json(200, { access_token: this.#issue(scopes), scope: scopes.join(' '), ...(this.expiresIn === undefined ? {} : { expires_in: this.expiresIn }) });
    }
    const scopes = url.searchParams.getAll('scope');
    const authorization = req.headers.authorization;
    const decoded = authorization?.startsWith('Basic ') ? Buffer.from(authorization.slice(6), 'base64').toString('utf8') : undefined;
    const username = decoded?.slice(0, decoded.indexOf(':'));
    this.requests.push({ method: req.method ?? '', service: url.searchParams.get('service'), scopes, ...(authorization ? { authorization } : {}), ...(username === undefined ? {} : { username }) });
    if (url.searchParams.get('service') !== 'fake') return json(400, { errors: [{ code: 'UNSUPPORTED', message: 'unknown service' }] });
    if (decoded === undefined) {
      if (!this.allowAnonymous) return json(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': 'Basic realm="fake"' });
      return json(200, { token: this.#issue(scopes.filter((s) => s.endsWith(':pull'))), expires_in: this.expiresIn });
    }
    if (decoded !== `sigil:${PASSWORD}`) {
      // Hostile on purpose: the body echoes the credentials; Sigil must not put them in a message.
      return json(401, { errors: [{ code: 'UNAUTHORIZED', message: `bad credentials ${decoded}` }] }, { 'www-authenticate': 'Basic realm="fake"' });
    }
    return json(200, { token: this.#issue(scopes), ...(this.expiresIn === undefined ? {} : { expires_in: this.expiresIn }), issued_at: new Date().toISOString() });
  };

  #issue(scopes: readonly string[]): string {
    const token = `${TOKEN_PREFIX}${++this.#issued}`;
    const grants = new Set<string>();
    for (const scope of scopes) {
      const cut = scope.lastIndexOf(':');
      for (const action of scope.slice(cut + 1).split(',')) grants.add(`${scope.slice(0, cut)}:${action}`);
    }
    this.grants.set(token, grants);
    return token;
  }
}

/** One request the fake registry received. */
interface RegistryRequestLog {
  readonly method: string;
  readonly path: string;
  readonly authorization?: string;
  readonly status: number;
}

/**
 * A registry holding blobs of the repository `app` that requires a token from the fake token
 * service granting pull (GET/HEAD) or push (POST/PUT); `/v2/` takes any valid token.
 */
class FakeRegistry {
  readonly requests: RegistryRequestLog[] = [];
  readonly blobs = new Map<string, Buffer>();
  /** Tokens the registry no longer accepts. */
  readonly revoked = new Set<string>();
  /** When true, no token is accepted at all. */
  refuseEveryToken = false;
  realm = '';
  readonly #tokens: FakeTokenService;
  #uploads = 0;

  constructor(tokens: FakeTokenService) {
    this.#tokens = tokens;
  }

  /** Stops accepting every token issued so far (a key rotation, a revoked session). */
  revokeIssued(): void {
    for (const token of this.#tokens.grants.keys()) this.revoked.add(token);
  }

  readonly handle: Handler = (req, url, body) => {
    const reply = this.#answer(req, url, body);
    this.requests.push({ method: req.method ?? '', path: url.pathname, status: reply.status, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    return reply;
  };

  #answer(req: IncomingMessage, url: URL, body: Buffer): Reply {
    const method = req.method ?? '';
    const granted = this.#granted(req.headers.authorization);
    if (url.pathname === '/v2/') {
      if (granted === undefined) return this.#challenge(undefined);
      return json(200, {});
    }
    const match = /^\/v2\/app\/blobs\/(.*)$/.exec(url.pathname);
    if (match === null) return json(404, { errors: [{ code: 'NAME_UNKNOWN' }] });
    const needed = method === 'GET' || method === 'HEAD' ? 'repository:app:pull' : 'repository:app:push';
    if (granted === undefined || !granted.has(needed)) return this.#challenge('repository:app:pull');
    const rest = match[1] ?? '';
    if (method === 'POST' && rest === 'uploads/') {
      return { status: 202, headers: { location: `/v2/app/blobs/uploads/${++this.#uploads}`, 'docker-upload-uuid': String(this.#uploads) } };
    }
    if (method === 'PUT' && rest.startsWith('uploads/')) {
      const digest = url.searchParams.get('digest') ?? '';
      if (digestOf(body) !== digest) return json(400, { errors: [{ code: 'DIGEST_INVALID' }] });
      this.blobs.set(digest, body);
      return { status: 201, headers: { location: `/v2/app/blobs/${digest}`, 'docker-content-digest': digest } };
    }
    if (method === 'GET' || method === 'HEAD') {
      const blob = this.blobs.get(rest);
      if (blob === undefined) return json(404, { errors: [{ code: 'BLOB_UNKNOWN' }] });
      return { status: 200, headers: { 'content-type': 'application/octet-stream', 'docker-content-digest': rest }, body: blob };
    }
    return json(405, { errors: [{ code: 'UNSUPPORTED' }] });
  }

  #granted(authorization: string | undefined): Set<string> | undefined {
    if (this.refuseEveryToken || authorization?.startsWith('Bearer ') !== true) return undefined;
    const token = authorization.slice(7);
    return this.revoked.has(token) ? undefined : this.#tokens.grants.get(token);
  }

  /** The 401 of the brief: a Bearer challenge naming the realm, the service and (for repositories) the pull scope. */
  #challenge(scope: string | undefined): Reply {
    return json(
      401,
      // Hostile on purpose: the body names the token it refused.
      { errors: [{ code: 'UNAUTHORIZED', message: `authentication required (refused ${TOKEN_PREFIX}*)` }] },
      { 'www-authenticate': `Bearer realm="${this.realm}",service="fake"${scope === undefined ? '' : `,scope="${scope}"`}` },
    );
  }
}

interface World {
  readonly tokens: FakeTokenService;
  readonly registry: FakeRegistry;
  /** `127.0.0.1:PORT` of the registry. */
  readonly host: string;
}

/** A fake registry and its token service, each on its own loopback port. */
async function startWorld(): Promise<World> {
  const tokens = new FakeTokenService();
  const registry = new FakeRegistry(tokens);
  const tokenHost = await serve(tokens.handle);
  registry.realm = `http://${tokenHost}/token`;
  const host = await serve(registry.handle);
  return { tokens, registry, host };
}

const blob = testBlob('auth-test/blob', 300);

function isUnauthorizedWithoutSecrets(err: unknown): boolean {
  assert.ok(err instanceof RegistryError, `want RegistryError, got ${String(err)}`);
  assert.equal(err.code, 'UNAUTHORIZED');
  assert.match(err.message, /sigil login 127\.0\.0\.1:\d+/);
  for (const secret of [PASSWORD, IDENTITY_TOKEN, TOKEN_PREFIX]) assert.ok(!err.message.includes(secret), `message leaks a secret: ${err.message}`);
  return true;
}

// ---- the token flow, end to end ----

describe('Bearer token flow through RegistryClient', () => {
  it('fetches a token for the repository pull scope from the challenge realm with the challenge service, then retries with it', async () => {
    const world = await startWorld();
    world.registry.blobs.set(blob.descriptor.digest, Buffer.from(blob.bytes));
    const repo = newClient({ username: 'sigil', password: PASSWORD }).repository(world.host, 'app');

    assert.equal(await repo.exists(blob.descriptor, opts()), true);

    assert.deepEqual(
      world.tokens.requests.map((r) => ({ method: r.method, service: r.service, scopes: r.scopes, username: r.username })),
      [{ method: 'GET', service: 'fake', scopes: ['repository:app:pull'], username: 'sigil' }],
    );
    assert.deepEqual(
      world.registry.requests.map((r) => [r.method, r.status, r.authorization]),
      [
        ['HEAD', 401, undefined],
        ['HEAD', 200, `Bearer ${TOKEN_PREFIX}1`],
      ],
    );
  });

  it('caches the token: later requests for the same scope send it up front and make no token request', async () => {
    const world = await startWorld();
    world.registry.blobs.set(blob.descriptor.digest, Buffer.from(blob.bytes));
    const repo = newClient({ username: 'sigil', password: PASSWORD }).repository(world.host, 'app');

    assert.equal(await repo.exists(blob.descriptor, opts()), true);
    assert.equal(await repo.exists(blob.descriptor, opts()), true);
    assert.deepEqual(await readAll(await repo.fetch(blob.descriptor, opts())), Buffer.from(blob.bytes));

    assert.equal(world.tokens.requests.length, 1);
    assert.deepEqual(
      world.registry.requests.slice(2).map((r) => [r.method, r.status, r.authorization]),
      [
        ['HEAD', 200, `Bearer ${TOKEN_PREFIX}1`],
        ['GET', 200, `Bearer ${TOKEN_PREFIX}1`],
      ],
    );
  });

  it('shares one token request among concurrent requests for the same scope', async () => {
    const world = await startWorld();
    world.registry.blobs.set(blob.descriptor.digest, Buffer.from(blob.bytes));
    const repo = newClient({ username: 'sigil', password: PASSWORD }).repository(world.host, 'app');
    await repo.exists(blob.descriptor, opts()); // learns the realm and service
    world.tokens.requests.length = 0;
    // A new scope set (pull,push) is not cached: five requests at once must wait for one token.
    const other = testBlob('auth-test/concurrent', 64);
    await Promise.all(Array.from({ length: 5 }, () => repo.push(other.descriptor, other.bytes, opts())));
    assert.deepEqual(
      world.tokens.requests.map((r) => r.scopes),
      [['repository:app:pull,push']],
    );
  });

  it('asks for a pull,push token when pushing, although the challenge names only pull', async () => {
    const world = await startWorld();
    const repo = newClient({ username: 'sigil', password: PASSWORD }).repository(world.host, 'app');

    await repo.push(blob.descriptor, blob.bytes, opts());

    assert.deepEqual(
      world.tokens.requests.map((r) => ({ service: r.service, scopes: r.scopes })),
      [{ service: 'fake', scopes: ['repository:app:pull,push'] }],
    );
    assert.deepEqual(world.registry.blobs.get(blob.descriptor.digest), Buffer.from(blob.bytes));
    assert.deepEqual(
      world.registry.requests.map((r) => [r.method, r.status]),
      [
        ['POST', 401],
        ['POST', 202],
        ['PUT', 201],
      ],
    );
  });

  it('refreshes a token the registry stops accepting, with one new token request', async () => {
    const world = await startWorld();
    world.registry.blobs.set(blob.descriptor.digest, Buffer.from(blob.bytes));
    const repo = newClient({ username: 'sigil', password: PASSWORD }).repository(world.host, 'app');
    assert.equal(await repo.exists(blob.descriptor, opts()), true);

    world.registry.revokeIssued();
    assert.equal(await repo.exists(blob.descriptor, opts()), true);

    assert.equal(world.tokens.requests.length, 2);
    assert.deepEqual(
      world.registry.requests.slice(2).map((r) => [r.status, r.authorization]),
      [
        [401, `Bearer ${TOKEN_PREFIX}1`],
        [200, `Bearer ${TOKEN_PREFIX}2`],
      ],
    );
    // the refreshed token is the cached one now
    assert.equal(await repo.exists(blob.descriptor, opts()), true);
    assert.equal(world.tokens.requests.length, 2);
  });

  it('gives up with UNAUTHORIZED after one refresh when the registry refuses the new token too', async () => {
    const world = await startWorld();
    world.registry.blobs.set(blob.descriptor.digest, Buffer.from(blob.bytes));
    const repo = newClient({ username: 'sigil', password: PASSWORD }).repository(world.host, 'app');
    assert.equal(await repo.exists(blob.descriptor, opts()), true);

    world.registry.refuseEveryToken = true;
    await assert.rejects(repo.exists(blob.descriptor, opts()), isUnauthorizedWithoutSecrets);

    assert.equal(world.tokens.requests.length, 2);
    assert.equal(world.registry.requests.length, 4);
  });

  it('fails with UNAUTHORIZED naming sigil login, without the password or a token, on wrong credentials', async () => {
    const world = await startWorld();
    const repo = newClient({ username: 'sigil', password: `${PASSWORD}-wrong` }).repository(world.host, 'app');

    await assert.rejects(repo.exists(blob.descriptor, opts()), isUnauthorizedWithoutSecrets);
    await assert.rejects(repo.push(blob.descriptor, blob.bytes, opts()), isUnauthorizedWithoutSecrets);
    assert.equal(world.registry.blobs.size, 0);
  });

  it('exchanges an identity token with the OAuth2 refresh_token POST, without Basic credentials', async () => {
    const world = await startWorld();
    world.registry.blobs.set(blob.descriptor.digest, Buffer.from(blob.bytes));
    const repo = newClient({ identityToken: IDENTITY_TOKEN }).repository(world.host, 'app');

    assert.equal(await repo.exists(blob.descriptor, opts()), true);

    assert.equal(world.tokens.requests.length, 1);
    const [request] = world.tokens.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.authorization, undefined);
    assert.deepEqual(request?.form, { grant_type: 'refresh_token', refresh_token: IDENTITY_TOKEN, client_id: 'sigil', service: 'fake', scope: 'repository:app:pull' });
    assert.equal(world.registry.requests.at(-1)?.authorization, `Bearer ${TOKEN_PREFIX}1`);
  });

  it('fetches an anonymous token without Authorization when there are no credentials', async () => {
    const world = await startWorld();
    world.tokens.allowAnonymous = true;
    world.registry.blobs.set(blob.descriptor.digest, Buffer.from(blob.bytes));
    const repo = newClient().repository(world.host, 'app');

    assert.equal(await repo.exists(blob.descriptor, opts()), true);

    assert.deepEqual(
      world.tokens.requests.map((r) => ({ authorization: r.authorization, scopes: r.scopes })),
      [{ authorization: undefined, scopes: ['repository:app:pull'] }],
    );
  });

  it('checks credentials given to ping with a token that has no repository scope', async () => {
    const world = await startWorld();
    const client = newClient();

    await client.ping(world.host, { ...opts(), credentials: { username: 'sigil', password: PASSWORD } });
    await assert.rejects(client.ping(world.host, { ...opts(), credentials: { username: 'sigil', password: 'nope' } }), isUnauthorizedWithoutSecrets);

    assert.deepEqual(
      world.tokens.requests.map((r) => ({ scopes: r.scopes, username: r.username })),
      [
        { scopes: [], username: 'sigil' },
        { scopes: [], username: 'sigil' },
      ],
    );
  });
});

// ---- the Authenticator on its own: realm checks and expiry ----

describe('Authenticator', () => {
  const credentials: Credentials = { username: 'sigil', password: PASSWORD };

  /** A real 401 from the fake registry, as the authenticator receives it. */
  async function challengeFrom(world: World, transport: Transport) {
    return transport.send({ method: 'HEAD', url: new URL(`http://${world.host}/v2/app/blobs/${blob.descriptor.digest}`), registry: world.host, ...opts() });
  }

  function newTransport(): Transport {
    const transport = new Transport();
    transports.push(transport);
    return transport;
  }

  it('refuses to send credentials to a plain-HTTP token realm when the registry is https', async () => {
    const world = await startWorld();
    const transport = newTransport();
    const auth = new Authenticator(transport, async () => credentials);
    const target: AuthTarget = { registry: 'registry.example', repository: 'app', url: new URL('https://registry.example/v2/app/blobs/x'), scopes: ['repository:app:pull'], ...opts() };

    await assert.rejects(auth.answer(target, await challengeFrom(world, transport), undefined), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, 'RESPONSE_INVALID');
      assert.ok(!err.message.includes(PASSWORD));
      return true;
    });
    assert.equal(world.tokens.requests.length, 0);
  });

  it('still fetches an anonymous token from a plain-HTTP realm for an https registry, since no secret travels', async () => {
    const world = await startWorld();
    world.tokens.allowAnonymous = true;
    const transport = newTransport();
    const auth = new Authenticator(transport, async () => undefined);
    const target: AuthTarget = { registry: 'registry.example', repository: 'app', url: new URL('https://registry.example/v2/app/blobs/x'), scopes: ['repository:app:pull'], ...opts() };

    assert.equal(await auth.answer(target, await challengeFrom(world, transport), undefined), `Bearer ${TOKEN_PREFIX}1`);
    assert.equal(world.tokens.requests[0]?.authorization, undefined);
  });

  it('reuses a token until expires_in less the 5 s margin has passed, then fetches a new one', async () => {
    const world = await startWorld();
    world.tokens.expiresIn = 300;
    let now = 1_000_000;
    const transport = newTransport();
    const auth = new Authenticator(transport, async () => credentials, () => now);
    const target: AuthTarget = { registry: world.host, repository: 'app', url: new URL(`http://${world.host}/v2/app/blobs/x`), scopes: ['repository:app:pull'], ...opts() };

    assert.equal(await auth.answer(target, await challengeFrom(world, transport), undefined), `Bearer ${TOKEN_PREFIX}1`);
    now += 294_000;
    assert.equal(await auth.authorization(target), `Bearer ${TOKEN_PREFIX}1`);
    now += 2_000;
    assert.equal(await auth.authorization(target), `Bearer ${TOKEN_PREFIX}2`);
    assert.equal(world.tokens.requests.length, 2);
  });

  it('treats a token without expires_in as valid for 60 s (the token specification default)', async () => {
    const world = await startWorld();
    world.tokens.expiresIn = undefined;
    let now = 1_000_000;
    const transport = newTransport();
    const auth = new Authenticator(transport, async () => credentials, () => now);
    const target: AuthTarget = { registry: world.host, repository: 'app', url: new URL(`http://${world.host}/v2/app/blobs/x`), scopes: ['repository:app:pull'], ...opts() };

    await auth.answer(target, await challengeFrom(world, transport), undefined);
    now += 54_000;
    assert.equal(await auth.authorization(target), `Bearer ${TOKEN_PREFIX}1`);
    now += 2_000;
    assert.equal(await auth.authorization(target), `Bearer ${TOKEN_PREFIX}2`);
  });

  it('sends nothing up front for a registry it has not seen a challenge from', async () => {
    const auth = new Authenticator(newTransport(), async () => credentials);
    assert.equal(await auth.authorization({ registry: 'registry.example', url: new URL('https://registry.example/v2/'), scopes: [], ...opts() }), undefined);
  });
});

// ---- Basic auth against docker-registry ----

describe('Basic auth against docker-registry with htpasswd', () => {
  // bcrypt of "pw" for user "sigil" (cost 12); docker-registry accepts the $2b$ prefix as it is.
  const HTPASSWD = 'sigil:$2b$12$KLeIz4lwVuiNiOroADKWGOzDHQTbHTluNHc9j79NXnfIhTB6T/klC\n';
  let dir: string;
  let registry: RunningRegistry;
  const basicClients: RegistryClient[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigil-htpasswd-'));
    await writeFile(join(dir, 'htpasswd'), HTPASSWD);
    registry = await startDockerRegistry({ htpasswd: join(dir, 'htpasswd') });
  });
  after(async () => {
    // Close pooled connections first: docker-registry's graceful stop waits for open ones.
    await Promise.all(basicClients.map((c) => c.close()));
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function basicClient(password?: string): RegistryClient {
    const client = new RegistryClient(password === undefined ? {} : { credentials: { get: async () => ({ username: 'sigil', password }) } });
    basicClients.push(client);
    return client;
  }

  it('pushes and pulls a blob with Basic credentials from the credential store', async () => {
    const repo = basicClient('pw').repository(registry.host, 'sigil-test/basic');
    const content = testBlob('auth-test/basic', 2048);

    await repo.push(content.descriptor, content.bytes, opts());

    assert.equal(await repo.exists(content.descriptor, opts()), true);
    assert.deepEqual(await readAll(await repo.fetch(content.descriptor, opts())), Buffer.from(content.bytes));
  });

  it('fails with UNAUTHORIZED naming sigil login, without the password, on a wrong password', async () => {
    const repo = basicClient(`${PASSWORD}-wrong`).repository(registry.host, 'sigil-test/basic');
    await assert.rejects(repo.exists(blob.descriptor, opts()), isUnauthorizedWithoutSecrets);
    await assert.rejects(repo.push(blob.descriptor, blob.bytes, opts()), isUnauthorizedWithoutSecrets);
  });

  it('fails with UNAUTHORIZED without credentials', async () => {
    const repo = basicClient().repository(registry.host, 'sigil-test/basic');
    await assert.rejects(repo.exists(blob.descriptor, opts()), isUnauthorizedWithoutSecrets);
  });
});
