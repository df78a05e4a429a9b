#!/usr/bin/env node
// The sigil binary: the compiled CLI owns exit codes (see src/cli/main.ts).
import { main } from '../dist/src/cli/main.js';

const code = await main(process.argv);
// Exit as soon as output is flushed: otherwise Node waits for V8 to finish compiling undici's
// WebAssembly HTTP parser in the background, 30-50 ms of nothing after every command.
const flushed = (stream) => new Promise((resolve) => (stream.writableLength === 0 ? resolve() : stream.once('drain', resolve)));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
