/**
 * A worker's timers that keep the stores in shape while tasks run: extending the visibility of the messages it
 * holds (so a long task is not restored to its queue as if its worker had died), and deleting expired results
 * (`resultCleanupInterval`; Celery leaves that to a daily beat task, and without beat SQLite and PostgreSQL tables
 * only grow).
 */
import type { ResultBackend } from '../backend/port.js';
import type { Broker } from '../broker/port.js';
import { toError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';

export interface HousekeepingOptions {
  broker: Broker;
  backend: ResultBackend;
  log: Logger;
  /** Seconds; holds are extended three times per timeout. */
  visibilityTimeout: number;
  /** Seconds between cleanups; 0 = never. */
  cleanupInterval: number;
  /** The delivery tags the worker holds right now. */
  heldTags(): string[];
}

export class Housekeeping {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: HousekeepingOptions) {}

  start(): void {
    this.timers.push(setInterval(() => this.extend(), Math.max(250, (this.o.visibilityTimeout * 1000) / 3)));
    if (this.o.cleanupInterval > 0) {
      const cleaner = setInterval(() => this.cleanup(), this.o.cleanupInterval * 1000);
      cleaner.unref();
      this.timers.push(cleaner);
    }
  }

  stop(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  /** Extends what the worker holds now, outside the timer (after its loop was blocked). */
  extendNow(): void {
    this.extend();
  }

  private extend(): void {
    const tags = this.o.heldTags();
    if (tags.length) this.o.broker.extend(tags).catch((e) => this.o.log.warn({ err: toError(e).message }, 'could not extend visibility'));
  }

  private cleanup(): void {
    this.o.backend.cleanup().then(
      (n) => n > 0 && this.o.log.info({ removed: n }, `deleted ${n} expired results`),
      (e) => this.o.log.warn({ err: toError(e).message }, 'could not delete expired results'),
    );
  }
}
