// Reloading what `sigil admission serve` read from files — policies and the TLS pair — when they
// change. Polling a content fingerprint rather than trusting inotify: Kubernetes updates mounted
// ConfigMaps and Secrets by swapping a `..data` symlink, which file watches on the old target miss.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** How often sources are checked by default. */
export const DEFAULT_RELOAD_INTERVAL_MS = 2_000;

/** Options of watchSources. */
export interface WatchOptions {
  /** The files to fingerprint, listed afresh each time (a directory's contents change). */
  readonly list: () => Promise<readonly string[]>;
  /** Called after the fingerprint changed; a throw goes to onError, and the next change tries again. */
  readonly onChange: () => Promise<void>;
  readonly onError: (error: unknown) => void;
  readonly intervalMs?: number;
}

/** A running watch; `stop` ends it and waits for a reload in progress. */
export interface Watch {
  stop(): Promise<void>;
  /** Checks now instead of at the next tick; resolves when any reload it caused is done. */
  check(): Promise<void>;
}

/** sha256 over the file names and contents, in order; a file that cannot be read counts as its error code. */
export async function fingerprintFiles(files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\u0000`);
    try {
      hash.update(await readFile(file));
    } catch (error) {
      hash.update(`\u0000error:${(error as NodeJS.ErrnoException).code ?? 'unknown'}`);
    }
    hash.update('\u0000');
  }
  return hash.digest('hex');
}

/**
 * Watches files by fingerprint, calling `onChange` each time it differs from the last seen (the
 * first fingerprint is taken at start, so what was loaded at startup does not reload). Checks never
 * overlap; a failed reload is reported once and retried when the content changes again.
 */
export async function watchSources(options: WatchOptions): Promise<Watch> {
  const fingerprint = async () => fingerprintFiles(await options.list());
  let last = await fingerprint().catch(() => '');
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = (): Promise<void> => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        const now = await fingerprint();
        if (now === last) return;
        // Recorded first: a broken edit is reported once, not at every tick until it is fixed.
        last = now;
        await options.onChange();
      } catch (error) {
        options.onError(error);
      }
    });
    return running;
  };
  const timer = setInterval(() => void tick(), options.intervalMs ?? DEFAULT_RELOAD_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
    check: tick,
  };
}
