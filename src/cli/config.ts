// The CLI's config loader: the one place that reads the environment (STYLE.md rule 11).
// DESIGN.md "Fixed interfaces": config directory and Docker credential locations.

import { homedir } from 'node:os';
import { join } from 'node:path';

/** Everything the CLI takes from its environment, read once and frozen. */
export interface CliEnvironment {
  /** `$SIGIL_CONFIG`, else `$XDG_CONFIG_HOME/sigil`, else `~/.config/sigil` (same layout as Notation's). */
  readonly configDir: string;
  /** Docker's `config.json`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  readonly dockerConfigPath: string;
  /** Whether stderr is a terminal (progress lines are drawn only then). */
  readonly stderrIsTTY: boolean;
  /** Terminal width for progress lines. */
  readonly columns: number;
}

/** Reads the CLI environment from `process.env` and the terminal. */
export function loadCliEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  const home = env.HOME || homedir();
  const configDir = env.SIGIL_CONFIG || join(env.XDG_CONFIG_HOME || join(home, '.config'), 'sigil');
  const dockerConfigPath = join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json');
  return Object.freeze({
    configDir,
    dockerConfigPath,
    stderrIsTTY: Boolean(process.stderr.isTTY) && env.CI !== 'true',
    columns: process.stderr.columns || 100,
  });
}
