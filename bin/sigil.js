#!/usr/bin/env node
// The sigil binary: the compiled CLI owns exit codes (see src/cli/main.ts).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv);
