// The embedded registry with its metadata in a real PostgreSQL server instead of PGlite: the same
// SQL must run unchanged, so the shared target suite and the referrers API run against it too.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type RunningPostgres } from '../../../test/support/postgres.js';
import { collect, describeTargetConformance, emptyJson, testManifest } from '../../../test/support/target-conformance.js';
import { RegistryClient } from '../../registry/index.js';
import { openPostgresDatabase } from './database.js';
import { RegistryServer } from './server.js';

let postgres: RunningPostgres;
let root: string;
let server: RegistryServer;
let replica: RegistryServer;
let host: string;
let replicaHost: string;
const client = new RegistryClient();

before(async () => {
  postgres = await startPostgres();
  root = await mkdtemp(join(tmpdir(), 'sigil-registry-pg-'));
  server = await RegistryServer.open({ root, database: await openPostgresDatabase(postgres.url), exclusive: false });
  host = `127.0.0.1:${(await server.listen(0)).port}`;
  // A second replica on the same database and blob directory, as behind a Kubernetes Service.
  replica = await RegistryServer.open({ root, database: await openPostgresDatabase(postgres.url), exclusive: false });
  replicaHost = `127.0.0.1:${(await replica.listen(0)).port}`;
});
after(async () => {
  await client.close();
  await replica?.close();
  await server?.close();
  await postgres?.stop();
  await rm(root, { recursive: true, force: true });
});

describeTargetConformance('Repository on sigil registry serve --database postgres://', async () => ({ target: client.repository(host, 'pg/conformance'), cleanup: async () => {} }));

describe('replicas on one PostgreSQL', () => {
  it('serves from one replica what was pushed through the other, referrers included', async () => {
    const opts = { signal: AbortSignal.timeout(30_000) };
    const writer = client.repository(host, 'pg/replicas');
    const empty = emptyJson();
    await writer.push(empty.descriptor, empty.bytes, opts);
    const subject = testManifest(empty.descriptor, []);
    await writer.pushReference(subject.descriptor, subject.bytes, 'v1', opts);
    const referrer = testManifest(empty.descriptor, [], { subject: subject.descriptor, artifactType: 'application/vnd.example' });
    await writer.push(referrer.descriptor, referrer.bytes, opts);
    const reader = client.repository(replicaHost, 'pg/replicas');
    assert.equal((await reader.resolve('v1', opts)).digest, subject.descriptor.digest);
    assert.deepEqual((await collect(reader.referrers(subject.descriptor, opts))).map((d) => d.digest), [referrer.descriptor.digest]);
  });
});
