// Opens the metadata database: PGlite (Postgres compiled to WASM) in the data directory by default.
// The same SqlDatabase interface is what a `pg` pool would implement for `--database postgres://…`.

import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { SqlDatabase, SqlExecutor } from './metadata.js';

/** Opens (creating on first use) an embedded PGlite database under `dir`; `undefined` keeps it in memory. */
export async function openEmbeddedDatabase(dir: string | undefined): Promise<SqlDatabase> {
  if (dir !== undefined) await mkdir(dir, { recursive: true });
  const db = await PGlite.create(dir === undefined ? undefined : { dataDir: dir });
  const executor = (q: { query: PGlite['query'] }): SqlExecutor => ({
    query: async <T>(sql: string, params: readonly unknown[] = []) => {
      const result = await q.query<T>(sql, [...params]);
      return { rows: result.rows };
    },
  });
  return {
    ...executor(db),
    transaction: async <T>(run: (tx: SqlExecutor) => Promise<T>) => db.transaction(async (tx) => run(executor(tx))),
    close: async () => {
      await db.close();
    },
  };
}
