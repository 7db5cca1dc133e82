/**
 * kombu's LamportClock (kombu/clocks.py): Celery stamps every control request, reply and event with it so that
 * monitors can order what different nodes did. `forward` before sending; `adjust` with what was received.
 */
export class LamportClock {
  constructor(private current = 0) {}

  get value(): number {
    return this.current;
  }

  /** Ticks for a local event (a send) and returns the new value. */
  forward(): number {
    return ++this.current;
  }

  /** Merges a received value: `max(own, received) + 1`. Anything that is not a number counts as 0. */
  adjust(received: unknown): number {
    const other = typeof received === 'number' && Number.isFinite(received) ? received : 0;
    this.current = Math.max(this.current, other) + 1;
    return this.current;
  }
}
