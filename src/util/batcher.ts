/**
 * Coalesces items submitted in the same tick into one call of `flush`, so a burst of `delay()` calls or task
 * completions becomes one broker transaction / round trip. Each submit resolves when its batch has been flushed,
 * and rejects with the batch's error, so nothing is acknowledged to a caller before it is durable.
 */
export class Batcher<T> {
  private items: T[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly maxBatch = 1000,
  ) {}

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
  }

  private run(): void {
    this.scheduled = false;
    if (!this.items.length) return;
    const items = this.items;
    const waiters = this.waiters;
    this.items = [];
    this.waiters = [];
    // Batches flush one after another so their effects keep submission order (a result is stored before its ack).
    this.inFlight = this.inFlight.then(async () => {
      try {
        await this.flush(items);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    });
  }
}
