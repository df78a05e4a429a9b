// `sigil registry serve` and `gc` refuse bad flags with one clear line before anything starts.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { failsWithOneLine, runSigil } from '../../test/support/sigil-cli.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sigil-registry-cli-'));
  await writeFile(join(dir, 'md5.htpasswd'), 'u:$apr1$abc$def\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sigil registry flags', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an address without a port', ['serve', '--addr', 'localhost'], /--addr localhost: expected HOST:PORT/],
    ['a port out of range', ['serve', '--addr', '127.0.0.1:70000'], /--addr 127\.0\.0\.1:70000: expected HOST:PORT/],
    ['a missing htpasswd file', ['serve', '--htpasswd', '/nonexistent/htpasswd'], /--htpasswd \/nonexistent\/htpasswd: cannot read \(ENOENT\)/],
    ['an htpasswd without bcrypt', ['serve', '--htpasswd', '@md5'], /md5\.htpasswd:1: expected USER:BCRYPT-HASH/],
    ['--token-auth without --htpasswd', ['serve', '--token-auth'], /--token-auth needs --htpasswd/],
    ['a TLS certificate without its key', ['serve', '--tls-cert', '/etc/hostname'], /--tls-cert and --tls-key go together/],
    ['a database that is not PostgreSQL', ['serve', '--database', 'mysql://u:secret@db/x'], /--database: expected postgres:\/\//],
    ['a bad gc duration', ['gc', '--grace', 'soon'], /--grace soon: expected a duration/],
  ];
  for (const [what, args, pattern] of cases) {
    it(`refuses ${what}`, async () => {
      const resolved = args.map((a) => (a === '@md5' ? join(dir, 'md5.htpasswd') : a));
      const result = await runSigil(['registry', ...resolved, '--root', join(dir, 'root')], { env: { XDG_DATA_HOME: dir } });
      failsWithOneLine(result, pattern);
      if (result.stderr.includes('secret')) throw new Error('the database password leaked into the message');
    });
  }
});
