/**
 * `--autoscale max,min`, as Celery's autoscaler behaves: every second the pool is sized to the work the worker
 * holds (running plus reserved tasks), up to `max` at once when work arrives; it shrinks back towards `min` only
 * after `keepalive` seconds without growing, so a bursty queue does not make children come and go.
 */
export interface Scalable {
  /** Slots now (pool children, or concurrent tasks in the async pool). */
  readonly concurrency: number;
  /** Tasks running plus reserved and waiting for a slot: what the pool should be sized to. */
  demand(): number;
  grow(n: number): Promise<void>;
  shrink(n: number): Promise<void>;
}

export interface AutoscaleOptions {
  max: number;
  min: number;
  /** Seconds after the last growth before the pool may shrink; Celery's default 30. */
  keepalive?: number;
  /** Seconds between checks; Celery's default 1. */
  interval?: number;
}

/** Parses Celery's `max,min` (or `max` alone, min 0 as Celery reads it; we keep at least one slot). */
export function parseAutoscale(text: string): { max: number; min: number } {
  const parts = text.split(',').map((s) => s.trim());
  const [max, min = '1'] = parts;
  const nums = [Number(max), Number(min)];
  if (parts.length > 2 || !nums.every((n) => Number.isInteger(n) && n >= 0) || nums[0]! < 1) {
    throw new RangeError(`--autoscale takes max,min (whole numbers, max >= 1), got ${JSON.stringify(text)}`);
  }
  const [hi, lo] = nums as [number, number];
  return { max: Math.max(hi, lo), min: Math.max(1, Math.min(hi, lo)) };
}

export class Autoscaler {
  private timer: NodeJS.Timeout | undefined;
  private lastGrowth = 0;
  private busy = false;
  max: number;
  min: number;
  private readonly keepaliveMs: number;
  private readonly intervalMs: number;

  constructor(
    private readonly target: Scalable,
    options: AutoscaleOptions,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.max = options.max;
    this.min = options.min;
    this.keepaliveMs = (options.keepalive ?? 30) * 1000;
    this.intervalMs = (options.interval ?? 1) * 1000;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * New bounds (Celery's `autoscale` control command; null keeps one): a pool above the new max shrinks to it, one
   * below the new min grows to it, at once. Resolves to the bounds in force, [max, min].
   */
  async update(max: number | null, min: number | null): Promise<[number, number]> {
    if (max !== null) this.max = Math.max(1, max);
    if (min !== null) this.min = Math.max(1, min);
    if (this.min > this.max) this.min = this.max;
    const size = this.target.concurrency;
    if (size > this.max) await this.target.shrink(size - this.max);
    else if (size < this.min) await this.target.grow(this.min - size);
    return [this.max, this.min];
  }

  /** One sizing decision; resolves when the pool has been resized. Exposed so tests drive it without a timer. */
  async check(now = Date.now()): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const size = this.target.concurrency;
      const wanted = Math.max(this.min, Math.min(this.max, this.target.demand()));
      if (wanted > size) {
        await this.target.grow(wanted - size);
        this.lastGrowth = now;
      } else if (wanted < size && now - this.lastGrowth >= this.keepaliveMs) {
        await this.target.shrink(size - wanted);
      }
    } catch (err) {
      this.onError(err);
    } finally {
      this.busy = false;
    }
  }
}
