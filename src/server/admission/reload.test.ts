import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expandPaths } from './config.js';
import { fingerprintFiles, watchSources } from './reload.js';

describe('watchSources', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigil-reload-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('calls onChange once per change of content, not for what was there at start', async () => {
    await writeFile(join(dir, 'a.yaml'), 'one');
    let changes = 0;
    const errors: unknown[] = [];
    const watch = await watchSources({ list: () => expandPaths([dir]), onChange: async () => void changes++, onError: (e) => errors.push(e), intervalMs: 3_600_000 });
    await watch.check();
    assert.equal(changes, 0);
    await writeFile(join(dir, 'a.yaml'), 'two');
    await watch.check();
    await watch.check();
    assert.equal(changes, 1);
    await writeFile(join(dir, 'b.yml'), 'new file');
    await watch.check();
    assert.equal(changes, 2, 'a new file in the directory counts');
    await watch.stop();
    assert.deepEqual(errors, []);
  });

  it('reports a failed reload once, and tries again when the content changes again', async () => {
    const file = join(dir, 'policy.yaml');
    await writeFile(file, 'good');
    const errors: string[] = [];
    let loaded = 0;
    const watch = await watchSources({
      list: async () => [file],
      onChange: async () => {
        loaded++;
        if (loaded === 1) throw new Error('policy.yaml: spec.rules: bad');
      },
      onError: (e) => errors.push((e as Error).message),
      intervalMs: 3_600_000,
    });
    await writeFile(file, 'broken');
    await watch.check();
    await watch.check();
    assert.deepEqual(errors, ['policy.yaml: spec.rules: bad']);
    await writeFile(file, 'fixed');
    await watch.check();
    assert.equal(loaded, 2);
    await watch.stop();
  });

  it('notices a file that disappears, and checks on its own timer', async () => {
    const file = join(dir, 'gone.yaml');
    await writeFile(file, 'x');
    let changes = 0;
    const watch = await watchSources({ list: async () => [file], onChange: async () => void changes++, onError: () => {}, intervalMs: 10 });
    await rm(file);
    for (let i = 0; i < 100 && changes === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    await watch.stop();
    assert.equal(changes, 1);
  });
});

describe('fingerprintFiles', () => {
  it('depends on names and contents, in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sigil-fp-'));
    try {
      await writeFile(join(dir, 'a'), '1');
      await writeFile(join(dir, 'b'), '2');
      const ab = await fingerprintFiles([join(dir, 'a'), join(dir, 'b')]);
      assert.notEqual(ab, await fingerprintFiles([join(dir, 'b'), join(dir, 'a')]));
      assert.equal(ab, await fingerprintFiles([join(dir, 'a'), join(dir, 'b')]));
      assert.notEqual(ab, await fingerprintFiles([join(dir, 'a'), join(dir, 'missing')]));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
