import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PostgresBackend } from '../../src/backend/postgres/index.js';
import { MIGRATIONS } from '../../src/backend/postgres/migrate.js';
import { parsePostgresUrl } from '../../src/backend/postgres/url.js';
import { maskUrl } from '../../src/transports/index.js';
import { createBackend } from '../../src/transports/index.js';
import { ConfigurationError, ConnectionError } from '../../src/errors/index.js';
import { pingPostgres, requireService } from '../services.js';
import { freePort, until } from '../helpers.js';
import { backendConformance, meta } from './backend-suite.js';

const URL_BASE = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

const postgres = await requireService('PostgreSQL', () => pingPostgres(URL_BASE));
const skipped = postgres.ok ? '' : ` (skipped: ${postgres.reason})`;

/** Every backend gets its own schema (dropped afterwards) and an application_name to find its connections by. */
function scope() {
  const schema = `celerity_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const url = `${URL_BASE}${URL_BASE.includes('?') ? '&' : '?'}schema=${schema}`;
  return { schema, url, name: schema, listenName: `${schema}:listen` };
}

describe.skipIf(!postgres.ok)(`postgres result backend${skipped}`, () => {
  let raw: pg.Client;
  beforeAll(async () => {
    raw = new pg.Client({ connectionString: URL_BASE });
    await raw.connect();
  });
  afterAll(async () => {
    await raw.end();
  });
  const dropSchema = (schema: string) => raw.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);

  backendConformance('postgres', async () => {
    const s = scope();
    const backend = new PostgresBackend({ url: s.url, resultExpires: 86_400, applicationName: s.name });
    await backend.connect();
    return {
      backend,
      cleanup: async () => {
        await backend.close();
        await dropSchema(s.schema);
      },
    };
  });

  describe('postgres specifics', () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });
    async function open(s = scope(), resultExpires = 86_400) {
      const backend = new PostgresBackend({ url: s.url, resultExpires, applicationName: s.name });
      cleanups.push(() => dropSchema(s.schema), () => backend.close());
      await backend.connect();
      return { ...s, backend };
    }
    /** The backend's LISTEN connection as pg_stat_activity shows it, once it has run LISTEN. */
    async function listenerPid(listenName: string): Promise<number | null> {
      const { rows } = await raw.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'",
        [listenName],
      );
      return rows[0]?.pid ?? null;
    }
    async function connections(name: string): Promise<number> {
      const { rows } = await raw.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name IN ($1, $2)',
        [name, `${name}:listen`],
      );
      return rows[0]!.n;
    }

    it('migrates once when several backends connect together; connecting again changes nothing', async () => {
      const s = scope();
      const backends = Array.from({ length: 4 }, () => new PostgresBackend({ url: s.url, resultExpires: 60 }));
      cleanups.push(() => dropSchema(s.schema), ...backends.map((b) => () => b.close()));
      await Promise.all(backends.map((b) => b.connect()));
      const versions = MIGRATIONS.map((m) => m.version);
      // Exactly one of them applied every migration; the others waited on the lock and found the work done.
      expect(backends.map((b) => b.migrated.length).sort()).toEqual([0, 0, 0, versions.length]);
      const ledger = `${pg.escapeIdentifier(s.schema)}.celerity_migrations`;
      const before = await raw.query(`SELECT version, applied_at FROM ${ledger} ORDER BY version`);
      expect(before.rows.map((r) => r.version)).toEqual(versions);
      const tables = await raw.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
        [s.schema],
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual([
        'celerity_beat_lease',
        'celerity_migrations',
        'celerity_schedule_fires',
        'celerity_schedule_version',
        'celerity_schedules',
        'celery_chord_parts',
        'celery_chords',
        'celery_counters',
        'celery_groups',
        'celery_results',
      ]);
      const again = new PostgresBackend({ url: s.url, resultExpires: 60 });
      cleanups.push(() => again.close());
      await again.connect();
      expect(again.migrated).toEqual([]);
      expect((await raw.query(`SELECT version, applied_at FROM ${ledger} ORDER BY version`)).rows).toEqual(before.rows);
    });

    it('reads postgresql://, postgres:// and db+postgresql[+driver]:// URLs, and its own options', async () => {
      for (const scheme of ['postgresql', 'postgres', 'db+postgresql', 'db+postgresql+psycopg2', 'DB+PostgreSQL+asyncpg']) {
        const url = parsePostgresUrl(`${scheme}://u:p%40ss@db.local:6543/app?sslmode=disable&schema=tenant_1`);
        expect(url.connectionString).toBe('postgresql://u:p%40ss@db.local:6543/app?sslmode=disable');
        expect(url.schema).toBe('tenant_1');
        expect(url.display).toBe(`${scheme}://u:***@db.local:6543/app?sslmode=disable&schema=tenant_1`);
        expect(await createBackend(`${scheme}://u@h/db`, { resultExpires: 60 })).toBeInstanceOf(PostgresBackend);
      }
      expect(parsePostgresUrl('postgresql://h/db?pool_size=3&connect_timeout=1.5&application_name=web')).toMatchObject({
        connectionString: 'postgresql://h/db',
        schema: null,
        poolSize: 3,
        connectTimeoutMs: 1500,
        applicationName: 'web',
      });
      expect(maskUrl('postgres://u:a@b@h/db?password=x')).toBe('postgres://u:***@h/db?password=***');
      expect(() => parsePostgresUrl('postgresql://h/db?schema=Bad-Name')).toThrow(ConfigurationError);
      expect(() => parsePostgresUrl('postgresql://h/db?pool_size=0')).toThrow(/pool_size/);
      expect(() => parsePostgresUrl('mysql://h/db')).toThrow(ConfigurationError);

      // Celery's SQLAlchemy spelling works against the real server too.
      const s = scope();
      const sqlalchemy = s.url.replace(/^postgres(ql)?:/, 'db+postgresql+psycopg2:');
      const backend = await createBackend(sqlalchemy, { resultExpires: 60 });
      cleanups.push(() => dropSchema(s.schema), () => backend.close());
      await backend.connect();
      const t = randomUUID();
      await backend.set(t, meta(t, 'SUCCESS', 'via db+'));
      expect(await backend.get(t)).toMatchObject({ result: 'via db+' });
    });

    it('connect() to a port nobody listens on fails fast with a one-line ConnectionError, password masked', async () => {
      const port = await freePort();
      const backend = new PostgresBackend({ url: `postgresql://postgres:hunter2@127.0.0.1:${port}/test`, resultExpires: 60 });
      const start = Date.now();
      const err = await backend.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toContain(`postgresql://postgres:***@127.0.0.1:${port}/test`);
      expect((err as Error).message).toContain('ECONNREFUSED');
      expect((err as Error).message).not.toContain('hunter2');
      expect((err as Error).message).not.toContain('\n');
      expect(Date.now() - start).toBeLessThan(1500);
      await expect(backend.get('x')).rejects.toBeInstanceOf(ConnectionError);
      await backend.close();
    });

    it('connect() to a server that never answers gives up after connect_timeout', async () => {
      // Accepts the TCP connection and then says nothing, like a host behind a black-holing firewall.
      const sockets: Socket[] = [];
      const server = await listen((socket) => sockets.push(socket));
      cleanups.push(() => new Promise((r) => server.close(r)), async () => sockets.forEach((s) => s.destroy()));
      const port = (server.address() as { port: number }).port;
      const backend = new PostgresBackend({ url: `postgresql://postgres@127.0.0.1:${port}/test?connect_timeout=0.3`, resultExpires: 60 });
      const start = Date.now();
      const err = await backend.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toMatch(/timeout/i);
      expect(Date.now() - start).toBeGreaterThanOrEqual(250);
      expect(Date.now() - start).toBeLessThan(3000);
      await backend.close();
    });

    it('stores date_done as timestamptz for SQL, and a row written by hand reads back in Celery\'s format', async () => {
      const { backend, schema } = await open();
      const table = `${pg.escapeIdentifier(schema)}.celery_results`;
      const [naive, zoned, odd] = [randomUUID(), randomUUID(), randomUUID()];
      await backend.setMany([
        { taskId: naive, meta: meta(naive, 'SUCCESS', 1) },
        { taskId: zoned, meta: meta(zoned, 'SUCCESS', 2, { date_done: '2024-05-01T14:00:00.000000+02:00' }) },
        { taskId: odd, meta: meta(odd, 'SUCCESS', 3, { date_done: 'yesterday-ish' }) },
      ]);
      const { rows } = await raw.query(
        `SELECT task_id, date_done = timestamptz '2024-05-01 12:00:00+00' AS noon_utc FROM ${table} ORDER BY result::text`,
      );
      expect(rows.map((r) => r.noon_utc)).toEqual([true, true, null]);
      expect((await backend.get(odd))?.date_done).toBe('yesterday-ish');
      const byHand = randomUUID();
      await raw.query(
        `INSERT INTO ${table} (task_id, status, result, children, date_done) VALUES ($1, 'SUCCESS', '{"b": 1, "a": 2}', '[]', timestamptz '2024-06-02 03:04:05.5+00')`,
        [byHand],
      );
      const got = await backend.get(byHand);
      expect(got).toEqual({ status: 'SUCCESS', result: { b: 1, a: 2 }, traceback: null, children: [], date_done: '2024-06-02T03:04:05.500000', task_id: byHand });
      expect(Object.keys(got!.result as object)).toEqual(['b', 'a']);
    });

    it('a NUL character in text (a traceback, an error message) is stored as U+FFFD without failing the batch', async () => {
      const { backend } = await open();
      const [bad, good] = [randomUUID(), randomUUID()];
      const failure = { exc_type: 'ValueError', exc_message: ['bad\u0000byte'], exc_module: 'builtins' };
      await backend.setMany([
        { taskId: bad, meta: meta(bad, 'FAILURE', failure, { traceback: 'Traceback\u0000 ValueError: bad\u0000byte' }) },
        { taskId: good, meta: meta(good, 'SUCCESS', 1) },
      ]);
      expect(await backend.get(bad)).toMatchObject({ result: failure, traceback: 'Traceback\ufffd ValueError: bad\ufffdbyte' });
      expect(await backend.get(good)).toMatchObject({ status: 'SUCCESS' });
    });

    it('waitFor is woken by NOTIFY: one read when it starts, one when its result is announced, none in between', async () => {
      const reader = await open();
      const writer = new PostgresBackend({ url: reader.url, resultExpires: 60 });
      cleanups.push(() => writer.close());
      await writer.connect();
      const readerPool = (reader.backend as any).pool as pg.Pool;
      const query = vi.spyOn(pg.Pool.prototype, 'query');
      cleanups.push(async () => query.mockRestore());
      const readerQueries = () => query.mock.contexts.filter((c) => c === readerPool).length;
      const t = randomUUID();
      const pending = reader.backend.waitFor(t, { timeoutMs: 10_000 });
      await until(async () => (await listenerPid(reader.listenName)) !== null && readerQueries() === 1);
      // Nothing to await here: the point is that an idle waiter makes no queries, so let some time pass.
      await new Promise((r) => setTimeout(r, 300));
      expect(readerQueries()).toBe(1);
      const written = Date.now();
      await writer.set(t, meta(t, 'SUCCESS', 'announced'));
      expect(await pending).toMatchObject({ status: 'SUCCESS', result: 'announced' });
      expect(Date.now() - written).toBeLessThan(500);
      expect(readerQueries()).toBe(2);
    });

    it('waitFor survives its LISTEN connection being terminated, and finds results written meanwhile', async () => {
      const { backend, schema, listenName } = await open();
      const [missed, later] = [randomUUID(), randomUUID()];
      const waits = [backend.waitFor(missed, { timeoutMs: 10_000 }), backend.waitFor(later, { timeoutMs: 10_000 })];
      let pid: number | null = null;
      await until(async () => (pid = await listenerPid(listenName)) !== null);
      // One transaction: the table lock holds back every read of it (the re-check after the reconnect too) until
      // the row, written without NOTIFY as if its announcement had been lost, is committed.
      await raw.query('BEGIN');
      try {
        await raw.query(`LOCK TABLE ${pg.escapeIdentifier(schema)}.celery_results IN ACCESS EXCLUSIVE MODE`);
        await raw.query(
          `INSERT INTO ${pg.escapeIdentifier(schema)}.celery_results (task_id, status, result, children, date_done_text)
           VALUES ($1, 'SUCCESS', '"while down"', '[]', '2024-05-01T12:00:00.000000')`,
          [missed],
        );
        expect((await raw.query('SELECT pg_terminate_backend($1) AS ok', [pid])).rows[0].ok).toBe(true);
        await raw.query('COMMIT');
      } catch (err) {
        await raw.query('ROLLBACK');
        throw err;
      }
      expect(await waits[0]).toMatchObject({ status: 'SUCCESS', result: 'while down', task_id: missed });
      // LISTEN is back on a new connection: a result announced now arrives.
      await until(async () => ![null, pid].includes(await listenerPid(listenName)));
      await backend.set(later, meta(later, 'SUCCESS', 'after'));
      expect(await waits[1]).toMatchObject({ result: 'after' });
    });

    it('close() rejects pending waiters with ConnectionError and ends the pool and the LISTEN connection', async () => {
      const { backend, name, listenName } = await open();
      const pending = backend.waitFor(randomUUID()).catch((e: unknown) => e);
      await until(async () => (await listenerPid(listenName)) !== null);
      expect(await connections(name)).toBeGreaterThanOrEqual(2);
      await backend.close();
      expect(await pending).toBeInstanceOf(ConnectionError);
      await until(async () => (await connections(name)) === 0);
      await expect(backend.get('x')).rejects.toBeInstanceOf(ConnectionError);
    });

    it('cleanup() deletes expired results, groups, chords and counters, and counts them', async () => {
      const { backend, schema } = await open();
      const [r1, r2, keep, g, c] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await backend.setMany([r1, r2].map((t) => ({ taskId: t, meta: meta(t, 'SUCCESS', t) })), { ttlMs: 1 });
      await backend.set(keep, meta(keep, 'SUCCESS', 'kept'), { ttlMs: 0 });
      await backend.saveGroup(g, { result: [[g, null], []] }, { ttlMs: 1 });
      await backend.setChordSize(c, 3, { ttlMs: 1 });
      await backend.chordPartReturn(c, { taskId: r1, groupIndex: 0, status: 'SUCCESS', result: 1 }, { ttlMs: 1 });
      await backend.incr(`counter-${c}`, 1, { ttlMs: 1 });
      // Expiry follows the server's clock: sleep there until it passes the counter's expires_at, written last.
      const s = pg.escapeIdentifier(schema);
      await raw.query(`SELECT pg_sleep(extract(epoch FROM (SELECT max(expires_at) FROM ${s}.celery_counters) - clock_timestamp()) + 0.01)`);
      expect(await backend.cleanup()).toBe(5);
      const left = await raw.query(
        `SELECT (SELECT count(*) FROM ${s}.celery_results)::int AS results, (SELECT count(*) FROM ${s}.celery_chord_parts)::int AS parts`,
      );
      expect(left.rows[0]).toEqual({ results: 1, parts: 0 });
      expect(await backend.cleanup()).toBe(0);
    });
  });
});


function listen(onConnection: (socket: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(onConnection);
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
