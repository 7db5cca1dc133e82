/**
 * Generation jobs (images from prompts) that keep a status table in PostgreSQL, as teams do for dashboards and
 * support queries, besides reporting PROGRESS through the result backend for whoever holds the task id. A row of
 * `generation_jobs` per task: `id` (the task id), `prompt`, `status` (queued, running, done, failed), `progress`
 * (0-100), `result_url`, `updated_at`.
 *
 * GENERATION_DATABASE_URL chooses the database (default postgresql://postgres@127.0.0.1:5432/test) and
 * GENERATION_JOBS_TABLE the table (default generation_jobs).
 */
import pg from 'pg';
import { Celerity } from 'celerity';

export const app = new Celerity('generation', {
  taskRoutes: { 'generation.*': { queue: 'generation' } },
  queues: ['generation'],
});

export const DATABASE_URL = process.env.GENERATION_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** The table name goes into SQL text, so only a plain identifier is accepted. */
export function jobsTable(name = process.env.GENERATION_JOBS_TABLE ?? 'generation_jobs'): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`GENERATION_JOBS_TABLE must be a lower-case SQL identifier, got ${JSON.stringify(name)}`);
  return name;
}

const table = jobsTable();

// Idle connections must not keep a stopping worker alive.
let pool: pg.Pool | undefined;
export function db(): pg.Pool {
  pool ??= new pg.Pool({ connectionString: DATABASE_URL, max: 4, allowExitOnIdle: true });
  return pool;
}

export async function closeDb(): Promise<void> {
  await pool?.end();
  pool = undefined;
}

export async function createJobsTable(client: pg.Pool | pg.Client = db(), name = table): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${jobsTable(name)} (
    id text PRIMARY KEY,
    prompt text NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    result_url text,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`);
}

export interface JobRow {
  id: string;
  prompt: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  progress: number;
  result_url: string | null;
  updated_at: Date;
}

async function setRow(id: string, prompt: string, status: JobRow['status'], progress: number, resultUrl: string | null = null): Promise<void> {
  await db().query(
    `INSERT INTO ${table} (id, prompt, status, progress, result_url, updated_at) VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (id) DO UPDATE SET status = $3, progress = $4, result_url = COALESCE($5, ${table}.result_url), updated_at = now()`,
    [id, prompt, status, progress, resultUrl],
  );
}

/** Sends a job and records it as queued, so the table lists it before a worker picks it up. */
export async function submit(prompt: string, steps = 8) {
  const result = await generateImage.delay(prompt, steps);
  await db().query(`INSERT INTO ${table} (id, prompt, status) VALUES ($1, $2, 'queued') ON CONFLICT (id) DO NOTHING`, [result.id, prompt]);
  return result;
}

export const generateImage = app.task(
  'generation.image',
  async function (prompt: string, steps: number = 8) {
    if (typeof prompt !== 'string' || !prompt.trim()) throw new TypeError('prompt must be a non-empty string');
    if (!Number.isInteger(steps) || steps < 1 || steps > 100) throw new RangeError(`steps must be an integer from 1 to 100, got ${steps}`);
    await setRow(this.id, prompt, 'running', 0);
    let progress = 0;
    try {
      for (let step = 1; step <= steps; step++) {
        if (this.signal.aborted) throw this.signal.reason;
        // A diffusion step stands in here; a prompt asking for it fails half way, as a model error would.
        await new Promise((r) => setTimeout(r, 30));
        if (prompt.includes('[fail]') && step > steps / 2) throw new Error(`model error at step ${step}`);
        progress = Math.round((step / steps) * 100);
        await this.updateState('PROGRESS', { current: step, total: steps, progress });
        // The last step's row is the `done` one below, so a running row never claims 100%.
        if (step < steps) await setRow(this.id, prompt, 'running', progress);
      }
    } catch (err) {
      // The task's own failure is what matters; a table write failing now must not hide it.
      await setRow(this.id, prompt, 'failed', progress).catch(() => undefined);
      throw err;
    }
    const url = `https://cdn.example.com/generated/${this.id}.png`;
    await setRow(this.id, prompt, 'done', 100, url);
    return { prompt, steps, url };
  },
  { params: ['prompt', 'steps'] },
);
