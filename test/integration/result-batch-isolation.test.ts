/**
 * One completion the result store refuses for what it holds cannot fail the batch it was written with: on a real
 * PostgreSQL store (a retries count past its integer column, which a foreign producer can send and no value check
 * catches) the neighbours are stored and every message acknowledged, the refused one stored as FAILURE with
 * EncodeError. A store that is down still fails the batch and acknowledges nothing.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backend/postgres/index.js';
import type { Broker } from '../../src/broker/port.js';
import { EncodeError, type Celerity } from '../../src/index.js';
import type { TaskRequest } from '../../src/protocol/types.js';
import { Completer, type Outcome } from '../../src/worker/completer.js';
import { sqliteApp, tempDir } from '../helpers.js';
import { pingPostgres, requireService } from '../services.js';

const PG = 'postgresql://postgres@127.0.0.1:5432/test';
const postgres = await requireService('PostgreSQL', () => pingPostgres(PG));

describe.skipIf(!postgres.ok)(`a refused result in a batch${postgres.ok ? '' : ` (skipped: ${postgres.reason})`}`, () => {
  const schema = `isolation_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const queue = `isolation-${randomUUID().slice(0, 8)}`;
  const dir = tempDir();
  let app: Celerity;
  let broker: Broker;
  let backend: PostgresBackend;

  beforeAll(async () => {
    app = sqliteApp(dir.dir);
    broker = await app.broker();
    backend = new PostgresBackend({ url: `${PG}?schema=${schema}`, resultExpires: 3600 });
    await backend.connect();
  });

  afterAll(async () => {
    await backend.close();
    await app.close();
    dir.cleanup();
    const client = new pg.Client({ connectionString: PG });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  });

  /** `n` messages sent and reserved: their tags and requests as the worker would hold them. */
  async function reserved(n: number): Promise<{ tag: string; req: TaskRequest }[]> {
    for (let i = 0; i < n; i++) await app.sendTask('t.any', [i], { queue });
    const deliveries = await broker.reserve([queue], { max: n, waitMs: 1000 });
    expect(deliveries).toHaveLength(n);
    return deliveries.map((d, i) => ({
      tag: d.tag,
      req: { id: randomUUID(), task: 't.any', args: [i], kwargs: {}, retries: 0, group: null, parentId: null } as unknown as TaskRequest,
    }));
  }

  /** The queue's rows in the broker's table by state: acknowledged messages are deleted. */
  function rows(): Record<string, number> {
    const db = new Database(path.join(dir.dir, 'celerity.db'), { readonly: true });
    try {
      const found = db.prepare('SELECT state, count(*) AS n FROM messages WHERE queue = ? GROUP BY state').all(queue) as { state: string; n: number }[];
      return Object.fromEntries(found.map((r) => [r.state, r.n]));
    } finally {
      db.close();
    }
  }

  const success = (req: TaskRequest, result: unknown): Outcome => ({ req, queue, status: 'SUCCESS', result });

  it('stores and acknowledges the neighbours, and the refused one as FAILURE with EncodeError', async () => {
    const [a, b, c] = await reserved(3);
    b!.req.retries = 2 ** 40;
    const completer = new Completer(broker, backend, { hostname: 'celery@test', extended: true });
    // One tick: one batch, one setMany.
    await Promise.all([a, b, c].map((d, i) => completer.complete(d!.tag, success(d!.req, i * 10))));

    expect(await backend.get(a!.req.id)).toMatchObject({ status: 'SUCCESS', result: 0, retries: 0 });
    expect(await backend.get(c!.req.id)).toMatchObject({ status: 'SUCCESS', result: 20, retries: 0 });
    const refused = await backend.get(b!.req.id);
    expect(refused).toMatchObject({ status: 'FAILURE', result: { exc_type: 'EncodeError', exc_module: 'kombu.exceptions' } });
    expect((refused?.result as { exc_message: string[] }).exc_message[0]).toMatch(/^the result store refused the result: .*out of range for type integer/);
    expect(rows()).toEqual({});
  });

  it('a store that is down fails the batch, and nothing in it is acknowledged', async () => {
    const [a, b] = await reserved(2);
    const down = new PostgresBackend({ url: `${PG}?schema=${schema}`, resultExpires: 3600 });
    await down.connect();
    await down.close();
    const completer = new Completer(broker, down, { hostname: 'celery@test', extended: true });
    const results = await Promise.allSettled([a, b].map((d) => completer.complete(d!.tag, success(d!.req, 1))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).not.toBeInstanceOf(EncodeError);
    // Both still reserved: they come back after the visibility timeout, as after a crash.
    expect(rows()).toEqual({ reserved: 2 });
  });
});
