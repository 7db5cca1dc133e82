import { describe, expect, it } from 'vitest';
import { Celerity } from '../../src/app/celerity.js';
import { bindArguments } from '../../src/worker/arguments.js';
import { autoRetryCountdown, backoffDelay, shouldAutoRetry } from '../../src/worker/retry.js';

const app = new Celerity('unit', { broker: 'memory://', backend: 'memory://' });
const add = app.task('unit.add', (x: number, y: number) => x + y, { params: ['x', 'y'] });
const opt = app.task('unit.opt', (x: number, y = 1) => x + y);

describe('binding Celery args and kwargs to a task function', () => {
  it('places kwargs by declared parameter name', () => {
    expect(bindArguments(add, [2], { y: 3 })).toEqual([2, 3]);
    expect(bindArguments(add, [], { y: 3, x: 2 })).toEqual([2, 3]);
  });

  it('reports wrong calls the way Python does', () => {
    expect(() => bindArguments(add, [1], {})).toThrow("unit.add() missing 1 required positional argument");
    expect(() => bindArguments(add, [], {})).toThrow('missing 2 required positional arguments');
    expect(() => bindArguments(add, [1, 2, 3], {})).toThrow('takes 2 positional arguments but 3 were given');
    expect(() => bindArguments(add, [1], { z: 1 })).toThrow("unexpected keyword argument 'z'");
    expect(() => bindArguments(add, [1], { x: 1 })).toThrow("multiple values for argument 'x'");
    expect(() => bindArguments(opt, [1], { y: 2 })).toThrow(/declares no params/);
  });

  it('leaves unmapped kwargs to this.kwargs with varKwargs (Python **kwargs)', () => {
    const anyKw = app.task('unit.anykw', (...args: unknown[]) => args, { varKwargs: true });
    const some = app.task('unit.somekw', (x: number) => x, { params: ['x'], varKwargs: true });
    expect(bindArguments(anyKw, [1, 2], { a: 1, b: 2 })).toEqual([1, 2]);
    expect(bindArguments(some, [], { x: 5, extra: true })).toEqual([5]);
  });

  it('names the missing parameters as Python does when the task declares params', () => {
    const three = app.task('unit.three', (a: number, b: number, c: number, d = 0) => a + b + c + d, { params: ['a', 'b', 'c', 'd'] });
    expect(() => bindArguments(add, [1], {})).toThrow(new TypeError("unit.add() missing 1 required positional argument: 'y'"));
    expect(() => bindArguments(add, [], { y: 2 })).toThrow(new TypeError("unit.add() missing 1 required positional argument: 'x'"));
    expect(() => bindArguments(add, [], {})).toThrow(new TypeError("unit.add() missing 2 required positional arguments: 'x' and 'y'"));
    expect(() => bindArguments(three, [], {})).toThrow(new TypeError("unit.three() missing 3 required positional arguments: 'a', 'b', and 'c'"));
    // A kwarg past the required ones fills nothing that was missing: both gaps are counted and named.
    expect(() => bindArguments(three, [1], { d: 4 })).toThrow(new TypeError("unit.three() missing 2 required positional arguments: 'b' and 'c'"));
  });

  it('gives the count alone when the parameter names are unknown', () => {
    const bare = app.task('unit.bare', (x: number, y: number) => x + y);
    const short = app.task('unit.short', (x: number, y: number) => x + y, { params: ['x'], varKwargs: true });
    expect(() => bindArguments(bare, [1], {})).toThrow(new TypeError('unit.bare() missing 1 required positional argument'));
    expect(() => bindArguments(short, [], {})).toThrow(new TypeError('unit.short() missing 2 required positional arguments'));
  });

  it('accepts optional parameters left out', () => {
    expect(bindArguments(opt, [1], {})).toEqual([1]);
  });
});

describe('retry delays', () => {
  it('grows exponentially up to the cap, as Celery does', () => {
    const o = { factor: 2, max: 60, jitter: false };
    expect([0, 1, 2, 3, 4, 5].map((r) => backoffDelay(r, o))).toEqual([2, 4, 8, 16, 32, 60]);
  });

  it('applies full jitter within [0, delay]', () => {
    expect(backoffDelay(3, { factor: 1, max: 600, jitter: true }, () => 0)).toBe(0);
    expect(backoffDelay(3, { factor: 1, max: 600, jitter: true }, () => 0.9999)).toBe(8);
  });

  it('uses the default delay without backoff and matches errors by class or name', () => {
    expect(autoRetryCountdown({}, 2, 180)).toBe(180);
    expect(autoRetryCountdown({ defaultRetryDelay: 5 }, 2, 180)).toBe(5);
    expect(autoRetryCountdown({ retryBackoff: 3, retryJitter: false }, 2, 180)).toBe(12);
    class Flaky extends Error {}
    expect(shouldAutoRetry({ autoretryFor: [Flaky] }, new Flaky('x'))).toBe(true);
    expect(shouldAutoRetry({ autoretryFor: ['RangeError'] }, new RangeError('x'))).toBe(true);
    expect(shouldAutoRetry({ autoretryFor: [Flaky] }, new Error('x'))).toBe(false);
  });
});
