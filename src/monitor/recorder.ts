/**
 * Buffers task updates and writes them to the history store in batches: every `intervalMs`, or at once when
 * `batchSize` are waiting, one `apply` per batch and never two at a time (the store's transactions then see the
 * updates in the order they came).
 *
 * Events arrive over pub/sub, which cannot be slowed down, so the buffer is bounded instead: beyond `maxBuffer`
 * updates new ones are dropped, counted in `dropped`, and logged, rather than growing the monitor without bound.
 * Updates are not coalesced (that would lose timeline entries). A batch whose apply fails is kept and tried again
 * first on the next flush, up to `maxAttempts` times, then given up (counted as dropped, logged with its cause).
 */
import { checkUpdate } from '../history/merge.js';
import type { HistoryStore, TaskUpdate } from '../history/port.js';

/** The part of a pino logger the monitor uses. */
export interface MonitorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: MonitorLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface RecorderOptions {
  history: Pick<HistoryStore, 'apply'>;
  /** Default 100 ms. */
  intervalMs?: number;
  /** Updates per apply; default 500. */
  batchSize?: number;
  /** Updates held at most (the failed batch aside); default 50,000. */
  maxBuffer?: number;
  /** Tries of one batch before it is given up; default 10. */
  maxAttempts?: number;
  logger?: MonitorLogger;
}

export class Recorder {
  /** Updates dropped: the buffer was full, or their batch failed `maxAttempts` times. */
  dropped = 0;
  /** Updates written. */
  written = 0;
  private buffer: TaskUpdate[] = [];
  /** The batch whose apply failed, tried again before anything newer. */
  private failed: TaskUpdate[] | null = null;
  private attempts = 0;
  private readonly history: Pick<HistoryStore, 'apply'>;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly maxBuffer: number;
  private readonly maxAttempts: number;
  private readonly log: MonitorLogger;
  private timer: NodeJS.Timeout | null = null;
  /** The write in progress; every write chains on it, so applies never overlap. */
  private tail: Promise<void> = Promise.resolve();
  private writing = false;
  private soon = false;
  private droppedUnlogged = 0;
  private closed = false;

  constructor(options: RecorderOptions) {
    this.history = options.history;
    this.intervalMs = options.intervalMs ?? 100;
    this.batchSize = options.batchSize ?? 500;
    this.maxBuffer = options.maxBuffer ?? 50_000;
    this.maxAttempts = options.maxAttempts ?? 10;
    this.log = options.logger ?? silentLogger;
  }

  /** Updates waiting to be written (a failed batch included). */
  get pending(): number {
    return this.buffer.length + (this.failed?.length ?? 0);
  }

  /** Starts the periodic writes. */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Queues one update; false when it was dropped because the buffer is full. */
  push(update: TaskUpdate): boolean {
    if (this.closed) {
      this.dropped++;
      return false;
    }
    try {
      // An update no store can keep (an event with a malformed field) would fail its whole batch every time:
      // refused here, alone, with the reason.
      checkUpdate(update);
    } catch (err) {
      this.dropped++;
      this.log.warn({ err: (err as Error).message }, 'task history: an update was refused');
      return false;
    }
    if (this.buffer.length >= this.maxBuffer) {
      this.dropped++;
      if (this.droppedUnlogged++ === 0) {
        this.log.warn({ maxBuffer: this.maxBuffer }, 'task history buffer full: dropping updates until it drains');
      }
      return false;
    }
    this.buffer.push(update);
    if (this.buffer.length >= this.batchSize && !this.soon && !this.writing && this.timer) {
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        this.tick();
      });
    }
    return true;
  }

  /**
   * Writes everything queued so far; rejects with the store's error when a batch fails (the batch is kept for the
   * next flush).
   */
  flush(): Promise<void> {
    const run = this.tail.then(() => this.writeAll());
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Stops the timer and writes what is left (rejecting if that fails); later pushes are dropped. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.closed = true;
    await this.flush();
  }

  private tick(): void {
    if (this.writing || (this.buffer.length === 0 && !this.failed)) {
      this.reportDropped();
      return;
    }
    // Failures are logged in writeAll; the batch waits for the next tick.
    this.flush().catch(() => undefined);
  }

  private async writeAll(): Promise<void> {
    this.writing = true;
    try {
      while (this.failed || this.buffer.length > 0) {
        const batch = this.failed ?? this.take();
        try {
          await this.history.apply(batch);
        } catch (err) {
          this.attempts++;
          const cause = err instanceof Error ? err.message : String(err);
          if (this.attempts >= this.maxAttempts) {
            this.failed = null;
            this.attempts = 0;
            this.dropped += batch.length;
            this.log.error({ err: cause, updates: batch.length, attempts: this.maxAttempts }, 'task history write failed; batch given up');
          } else {
            this.failed = batch;
            this.log.warn({ err: cause, updates: batch.length, attempt: this.attempts }, 'task history write failed; will retry the batch');
          }
          throw err;
        }
        this.failed = null;
        this.attempts = 0;
        this.written += batch.length;
      }
    } finally {
      this.writing = false;
      this.reportDropped();
    }
  }

  private take(): TaskUpdate[] {
    if (this.buffer.length <= this.batchSize) {
      const all = this.buffer;
      this.buffer = [];
      return all;
    }
    return this.buffer.splice(0, this.batchSize);
  }

  private reportDropped(): void {
    // The first drop of a run is logged at once; the rest as one count once the buffer has room again.
    if (this.droppedUnlogged > 1 && this.buffer.length < this.maxBuffer) {
      this.log.warn({ dropped: this.droppedUnlogged - 1, total: this.dropped }, 'task history updates dropped while the buffer was full');
      this.droppedUnlogged = 0;
    } else if (this.droppedUnlogged === 1 && this.buffer.length < this.maxBuffer) {
      this.droppedUnlogged = 0;
    }
  }
}
