/**
 * The charts' collector with the test's clock: events counted in the second and the minute they arrive, empty
 * periods as zeros, percentiles from the histogram within a bin of the true value, rings that forget what is older
 * than their window, and a bounded memory of tasks waiting to start.
 */
import { describe, expect, it } from 'vitest';
import type { ReceivedEvent } from '../../src/control/event-receiver.js';
import { StatsCollector } from '../../src/dashboard/stats.js';

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);

function setup(maxWaiting?: number) {
  const clock = { t: T0 };
  const stats = new StatsCollector({ now: () => clock.t, ...(maxWaiting ? { maxWaiting } : {}) });
  const emit = (type: string, fields: Record<string, unknown> = {}) =>
    stats.observe({ type, hostname: 'w@h', timestamp: clock.t / 1000, local_received: clock.t / 1000, ...fields } as ReceivedEvent);
  return { clock, stats, emit };
}

describe('StatsCollector', () => {
  it('counts each kind of task event in the second it arrived, with zeros around it', () => {
    const { clock, stats, emit } = setup();
    emit('task-received', { uuid: 'a' });
    emit('task-started', { uuid: 'a' });
    emit('task-succeeded', { uuid: 'a', runtime: 0.2 });
    emit('task-failed', { uuid: 'b', runtime: 0.4 });
    emit('task-retried', { uuid: 'c' });
    emit('worker-heartbeat');
    emit('task-progress', { uuid: 'a' });
    clock.t += 2500;
    const { step, points } = stats.series('15m');
    expect(step).toBe(1);
    expect(points).toHaveLength(900);
    expect(points.at(-1)!.t).toBe(T0 + 2000);
    expect(points.at(-3)).toMatchObject({ t: T0, succeeded: 1, failed: 1, retried: 1, received: 1, started: 1 });
    expect(points.at(-2)).toEqual({ t: T0 + 1000, succeeded: 0, failed: 0, retried: 0, received: 0, started: 0, runtimeP50: null, runtimeP95: null, waitP50: null });
    expect(points.reduce((n, p) => n + p.received, 0)).toBe(1);
  });

  it('gives runtime and wait percentiles within one histogram bin (about 19 %) above the true value', () => {
    const { clock, stats, emit } = setup();
    for (let i = 1; i <= 100; i++) emit('task-succeeded', { uuid: `t${i}`, runtime: i / 100 });
    emit('task-received', { uuid: 'w', timestamp: T0 / 1000 - 2 });
    emit('task-started', { uuid: 'w' });
    const p = stats.series('15m').points.at(-1)!;
    expect(p.runtimeP50).toBeGreaterThanOrEqual(0.5);
    expect(p.runtimeP50).toBeLessThanOrEqual(0.5 * 1.19);
    expect(p.runtimeP95).toBeGreaterThanOrEqual(0.95);
    expect(p.runtimeP95).toBeLessThanOrEqual(0.95 * 1.19);
    expect(p.waitP50).toBeGreaterThanOrEqual(2);
    expect(p.waitP50).toBeLessThanOrEqual(2 * 1.19);
    clock.t += 1000;
    expect(stats.latest()).toMatchObject({ t: T0, succeeded: 100 });
  });

  it('sums the seconds of a minute in the per-minute points of 1h and 24h', () => {
    const { clock, stats, emit } = setup();
    emit('task-succeeded', { uuid: 'a', runtime: 1 });
    clock.t += 30_000;
    emit('task-succeeded', { uuid: 'b', runtime: 1 });
    clock.t += 60_000;
    emit('task-failed', { uuid: 'c' });
    for (const [window, count] of [['1h', 60], ['24h', 1440]] as const) {
      const { step, points } = stats.series(window);
      expect(step).toBe(60);
      expect(points).toHaveLength(count);
      expect(points.slice(-2).map((p) => [p.t - T0, p.succeeded, p.failed])).toEqual([[0, 2, 0], [60_000, 0, 1]]);
    }
  });

  it('forgets a second after 15 minutes and a minute after 24 hours, though their slots are reused', () => {
    const { clock, stats, emit } = setup();
    emit('task-succeeded', { uuid: 'a', runtime: 1 });
    clock.t += 900_000;
    emit('task-failed', { uuid: 'b' });
    const seconds = stats.series('15m').points;
    expect(seconds.reduce((n, p) => n + p.succeeded, 0)).toBe(0);
    expect(seconds.at(-1)).toMatchObject({ failed: 1, succeeded: 0 });
    expect(stats.series('24h').points.reduce((n, p) => n + p.succeeded, 0)).toBe(1);
    clock.t += 86_400_000;
    expect(stats.series('24h').points.reduce((n, p) => n + p.succeeded + p.failed, 0)).toBe(0);
  });

  it('keeps at most maxWaiting received tasks for the wait, dropping the oldest first', () => {
    const { stats, emit } = setup(2);
    emit('task-received', { uuid: 'a', timestamp: T0 / 1000 - 10 });
    emit('task-received', { uuid: 'b', timestamp: T0 / 1000 - 5 });
    emit('task-received', { uuid: 'c', timestamp: T0 / 1000 - 1 });
    emit('task-started', { uuid: 'a' });
    expect(stats.series('15m').points.at(-1)!.waitP50).toBeNull();
    emit('task-started', { uuid: 'b' });
    expect(stats.series('15m').points.at(-1)!.waitP50).toBeGreaterThanOrEqual(5);
  });

  it('ignores runtimes that are not finite non-negative numbers', () => {
    const { stats, emit } = setup();
    for (const runtime of [-1, Number.NaN, 'fast', null]) emit('task-succeeded', { uuid: 'x', runtime });
    expect(stats.series('15m').points.at(-1)).toMatchObject({ succeeded: 4, runtimeP50: null });
  });
});
