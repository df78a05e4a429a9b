// Where the shared test data made by other tools (Notation's signed layouts, AdmissionReview bodies)
// lies: $SIGIL_SHARED_TESTDATA, else the shared/ folder beside this repository (as CI lays it out),
// else /work/shared.

import { existsSync } from 'node:fs';
import { chmod, cp, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function locate(): string {
  const fromEnv = process.env.SIGIL_SHARED_TESTDATA;
  if (fromEnv) return fromEnv;
  // dist/test/support → the repository root → its sibling shared/
  const beside = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));
  return existsSync(beside) ? beside : '/work/shared/testdata';
}

/** The shared testdata directory. */
export const SHARED_TESTDATA = locate();

/** The admission policies users write (`shared/policies/`, beside the testdata). */
export const SHARED_POLICIES = join(SHARED_TESTDATA, '..', 'policies');

/** The Notation CLI's e2e OCI layouts (signed, unsigned, expired, …). */
export const NOTATION_LAYOUTS = join(SHARED_TESTDATA, 'notation-e2e/registry/oci_layout');

/** The Notation CLI's e2e testdata root (config/, blob/, registry/ …). */
export const NOTATION_E2E = join(SHARED_TESTDATA, 'notation-e2e');

/** Copies shared testdata (read-only in CI checkouts) to `to`, making the copy writable. */
export async function copyWritable(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
  const walk = async (path: string): Promise<void> => {
    const info = await stat(path);
    await chmod(path, info.isDirectory() ? 0o755 : 0o644);
    if (info.isDirectory()) for (const entry of await readdir(path)) await walk(join(path, entry));
  };
  await walk(to);
}
