// The embedded registry's metadata: repositories, blob links, manifests, tags and referrers, in SQL
// that runs unchanged on PGlite (embedded, the default) and PostgreSQL.

/** What the metadata store needs of a database: parameterised queries and transactions (PGlite and `pg` both fit). */
export interface SqlDatabase {
  query<T>(sql: string, params?: readonly unknown[]): Promise<{ rows: T[] }>;
  transaction<T>(run: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The query half of SqlDatabase, as a transaction hands it out. */
export interface SqlExecutor {
  query<T>(sql: string, params?: readonly unknown[]): Promise<{ rows: T[] }>;
}

/** Schema version 1. Digests are `alg:hex` text; sizes bigint; manifests reference blobs and child manifests. */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS repository_blobs (
     repository text NOT NULL, digest text NOT NULL, size bigint NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (repository, digest))`,
  `CREATE INDEX IF NOT EXISTS repository_blobs_digest ON repository_blobs (digest)`,
  `CREATE TABLE IF NOT EXISTS manifests (
     repository text NOT NULL, digest text NOT NULL, media_type text NOT NULL, size bigint NOT NULL,
     subject text, artifact_type text, annotations text,
     created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (repository, digest))`,
  `CREATE INDEX IF NOT EXISTS manifests_subject ON manifests (repository, subject) WHERE subject IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS manifests_digest ON manifests (digest)`,
  `CREATE TABLE IF NOT EXISTS manifest_references (
     repository text NOT NULL, manifest text NOT NULL, child text NOT NULL,
     PRIMARY KEY (repository, manifest, child))`,
  `CREATE INDEX IF NOT EXISTS manifest_references_child ON manifest_references (child)`,
  `CREATE TABLE IF NOT EXISTS tags (
     repository text NOT NULL, tag text NOT NULL, digest text NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (repository, tag))`,
];

/** A stored manifest's row. */
export interface ManifestRecord {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** What a manifest push records. */
export interface ManifestWrite {
  readonly repository: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly subject?: string;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Digests of blobs and manifests it points at (not the subject). */
  readonly children: readonly string[];
  readonly tag?: string;
}

interface ManifestRow {
  digest: string;
  media_type: string;
  size: string | number;
  artifact_type: string | null;
  annotations: string | null;
}

function toRecord(row: ManifestRow): ManifestRecord {
  return Object.freeze({
    digest: row.digest,
    mediaType: row.media_type,
    size: Number(row.size),
    ...(row.artifact_type === null ? {} : { artifactType: row.artifact_type }),
    ...(row.annotations === null ? {} : { annotations: JSON.parse(row.annotations) as Record<string, string> }),
  });
}

/** Repository-scoped metadata over SQL. Every multi-row change runs in one transaction. */
/** Read answers kept at most; the oldest goes first. */
const READ_CACHE_ENTRIES = 20_000;

/**
 * Answers of the read queries pulls make (blob sizes, manifests by digest and tag, referrers),
 * kept until this store's next write. Only for a process that is its database's one writer (the
 * embedded database): every write goes through it and empties the cache, and a read that was in
 * flight across a write is not kept. Answers are frozen; callers must not change them.
 */
class ReadCache {
  readonly #answers = new Map<string, { readonly value: unknown }>();
  #generation = 0;

  async read<T>(key: string, query: () => Promise<T>): Promise<T> {
    const hit = this.#answers.get(key);
    if (hit !== undefined) return hit.value as T;
    const generation = this.#generation;
    const value = await query();
    if (generation === this.#generation) {
      if (this.#answers.size >= READ_CACHE_ENTRIES) this.#answers.delete(this.#answers.keys().next().value as string);
      this.#answers.set(key, { value });
    }
    return value;
  }

  /** Forgets every answer; called after each write, whether or not it changed anything. */
  invalidate(): void {
    this.#generation++;
    this.#answers.clear();
  }
}

function frozenRecord(record: ManifestRecord): ManifestRecord {
  if (record.annotations !== undefined) Object.freeze(record.annotations);
  return Object.freeze(record);
}

export class MetadataStore {
  readonly #db: SqlDatabase;
  readonly #cache: ReadCache | undefined;

  private constructor(db: SqlDatabase, cacheReads: boolean) {
    this.#db = db;
    this.#cache = cacheReads ? new ReadCache() : undefined;
  }

  /**
   * Creates the schema if needed and returns the store. `cacheReads` keeps read answers in memory
   * until the next write: only for a process that is the database's one writer (not for replicas
   * sharing PostgreSQL, which would miss each other's writes).
   */
  static async open(db: SqlDatabase, options: { readonly cacheReads?: boolean } = {}): Promise<MetadataStore> {
    await db.transaction(async (tx) => {
      for (const statement of SCHEMA) await tx.query(statement);
    });
    return new MetadataStore(db, options.cacheReads === true);
  }

  /** A read, answered from the cache when there is one and it holds the answer. */
  #read<T>(key: string, query: () => Promise<T>): Promise<T> {
    return this.#cache === undefined ? query() : this.#cache.read(key, query);
  }

  /** Runs a write and then empties the read cache (also when the write failed: what it did is unknown). */
  async #write<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } finally {
      this.#cache?.invalidate();
    }
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.#db.close();
  }

  /** True when the repository has anything at all (blobs or manifests). */
  async repositoryExists(repository: string): Promise<boolean> {
    const { rows } = await this.#db.query<{ found: number }>(
      `SELECT 1 AS found FROM repository_blobs WHERE repository = $1
       UNION ALL SELECT 1 FROM manifests WHERE repository = $1 LIMIT 1`,
      [repository],
    );
    return rows.length > 0;
  }

  /** The size of a blob linked into the repository, or undefined. */
  async blobSize(repository: string, digest: string): Promise<number | undefined> {
    return this.#read(`blob\0${repository}\0${digest}`, async () => {
      const { rows } = await this.#db.query<{ size: string | number }>(`SELECT size FROM repository_blobs WHERE repository = $1 AND digest = $2`, [repository, digest]);
      return rows[0] === undefined ? undefined : Number(rows[0].size);
    });
  }

  /** True when the blob is linked into any repository (for mounts and de-duplication). */
  async blobKnownAnywhere(digest: string): Promise<{ size: number } | undefined> {
    const { rows } = await this.#db.query<{ size: string | number }>(`SELECT size FROM repository_blobs WHERE digest = $1 LIMIT 1`, [digest]);
    return rows[0] === undefined ? undefined : { size: Number(rows[0].size) };
  }

  /** Links a stored blob into a repository (idempotent). */
  async linkBlob(repository: string, digest: string, size: number): Promise<void> {
    await this.#write(() => this.#db.query(`INSERT INTO repository_blobs (repository, digest, size) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [repository, digest, size]));
  }

  /** Unlinks a blob from a repository; false when it was not linked. */
  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const { rows } = await this.#write(() => this.#db.query<{ digest: string }>(`DELETE FROM repository_blobs WHERE repository = $1 AND digest = $2 RETURNING digest`, [repository, digest]));
    return rows.length > 0;
  }

  /** Which of `digests` the repository lacks, as blobs or manifests (a manifest's references must all exist). */
  async missing(repository: string, digests: readonly string[]): Promise<string[]> {
    if (digests.length === 0) return [];
    const { rows } = await this.#db.query<{ digest: string }>(
      `SELECT digest FROM repository_blobs WHERE repository = $1 AND digest = ANY($2::text[])
       UNION SELECT digest FROM manifests WHERE repository = $1 AND digest = ANY($2::text[])`,
      [repository, [...new Set(digests)]],
    );
    const present = new Set(rows.map((r) => r.digest));
    return [...new Set(digests)].filter((d) => !present.has(d));
  }

  /** Records a pushed manifest, its references and (when given) its tag, atomically. */
  async putManifest(write: ManifestWrite): Promise<void> {
    await this.#write(() => this.#putManifest(write));
  }

  async #putManifest(write: ManifestWrite): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO manifests (repository, digest, media_type, size, subject, artifact_type, annotations)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (repository, digest) DO NOTHING`,
        [write.repository, write.digest, write.mediaType, write.size, write.subject ?? null, write.artifactType ?? null, write.annotations === undefined ? null : JSON.stringify(write.annotations)],
      );
      for (const child of new Set(write.children)) {
        await tx.query(`INSERT INTO manifest_references (repository, manifest, child) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [write.repository, write.digest, child]);
      }
      if (write.tag !== undefined) {
        await tx.query(
          `INSERT INTO tags (repository, tag, digest) VALUES ($1, $2, $3)
           ON CONFLICT (repository, tag) DO UPDATE SET digest = EXCLUDED.digest, updated_at = now()`,
          [write.repository, write.tag, write.digest],
        );
      }
    });
  }

  /** A manifest by digest, or undefined. */
  async manifest(repository: string, digest: string): Promise<ManifestRecord | undefined> {
    return this.#read(`manifest\0${repository}\0${digest}`, async () => {
      const { rows } = await this.#db.query<ManifestRow>(
        `SELECT digest, media_type, size, artifact_type, annotations FROM manifests WHERE repository = $1 AND digest = $2`,
        [repository, digest],
      );
      return rows[0] === undefined ? undefined : frozenRecord(toRecord(rows[0]));
    });
  }

  /** The manifest a tag points at, or undefined. */
  async manifestByTag(repository: string, tag: string): Promise<ManifestRecord | undefined> {
    return this.#read(`tag\0${repository}\0${tag}`, async () => {
      const { rows } = await this.#db.query<ManifestRow>(
        `SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations
         FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest
         WHERE t.repository = $1 AND t.tag = $2`,
        [repository, tag],
      );
      return rows[0] === undefined ? undefined : frozenRecord(toRecord(rows[0]));
    });
  }

  /** Deletes a manifest with its tags and references; false when it was not there. */
  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    return this.#write(() => this.#deleteManifest(repository, digest));
  }

  async #deleteManifest(repository: string, digest: string): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<{ digest: string }>(`DELETE FROM manifests WHERE repository = $1 AND digest = $2 RETURNING digest`, [repository, digest]);
      if (rows.length === 0) return false;
      await tx.query(`DELETE FROM tags WHERE repository = $1 AND digest = $2`, [repository, digest]);
      await tx.query(`DELETE FROM manifest_references WHERE repository = $1 AND manifest = $2`, [repository, digest]);
      return true;
    });
  }

  /** Deletes a tag only; false when it did not exist. */
  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const { rows } = await this.#write(() => this.#db.query<{ tag: string }>(`DELETE FROM tags WHERE repository = $1 AND tag = $2 RETURNING tag`, [repository, tag]));
    return rows.length > 0;
  }

  /** Tags in lexical order after `last`, at most `limit` (one more is fetched to know whether a next page exists). */
  async tags(repository: string, options: { last?: string; limit: number }): Promise<{ tags: string[]; more: boolean }> {
    const { rows } = await this.#db.query<{ tag: string }>(
      `SELECT tag FROM tags WHERE repository = $1 AND ($2::text IS NULL OR tag > $2) ORDER BY tag COLLATE "C" LIMIT $3`,
      [repository, options.last ?? null, options.limit + 1],
    );
    const tags = rows.map((r) => r.tag);
    return { tags: tags.slice(0, options.limit), more: tags.length > options.limit };
  }

  /** Manifests whose subject is `subject`, optionally of one artifact type, oldest first. */
  async referrers(repository: string, subject: string, artifactType?: string): Promise<readonly ManifestRecord[]> {
    return this.#read(`referrers\0${repository}\0${subject}\0${artifactType ?? ''}\0${artifactType === undefined ? 'all' : 'one'}`, async () => {
      const { rows } = await this.#db.query<ManifestRow>(
        `SELECT digest, media_type, size, artifact_type, annotations FROM manifests
         WHERE repository = $1 AND subject = $2 AND ($3::text IS NULL OR artifact_type = $3)
         ORDER BY created_at, digest`,
        [repository, subject, artifactType ?? null],
      );
      return Object.freeze(rows.map((row) => frozenRecord(toRecord(row))));
    });
  }

  /** True when any repository links the blob or stores a manifest with this digest. */
  async isReferenced(digest: string): Promise<boolean> {
    const { rows } = await this.#db.query<{ found: number }>(
      `SELECT 1 AS found FROM repository_blobs WHERE digest = $1 UNION ALL SELECT 1 FROM manifests WHERE digest = $1 LIMIT 1`,
      [digest],
    );
    return rows.length > 0;
  }

  /** Blob links older than `before` that no manifest of their repository references. */
  async danglingLinks(before: Date): Promise<Array<{ repository: string; digest: string }>> {
    const { rows } = await this.#db.query<{ repository: string; digest: string }>(
      `SELECT b.repository, b.digest FROM repository_blobs b
       WHERE b.created_at < $1
         AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = b.repository AND r.child = b.digest)`,
      [before.toISOString()],
    );
    return rows;
  }

  /** Removes the links `danglingLinks` finds, re-checking each in the same statement; returns how many went. */
  async removeDanglingLinks(before: Date): Promise<number> {
    const { rows } = await this.#write(() => this.#db.query<{ digest: string }>(
      `DELETE FROM repository_blobs b
       WHERE b.created_at < $1
         AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = b.repository AND r.child = b.digest)
       RETURNING b.digest`,
      [before.toISOString()],
    ));
    return rows.length;
  }
}
