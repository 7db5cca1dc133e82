/**
 * Canvas at scale: a chord of 10,000 no-op members whose body gets the list of their results, and a chain of 1,000
 * steps each adding one to the result before it, on Celerity with Redis (broker and result backend), Celerity on
 * its embedded SQLite store (broker and results in one file), and Python Celery 5.2 on the same Redis.
 *
 *   npx tsx bench/canvas.ts
 *
 * Every worker and producer is a child process of its own: a Celerity worker (async pool) or a Celery prefork
 * worker at the same concurrency, and a producer in the system's own language (this file with `producer`, or
 * bench/py/canvas_driver.py). The orchestrator warms each pair up with a small chord and chain, then times:
 *
 * - chord: from just before the header is built to the body's result (and to `applyAsync` resolving: publish);
 *   the body returns [length, sum] of what it got, and appends a line to a marks file each time it runs, checked
 *   at the end of the round (exactly one line for the timed chord);
 * - chain: from just before the chain is built to the last step's result, which must equal the number of steps.
 *
 * For each phase it also takes the peak RSS (VmHWM, reset through /proc/<pid>/clear_refs before the phase) of the
 * worker's processes and of the producer, their CPU time, and, sampling every 20 ms, the peak growth of Redis's
 * `used_memory` (or of the SQLite file and its WAL). Systems run one after another, alternating in each round.
 *
 * Environment: BENCH_ROUNDS (3), BENCH_CHORD (10000), BENCH_CHAIN (1000), BENCH_CONCURRENCY (2), BENCH_SYSTEMS
 * (celerity-redis,celerity-sqlite,celery-redis), BENCH_WARMUP_CHORD (200), BENCH_WARMUP_CHAIN (50),
 * BENCH_TIMEOUT_S (900, per phase), BENCH_REDIS_HOST/PORT (127.0.0.1:6379), BENCH_REDIS_DB (11: flushed before
 * each system's round and left empty), BENCH_PY_FOLLOW_PARENTS (0), BENCH_JSON=<file> for the raw figures.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { cpuSeconds, exited, processTree } from './procs.js';
import { killAll, Peer as Child, stopChild, TAG, type ErrorReply } from './peer.js';

type Peer = Child<Reply>;
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import type * as CelerityModule from '../src/index.js';

const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const CHORD = Number(env.BENCH_CHORD ?? 10_000);
const CHAIN = Number(env.BENCH_CHAIN ?? 1_000);
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 2);
const WARMUP_CHORD = Number(env.BENCH_WARMUP_CHORD ?? 200);
const WARMUP_CHAIN = Number(env.BENCH_WARMUP_CHAIN ?? 50);
const TIMEOUT_S = Number(env.BENCH_TIMEOUT_S ?? 900);
const HOST = env.BENCH_REDIS_HOST ?? '127.0.0.1';
const PORT = Number(env.BENCH_REDIS_PORT ?? 6379);
const DB = Number(env.BENCH_REDIS_DB ?? 11);
const REDIS_URL = `redis://${HOST}:${PORT}/${DB}`;
const QUEUE = 'canvas';

type System = 'celerity-redis' | 'celerity-sqlite' | 'celery-redis';
const ALL_SYSTEMS: System[] = ['celerity-redis', 'celerity-sqlite', 'celery-redis'];
const SYSTEMS = (env.BENCH_SYSTEMS ?? ALL_SYSTEMS.join(',')).split(',').map((s) => s.trim()) as System[];
for (const s of SYSTEMS) if (!ALL_SYSTEMS.includes(s)) throw new Error(`unknown system ${s}: expected ${ALL_SYSTEMS.join(', ')}`);

const benchFile = fileURLToPath(import.meta.url);
const benchDir = path.dirname(benchFile);
const root = path.resolve(benchDir, '..');

type Reply =
  | { type: 'ready'; pid: number }
  | { type: 'chord'; publishMs: number; totalMs: number; length: number; sum: number }
  | { type: 'chain'; publishMs: number; totalMs: number; value: number };

// =================================================================================================================
// Child roles: a Celerity worker or producer (the orchestrator runs this same file with `worker` / `producer`).
// =================================================================================================================

function reply(r: Reply | ErrorReply): void {
  process.stdout.write(`${TAG}${JSON.stringify(r)}\n`);
}

async function celerityApp(): Promise<{ app: CelerityModule.Celerity; mod: typeof CelerityModule }> {
  // The snapshot the orchestrator compiled (see bench/snapshot.ts); src/ through tsx when run by hand.
  const spec = env.BENCH_CELERITY_MODULE ? pathToFileURL(env.BENCH_CELERITY_MODULE).href : '../src/index.js';
  const mod = (await import(spec)) as typeof CelerityModule;
  const url = env.BENCH_CANVAS_URL!;
  // The third argument is the environment: CELERITY_* variables of the shell must not change what is measured.
  const app = new mod.Celerity('canvas-bench', { broker: url, backend: url, defaultQueue: QUEUE, concurrency: CONCURRENCY, loglevel: 'warn', logFormat: 'json' }, {});
  return { app, mod };
}

function registerTasks(app: CelerityModule.Celerity) {
  const marks = env.BENCH_MARKS!;
  return {
    noop: app.task('bench.canvas.noop', (i: number) => i),
    inc: app.task('bench.canvas.inc', (x: number) => x + 1),
    collect: app.task('bench.canvas.collect', (values: number[], tag: string) => {
      appendFileSync(marks, `${tag} ${values.length}\n`);
      return [values.length, values.reduce((s, v) => s + v, 0)];
    }),
  };
}

async function workerRole(): Promise<void> {
  const { app } = await celerityApp();
  registerTasks(app);
  const worker = app.worker({ concurrency: CONCURRENCY, queues: [QUEUE] });
  const started = worker.start();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Worker.stop() while start() is still connecting rejects (its completer does not exist yet): wait for it.
    await started.catch(() => undefined);
    await worker.stop({ timeout: 5 });
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // Orphaned (the orchestrator died without stopping it): stdin closes.
  process.stdin.on('end', () => void stop()).resume();
  await started;
  reply({ type: 'ready', pid: process.pid });
}

async function producerRole(): Promise<void> {
  const { app, mod } = await celerityApp();
  const t = registerTasks(app);
  await Promise.all([app.broker(), app.backend()]);
  const timeout = TIMEOUT_S * 1000;
  reply({ type: 'ready', pid: process.pid });
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, a, b] = line.trim().split(/\s+/);
    try {
      if (cmd === 'chord') {
        const t0 = performance.now();
        const sig = mod.chord(
          Array.from({ length: Number(a) }, (_, i) => t.noop.s(i)),
          t.collect.s(b!),
        );
        const r = await sig.applyAsync();
        const t1 = performance.now();
        const [length, sum] = (await r.get({ timeout })) as number[];
        const t2 = performance.now();
        reply({ type: 'chord', publishMs: t1 - t0, totalMs: t2 - t0, length: length!, sum: sum! });
      } else if (cmd === 'chain') {
        const t0 = performance.now();
        const sig = mod.chain([t.inc.s(0), ...Array.from({ length: Number(a) - 1 }, () => t.inc.s())]);
        const r = await sig.applyAsync();
        const t1 = performance.now();
        const value = (await r.get({ timeout })) as number;
        const t2 = performance.now();
        reply({ type: 'chain', publishMs: t1 - t0, totalMs: t2 - t0, value });
      } else if (cmd === 'exit') {
        break;
      } else {
        reply({ type: 'error', message: `unknown command ${line}` });
      }
    } catch (err) {
      const e = err as Error;
      reply({ type: 'error', message: `${e.name}: ${e.message}`, trace: e.stack });
    }
  }
  await app.close();
  process.exit(0);
}

// =================================================================================================================
// Orchestrator
// =================================================================================================================

const warnings: string[] = [];

/** With BENCH_PROFILE=1, each Celerity child runs under `node --cpu-prof`, its profile written here on exit. */
const profileRoot = env.BENCH_PROFILE ? path.join(benchDir, '.bench-profiles', `canvas-${new Date().toISOString().replace(/[:.]/g, '-')}`) : undefined;
let childSeq = 0;
const profileWindows: string[] = [];

/** Where the roles run from: this file as plain JavaScript, so the measured processes carry no TypeScript loader. */
let roleFile = '';

/**
 * This file, types stripped (TypeScript's transpileModule), beside the snapshot. Run under tsx, a Node process
 * holds about 50 MB more (the loader and its compiled-module cache), which would swamp a memory comparison.
 */
async function transpileRoles(dir: string): Promise<string> {
  // Loaded here only: the roles must not carry the compiler either.
  const ts = (await import('typescript')).default;
  const transpile = (from: string) =>
    ts.transpileModule(readFileSync(from, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: from,
    }).outputText;
  const file = path.join(dir, 'canvas-role.js');
  writeFileSync(file, transpile(benchFile));
  // The helpers it imports, beside it.
  for (const helper of ['procs', 'peer']) writeFileSync(path.join(dir, `${helper}.js`), transpile(path.join(path.dirname(benchFile), `${helper}.ts`)));
  return file;
}

// ---- processes ------------------------------------------------------------------------------------------------


/** The snapshot and the stores' directories, removed however the run ends. */
const tempDirs = new Set<string>();

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeTemp(dir?: string): void {
  for (const d of dir ? [dir] : [...tempDirs]) {
    rmSync(d, { recursive: true, force: true });
    tempDirs.delete(d);
  }
}


function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CELERITY_')));
}

function startChild(system: System, role: 'worker' | 'producer', store: Store, celerityModule: string): Peer {
  let proc: ChildProcess;
  const common = { detached: true, stdio: ['pipe', 'pipe', 'pipe'] as ('pipe')[] };
  if (system === 'celery-redis') {
    const pyEnv = { ...cleanEnv(), BENCH_BROKER: store.url, BENCH_BACKEND: store.url, BENCH_MARKS: store.marks, BENCH_TIMEOUT_S: String(TIMEOUT_S), PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
    const args =
      role === 'worker'
        ? ['-m', 'celery', '-A', 'canvas_app', 'worker', '-P', 'prefork', '-c', String(CONCURRENCY), '-Q', QUEUE, '--loglevel', 'WARNING']
        : ['canvas_driver.py'];
    proc = spawn('/usr/bin/python3', args, { ...common, cwd: path.join(benchDir, 'py'), env: pyEnv });
  } else {
    const profile: string[] = [];
    if (profileRoot) {
      const dir = path.join(profileRoot, `${system}-${role}-${++childSeq}`);
      mkdirSync(dir, { recursive: true });
      profile.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
    }
    proc = spawn(process.execPath, [...profile, roleFile, role], {
      ...common,
      cwd: root,
      env: { ...cleanEnv(), BENCH_CELERITY_MODULE: celerityModule, BENCH_CANVAS_URL: store.url, BENCH_MARKS: store.marks },
    });
  }
  return new Child<Reply>(proc, `${system} ${role}`);
}

// ---- /proc -----------------------------------------------------------------------------------------------------


function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resets VmHWM to the current RSS (Linux >= 4.0), so the next reading is the peak of what follows. */
function resetPeak(pids: number[]): void {
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch (err) {
      warnings.push(`cannot reset the peak RSS of ${pid} (${(err as Error).message}): its peak includes what ran before`);
    }
  }
}


interface Usage {
  pids: number[];
  cpu: number[];
}

function beginUsage(pids: number[]): Usage {
  resetPeak(pids);
  return { pids, cpu: pids.map(cpuSeconds) };
}

function endUsage(u: Usage): { peakMb: number; cpuS: number } {
  const peakKb = u.pids.reduce((s, pid) => s + statusKb(pid, 'VmHWM'), 0);
  const cpu = u.pids.reduce((s, pid, i) => s + cpuSeconds(pid) - u.cpu[i]!, 0);
  return { peakMb: peakKb / 1024, cpuS: cpu };
}

// ---- stores and their memory -------------------------------------------------------------------------------------

interface Store {
  url: string;
  marks: string;
  dir: string;
  /** Bytes the store holds now: Redis used_memory, or the SQLite file with its WAL. */
  size(): Promise<number>;
  cpu(): Promise<number>;
}

/** The orchestrator's own connection: FLUSHDB, INFO; loaded in main() only, so no role carries ioredis for it. */
let admin: Redis;

function infoField(info: string, field: string): number {
  const m = new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

async function makeStore(system: System): Promise<Store> {
  const dir = tempDir('celerity-bench-canvas-');
  const marks = path.join(dir, 'marks.txt');
  writeFileSync(marks, '');
  if (system === 'celerity-sqlite') {
    const file = path.join(dir, 'bench.db');
    const bytes = (f: string) => (existsSync(f) ? statSync(f).size : 0);
    return { url: `sqlite://${file}`, marks, dir, size: () => Promise.resolve(bytes(file) + bytes(`${file}-wal`)), cpu: () => Promise.resolve(0) };
  }
  await admin.flushdb();
  return {
    url: REDIS_URL,
    marks,
    dir,
    size: async () => infoField(await admin.info('memory'), 'used_memory'),
    cpu: async () => {
      const info = await admin.info('cpu');
      return infoField(info, 'used_cpu_sys') + infoField(info, 'used_cpu_user');
    },
  };
}

/** Samples the store's size every 20 ms until stopped; resolves the peak growth over the size at the start. */
function sampleStore(store: Store): { stop(): Promise<{ peakDelta: number; endDelta: number }>; ready: Promise<void> } {
  let base = 0;
  let peak = 0;
  let last = 0;
  let running = true;
  const ready = store.size().then((s) => {
    base = peak = last = s;
  });
  const loop = (async () => {
    await ready;
    while (running) {
      await new Promise((r) => setTimeout(r, 20));
      last = await store.size();
      if (last > peak) peak = last;
    }
  })();
  return {
    ready,
    async stop() {
      running = false;
      await loop;
      return { peakDelta: peak - base, endDelta: last - base };
    },
  };
}

/** What the store holds, for a failure report: keys (or rows) by kind, with list and hash lengths. */
async function describeStore(system: System, store: Store): Promise<string> {
  if (system === 'celerity-sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(store.url.slice('sqlite://'.length), { readonly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      return tables.map(({ name }) => `${name}: ${(db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n}`).join(', ');
    } finally {
      db.close();
    }
  }
  const kinds = new Map<string, number>();
  const details: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const kind = key.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>');
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      if (kind === key || !kind.startsWith('celery-task-meta-')) {
        const type = await admin.type(key);
        const len = type === 'list' ? await admin.llen(key) : type === 'hash' ? await admin.hlen(key) : type === 'zset' ? await admin.zcard(key) : type === 'string' ? await admin.strlen(key) : 0;
        if (details.length < 40) details.push(`${key} (${type}, ${len})`);
      }
    }
  } while (cursor !== '0');
  return `${[...kinds].map(([k, n]) => `${k} x${n}`).join(', ')}; ${details.join(', ')}`;
}

// ---- one system, one round -----------------------------------------------------------------------------------------

interface PhaseFigures {
  totalMs: number;
  publishMs: number;
  workerPeakMb: number;
  workerCpuS: number;
  workerProcs: number;
  producerPeakMb: number;
  producerCpuS: number;
  storePeakDeltaMb: number;
  storeEndDeltaMb: number;
  redisCpuS: number;
  /** The phase on process.hrtime's clock (shared by every process here, and that of --cpu-prof), µs. */
  hrStartUs: number;
  hrEndUs: number;
}

interface RoundFigures {
  chord?: PhaseFigures;
  chain?: PhaseFigures;
  workerReadyMb?: number;
  producerReadyMb?: number;
  error?: string;
}

const MB = 1024 * 1024;
const hrUs = () => Number(process.hrtime.bigint() / 1000n);

async function phase(store: Store, worker: Peer, producer: Peer, command: string, check: (r: Reply) => string | undefined): Promise<PhaseFigures> {
  const workerPids = processTree(worker.proc.pid!);
  const producerPid = producer.proc.pid!;
  const wu = beginUsage(workerPids);
  const pu = beginUsage([producerPid]);
  const sampler = sampleStore(store);
  await sampler.ready;
  const redisCpu0 = await store.cpu();
  const type = command.split(' ')[0] as 'chord' | 'chain';
  const hrStartUs = hrUs();
  const outcome = await Promise.race([producer.request(command, type, (TIMEOUT_S + 60) * 1000), worker.died]).then(
    (r) => ({ r }),
    (err: Error) => ({ err }),
  );
  const hrEndUs = hrUs();
  const memory = await sampler.stop();
  if ('err' in outcome) throw outcome.err;
  const r = outcome.r;
  const redisCpu = (await store.cpu()) - redisCpu0;
  const w = endUsage(wu);
  const p = endUsage(pu);
  const problem = check(r);
  if (problem) throw new Error(`${command}: ${problem}`);
  const timed = r as Extract<Reply, { type: 'chord' | 'chain' }>;
  return {
    totalMs: timed.totalMs,
    publishMs: timed.publishMs,
    workerPeakMb: w.peakMb,
    workerCpuS: w.cpuS,
    workerProcs: workerPids.length,
    producerPeakMb: p.peakMb,
    producerCpuS: p.cpuS,
    storePeakDeltaMb: memory.peakDelta / MB,
    storeEndDeltaMb: memory.endDelta / MB,
    redisCpuS: redisCpu,
    hrStartUs,
    hrEndUs,
  };
}

function chordCheck(members: number) {
  return (r: Reply): string | undefined => {
    if (r.type !== 'chord') return `unexpected reply ${JSON.stringify(r)}`;
    if (r.length !== members) return `the body got ${r.length} results, expected ${members}`;
    if (r.sum !== (members * (members - 1)) / 2) return `the body's results add up to ${r.sum}, expected ${(members * (members - 1)) / 2}`;
    return undefined;
  };
}

function chainCheck(steps: number) {
  return (r: Reply): string | undefined => (r.type === 'chain' && r.value === steps ? undefined : `expected ${steps}, got ${JSON.stringify(r)}`);
}

function marksOf(store: Store, tag: string): number {
  return readFileSync(store.marks, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${tag} `)).length;
}

async function measure(system: System, round: number, celerityModule: string): Promise<RoundFigures> {
  const store = await makeStore(system);
  const figures: RoundFigures = {};
  let worker: Peer | undefined;
  let producer: Peer | undefined;
  try {
    worker = startChild(system, 'worker', store, celerityModule);
    producer = startChild(system, 'producer', store, celerityModule);
    const w = worker;
    const guard = <T>(p: Promise<T>) => Promise.race([p, w.died]);
    await guard(producer.next(120_000));
    // Also proves the worker is consuming: the first chord waits until it is.
    const warmTag = `warmup-${round}`;
    await guard(producer.request(`chord ${WARMUP_CHORD} ${warmTag}`, 'chord', 180_000));
    await guard(producer.request(`chain ${WARMUP_CHAIN}`, 'chain', 180_000));
    figures.workerReadyMb = processTree(worker.proc.pid!).reduce((s, pid) => s + statusKb(pid, 'VmRSS'), 0) / 1024;
    figures.producerReadyMb = statusKb(producer.proc.pid!, 'VmRSS') / 1024;

    const tag = `timed-${round}`;
    process.stderr.write(`  chord of ${CHORD.toLocaleString('en-US')}\n`);
    figures.chord = await phase(store, worker, producer, `chord ${CHORD} ${tag}`, chordCheck(CHORD));
    process.stderr.write(`    ${(figures.chord.totalMs / 1000).toFixed(2)} s (publish ${(figures.chord.publishMs / 1000).toFixed(2)} s)\n`);
    process.stderr.write(`  chain of ${CHAIN.toLocaleString('en-US')}\n`);
    figures.chain = await phase(store, worker, producer, `chain ${CHAIN}`, chainCheck(CHAIN));
    process.stderr.write(`    ${(figures.chain.totalMs / 1000).toFixed(2)} s\n`);
    // Checked after the chain has run too, so a second run of the body, had there been one, is there by now.
    const warmRuns = marksOf(store, warmTag);
    const runs = marksOf(store, tag);
    if (runs !== 1 || warmRuns !== 1) throw new Error(`the chord body ran ${runs} times (warm-up chord: ${warmRuns}), expected once each`);
  } catch (err) {
    figures.error = (err as Error).message;
    process.stderr.write(`  FAILED: ${figures.error}\n  state of the store: ${await describeStore(system, store).catch((e: Error) => e.message)}\n`);
  } finally {
    if (producer) {
      // Let it leave on its own first: a profiled process writes its profile only on a normal exit.
      producer.send('exit');
      await exited(producer.proc, 10_000);
      await stopChild(producer.proc, 5_000);
    }
    if (worker) await stopChild(worker.proc);
    if (system !== 'celerity-sqlite') await admin.flushdb();
    removeTemp(store.dir);
  }
  return figures;
}

// ---- report ------------------------------------------------------------------------------------------------------

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
const fmt = (n: number, digits = 2) => (Number.isNaN(n) ? 'n/a' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits));

function report(results: Map<System, RoundFigures[]>, meta: string[]): string {
  const col = (system: System, pick: (f: RoundFigures) => number | undefined) => {
    const xs = (results.get(system) ?? []).map(pick).filter((x): x is number => x !== undefined);
    return median(xs);
  };
  const rows: [string, (f: RoundFigures) => number | undefined][] = [
    [`chord of ${CHORD.toLocaleString('en-US')}: send -> body result (s)`, (f) => f.chord && f.chord.totalMs / 1000],
    ['chord: publish, applyAsync resolved (s)', (f) => f.chord && f.chord.publishMs / 1000],
    ['chord: header tasks/s, end to end', (f) => f.chord && (CHORD * 1000) / f.chord.totalMs],
    [`chain of ${CHAIN.toLocaleString('en-US')}: send -> last result (s)`, (f) => f.chain && f.chain.totalMs / 1000],
    ['chain: ms per step', (f) => f.chain && f.chain.totalMs / CHAIN],
    ['chain: publish (ms)', (f) => f.chain?.publishMs],
    ['worker RSS when warmed up (MB)', (f) => f.workerReadyMb],
    ['producer RSS when warmed up (MB)', (f) => f.producerReadyMb],
    ['worker peak RSS, chord (MB)', (f) => f.chord?.workerPeakMb],
    ['worker peak RSS, chain (MB)', (f) => f.chain?.workerPeakMb],
    ['producer peak RSS, chord (MB)', (f) => f.chord?.producerPeakMb],
    ['producer peak RSS, chain (MB)', (f) => f.chain?.producerPeakMb],
    ['store peak growth, chord (MB)', (f) => f.chord?.storePeakDeltaMb],
    ['store peak growth, chain (MB)', (f) => f.chain?.storePeakDeltaMb],
    ['worker CPU, chord (s)', (f) => f.chord?.workerCpuS],
    ['producer CPU, chord (s)', (f) => f.chord?.producerCpuS],
    ['Redis CPU, chord (s)', (f) => f.chord?.redisCpuS],
    ['worker CPU, chain (s)', (f) => f.chain?.workerCpuS],
    ['producer CPU, chain (s)', (f) => f.chain?.producerCpuS],
    ['Redis CPU, chain (s)', (f) => f.chain?.redisCpuS],
  ];
  const out = [`# Canvas: chords and chains (medians of ${ROUNDS} rounds)`, '', ...meta.map((m) => `- ${m}`), ''];
  out.push(`| metric | ${SYSTEMS.join(' | ')} |`, `|---|${SYSTEMS.map(() => '---|').join('')}`);
  for (const [label, pick] of rows) {
    const cells = SYSTEMS.map((s) => (s === 'celerity-sqlite' && label.startsWith('Redis') ? '-' : fmt(col(s, pick))));
    out.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  out.push('', 'Per round (chord s / publish s / chain s):', '');
  for (const s of SYSTEMS) {
    const rounds = (results.get(s) ?? []).map((f, i) =>
      f.error ? `round ${i + 1}: FAILED (${f.error.split('\n')[0]})` : `${fmt(f.chord!.totalMs / 1000)} / ${fmt(f.chord!.publishMs / 1000)} / ${fmt(f.chain!.totalMs / 1000)}`,
    );
    out.push(`- ${s}: ${rounds.join('; ')}`);
  }
  const procs = SYSTEMS.map((s) => `${s} ${(results.get(s) ?? []).find((f) => f.chord)?.chord?.workerProcs ?? '?'}`).join(', ');
  out.push('', `Worker processes whose VmHWM is summed: ${procs}. Store growth is Redis \`used_memory\` (instance-wide) for the Redis systems and the SQLite file plus its WAL for celerity-sqlite.`);
  if (warnings.length) out.push('', '## Warnings', '', ...warnings.map((w) => `- ${w}`));
  return out.join('\n');
}

async function main(): Promise<void> {
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      killAll();
      removeTemp();
      // Leave the database empty, as a finished run does; the children are gone, so nothing writes to it now.
      const a = admin as Redis | undefined; // not yet connected if the signal came early
      const flushed = a?.status === 'ready' ? a.flushdb().catch(() => undefined) : Promise.resolve();
      void Promise.race([flushed, new Promise((r) => setTimeout(r, 2_000))]).then(() => process.exit(130));
    });
  }
  const { Redis } = await import('ioredis');
  admin = new Redis({ host: HOST, port: PORT, db: DB, lazyConnect: true, maxRetriesPerRequest: 1 });
  const buildDir = tempDir('celerity-bench-build-');
  try {
    // Imported here, not at the top: the roles run this file as a lone script, without its neighbours.
    const { buildSnapshot, gitState } = await import('./snapshot.js');
    const celerityModule = SYSTEMS.some((s) => s.startsWith('celerity')) ? buildSnapshot(root, buildDir, warnings) : '';
    roleFile = await transpileRoles(buildDir);
    if (SYSTEMS.some((s) => s.endsWith('redis'))) await admin.connect();
    const redisVersion = admin.status === 'ready' ? infoField(await admin.info('server'), 'redis_version') : 0;
    const celeryVersion = spawnSync('/usr/bin/python3', ['-c', 'import celery, sys; print(celery.__version__, sys.version.split()[0])'], { encoding: 'utf8' }).stdout.trim();
    const results = new Map<System, RoundFigures[]>(SYSTEMS.map((s) => [s, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate the order, so no system always runs first (or right after the same one) in a round.
      const order = round % 2 ? SYSTEMS : [...SYSTEMS].reverse();
      for (const system of order) {
        process.stderr.write(`round ${round}/${ROUNDS}: ${system} (load ${os.loadavg()[0]!.toFixed(2)})\n`);
        const figures = await measure(system, round, celerityModule);
        results.get(system)!.push(figures);
        if (profileRoot) {
          for (const p of ['chord', 'chain'] as const) {
            const f = figures[p];
            if (f) profileWindows.push(`${system} round ${round} ${p}: --from ${f.hrStartUs} --to ${f.hrEndUs}`);
          }
        }
      }
    }
    const redisInfo = admin.status === 'ready' ? await admin.info('server') : '';
    const meta = [
      `machine: ${os.cpus().length} cores, Node ${process.version}, Python/Celery ${celeryVersion.split(' ').reverse().join(' / Celery ')}, Redis ${redisInfo ? /redis_version:(\S+)/.exec(redisInfo)?.[1] : redisVersion} at ${HOST}:${PORT} db ${DB}`,
      `celerity ${gitState(root)}, compiled by tsc into a snapshot for this run`,
      `workers: concurrency ${CONCURRENCY} (Celerity async pool; Celery prefork), prefetch multiplier 4 on both; warm-up: a chord of ${WARMUP_CHORD} and a chain of ${WARMUP_CHAIN} per worker`,
      `Python get(): follow_parents=${env.BENCH_PY_FOLLOW_PARENTS === '1' ? 'True' : 'False'}`,
    ];
    const text = report(results, meta);
    console.log(text);
    if (profileRoot) {
      console.log(`\nCPU profiles: ${profileRoot}; summarize a phase with npx tsx bench/profile-summary.ts <file> --package celerity and:`);
      console.log(profileWindows.map((w) => `- ${w}`).join('\n'));
    }
    if (env.BENCH_JSON) writeFileSync(env.BENCH_JSON, JSON.stringify({ meta, warnings, results: Object.fromEntries(results) }, null, 2));
  } finally {
    killAll();
    if (admin.status === 'ready') await admin.quit();
    removeTemp();
  }
}

const role = process.argv[2];
if (role === 'worker') await workerRole();
else if (role === 'producer') await producerRole();
else await main();

