import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Descriptor } from '../oci/index.js';
import { formatBytes, ProgressLine } from './progress.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const layer: Descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${'1'.repeat(64)}`, size: 3 * 1024 * 1024 };
const config: Descriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'2'.repeat(64)}`, size: 512 };

describe('formatBytes', () => {
  const cases: Array<[number, string]> = [
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [256 * 1024 * 1024, '256.0 MiB'],
    [3 * 1024 ** 4, '3.0 TiB'],
  ];
  for (const [bytes, text] of cases) it(`renders ${bytes} as ${text}`, () => assert.equal(formatBytes(bytes), text));
});

describe('ProgressLine', () => {
  it('draws bytes done, total, rate, in-flight count and what is left on one redrawn line', async () => {
    const out = new Capture();
    const line = new ProgressLine(out, 120);
    line.onEvent({ type: 'start', descriptor: layer });
    await delay(110);
    line.onEvent({ type: 'bytes', descriptor: layer, bytes: 1024 * 1024 });
    const drawn = out.text.split('\r').filter((s) => s.trim() !== '');
    const last = drawn.at(-1) ?? '';
    assert.match(last, /^1\.0 MiB \/ 3\.0 MiB {2}[\d.]+ (B|KiB|MiB)\/s {2}1 in flight, 2\.0 MiB left {2}\(0 copied, 0 skipped\)/);
    assert.ok(!out.text.includes('\n'), 'never scrolls');
  });

  it('counts copied and skipped nodes and clears the line when finished', async () => {
    const out = new Capture();
    const line = new ProgressLine(out, 120);
    line.onEvent({ type: 'skipped', descriptor: config });
    line.onEvent({ type: 'start', descriptor: layer });
    line.onEvent({ type: 'bytes', descriptor: layer, bytes: layer.size });
    await delay(110);
    line.onEvent({ type: 'copied', descriptor: layer });
    assert.match(out.text.split('\r').filter((s) => s.trim() !== '').at(-1) ?? '', /0 in flight, 0 B left {2}\(1 copied, 1 skipped\)/);
    line.finish();
    assert.ok(out.text.endsWith('\r'), 'the cursor is back at the start of a blank line');
  });

  it('cuts the line to the terminal width', () => {
    const out = new Capture();
    new ProgressLine(out, 30).onEvent({ type: 'start', descriptor: layer });
    for (const piece of out.text.split('\r')) assert.ok(piece.length <= 29, `"${piece}" fits in 29 columns`);
  });

  it('draws nothing to clear when it never drew', () => {
    const out = new Capture();
    new ProgressLine(out, 80).finish();
    assert.equal(out.text, '');
  });
});
