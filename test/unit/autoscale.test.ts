import { describe, expect, it } from 'vitest';
import { Autoscaler, parseAutoscale, type Scalable } from '../../src/worker/autoscale.js';

/** A pool whose size and demand the test sets: the sizing rule is what is under test here. */
function pool(size: number): Scalable & { size: number; load: number } {
  return {
    size,
    load: 0,
    get concurrency() {
      return this.size;
    },
    demand() {
      return this.load;
    },
    async grow(n) {
      this.size += n;
    },
    async shrink(n) {
      this.size -= n;
    },
  };
}

describe('autoscale', () => {
  it("reads Celery's max,min", () => {
    expect(parseAutoscale('10,3')).toEqual({ max: 10, min: 3 });
    expect(parseAutoscale('3,10')).toEqual({ max: 10, min: 3 });
    expect(parseAutoscale('4')).toEqual({ max: 4, min: 1 });
    expect(() => parseAutoscale('x,1')).toThrow(/--autoscale takes max,min/);
    expect(() => parseAutoscale('0,0')).toThrow(RangeError);
  });

  it('grows at once to the work held, up to max, and shrinks to min only after keepalive', async () => {
    const p = pool(2);
    const scaler = new Autoscaler(p, { max: 8, min: 2, keepalive: 30 });
    p.load = 5;
    await scaler.check(1_000);
    expect(p.size).toBe(5);
    p.load = 50;
    await scaler.check(2_000);
    expect(p.size).toBe(8);
    p.load = 0;
    await scaler.check(10_000);
    expect(p.size).toBe(8);
    await scaler.check(32_000);
    expect(p.size).toBe(2);
  });
});
