/**
 * `npx tsx examples/generation/main.ts`: a worker on the embedded store, three prompts submitted (one of them
 * fails half way), the `generation_jobs` table printed as it changes, then the results.
 */
import { fileURLToPath } from 'node:url';
import { startWorker } from '../shared/workers.js';
import { app, closeDb, createJobsTable, db, jobsTable, submit, type JobRow } from './tasks.js';

const tasks = fileURLToPath(new URL('./tasks.ts', import.meta.url));
const table = jobsTable();

await createJobsTable();
const worker = await startWorker(tasks, ['-Q', 'generation', '-c', '2']);
const jobs = [await submit('a lighthouse at dusk, oil painting', 10), await submit('a red fox in snow', 6), await submit('a city skyline [fail]', 8)];
const ids = jobs.map((j) => j.id);

let shown = '';
for (const end = Date.now() + 60_000; ; ) {
  if (Date.now() > end) throw new Error('the jobs did not finish within 60 s; run with EXAMPLE_VERBOSE=1 to see the worker');
  const { rows } = await db().query<JobRow>(`SELECT * FROM ${table} WHERE id = ANY($1) ORDER BY prompt`, [ids]);
  const text = rows.map((r) => `  ${r.prompt.padEnd(36)} ${r.status.padEnd(8)} ${String(r.progress).padStart(3)}%  ${r.result_url ?? ''}`).join('\n');
  if (text !== shown) console.log(`${text}\n`);
  shown = text;
  if (rows.length === ids.length && rows.every((r) => r.status === 'done' || r.status === 'failed')) break;
  await new Promise((r) => setTimeout(r, 50));
}

for (const job of jobs) {
  const value = await job.get({ timeout: 10_000, propagate: false });
  console.log(`${job.id}: ${value instanceof Error ? `${value.name}: ${value.message}` : JSON.stringify(value)}`);
}
await worker.stop();
await Promise.all([app.close(), closeDb()]);
