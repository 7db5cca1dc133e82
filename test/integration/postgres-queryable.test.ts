/**
 * The PostgreSQL result tables are plain: psql answers the questions docs/postgres.md shows, without Celerity.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backend/postgres/index.js';
import type { ResultMeta } from '../../src/protocol/types.js';
import { pingPostgres, requireService } from '../services.js';

const HOST = '127.0.0.1';
const URL_BASE = `postgresql://postgres@${HOST}:5432/test`;

const shell = await requireService('PostgreSQL and psql', async () => {
  if (spawnSync('psql', ['--version']).status !== 0) throw new Error('psql is not installed (apt-get install postgresql-client)');
  await pingPostgres(URL_BASE);
});

/** Celery's date_done: naive UTC ISO text with microseconds, `minutes` ago. */
function doneAgo(minutes: number): string {
  return new Date(Date.now() - minutes * 60_000).toISOString().replace('Z', '000');
}

function result(name: string, status: 'SUCCESS' | 'FAILURE', minutesAgo: number, value: unknown): ResultMeta {
  return {
    status,
    result: value,
    traceback: status === 'FAILURE' ? 'Traceback (most recent call last):\n  ...' : null,
    children: [],
    date_done: doneAgo(minutesAgo),
    name,
    args: [],
    kwargs: {},
    worker: 'celery@reports',
    retries: 0,
    queue: 'reports',
    task_id: randomUUID(),
  };
}

describe.skipIf(!shell.ok)(`results queryable with psql${shell.ok ? '' : ` (skipped: ${shell.reason})`}`, () => {
  const schema = `celerity_psql_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  let backend: PostgresBackend;

  /** Runs `sql` with psql as an operator would, the schema first on the search path; unaligned `a|b` rows. */
  function psql(sql: string): string[] {
    const out = execFileSync('psql', ['-h', HOST, '-U', 'postgres', '-d', 'test', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
      encoding: 'utf8',
      env: { ...process.env, PGOPTIONS: `-c search_path=${schema}` },
    });
    return out.trim().split('\n');
  }

  beforeAll(async () => {
    backend = new PostgresBackend({ url: `${URL_BASE}?schema=${schema}`, resultExpires: 3600 });
    await backend.connect();
    const failure = (type: string) => ({ exc_type: type, exc_message: ['bad input'], exc_module: 'builtins' });
    const metas = [
      result('reports.render', 'SUCCESS', 5, { pages: 3 }),
      result('reports.render', 'SUCCESS', 20, { pages: 7 }),
      result('reports.render', 'FAILURE', 10, failure('ValueError')),
      result('reports.email', 'FAILURE', 2, failure('TimeoutError')),
      result('reports.email', 'FAILURE', 30, failure('TimeoutError')),
      result('reports.email', 'FAILURE', 59, failure('ValueError')),
      // Older than an hour: not in the answer.
      result('reports.render', 'FAILURE', 90, failure('ValueError')),
      result('reports.render', 'FAILURE', 2 * 24 * 60, failure('ValueError')),
      result('reports.archive', 'FAILURE', 120, failure('OSError')),
    ];
    await backend.setMany(metas.map((meta) => ({ taskId: meta.task_id, meta })));
  });

  afterAll(async () => {
    await backend?.close();
    const raw = new pg.Client({ connectionString: URL_BASE });
    await raw.connect();
    await raw.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await raw.end();
  });

  it('answers "failed tasks in the last hour by name" in plain SQL', () => {
    const failedLastHour = `SELECT name, count(*) FROM celery_results
WHERE status = 'FAILURE' AND date_done > now() - interval '1 hour'
GROUP BY name ORDER BY 2 DESC`;
    expect(psql(failedLastHour)).toEqual(['reports.email|3', 'reports.render|1']);
  });

  it('reads into the JSON columns: exception types of the last day, and results by name', () => {
    const byType = `SELECT result->>'exc_type' AS exc_type, count(*) FROM celery_results
WHERE status = 'FAILURE' AND date_done > now() - interval '1 day'
GROUP BY 1 ORDER BY 2 DESC, 1`;
    expect(psql(byType)).toEqual(['ValueError|3', 'TimeoutError|2', 'OSError|1']);
    const pages = `SELECT (result->>'pages')::int FROM celery_results WHERE name = 'reports.render' AND status = 'SUCCESS' ORDER BY 1`;
    expect(psql(pages)).toEqual(['3', '7']);
  });
});
