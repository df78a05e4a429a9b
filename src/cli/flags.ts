// Flag value parsers shared by the signing commands: Go durations (Notation's --expiry) and k=v pairs.

import { CliError } from './errors.js';

/** The largest Go duration, 2^63-1 nanoseconds, in milliseconds. */
const MAX_GO_DURATION_MS = 9_223_372_036_854.775;

const GO_UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration such as `24h`, `1h30m` or `90s` into milliseconds (Notation's `--expiry` syntax). */
export function parseGoDuration(flag: string, value: string): number {
  const text = value.trim();
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let offset = 0;
  while (offset < text.length) {
    part.lastIndex = offset;
    const match = part.exec(text);
    if (match === null) break;
    total += Number(match[1]) * (GO_UNITS[match[2] as string] as number);
    offset = part.lastIndex;
  }
  if (text.length === 0 || offset !== text.length) throw new CliError(`${flag} ${JSON.stringify(value)}: expected a duration such as 24h, 90m or 1h30m`);
  if (total <= 0) throw new CliError(`${flag} ${value}: the duration must be positive`);
  // Go's time.ParseDuration refuses what overflows an int64 of nanoseconds (about 292 years).
  if (total > MAX_GO_DURATION_MS) throw new CliError(`${flag} ${value}: the duration is out of range; Go durations stop at about 292 years (2562047h)`);
  return Math.round(total);
}

/** Turns repeated `k=v` flag values into a map, refusing malformed and repeated keys. */
export function parseKeyValues(flag: string, values: readonly string[] | undefined): Record<string, string> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of values) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`${flag} ${JSON.stringify(item)}: expected KEY=VALUE`);
    const key = item.slice(0, eq);
    if (Object.hasOwn(out, key)) throw new CliError(`${flag}: key "${key}" is given more than once`);
    out[key] = item.slice(eq + 1);
  }
  return out;
}
