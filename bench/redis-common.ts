/**
 * What the Redis comparison's orchestrator (redis-vs-bullmq.ts) and its child processes (redis-role.ts) share:
 * where Redis is, which database each system gets, the message types on the IPC channel, and the small part of
 * BullMQ's API the benchmark calls.
 *
 * BullMQ is a dependency of bench/package.json only. It is loaded with a computed specifier and typed by the
 * interfaces below, so `npm run typecheck` of the whole repository passes whether or not `npm --prefix bench
 * install` has been run.
 */
import net from 'node:net';

export const REDIS_HOST = process.env.BENCH_REDIS_HOST ?? '127.0.0.1';
export const REDIS_PORT = Number(process.env.BENCH_REDIS_PORT ?? 6379);

/** One database per store, so a FLUSHDB before each measurement touches nothing but this benchmark's data. */
export const DB = { bullmq: 11, celerityBroker: 12, celerityResults: 13 } as const;

export const QUEUE = 'bench';
export const TASK = 'bench.noop';
/** Where a worker child runs its untimed warm-up tasks, apart from the queue it is timed on. */
export const WARMUP_QUEUE = 'bench-warmup';

export type System = 'celerity' | 'bullmq';

export type RoleSpec =
  | { role: 'enqueue'; system: System; mode: 'seq' | 'bulk'; warmup: number; count: number }
  | { role: 'worker'; system: System; concurrency: number; expected: number; warmup: number; timeline?: boolean }
  | { role: 'roundtrip'; system: System; warmup: number; count: number };

/** Socket traffic to Redis during the timed part: writes approximate round trips (a pipeline is one write). */
export interface Wire {
  writes: number;
  bytesOut: number;
  bytesIn: number;
}

export interface RoleReport {
  elapsedMs: number;
  /** process.cpuUsage() over the timed part, microseconds. */
  cpuUser: number;
  cpuSystem: number;
  wire: Wire;
  /** process.hrtime at the start and end of the timed part, microseconds (the clock of --cpu-prof profiles). */
  hrStartUs: number;
  hrEndUs: number;
  rssStart: number;
  rssEnd: number;
  heapUsedEnd: number;
  /** Round-trip samples in ms (roundtrip role only). */
  samples?: number[];
  /**
   * Task id -> process.hrtime instants in µs (a clock shared by every process on the machine): for a round-trip
   * client [delay() called, delay() resolved, get() resolved]; for a worker with `timeline`, [received, done].
   */
  timeline?: Record<string, number[]>;
}

export type ToChild = { type: 'go' } | { type: 'stop' };
export type FromChild = { type: 'ready' } | { type: 'done'; report: RoleReport } | { type: 'stopped' } | { type: 'error'; message: string };

export const celerityUrls = {
  broker: `redis://${REDIS_HOST}:${REDIS_PORT}/${DB.celerityBroker}`,
  backend: `redis://${REDIS_HOST}:${REDIS_PORT}/${DB.celerityResults}`,
};

export const bullConnection = { host: REDIS_HOST, port: REDIS_PORT, db: DB.bullmq };

// ---- BullMQ, as far as the benchmark uses it --------------------------------------------------------------------

export interface BullJob {
  id?: string;
  waitUntilFinished(events: BullQueueEvents, ttl?: number): Promise<unknown>;
}

export interface BullQueue {
  add(name: string, data: unknown, opts?: Record<string, unknown>): Promise<BullJob>;
  addBulk(jobs: { name: string; data: unknown; opts?: Record<string, unknown> }[]): Promise<BullJob[]>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

export interface BullWorker {
  on(event: 'completed' | 'active', listener: (job: BullJob, result: unknown) => void): unknown;
  on(event: 'failed' | 'error', listener: (...args: unknown[]) => void): unknown;
  run(): Promise<void>;
  waitUntilReady(): Promise<unknown>;
  close(force?: boolean): Promise<void>;
}

export interface BullQueueEvents {
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

export interface BullMQ {
  Queue: new (name: string, opts: { connection: typeof bullConnection }) => BullQueue;
  Worker: new (
    name: string,
    processor: (job: BullJob) => Promise<unknown>,
    opts: { connection: typeof bullConnection; concurrency: number; autorun: boolean },
  ) => BullWorker;
  QueueEvents: new (name: string, opts: { connection: typeof bullConnection }) => BullQueueEvents;
}

export async function loadBullMQ(): Promise<BullMQ> {
  const specifier: string = 'bullmq';
  try {
    return (await import(specifier)) as BullMQ;
  } catch (err) {
    throw new Error(`cannot load bullmq (${(err as Error).message}); run: npm --prefix bench install`, { cause: err });
  }
}

// ---- wire counting -------------------------------------------------------------------------------------------------

const redisSockets = new Set<net.Socket>();
let writes = 0;

/**
 * Counts writes on sockets connected to the benchmark's Redis port, whatever client library (and whichever copy
 * of ioredis) makes them. Costs one comparison per socket write, the same for both systems.
 */
export function countRedisWrites(): void {
  const original = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    if (this.remotePort === REDIS_PORT) {
      writes++;
      redisSockets.add(this);
    }
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof original;
}

export function wireSnapshot(): Wire {
  let bytesOut = 0;
  let bytesIn = 0;
  for (const s of redisSockets) {
    bytesOut += s.bytesWritten;
    bytesIn += s.bytesRead;
  }
  return { writes, bytesOut, bytesIn };
}

export function wireDelta(a: Wire, b: Wire): Wire {
  return { writes: b.writes - a.writes, bytesOut: b.bytesOut - a.bytesOut, bytesIn: b.bytesIn - a.bytesIn };
}
