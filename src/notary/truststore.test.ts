import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NOTATION_E2E } from '../../test/support/shared.js';
import { TrustStoreError } from './errors.js';
import {
  FileTrustStore,
  TRUST_STORE_TYPES,
  addTrustStoreCertificates,
  deleteTrustStoreCertificates,
  isTrustStoreName,
  isTrustStoreType,
  listTrustStoreCertificates,
  type TrustStoreType,
} from './truststore.js';

const LOCALKEYS = join(NOTATION_E2E, 'config/localkeys');
const CRL = join(NOTATION_E2E, 'config/crl');
const TIMESTAMP = join(NOTATION_E2E, 'config/timestamp');

const E2E_CRT = join(LOCALKEYS, 'e2e.crt'); // self-signed leaf, no basic constraints
const NEW_E2E_CRT = join(LOCALKEYS, 'new_e2e.crt'); // self-signed leaf, CA:FALSE
const ROOT_CRT = join(CRL, 'root.crt'); // self-signed CA
const CHAIN_PEM = join(CRL, 'certchain_with_crl.pem'); // leaf (issued by intermediate), intermediate, root
const DIGICERT_DER = join(TIMESTAMP, 'DigiCertTSARootSHA384.cer'); // DER TSA root
const INTERMEDIATE_PEM = join(TIMESTAMP, 'intermediate.pem'); // CA, issued by another
const NOT_SELF_ISSUED = join(TIMESTAMP, 'notSelfIssued.crt'); // CA, issuer ≠ subject

const scratch = mkdtempSync(join(tmpdir(), 'sigil-truststore-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;

/** A fresh trust store root with the given stores: type → name → file name → bytes (or a builder). */
function makeRoot(stores: Partial<Record<TrustStoreType, Record<string, Record<string, Uint8Array | string>>>> = {}): string {
  const root = join(scratch, `root${counter++}`);
  for (const [type, named] of Object.entries(stores)) {
    for (const [name, files] of Object.entries(named)) {
      const dir = join(root, 'x509', type, name);
      mkdirSync(dir, { recursive: true });
      for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
    }
  }
  return root;
}

function pemBlocks(path: string): string[] {
  return readFileSync(path, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

function pemToDer(pem: string): Uint8Array {
  return Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64');
}

async function assertStoreError(promise: Promise<unknown>, code: TrustStoreError['code'], ...fragments: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TrustStoreError, `expected TrustStoreError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `${JSON.stringify(error.message)} lacks ${JSON.stringify(fragment)}`);
    return true;
  });
}

describe('trust store names and types', () => {
  it('knows the three spec types, case-sensitively', () => {
    assert.deepEqual(TRUST_STORE_TYPES, ['ca', 'signingAuthority', 'tsa']);
    assert.ok(isTrustStoreType('signingAuthority'));
    assert.ok(!isTrustStoreType('CA') && !isTrustStoreType('x509'));
  });

  it('accepts only [a-zA-Z0-9_.-]+ store names', () => {
    for (const name of ['e2e', 'wabbit-networks.io', 'a_b', '...', '.x', 'A1']) assert.ok(isTrustStoreName(name), name);
    for (const name of ['', 'a/b', 'a b', '#@$', 'ü', 'a\nb', '.', '..']) assert.ok(!isTrustStoreName(name), name);
  });
});

describe('FileTrustStore.getCertificates', () => {
  it('reads a self-signed leaf from a ca store (the generate-test flow)', async () => {
    const root = makeRoot({ ca: { e2e: { 'e2e.crt': readFileSync(E2E_CRT) } } });
    const certs = await new FileTrustStore({ root }).getCertificates('ca', 'e2e');
    assert.equal(certs.length, 1);
    assert.equal(certs[0]?.subject, 'CN=e2e,O=Notary,L=Seattle,ST=WA,C=US');
    assert.ok(Object.isFrozen(certs));
  });

  it('reads every certificate of a multi-certificate PEM file, and files of any extension, in name order', async () => {
    const [, intermediate, rootPem] = pemBlocks(CHAIN_PEM);
    assert.ok(intermediate !== undefined && rootPem !== undefined);
    const root = makeRoot({ ca: { chain: { 'b-chain.pem': intermediate + rootPem, 'a.anything': readFileSync(NEW_E2E_CRT) } } });
    const certs = await new FileTrustStore({ root }).getCertificates('ca', 'chain');
    assert.deepEqual(
      certs.map((c) => c.subject),
      ['O=Internet Widgits Pty Ltd,ST=Some-State,C=AU', 'CN=IntermediateCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US', 'CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US'],
    );
  });

  it('reads DER files, single and concatenated', async () => {
    const [, intermediate, rootPem] = pemBlocks(CHAIN_PEM);
    const concatenated = Buffer.concat([pemToDer(intermediate ?? ''), pemToDer(rootPem ?? '')]);
    const root = makeRoot({ signingAuthority: { der: { 'digicert.cer': readFileSync(DIGICERT_DER), 'chain.der': concatenated } } });
    const certs = await new FileTrustStore({ root }).getCertificates('signingAuthority', 'der');
    assert.equal(certs.length, 3);
    assert.equal(certs[2]?.subject, 'CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US');
  });

  it('accepts an intermediate CA in a ca store (pinning)', async () => {
    const root = makeRoot({ ca: { mid: { 'intermediate.pem': readFileSync(INTERMEDIATE_PEM), 'not-self-issued.crt': readFileSync(NOT_SELF_ISSUED) } } });
    assert.equal((await new FileTrustStore({ root }).getCertificates('ca', 'mid')).length, 2);
  });

  it('refuses a leaf that is neither a CA nor self-signed', async () => {
    const root = makeRoot({ ca: { leaf: { 'certchain_with_crl.pem': readFileSync(CHAIN_PEM) } } });
    await assertStoreError(
      new FileTrustStore({ root }).getCertificates('ca', 'leaf'),
      'TRUST_STORE_INVALID',
      'failed to validate the trusted certificate certchain_with_crl.pem in trust store leaf of type ca',
      'certificate with subject "CN=LeafCert,OU=OrgUnit,O=Organization,L=City,ST=State,C=US" is not a CA certificate or self-signed signing certificate',
    );
  });

  it('accepts root CAs in a tsa store, PEM or DER', async () => {
    const root = makeRoot({ tsa: { roots: { 'root.crt': readFileSync(ROOT_CRT), 'digicert.cer': readFileSync(DIGICERT_DER) } } });
    assert.equal((await new FileTrustStore({ root }).getCertificates('tsa', 'roots')).length, 2);
  });

  const tsaRefusals: [string, string, string][] = [
    ['a self-signed leaf', E2E_CRT, 'is not a root CA certificate'],
    ['a self-signed CA:FALSE leaf', NEW_E2E_CRT, 'is not a root CA certificate'],
    ['an intermediate CA', INTERMEDIATE_PEM, 'is not a root CA certificate'],
    ['a CA whose issuer differs from its subject', NOT_SELF_ISSUED, 'are not the same'],
  ];
  for (const [what, file, fragment] of tsaRefusals) {
    it(`refuses ${what} in a tsa store`, async () => {
      const root = makeRoot({ tsa: { t: { 'cert.pem': readFileSync(file) } } });
      await assertStoreError(new FileTrustStore({ root }).getCertificates('tsa', 't'), 'TRUST_STORE_INVALID', 'in trust store t of type tsa', fragment);
    });
  }

  it('says notation’s words for a missing store', async () => {
    await assertStoreError(new FileTrustStore({ root: makeRoot() }).getCertificates('ca', 'invalid_store'), 'TRUST_STORE_NOT_FOUND', 'the trust store "invalid_store" of type "ca" does not exist');
  });

  it('refuses a store directory that is a symlink, even to a good store', async () => {
    const root = makeRoot({ ca: { real: { 'e2e.crt': readFileSync(E2E_CRT) } } });
    symlinkSync(join(root, 'x509/ca/real'), join(root, 'x509/ca/link'));
    await assertStoreError(new FileTrustStore({ root }).getCertificates('ca', 'link'), 'TRUST_STORE_NOT_FOUND', 'the trust store link of type ca with path', 'is not a regular directory (symlinks are not supported)');
  });

  it('refuses a store that is a file', async () => {
    const root = makeRoot();
    mkdirSync(join(root, 'x509/ca'), { recursive: true });
    writeFileSync(join(root, 'x509/ca/file'), readFileSync(E2E_CRT));
    await assertStoreError(new FileTrustStore({ root }).getCertificates('ca', 'file'), 'TRUST_STORE_NOT_FOUND', 'is not a regular directory');
  });

  it('refuses a symlink inside the store', async () => {
    const root = makeRoot({ ca: { s: { 'e2e.crt': readFileSync(E2E_CRT) } } });
    symlinkSync(E2E_CRT, join(root, 'x509/ca/s/linked.crt'));
    await assertStoreError(
      new FileTrustStore({ root }).getCertificates('ca', 's'),
      'TRUST_STORE_INVALID',
      'trusted certificate linked.crt in trust store s of type ca is not a regular file (directories or symlinks are not supported)',
    );
  });

  it('refuses a sub-directory inside the store (the spec says ignore it; notation-go refuses)', async () => {
    const root = makeRoot({ ca: { s: { 'e2e.crt': readFileSync(E2E_CRT) } } });
    mkdirSync(join(root, 'x509/ca/s/nested'));
    await assertStoreError(new FileTrustStore({ root }).getCertificates('ca', 's'), 'TRUST_STORE_INVALID', 'trusted certificate nested in trust store s of type ca is not a regular file');
  });

  it('says notation’s words for an empty store', async () => {
    const root = makeRoot({ ca: { empty: {} } });
    await assertStoreError(new FileTrustStore({ root }).getCertificates('ca', 'empty'), 'TRUST_STORE_NOT_FOUND', 'no x509 certificates were found in trust store "empty" of type "ca"');
  });

  for (const [what, content] of [
    ['an empty file', ''],
    ['a file that is not a certificate', 'not a certificate\n'],
    ['a corrupt PEM block', readFileSync(join(TIMESTAMP, 'invalid.crt'))],
  ] as const) {
    it(`refuses ${what}, saying why`, async () => {
      const root = makeRoot({ ca: { bad: { 'e2e.crt': readFileSync(E2E_CRT), 'zz.pem': content } } });
      await assertStoreError(new FileTrustStore({ root }).getCertificates('ca', 'bad'), 'TRUST_STORE_INVALID', 'the trusted certificate zz.pem in trust store bad of type ca');
    });
  }

  it('refuses bad store names and types before touching the disk', async () => {
    const store = new FileTrustStore({ root: makeRoot() });
    await assertStoreError(store.getCertificates('ca', '../ca/e2e'), 'TRUST_STORE_INVALID', 'trust store name needs to follow [a-zA-Z0-9_.-]+ format, ../ca/e2e is invalid');
    await assertStoreError(store.getCertificates('x509' as TrustStoreType, 'e2e'), 'TRUST_STORE_INVALID', 'unsupported trust store type: x509');
  });

  it('keeps what it read for the life of the instance, and retries what failed', async () => {
    const root = makeRoot({ ca: { e2e: { 'e2e.crt': readFileSync(E2E_CRT) } } });
    const store = new FileTrustStore({ root });
    const first = await store.getCertificates('ca', 'e2e');
    writeFileSync(join(root, 'x509/ca/e2e/new.crt'), readFileSync(NEW_E2E_CRT));
    assert.equal(await store.getCertificates('ca', 'e2e'), first);
    assert.equal((await new FileTrustStore({ root }).getCertificates('ca', 'e2e')).length, 2);

    await assertStoreError(store.getCertificates('ca', 'later'), 'TRUST_STORE_NOT_FOUND');
    mkdirSync(join(root, 'x509/ca/later'));
    writeFileSync(join(root, 'x509/ca/later/e2e.crt'), readFileSync(E2E_CRT));
    assert.equal((await store.getCertificates('ca', 'later')).length, 1);
  });

  it('keeps types apart: a ca store is not a tsa store of the same name', async () => {
    const root = makeRoot({ ca: { e2e: { 'e2e.crt': readFileSync(E2E_CRT) } } });
    await assertStoreError(new FileTrustStore({ root }).getCertificates('tsa', 'e2e'), 'TRUST_STORE_NOT_FOUND', 'of type "tsa" does not exist');
  });
});

describe('sigil cert helpers', () => {
  it('adds files verbatim, creating the store, and lists them', async () => {
    const root = makeRoot();
    const added = await addTrustStoreCertificates({ root, type: 'ca', name: 'acme', files: [E2E_CRT, ROOT_CRT] });
    assert.deepEqual(
      added.map((e) => [e.type, e.name, e.path]),
      [
        ['ca', 'acme', join(root, 'x509/ca/acme/e2e.crt')],
        ['ca', 'acme', join(root, 'x509/ca/acme/root.crt')],
      ],
    );
    assert.deepEqual(readFileSync(join(root, 'x509/ca/acme/e2e.crt')), readFileSync(E2E_CRT));
    assert.equal((await new FileTrustStore({ root }).getCertificates('ca', 'acme')).length, 2);
  });

  it('refuses a file name already in the store, as notation cert add does', async () => {
    const root = makeRoot();
    await addTrustStoreCertificates({ root, type: 'ca', name: 'acme', files: [E2E_CRT] });
    await assertStoreError(addTrustStoreCertificates({ root, type: 'ca', name: 'acme', files: [E2E_CRT] }), 'TRUST_STORE_INVALID', 'certificate e2e.crt already exists in trust store acme of type ca');
  });

  it('refuses two files with one name in one call, copying nothing', async () => {
    const root = makeRoot();
    const other = join(scratch, `dup${counter++}`);
    mkdirSync(other);
    writeFileSync(join(other, 'e2e.crt'), readFileSync(NEW_E2E_CRT));
    await assertStoreError(addTrustStoreCertificates({ root, type: 'ca', name: 'acme', files: [E2E_CRT, join(other, 'e2e.crt')] }), 'TRUST_STORE_INVALID', 'another file named e2e.crt');
    assert.ok(!existsSync(join(root, 'x509/ca/acme')));
  });

  it('refuses a file the store would refuse, copying nothing', async () => {
    const root = makeRoot();
    await assertStoreError(addTrustStoreCertificates({ root, type: 'tsa', name: 't', files: [ROOT_CRT, E2E_CRT] }), 'TRUST_STORE_INVALID', 'is not a root CA certificate');
    await assertStoreError(addTrustStoreCertificates({ root, type: 'ca', name: 'c', files: [join(TIMESTAMP, 'Empty.txt')] }), 'TRUST_STORE_INVALID', 'Empty.txt');
    await assertStoreError(addTrustStoreCertificates({ root, type: 'ca', name: 'c', files: [join(scratch, 'missing.pem')] }), 'TRUST_STORE_INVALID', 'cannot read the certificate file');
    assert.deepEqual(await listTrustStoreCertificates({ root }), []);
  });

  it('refuses bad store names when adding', async () => {
    await assertStoreError(addTrustStoreCertificates({ root: makeRoot(), type: 'ca', name: 'a/b', files: [E2E_CRT] }), 'TRUST_STORE_INVALID', 'trust store name needs to follow');
  });

  it('lists by type, by store name, or both, sorted, skipping symlinks and nested directories', async () => {
    const root = makeRoot({
      ca: { b: { 'z.crt': readFileSync(E2E_CRT), 'a.crt': readFileSync(ROOT_CRT) }, a: { 'x.crt': readFileSync(E2E_CRT) } },
      tsa: { b: { 'r.crt': readFileSync(ROOT_CRT) } },
    });
    symlinkSync(E2E_CRT, join(root, 'x509/ca/b/link.crt'));
    mkdirSync(join(root, 'x509/ca/b/nested'));
    symlinkSync(join(root, 'x509/ca/a'), join(root, 'x509/ca/linked-store'));
    const paths = async (options: { type?: TrustStoreType; name?: string }): Promise<string[]> =>
      (await listTrustStoreCertificates({ root, ...options })).map((e) => `${e.type}/${e.name}/${e.path.slice(e.path.lastIndexOf('/') + 1)}`);
    assert.deepEqual(await paths({}), ['ca/a/x.crt', 'ca/b/a.crt', 'ca/b/z.crt', 'tsa/b/r.crt']);
    assert.deepEqual(await paths({ type: 'ca' }), ['ca/a/x.crt', 'ca/b/a.crt', 'ca/b/z.crt']);
    assert.deepEqual(await paths({ name: 'b' }), ['ca/b/a.crt', 'ca/b/z.crt', 'tsa/b/r.crt']);
    assert.deepEqual(await paths({ type: 'tsa', name: 'b' }), ['tsa/b/r.crt']);
    assert.deepEqual(await paths({ type: 'signingAuthority' }), []);
    assert.deepEqual(await listTrustStoreCertificates({ root: join(scratch, 'no-such-root') }), []);
  });

  it('deletes one certificate, then the whole store', async () => {
    const root = makeRoot({ ca: { s: { 'a.crt': readFileSync(E2E_CRT), 'b.crt': readFileSync(ROOT_CRT) } } });
    await deleteTrustStoreCertificates({ root, type: 'ca', name: 's', file: 'a.crt' });
    assert.deepEqual((await listTrustStoreCertificates({ root })).map((e) => e.path), [join(root, 'x509/ca/s/b.crt')]);
    await deleteTrustStoreCertificates({ root, type: 'ca', name: 's' });
    assert.ok(!existsSync(join(root, 'x509/ca/s')));
    assert.ok(existsSync(ROOT_CRT) && existsSync(E2E_CRT));
  });

  it('reports what to delete that is not there', async () => {
    const root = makeRoot({ ca: { s: { 'a.crt': readFileSync(E2E_CRT) } } });
    await assertStoreError(deleteTrustStoreCertificates({ root, type: 'ca', name: 's', file: 'nope.crt' }), 'TRUST_STORE_NOT_FOUND', 'certificate "nope.crt" in trust store "s" of type "ca" does not exist');
    await assertStoreError(deleteTrustStoreCertificates({ root, type: 'tsa', name: 's' }), 'TRUST_STORE_NOT_FOUND', 'the trust store "s" of type "tsa" does not exist');
  });

  it('never deletes outside the store', async () => {
    const root = makeRoot({ ca: { s: { 'a.crt': readFileSync(E2E_CRT) }, t: { 'b.crt': readFileSync(E2E_CRT) } } });
    for (const file of ['../t/b.crt', '..', '.', '', 'x/../../t/b.crt']) {
      await assertStoreError(deleteTrustStoreCertificates({ root, type: 'ca', name: 's', file }), 'TRUST_STORE_INVALID', 'not a certificate file name');
    }
    await assertStoreError(deleteTrustStoreCertificates({ root, type: 'ca', name: '..' }), 'TRUST_STORE_INVALID', 'trust store name needs to follow');
    assert.ok(existsSync(join(root, 'x509/ca/t/b.crt')));
  });
});
