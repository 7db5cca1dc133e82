/**
 * The result table is plain: the sqlite3 shell can answer "failed tasks by name" without Celerity.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Celerity } from '../../src/index.js';
import { sqliteApp, tempDir } from '../helpers.js';
import { requireService } from '../services.js';

const shell = await requireService('the sqlite3 shell', () => {
  if (spawnSync('sqlite3', ['-version']).status !== 0) throw new Error('not installed (apt-get install sqlite3)');
});

describe.skipIf(!shell.ok)(`results queryable with the sqlite3 shell${shell.ok ? '' : ` (skipped: ${shell.reason})`}`, () => {
  let tmp: ReturnType<typeof tempDir>;
  let app: Celerity;

  beforeAll(async () => {
    tmp = tempDir();
    app = sqliteApp(tmp.dir);
    const ok = app.task('report.ok', (n: number) => n * 2);
    const bad = app.task('report.bad', (n: number) => {
      throw new Error(`bad ${n}`);
    });
    const worker = app.worker();
    await worker.start();
    const rs = [await ok.delay(1), await ok.delay(2), await bad.delay(3), await bad.delay(4)];
    await Promise.all(rs.map((r) => r.get({ timeout: 5000, propagate: false })));
    await worker.stop();
  });

  afterAll(async () => {
    await app.close();
    tmp.cleanup();
  });

  it('answers "failed tasks in the last hour by name" in plain SQL', () => {
    const db = path.join(tmp.dir, 'celerity.db');
    const sql = `select name, count(*) from celery_results where status = 'FAILURE' and date_done >= strftime('%Y-%m-%dT%H:%M:%f', 'now', '-1 hour') group by name`;
    expect(execFileSync('sqlite3', [db, sql], { encoding: 'utf8' }).trim()).toBe('report.bad|2');
    const results = execFileSync('sqlite3', [db, "select json_extract(result, '$') from celery_results where name = 'report.ok' order by 1"], { encoding: 'utf8' });
    expect(results.trim().split('\n')).toEqual(['2', '4']);
  });
});
