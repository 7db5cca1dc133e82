/**
 * Runs the task-history conformance suite on PostgreSQL, each test in a fresh schema (dropped afterwards), then
 * what only this store has: its own migration ledger beside the result backend's, and its URL errors.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backend/postgres/index.js';
import { ConfigurationError, ConnectionError } from '../../src/errors/index.js';
import { openHistoryStore } from '../../src/history/open.js';
import type { HistoryStore } from '../../src/history/port.js';
import { PostgresHistoryStore } from '../../src/history/postgres.js';
import type { ResultMeta } from '../../src/protocol/types.js';
import { pingPostgres, requireService } from '../services.js';
import { T, ev, historyConformance } from './history-suite.js';

const URL_BASE = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

const postgres = await requireService('PostgreSQL', () => pingPostgres(URL_BASE));
const skipped = postgres.ok ? '' : ` (skipped: ${postgres.reason})`;

function scope() {
  const schema = `celerity_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  return { schema, url: `${URL_BASE}${URL_BASE.includes('?') ? '&' : '?'}schema=${schema}` };
}

describe.skipIf(!postgres.ok)(`postgres task history${skipped}`, () => {
  let raw: pg.Client;
  beforeAll(async () => {
    raw = new pg.Client({ connectionString: URL_BASE });
    await raw.connect();
  });
  afterAll(async () => {
    await raw.end();
  });
  const dropSchema = (schema: string) => raw.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);

  historyConformance('postgres', async () => {
    const s = scope();
    const stores: HistoryStore[] = [];
    const connect = async () => {
      const store = new PostgresHistoryStore({ url: s.url });
      stores.push(store);
      await store.connect();
      return store;
    };
    return {
      store: await connect(),
      reopen: connect,
      close: async () => {
        for (const store of stores) await store.close();
        await dropSchema(s.schema);
      },
    };
  });

  describe('postgres specifics', () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it('migrates once, beside the result backend in one schema, each with its own ledger', async () => {
      const s = scope();
      cleanups.push(() => dropSchema(s.schema));
      const backend = new PostgresBackend({ url: s.url, resultExpires: 0 });
      cleanups.push(() => backend.close());
      await backend.connect();
      const stores = [new PostgresHistoryStore({ url: s.url }), new PostgresHistoryStore({ url: s.url })];
      for (const store of stores) cleanups.push(() => store.close());
      await Promise.all(stores.map((store) => store.connect()));
      expect(stores.map((store) => store.migrated).sort()).toEqual([[], [1]]);
      await backend.set('same-id', { status: 'SUCCESS', result: 1, traceback: null, children: [], date_done: null, task_id: 'same-id' } as ResultMeta);
      await stores[0]!.apply([ev('same-id', 'STARTED', T)]);
      await stores[1]!.prune({ maxTasks: 0 });
      expect(await backend.get('same-id')).toMatchObject({ status: 'SUCCESS', result: 1 });
      const { rows } = await raw.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'celerity_history%' ORDER BY 1",
        [s.schema],
      );
      expect(rows.map((r) => r.table_name)).toEqual(['celerity_history_migrations', 'celerity_history_tasks', 'celerity_history_timeline']);
    });

    it('replaces NUL in text (PostgreSQL text cannot hold it) rather than failing the batch', async () => {
      const s = scope();
      cleanups.push(() => dropSchema(s.schema));
      const store = await openHistoryStore(s.url);
      cleanups.push(() => store.close());
      await store.apply([{ id: 'n', timestamp: T, state: 'FAILURE', fields: { exception: 'E("a\u0000b")' }, timeline: { type: 't', timestamp: T, hostname: null, fields: '{"x":"\\u0000"}' } }]);
      expect((await store.get('n'))?.exception).toBe('E("a\ufffdb")');
      expect(await store.timeline('n')).toHaveLength(1);
    });

    it('names historyUrl in URL errors, and reports an unreachable server as a ConnectionError', async () => {
      expect(() => new PostgresHistoryStore({ url: `${URL_BASE}?schema=Bad-Name` })).toThrow(ConfigurationError);
      expect(() => new PostgresHistoryStore({ url: `${URL_BASE}?schema=Bad-Name` })).toThrow(/historyUrl/);
      const store = new PostgresHistoryStore({ url: 'postgresql://postgres@127.0.0.1:1/test', connectTimeoutMs: 1000 });
      await expect(store.connect()).rejects.toBeInstanceOf(ConnectionError);
      await expect(store.get('x')).rejects.toThrow(/not connected/);
    });
  });
});
