/**
 * Notices when this process's event loop was blocked: a timer that should fire every TICK_MS measures how late it
 * came. A task on the async pool that computes without awaiting holds the loop, and with it every timer that
 * extends visibility, answers remote control and sends heartbeats; past a third of the visibility timeout the
 * worker says so once per task name, with the fix (`-P threads` or `-P process` run such tasks off the loop).
 */
import type { Logger } from '../util/logger.js';

const TICK_MS = 250;

export interface LoopWatchOptions {
  /** A stall longer than this (ms) is reported. */
  thresholdMs: number;
  /** Called after the loop resumes from a stall of `stalledMs`. */
  onStall(stalledMs: number): void;
  /** Called on every tick that came in time. */
  onTick?(): void;
}

export class LoopWatch {
  private timer: NodeJS.Timeout | undefined;
  private expected = 0;

  constructor(private readonly o: LoopWatchOptions) {}

  start(): void {
    this.expected = Date.now() + TICK_MS;
    this.timer = setInterval(() => this.check(), TICK_MS);
    // Watching never keeps a process alive on its own.
    this.timer.unref();
  }

  /**
   * Checks once more before stopping: a shutdown that a signal started as the loop came back can run to its end
   * before the late timer gets its turn, and the stall would go unreported.
   */
  stop(): void {
    if (this.timer) this.check();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const now = Date.now();
    const late = now - this.expected;
    this.expected = now + TICK_MS;
    if (late > this.o.thresholdMs) this.o.onStall(late);
    else if (late >= 0) this.o.onTick?.();
  }
}

/** A stall worth reporting: a third of the visibility timeout (the extension interval), within 1 to 10 s. */
export function stallThreshold(visibilityTimeout: number): number {
  return Math.max(1000, Math.min((visibilityTimeout * 1000) / 3, 10_000));
}

/** Says, once per task name, that a task held the loop, and what to do about it. */
export class StallReporter {
  private readonly reported = new Set<string>();
  /**
   * Tasks started since the last tick that came in time. A task that blocks the loop can start, return, and have
   * its result stored and its message acked (all synchronous on SQLite) before the late tick runs: by then it is
   * neither running nor finishing, yet it is the one that stalled the loop.
   */
  private readonly recent = new Set<string>();

  /** A task of this name started on the loop. */
  started(name: string): void {
    this.recent.add(name);
  }

  /** The loop was on time: what started before now did not stall it. */
  tick(): void {
    this.recent.clear();
  }

  constructor(
    private readonly log: Logger,
    private readonly visibilityTimeout: number,
  ) {}

  /** The loop stalled for `ms` while tasks of these names were on it (running, or finishing on it). */
  report(ms: number, taskNames: readonly string[]): void {
    const names = [...new Set([...taskNames, ...this.recent])].filter((n) => !this.reported.has(n));
    this.recent.clear();
    if (!names.length) return;
    for (const n of names) this.reported.add(n);
    const vt = this.visibilityTimeout;
    this.log.warn(
      { stalledMs: Math.round(ms), tasks: names, visibilityTimeout: vt },
      `the event loop was blocked for ${(ms / 1000).toFixed(1)} s while ${names.join(', ')} ran: visibility extension (timeout ${vt} s), ` +
        'heartbeats and remote control waited. Run CPU-bound tasks with -P threads or -P process, or await between chunks of work',
    );
  }
}
