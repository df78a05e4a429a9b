// Renders copy progress as one redrawn line on a terminal: bytes done, rate and what is left.

import type { CopyEvent } from '../oci/index.js';

/** Formats a byte count in binary units (1.5 MiB). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Tracks copy events and draws a progress line to a terminal stream at most every 100 ms. */
export class ProgressLine {
  readonly #out: NodeJS.WritableStream;
  readonly #columns: number;
  readonly #started = Date.now();
  #known = 0;
  #done = 0;
  #pending = new Set<string>();
  #copied = 0;
  #skipped = 0;
  #lastDraw = 0;

  constructor(out: NodeJS.WritableStream, columns: number) {
    this.#out = out;
    this.#columns = columns;
  }

  /** Feeds one copy event. */
  readonly onEvent = (event: CopyEvent): void => {
    switch (event.type) {
      case 'start':
        this.#pending.add(event.descriptor.digest);
        this.#known += event.descriptor.size;
        break;
      case 'bytes':
        this.#done += event.bytes;
        break;
      case 'copied':
        this.#pending.delete(event.descriptor.digest);
        this.#copied++;
        break;
      case 'mounted':
        // no bytes will move for it
        this.#pending.delete(event.descriptor.digest);
        this.#known -= event.descriptor.size;
        this.#copied++;
        break;
      case 'skipped':
        this.#pending.delete(event.descriptor.digest);
        this.#skipped++;
        break;
      case 'referrer':
        break;
    }
    const now = Date.now();
    if (now - this.#lastDraw >= 100) {
      this.#lastDraw = now;
      this.#draw(now);
    }
  };

  #draw(now: number): void {
    const seconds = Math.max((now - this.#started) / 1000, 0.001);
    const rate = this.#done / seconds;
    const left = Math.max(this.#known - this.#done, 0);
    const line = `${formatBytes(this.#done)} / ${formatBytes(this.#known)}  ${formatBytes(rate)}/s  ${this.#pending.size} in flight, ${formatBytes(left)} left  (${this.#copied} copied, ${this.#skipped} skipped)`;
    this.#out.write(`\r${line.slice(0, this.#columns - 1).padEnd(Math.min(this.#columns - 1, 100))}`);
  }

  /** Clears the line before the final summary is printed. */
  finish(): void {
    if (this.#lastDraw !== 0) this.#out.write(`\r${' '.repeat(Math.min(this.#columns - 1, 100))}\r`);
  }
}
