// End-to-end tests of `sigil policy autogen` through the real binary.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { failsWithOneLine, ok, runSigil, type Result } from '../../test/support/sigil-cli.js';
import { SHARED_POLICIES } from '../../test/support/shared.js';

const POLICIES = SHARED_POLICIES;

let home: string;

function sigil(args: string[]): Promise<Result> {
  return runSigil(args, { env: { SIGIL_CONFIG: join(home, 'sigil') } });
}

type Printed = { kind: string; metadata: { name: string }; status: { autogen: { rules: { name: string; match: { any?: { resources: { kinds: string[] } }[]; all?: { resources: { kinds: string[] } }[] } }[] } } };

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-autogen-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('sigil policy autogen', () => {
  it('prints the generated rules of 01-check-image-notary.yaml under status.autogen.rules as YAML', async () => {
    const { stdout } = ok(await sigil(['policy', 'autogen', join(POLICIES, '01-check-image-notary.yaml')]));
    const documents = parseAllDocuments(stdout).map((d) => d.toJS() as Printed);
    assert.equal(documents.length, 1);
    const [policy] = documents;
    assert.equal(policy?.kind, 'ClusterPolicy');
    assert.equal(policy?.metadata.name, 'check-image');
    const rules = policy?.status.autogen.rules ?? [];
    assert.deepEqual(rules.map((r) => r.name), ['autogen-check-digest', 'autogen-cronjob-check-digest']);
    assert.deepEqual(rules[1]?.match.all?.[0]?.resources.kinds, ['batch/v1/CronJob']);
    assert.match(stdout, /imageReferences:/);
  });

  it('prints JSON with -o json, one List for several policies', async () => {
    const both = join(home, 'both.yaml');
    const read = (name: string) => readFile(join(POLICIES, name), 'utf8');
    await writeFile(both, `${await read('02-block-unsigned-images.yaml')}\n---\n${await read('04-audit-mode.yaml')}`);
    const { stdout } = ok(await sigil(['policy', 'autogen', both, '-o', 'json']));
    const list = JSON.parse(stdout) as { kind: string; items: Printed[] };
    assert.equal(list.kind, 'List');
    assert.deepEqual(
      list.items.map((p) => [p.metadata.name, p.status.autogen.rules.map((r) => r.name)]),
      [
        ['block-unsigned-images', ['autogen-check-image-signature', 'autogen-cronjob-check-image-signature']],
        ['audit-image-signatures', ['autogen-audit-signatures', 'autogen-cronjob-audit-signatures']],
      ],
    );
  });

  it('fails with one line naming every problem of an invalid file', async () => {
    const bad = join(home, 'bad.yaml');
    await writeFile(bad, 'apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    bogus: 1\n');
    failsWithOneLine(await sigil(['policy', 'autogen', bad]), /bad\.yaml: \d+ problems: spec\.rules\[0\]\.bogus: unknown field .*; spec\.rules\[0\]\.match: match is required/);
  });

  it('fails with one line for a missing file, a file without policies and a bad format', async () => {
    failsWithOneLine(await sigil(['policy', 'autogen', join(home, 'absent.yaml')]), /absent\.yaml: no such file/);
    failsWithOneLine(await sigil(['policy', 'autogen', join(POLICIES, '05-policy-exception.yaml')]), /no ClusterPolicy or Policy documents/);
    failsWithOneLine(await sigil(['policy', 'autogen', join(POLICIES, '01-check-image-notary.yaml'), '-o', 'table']), /output/);
  });
});
