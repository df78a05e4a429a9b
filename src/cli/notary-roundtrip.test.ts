// Sign → ls → inspect → verify round trips through the real sigil binary, on three targets:
// Debian's docker-registry (Distribution 2.8, no referrers API: the referrers tag schema is used),
// `sigil registry serve` (the referrers API) and an OCI image layout.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startDockerRegistry, type RunningRegistry } from '../../test/support/docker-registry.js';
import { copyWritable, NOTATION_E2E, NOTATION_LAYOUTS } from '../../test/support/shared.js';
import { buildImageLayout, failsWithOneLine, ok, runSigil, startSigilRegistry, type Result, type SigilRegistry } from '../../test/support/sigil-cli.js';

const exec = promisify(execFile);
const NOTARY_SIGNATURE = 'application/vnd.cncf.notary.signature';
const IDENTITY = 'x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=roundtrip';

let home: string;
let config: string;
let distribution: RunningRegistry | undefined;
let embedded: SigilRegistry | undefined;
let fingerprint: string;

function sigil(args: string[], configDir = config): Promise<Result> {
  return runSigil(args, { env: { SIGIL_CONFIG: configDir, DOCKER_CONFIG: join(home, 'docker') } });
}


async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // an error page that is not JSON: keep the text for the assertion message
  }
  return { status: res.status, body };
}

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-notary-roundtrip-'));
  config = join(home, 'config');
  const [registry, served] = await Promise.all([
    startDockerRegistry(),
    startSigilRegistry(join(home, 'embedded'), ['--log-level', 'error']),
    (async () => {
      ok(await sigil(['cert', 'generate-test', '--default', 'roundtrip']));
      ok(await sigil(['cert', 'generate-test', 'other']));
      // Only ca:roundtrip is trusted: signatures by "other" fail authenticity.
      ok(await sigil(['policy', 'init', '--name', 'roundtrip', '--trust-store', 'ca:roundtrip', '--trusted-identity', IDENTITY]));
    })(),
  ]);
  distribution = registry;
  embedded = served;
  const { stdout } = await exec('openssl', ['x509', '-in', join(config, 'localkeys/roundtrip.crt'), '-noout', '-fingerprint', '-sha256']);
  fingerprint = (stdout.trim().split('=')[1] ?? '').replaceAll(':', '').toLowerCase();
  assert.match(fingerprint, /^[0-9a-f]{64}$/);
});
after(async () => {
  await embedded?.stop();
  await distribution?.stop();
  await rm(home, { recursive: true, force: true });
});

interface Target {
  /** What the round trip runs on. */
  readonly name: string;
  /**
   * Puts a fresh image at `<base>:v1`; `flags` select the target on sign/ls/inspect, `scopeFlags`
   * on verify (a layout is verified under a registry scope).
   */
  prepare(label: string): Promise<{ base: string; digest: string; flags: string[]; scopeFlags: string[] }>;
  /** Checks that the signatures are stored where this target keeps them. */
  checkStorage(base: string, digest: string, signatures: readonly string[]): Promise<void>;
}

async function pushImage(host: string, repository: string, label: string): Promise<{ base: string; digest: string }> {
  const dir = join(home, 'images', label);
  const digest = await buildImageLayout(dir);
  const base = `${host}/${repository}`;
  ok(await sigil(['cp', '--from-oci-layout', `${dir}:v1`, `${base}:v1`]));
  return { base, digest };
}

const targets: Target[] = [
  {
    name: "Debian's docker-registry (referrers tag schema)",
    async prepare(label) {
      return { ...(await pushImage(distribution?.host ?? '', 'roundtrip/app', label)), flags: [], scopeFlags: [] };
    },
    async checkStorage(base, digest, signatures) {
      const host = distribution?.host ?? '';
      // Distribution 2.8 has no referrers API, so the signatures must be in the sha256-<hex> tag's index.
      assert.equal((await getJson(`http://${host}/v2/roundtrip/app/referrers/${digest}`)).status, 404);
      const index = JSON.parse(ok(await sigil(['manifest', 'fetch', `${base}:${digest.replace(':', '-')}`])).stdout) as { mediaType: string; manifests: Array<{ digest: string; artifactType?: string }> };
      assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
      assert.deepEqual(index.manifests.map((m) => m.digest), signatures);
      assert.ok(index.manifests.every((m) => m.artifactType === NOTARY_SIGNATURE));
    },
  },
  {
    name: 'sigil registry serve (referrers API)',
    async prepare(label) {
      return { ...(await pushImage(embedded?.host ?? '', 'roundtrip/app', label)), flags: [], scopeFlags: [] };
    },
    async checkStorage(base, digest, signatures) {
      const host = embedded?.host ?? '';
      const listed = await getJson(`http://${host}/v2/roundtrip/app/referrers/${digest}`);
      assert.equal(listed.status, 200);
      const manifests = (listed.body as { manifests: Array<{ digest: string; artifactType?: string }> }).manifests;
      assert.deepEqual(manifests.map((m) => m.digest).sort(), [...signatures].sort());
      assert.ok(manifests.every((m) => m.artifactType === NOTARY_SIGNATURE));
      // With the API there, no referrers tag is written.
      failsWithOneLine(await sigil(['manifest', 'fetch', `${base}:${digest.replace(':', '-')}`]), /sha256-/);
    },
  },
  {
    name: 'an OCI image layout',
    async prepare(label) {
      const base = join(home, 'layouts', label);
      const digest = await buildImageLayout(base);
      return { base, digest, flags: ['--oci-layout'], scopeFlags: ['--oci-layout', '--scope', 'localhost:5000/roundtrip'] };
    },
    async checkStorage(base, _digest, signatures) {
      const index = JSON.parse(await readFile(join(base, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
      for (const signature of signatures) assert.ok(index.manifests.some((m) => m.digest === signature), `${signature} is reachable from index.json`);
    },
  },
];

/** The digest in `Pushed the signature to NAME@DIGEST`. */
function pushedSignature(result: Result): string {
  const digest = /^Pushed the signature to .*@(sha256:[0-9a-f]{64})$/m.exec(result.stdout)?.[1];
  assert.ok(digest !== undefined, result.stdout);
  return digest;
}

interface InspectedSignature {
  digest: string;
  signatureAlgorithm: string;
  signatureEnvelopeType: string;
  signedAttributes: Record<string, string>;
  userDefinedAttributes: Record<string, string>;
  unsignedAttributes: Record<string, string>;
  certificates: Array<{ SHA256Fingerprint: string; issuedTo: string; issuedBy: string; expiry: string }>;
  signedArtifact: { mediaType: string; digest: string; size: number };
}

interface VerifyJson {
  result: string;
  message?: string;
  trustPolicy: { name: string; level: string };
  signatures: Array<{ digest: string; result: string; message?: string; userMetadata?: Record<string, string>; checks?: Array<{ type: string; result: string }> }>;
}

describe('sign, ls, inspect and verify round trips', { concurrency: true }, () => {
  targets.forEach((target, i) => {
    it(`through ${target.name}`, async () => {
      const { base, digest, flags, scopeFlags } = await target.prepare(`target-${i}`);
      const byDigest = `${base}@${digest}`;

      // A signature the policy does not trust goes first, so verification must get past it.
      const bad = pushedSignature(ok(await sigil(['sign', ...flags, '-k', 'other', byDigest])));
      const signedTag = ok(await sigil(['sign', ...flags, '-e', '24h', '-m', 'k=v', '-m', 'team=sigil', `${base}:v1`]));
      assert.equal(signedTag.stderr, `Warning: Always sign the artifact using digest(@${digest}) rather than a tag(:v1) because tags are mutable and a tag reference can point to a different artifact than the one signed.\n`);
      assert.match(signedTag.stdout, new RegExp(`^Successfully signed ${byDigest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
      const jws = pushedSignature(signedTag);
      const signedDigest = ok(await sigil(['sign', ...flags, '--signature-format', 'cose', byDigest]));
      assert.equal(signedDigest.stderr, '', 'no tag, no warning');
      const cose = pushedSignature(signedDigest);
      const signatures = [bad, jws, cose];
      await target.checkStorage(base, digest, signatures);

      const [tree, listJson, inspectTree, inspectJson] = await Promise.all([
        sigil(['ls', ...flags, byDigest]),
        sigil(['ls', ...flags, '-o', 'json', byDigest]),
        sigil(['inspect', ...flags, byDigest]),
        sigil(['inspect', ...flags, '-o', 'json', byDigest]),
      ]);
      // Listing order is push order here, which is what makes the untrusted signature the first tried.
      assert.equal(ok(tree).stdout, `${byDigest}\n└── ${NOTARY_SIGNATURE}\n    ├── ${bad}\n    ├── ${jws}\n    └── ${cose}\n`);
      const listed = JSON.parse(ok(listJson).stdout) as { reference: string; signatures: Array<{ digest: string; artifactType: string }> };
      assert.equal(listed.reference, byDigest);
      assert.deepEqual(listed.signatures.map((s) => [s.digest, s.artifactType]), signatures.map((s) => [s, NOTARY_SIGNATURE]));

      const inspected = JSON.parse(ok(inspectJson).stdout) as { mediaType: string; signatures: InspectedSignature[] };
      assert.equal(inspected.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.deepEqual(inspected.signatures.map((s) => s.digest), signatures);
      const byKey = new Map(inspected.signatures.map((s) => [s.digest, s]));
      for (const s of inspected.signatures) {
        assert.equal(s.signatureAlgorithm, 'RSASSA-PSS-SHA-256');
        assert.equal(s.signedAttributes.signingScheme, 'notary.x509');
        assert.equal(s.signedAttributes.contentType, 'application/vnd.cncf.notary.payload.v1+json');
        assert.equal(s.signedArtifact.digest, digest);
        assert.equal(s.signedArtifact.mediaType, 'application/vnd.oci.image.manifest.v1+json');
        assert.equal(s.unsignedAttributes.signingAgent, 'sigil/0.1.0');
        assert.equal(s.certificates.length, 1);
      }
      const jwsInspected = byKey.get(jws);
      const coseInspected = byKey.get(cose);
      assert.equal(jwsInspected?.signatureEnvelopeType, 'application/jose+json');
      assert.equal(coseInspected?.signatureEnvelopeType, 'application/cose');
      assert.equal(jwsInspected?.certificates[0]?.SHA256Fingerprint, fingerprint, 'matches openssl x509 -fingerprint -sha256');
      assert.equal(coseInspected?.certificates[0]?.SHA256Fingerprint, fingerprint);
      assert.equal(jwsInspected?.certificates[0]?.issuedTo, 'CN=roundtrip,O=Notary,L=Seattle,ST=WA,C=US');
      assert.notEqual(byKey.get(bad)?.certificates[0]?.SHA256Fingerprint, fingerprint);
      assert.deepEqual(jwsInspected?.userDefinedAttributes, { k: 'v', team: 'sigil' });
      assert.deepEqual(coseInspected?.userDefinedAttributes, {});
      const signingTime = Date.parse(jwsInspected?.signedAttributes.signingTime ?? '');
      assert.equal(Date.parse(jwsInspected?.signedAttributes.expiry ?? '') - signingTime, 24 * 3600 * 1000, '-e 24h');
      assert.equal(coseInspected?.signedAttributes.expiry, undefined);
      const treeText = ok(inspectTree).stdout;
      for (const line of [`├── ${jws}`, 'signature algorithm: RSASSA-PSS-SHA-256', 'signature envelope type: application/cose', 'signingScheme: notary.x509', `SHA256 fingerprint: ${fingerprint}`, `digest: ${digest}`, 'k: v']) {
        assert.ok(treeText.includes(line), `inspect tree lacks ${JSON.stringify(line)}:\n${treeText}`);
      }

      const [text, json, withMetadata, wrongMetadata, absentMetadata, limited, byTag] = await Promise.all([
        sigil(['verify', ...scopeFlags, byDigest]),
        sigil(['verify', ...scopeFlags, '-o', 'json', byDigest]),
        sigil(['verify', ...scopeFlags, '-m', 'k=v', '-m', 'team=sigil', byDigest]),
        sigil(['verify', ...scopeFlags, '-m', 'k=other', byDigest]),
        sigil(['verify', ...scopeFlags, '-o', 'json', '-m', 'absent=x', byDigest]),
        sigil(['verify', ...scopeFlags, '--max-signatures', '1', byDigest]),
        sigil(['verify', ...scopeFlags, `${base}:v1`]),
      ]);
      // Two good signatures and one bad, the bad first: verification passes with the JWS one.
      assert.equal(ok(text).stdout, `Successfully verified signature for ${byDigest}\n\nThe artifact was signed with the following user metadata.\n\nKEY    VALUE\nk      v\nteam   sigil\n`);
      assert.equal(text.stderr, '');
      const report = JSON.parse(ok(json).stdout) as VerifyJson;
      assert.equal(report.result, 'verified');
      assert.deepEqual(report.trustPolicy, { name: 'roundtrip', level: 'strict' });
      assert.deepEqual(report.signatures.map((s) => [s.digest, s.result]), [
        [bad, 'failed'],
        [jws, 'passed'],
      ]);
      assert.match(report.signatures[0]?.message ?? '', /^authenticity validation failed: the signature's certificate chain does not contain any trusted certificate/);
      assert.deepEqual(report.signatures[1]?.userMetadata, { k: 'v', team: 'sigil' });
      assert.deepEqual(report.signatures[1]?.checks?.map((c) => [c.type, c.result]), [
        ['integrity', 'passed'],
        ['authenticity', 'passed'],
        ['expiry', 'passed'],
        ['authenticTimestamp', 'passed'],
        ['revocation', 'skipped'],
      ]);

      assert.match(ok(withMetadata).stdout, /^Successfully verified signature for /);
      failsWithOneLine(wrongMetadata, /signature verification failed for all the signatures associated with .*unable to find specified metadata in the signature: k=other/);
      assert.equal(absentMetadata.code, 1);
      const absent = JSON.parse(absentMetadata.stdout) as VerifyJson;
      assert.equal(absent.result, 'failed');
      assert.deepEqual(absent.signatures.map((s) => s.result), ['failed', 'failed', 'failed']);
      assert.equal(absent.signatures[2]?.message, 'unable to find specified metadata in the signature: absent=x');
      failsWithOneLine(limited, /signature evaluation stopped\. The configured limit of 1 signatures to verify per artifact exceeded/);
      assert.match(ok(byTag).stdout, /^Successfully verified signature for /);
      assert.match(byTag.stderr, new RegExp(`^Warning: Always verify the artifact using digest\\(@${digest}\\) rather than a tag\\(:v1\\)`));
    });
  });
});

describe('Notation signatures pushed to registries', { concurrency: true }, () => {
  const artifact = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
  let notation: string;
  let layout: string;
  before(async () => {
    // A config trusting Notation's e2e certificate, and a writable copy of its signed layout.
    notation = join(home, 'notation-config');
    ok(await sigil(['policy', 'import', join(NOTATION_E2E, 'config/trustpolicies/trustpolicy.json')], notation));
    ok(await sigil(['cert', 'add', '-t', 'ca', '-s', 'e2e', join(NOTATION_E2E, 'config/localkeys/e2e.crt')], notation));
    layout = join(home, 'notation-layout');
    await copyWritable(join(NOTATION_LAYOUTS, 'e2e-valid-signature'), layout);
  });

  for (const [name, host] of [
    ["docker-registry's referrers tag schema", () => distribution?.host ?? ''],
    ["sigil registry serve's referrers API", () => embedded?.host ?? ''],
  ] as const) {
    it(`verifies Notation's signature found through ${name}`, async () => {
      const repo = `${host()}/notation/e2e`;
      ok(await sigil(['cp', '-r', '--from-oci-layout', `${layout}:v1`, `${repo}:v1`], notation));
      const result = ok(await sigil(['verify', `${repo}@${artifact}`], notation));
      assert.equal(result.stdout, `Successfully verified signature for ${repo}@${artifact}\n`);
      assert.equal(result.stderr, '');
    });
  }
});

describe('sign --force-referrers-tag', () => {
  it('writes the sha256-<hex> tag index even where the registry has the referrers API, and verify still finds it', async () => {
    const { base, digest } = await pushImage(embedded?.host ?? '', 'roundtrip/forced', 'forced');
    const signature = pushedSignature(ok(await sigil(['sign', '--force-referrers-tag', `${base}@${digest}`])));
    const index = JSON.parse(ok(await sigil(['manifest', 'fetch', `${base}:${digest.replace(':', '-')}`])).stdout) as { manifests: Array<{ digest: string; artifactType?: string }> };
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.artifactType]), [[signature, NOTARY_SIGNATURE]]);
    assert.match(ok(await sigil(['verify', `${base}@${digest}`])).stdout, /^Successfully verified signature for /);
  });
});
