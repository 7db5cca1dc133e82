/**
 * Each example's one command (`npx tsx examples/<x>/main.ts`) run as its README says, on a fresh SQLite file: it
 * starts its own workers, exits 0 and prints what the README shows. The examples' behaviour is checked in detail
 * by their own test files; this proves the command a reader copies works.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { pingPostgres, requireService } from '../services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/test';
const postgres = await requireService('PostgreSQL', () => pingPostgres(DATABASE_URL));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs `npx tsx examples/<name>/main.ts` (as node --import tsx) to its end on a fresh file; killed after 45 s. */
async function runExample(name: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tmp = tempDir();
  cleanups.push(() => tmp.cleanup());
  const url = `sqlite://${path.join(tmp.dir, 'celerity.db')}`;
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  const env = { ...base, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url, ...extraEnv };
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'examples', name, 'main.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => proc.kill('SIGTERM'), 45_000);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => proc.once('close', r));
  clearTimeout(killer);
  return { code, stdout, stderr };
}

describe('examples, run with their one command', () => {
  it('media-detection', { timeout: 60_000 }, async () => {
    const r = await runExample('media-detection');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/objects street\.jpg +queue object_detection, 1 frame\(s\) scanned/);
    expect(r.stdout).toMatch(/faces {3}lobby\.mp4 \(frame_skip 4\) +queue face_detection, \d+ frame\(s\) scanned/);
  });

  it('video', { timeout: 60_000 }, async () => {
    const r = await runExample('video');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/short\.mp4 \(4 segments\) +-> [0-9a-f-]{36}\.mp4/);
    expect(r.stdout).toContain('SoftTimeLimitExceeded: soft time limit (1s) exceeded');
    expect(r.stdout).toContain('TimeLimitExceeded: hard time limit (2s) exceeded');
  });

  it('email', { timeout: 60_000 }, async () => {
    const r = await runExample('email');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ada@example\.com +SMTP saw 1 attempt\(s\); accepted after 1 attempt\(s\)/);
    expect(r.stdout).toMatch(/flaky\+2@example\.com +SMTP saw 3 attempt\(s\); accepted after 3 attempt\(s\)/);
    expect(r.stdout).toMatch(/bounce@example\.com +SMTP saw 1 attempt\(s\); SmtpPermanentError: RCPT TO: 550/);
  });

  it.skipIf(!postgres.ok)(`generation${postgres.ok ? '' : ` (skipped: ${postgres.reason})`}`, { timeout: 60_000 }, async () => {
    const table = `generation_jobs_${randomUUID().slice(0, 8)}`;
    cleanups.push(async () => {
      const sql = new pg.Client({ connectionString: DATABASE_URL });
      await sql.connect();
      await sql.query(`DROP TABLE IF EXISTS ${table}`);
      await sql.end();
    });
    const r = await runExample('generation', { GENERATION_DATABASE_URL: DATABASE_URL, GENERATION_JOBS_TABLE: table });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/a red fox in snow +done +100% +https:\/\/cdn\.example\.com\/generated\//);
    expect(r.stdout).toMatch(/a city skyline \[fail\] +failed +50%/);
    expect(r.stdout).toContain('Error: model error at step 5');
  });
});
