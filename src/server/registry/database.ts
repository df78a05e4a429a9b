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

/**
 * Opens a PostgreSQL database by URL (`postgres://user:password@host:port/db`) through a `pg`
 * pool: the same schema and SQL as the embedded database, for registries that outgrow one machine.
 */
export async function openPostgresDatabase(url: string, options: { readonly maxConnections?: number } = {}): Promise<SqlDatabase> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, connectionTimeoutMillis: 10_000 });
  // A pool error (the server restarted) must not crash the registry; the next query reconnects.
  pool.on('error', () => undefined);
  const run = async <T>(client: { query: (sql: string, params: unknown[]) => Promise<{ rows: unknown[] }> }, sql: string, params: readonly unknown[] = []) => {
    const result = await client.query(sql, [...params]);
    return { rows: result.rows as T[] };
  };
  await run(pool, 'SELECT 1');
  return {
    query: <T>(sql: string, params?: readonly unknown[]) => run<T>(pool, sql, params),
    transaction: async <T>(body: (tx: SqlExecutor) => Promise<T>) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await body({ query: <R>(sql: string, params?: readonly unknown[]) => run<R>(client, sql, params) });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: async () => {
      await pool.end();
    },
  };
}

/** Opens the database a `--database` value names: a postgres:// URL, else the embedded one under `dir`. */
export async function openDatabase(database: string | undefined, dir: string): Promise<SqlDatabase> {
  if (database !== undefined && /^postgres(ql)?:\/\//.test(database)) return openPostgresDatabase(database);
  if (database !== undefined && database !== 'embedded') throw new Error(`--database ${database.replace(/\/\/[^@]*@/, '//…@')}: expected postgres://… or embedded`);
  return openEmbeddedDatabase(dir);
}
