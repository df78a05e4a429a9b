// Starts a real PostgreSQL server (Debian's postgresql package) on a free loopback port in a temp
// directory, for tests of the registry's `--database postgres://…` mode. As root it runs as the
// `postgres` user, since PostgreSQL refuses to run as root.

import { execFile, spawn } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './docker-registry.js';

const exec = promisify(execFile);

/** A running PostgreSQL: connect with `url`; call `stop()` in an `after` hook. */
export interface RunningPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

/** The directory of the newest installed PostgreSQL's binaries, or undefined when none is installed. */
export async function postgresBinaries(): Promise<string | undefined> {
  try {
    const versions = (await readdir('/usr/lib/postgresql')).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    return versions[0] === undefined ? undefined : join('/usr/lib/postgresql', versions[0], 'bin');
  } catch {
    return undefined;
  }
}

/** initdb + postgres on 127.0.0.1:PORT with trust auth for loopback; resolves when it accepts connections. */
export async function startPostgres(): Promise<RunningPostgres> {
  const bin = await postgresBinaries();
  if (bin === undefined) throw new Error('PostgreSQL is not installed (scripts/install-peers.sh installs it)');
  const dir = await mkdtemp(join(tmpdir(), 'sigil-postgres-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const { stdout: gid } = await exec('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const run = (program: string, args: string[]) => (asRoot ? exec('runuser', ['-u', 'postgres', '--', join(bin, program), ...args]) : exec(join(bin, program), args));
  const data = join(dir, 'data');
  await run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
  const child = asRoot ? spawn('runuser', ['-u', 'postgres', '--', join(bin, 'postgres'), ...args], { stdio: 'ignore' }) : spawn(join(bin, 'postgres'), args, { stdio: 'ignore' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await exec(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]);
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('PostgreSQL did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await run('pg_ctl', ['-D', data, '-m', 'fast', 'stop']).catch(() => child.kill('SIGKILL'));
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
