import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NOTATION_E2E } from '../../test/support/shared.js';
import { TrustPolicyError } from './errors.js';
import { LEVELS } from './levels.js';
import {
  TRUST_POLICY_LINK,
  createTrustPolicyDocument,
  decodeTrustPolicyDocument,
  encodeTrustPolicyDocument,
  findApplicableTrustPolicy,
  type TrustPolicyDocument,
} from './trustpolicy.js';

const POLICIES = join(NOTATION_E2E, 'config/trustpolicies');
const BLOB_POLICIES = join(NOTATION_E2E, 'blob/trustpolicies');

function assertPolicyError(fn: () => unknown, code: TrustPolicyError['code'], ...fragments: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TrustPolicyError, `expected TrustPolicyError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `${JSON.stringify(error.message)} lacks ${JSON.stringify(fragment)}`);
    return true;
  });
}

function decode(json: unknown, source = 'policy.json'): TrustPolicyDocument {
  return decodeTrustPolicyDocument(typeof json === 'string' ? json : JSON.stringify(json), source);
}

function statement(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'test-statement-name',
    registryScopes: ['registry.acme-rockets.io/software/net-monitor'],
    signatureVerification: { level: 'strict' },
    trustStores: ['ca:valid-trust-store', 'signingAuthority:valid-trust-store'],
    trustedIdentities: ['x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US'],
    ...overrides,
  };
}

function documentOf(...statements: Record<string, unknown>[]): Record<string, unknown> {
  return { version: '1.0', trustPolicies: statements };
}

/**
 * What notation does with each of its e2e trust policies: undefined = accepted; otherwise the key
 * fragment of the error test/e2e/suite/trustpolicy/*.go expects (the scope and store names as the
 * files spell them; the e2e harness rewrites localhost:5000 to its own port).
 */
const E2E_EXPECTATIONS: Record<string, string | undefined> = {
  'any_registry_scope_trust_policy.json': undefined,
  'audit_trustpolicy.json': undefined,
  // A blob policy (no registryScopes) read as an OCI policy, as notation's OCI loader would read it.
  'blob_trust_policy.json': 'trust policy statement "wabbit-networks-policy" has zero registry scopes',
  'empty_registry_scope_trustpolicy.json': 'trust policy statement "e2e" has zero registry scopes',
  'empty_trusted_identity_trustpolicy.json': 'trust policy statement "e2e" has an empty trusted identity',
  'generate_test_trustpolicy.json': undefined,
  'invalid_format_trustpolicy.json': `malformed trust policy. To create a trust policy, see: ${TRUST_POLICY_LINK}`,
  // Valid: it only fails later, with no applicable statement for the artifact's repository.
  'invalid_registry_scope_trustpolicy.json': undefined,
  // Valid: the store name is well formed; the store itself is missing at verification time.
  'invalid_trust_store_trustpolicy.json': undefined,
  // Valid: C=USB is a well-formed DN that simply matches no certificate.
  'invalid_trusted_identity_trustpolicy.json': undefined,
  'malformed_registry_scope_trustpolicy.json': 'registry scope "localhost:5000\\\\test-repo" is not valid',
  'malformed_trust_store_trustpolicy.json':
    'trust policy statement "e2e" uses an unsupported trust store name "" in trust store value "ca:". Named store name needs to follow [a-zA-Z0-9_.-]+ format',
  'malformed_trusted_identity_trustpolicy.json':
    'trust policy statement "e2e" has trusted identity "x509.subject CN=e2e,O=Notary,L=Seattle,ST=WA,C=US" missing separator',
  'missing_country_trusted_identity_trustpolicy.json': 'distinguished name (DN) " CN=e2e,O=Notary,L=Seattle,ST=WA" has no mandatory RDN attribute for "C"',
  'missing_organization_trusted_identity_trustpolicy.json': 'distinguished name (DN) " CN=e2e,L=Seattle,ST=WA,C=US" has no mandatory RDN attribute for "O"',
  'missing_state_trusted_identity_trustpolicy.json': 'distinguished name (DN) " CN=e2e,O=Notary,L=Seattle,C=US" has no mandatory RDN attribute for "ST"',
  'multi_statements_with_multi_wildcard_registry_scope_trustpolicy.json':
    'registry scope "*" is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement',
  'multi_statements_with_the_same_name_trustpolicy.json': 'multiple oci trust policy statements use the same name "e2e", statement names must be unique',
  'multi_statements_with_the_same_registry_scope_trustpolicy.json':
    'registry scope "localhost:5000/test-repo8" is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement',
  'multi_statements_with_wildcard_registry_scope_trustpolicy.json': undefined,
  'multiple_registry_scope_trustpolicy.json': undefined,
  'multiple_trust_store_trustpolicy.json': undefined,
  'multiple_trusted_identity_trustpolicy.json': undefined,
  'overlapped_registry_scope_trustpolicy.json': 'registry scope "localhost:5000/test-repo6" is present in multiple',
  // notation does not check repeated trust stores (the e2e case is skipped: "overlapped trust stores were not checked").
  'overlapped_trust_store_trustpolicy.json': undefined,
  'overlapped_trusted_identity_trustpolicy.json': 'trust policy statement "e2e" has overlapping x509 trustedIdentities',
  'override_audit_trustpolicy.json': undefined,
  'override_integrity_for_permissive_trustpolicy.json': '"integrity" verification can not be overridden in custom signature verification',
  'override_permissive_trustpolicy.json': undefined,
  'override_strict_trustpolicy.json': undefined,
  'permissive_trustpolicy.json': undefined,
  'quickstart_trustpolicy.json': undefined,
  'registry_scope_trustpolicy.json': undefined,
  // ⚠ The spec forbids skip with a `*` scope; notation accepts it, and so does Sigil.
  'skip_trustpolicy.json': undefined,
  'timestamp_after_cert_expiry_trustpolicy.json': undefined,
  'timestamp_trustpolicy.json': undefined,
  'trustpolicy.json': undefined,
  'unset_trust_store_trustpolicy.json': 'trust policy statement "e2e" is either missing trust stores or trusted identities, both must be specified',
  'unset_trusted_identity_trustpolicy.json': 'trust policy statement "e2e" is either missing trust stores or trusted identities, both must be specified',
  'valid_trusted_identity_trustpolicy.json': undefined,
  'wildcard_plus_other_registry_scope_trustpolicy.json':
    "trust policy statement \"e2e\" uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values",
  'wildcard_plus_other_trusted_identity_trustpolicy.json':
    "trust policy statement \"e2e\" uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values",
  'wildcard_trust_store_trustpolicy.json': 'trust policy statement "e2e" has malformed trust store value "*". The required format is <TrustStoreType>:<TrustStoreName>',
};

describe('decodeTrustPolicyDocument on notation e2e trust policies', () => {
  it('has an expectation for every file in the fixture folder', () => {
    assert.deepEqual(readdirSync(POLICIES).filter((f) => f.endsWith('.json')).sort(), Object.keys(E2E_EXPECTATIONS).sort());
  });

  for (const [file, expected] of Object.entries(E2E_EXPECTATIONS)) {
    const path = join(POLICIES, file);
    if (expected === undefined) {
      it(`accepts ${file}, and it survives a round trip`, () => {
        const doc = decodeTrustPolicyDocument(readFileSync(path), path);
        assert.ok(Object.isFrozen(doc) && Object.isFrozen(doc.trustPolicies));
        assert.deepEqual(decodeTrustPolicyDocument(encodeTrustPolicyDocument(doc), 'encoded'), doc);
      });
    } else {
      it(`rejects ${file} as notation does`, () => {
        assertPolicyError(() => decodeTrustPolicyDocument(readFileSync(path), path), 'TRUST_POLICY_INVALID', expected, path);
      });
    }
  }

  it('rejects the blob trust policy fixture read as an OCI policy, for want of registry scopes', () => {
    const path = join(BLOB_POLICIES, 'trustpolicy.blob.json');
    assertPolicyError(() => decodeTrustPolicyDocument(readFileSync(path), path), 'TRUST_POLICY_INVALID', 'oci trust policy statement "test-blob-statement" has zero registry scopes');
  });

  it('decodes trustpolicy.json into the statement model', () => {
    const doc = decodeTrustPolicyDocument(readFileSync(join(POLICIES, 'trustpolicy.json')), 'trustpolicy.json');
    assert.equal(doc.version, '1.0');
    const [s] = doc.trustPolicies;
    assert.ok(s);
    assert.equal(s.name, 'e2e');
    assert.deepEqual(s.registryScopes, ['*']);
    assert.deepEqual(s.signatureVerification, { level: 'strict', override: undefined, verifyTimestamp: 'always' });
    assert.equal(s.level, LEVELS.strict);
    assert.deepEqual(s.trustStores, [{ type: 'ca', name: 'e2e' }]);
    assert.deepEqual(s.trustedIdentities, [{ kind: 'any', raw: '*' }]);
  });

  it('decodes overrides into a custom level and keeps verifyTimestamp', () => {
    const permissive = decodeTrustPolicyDocument(readFileSync(join(POLICIES, 'override_permissive_trustpolicy.json')), 'p').trustPolicies[0];
    assert.equal(permissive?.level.name, 'custom');
    assert.deepEqual(permissive?.level.actions, { integrity: 'enforce', authenticity: 'log', authenticTimestamp: 'enforce', expiry: 'enforce', revocation: 'enforce' });
    assert.deepEqual(permissive?.signatureVerification.override, { revocation: 'enforce', expiry: 'enforce', authenticTimestamp: 'enforce', authenticity: 'log' });
    const timestamp = decodeTrustPolicyDocument(readFileSync(join(POLICIES, 'timestamp_after_cert_expiry_trustpolicy.json')), 't').trustPolicies[0];
    assert.equal(timestamp?.signatureVerification.verifyTimestamp, 'afterCertExpiry');
    assert.deepEqual(timestamp?.trustStores, [{ type: 'ca', name: 'e2e' }, { type: 'tsa', name: 'e2e' }]);
  });

  it('decodes x509.subject identities with their parsed DN and raw text', () => {
    const doc = decodeTrustPolicyDocument(readFileSync(join(POLICIES, 'multiple_trusted_identity_trustpolicy.json')), 'm');
    const identities = doc.trustPolicies[0]?.trustedIdentities ?? [];
    assert.deepEqual(
      identities.map((i) => [i.kind, i.raw]),
      [
        ['x509.subject', 'x509.subject: CN=e2e,O=Notary,L=Seattle,ST=WA,C=US'],
        ['x509.subject', 'x509.subject: O=Internet Widgits Pty Ltd,ST=Some-State,C=AU'],
      ],
    );
    for (const identity of identities) assert.ok(identity.kind === 'x509.subject' && identity.dn !== undefined);
  });

  it('gives a skip statement no trust stores or identities', () => {
    const s = decodeTrustPolicyDocument(readFileSync(join(POLICIES, 'skip_trustpolicy.json')), 's').trustPolicies[0];
    assert.equal(s?.level, LEVELS.skip);
    assert.deepEqual([s?.trustStores, s?.trustedIdentities], [[], []]);
  });
});

// notation-go oci_test.go / trustpolicy_test.go cases, with their messages.
const RULES: [string, Record<string, unknown> | string, string][] = [
  ['an empty version', { version: '', trustPolicies: [statement()] }, 'oci trust policy document has empty version, version must be specified'],
  ['a missing version', { trustPolicies: [statement()] }, 'oci trust policy document has empty version'],
  ['an unsupported version', { version: 'invalid', trustPolicies: [statement()] }, 'oci trust policy document uses unsupported version "invalid"'],
  ['zero statements', { version: '1.0', trustPolicies: [] }, 'oci trust policy document can not have zero trust policy statements'],
  ['a null statement list', { version: '1.0', trustPolicies: null }, 'oci trust policy document can not have zero trust policy statements'],
  ['a statement without a name', documentOf(statement({ name: '' })), 'oci trust policy: a trust policy statement is missing a name, every statement requires a name (trustPolicies[0])'],
  ['a null statement', documentOf(statement(), null as unknown as Record<string, unknown>), 'a trust policy statement is missing a name, every statement requires a name (trustPolicies[1])'],
  ['no registry scopes', documentOf(statement({ registryScopes: [] })), 'oci trust policy statement "test-statement-name" has zero registry scopes, it must specify registry scopes with at least one value'],
  [
    'two statements sharing a scope',
    documentOf(statement(), statement({ name: 'test-statement-name-2' })),
    'registry scope "registry.acme-rockets.io/software/net-monitor" is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement (used by "test-statement-name", "test-statement-name-2")',
  ],
  [
    'a wildcard beside another scope',
    documentOf(statement({ registryScopes: ['*', 'registry.acme-rockets.io/software/net-monitor'] })),
    "oci trust policy statement \"test-statement-name\" uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values",
  ],
  ['an invalid level', documentOf(statement({ signatureVerification: { level: 'invalid' } })), 'oci trust policy: trust policy statement "test-statement-name" has invalid signatureVerification: invalid signature verification level "invalid"'],
  [
    'a missing level',
    documentOf(statement({ signatureVerification: {} })),
    'trust policy statement "test-statement-name" has invalid signatureVerification: signature verification level is empty or missing in the trust policy statement',
  ],
  [
    'a missing signatureVerification',
    documentOf(statement({ signatureVerification: undefined })),
    'has invalid signatureVerification: signature verification level is empty or missing',
  ],
  [
    'an invalid verifyTimestamp',
    documentOf(statement({ signatureVerification: { level: 'strict', verifyTimestamp: 'invalid' } })),
    'oci trust policy: trust policy statement "test-statement-name" has invalid signatureVerification: verifyTimestamp must be "always" or "afterCertExpiry", but got "invalid"',
  ],
  ['a skipped override', documentOf(statement({ signatureVerification: { level: 'strict', override: { expiry: 'skip' } } })), '"expiry" verification can not be skipped in custom signature verification'],
  ['an override of skip', documentOf(statement({ signatureVerification: { level: 'skip', override: { revocation: 'log' } } })), `signature verification level "skip" can't be used to customize signature verification`],
  ['a null override value', documentOf(statement({ signatureVerification: { level: 'strict', override: { expiry: null } } })), 'verification action "" in custom signature verification is not supported'],
  ['strict without trust stores', documentOf(statement({ trustStores: [] })), 'oci trust policy: trust policy statement "test-statement-name" is either missing trust stores or trusted identities, both must be specified'],
  ['strict without trusted identities', documentOf(statement({ trustedIdentities: undefined })), 'is either missing trust stores or trusted identities, both must be specified'],
  [
    'skip with trust stores',
    documentOf(statement({ signatureVerification: { level: 'skip' }, trustedIdentities: [] })),
    'oci trust policy: trust policy statement "test-statement-name" is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped',
  ],
  ['skip with identities', documentOf(statement({ signatureVerification: { level: 'skip' }, trustStores: [] })), 'is set to skip signature verification but configured with trust stores and/or trusted identities'],
  ['an empty identity', documentOf(statement({ trustedIdentities: [''] })), 'oci trust policy: trust policy statement "test-statement-name" has an empty trusted identity'],
  ['a null identity', documentOf(statement({ trustedIdentities: [null] })), 'has an empty trusted identity'],
  ['an identity without separator', documentOf(statement({ trustedIdentities: ['x509.subject'] })), 'trust policy statement "test-statement-name" has trusted identity "x509.subject" missing separator'],
  ['an x509.subject without value', documentOf(statement({ trustedIdentities: ['x509.subject:'] })), 'trust policy statement "test-statement-name" has trusted identity "x509.subject:" without an identity value'],
  ['an unparsable DN', documentOf(statement({ trustedIdentities: ['x509.subject:,,,'] })), 'trust policy statement "test-statement-name" has trusted identity "x509.subject:,,," with invalid identity value: '],
  ['a DN without O', documentOf(statement({ trustedIdentities: ['x509.subject:C=US,ST=WA'] })), 'has trusted identity "x509.subject:C=US,ST=WA" with invalid identity value: '],
  ['a DN with a repeated attribute', documentOf(statement({ trustedIdentities: ['x509.subject:C=US,C=IN,ST=WA,O=X'] })), 'with invalid identity value: '],
  ['a multi-valued RDN', documentOf(statement({ trustedIdentities: ['x509.subject:C=US+ST=WA,O=MyOrg'] })), 'with invalid identity value: '],
  [
    'overlapping DNs',
    documentOf(statement({ trustedIdentities: ['x509.subject:C=US,ST=WA,O=MyOrg', 'x509.subject:C=US,ST=WA,O=MyOrg,OU=Y'] })),
    'trust policy statement "test-statement-name" has overlapping x509 trustedIdentities, "x509.subject:C=US,ST=WA,O=MyOrg" overlaps with "x509.subject:C=US,ST=WA,O=MyOrg,OU=Y"',
  ],
  ['a repeated DN', documentOf(statement({ trustedIdentities: ['x509.subject:C=US,ST=WA,O=MyOrg', 'x509.subject:C=US,ST=WA,O=MyOrg'] })), 'has overlapping x509 trustedIdentities'],
  ['a wildcard identity beside another', documentOf(statement({ trustedIdentities: ['*', 'test-identity'] })), "uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values"],
  ['a trust store without separator', documentOf(statement({ trustStores: ['ca'] })), 'trust policy statement "test-statement-name" has malformed trust store value "ca". The required format is <TrustStoreType>:<TrustStoreName>'],
  ['an empty trust store', documentOf(statement({ trustStores: [''] })), 'has malformed trust store value "". The required format is'],
  ['an unknown trust store type', documentOf(statement({ trustStores: ['invalid:test-trust-store'] })), 'uses an unsupported trust store type "invalid" in trust store value "invalid:test-trust-store"'],
  ['a trust store type in the wrong case', documentOf(statement({ trustStores: ['CA:x'] })), 'uses an unsupported trust store type "CA"'],
  ['an invalid trust store name', documentOf(statement({ trustStores: ['ca:#@$@$'] })), 'uses an unsupported trust store name "#@$@$" in trust store value "ca:#@$@$". Named store name needs to follow [a-zA-Z0-9_.-]+ format'],
  // ⚠ notation-go's pattern admits `..`, which would name x509/<type>/.. ; Sigil refuses it.
  ['a dot-dot trust store name', documentOf(statement({ trustStores: ['ca:..'] })), 'uses an unsupported trust store name ".." in trust store value "ca:.."'],
  ['a trust store name with a colon', documentOf(statement({ trustStores: ['ca:a:b'] })), 'uses an unsupported trust store name "a:b"'],
  [
    'two statements with one name',
    documentOf(statement(), statement({ registryScopes: ['registry.acme-rockets.io/software/legacy/metrics'] })),
    'multiple oci trust policy statements use the same name "test-statement-name", statement names must be unique',
  ],
];

describe('decodeTrustPolicyDocument rules', () => {
  it('accepts the notation-go dummy document', () => {
    const doc = decode(documentOf(statement()));
    assert.equal(doc.trustPolicies[0]?.trustStores.length, 2);
  });

  for (const [what, json, fragment] of RULES) {
    it(`rejects ${what}`, () => assertPolicyError(() => decode(json), 'TRUST_POLICY_INVALID', fragment, 'policy.json: '));
  }

  it('checks statements in order: a core rule of an earlier statement beats a duplicate name later', () => {
    assertPolicyError(() => decode(documentOf(statement({ trustStores: ['x'] }), statement())), 'TRUST_POLICY_INVALID', 'malformed trust store value "x"');
  });

  it('checks registry scopes only after every statement core passed', () => {
    assertPolicyError(() => decode(documentOf(statement({ registryScopes: [] }), statement({ name: 'b', trustStores: ['x'] }))), 'TRUST_POLICY_INVALID', 'malformed trust store value "x"');
  });

  it('accepts identities with prefixes other than x509.subject, unvalidated (plugin identities)', () => {
    const doc = decode(documentOf(statement({ trustedIdentities: ['arn:aws:signer:us-west-2:1234:/signing-profiles/p', 'unknown:my-trusted-identity'] })));
    assert.deepEqual(doc.trustPolicies[0]?.trustedIdentities, [
      { kind: 'other', raw: 'arn:aws:signer:us-west-2:1234:/signing-profiles/p', prefix: 'arn', value: 'aws:signer:us-west-2:1234:/signing-profiles/p' },
      { kind: 'other', raw: 'unknown:my-trusted-identity', prefix: 'unknown', value: 'my-trusted-identity' },
    ]);
  });

  it('accepts optional RDNs and RFC 4514 escapes in x509.subject', () => {
    decode(documentOf(statement({ trustedIdentities: ['x509.subject:C=US,ST=WA,O=MyOrg,CN=x', 'x509.subject:C=US,ST=WA,O=  My.  Org', 'x509.subject:C=US,ST=WA,O=My "special" Org \\, \\; \\\\ others'] })));
  });

  it('ignores unknown fields, as Go encoding/json does', () => {
    const doc = decode({ ...documentOf(statement({ globalPolicy: true, extra: { deep: [1, 2] } })), comment: 'hi' });
    assert.equal(doc.trustPolicies[0]?.name, 'test-statement-name');
  });

  it('matches field names case-insensitively, as Go encoding/json does', () => {
    const doc = decode({ Version: '1.0', TRUSTPOLICIES: [{ ...statement(), signatureVerification: undefined, SignatureVerification: { Level: 'audit' } }] });
    assert.equal(doc.trustPolicies[0]?.level, LEVELS.audit);
  });

  it('reads only the first JSON value, as json.Decoder does', () => {
    const doc = decode(`${JSON.stringify(documentOf(statement()))} trailing {garbage`);
    assert.equal(doc.trustPolicies.length, 1);
  });

  it('treats an empty override as none', () => {
    const s = decode(documentOf(statement({ signatureVerification: { level: 'skip', override: {} }, trustStores: [], trustedIdentities: [] }))).trustPolicies[0];
    assert.equal(s?.level, LEVELS.skip);
    assert.equal(s?.signatureVerification.override, undefined);
  });

  const malformed: [string, string][] = [
    ['empty input', ''],
    ['a syntax error', '{"version": "1.0",'],
    ['an array document', '[]'],
    ['a string document', '"1.0"'],
    ['a numeric version', '{"version": 1}'],
    ['a statement list that is an object', '{"version": "1.0", "trustPolicies": {}}'],
    ['a string statement', '{"version": "1.0", "trustPolicies": ["x"]}'],
    ['a numeric name', `{"version": "1.0", "trustPolicies": [${JSON.stringify(statement({ name: 7 }))}]}`],
    ['registry scopes as a string', `{"version": "1.0", "trustPolicies": [${JSON.stringify(statement({ registryScopes: '*' }))}]}`],
    ['a numeric override action', `{"version": "1.0", "trustPolicies": [${JSON.stringify(statement({ signatureVerification: { level: 'strict', override: { expiry: 1 } } }))}]}`],
    ['an override list', `{"version": "1.0", "trustPolicies": [${JSON.stringify(statement({ signatureVerification: { level: 'strict', override: ['expiry'] } }))}]}`],
    ['a byte order mark', '\uFEFF{"version": "1.0"}'],
  ];
  for (const [what, text] of malformed) {
    it(`calls ${what} malformed`, () => assertPolicyError(() => decode(text), 'TRUST_POLICY_INVALID', `policy.json: malformed trust policy. To create a trust policy, see: ${TRUST_POLICY_LINK}`));
  }

  it('refuses a byte order mark given as bytes, too', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify(documentOf(statement())))]);
    assertPolicyError(() => decodeTrustPolicyDocument(bytes, 'b.json'), 'TRUST_POLICY_INVALID', 'malformed trust policy');
  });

  it('reads a null document as an empty one', () => {
    assertPolicyError(() => decode('null'), 'TRUST_POLICY_INVALID', 'has empty version');
  });

  it('only ever throws TrustPolicyError on random JSON-ish input', () => {
    const level = fc.constantFrom('strict', 'permissive', 'audit', 'skip', 'custom', '', 'Strict');
    const scalar = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
    const statementArb = fc.record(
      {
        name: fc.oneof(fc.constantFrom('a', 'b', ''), scalar),
        registryScopes: fc.oneof(fc.array(fc.oneof(fc.constantFrom('*', 'a.io/b', 'a.io/b', 'a/b/*', 'A.io/b', 'x'), fc.string())), scalar),
        signatureVerification: fc.oneof(
          fc.record(
            {
              level: fc.oneof(level, scalar),
              override: fc.oneof(fc.dictionary(fc.constantFrom('integrity', 'authenticity', 'expiry', 'revocation', 'authenticTimestamp', 'x'), fc.oneof(fc.constantFrom('enforce', 'log', 'skip'), scalar)), scalar),
              verifyTimestamp: fc.oneof(fc.constantFrom('always', 'afterCertExpiry'), scalar),
            },
            { requiredKeys: [] },
          ),
          scalar,
        ),
        trustStores: fc.oneof(fc.array(fc.oneof(fc.constantFrom('ca:a', 'tsa:b', 'signingAuthority:c', 'ca:', 'x:y', '*'), fc.string())), scalar),
        trustedIdentities: fc.oneof(
          fc.array(fc.oneof(fc.constantFrom('*', 'x509.subject: C=US, ST=WA, O=acme', 'x509.subject: C=US, ST=WA, O=acme, CN=x', 'x509.subject:,,,', 'x509.subject:C=US+ST=WA,O=x', 'arn:x'), fc.string().map((s) => `x509.subject:${s}`), fc.string())),
          scalar,
        ),
      },
      { requiredKeys: [] },
    );
    const documentArb = fc.record({ version: fc.oneof(fc.constant('1.0'), scalar), trustPolicies: fc.oneof(fc.array(fc.oneof(statementArb, scalar), { maxLength: 3 }), scalar) }, { requiredKeys: [] });
    const text = fc.oneof(
      documentArb.map((d) => JSON.stringify(d)),
      documentArb.chain((d) => fc.nat(JSON.stringify(d).length).map((n) => JSON.stringify(d).slice(0, n))),
      fc.json(),
      fc.string(),
    );
    fc.assert(
      fc.property(text, (input) => {
        try {
          decodeTrustPolicyDocument(input, 'fuzz.json');
        } catch (error) {
          assert.ok(error instanceof TrustPolicyError, `threw ${String(error)} for ${input}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('registry scope grammar', () => {
  // notation-go TestValidRegistryScopes / TestInvalidRegistryScopes.
  for (const scope of ['example.com/rep', 'example.com:8080/rep/rep2', 'example.com/rep/subrep/subsub', '10.10.10.10:8080/rep/rep2', 'domain/rep', 'domain:1234/rep', 'local/my-oci_layout.v2', 'a-b--c.io/x__y/z---w']) {
    it(`accepts ${scope}`, () => {
      assert.deepEqual(decode(documentOf(statement({ registryScopes: [scope] }))).trustPolicies[0]?.registryScopes, [scope]);
    });
  }
  for (const scope of ['', '1:1', 'a,b', 'abcd', '1111', '1,2', 'example.com/rep:tag', 'example.com/rep/subrep/sub:latest', 'example.com', 'rep/rep2:latest', 'repository', '10.10.10.10', '10.10.10.10:8080/rep/rep2:latest', 'Example.com/Rep', 'example.com/rep/', '-a.io/b', 'a.io/b___c', 'a.io/.b', 'https://a.io/b']) {
    it(`rejects ${JSON.stringify(scope)}`, () => assertPolicyError(() => decode(documentOf(statement({ registryScopes: [scope] }))), 'TRUST_POLICY_INVALID', `oci trust policy statement "test-statement-name": registry scope ${JSON.stringify(scope)} is not valid, make sure it is a fully qualified repository without the scheme, protocol or tag`));
  }
  for (const scope of ['example.com/*', '*/', 'example*/', 'ex*test', '**']) {
    it(`rejects the wildcard scope ${scope}`, () => assertPolicyError(() => decode(documentOf(statement({ registryScopes: [scope] }))), 'TRUST_POLICY_INVALID', `registry scope ${JSON.stringify(scope)} with wild card(s) is not valid`));
  }

  it('answers in linear time on inputs that make backtracking regexes explode', () => {
    const start = performance.now();
    for (const scope of [`a.io/${'a'.repeat(5000)}!`, `a.io/${'a-'.repeat(5000)}!`, `${'a-'.repeat(5000)}!/x`, `${'a'.repeat(5000)}-/x`]) {
      assertPolicyError(() => decode(documentOf(statement({ registryScopes: [scope] }))), 'TRUST_POLICY_INVALID', 'is not valid');
    }
    assert.ok(performance.now() - start < 1000);
  });
});

describe('findApplicableTrustPolicy', () => {
  const doc = decode(
    documentOf(
      statement({ name: 'exact', registryScopes: ['registry.acme-rockets.io/software/net-monitor', 'localhost:5000/test-repo'] }),
      statement({ name: 'global', registryScopes: ['*'], signatureVerification: { level: 'audit' } }),
      statement({ name: 'library', registryScopes: ['docker.io/library/alpine'], signatureVerification: { level: 'skip' }, trustStores: [], trustedIdentities: [] }),
    ),
  );
  const onlyExact = decode(documentOf(statement({ name: 'only' })));
  const digest = 'sha256:' + 'a'.repeat(64);

  const table: [string, TrustPolicyDocument, string, string | undefined][] = [
    ['an exact scope', doc, `registry.acme-rockets.io/software/net-monitor@${digest}`, 'exact'],
    ['the second scope of a statement', doc, `localhost:5000/test-repo@${digest}`, 'exact'],
    ['the wildcard for any other repository', doc, `registry.acme-rockets.io/software/other@${digest}`, 'global'],
    ['the wildcard for a parent repository (no prefix matching)', doc, `registry.acme-rockets.io/software@${digest}`, 'global'],
    ['the wildcard for a sub-repository (no prefix matching)', doc, `registry.acme-rockets.io/software/net-monitor/sub@${digest}`, 'global'],
    ['an exact docker.io scope', doc, `docker.io/library/alpine@${digest}`, 'library'],
    ['the wildcard for an unnormalised scope (scopes are compared as written)', doc, `index.docker.io/library/alpine@${digest}`, 'global'],
    ['the text before the last @ as the scope', doc, `localhost:5000/test-repo@sha256:x@${digest}`, undefined],
    ['nothing when only another repository is listed', onlyExact, `registry.acme-rockets.io/software/other@${digest}`, undefined],
  ];
  for (const [what, document, reference, expected] of table) {
    it(`picks ${what}`, () => {
      if (expected === undefined) {
        assertPolicyError(() => findApplicableTrustPolicy(document, reference), 'NO_APPLICABLE_TRUST_POLICY');
      } else {
        assert.equal(findApplicableTrustPolicy(document, reference).name, expected);
      }
    });
  }

  it('says notation’s words when none applies', () => {
    const reference = `non.existing.scope/repo@${digest}`;
    assertPolicyError(
      () => findApplicableTrustPolicy(onlyExact, reference),
      'NO_APPLICABLE_TRUST_POLICY',
      `artifact "${reference}" has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. To create a trust policy, see: https://notaryproject.dev/docs/quickstart/#create-a-trust-policy`,
    );
  });

  it('wants a digest reference', () => {
    assertPolicyError(() => findApplicableTrustPolicy(doc, 'localhost:5000/test-repo:v1'), 'NO_APPLICABLE_TRUST_POLICY', 'artifact URI "localhost:5000/test-repo:v1" could not be parsed');
  });

  it('refuses a reference whose repository is not a valid scope', () => {
    assertPolicyError(() => findApplicableTrustPolicy(doc, `Localhost:5000/Test@${digest}`), 'NO_APPLICABLE_TRUST_POLICY', 'registry scope "Localhost:5000/Test" is not valid');
    assertPolicyError(() => findApplicableTrustPolicy(doc, `*@${digest}`), 'NO_APPLICABLE_TRUST_POLICY', 'registry scope "*" is not valid');
  });

  it('finds the same statement in invalid_registry_scope_trustpolicy.json as notation: none for another repository', () => {
    const path = join(POLICIES, 'invalid_registry_scope_trustpolicy.json');
    const e2e = decodeTrustPolicyDocument(readFileSync(path), path);
    assertPolicyError(() => findApplicableTrustPolicy(e2e, `localhost:5000/e2e@${digest}`), 'NO_APPLICABLE_TRUST_POLICY', 'has no applicable oci trust policy statement');
    assert.equal(findApplicableTrustPolicy(e2e, `localhost:5000/invalid-test-repo@${digest}`).name, 'e2e');
  });
});

describe('encodeTrustPolicyDocument', () => {
  it('writes indented JSON in the spec’s field order, omitting defaults', () => {
    const doc = decode(documentOf(statement({ signatureVerification: { level: 'strict', override: { revocation: 'skip' }, verifyTimestamp: 'always' } })));
    const text = encodeTrustPolicyDocument(doc);
    assert.ok(text.endsWith('}\n'));
    assert.deepEqual(JSON.parse(text), {
      version: '1.0',
      trustPolicies: [
        {
          name: 'test-statement-name',
          registryScopes: ['registry.acme-rockets.io/software/net-monitor'],
          signatureVerification: { level: 'strict', override: { revocation: 'skip' } },
          trustStores: ['ca:valid-trust-store', 'signingAuthority:valid-trust-store'],
          trustedIdentities: ['x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US'],
        },
      ],
    });
    assert.deepEqual(Object.keys((JSON.parse(text) as { trustPolicies: object[] }).trustPolicies[0] ?? {}), ['name', 'registryScopes', 'signatureVerification', 'trustStores', 'trustedIdentities']);
    assert.ok(text.includes('\n  "trustPolicies": [\n    {\n      "name"'));
  });

  it('leaves trust stores and identities out of a skip statement', () => {
    const text = encodeTrustPolicyDocument(decodeTrustPolicyDocument(readFileSync(join(POLICIES, 'skip_trustpolicy.json')), 's'));
    assert.deepEqual(JSON.parse(text).trustPolicies[0], { name: 'e2e', registryScopes: ['*'], signatureVerification: { level: 'skip' } });
  });

  it('round-trips documents fast-check builds from valid parts', () => {
    const statementArb = fc.record({
      level: fc.constantFrom('strict', 'permissive', 'audit'),
      override: fc.option(fc.dictionary(fc.constantFrom('authenticity', 'expiry', 'authenticTimestamp'), fc.constantFrom('enforce', 'log')), { nil: undefined }),
      verifyTimestamp: fc.option(fc.constantFrom('always', 'afterCertExpiry'), { nil: undefined }),
      stores: fc.uniqueArray(fc.tuple(fc.constantFrom('ca', 'signingAuthority', 'tsa'), fc.stringMatching(/^[a-zA-Z0-9_.-]{1,8}$/).filter((n) => n !== '.' && n !== '..')).map(([t, n]) => `${t}:${n}`), { minLength: 1, maxLength: 3 }),
      identity: fc.constantFrom('*', 'x509.subject: C=US, ST=WA, O=acme', 'arn:aws:signer:x'),
    });
    fc.assert(
      fc.property(fc.array(statementArb, { minLength: 1, maxLength: 4 }), (parts) => {
        const json = documentOf(
          ...parts.map((p, i) =>
            statement({ name: `s${i}`, registryScopes: [`r.io/repo${i}`], signatureVerification: { level: p.level, override: p.override, verifyTimestamp: p.verifyTimestamp }, trustStores: p.stores, trustedIdentities: [p.identity] }),
          ),
        );
        const doc = decode(json);
        assert.deepEqual(decodeTrustPolicyDocument(encodeTrustPolicyDocument(doc), 'again'), doc);
      }),
      { numRuns: 200 },
    );
  });
});

describe('createTrustPolicyDocument', () => {
  it('builds a strict one-statement document by default', () => {
    const doc = createTrustPolicyDocument({ name: 'init', registryScopes: ['*'], trustStores: ['ca:acme'], trustedIdentities: ['x509.subject: C=US, ST=WA, O=acme'] });
    assert.equal(doc.trustPolicies.length, 1);
    assert.equal(doc.trustPolicies[0]?.level, LEVELS.strict);
    assert.deepEqual(decodeTrustPolicyDocument(encodeTrustPolicyDocument(doc), 'x'), doc);
  });

  it('takes a level, overrides and verifyTimestamp', () => {
    const doc = createTrustPolicyDocument({
      name: 'init',
      registryScopes: ['ghcr.io/acme/app'],
      level: 'permissive',
      override: { revocation: 'skip' },
      verifyTimestamp: 'afterCertExpiry',
      trustStores: ['ca:acme', 'tsa:tsa'],
      trustedIdentities: ['*'],
    });
    assert.equal(doc.trustPolicies[0]?.level.actions.revocation, 'skip');
    assert.equal(doc.trustPolicies[0]?.signatureVerification.verifyTimestamp, 'afterCertExpiry');
  });

  it('validates as the decoder does, without a file name in the message', () => {
    assertPolicyError(() => createTrustPolicyDocument({ name: 'init', registryScopes: ['*'], trustStores: [], trustedIdentities: ['*'] }), 'TRUST_POLICY_INVALID', 'oci trust policy: trust policy statement "init" is either missing trust stores or trusted identities');
    assertPolicyError(() => createTrustPolicyDocument({ name: '', registryScopes: ['*'], trustStores: ['ca:a'], trustedIdentities: ['*'] }), 'TRUST_POLICY_INVALID', 'missing a name');
    assertPolicyError(() => createTrustPolicyDocument({ name: 'x', registryScopes: ['ghcr.io/acme/*'], trustStores: ['ca:a'], trustedIdentities: ['*'] }), 'TRUST_POLICY_INVALID', 'with wild card(s) is not valid');
    assertPolicyError(() => createTrustPolicyDocument({ name: 'x', registryScopes: ['*'], level: 'skip', trustStores: ['ca:a'], trustedIdentities: ['*'] }), 'TRUST_POLICY_INVALID', 'is set to skip signature verification');
    assert.throws(
      () => createTrustPolicyDocument({ name: 'x', registryScopes: ['*'], level: 'bogus', trustStores: ['ca:a'], trustedIdentities: ['*'] }),
      (error: unknown) => error instanceof TrustPolicyError && error.message.startsWith('oci trust policy: ') && error.message.includes('invalid signature verification level "bogus"'),
    );
  });
});
