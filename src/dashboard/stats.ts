/**
 * The dashboard's charts: task counts, runtimes and queue waits over time, kept in memory from the monitor's
 * events. Two rings of fixed size bound the memory whatever the load: one bucket per second for the last 15
 * minutes and one per minute for the last 24 hours. Percentiles come from a log-scale histogram per bucket
 * (a few percent of error, constant size), not from the samples themselves.
 */
import type { ReceivedEvent } from '../control/event-receiver.js';

export type StatsWindow = '15m' | '1h' | '24h';

export interface StatsPoint {
  /** Start of the bucket, epoch ms. */
  t: number;
  succeeded: number;
  failed: number;
  retried: number;
  received: number;
  started: number;
  /** Seconds; null when no task finished in the bucket. */
  runtimeP50: number | null;
  runtimeP95: number | null;
  /** Seconds from received to started; null when no task started in the bucket. */
  waitP50: number | null;
}

export interface StatsSeries {
  /** Seconds between points. */
  step: number;
  points: StatsPoint[];
}

export interface StatsCollectorOptions {
  /** The clock, epoch ms (default Date.now). */
  now?: () => number;
  /** Tasks whose received time is kept to measure their wait (default 10 000; the oldest go first). */
  maxWaiting?: number;
}

/** Histogram bins per doubling: 4 gives about 19 % between bin edges, the most a percentile is off by. */
const BINS_PER_OCTAVE = 4;
/** The smallest duration told apart (1 ms); anything shorter falls in the first bin. */
const MIN_SECONDS = 0.001;
const MAX_BIN = 100;

const COUNTED = { 'task-succeeded': 'succeeded', 'task-failed': 'failed', 'task-retried': 'retried', 'task-received': 'received', 'task-started': 'started' } as const;
type Counter = (typeof COUNTED)[keyof typeof COUNTED];

class Bucket {
  t = -1;
  succeeded = 0;
  failed = 0;
  retried = 0;
  received = 0;
  started = 0;
  runtimes: Map<number, number> | null = null;
  waits: Map<number, number> | null = null;

  reset(t: number): void {
    this.t = t;
    this.succeeded = this.failed = this.retried = this.received = this.started = 0;
    this.runtimes = this.waits = null;
  }

  point(): StatsPoint {
    return {
      t: this.t,
      succeeded: this.succeeded,
      failed: this.failed,
      retried: this.retried,
      received: this.received,
      started: this.started,
      runtimeP50: quantile(this.runtimes, 0.5),
      runtimeP95: quantile(this.runtimes, 0.95),
      waitP50: quantile(this.waits, 0.5),
    };
  }
}

class Ring {
  private readonly buckets: Bucket[];

  constructor(
    readonly stepMs: number,
    readonly size: number,
  ) {
    this.buckets = Array.from({ length: size }, () => new Bucket());
  }

  /** The bucket of time `t`, emptied first when it last held an older period. */
  at(t: number): Bucket {
    const start = Math.floor(t / this.stepMs) * this.stepMs;
    const bucket = this.buckets[Math.floor(start / this.stepMs) % this.size]!;
    if (bucket.t !== start) bucket.reset(start);
    return bucket;
  }

  /** `count` points ending with the bucket of `now`, oldest first; periods without events are zeros. */
  series(now: number, count: number): StatsPoint[] {
    const last = Math.floor(now / this.stepMs) * this.stepMs;
    const points: StatsPoint[] = [];
    for (let t = last - (count - 1) * this.stepMs; t <= last; t += this.stepMs) {
      const bucket = this.buckets[Math.floor(t / this.stepMs) % this.size]!;
      points.push(bucket.t === t ? bucket.point() : empty(t));
    }
    return points;
  }
}

function empty(t: number): StatsPoint {
  return { t, succeeded: 0, failed: 0, retried: 0, received: 0, started: 0, runtimeP50: null, runtimeP95: null, waitP50: null };
}

function binOf(seconds: number): number {
  if (!(seconds > MIN_SECONDS)) return 0;
  return Math.min(MAX_BIN, Math.ceil(Math.log2(seconds / MIN_SECONDS) * BINS_PER_OCTAVE));
}

/** The upper edge of a bin, in seconds: a quantile is never reported below the durations it stands for. */
function binValue(bin: number): number {
  return Number((MIN_SECONDS * 2 ** (bin / BINS_PER_OCTAVE)).toPrecision(3));
}

function add(hist: Map<number, number>, seconds: number): void {
  const bin = binOf(seconds);
  hist.set(bin, (hist.get(bin) ?? 0) + 1);
}

function quantile(hist: Map<number, number> | null, q: number): number | null {
  if (!hist || hist.size === 0) return null;
  const bins = [...hist.entries()].sort((a, b) => a[0] - b[0]);
  const total = bins.reduce((sum, [, n]) => sum + n, 0);
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [bin, n] of bins) {
    seen += n;
    if (seen >= rank) return binValue(bin);
  }
  return binValue(bins[bins.length - 1]![0]);
}

const WINDOWS: Record<StatsWindow, { ring: 'seconds' | 'minutes'; count: number }> = {
  '15m': { ring: 'seconds', count: 900 },
  '1h': { ring: 'minutes', count: 60 },
  '24h': { ring: 'minutes', count: 1440 },
};

export class StatsCollector {
  private readonly now: () => number;
  private readonly seconds = new Ring(1000, 900);
  private readonly minutes = new Ring(60_000, 1440);
  /** Received time (epoch ms) of tasks not started yet, in arrival order: the oldest are dropped first. */
  private readonly waiting = new Map<string, number>();
  private readonly maxWaiting: number;

  constructor(options: StatsCollectorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxWaiting = options.maxWaiting ?? 10_000;
  }

  /** Counts one monitor event in the buckets of the time it arrived (the clock's, not the sender's). */
  observe(event: ReceivedEvent): void {
    const counter: Counter | undefined = COUNTED[event.type as keyof typeof COUNTED];
    if (!counter) return;
    const now = this.now();
    const buckets = [this.seconds.at(now), this.minutes.at(now)];
    for (const b of buckets) b[counter] += 1;
    const id = typeof event.uuid === 'string' ? event.uuid : undefined;
    if (counter === 'received' && id) {
      this.waiting.delete(id);
      this.waiting.set(id, eventTime(event) ?? now);
      if (this.waiting.size > this.maxWaiting) this.waiting.delete(this.waiting.keys().next().value!);
    } else if (counter === 'started' && id) {
      const received = this.waiting.get(id);
      this.waiting.delete(id);
      const started = eventTime(event) ?? now;
      if (received !== undefined && started >= received) {
        for (const b of buckets) add((b.waits ??= new Map()), (started - received) / 1000);
      }
    } else if (counter === 'succeeded' || counter === 'failed') {
      if (id) this.waiting.delete(id);
      const runtime = event.runtime;
      if (typeof runtime === 'number' && Number.isFinite(runtime) && runtime >= 0) {
        for (const b of buckets) add((b.runtimes ??= new Map()), runtime);
      }
    }
  }

  /** The points of a window, oldest first, ending with the current (still filling) period. */
  series(window: StatsWindow): StatsSeries {
    const { ring, count } = WINDOWS[window];
    const r = ring === 'seconds' ? this.seconds : this.minutes;
    return { step: r.stepMs / 1000, points: r.series(this.now(), count) };
  }

  /** The latest complete second: what the live stream sends every two seconds. */
  latest(): StatsPoint {
    return this.seconds.series(this.now() - 1000, 1)[0]!;
  }
}

/** The event's own timestamp (epoch seconds) in ms, when it has a usable one. */
function eventTime(event: ReceivedEvent): number | undefined {
  const t = event.timestamp;
  return typeof t === 'number' && Number.isFinite(t) ? Math.round(t * 1000) : undefined;
}
