/**
 * RabbitMQ: Celerity against Python Celery 5.2 (prefork) on the same RabbitMQ, and Celerity on RabbitMQ against
 * Celerity on Redis, results in Redis for all three (run on demand, never in tests).
 *
 *   npx tsx bench/amqp.ts
 *
 * Systems: `celerity-amqp` (a Celerity worker, async pool), `celery-amqp` (`celery worker -P prefork`,
 * bench/py/amqp_app.py, run with /usr/bin/python3) and `celerity-redis` (Celerity with a Redis broker). All at the
 * same concurrency and prefetch multiplier, with Celery's --without-heartbeat --without-mingle --without-gossip and
 * the same settings on Celerity's worker (remote control stays on for both), and both acknowledging a task after
 * its result is stored (Celerity's default; task_acks_late for Celery, BENCH_CELERY_ACKS_LATE=0 for Celery's own
 * default). The task does nothing and returns 1. Every worker and client is a child process of its own; the
 * clients are in the system's language (this file in a `client` role, or bench/py/amqp_driver.py).
 *
 * One measurement, per system and round:
 * 1. the worker starts, consuming only a warm-up queue; a client sends it BENCH_WORKER_WARMUP tasks (untimed), and
 *    the orchestrator waits for their results: the worker has run that many tasks, and the client that many sends;
 * 2. enqueue: the client sends N tasks to the timed queue, which nobody consumes yet. Timed in the client, from
 *    before the first call to the last call returning (Celerity: applyAsync() 1,000 per tick, awaited, so every
 *    message is confirmed by RabbitMQ or written to Redis; Celery: apply_async() in a loop on one producer, no
 *    publisher confirms), and to the instant the orchestrator sees all N messages ready in the queue
 *    (queue.declare passive / LLEN, polled every BENCH_POLL_MS). That client then exits;
 * 3. drain: the worker starts consuming the timed queue (Celerity: a worker on it, in the same process; Celery:
 *    add_consumer from a second client). Timed from the instant the worker received its first task of the queue
 *    (Celerity's 'task-received' event, Celery's task_received signal, both in the worker's main process, on
 *    CLOCK_MONOTONIC) to the instant the orchestrator sees the N-th result in the results database (DBSIZE polled
 *    every BENCH_POLL_MS): worker start-up, connections and consumer set-up are outside it;
 * 4. delay->get: that second client makes BENCH_ROUNDTRIPS sequential send + get() calls (after
 *    BENCH_ROUNDTRIP_WARMUP untimed) against the warm worker: p50 and p99.
 * Alongside: CPU time of the worker (all its processes), the client, RabbitMQ (the beam.smp process) and Redis
 * (INFO cpu, instance-wide) over the enqueue and the drain.
 *
 * The systems run one after another in each round, the order reversed every other round; the tables give medians
 * of BENCH_RUNS rounds with the per-round figures below, and ratios Celerity / Celery (both on RabbitMQ) and
 * RabbitMQ / Redis (Celerity).
 *
 * Stores, the benchmark's own: the RabbitMQ vhost BENCH_AMQP_VHOST (celerity-bench), created with rabbitmqctl at the
 * start and deleted at the end (also on Ctrl-C); Redis databases BENCH_REDIS_DB (14, results) and
 * BENCH_REDIS_BROKER_DB (15, Celerity's Redis broker), which must be empty at the start, are flushed between
 * measurements and left empty.
 *
 * Environment: BENCH_RUNS (3), BENCH_TASKS (20000, Celerity), BENCH_CELERY_TASKS (as BENCH_TASKS; lower it if Celery
 * is slow, 5000 at least for stable figures), BENCH_CONCURRENCY (2), BENCH_PREFETCH_MULTIPLIER (4),
 * BENCH_WORKER_WARMUP (5000), BENCH_ROUNDTRIPS (500), BENCH_ROUNDTRIP_WARMUP (50), BENCH_SYSTEMS
 * (celerity-amqp,celery-amqp,celerity-redis), BENCH_POLL_MS (5), BENCH_TIMEOUT_S (600, per step),
 * BENCH_AMQP_HOST/PORT/USER/PASSWORD (127.0.0.1, 5672, guest, guest), BENCH_AMQP_VHOST, BENCH_RABBITMQCTL
 * (rabbitmqctl), BENCH_REDIS_HOST/PORT (127.0.0.1:6379), BENCH_REDIS_DB, BENCH_REDIS_BROKER_DB,
 * BENCH_CELERY_ACKS_LATE (1), BENCH_JSON=<file> for the raw figures.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { cpuSeconds, processTree } from './procs.js';
import { killAll, Peer as Child, stopChild, TAG, type ErrorReply } from './peer.js';

type Peer = Child<Reply>;
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Channel, ChannelModel } from 'amqplib';
import type { Redis } from 'ioredis';
import type * as CelerityModule from '../src/index.js';

const env = process.env;
const RUNS = Number(env.BENCH_RUNS ?? 3);
const TASKS = Number(env.BENCH_TASKS ?? 20_000);
/** The same as Celerity's by default, so both drain queues of the same length. */
const CELERY_TASKS = Number(env.BENCH_CELERY_TASKS ?? TASKS);
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 2);
const PREFETCH = Number(env.BENCH_PREFETCH_MULTIPLIER ?? 4);
const WORKER_WARMUP = Number(env.BENCH_WORKER_WARMUP ?? 5_000);
const RT = Number(env.BENCH_ROUNDTRIPS ?? 500);
const RT_WARMUP = Number(env.BENCH_ROUNDTRIP_WARMUP ?? 50);
const POLL_MS = Number(env.BENCH_POLL_MS ?? 5);
const TIMEOUT_S = Number(env.BENCH_TIMEOUT_S ?? 600);
const REDIS_HOST = env.BENCH_REDIS_HOST ?? '127.0.0.1';
const REDIS_PORT = Number(env.BENCH_REDIS_PORT ?? 6379);
const RESULTS_DB = Number(env.BENCH_REDIS_DB ?? 14);
const BROKER_DB = Number(env.BENCH_REDIS_BROKER_DB ?? 15);
const AMQP_HOST = env.BENCH_AMQP_HOST ?? '127.0.0.1';
const AMQP_PORT = Number(env.BENCH_AMQP_PORT ?? 5672);
const AMQP_USER = env.BENCH_AMQP_USER ?? 'guest';
const AMQP_PASSWORD = env.BENCH_AMQP_PASSWORD ?? 'guest';
const VHOST = env.BENCH_AMQP_VHOST ?? 'celerity-bench';
const RABBITMQCTL = env.BENCH_RABBITMQCTL ?? 'rabbitmqctl';
const CELERY_ACKS_LATE = (env.BENCH_CELERY_ACKS_LATE ?? '1') === '1';

const QUEUE = 'amqp-bench';
const WARMUP_QUEUE = 'amqp-bench-warmup';
const TASK = 'bench.amqp.noop';
/** The Celery worker's node name, for add_consumer. */
const CELERY_NODE = 'amqpbench@bench';

const AMQP_URL = `amqp://${encodeURIComponent(AMQP_USER)}:${encodeURIComponent(AMQP_PASSWORD)}@${AMQP_HOST}:${AMQP_PORT}/${encodeURIComponent(VHOST)}`;
const REDIS_BROKER_URL = `redis://${REDIS_HOST}:${REDIS_PORT}/${BROKER_DB}`;
const RESULTS_URL = `redis://${REDIS_HOST}:${REDIS_PORT}/${RESULTS_DB}`;

type System = 'celerity-amqp' | 'celery-amqp' | 'celerity-redis';
const ALL_SYSTEMS: System[] = ['celerity-amqp', 'celery-amqp', 'celerity-redis'];
const SYSTEMS = (env.BENCH_SYSTEMS ?? ALL_SYSTEMS.join(',')).split(',').map((s) => s.trim()) as System[];
for (const s of SYSTEMS) if (!ALL_SYSTEMS.includes(s)) throw new Error(`unknown system ${s}: expected ${ALL_SYSTEMS.join(', ')}`);

const benchFile = fileURLToPath(import.meta.url);
const benchDir = path.dirname(benchFile);
const root = path.resolve(benchDir, '..');

type Reply =
  | { type: 'ready'; pid: number }
  | { type: 'sent'; startUs: number; endUs: number; cpuMs: number }
  | { type: 'consuming' }
  | { type: 'first'; us: number }
  | { type: 'roundtrips'; samples: number[]; startUs: number; endUs: number; cpuMs: number };

/** CLOCK_MONOTONIC in µs: process.hrtime here, time.monotonic_ns() in Python, one clock for every process. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// =================================================================================================================
// Child roles: a Celerity worker or client (the orchestrator runs this same file with `worker` / `client`).
// =================================================================================================================

function reply(r: Reply | ErrorReply): void {
  process.stdout.write(`${TAG}${JSON.stringify(r)}\n`);
}

async function celerityApp(): Promise<CelerityModule.Celerity> {
  // The snapshot the orchestrator compiled (bench/snapshot.ts); src/ through tsx when run by hand.
  const spec = env.BENCH_CELERITY_MODULE ? pathToFileURL(env.BENCH_CELERITY_MODULE).href : '../src/index.js';
  const mod = (await import(spec)) as typeof CelerityModule;
  // The third argument is the environment: CELERITY_* variables of the shell must not change what is measured.
  return new mod.Celerity(
    'amqp-bench',
    { broker: env.BENCH_BROKER!, backend: env.BENCH_BACKEND!, concurrency: CONCURRENCY, prefetchMultiplier: PREFETCH, loglevel: 'warn', logFormat: 'json' },
    {},
  );
}

/** Commands on stdin, one a line, each answered by `reply` (the orchestrator waits for the reply it expects). */
async function commands(handle: (words: string[]) => Promise<boolean>): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    const words = line.trim().split(/\s+/);
    try {
      if (!(await handle(words))) break;
    } catch (err) {
      const e = err as Error;
      reply({ type: 'error', message: `${e.name}: ${e.message}`, trace: e.stack });
    }
  }
}

async function workerRole(): Promise<void> {
  const app = await celerityApp();
  app.task(TASK, () => 1);
  // Celery's --without-heartbeat --without-mingle (Celerity has no gossip); remote control stays on, as there.
  const options = { concurrency: CONCURRENCY, node: { heartbeat: false, mingle: false, taskEvents: false } };
  let worker = app.worker({ ...options, queues: [WARMUP_QUEUE] });
  let started = worker.start();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await started.catch(() => undefined);
    await worker.stop({ timeout: 5 });
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  await started;
  reply({ type: 'ready', pid: process.pid });
  await commands(async ([cmd, queue]) => {
    if (cmd === 'consume') {
      // The warm-up worker's code stays compiled in this process; a worker on the timed queue takes over.
      await worker.stop();
      worker = app.worker({ ...options, queues: [queue!] });
      let first = true;
      worker.on('task-received', () => {
        if (!first) return;
        first = false;
        reply({ type: 'first', us: nowUs() });
      });
      worker.on('task-failed', ({ error }) => console.error('task failed:', error.message));
      started = worker.start();
      await started;
      reply({ type: 'consuming' });
      return true;
    }
    if (cmd === 'exit') return false;
    reply({ type: 'error', message: `unknown command ${cmd}` });
    return true;
  });
  await stop();
}

async function clientRole(): Promise<void> {
  const app = await celerityApp();
  const noop = app.task(TASK, () => 1);
  await Promise.all([app.broker(), app.backend()]);
  reply({ type: 'ready', pid: process.pid });
  await commands(async ([cmd, queue, a, b]) => {
    if (cmd === 'send') {
      const count = Number(a);
      const cpu0 = process.cpuUsage();
      const startUs = nowUs();
      // 1,000 calls in one tick, awaited together: the producer batches what is sent in the same tick.
      for (let i = 0; i < count; i += 1000) {
        await Promise.all(Array.from({ length: Math.min(1000, count - i) }, () => noop.applyAsync([], { queue })));
      }
      const endUs = nowUs();
      const cpu = process.cpuUsage(cpu0);
      reply({ type: 'sent', startUs, endUs, cpuMs: (cpu.user + cpu.system) / 1000 });
    } else if (cmd === 'roundtrips') {
      const warmup = Number(a);
      const count = Number(b);
      const samples: number[] = [];
      let cpu0 = process.cpuUsage();
      let startUs = nowUs();
      for (let i = 0; i < warmup + count; i++) {
        if (i === warmup) {
          cpu0 = process.cpuUsage();
          startUs = nowUs();
        }
        const t = performance.now();
        const r = await noop.applyAsync([], { queue });
        const value = await r.get({ timeout: TIMEOUT_S * 1000 });
        if (i >= warmup) samples.push(performance.now() - t);
        if (value !== 1) throw new Error(`task ${r.id} returned ${JSON.stringify(value)}`);
      }
      const cpu = process.cpuUsage(cpu0);
      reply({ type: 'roundtrips', samples, startUs, endUs: nowUs(), cpuMs: (cpu.user + cpu.system) / 1000 });
    } else if (cmd === 'exit') {
      return false;
    } else {
      reply({ type: 'error', message: `unknown command ${cmd}` });
    }
    return true;
  });
  await app.close();
  process.exit(0);
}

// =================================================================================================================
// Orchestrator
// =================================================================================================================

const warnings: string[] = [];
const loads: string[] = [];

// ---- processes ------------------------------------------------------------------------------------------------



function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CELERITY_')));
}

const isCelery = (system: System) => system === 'celery-amqp';
const brokerUrl = (system: System) => (system === 'celerity-redis' ? REDIS_BROKER_URL : AMQP_URL);
const tasksOf = (system: System) => (isCelery(system) ? CELERY_TASKS : TASKS);

function pyEnv(system: System): NodeJS.ProcessEnv {
  return {
    ...cleanEnv(),
    BENCH_BROKER: brokerUrl(system),
    BENCH_BACKEND: RESULTS_URL,
    BENCH_TIMED_QUEUE: QUEUE,
    BENCH_TIMEOUT_S: String(TIMEOUT_S),
    BENCH_CELERY_ACKS_LATE: CELERY_ACKS_LATE ? '1' : '0',
    BENCH_PREFETCH_MULTIPLIER: String(PREFETCH),
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

function nodeRole(system: System, role: 'worker' | 'client', celerityModule: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', benchFile, role], {
    cwd: root,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...cleanEnv(), BENCH_CELERITY_MODULE: celerityModule, BENCH_BROKER: brokerUrl(system), BENCH_BACKEND: RESULTS_URL, BENCH_PREFETCH_MULTIPLIER: String(PREFETCH) },
  });
}

function startWorker(system: System, celerityModule: string): Peer {
  const proc = isCelery(system)
    ? spawn(
        '/usr/bin/python3',
        [
          '-m', 'celery', '-A', 'amqp_app', 'worker', '-P', 'prefork', '-c', String(CONCURRENCY), '-Q', WARMUP_QUEUE,
          '--without-heartbeat', '--without-mingle', '--without-gossip', '-n', CELERY_NODE, '--loglevel', 'WARNING',
        ],
        { cwd: path.join(benchDir, 'py'), detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: pyEnv(system) },
      )
    : nodeRole(system, 'worker', celerityModule);
  return new Child<Reply>(proc, `${system} worker`);
}

function startClient(system: System, celerityModule: string, label: string): Peer {
  const proc = isCelery(system)
    ? spawn('/usr/bin/python3', ['amqp_driver.py'], { cwd: path.join(benchDir, 'py'), detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: pyEnv(system) })
    : nodeRole(system, 'client', celerityModule);
  return new Child<Reply>(proc, `${system} ${label}`);
}

// ---- /proc -----------------------------------------------------------------------------------------------------



/** RabbitMQ's Erlang VM on this machine (the beam.smp with the most CPU time), if it runs here. */
function findRabbitPid(): number | undefined {
  let best: { pid: number; cpu: number } | undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'beam.smp') continue;
    } catch {
      continue;
    }
    const cpu = cpuSeconds(Number(entry));
    if (!best || cpu > best.cpu) best = { pid: Number(entry), cpu };
  }
  return best?.pid;
}

// ---- stores ------------------------------------------------------------------------------------------------------

let results: Redis;
let brokerDb: Redis;
let rabbit: ChannelModel | undefined;
let rabbitCh: Channel | undefined;
let rabbitPid: number | undefined;
let vhostCreated = false;

function rabbitmqctl(...args: string[]): string {
  const r = spawnSync(RABBITMQCTL, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${RABBITMQCTL} ${args.join(' ')} failed (${r.error?.message ?? r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

function createVhost(): void {
  const existing = rabbitmqctl('list_vhosts', '--quiet', '--no-table-headers', 'name').split('\n').map((l) => l.trim());
  if (existing.includes(VHOST)) {
    // The benchmark's own vhost, left by a run that was killed: start from an empty one.
    process.stderr.write(`vhost ${VHOST} exists (left by an earlier run?): deleting it first\n`);
    rabbitmqctl('delete_vhost', VHOST);
  }
  rabbitmqctl('add_vhost', VHOST);
  vhostCreated = true;
  rabbitmqctl('set_permissions', '-p', VHOST, AMQP_USER, '.*', '.*', '.*');
}

function deleteVhost(): void {
  if (!vhostCreated) return;
  vhostCreated = false;
  try {
    rabbitmqctl('delete_vhost', VHOST);
  } catch (err) {
    console.error(`could not delete vhost ${VHOST}: ${(err as Error).message}`);
  }
}

/** Empty queues and result database before a measurement (and after the last). */
async function resetStores(system: System | undefined): Promise<void> {
  await results.flushdb();
  await brokerDb.flushdb();
  if (rabbitCh) {
    for (const q of [QUEUE, WARMUP_QUEUE]) await rabbitCh.deleteQueue(q);
    // Declared here, with the arguments both Celerity and Celery declare it with, so it can be polled at once.
    if (system && system !== 'celerity-redis') await rabbitCh.assertQueue(QUEUE, { durable: true, exclusive: false, autoDelete: false });
  }
}

/** Messages ready in the timed queue. */
async function queueSize(system: System): Promise<number> {
  if (system === 'celerity-redis') return brokerDb.llen(QUEUE);
  return (await rabbitCh!.checkQueue(QUEUE)).messageCount;
}

function infoNumber(info: string, field: string): number {
  const m = new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

async function redisCpu(): Promise<number> {
  const info = await results.info('cpu');
  return infoNumber(info, 'used_cpu_sys') + infoNumber(info, 'used_cpu_user');
}

interface CpuSnapshot {
  procs: Map<number, number>;
  rabbit: number;
  redis: number;
}

async function cpuSnapshot(pids: number[]): Promise<CpuSnapshot> {
  return {
    procs: new Map(pids.map((p) => [p, cpuSeconds(p)])),
    rabbit: rabbitPid ? cpuSeconds(rabbitPid) : NaN,
    redis: await redisCpu(),
  };
}

/** CPU seconds between two snapshots: the processes of `a` (those still alive at `b`), RabbitMQ and Redis. */
function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): { procs: number; rabbit: number; redis: number } {
  let procs = 0;
  for (const [pid, s] of a.procs) {
    const e = b.procs.get(pid);
    if (e !== undefined && e >= s) procs += e - s;
  }
  return { procs, rabbit: b.rabbit - a.rabbit, redis: b.redis - a.redis };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every POLL_MS until it holds; resolves the instant it was seen to hold (µs). */
async function pollUntil(what: string, check: () => Promise<boolean>, peers: Peer[], failed: { error?: Error } = {}, timeoutMs = TIMEOUT_S * 1000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (await check()) return nowUs();
    for (const p of peers) if (p.failure) throw p.failure;
    if (failed.error) throw failed.error;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(POLL_MS);
  }
}

/** A few results, picked at random: each must be a SUCCESS with the value 1. */
async function checkResults(system: System): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const key = await results.randomkey();
    if (!key) return;
    const raw = await results.get(key);
    try {
      const meta = JSON.parse(raw ?? '') as { status?: string; result?: unknown };
      if (meta.status !== 'SUCCESS' || meta.result !== 1) {
        warnings.push(`${system}: result ${key} is ${meta.status} ${JSON.stringify(meta.result)}`);
        return;
      }
    } catch {
      warnings.push(`${system}: ${key} does not hold a result meta`);
      return;
    }
  }
}

// ---- one system, one round -----------------------------------------------------------------------------------------

interface Figures {
  tasks: number;
  /** Client side: from before the first send to the last returning. */
  enqueueClientMs?: number;
  /** From the client's first send to the orchestrator seeing all N ready in the queue. */
  enqueueBrokerMs?: number;
  enqueueClientCpuMs?: number;
  enqueueRabbitCpuS?: number;
  enqueueRedisCpuS?: number;
  /** First task received by the worker -> N-th result seen in the results database. */
  drainMs?: number;
  drainWorkerCpuS?: number;
  drainRabbitCpuS?: number;
  drainRedisCpuS?: number;
  workerProcs?: number;
  p50?: number;
  p99?: number;
  rtClientCpuMs?: number;
  error?: string;
}

async function measure(system: System, celerityModule: string): Promise<Figures> {
  const n = tasksOf(system);
  const f: Figures = { tasks: n };
  const peers: Peer[] = [];
  try {
    await resetStores(system);
    const worker = startWorker(system, celerityModule);
    peers.push(worker);
    const filler = startClient(system, celerityModule, 'enqueue client');
    peers.push(filler);
    await Promise.all([worker.expect('ready', 120_000), filler.expect('ready', 120_000)]);

    // 1. warm-up: the worker runs WORKER_WARMUP tasks the client sends; both are past their first calls after it.
    if (WORKER_WARMUP > 0) {
      await filler.request(`send ${WARMUP_QUEUE} ${WORKER_WARMUP}`, 'sent', TIMEOUT_S * 1000);
      await pollUntil('warm-up results', async () => (await results.dbsize()) >= WORKER_WARMUP, peers);
    }

    // 2. enqueue N to the timed queue, nobody consuming it.
    const e0 = await cpuSnapshot([]);
    const holds = pollUntil('enqueue: all messages in the queue', async () => (await queueSize(system)) >= n, peers);
    holds.catch(() => undefined);
    const sent = await filler.request(`send ${QUEUE} ${n}`, 'sent', TIMEOUT_S * 1000);
    const holdsUs = await holds;
    const e1 = await cpuSnapshot([]);
    const ec = cpuDelta(e0, e1);
    f.enqueueClientMs = (sent.endUs - sent.startUs) / 1000;
    f.enqueueBrokerMs = (holdsUs - sent.startUs) / 1000;
    f.enqueueClientCpuMs = sent.cpuMs;
    f.enqueueRabbitCpuS = ec.rabbit;
    f.enqueueRedisCpuS = ec.redis;
    const queued = await queueSize(system);
    if (queued !== n) warnings.push(`${system}: ${queued} messages in the queue after sending ${n}`);
    await filler.close();
    peers.splice(peers.indexOf(filler), 1);

    // 3. drain: the worker consumes the timed queue; the round-trip client, idle until step 4, sends add_consumer
    // for Celery.
    const client = startClient(system, celerityModule, 'round-trip client');
    peers.push(client);
    await client.expect('ready', 120_000);
    const base = await results.dbsize();
    const workerPids = processTree(worker.proc.pid!);
    const d0 = await cpuSnapshot(workerPids);
    const starter = isCelery(system) ? client : worker;
    const consuming = starter.request(isCelery(system) ? `consume ${QUEUE} ${CELERY_NODE}` : `consume ${QUEUE}`, 'consuming', TIMEOUT_S * 1000);
    // A failed add_consumer (or worker start) ends the wait for results at once.
    const failed: { error?: Error } = {};
    consuming.catch((err: Error) => (failed.error = err));
    const lastUs = await pollUntil('drain: all results stored', async () => (await results.dbsize()) >= base + n, peers, failed);
    const d1 = await cpuSnapshot(workerPids);
    await consuming;
    const first = await worker.expect('first', 30_000);
    const dc = cpuDelta(d0, d1);
    f.drainMs = (lastUs - first.us) / 1000;
    f.drainWorkerCpuS = dc.procs;
    f.drainRabbitCpuS = dc.rabbit;
    f.drainRedisCpuS = dc.redis;
    f.workerProcs = workerPids.length;
    const stored = (await results.dbsize()) - base;
    if (stored !== n) warnings.push(`${system}: ${stored} results stored for ${n} tasks`);
    const left = await queueSize(system);
    if (left) warnings.push(`${system}: ${left} messages left in the queue after the drain`);
    await checkResults(system);

    // 4. delay -> get against the warm worker.
    const rt = await client.request(`roundtrips ${QUEUE} ${RT_WARMUP} ${RT}`, 'roundtrips', TIMEOUT_S * 1000);
    const samples = [...rt.samples].sort((a, b) => a - b);
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
    f.p50 = at(0.5);
    f.p99 = at(0.99);
    f.rtClientCpuMs = rt.cpuMs;
  } catch (err) {
    f.error = (err as Error).message;
    if (!interrupted) process.stderr.write(`  FAILED: ${f.error}\n`);
  } finally {
    // Clients first (they may wait on the worker), then the worker; each by its process group.
    for (const p of peers.reverse()) {
      if (p.label.endsWith('worker')) await stopChild(p.proc);
      else await p.close();
    }
  }
  return f;
}

// ---- report ------------------------------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

type Metric = [label: string, pick: (f: Figures) => number | undefined];

const METRICS: Metric[] = [
  ['drain: first task received -> last result stored (tasks/s)', (f) => f.drainMs && (f.tasks * 1000) / f.drainMs],
  ['enqueue in bulk, client side (tasks/s)', (f) => f.enqueueClientMs && (f.tasks * 1000) / f.enqueueClientMs],
  ['enqueue in bulk, until the broker holds all (tasks/s)', (f) => f.enqueueBrokerMs && (f.tasks * 1000) / f.enqueueBrokerMs],
  ['delay->get p50 (ms)', (f) => f.p50],
  ['delay->get p99 (ms)', (f) => f.p99],
];

const COSTS: Metric[] = [
  ['drain: worker CPU (µs/task)', (f) => f.drainWorkerCpuS !== undefined ? (f.drainWorkerCpuS * 1e6) / f.tasks : undefined],
  ['drain: RabbitMQ CPU (µs/task)', (f) => f.drainRabbitCpuS !== undefined ? (f.drainRabbitCpuS * 1e6) / f.tasks : undefined],
  ['drain: Redis CPU (µs/task)', (f) => f.drainRedisCpuS !== undefined ? (f.drainRedisCpuS * 1e6) / f.tasks : undefined],
  ['drain: wall (µs/task)', (f) => f.drainMs && (f.drainMs * 1000) / f.tasks],
  ['enqueue: client CPU (µs/task)', (f) => f.enqueueClientCpuMs !== undefined ? (f.enqueueClientCpuMs * 1000) / f.tasks : undefined],
  ['enqueue: RabbitMQ CPU (µs/task)', (f) => f.enqueueRabbitCpuS !== undefined ? (f.enqueueRabbitCpuS * 1e6) / f.tasks : undefined],
  ['enqueue: Redis CPU (µs/task)', (f) => f.enqueueRedisCpuS !== undefined ? (f.enqueueRedisCpuS * 1e6) / f.tasks : undefined],
  ['delay->get: client CPU (µs/round trip)', (f) => f.rtClientCpuMs !== undefined ? (f.rtClientCpuMs * 1000) / RT : undefined],
];

function report(all: Map<System, Figures[]>, meta: string[]): string {
  const med = (system: System, pick: Metric[1]) =>
    median((all.get(system) ?? []).filter((f) => !f.error).map((f) => pick(f) ?? NaN));
  const out = [`# RabbitMQ: Celerity and Python Celery 5.2 (medians of ${RUNS} rounds)`, '', ...meta.map((m) => `- ${m}`)];
  const pair = (title: string, a: System, b: System, ratioName: string) => {
    if (!all.has(a) || !all.has(b)) return;
    out.push('', `## ${title}`, '', `| metric | ${a} | ${b} | ${ratioName} |`, '|---|---|---|---|');
    for (const [label, pick] of METRICS) {
      const x = med(a, pick);
      const y = med(b, pick);
      out.push(`| ${label} | ${fmt(x)} | ${fmt(y)} | ${Number.isNaN(x) || Number.isNaN(y) || !y ? '-' : `${(x / y).toFixed(2)}x`} |`);
    }
  };
  pair('Celerity against Celery 5.2 prefork, both on RabbitMQ, results in Redis', 'celerity-amqp', 'celery-amqp', 'Celerity / Celery');
  pair('Celerity on RabbitMQ against Celerity on Redis', 'celerity-amqp', 'celerity-redis', 'RabbitMQ / Redis');
  out.push('', 'Throughput: higher is better; latency: lower is better. Ratios are of the medians.');
  const systems = SYSTEMS.filter((s) => all.has(s));
  out.push('', '## What it costs (medians)', '', `| | ${systems.join(' | ')} |`, `|---|${systems.map(() => '---|').join('')}`);
  for (const [label, pick] of COSTS) out.push(`| ${label} | ${systems.map((s) => fmt(med(s, pick))).join(' | ')} |`);
  out.push('', '## Per round', '', `| metric | system | ${Array.from({ length: RUNS }, (_, i) => `round ${i + 1}`).join(' | ')} | median |`);
  out.push(`|---|---|${'---|'.repeat(RUNS)}---|`);
  for (const [label, pick] of METRICS) {
    for (const s of systems) {
      const cells = (all.get(s) ?? []).map((f) => (f.error ? 'failed' : fmt(pick(f))));
      out.push(`| ${label} | ${s} | ${cells.join(' | ')} | ${fmt(med(s, pick))} |`);
    }
  }
  const failures = systems.flatMap((s) => (all.get(s) ?? []).flatMap((f, i) => (f.error ? [`${s} round ${i + 1}: ${f.error.split('\n')[0]}`] : [])));
  if (failures.length) out.push('', '## Failed rounds', '', ...failures.map((x) => `- ${x}`));
  const procs = systems.map((s) => `${s} ${(all.get(s) ?? []).find((f) => f.workerProcs)?.workerProcs ?? '?'}`).join(', ');
  out.push(
    '',
    '## What is timed',
    '',
    `- **drain**: N no-op tasks wait in the queue before the worker consumes it (the worker has run ${WORKER_WARMUP.toLocaleString('en-US')} warm-up tasks from another queue and is idle). Timed from the instant the worker received its first task of the queue (Celerity's 'task-received' event, Celery's task_received signal, both in the worker's main process) to the instant the orchestrator saw the N-th result in the results database (DBSIZE polled every ${POLL_MS} ms); worker start-up and consumer set-up are outside it. Rate = N / that time. Worker CPU is summed over its processes (${procs}).`,
    '- **enqueue in bulk, client side**: N sends timed in the client, in its own language, after the warm-up sends: Celerity `applyAsync()` 1,000 per tick, awaited (every message confirmed by RabbitMQ, or written to Redis); Celery `apply_async()` in a loop on one producer, which returns once the message is written to the socket (no publisher confirms) and, with a Redis result backend, subscribes to each task\'s result channel.',
    `- **enqueue in bulk, until the broker holds all**: from the client's first send to the orchestrator seeing N messages ready in the queue (queue.declare passive / LLEN, polled every ${POLL_MS} ms).`,
    `- **delay->get**: ${RT} sequential send + \`get()\` from a client process of the system's language against the warm worker, after ${RT_WARMUP} untimed.`,
    '- RabbitMQ CPU is its beam.smp process and Redis CPU is INFO cpu: both server-wide, so clients of other vhosts and databases count too.',
  );
  out.push('', `Load average (1, 5, 15 min) at the start of each round and at the end: ${loads.join('; ')}`);
  if (warnings.length) out.push('', '## Warnings', '', ...warnings.map((w) => `- ${w}`));
  return out.join('\n');
}

const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** Set by Ctrl-C: the run stops, cleans up and prints nothing. */
let interrupted = false;

async function cleanup(): Promise<void> {
  killAll();
  try {
    if (results?.status === 'ready') await resetStores(undefined);
  } catch {
    // best effort: the vhost goes with everything in it
  }
  await rabbit?.close().catch(() => undefined);
  deleteVhost();
}

async function main(): Promise<void> {
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      process.stderr.write(`${sig}: stopping the workers, emptying the databases and deleting vhost ${VHOST}\n`);
      void Promise.race([cleanup(), sleep(30_000)]).then(() => process.exit(130));
    });
  }
  const { Redis } = await import('ioredis');
  const { connect } = await import('amqplib');
  const { buildSnapshot, gitState } = await import('./snapshot.js');
  results = new Redis({ host: REDIS_HOST, port: REDIS_PORT, db: RESULTS_DB, maxRetriesPerRequest: 1 });
  brokerDb = new Redis({ host: REDIS_HOST, port: REDIS_PORT, db: BROKER_DB, maxRetriesPerRequest: 1 });
  const buildDir = mkdtempSync(path.join(os.tmpdir(), 'celerity-bench-build-'));
  try {
    for (const [db, c] of [
      [RESULTS_DB, results],
      [BROKER_DB, brokerDb],
    ] as const) {
      const keys = await c.dbsize();
      if (keys) throw new Error(`Redis database ${db} holds ${keys} keys: the benchmark flushes its databases, so give it empty ones (BENCH_REDIS_DB, BENCH_REDIS_BROKER_DB)`);
    }
    const celerityModule = SYSTEMS.some((s) => !isCelery(s)) ? buildSnapshot(root, buildDir, warnings) : '';
    const usesRabbit = SYSTEMS.some((s) => s !== 'celerity-redis');
    if (usesRabbit) {
      createVhost();
      rabbit = await connect(AMQP_URL);
      rabbitCh = await rabbit.createChannel();
      rabbitPid = findRabbitPid();
      if (!rabbitPid) warnings.push('no beam.smp process on this machine: RabbitMQ CPU is not measured');
    }
    const redisVersion = /redis_version:(\S+)/.exec(await results.info('server'))?.[1];
    const rabbitVersion = (rabbit as unknown as { connection?: { serverProperties?: { version?: string } } } | undefined)?.connection?.serverProperties?.version;
    const celeryVersion = SYSTEMS.some(isCelery)
      ? spawnSync('/usr/bin/python3', ['-c', 'import celery, kombu, sys; print(f"Python {sys.version.split()[0]}, Celery {celery.__version__}, kombu {kombu.__version__}")'], { encoding: 'utf8' }).stdout.trim()
      : '';
    const all = new Map<System, Figures[]>(SYSTEMS.map((s) => [s, []]));
    loads.push(`start ${load()}`);
    for (let round = 1; round <= RUNS; round++) {
      loads.push(`round ${round}: ${load()}`);
      // Alternate the order, so no system always runs first (or right after the same one) in a round.
      const order = round % 2 ? SYSTEMS : [...SYSTEMS].reverse();
      for (const system of order) {
        if (interrupted) return;
        process.stderr.write(`round ${round}/${RUNS}: ${system}, ${tasksOf(system)} tasks (load ${load()})\n`);
        const f = await measure(system, celerityModule);
        if (interrupted) return;
        all.get(system)!.push(f);
        if (!f.error) {
          process.stderr.write(
            `  drain ${fmt((f.tasks * 1000) / f.drainMs!)}/s, enqueue ${fmt((f.tasks * 1000) / f.enqueueClientMs!)}/s (broker ${fmt((f.tasks * 1000) / f.enqueueBrokerMs!)}/s), p50 ${fmt(f.p50)} ms, p99 ${fmt(f.p99)} ms\n`,
          );
        }
      }
    }
    loads.push(`end ${load()}`);
    if (interrupted) return;
    const meta = [
      `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, Node ${process.version}${celeryVersion ? `, ${celeryVersion}` : ''}`,
      `RabbitMQ ${rabbitVersion ?? '?'} at ${AMQP_HOST}:${AMQP_PORT}, vhost ${VHOST} (created for the run); Redis ${redisVersion ?? '?'} at ${REDIS_HOST}:${REDIS_PORT}, results in db ${RESULTS_DB}, Celerity's Redis broker in db ${BROKER_DB}`,
      `celerity ${gitState(root)}, compiled by tsc into a snapshot for this run`,
      `tasks per measurement: ${TASKS.toLocaleString('en-US')} (Celerity), ${CELERY_TASKS.toLocaleString('en-US')} (Celery); worker warm-up ${WORKER_WARMUP.toLocaleString('en-US')}; ${RT} round trips after ${RT_WARMUP}`,
      `workers: concurrency ${CONCURRENCY} (Celerity async pool; Celery -P prefork), prefetch multiplier ${PREFETCH}, acknowledged after the result is stored (Celerity's default${CELERY_ACKS_LATE ? '; task_acks_late for Celery' : "; Celery at its own default, acknowledged before the task runs"}), no heartbeats, mingle or gossip; classic durable queues, persistent messages`,
    ];
    const text = report(all, meta);
    console.log(text);
    if (env.BENCH_JSON) writeFileSync(env.BENCH_JSON, JSON.stringify({ meta, loads, warnings, results: Object.fromEntries(all) }, null, 2));
  } finally {
    await cleanup();
    results.disconnect();
    brokerDb.disconnect();
    rmSync(buildDir, { recursive: true, force: true });
  }
}

const role = process.argv[2];
if (role === 'worker') await workerRole();
else if (role === 'client') await clientRole();
else await main();
