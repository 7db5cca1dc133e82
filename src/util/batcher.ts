/**
 * Coalesces items submitted in the same tick into one call of `flush`, so a burst of `delay()` calls or task
 * completions becomes one broker transaction / round trip. Each submit resolves when its batch has been flushed,
 * and rejects with the batch's error, so nothing is acknowledged to a caller before it is durable.
 */
export interface BatcherOptions {
  /** A batch is flushed at once when it reaches this size, instead of at the end of the tick. */
  maxBatch?: number;
  /**
   * `serial` (default): a batch starts flushing only after the previous one has finished, so their effects keep
   * submission order. `overlap`: batches flush concurrently; for callers whose ordering needs are met inside one
   * batch, and whose connection keeps commands in order anyway, so Redis works on one batch while this process
   * encodes the next instead of each side waiting for the other.
   */
  mode?: 'serial' | 'overlap';
  /**
   * `overlap` only: at most this many batches flushing at once; later full batches wait, in order, for one to
   * finish. Backpressure for a caller that submits far faster than the flush completes (a loop of a million
   * `delay()` calls would otherwise encode and buffer all of them at once). Default: no limit.
   */
  maxInFlight?: number;
}

interface Pending<T> {
  items: T[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Batcher<T> {
  /** The batch being filled; every submit to it gets the same promise (one per batch, not one per item). */
  private current: Pending<T> | undefined;
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly pending = new Set<Promise<void>>();
  private readonly maxBatch: number;
  private readonly overlap: boolean;
  private readonly maxInFlight: number;
  /** Full batches waiting for a flush slot (overlap mode with maxInFlight), in submission order. */
  private readonly queued: Pending<T>[] = [];

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1000;
    this.overlap = options.mode === 'overlap';
    this.maxInFlight = options.maxInFlight ?? Infinity;
  }

  submit(item: T): Promise<void> {
    let batch = this.current;
    if (!batch) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      batch = this.current = { items: [], promise, resolve, reject };
    }
    batch.items.push(item);
    if (batch.items.length >= this.maxBatch) this.run();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
    return batch.promise;
  }

  /** Resolves once everything submitted so far has been flushed (or failed). */
  async drain(): Promise<void> {
    if (this.current) this.run();
    await this.inFlight;
    // Queued batches start as flushing ones finish, so pending is never empty while some are queued.
    while (this.pending.size) await Promise.all(this.pending);
  }

  private run(): void {
    this.scheduled = false;
    const batch = this.current;
    if (!batch) return;
    this.current = undefined;
    if (!this.overlap) {
      this.inFlight = this.inFlight.then(() => this.settle(batch));
      return;
    }
    this.start(batch);
  }

  private start(batch: Pending<T>): void {
    if (this.pending.size >= this.maxInFlight || this.queued.length) this.queued.push(batch);
    else this.launch(batch);
  }

  /** Flushes now; when done, hands its slot to the oldest queued batch. */
  private launch(batch: Pending<T>): void {
    const flushing = this.settle(batch);
    this.pending.add(flushing);
    void flushing.finally(() => {
      this.pending.delete(flushing);
      const next = this.queued.shift();
      if (next) this.launch(next);
    });
  }

  private async settle(batch: Pending<T>): Promise<void> {
    try {
      await this.flush(batch.items);
      batch.resolve();
    } catch (err) {
      batch.reject(err);
    }
  }
}
