/**
 * Embedded-store benchmark (run on demand: `npm run bench`), median of three runs, printed as a table:
 * - enqueue rate: N `delay()` calls issued concurrently (coalesced into transactions by the producer);
 * - processing throughput: N queued no-op tasks drained by one worker with results stored;
 * - round trip: sequential `delay()` -> `get()` against a worker in another process, p50/p99.
 * Environment: BENCH_TASKS (default 20000), BENCH_ROUNDTRIPS (default 500), BENCH_CONCURRENCY (default 100).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Celerity } from '../src/index.js';

const N = Number(process.env.BENCH_TASKS ?? 20_000);
const RT = Number(process.env.BENCH_ROUNDTRIPS ?? 500);
const C = Number(process.env.BENCH_CONCURRENCY ?? 100);
const root = fileURLToPath(new URL('..', import.meta.url));

function freshStore(): { url: string; done(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'celerity-bench-'));
  return { url: `sqlite://${path.join(dir, 'bench.db')}`, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function app(url: string): Celerity {
  return new Celerity('bench', { broker: url, backend: url, loglevel: 'warn', logFormat: 'json', concurrency: C }, {});
}

async function throughput(): Promise<{ enqueue: number; process: number }> {
  const store = freshStore();
  const a = app(store.url);
  const noop = a.task('bench.noop', () => null);
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, N - i) }, () => noop.delay()));
  }
  const enqueueSec = (performance.now() - t0) / 1000;
  const worker = a.worker();
  let done = 0;
  const finished = new Promise<void>((resolve) => worker.on('task-succeeded', () => ++done === N && resolve()));
  const t1 = performance.now();
  await worker.start();
  await finished;
  await worker.stop(); // flushes the last batch of results and acks
  const processSec = (performance.now() - t1) / 1000;
  await a.close();
  store.done();
  return { enqueue: N / enqueueSec, process: N / processSec };
}

async function roundTrip(): Promise<{ p50: number; p99: number }> {
  const store = freshStore();
  const env = { ...process.env, CELERITY_BROKER_URL: store.url, CELERITY_RESULT_BACKEND: store.url };
  const proc = spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), 'worker', '-A', path.join(root, 'bench/app.ts'), '-c', '4', '--log-format', 'json', '--loglevel', 'info'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => createInterface({ input: proc.stdout! }).on('line', (l) => l.includes('ready.') && resolve()));
  proc.stdout!.resume();
  const a = app(store.url);
  const samples: number[] = [];
  for (let i = 0; i < RT; i++) {
    const t = performance.now();
    await (await a.sendTask('bench.noop')).get({ timeout: 10_000 });
    samples.push(performance.now() - t);
  }
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  await a.close();
  store.done();
  samples.sort((x, y) => x - y);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: Record<string, number[]> = {
  'enqueue (tasks/s)': [],
  [`process, c=${C} (tasks/s)`]: [],
  'delay->get p50 (ms)': [],
  'delay->get p99 (ms)': [],
};
for (let run = 0; run < 3; run++) {
  const t = await throughput();
  rows['enqueue (tasks/s)']!.push(t.enqueue);
  rows[`process, c=${C} (tasks/s)`]!.push(t.process);
  const l = await roundTrip();
  rows['delay->get p50 (ms)']!.push(l.p50);
  rows['delay->get p99 (ms)']!.push(l.p99);
}
const fmt = (n: number) => (n >= 100 ? Math.round(n).toString() : n.toFixed(2));
console.log(`\nembedded SQLite store, ${N} tasks, ${RT} round trips, Node ${process.version}, ${os.cpus().length} cores\n`);
console.log('| metric | run 1 | run 2 | run 3 | median |');
console.log('|---|---|---|---|---|');
for (const [name, xs] of Object.entries(rows)) console.log(`| ${name} | ${xs.map(fmt).join(' | ')} | ${fmt(median(xs))} |`);
