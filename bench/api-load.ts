/**
 * REST API under load (run on demand: `npm --prefix bench install`, `npm run build`, then
 * `npx tsx bench/api-load.ts`): the history holds BENCH_HISTORY_TASKS tasks (1,000,000 by default, seeded once into
 * a SQLite file that later runs reuse), `celerity api` serves it in its own process while a second process
 * publishes BENCH_EVENTS_PER_SEC task events (1,000 by default) on Redis that the API's monitor writes into the same
 * history, and autocannon measures list and detail queries, one kind at a time. Prints latency percentiles per
 * query kind, the events the monitor stored meanwhile, and the API process's RSS.
 * Environment: BENCH_HISTORY (the SQLite file, default in the OS temp folder), BENCH_SECONDS (per query kind, 10),
 * BENCH_CONNECTIONS (10), BENCH_REDIS (redis://127.0.0.1:6379/9).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lineOf, startEventProducer } from './children.js';
import { openHistoryStore } from '../src/history/open.js';
import type { TaskUpdate } from '../src/history/port.js';

const env = process.env;
const TASKS = Number(env.BENCH_HISTORY_TASKS ?? 1_000_000);
const RATE = Number(env.BENCH_EVENTS_PER_SEC ?? 1000);
const SECONDS = Number(env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 10);
const REDIS = env.BENCH_REDIS ?? 'redis://127.0.0.1:6379/9';
const FILE = env.BENCH_HISTORY ?? path.join(os.tmpdir(), `celerity-bench-history-${TASKS}.db`);
const benchDir = fileURLToPath(new URL('.', import.meta.url));
const root = path.dirname(benchDir);

const NAMES = ['reports.generate', 'media.thumbnail', 'media.faces.detect', 'crawl.fetch', 'validation.check', 'email.send'];
const WORKERS = ['celerity@web-1', 'celerity@web-2', 'celery@py-1', 'celery@py-2'];
const QUEUES = ['celery', 'crawl', 'reports'];
const seedId = (i: number) => `seed-${String(i).padStart(8, '0')}`;

interface Latency { p50: number; p90: number; p99: number; max: number }
interface CannonResult { latency: Latency; requests: { average: number; total: number }; non2xx: number; errors: number }
type Cannon = (opts: Record<string, unknown>) => Promise<CannonResult>;

async function loadCannon(): Promise<Cannon> {
  // Resolved at run time from bench/node_modules, so the project's type check does not need the bench packages.
  const specifier: string = 'autocannon';
  const mod = (await import(specifier)) as { default: Cannon };
  return mod.default;
}

/** Seeds the history with TASKS finished tasks (received, started, succeeded or failed) over the last six days. */
async function seed(): Promise<void> {
  const store = await openHistoryStore(`sqlite://${FILE}`);
  const have = await store.count({});
  if (have >= TASKS) {
    process.stdout.write(`history: ${have.toLocaleString('en')} tasks already in ${FILE}\n`);
    await store.close();
    return;
  }
  const t0 = performance.now();
  const now = Date.now();
  const span = 6 * 24 * 3600 * 1000;
  let batch: TaskUpdate[] = [];
  for (let i = have; i < TASKS; i++) {
    const id = seedId(i);
    const at = now - span + Math.floor((i / TASKS) * span);
    const failed = i % 10 === 0;
    const name = NAMES[i % NAMES.length]!;
    const common = { name, worker: WORKERS[i % WORKERS.length]!, queue: QUEUES[i % QUEUES.length]!, args: `('c-${i % 977}', ${i % 12})`, kwargs: '{}', rootId: id };
    batch.push(
      { id, timestamp: at, state: 'RECEIVED', fields: common, timeline: { type: 'task-received', timestamp: at, hostname: common.worker, fields: null } },
      { id, timestamp: at + 5, state: 'STARTED', timeline: { type: 'task-started', timestamp: at + 5, hostname: common.worker, fields: null } },
      failed
        ? { id, timestamp: at + 40, state: 'FAILURE', fields: { exception: "ValueError('bad input')", traceback: 'Traceback (most recent call last):\n  ...\nValueError: bad input' }, timeline: { type: 'task-failed', timestamp: at + 40, hostname: common.worker, fields: null } }
        : { id, timestamp: at + 40, state: 'SUCCESS', fields: { result: "{'ok': True}", runtime: 0.035 }, timeline: { type: 'task-succeeded', timestamp: at + 40, hostname: common.worker, fields: null } },
    );
    if (batch.length >= 3000) {
      await store.apply(batch);
      batch = [];
      if ((i + 1) % 100_000 === 0) process.stdout.write(`seeded ${(i + 1).toLocaleString('en')}\n`);
    }
  }
  if (batch.length) await store.apply(batch);
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(`history: seeded ${(TASKS - have).toLocaleString('en')} tasks in ${secs.toFixed(0)} s into ${FILE}\n`);
  await store.close();
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

await seed();
const cannon = await loadCannon();
const childEnv = {
  ...Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CELERITY_'))),
  CELERITY_BROKER_URL: REDIS,
  CELERITY_RESULT_BACKEND: REDIS,
  CELERITY_HISTORY_URL: `sqlite://${FILE}`,
  CELERITY_LOGLEVEL: 'warn',
};
const api = spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), 'api', '--host', '127.0.0.1', '--port', '0'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
const base = (await lineOf(api, /(http:\/\/127\.0\.0\.1:\d+)/, 'celerity api'))[1]!;
const events = await startEventProducer(childEnv, REDIS, RATE);

const history = await openHistoryStore(`sqlite://${FILE}`);
const before = await history.count({ worker: 'celerity@bench-events' });
const first = await (await fetch(`${base}/api/v1/tasks?limit=50`)).json() as { next: string };
const randomSeed = () => seedId(Math.floor(Math.random() * TASKS));
const kinds: [string, Record<string, unknown>][] = [
  ['list newest 50', { path: '/api/v1/tasks?limit=50' }],
  ['list state=FAILURE', { path: '/api/v1/tasks?state=FAILURE&limit=50' }],
  ['list name=crawl.fetch', { path: '/api/v1/tasks?name=crawl.fetch&limit=50' }],
  ['list worker + since 1d', { path: `/api/v1/tasks?worker=celery%40py-1&since=1d&limit=50` }],
  ['list second page', { path: `/api/v1/tasks?limit=50&cursor=${encodeURIComponent(first.next)}` }],
  // A substring search has no index to use: it reads newest first until it has a page, so a rare needle costs most.
  ['text search q=c-42', { path: '/api/v1/tasks?q=c-42&limit=50' }],
  ['detail (random id)', { setupRequest: (req: Record<string, unknown>) => ({ ...req, path: `/api/v1/tasks/${randomSeed()}` }) }],
];
const rows: string[] = [];
const t0 = performance.now();
for (const [label, request] of kinds) {
  const r = await cannon({ url: base, connections: CONNECTIONS, duration: SECONDS, requests: [{ method: 'GET', ...request }] });
  rows.push(`| ${label} | ${Math.round(r.requests.average)} | ${r.latency.p50} | ${r.latency.p90} | ${r.latency.p99} | ${r.latency.max} | ${r.non2xx + r.errors} |`);
}
const elapsed = (performance.now() - t0) / 1000;
const rss = rssMiB(api.pid!);
const sentLine = await events.stop();
// Let the monitor write what it still holds before counting what reached the history.
await new Promise((r) => setTimeout(r, 1500));
const after = await history.count({ worker: 'celerity@bench-events' });
await history.close();
api.kill('SIGTERM');

process.stdout.write(
  [
    '',
    `REST API, ${TASKS.toLocaleString('en')} tasks in history (SQLite), ${RATE} events/s flowing, ${CONNECTIONS} connections, ${SECONDS} s per query kind`,
    '',
    '| query | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `${sentLine}; tasks from them stored by the monitor during the ${elapsed.toFixed(0)} s of load: ${(after - before).toLocaleString('en')} (${Math.round((after - before) / elapsed)} tasks/s, ${Math.round((3 * (after - before)) / elapsed)} events/s)`,
    `API process RSS at the end: ${rss.toFixed(0)} MiB; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    '',
  ].join('\n'),
);
process.exit(0);
