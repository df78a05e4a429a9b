// End-to-end tests of the sigil binary: real processes against Debian's docker-registry (no
// referrers API, so the tag schema is exercised) and skopeo as a second real client.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startDockerRegistry, type RunningRegistry } from '../../test/support/docker-registry.js';
import { buildImageLayout, failsWithOneLine, ok, runSigil, type Result } from '../../test/support/sigil-cli.js';
import { NOTATION_LAYOUTS } from '../../test/support/shared.js';

const exec = promisify(execFile);
const NOTARY_SIGNATURE = 'application/vnd.cncf.notary.signature';

/** Runs the real binary with an isolated config and Docker config directory. */
function sigil(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return runSigil(args, { env: { SIGIL_CONFIG: join(home, 'sigil'), DOCKER_CONFIG: join(home, 'docker'), ...options.env }, ...(options.stdin === undefined ? {} : { stdin: options.stdin }) });
}

let home: string;
let registry: RunningRegistry;
let layouts: string;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-cli-'));
  registry = await startDockerRegistry();
  layouts = NOTATION_LAYOUTS;
});
after(async () => {
  await registry?.stop();
  await rm(home, { recursive: true, force: true });
});


describe('sigil demo', () => {
  it('stores a Notation-signed sample, signs its own image, verifies both and denies the unsigned and the untrusted', async () => {
    const result = ok(await sigil(['demo', '--work-dir', join(home, 'demo')]));
    assert.match(result.stdout, /Copied \[oci-layout\] .* => \[registry\] 127\.0\.0\.1:\d+\/demo\/net-monitor:v1/);
    assert.match(result.stdout, new RegExp(`└── ${NOTARY_SIGNATURE}\\n\\s+└── sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f`));
    assert.match(result.stdout, /Successfully verified signature for 127\.0\.0\.1:\d+\/demo\/net-monitor@sha256:b8479de3/);
    assert.match(result.stdout, /Successfully verified signature for 127\.0\.0\.1:\d+\/demo\/app@sha256:/);
    assert.match(result.stdout, /no signature is associated with "127\.0\.0\.1:\d+\/demo\/unsigned@sha256:/);
    assert.match(result.stdout, /authenticity validation failed: the signature's certificate chain does not contain any trusted certificate/);
    // The admission engine, under a Kyverno ClusterPolicy, reaches the same decisions for the same images in Pods.
    const pods = [...result.stdout.matchAll(/^Pod default\/app-\d \(.*\): (ADMIT|DENY) — (.*)$/gm)].map((m) => m[1]);
    assert.deepEqual(pods, ['ADMIT', 'ADMIT', 'DENY', 'DENY']);
    assert.match(result.stdout, /DENY — check-image-notary\/verify-signature-notary: failed to verify image .*no signature is associated/);
    const verdicts = result.stdout.split('== verdicts')[1]?.trim().split('\n').slice(1).map((l) => l.split(' ')[0]);
    assert.deepEqual(verdicts, ['ADMIT', 'ADMIT', 'DENY', 'DENY']);
    // The demo keeps to its work dir: the user's config directory is untouched.
    assert.equal(existsSync(join(home, 'sigil')), false);
    assert.equal(result.stderr, '');
  });
});

describe('sigil cp -r with Notation-signed layouts', () => {
  for (const name of ['e2e-valid-signature', 'e2e-invalid-signature', 'e2e-expired-signature']) {
    it(`copies ${name} into docker-registry and back with its signatures`, async () => {
      const src = join(layouts, name);
      const repo = `${registry.host}/notation/${name}`;
      ok(await sigil(['cp', '-r', '--from-oci-layout', `${src}:v1`, `${repo}:v1`]));
      // docker-registry has no referrers API: the signature must be listed through the tag schema.
      const remote = JSON.parse(ok(await sigil(['discover', '-o', 'json', `${repo}:v1`])).stdout) as { digest: string; referrers: Array<{ artifactType?: string; digest: string }> };
      assert.equal(remote.referrers.length >= 1, true);
      assert.ok(remote.referrers.every((r) => r.artifactType === NOTARY_SIGNATURE));
      const back = join(home, 'back', name);
      ok(await sigil(['cp', '-r', '--to-oci-layout', `${repo}:v1`, `${back}:v1`]));
      const local = JSON.parse(ok(await sigil(['discover', '--oci-layout', '-o', 'json', `${back}:v1`])).stdout) as typeof remote;
      const source = JSON.parse(ok(await sigil(['discover', '--oci-layout', '-o', 'json', `${src}:v1`])).stdout) as typeof remote;
      assert.equal(local.digest, source.digest);
      assert.deepEqual(local.referrers.map((r) => r.digest).sort(), source.referrers.map((r) => r.digest).sort());
      assert.deepEqual(remote.referrers.map((r) => r.digest).sort(), source.referrers.map((r) => r.digest).sort());
      const tree = ok(await sigil(['discover', '--oci-layout', `${back}:v1`])).stdout;
      assert.match(tree, new RegExp(`└── ${NOTARY_SIGNATURE}`));
    });
  }

  it('keeps the referrers tag schema index in docker-registry', async () => {
    const repo = `${registry.host}/notation/e2e-valid-signature`;
    const digest = ok(await sigil(['resolve', `${repo}:v1`])).stdout.trim();
    const index = JSON.parse(ok(await sigil(['manifest', 'fetch', `${repo}:${digest.replace(':', '-')}`])).stdout) as { manifests: Array<{ artifactType?: string }> };
    assert.ok(index.manifests.length >= 1);
    assert.ok(index.manifests.every((m) => m.artifactType === NOTARY_SIGNATURE));
  });
});

describe('skopeo interop', () => {
  it('reads an image pushed by skopeo and writes it back byte-identically', async () => {
    const dir = join(home, 'skopeo-src');
    const digest = await buildImageLayout(dir);
    const repo = `${registry.host}/interop/skopeo`;
    await exec('skopeo', ['copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', `oci:${dir}:v1`, `docker://${repo}:v1`]);
    const pushed = ok(await sigil(['resolve', `${repo}:v1`])).stdout.trim();
    assert.equal(pushed, digest);
    const local = join(home, 'skopeo-local');
    ok(await sigil(['cp', '--to-oci-layout', `${repo}:v1`, `${local}:v1`]));
    ok(await sigil(['cp', '--from-oci-layout', `${local}:v1`, `${registry.host}/interop/back:v2`]));
    assert.equal(ok(await sigil(['resolve', `${registry.host}/interop/back:v2`])).stdout.trim(), digest);
    // skopeo reads what sigil pushed, and sees the same manifest bytes.
    const { stdout: raw } = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/interop/back:v2`]);
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, digest);
    const manifest = await readFile(join(local, 'blobs', 'sha256', digest.slice(7)));
    assert.equal(manifest.toString(), raw);
  });
});

describe('single-manifest commands', () => {
  it('resolves, tags, fetches and deletes', async () => {
    const dir = join(home, 'manifest-src');
    const digest = await buildImageLayout(dir);
    const repo = `${registry.host}/cmd/app`;
    ok(await sigil(['cp', '--from-oci-layout', `${dir}:v1`, `${repo}:v1`]));
    assert.equal(ok(await sigil(['resolve', `${repo}:v1`])).stdout.trim(), digest);
    ok(await sigil(['tag', `${repo}:v1`, 'v2', 'latest']));
    assert.equal(ok(await sigil(['resolve', `${repo}:latest`])).stdout.trim(), digest);
    const fetched = ok(await sigil(['manifest', 'fetch', `${repo}@${digest}`])).stdout;
    assert.equal(`sha256:${createHash('sha256').update(fetched).digest('hex')}`, digest);
    const descriptor = JSON.parse(ok(await sigil(['resolve', '--descriptor', `${repo}:v2`])).stdout) as { digest: string; mediaType: string };
    assert.equal(descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    ok(await sigil(['manifest', 'delete', `${repo}:v1`]));
    failsWithOneLine(await sigil(['resolve', `${repo}@${digest}`]), /manifest unknown|not found/i);
  });

  it('works on OCI layouts too', async () => {
    const dir = join(home, 'layout-cmds');
    const digest = await buildImageLayout(dir);
    assert.equal(ok(await sigil(['resolve', '--oci-layout', `${dir}:v1`])).stdout.trim(), digest);
    ok(await sigil(['tag', '--oci-layout', `${dir}:v1`, 'stable']));
    assert.equal(ok(await sigil(['resolve', '--oci-layout', `${dir}:stable`])).stdout.trim(), digest);
    ok(await sigil(['manifest', 'delete', '--oci-layout', `${dir}@${digest}`]));
    failsWithOneLine(await sigil(['resolve', '--oci-layout', `${dir}:v1`]), /v1/);
  });
});

describe('errors are one clear line', () => {
  it('names an unparsable reference', async () => {
    failsWithOneLine(await sigil(['resolve', 'localhost:5000/UPPER:tag']), /invalid reference/);
    failsWithOneLine(await sigil(['cp', 'localhost:5000/a:', 'localhost:5000/b']), /invalid reference/);
  });

  it('names a registry that cannot be reached', async () => {
    failsWithOneLine(await sigil(['resolve', '127.0.0.1:1/app:v1']), /127\.0\.0\.1:1: cannot connect \(ECONNREFUSED\); nothing listens there/);
  });

  it('names the repository and tag that do not exist', async () => {
    failsWithOneLine(await sigil(['resolve', `${registry.host}/nothing/here:v9`]), /nothing\/here/);
  });

  it('rejects a missing tag on resolve', async () => {
    failsWithOneLine(await sigil(['resolve', `${registry.host}/cmd/app`]), /no tag or digest/);
  });

  it('rejects a missing OCI layout', async () => {
    failsWithOneLine(await sigil(['resolve', '--oci-layout', join(home, 'absent') + ':v1']), /absent/);
  });

  it('rejects unknown flags', async () => {
    failsWithOneLine(await sigil(['cp', '--bogus', 'a', 'b']), /unknown option/);
  });
});
