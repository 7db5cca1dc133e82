/**
 * Task rate limits. `rateLimit` is Celery's: per task type, per worker, written `'10/s'`, `'100/m'`, `'1000/h'` or
 * a number (per second). `globalRateLimit` is the same, but one budget shared by every worker on the broker.
 *
 * Both space starts evenly (Celery's token bucket holds one token, so `'10/s'` means one start every 100 ms, not
 * ten at once). A task over its rate is not refused: it gets the next free start time and waits for it in the
 * worker, still reserved, as Celery holds rate-limited requests. Each waiting task claims its own slot (a virtual
 * schedule, GCRA), so n waiting tasks wake once each instead of all retrying at every tick.
 */
import { ConfigurationError } from '../errors/index.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * Starts per second for a Celery rate string; null for no limit (`null`, `0`, `''`, as Celery reads them).
 * Throws ConfigurationError naming the value for anything else.
 */
export function parseRate(value: string | number | null | undefined, setting = 'rateLimit'): number | null {
  if (value === null || value === undefined || value === '' || value === 0) return null;
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return value;
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([smh]))?\s*$/.exec(value);
    if (m) {
      const n = Number(m[1]);
      if (n === 0) return null;
      return n / UNITS[m[2] ?? 's']!;
    }
  }
  throw new ConfigurationError(setting, value, "a rate such as '10/s', '100/m' or '1000/h' (or null for none)");
}

/** Milliseconds between two starts at `perSecond`. */
export function intervalMs(perSecond: number): number {
  return 1000 / perSecond;
}

/**
 * Claims start slots at a fixed spacing. `claim()` returns how long the caller must wait before starting (0 when
 * it may start now) and books that slot, so the next caller gets the one after.
 */
export class StartSchedule {
  /** Earliest time the next start may happen (epoch ms). */
  private next = 0;

  constructor(private spacing: number) {}

  setRate(perSecond: number): void {
    this.spacing = intervalMs(perSecond);
  }

  claim(now = Date.now()): number {
    const start = Math.max(now, this.next);
    this.next = start + this.spacing;
    return start - now;
  }
}

/** Per-worker schedules by task name; runtime changes (the `rate_limit` control command) replace the rate. */
export class LocalRateLimits {
  private readonly schedules = new Map<string, StartSchedule>();
  /** Rates set at runtime, overriding the task's option; null = limit removed. */
  private readonly overrides = new Map<string, number | null>();

  /** The rate in force for a task, in starts per second, or null. */
  rateOf(taskName: string, option: string | number | null | undefined): number | null {
    return this.overrides.has(taskName) ? this.overrides.get(taskName)! : parseRate(option);
  }

  set(taskName: string, value: string | number | null): void {
    const rate = parseRate(value);
    this.overrides.set(taskName, rate);
    if (rate === null) this.schedules.delete(taskName);
    else this.schedules.get(taskName)?.setRate(rate);
  }

  /** Milliseconds to wait before this start of `taskName` (0 = now), booking the slot. */
  claim(taskName: string, option: string | number | null | undefined, now = Date.now()): number {
    const rate = this.rateOf(taskName, option);
    if (rate === null) return 0;
    let schedule = this.schedules.get(taskName);
    if (!schedule) {
      schedule = new StartSchedule(intervalMs(rate));
      this.schedules.set(taskName, schedule);
    }
    return schedule.claim(now);
  }
}

/** What the gate needs from the broker: a start slot on a schedule every worker shares. */
export interface SharedSchedules {
  /** Books the next start of `key` at `spacingMs` spacing; resolves to milliseconds to wait (0 = now). */
  claimRateSlot?(key: string, spacingMs: number): Promise<number>;
}

/**
 * The worker's gate before a task starts: its local rate, then its global one (booked on the broker). Returns 0
 * when the task may start at once; otherwise how long to hold it, or a promise of that when the broker is asked.
 */
export class RateGate {
  readonly local = new LocalRateLimits();
  private readonly parsed = new Map<string | number, number | null>();

  constructor(
    private readonly broker: SharedSchedules,
    private readonly onError: (err: unknown, taskName: string) => void,
  ) {}

  wait(taskName: string, options: { rateLimit?: string | number | null; globalRateLimit?: string | number | null }): number | Promise<number> {
    const local = this.local.claim(taskName, options.rateLimit);
    const global = this.globalRate(options.globalRateLimit);
    if (global === null || !this.broker.claimRateSlot) return local;
    return this.broker.claimRateSlot(taskName, intervalMs(global)).then(
      (shared) => Math.max(shared, local),
      (err: unknown) => {
        // The shared budget is unreachable with the broker; the task still runs (it is not lost), on its local rate.
        this.onError(err, taskName);
        return local;
      },
    );
  }

  private globalRate(option: string | number | null | undefined): number | null {
    if (option === null || option === undefined) return null;
    let rate = this.parsed.get(option);
    if (rate === undefined) {
      rate = parseRate(option, 'globalRateLimit');
      this.parsed.set(option, rate);
    }
    return rate;
  }
}
