/**
 * Celerity against BullMQ on the same Redis, side by side in one invocation (run on demand, never in tests).
 *
 *   npm --prefix bench install            # BullMQ is a dependency of bench/package.json only
 *   npx tsx bench/redis-vs-bullmq.ts
 *
 * Every measured role runs in a child process of its own (redis-role.ts): producers, workers and round-trip
 * clients never share an event loop with each other or with this orchestrator, for both systems alike. For each
 * metric the systems alternate, Celerity then BullMQ, in each of BENCH_RUNS rounds (A B A B A B); the table shows
 * medians. Before every measurement the benchmark's own databases are flushed (BullMQ db 11, Celerity broker
 * db 12 and results db 13) and nothing else is touched.
 *
 * Measured:
 * - enqueue, one at a time (`await delay()` / `await queue.add()`) and in bulk (1,000 `delay()` calls in one tick,
 *   coalesced into one MULTI by the producer / `addBulk` of 1,000);
 * - processing of pre-filled no-op tasks with results stored, at concurrency 100 (the bulk-enqueued tasks), 10
 *   and 1: from the worker's start until the last result is stored and acknowledged. Each worker child first runs
 *   BENCH_WORKER_WARMUP tasks (5000) through a worker of the same settings on a queue of its own, untimed, so the
 *   timed part measures compiled code, as in a worker that has been running for a while;
 * - `delay()` -> `get()` against a worker in another process / `add()` -> `job.waitUntilFinished(queueEvents)`;
 * - Redis memory per 100k queued tasks (INFO used_memory delta, and the sum of MEMORY USAGE over their keys);
 * - worker RSS after draining the concurrency-100 batch.
 * Alongside, per measurement: the role's CPU time (process.cpuUsage), Redis's CPU time (INFO cpu), Redis
 * command calls per task (INFO commandstats; calls made inside scripts count too) and socket writes to Redis per
 * task (a pipeline or MULTI is one write), which show what limits each figure.
 *
 * Environment: BENCH_RUNS (3), BENCH_TASKS (20000), BENCH_TASKS_C1 (5000), BENCH_SEQ (5000), BENCH_ROUNDTRIPS
 * (500), BENCH_MEMORY_TASKS (100000), BENCH_PHASES (seq,bulk,c10,c1,latency,memory), BENCH_SYSTEMS
 * (celerity,bullmq), BENCH_BULK_WARMUP (5000 tasks, five calls of 1,000, the bulk producer sends untimed first),
 * BENCH_WORKER_WARMUP (5000), BENCH_PROFILE=1 (run the roles under `node --cpu-prof` and print profile summaries; files
 * under bench/.bench-profiles/), BENCH_JSON=<file> (raw figures), BENCH_REDIS_HOST / BENCH_REDIS_PORT.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { DB, QUEUE, REDIS_HOST, REDIS_PORT, type FromChild, type RoleReport, type RoleSpec, type System, type ToChild } from './redis-common.js';
import { formatSummary, summarizeFile } from './profile-summary.js';
import { buildSnapshot, gitState } from './snapshot.js';

const env = process.env;
const RUNS = Number(env.BENCH_RUNS ?? (env.BENCH_PROFILE ? 1 : 3));
const N = Number(env.BENCH_TASKS ?? 20_000);
const N1 = Number(env.BENCH_TASKS_C1 ?? 5_000);
const SEQ = Number(env.BENCH_SEQ ?? 5_000);
const RT = Number(env.BENCH_ROUNDTRIPS ?? 500);
const MEM = Number(env.BENCH_MEMORY_TASKS ?? 100_000);
const PHASES = (env.BENCH_PHASES ?? 'seq,bulk,c10,c1,latency,memory').split(',');
const SYSTEMS = (env.BENCH_SYSTEMS ?? 'celerity,bullmq').split(',') as System[];
const BULK_WARMUP = Number(env.BENCH_BULK_WARMUP ?? 5000);
/** Tasks each worker child runs on a queue of its own before its timed part, so neither is timed while compiling. */
const WORKER_WARMUP = Number(env.BENCH_WORKER_WARMUP ?? 5000);
const SEQ_WARMUP = 200;
const RT_WARMUP = 50;

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const root = path.dirname(benchDir);
const rolePath = path.join(benchDir, 'redis-role.ts');
let celerityBuild = '';
const profileRoot = env.BENCH_PROFILE ? path.join(benchDir, '.bench-profiles', new Date().toISOString().replace(/[:.]/g, '-')) : undefined;

// ---- Redis administration ---------------------------------------------------------------------------------------

const admin = new Redis({ host: REDIS_HOST, port: REDIS_PORT, lazyConnect: true, maxRetriesPerRequest: 1 });
const dbs = new Map<number, Redis>();
function db(n: number): Redis {
  let c = dbs.get(n);
  if (!c) dbs.set(n, (c = new Redis({ host: REDIS_HOST, port: REDIS_PORT, db: n, maxRetriesPerRequest: 1 })));
  return c;
}
const dbsOf = (system: System): number[] => (system === 'bullmq' ? [DB.bullmq] : [DB.celerityBroker, DB.celerityResults]);

async function flush(system: System): Promise<void> {
  for (const n of dbsOf(system)) await db(n).flushdb('SYNC');
}

interface RedisStats {
  cpuSec: number;
  usedMemory: number;
  calls: Map<string, { calls: number; usec: number }>;
}

function infoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

async function redisStats(): Promise<RedisStats> {
  const [cpu, mem, cmd] = await Promise.all([admin.info('cpu'), admin.info('memory'), admin.info('commandstats')]);
  const c = infoFields(cpu);
  const calls = new Map<string, { calls: number; usec: number }>();
  for (const [k, v] of infoFields(cmd)) {
    const m = /calls=(\d+),usec=(\d+)/.exec(v);
    if (m) calls.set(k.replace(/^cmdstat_/, ''), { calls: Number(m[1]), usec: Number(m[2]) });
  }
  return {
    cpuSec: Number(c.get('used_cpu_sys')) + Number(c.get('used_cpu_user')),
    usedMemory: Number(infoFields(mem).get('used_memory')),
    calls,
  };
}

interface RedisDelta {
  cpuSec: number;
  calls: Map<string, { calls: number; usec: number }>;
}

function redisDelta(a: RedisStats, b: RedisStats): RedisDelta {
  const calls = new Map<string, { calls: number; usec: number }>();
  for (const [k, v] of b.calls) {
    const before = a.calls.get(k) ?? { calls: 0, usec: 0 };
    // INFO commandstats itself and the snapshots' other INFO calls are the orchestrator's, not the system's.
    const n = v.calls - before.calls - (k === 'info' ? 3 : 0);
    if (n > 0) calls.set(k, { calls: n, usec: v.usec - before.usec });
  }
  return { cpuSec: b.cpuSec - a.cpuSec, calls };
}

/** Sum of MEMORY USAGE over every key of the system's databases (exact for small values with SAMPLES 0). */
async function keyBytes(system: System): Promise<{ keys: number; bytes: number }> {
  let keys = 0;
  let bytes = 0;
  for (const n of dbsOf(system)) {
    const c = db(n);
    let cursor = '0';
    do {
      const [next, batch] = await c.scan(cursor, 'COUNT', 1000);
      cursor = next;
      if (batch.length === 0) continue;
      const p = c.pipeline();
      for (const k of batch) p.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
      for (const [err, v] of (await p.exec()) ?? []) if (!err) bytes += Number(v);
      keys += batch.length;
    } while (cursor !== '0');
  }
  return { keys, bytes };
}

// ---- the Celerity snapshot -------------------------------------------------------------------------------------

/** A fresh directory holding the snapshot's dist/ (bench/snapshot.ts). */
function buildCelerity(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'celerity-bench-build-'));
  buildSnapshot(root, dir, warnings);
  return dir;
}

// ---- child processes --------------------------------------------------------------------------------------------

let childSeq = 0;

/** A forked role: resolves `ready` once connected and warmed up; `go()` runs the timed part; `stop()` ends it. */
class Child {
  readonly ready: Promise<void>;
  private readonly exited: Promise<number | null>;
  private readonly messages: FromChild[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  readonly profileDir: string | undefined;

  constructor(
    readonly spec: RoleSpec,
    readonly label: string,
  ) {
    const execArgv = ['--import', 'tsx'];
    if (profileRoot) {
      this.profileDir = path.join(profileRoot, `${String(++childSeq).padStart(2, '0')}-${label}`);
      mkdirSync(this.profileDir, { recursive: true });
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${this.profileDir}`, '--cpu-prof-interval=250');
    }
    const proc = fork(rolePath, [JSON.stringify(spec)], {
      cwd: root,
      execArgv,
      env: { ...process.env, BENCH_CELERITY_MODULE: path.join(celerityBuild, 'dist/index.js') },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    proc.on('message', (m) => {
      this.messages.push(m as FromChild);
      this.wake();
    });
    this.exited = new Promise((resolve) =>
      proc.on('exit', (code) => {
        if (code !== 0 && !this.failure) this.failure = new Error(`${label} exited with code ${code}`);
        this.wake();
        resolve(code);
      }),
    );
    this.send = (m) => proc.send(m);
    this.ready = this.expect('ready').then(() => undefined);
  }

  private readonly send: (m: ToChild) => void;

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async expect<T extends FromChild['type']>(type: T): Promise<Extract<FromChild, { type: T }>> {
    while (true) {
      const i = this.messages.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const m = this.messages.splice(i, 1)[0]!;
        if (m.type === 'error') throw new Error(`${this.label}: ${m.message}`);
        return m as Extract<FromChild, { type: T }>;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async go(): Promise<RoleReport> {
    this.send({ type: 'go' });
    return (await this.expect('done')).report;
  }

  async stop(): Promise<void> {
    this.send({ type: 'stop' });
    await this.expect('stopped');
    await this.exited;
  }

  /** The summary of this child's CPU profile over its timed part, when profiling. */
  profile(report: RoleReport, tasks: number, focus: string): string | undefined {
    if (!this.profileDir) return undefined;
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's module hooks
    // thread writes a profile of its own).
    const file = readdirSync(this.profileDir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    if (!file) return `(${this.label}: no profile written)`;
    const s = summarizeFile(path.join(this.profileDir, file), {
      fromUs: report.hrStartUs,
      toUs: report.hrEndUs,
      top: 25,
      focus,
      celerityRoots: [path.join(celerityBuild, 'dist'), path.join(root, 'src')],
    });
    return formatSummary(s, `${this.label} (${path.join(path.relative(root, this.profileDir), file)})`, tasks);
  }
}

// ---- measurements -----------------------------------------------------------------------------------------------

interface Resources {
  tasks: number;
  wallMs: number;
  /** The measured role's CPU time (user + system), ms. */
  nodeCpuMs: number;
  /** The part of it spent in the kernel (socket writes and reads on loopback cost real time there), ms. */
  nodeSysMs: number;
  /** The other process's CPU time where two take part (the worker during round trips), ms. */
  peerCpuMs?: number;
  redis: RedisDelta;
  writes: number;
  bytesOut: number;
  bytesIn: number;
}

const figures = new Map<string, Map<System, number[]>>();
const segments = new Map<string, Map<System, number[]>>();
const resources = new Map<string, Map<System, Resources[]>>();
const profiles: string[] = [];
const warnings: string[] = [];
const loads: string[] = [];

function record(metric: string, system: System, value: number): void {
  if (!figures.has(metric)) figures.set(metric, new Map());
  const m = figures.get(metric)!;
  if (!m.has(system)) m.set(system, []);
  m.get(system)!.push(value);
}

function recordSegment(name: string, system: System, value: number): void {
  if (!segments.has(name)) segments.set(name, new Map());
  const m = segments.get(name)!;
  if (!m.has(system)) m.set(system, []);
  m.get(system)!.push(value);
}

function recordResources(phase: string, system: System, r: Resources): void {
  if (!resources.has(phase)) resources.set(phase, new Map());
  const m = resources.get(phase)!;
  if (!m.has(system)) m.set(system, []);
  m.get(system)!.push(r);
}

const cpuMs = (r: RoleReport) => (r.cpuUser + r.cpuSystem) / 1000;
const focusOf = (system: System) => (system === 'celerity' ? 'celerity' : 'bullmq');

/** Runs one producer child to completion; returns its report and the Redis delta over its timed part. */
async function enqueue(system: System, mode: 'seq' | 'bulk', warmup: number, count: number, label: string) {
  const child = new Child({ role: 'enqueue', system, mode, warmup, count }, `${system}-${label}`);
  await child.ready;
  const before = await redisStats();
  const report = await child.go();
  const after = await redisStats();
  await child.stop();
  const profile = child.profile(report, count, focusOf(system));
  if (profile) profiles.push(profile);
  return { report, redis: redisDelta(before, after) };
}

async function phaseSeq(system: System): Promise<void> {
  await flush(system);
  const { report, redis } = await enqueue(system, 'seq', SEQ_WARMUP, SEQ, 'enqueue-seq');
  record('enqueue one at a time (tasks/s)', system, SEQ / (report.elapsedMs / 1000));
  recordResources('enqueue one at a time', system, resourcesOf(report, SEQ, redis));
}

/** Drains `expected` pre-filled tasks with a worker child at `concurrency`. */
async function drain(system: System, concurrency: number, expected: number) {
  const child = new Child({ role: 'worker', system, concurrency, expected, warmup: WORKER_WARMUP }, `${system}-worker-c${concurrency}`);
  await child.ready;
  const before = await redisStats();
  const report = await child.go();
  const after = await redisStats();
  await child.stop();
  await verifyDrained(system, expected);
  const profile = child.profile(report, expected, focusOf(system));
  if (profile) profiles.push(profile);
  return { report, redis: redisDelta(before, after) };
}

async function verifyDrained(system: System, expected: number): Promise<void> {
  if (system === 'celerity') {
    const [left, unacked, results] = await Promise.all([
      db(DB.celerityBroker).llen(QUEUE),
      db(DB.celerityBroker).hlen('unacked'),
      db(DB.celerityResults).dbsize(),
    ]);
    if (left || unacked || results !== expected) warnings.push(`celerity: ${left} left, ${unacked} unacked, ${results}/${expected} results`);
  } else {
    const [completed, waiting] = await Promise.all([db(DB.bullmq).zcard(`bull:${QUEUE}:completed`), db(DB.bullmq).llen(`bull:${QUEUE}:wait`)]);
    if (waiting || completed !== expected) warnings.push(`bullmq: ${waiting} waiting, ${completed}/${expected} completed`);
  }
}

function resourcesOf(report: RoleReport, tasks: number, redis: RedisDelta, peerCpuMs?: number): Resources {
  return {
    tasks,
    wallMs: report.elapsedMs,
    nodeCpuMs: cpuMs(report),
    nodeSysMs: report.cpuSystem / 1000,
    peerCpuMs,
    redis,
    writes: report.wire.writes,
    bytesOut: report.wire.bytesOut,
    bytesIn: report.wire.bytesIn,
  };
}

async function phaseProcess(system: System, concurrency: number, count: number, timeEnqueue: boolean): Promise<void> {
  await flush(system);
  const fill = await enqueue(system, 'bulk', BULK_WARMUP, count, `enqueue-bulk-c${concurrency}`);
  if (timeEnqueue) {
    record('enqueue bulk, 1,000 per call (tasks/s)', system, count / (fill.report.elapsedMs / 1000));
    recordResources('enqueue bulk', system, resourcesOf(fill.report, count, fill.redis));
  }
  const total = BULK_WARMUP + count;
  const { report, redis } = await drain(system, concurrency, total);
  record(`process c=${concurrency} (tasks/s)`, system, total / (report.elapsedMs / 1000));
  recordResources(`process c=${concurrency}`, system, resourcesOf(report, total, redis));
  if (concurrency === 100) {
    record(`worker RSS after ${total} tasks (MB)`, system, report.rssEnd / 2 ** 20);
    record('worker RSS when ready, before the first task (MB)', system, report.rssStart / 2 ** 20);
  }
}

async function phaseLatency(system: System): Promise<void> {
  await flush(system);
  const total = RT_WARMUP + RT;
  const worker = new Child(
    { role: 'worker', system, concurrency: 1, expected: total, warmup: WORKER_WARMUP, timeline: true },
    `${system}-worker-latency`,
  );
  await worker.ready;
  const workerDone = worker.go();
  const client = new Child({ role: 'roundtrip', system, warmup: RT_WARMUP, count: RT }, `${system}-roundtrip`);
  await client.ready;
  const before = await redisStats();
  const report = await client.go();
  const after = await redisStats();
  const workerReport = await workerDone;
  await Promise.all([client.stop(), worker.stop()]);
  const samples = [...(report.samples ?? [])].sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  record('delay->get p50 (ms)', system, at(0.5));
  record('delay->get p99 (ms)', system, at(0.99));
  // Where a round trip's time goes, from instants taken in both processes on the shared monotonic clock.
  const seg = { publish: [] as number[], toWorker: [] as number[], inWorker: [] as number[], toClient: [] as number[] };
  for (const [id, [t0, t1, t2]] of Object.entries(report.timeline ?? {}) as [string, number[]][]) {
    const w = workerReport.timeline?.[id];
    if (!w || w.length < 2) continue;
    seg.publish.push((t1! - t0!) / 1000);
    seg.toWorker.push((w[0]! - t0!) / 1000);
    seg.inWorker.push((w[1]! - w[0]!) / 1000);
    seg.toClient.push((t2! - w[1]!) / 1000);
  }
  if (seg.publish.length) {
    recordSegment('delay() / add() resolves', system, median(seg.publish));
    recordSegment('call -> worker has the task (received / active)', system, median(seg.toWorker));
    recordSegment('worker: received -> result stored and acked (task-succeeded / completed)', system, median(seg.inWorker));
    recordSegment('worker done -> get() / waitUntilFinished() resolves', system, median(seg.toClient));
  }
  // The worker's share per round trip, over all it ran (warm-up included), scaled to the measured ones.
  recordResources('delay->get round trip', system, {
    ...resourcesOf(report, RT, redisDelta(before, after), (cpuMs(workerReport) * RT) / total),
    writes: report.wire.writes + (workerReport.wire.writes * RT) / total,
    bytesOut: report.wire.bytesOut + (workerReport.wire.bytesOut * RT) / total,
    bytesIn: report.wire.bytesIn + (workerReport.wire.bytesIn * RT) / total,
  });
  for (const [c, r, n] of [
    [client, report, RT],
    [worker, workerReport, total],
  ] as const) {
    const profile = c.profile(r, n, focusOf(system));
    if (profile) profiles.push(profile);
  }
}

async function phaseMemory(system: System): Promise<void> {
  await flush(system);
  const before = (await redisStats()).usedMemory;
  await enqueue(system, 'bulk', 0, MEM, 'enqueue-memory');
  const after = (await redisStats()).usedMemory;
  const { keys, bytes } = await keyBytes(system);
  const per100k = 100_000 / MEM;
  record('Redis used_memory per 100k queued (MB)', system, ((after - before) * per100k) / 2 ** 20);
  record('MEMORY USAGE sum per 100k queued (MB)', system, (bytes * per100k) / 2 ** 20);
  record('keys per 100k queued', system, keys * per100k);
}

// ---- output -----------------------------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

function medianResources(rs: Resources[]): Resources {
  const pick = (f: (r: Resources) => number) => median(rs.map(f));
  // Redis calls per command: the median run by total calls, so the breakdown stays one run's consistent picture.
  const byCalls = [...rs].sort((a, b) => totalCalls(a.redis) - totalCalls(b.redis));
  return {
    tasks: rs[0]!.tasks,
    wallMs: pick((r) => r.wallMs),
    nodeCpuMs: pick((r) => r.nodeCpuMs),
    nodeSysMs: pick((r) => r.nodeSysMs),
    peerCpuMs: rs[0]!.peerCpuMs === undefined ? undefined : pick((r) => r.peerCpuMs!),
    redis: { cpuSec: pick((r) => r.redis.cpuSec), calls: byCalls[Math.floor((byCalls.length - 1) / 2)]!.redis.calls },
    writes: pick((r) => r.writes),
    bytesOut: pick((r) => r.bytesOut),
    bytesIn: pick((r) => r.bytesIn),
  };
}

const totalCalls = (d: RedisDelta) => [...d.calls.values()].reduce((s, v) => s + v.calls, 0);

function printReport(meta: Record<string, string>): void {
  const out: string[] = [];
  out.push(`\n## Celerity vs BullMQ on Redis\n`);
  for (const [k, v] of Object.entries(meta)) out.push(`- ${k}: ${v}`);
  out.push('', `Medians of ${RUNS} run(s); ratio = Celerity / BullMQ (throughput: higher is better; latency, memory: lower is better).`, '');
  out.push('| metric | Celerity | BullMQ | ratio |', '|---|---|---|---|');
  for (const [metric, by] of figures) {
    const c = by.get('celerity');
    const b = by.get('bullmq');
    const mc = c ? median(c) : undefined;
    const mb = b ? median(b) : undefined;
    const ratio = mc !== undefined && mb ? `${(mc / mb).toFixed(2)}x` : '-';
    out.push(`| ${metric} | ${fmt(mc)} | ${fmt(mb)} | ${ratio} |`);
  }
  out.push('', '### Per run', '', `| metric | system | ${Array.from({ length: RUNS }, (_, i) => `run ${i + 1}`).join(' | ')} | median |`);
  out.push(`|---|---|${'---|'.repeat(RUNS)}---|`);
  for (const [metric, by] of figures) {
    for (const [system, xs] of by) out.push(`| ${metric} | ${system} | ${xs.map(fmt).join(' | ')} | ${fmt(median(xs))} |`);
  }
  if (segments.size) {
    out.push('', '### Where a delay->get round trip goes (medians over round trips, then over runs; ms)', '');
    out.push('| segment | Celerity | BullMQ |', '|---|---|---|');
    for (const [name, by] of segments) {
      const c = by.get('celerity');
      const b = by.get('bullmq');
      out.push(`| ${name} | ${c ? fmt(median(c)) : '-'} | ${b ? fmt(median(b)) : '-'} |`);
    }
    out.push('', 'Segments overlap where the systems work in parallel (e.g. the worker may have the task before add() resolves), so they need not add up to the round trip.');
  }
  out.push('', '### What each figure costs (medians; per task, or per round trip for delay->get)', '');
  out.push(
    '| phase | system | wall ms | Node CPU % of wall | Node CPU µs/task | of which kernel | peer CPU µs/task | Redis CPU % of wall | Redis CPU µs/task | socket writes/task | bytes out/task | bytes in/task | Redis calls/task | top Redis calls per task (calls, µs) |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [phase, by] of resources) {
    for (const [system, rs] of by) {
      const r = medianResources(rs);
      const per = (x: number) => x / r.tasks;
      const top = [...r.redis.calls]
        .sort((a, b) => b[1].calls - a[1].calls)
        .slice(0, 6)
        .map(([k, v]) => `${k} ${per(v.calls).toFixed(2)} (${per(v.usec).toFixed(1)})`)
        .join(', ');
      out.push(
        `| ${phase} | ${system} | ${fmt(r.wallMs)} | ${((100 * r.nodeCpuMs) / r.wallMs).toFixed(0)}% | ${fmt(per(r.nodeCpuMs * 1000))} | ${((100 * r.nodeSysMs) / r.nodeCpuMs).toFixed(0)}% | ${r.peerCpuMs === undefined ? '-' : fmt(per(r.peerCpuMs * 1000))} | ${((100 * r.redis.cpuSec * 1000) / r.wallMs).toFixed(0)}% | ${fmt(per(r.redis.cpuSec * 1e6))} | ${per(r.writes).toFixed(3)} | ${fmt(per(r.bytesOut))} | ${fmt(per(r.bytesIn))} | ${per(totalCalls(r.redis)).toFixed(2)} | ${top} |`,
      );
    }
  }
  out.push('', `Load average (1, 5, 15 min) at the start of each round and at the end: ${loads.join('; ')}`);
  if (warnings.length) out.push('', '### Warnings', '', ...warnings.map((w) => `- ${w}`));
  if (profiles.length) out.push('', '## CPU profiles (timed part of each role only)', '', profiles.join('\n\n'));
  console.log(out.join('\n'));
}

function versionOf(pkgDir: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  if (!existsSync(path.join(benchDir, 'node_modules', 'bullmq'))) {
    console.error('BullMQ is not installed for the benchmark; run: npm --prefix bench install');
    process.exit(2);
  }
  celerityBuild = buildCelerity();
  await admin.connect();
  const server = infoFields(await admin.info('server'));
  const policy = (await admin.config('GET', 'maxmemory-policy')) as string[];
  const meta: Record<string, string> = {
    machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, Node ${process.version}`,
    redis: `${server.get('redis_version')} at ${REDIS_HOST}:${REDIS_PORT} (maxmemory-policy ${policy[1]})`,
    versions: `celerity ${gitState(root)} (compiled by tsc into a snapshot for this run); bullmq ${versionOf(path.join(benchDir, 'node_modules/bullmq'))}; ioredis ${versionOf(path.join(root, 'node_modules/ioredis'))} (celerity) / ${versionOf(path.join(benchDir, 'node_modules/ioredis'))} (bullmq)`,
    sizes: `${SEQ} sequential enqueues, ${N} bulk-enqueued and drained at c=100 and c=10 (+${BULK_WARMUP} warm-up), ${N1} at c=1, ${RT} round trips, ${MEM} queued for memory`,
    'process model': 'every producer, worker and round-trip client in its own child process, both systems alike (the role script runs under tsx; Celerity is loaded from its tsc build, BullMQ from its published JavaScript)',
    'result storage': 'Celerity: Redis result backend (SETEX + PUBLISH per result, 1 day expiry); BullMQ: returnvalue in the job hash, removeOnComplete off (defaults)',
    prefetch: 'Celerity: concurrency x 4 (its default); BullMQ: fetches up to its concurrency (its default)',
  };
  loads.push(`start ${load()}`);
  for (let run = 1; run <= RUNS; run++) {
    loads.push(`round ${run}: ${load()}`);
    for (const phase of PHASES) {
      for (const system of SYSTEMS) {
        process.stderr.write(`round ${run}/${RUNS}: ${phase} ${system} (load ${load()})\n`);
        if (phase === 'seq') await phaseSeq(system);
        else if (phase === 'bulk') await phaseProcess(system, 100, N, true);
        else if (phase === 'c10') await phaseProcess(system, 10, N, false);
        else if (phase === 'c1') await phaseProcess(system, 1, N1, false);
        else if (phase === 'latency') await phaseLatency(system);
        else if (phase === 'memory') await phaseMemory(system);
        else throw new Error(`unknown phase ${phase}`);
      }
    }
  }
  loads.push(`end ${load()}`);
  for (const system of SYSTEMS) await flush(system);
  printReport(meta);
  if (env.BENCH_JSON) {
    const json = {
      meta,
      loads,
      figures: Object.fromEntries([...figures].map(([k, v]) => [k, Object.fromEntries(v)])),
      segments: Object.fromEntries([...segments].map(([k, v]) => [k, Object.fromEntries(v)])),
      resources: Object.fromEntries(
        [...resources].map(([k, v]) => [k, Object.fromEntries([...v].map(([s, rs]) => [s, rs.map((r) => ({ ...r, redis: { cpuSec: r.redis.cpuSec, calls: Object.fromEntries(r.redis.calls) } }))]))]),
      ),
      warnings,
    };
    writeFileSync(env.BENCH_JSON, JSON.stringify(json, null, 2));
  }
  await Promise.all([admin.quit(), ...[...dbs.values()].map((c) => c.quit())]);
}

try {
  await main();
} finally {
  if (celerityBuild) rmSync(celerityBuild, { recursive: true, force: true });
}
