/**
 * One measured role of the Redis comparison, in a process of its own (forked by redis-vs-bullmq.ts), so that
 * producers, workers and the orchestrator never share an event loop, a heap or a JIT warm-up, and so that
 * `--cpu-prof` profiles one role at a time.
 *
 * Protocol on the IPC channel: the child connects (and warms up), sends `ready`; on `go` it runs the timed part
 * and sends `done` with its report; on `stop` it closes its connections, sends `stopped` and exits.
 *
 * Usage (by the orchestrator): node --import tsx bench/redis-role.ts '<RoleSpec as JSON>'
 */
import { pathToFileURL } from 'node:url';
import type { Celerity } from '../src/index.js';
import type * as CelerityModule from '../src/index.js';
import {
  QUEUE,
  TASK,
  WARMUP_QUEUE,
  bullConnection,
  celerityUrls,
  countRedisWrites,
  loadBullMQ,
  wireDelta,
  wireSnapshot,
  type FromChild,
  type RoleReport,
  type RoleSpec,
  type ToChild,
  type Wire,
} from './redis-common.js';

countRedisWrites();

const spec = JSON.parse(process.argv[2] ?? '{}') as RoleSpec;

/**
 * The orchestrator compiles src/ with tsc into a snapshot and passes its entry point: the package as it ships
 * (tsc output, not an on-the-fly transform), unchanged for the whole run even while src/ is being edited, and
 * with real line numbers in profiles. Without it the child loads src/ through tsx.
 */
const celerityModule = process.env.BENCH_CELERITY_MODULE ? pathToFileURL(process.env.BENCH_CELERITY_MODULE).href : '../src/index.js';
// Only the system being measured is loaded, so neither worker's memory includes the other's modules.
const CelerityClass = spec.system === 'celerity' ? ((await import(celerityModule)) as typeof CelerityModule).Celerity : undefined;

const hrUs = () => Number(process.hrtime.bigint() / 1000n);
const timeline: Record<string, number[]> = {};

function send(msg: FromChild): void {
  process.send!(msg);
}

function nextMessage(): Promise<ToChild> {
  return new Promise((resolve) => process.once('message', (m) => resolve(m as ToChild)));
}

/** What a role does: `prepare` connects and warms up (untimed), `run` is timed, `close` releases everything. */
interface Role {
  prepare(): Promise<void>;
  run(): Promise<number[] | void>;
  close(): Promise<void>;
}

function celerityApp(concurrency = 1): Celerity {
  // Environment deliberately empty: CELERITY_* variables of the shell must not change what is measured.
  return new CelerityClass!('bench', { ...celerityUrls, loglevel: 'warn', logFormat: 'json', concurrency }, {});
}

function celerityRole(): Role {
  if (spec.role === 'worker') {
    const app = celerityApp(spec.concurrency);
    const noop = app.task(TASK, () => null, { queue: QUEUE });
    let worker: ReturnType<Celerity['worker']> | undefined;
    let done = 0;
    let finished: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (finished = resolve));
    return {
      async prepare() {
        await Promise.all([app.broker(), app.backend()]);
        // The same work on a queue of its own, so the timed worker starts with compiled code, as a worker that
        // has been up for a while would; its results are deleted so the drain check counts only timed ones.
        const ids: string[] = [];
        for (let i = 0; i < spec.warmup; i += 1000) {
          const sent = await Promise.all(
            Array.from({ length: Math.min(1000, spec.warmup - i) }, () => noop.applyAsync([], { queue: WARMUP_QUEUE })),
          );
          ids.push(...sent.map((r) => r.id));
        }
        if (ids.length) {
          const warm = app.worker({ queues: [WARMUP_QUEUE] });
          let warmDone = 0;
          const warmed = new Promise<void>((resolve) => warm.on('task-succeeded', () => ++warmDone === ids.length && resolve()));
          await warm.start();
          await warmed;
          await warm.stop();
          await Promise.all(ids.map((id) => app.asyncResult(id).forget()));
        }
      },
      async run() {
        worker = app.worker({ queues: [QUEUE] });
        // Emitted once the result is stored and the message acknowledged, so the count is of durable completions.
        worker.on('task-succeeded', () => ++done === spec.expected && finished());
        worker.on('task-failed', ({ error }) => console.error('celerity task failed:', error.message));
        if (spec.timeline) {
          // 'task-received' once reserved and decoded; 'task-succeeded' once the result is stored and the ack done.
          worker.on('task-received', (req) => (timeline[req.id] = [hrUs()]));
          worker.on('task-succeeded', ({ id }) => timeline[id]?.push(hrUs()));
        }
        await worker.start();
        await all;
      },
      async close() {
        await worker?.stop();
        await app.close();
      },
    };
  }
  const app = celerityApp();
  const noop = app.task(TASK, () => null, { queue: QUEUE });
  if (spec.role === 'enqueue') {
    const enqueue = async (n: number) => {
      if (spec.mode === 'seq') {
        for (let i = 0; i < n; i++) await noop.delay();
      } else {
        // Calls made in one tick are coalesced by the producer into one MULTI per 1,000.
        for (let i = 0; i < n; i += 1000) await Promise.all(Array.from({ length: Math.min(1000, n - i) }, () => noop.delay()));
      }
    };
    return {
      async prepare() {
        await Promise.all([app.broker(), app.backend()]);
        await enqueue(spec.warmup);
      },
      async run() {
        await enqueue(spec.count);
      },
      close: () => app.close(),
    };
  }
  const roundTrips = async (n: number, samples?: number[]) => {
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const t0 = hrUs();
      const r = await noop.delay();
      const t1 = hrUs();
      await r.get({ timeout: 10_000 });
      samples?.push(performance.now() - t);
      if (samples) timeline[r.id] = [t0, t1, hrUs()];
    }
  };
  return {
    async prepare() {
      await Promise.all([app.broker(), app.backend()]);
      await roundTrips(spec.warmup);
    },
    async run() {
      const samples: number[] = [];
      await roundTrips(spec.count, samples);
      return samples;
    },
    close: () => app.close(),
  };
}

async function bullRole(): Promise<Role> {
  const { Queue, Worker, QueueEvents } = await loadBullMQ();
  if (spec.role === 'worker') {
    // Defaults otherwise: completed jobs stay in Redis with their returnvalue (removeOnComplete off), as
    // Celerity keeps every result (for a day by default).
    const options = { connection: bullConnection, concurrency: spec.concurrency, autorun: false };
    const worker = new Worker(QUEUE, async () => null, options);
    let done = 0;
    let finished: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (finished = resolve));
    // Emitted after moveToFinished has stored the returnvalue.
    worker.on('completed', () => ++done === spec.expected && finished());
    if (spec.timeline) {
      // 'active' once moved to active and fetched; 'completed' once moveToFinished has stored the returnvalue.
      worker.on('active', (job) => (timeline[job.id!] = [hrUs()]));
      worker.on('completed', (job) => timeline[job.id!]?.push(hrUs()));
    }
    worker.on('failed', (_job, err) => console.error('bullmq job failed:', (err as Error).message));
    worker.on('error', (err) => console.error('bullmq worker error:', (err as Error).message));
    let running: Promise<void> | undefined;
    return {
      async prepare() {
        await worker.waitUntilReady();
        if (spec.warmup > 0) {
          // The same warm-up as Celerity's: the same jobs through a worker of the same options on a queue of its own.
          const warmQueue = new Queue(WARMUP_QUEUE, { connection: bullConnection });
          for (let i = 0; i < spec.warmup; i += 1000) {
            await warmQueue.addBulk(Array.from({ length: Math.min(1000, spec.warmup - i) }, () => ({ name: TASK, data: {} })));
          }
          const warm = new Worker(WARMUP_QUEUE, async () => null, options);
          let warmDone = 0;
          const warmed = new Promise<void>((resolve) => warm.on('completed', () => ++warmDone === spec.warmup && resolve()));
          const warmRun = warm.run();
          await warmed;
          await warm.close();
          await warmRun;
          await warmQueue.close();
        }
      },
      async run() {
        running = worker.run();
        await all;
      },
      async close() {
        await worker.close();
        await running;
      },
    };
  }
  const queue = new Queue(QUEUE, { connection: bullConnection });
  if (spec.role === 'enqueue') {
    const enqueue = async (n: number) => {
      if (spec.mode === 'seq') {
        for (let i = 0; i < n; i++) await queue.add(TASK, {});
      } else {
        for (let i = 0; i < n; i += 1000) await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: TASK, data: {} })));
      }
    };
    return {
      async prepare() {
        await queue.waitUntilReady();
        await enqueue(spec.warmup);
      },
      async run() {
        await enqueue(spec.count);
      },
      close: () => queue.close(),
    };
  }
  const events = new QueueEvents(QUEUE, { connection: bullConnection });
  const roundTrips = async (n: number, samples?: number[]) => {
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const t0 = hrUs();
      const job = await queue.add(TASK, {});
      const t1 = hrUs();
      await job.waitUntilFinished(events, 10_000);
      samples?.push(performance.now() - t);
      if (samples) timeline[job.id!] = [t0, t1, hrUs()];
    }
  };
  return {
    async prepare() {
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      await roundTrips(spec.warmup);
    },
    async run() {
      const samples: number[] = [];
      await roundTrips(spec.count, samples);
      return samples;
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

async function main(): Promise<void> {
  const role = spec.system === 'celerity' ? celerityRole() : await bullRole();
  await role.prepare();
  send({ type: 'ready' });
  if ((await nextMessage()).type !== 'go') throw new Error('expected go');
  const rssStart = process.memoryUsage().rss;
  const wire0: Wire = wireSnapshot();
  const cpu0 = process.cpuUsage();
  const hrStartUs = hrUs();
  const t0 = performance.now();
  const samples = await role.run();
  const elapsedMs = performance.now() - t0;
  const hrEndUs = hrUs();
  const cpu = process.cpuUsage(cpu0);
  const wire = wireDelta(wire0, wireSnapshot());
  const mem = process.memoryUsage();
  const report: RoleReport = {
    elapsedMs,
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    wire,
    hrStartUs,
    hrEndUs,
    rssStart,
    rssEnd: mem.rss,
    heapUsedEnd: mem.heapUsed,
    ...(samples ? { samples } : {}),
    ...(Object.keys(timeline).length ? { timeline } : {}),
  };
  send({ type: 'done', report });
  if ((await nextMessage()).type !== 'stop') throw new Error('expected stop');
  await role.close();
  send({ type: 'stopped' });
  finished = true;
  // A normal exit (not a signal) so that --cpu-prof writes its profile.
  process.disconnect();
}

let finished = false;
// An orchestrator that died mid-run must not leave this process holding Redis connections forever.
process.on('disconnect', () => {
  if (!finished) process.exit(1);
});

main().catch((err: unknown) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  try {
    send({ type: 'error', message });
  } catch {
    console.error(message);
  }
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
