/**
 * examples/generation: a worker on one SQLite file keeps a status table in the real PostgreSQL (a table of this
 * test's own) while reporting PROGRESS: the table shows running rows with progress, then done with a result URL,
 * or failed where the task failed; bad arguments fail with a clear error.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { app, createJobsTable, type JobRow } from '../../examples/generation/tasks.js';
import { pingPostgres, requireService } from '../services.js';
import { useSqliteCli } from './sqlite-cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tasks = path.join(root, 'examples/generation/tasks.ts');
const DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/test';
const table = `generation_jobs_${randomUUID().slice(0, 8)}`;
const ready = await requireService('PostgreSQL', () => pingPostgres(DATABASE_URL));
const fresh = useSqliteCli(tasks, () => ({ GENERATION_DATABASE_URL: DATABASE_URL, GENERATION_JOBS_TABLE: table }));

let sql: pg.Client;
beforeAll(async () => {
  if (!ready.ok) return;
  sql = new pg.Client({ connectionString: DATABASE_URL });
  await sql.connect();
  await createJobsTable(sql, table);
});
afterAll(async () => {
  if (!sql) return;
  await sql.query(`DROP TABLE IF EXISTS ${table}`);
  await sql.end();
});

const row = async (id: string) => (await sql.query<JobRow>(`SELECT * FROM ${table} WHERE id = $1`, [id])).rows[0];

describe.skipIf(!ready.ok)(`examples/generation${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  it('keeps generation_jobs in step with PROGRESS, through done and failed', { timeout: 60_000 }, async () => {
    const s = fresh();
    await s.worker('generation', ['-Q', 'generation', '-c', '2']);
    const client = new Celerity('producer', { broker: s.url, backend: s.url, loglevel: 'silent', taskRoutes: app.conf.taskRoutes }, {});
    try {
      const job = await client.sendTask<any>('generation.image', ['a red fox in snow', 10]);
      const failing = await client.sendTask('generation.image', ['a city skyline [fail]', 8]);

      // What a dashboard reading the table and a client polling the result see, until the job is done.
      const rows: JobRow[] = [];
      const progress: any[] = [];
      for (const end = Date.now() + 20_000; Date.now() < end; ) {
        const meta = await job.meta();
        if (meta?.status === 'PROGRESS') progress.push(meta.result);
        const r = await row(job.id);
        if (r) rows.push(r);
        if (r?.status === 'done') break;
        await new Promise((res) => setTimeout(res, 10));
      }
      expect(await job.get({ timeout: 20_000 })).toEqual({ prompt: 'a red fox in snow', steps: 10, url: `https://cdn.example.com/generated/${job.id}.png` });
      const running = rows.filter((r) => r.status === 'running');
      expect(running.length).toBeGreaterThan(0);
      for (const r of running) expect(r.progress).toBeLessThan(100);
      expect(progress.length).toBeGreaterThan(0);
      for (const p of progress) expect(p).toEqual({ current: expect.any(Number), total: 10, progress: p.current * 10 });

      const done = (await row(job.id))!;
      expect(done).toMatchObject({ id: job.id, prompt: 'a red fox in snow', status: 'done', progress: 100, result_url: `https://cdn.example.com/generated/${job.id}.png` });
      expect(done.updated_at).toBeInstanceOf(Date);

      const err = (await failing.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
      expect(err.message).toBe('model error at step 5');
      expect(await row(failing.id)).toMatchObject({ status: 'failed', progress: 50, result_url: null });

      const bad = await client.sendTask('generation.image', ['a cat', 0]);
      const badErr = (await bad.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
      // Stored under Python's name for a RangeError, so Celery clients read it too.
      expect(badErr.name).toBe('ValueError');
      expect(badErr.message).toBe('steps must be an integer from 1 to 100, got 0');
      expect(await row(bad.id)).toBeUndefined();
    } finally {
      await client.close();
    }
  });
});
