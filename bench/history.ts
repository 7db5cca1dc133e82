/**
 * Task-history benchmark on the embedded store (run on demand: `npx tsx bench/history.ts`):
 * - insert rate: BENCH_HISTORY_TASKS tasks (default 1,000,000) with about 4 events each (sent, received, started,
 *   succeeded or failed; 5% never finish), applied in batches of 500 updates interleaved as a monitor sees them
 *   (one batch holds the sends of some tasks and the later events of earlier ones);
 * - reads: p50/p99 of `list` (no filter, by state, by name, by worker, the second page through a cursor, text),
 *   `count` and `get` + `timeline`, over BENCH_HISTORY_QUERIES random queries each (default 300);
 * - the file size, then a prune down to a tenth of the tasks and the longest the event loop stood still meanwhile
 *   (each prune transaction runs synchronously, so that is the longest the write lock was held by it).
 * BENCH_HISTORY_URL (a postgresql:// URL) runs the same against PostgreSQL instead, in a schema of its own that is
 * dropped afterwards (add ?schema=... yourself to keep it).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openHistoryStore } from '../src/history/open.js';
import type { HistoryStore, TaskQuery, TaskUpdate } from '../src/history/port.js';
import { SqliteHistoryStore } from '../src/history/sqlite.js';

const N = Number(process.env.BENCH_HISTORY_TASKS ?? 1_000_000);
const Q = Number(process.env.BENCH_HISTORY_QUERIES ?? 300);
const PG_URL = process.env.BENCH_HISTORY_URL;
const BATCH = 500;
const PER_GROUP = BATCH / 4;
const T0 = Date.UTC(2026, 0, 1);
const NAMES = Array.from({ length: 40 }, (_, i) => `proj.tasks.job_${i}`);
const WORKERS = Array.from({ length: 8 }, (_, i) => `celery@host${i}`);
const QUEUES = ['celery', 'mail', 'reports', 'math'];

let seed = 42;
function rand(n: number): number {
  seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
  return seed % n;
}

/** A well-mixed hash of i, so that a task's fate does not follow its worker (both are derived from i). */
function mix(i: number): number {
  let h = Math.imul(i ^ (i >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

const idOf = (i: number) => `${(i * 2_654_435_761) % 4_294_967_296}`.padStart(10, '0') + `-${i}`;
const createdAt = (i: number) => T0 + i * 600;

/** Event `step` (0 sent .. 3 finished) of task `i`; undefined when that task has no such event. */
function event(i: number, step: number): TaskUpdate | undefined {
  const id = idOf(i);
  const at = createdAt(i) + step * 5;
  const host = WORKERS[i % WORKERS.length]!;
  const timeline = (type: string, fields: object) => ({ type, timestamp: at, hostname: step === 0 ? null : host, fields: JSON.stringify(fields) });
  if (step === 0) {
    const name = NAMES[i % NAMES.length]!;
    const args = `(${i}, 'x${i % 1000}')`;
    return { id, timestamp: at, state: 'PENDING', fields: { name, args, kwargs: '{}', queue: QUEUES[i % QUEUES.length]!, rootId: id }, timeline: timeline('task-sent', { name, args }) };
  }
  if (step === 1) return { id, timestamp: at, state: 'RECEIVED', fields: { worker: host, retries: 0 }, timeline: timeline('task-received', {}) };
  if (step === 2) return { id, timestamp: at, state: 'STARTED', fields: { worker: host }, timeline: timeline('task-started', { pid: 100 + (i % 4) }) };
  if (mix(i) % 20 === 7) return undefined;
  if (mix(i) % 10 === 3) {
    const exception = `ValueError('bad input ${i % 97}')`;
    return { id, timestamp: at, state: 'FAILURE', fields: { exception, traceback: `Traceback (most recent call last):\n${exception}` }, timeline: timeline('task-failed', { exception }) };
  }
  return { id, timestamp: at, state: 'SUCCESS', fields: { result: `${i * 2}`, runtime: 0.005 }, timeline: timeline('task-succeeded', { result: `${i * 2}`, runtime: 0.005 }) };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timed(label: string, runs: number, make: () => (() => Promise<unknown>) | Promise<() => Promise<unknown>>): Promise<void> {
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    // Setup (a first page, a random id) is not timed.
    const run = await make();
    const t = performance.now();
    await run();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  console.log(`${label.padEnd(34)} p50 ${pct(ms, 50).toFixed(2).padStart(8)} ms   p99 ${pct(ms, 99).toFixed(2).padStart(8)} ms   (${runs} runs)`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'celerity-history-bench-'));
  const file = path.join(dir, 'history.db');
  const schema = `celerity_bench_${process.pid}`;
  const pgUrl = PG_URL && `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
  let store: HistoryStore;
  if (pgUrl) {
    store = await openHistoryStore(pgUrl);
  } else {
    store = new SqliteHistoryStore({ path: file });
    await store.connect();
  }
  try {
    const groups = Math.ceil(N / PER_GROUP);
    let updates = 0;
    const t0 = performance.now();
    for (let g = 0; g < groups + 3; g++) {
      const batch: TaskUpdate[] = [];
      for (let step = 0; step < 4; step++) {
        const group = g - step;
        if (group < 0 || group >= groups) continue;
        for (let i = group * PER_GROUP; i < Math.min(N, (group + 1) * PER_GROUP); i++) {
          const u = event(i, step);
          if (u) batch.push(u);
        }
      }
      await store.apply(batch);
      updates += batch.length;
      if (g % 2000 === 0 && g > 0) console.log(`  ... ${Math.min(N, g * PER_GROUP)} tasks, ${Math.round(updates / ((performance.now() - t0) / 1000))} updates/s`);
    }
    const insertSec = (performance.now() - t0) / 1000;
    console.log(`inserted ${N} tasks (${updates} updates) in ${insertSec.toFixed(1)} s: ${Math.round(N / insertSec)} tasks/s, ${Math.round(updates / insertSec)} updates/s`);
    const size = pgUrl ? await schemaSize(pgUrl, schema) : ['', '-wal'].reduce((sum, ext) => sum + (statSync(file + ext, { throwIfNoEntry: false })?.size ?? 0), 0);
    console.log(`${pgUrl ? 'tables and indexes' : 'file size'}: ${(size / 1024 / 1024).toFixed(0)} MiB (${Math.round(size / N)} bytes per task)`);

    const pick = <T>(xs: readonly T[]) => xs[rand(xs.length)]!;
    const states = ['SUCCESS', 'FAILURE', 'STARTED'];
    await timed('list, no filter', Q, () => () => store.list({}));
    await timed('list, no filter, random until', Q, () => {
      const until = createdAt(rand(N));
      return () => store.list({ until });
    });
    await timed('list by state', Q, () => {
      const state = pick(states);
      return () => store.list({ state: [state] });
    });
    await timed('list by 2 states', Q, () => () => store.list({ state: ['FAILURE', 'STARTED'] }));
    await timed('list by name', Q, () => {
      const name = pick(NAMES);
      return () => store.list({ name });
    });
    await timed('list by name prefix', Q, () => () => store.list({ name: `proj.tasks.job_${rand(4) + 1}*` }));
    await timed('list by worker', Q, () => {
      const worker = pick(WORKERS);
      return () => store.list({ worker });
    });
    await timed('list by state + worker', Q, () => {
      const q: TaskQuery = { state: [pick(states)], worker: pick(WORKERS) };
      return () => store.list(q);
    });
    await timed('list, second page via cursor', Q, async () => {
      const q: TaskQuery = { state: [pick(states)] };
      const cursor = (await store.list(q)).next!;
      return () => store.list({ ...q, cursor });
    });
    await timed("list, text (common: 'ValueError')", Q, () => () => store.list({ text: 'valueerror' }));
    await timed("list, text (1 in 1000: \"'x123'\")", Q, () => {
      const text = `'x${rand(1000)}'`;
      return () => store.list({ text });
    });
    await timed('list, text (one task: its id)', 5, () => {
      const text = idOf(rand(N)).slice(0, 10);
      return () => store.list({ text });
    });
    await timed('count, no filter', 20, () => () => store.count({}));
    await timed('count by state', 20, () => {
      const state = pick(states);
      return () => store.count({ state: [state] });
    });
    await timed('get + timeline', Q, () => {
      const id = idOf(rand(N));
      return async () => {
        const task = await store.get(id);
        const events = await store.timeline(id);
        if (!task || events.length < 3) throw new Error(`task ${id} incomplete`);
      };
    });

    let longest = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 1);
    const tp = performance.now();
    const forgotten = await store.prune({ maxTasks: Math.round(N / 10) });
    clearInterval(ticker);
    const pruneSec = (performance.now() - tp) / 1000;
    console.log(`prune to ${Math.round(N / 10)} tasks: ${forgotten} forgotten in ${pruneSec.toFixed(1)} s (${Math.round(forgotten / pruneSec)}/s), longest event-loop stall ${longest.toFixed(1)} ms`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    if (PG_URL && !/[?&]schema=/.test(PG_URL)) await dropSchema(PG_URL, schema);
  }
}

async function schemaSize(url: string, schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, '') });
  await client.connect();
  try {
    const { rows } = await client.query<{ bytes: string }>(
      "SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
      [schema],
    );
    return Number(rows[0]?.bytes ?? 0);
  } finally {
    await client.end();
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  await client.end();
}

await main();
