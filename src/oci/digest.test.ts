import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { DigestError } from './errors.js';
import { digestOf, isDigest, parseDigest, readLimited, readVerified, verifyContent } from './digest.js';
import { streamOf } from './content.js';

const hello = new TextEncoder().encode('hello');
const helloDigest = digestOf(hello);

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

describe('digest', () => {
  it('parses sha256 and sha512 digests', () => {
    assert.deepEqual(parseDigest(helloDigest), { algorithm: 'sha256', encoded: helloDigest.slice(7) });
    const d512 = `sha512:${createHash('sha512').update(hello).digest('hex')}`;
    assert.equal(parseDigest(d512).algorithm, 'sha512');
    assert.equal(digestOf(hello, 'sha512'), d512);
  });

  const bad: Array<[string, string]> = [
    ['', 'empty'],
    ['sha256', 'no colon'],
    [':abc', 'no algorithm'],
    ['md5:' + 'a'.repeat(32), 'unknown algorithm'],
    ['sha256:' + 'a'.repeat(63), 'short'],
    ['sha256:' + 'a'.repeat(65), 'long'],
    ['sha256:' + 'A'.repeat(64), 'upper case'],
    ['sha256:' + 'g'.repeat(64), 'not hex'],
    ['SHA256:' + 'a'.repeat(64), 'upper-case algorithm'],
    ['sha512:' + 'a'.repeat(64), 'sha512 with sha256 length'],
    ['sha256:' + 'a'.repeat(63) + '\n', 'trailing newline'],
  ];
  for (const [input, why] of bad) {
    it(`rejects a digest that is ${why}`, () => {
      assert.throws(() => parseDigest(input), (e: unknown) => e instanceof DigestError && e.code === 'DIGEST_INVALID');
      assert.equal(isDigest(input), false);
    });
  }

  it('passes matching content through unchanged', async () => {
    const out = await readVerified(chunks('he', 'llo'), { digest: helloDigest, size: 5 });
    assert.deepEqual(Buffer.from(out).toString(), 'hello');
  });

  it('rejects content with the wrong digest', async () => {
    await assert.rejects(readVerified(chunks('hellO'), { digest: helloDigest, size: 5 }), (e: unknown) => e instanceof DigestError && e.code === 'DIGEST_MISMATCH');
  });

  it('rejects short reads and trailing data', async () => {
    await assert.rejects(readVerified(chunks('hell'), { digest: helloDigest, size: 5 }), (e: unknown) => e instanceof DigestError && e.code === 'SIZE_MISMATCH');
    await assert.rejects(readVerified(chunks('hello', '!'), { digest: helloDigest, size: 5 }), (e: unknown) => e instanceof DigestError && e.code === 'SIZE_MISMATCH');
  });

  it('stops an endless stream as soon as it passes the expected size', async () => {
    let produced = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        produced++;
        yield new Uint8Array(1024);
      }
    }
    await assert.rejects(async () => {
      for await (const _ of verifyContent(endless(), { digest: helloDigest, size: 4096 })) {
        // drain
      }
    }, (e: unknown) => e instanceof DigestError && e.code === 'SIZE_MISMATCH');
    assert.equal(produced, 5);
  });

  it('caps reads of unknown digest at the limit', async () => {
    assert.equal((await readLimited(streamOf(hello), 5, 'x')).byteLength, 5);
    await assert.rejects(readLimited(streamOf(hello), 4, 'x'), (e: unknown) => e instanceof DigestError && e.code === 'SIZE_EXCEEDS_LIMIT');
  });
});
