// What every command receives: the environment, output streams, a target opener and a cancellation signal.

import type { CliEnvironment } from './config.js';
import type { TargetOpener } from './targets.js';

/** Per-invocation wiring handed to each command (only cli/ builds it, STYLE.md rule 12). */
export interface CommandContext {
  readonly env: CliEnvironment;
  readonly opener: TargetOpener;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  readonly signal: AbortSignal;
}

/** `--output` values for commands that print data. */
export type OutputFormat = 'text' | 'json' | 'tree';
