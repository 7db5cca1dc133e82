/**
 * CPU-bound work on this machine's cores: `celerity worker -P threads`, `-P process` and `-P async` against a
 * Python Celery prefork worker, all at the same concurrency, on the same Redis, running the same task (primes below
 * n by trial division, bench/cpu-app.ts and bench/py/cpu_proj.py), sent by the same Celerity producer.
 *
 *   npx tsx bench/cpu-pools.ts
 *
 * For each pool: the CPU phase sends BENCH_CPU_TASKS (40) tasks of n = BENCH_CPU_N (200,000) and times them from the
 * first send to the last result; the overhead phase does the same with BENCH_NOOP_TASKS (2,000) no-op tasks, so
 * its time per task is what the pool adds around a task (dispatch to a child, result back, store, ack). Medians of
 * BENCH_RUNS (3). A fresh worker per pool and run; Redis databases 12 (broker) and 13 (results) are flushed first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Celerity } from '../src/index.js';
import { countPrimes } from './cpu-app.js';

const env = process.env;
const RUNS = Number(env.BENCH_RUNS ?? 3);
const CPU_TASKS = Number(env.BENCH_CPU_TASKS ?? 40);
const CPU_N = Number(env.BENCH_CPU_N ?? 200_000);
const NOOP_TASKS = Number(env.BENCH_NOOP_TASKS ?? 2_000);
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 2);
const HOST = env.BENCH_REDIS_HOST ?? '127.0.0.1';
const PORT = Number(env.BENCH_REDIS_PORT ?? 6379);
const BROKER = `redis://${HOST}:${PORT}/12`;
const BACKEND = `redis://${HOST}:${PORT}/13`;
const POOLS = (env.BENCH_POOLS ?? 'threads,process,async,celery-prefork').split(',');

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');

interface Figures {
  cpuTasksPerSec: number;
  cpuMsPerTask: number;
  noopTasksPerSec: number;
  noopUsPerTask: number;
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CELERITY_')));
}

async function flush(): Promise<void> {
  for (const db of [12, 13]) {
    const r = new Redis({ host: HOST, port: PORT, db });
    await r.flushdb();
    r.disconnect();
  }
}

/** Starts the worker for `pool` and resolves once it has answered a no-op (its children are up by then). */
async function startWorker(pool: string, client: Celerity): Promise<ChildProcess> {
  let proc: ChildProcess;
  if (pool === 'celery-prefork') {
    proc = spawn('/usr/bin/python3', ['-m', 'celery', '-A', 'cpu_proj', 'worker', '-P', 'prefork', '-c', String(CONCURRENCY), '-Q', 'cpu', '--loglevel', 'WARNING'], {
      cwd: path.join(benchDir, 'py'),
      env: { ...cleanEnv(), BENCH_BROKER: BROKER, BENCH_BACKEND: BACKEND },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } else {
    proc = spawn(
      process.execPath,
      [path.join(root, 'dist/cli/main.js'), 'worker', '-A', path.join(benchDir, 'cpu-app.ts'), '-P', pool, '-c', String(CONCURRENCY), '-Q', 'cpu', '-l', 'warn', '--log-format', 'json'],
      { env: { ...cleanEnv(), CELERITY_BROKER_URL: BROKER, CELERITY_RESULT_BACKEND: BACKEND }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    createInterface({ input: proc.stdout! }).on('line', () => undefined);
  }
  const err: string[] = [];
  proc.stderr!.on('data', (d) => err.push(String(d)));
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`${pool} worker exited with ${code}: ${err.join('')}`))));
  const warm = Promise.all(Array.from({ length: CONCURRENCY * 2 }, () => client.sendTask('bench.noop', [], { queue: 'cpu' }).then((r) => r.get({ timeout: 60_000 }))));
  await Promise.race([warm, exited]);
  return proc;
}

async function stopWorker(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  await gone;
  clearTimeout(timer);
}

async function timeTasks(client: Celerity, name: string, args: unknown[], count: number): Promise<number> {
  const start = performance.now();
  const sent = await Promise.all(Array.from({ length: count }, () => client.sendTask(name, args, { queue: 'cpu' })));
  await Promise.all(sent.map((r) => r.get({ timeout: 600_000 })));
  return performance.now() - start;
}

async function measure(pool: string): Promise<Figures> {
  await flush();
  const client = new Celerity('cpu-bench-client', { broker: BROKER, backend: BACKEND, loglevel: 'warn' }, {});
  const proc = await startWorker(pool, client);
  try {
    const cpuMs = await timeTasks(client, 'bench.primes', [CPU_N], CPU_TASKS);
    const noopMs = await timeTasks(client, 'bench.noop', [], NOOP_TASKS);
    return {
      cpuTasksPerSec: (CPU_TASKS * 1000) / cpuMs,
      cpuMsPerTask: cpuMs / CPU_TASKS,
      noopTasksPerSec: (NOOP_TASKS * 1000) / noopMs,
      noopUsPerTask: (noopMs * 1000) / NOOP_TASKS,
    };
  } finally {
    await stopWorker(proc);
    await client.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

async function main(): Promise<void> {
  const t = performance.now();
  const single = countPrimes(CPU_N);
  const jsMs = performance.now() - t;
  const results = new Map<string, Figures[]>();
  for (let run = 1; run <= RUNS; run++) {
    for (const pool of POOLS) {
      process.stderr.write(`run ${run}/${RUNS}: ${pool}\n`);
      const figures = await measure(pool);
      results.set(pool, [...(results.get(pool) ?? []), figures]);
    }
  }
  const lines = [
    `# CPU-bound tasks by pool (${CONCURRENCY} workers' worth of concurrency, medians of ${RUNS})`,
    '',
    `- task: primes below ${CPU_N.toLocaleString('en-US')} (${single} of them) by trial division; one run on this thread takes ${jsMs.toFixed(1)} ms in Node`,
    `- CPU phase: ${CPU_TASKS} tasks; overhead phase: ${NOOP_TASKS} no-op tasks; both sent at once by one Celerity producer, timed to the last result`,
    '',
    '| pool | CPU tasks/s | ms per CPU task (wall) | no-op tasks/s | µs per no-op task (wall) |',
    '|---|---|---|---|---|',
  ];
  for (const [pool, runs] of results) {
    const m = (k: keyof Figures) => median(runs.map((r) => r[k]));
    lines.push(`| ${pool} | ${fmt(m('cpuTasksPerSec'))} | ${fmt(m('cpuMsPerTask'))} | ${fmt(m('noopTasksPerSec'))} | ${fmt(m('noopUsPerTask'))} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
