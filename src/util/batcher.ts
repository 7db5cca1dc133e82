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
}

export class Batcher<T> {
  private items: T[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly pending = new Set<Promise<void>>();
  private readonly maxBatch: number;
  private readonly overlap: boolean;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1000;
    this.overlap = options.mode === 'overlap';
  }

  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.items.push(item);
      this.waiters.push({ resolve, reject });
      if (this.items.length >= this.maxBatch) this.run();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  /** Resolves once everything submitted so far has been flushed (or failed). */
  async drain(): Promise<void> {
    if (this.items.length) this.run();
    await this.inFlight;
    while (this.pending.size) await Promise.all(this.pending);
  }

  private run(): void {
    this.scheduled = false;
    if (!this.items.length) return;
    const items = this.items;
    const waiters = this.waiters;
    this.items = [];
    this.waiters = [];
    const settle = async (): Promise<void> => {
      try {
        await this.flush(items);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    };
    if (!this.overlap) {
      this.inFlight = this.inFlight.then(settle);
      return;
    }
    const flushing = settle();
    this.pending.add(flushing);
    void flushing.finally(() => this.pending.delete(flushing));
  }
}
