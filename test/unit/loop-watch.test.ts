/**
 * The stall report: a loop held past the threshold is noticed when it comes back (or at stop, whichever runs
 * first), and the task that held it is named once, even when it had already finished by then.
 */
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/util/logger.js';
import { LoopWatch, StallReporter, stallThreshold } from '../../src/worker/loop-watch.js';

function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Holding the loop on purpose.
  }
}

function recordingLog(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
  return { log, warnings };
}

describe('LoopWatch', () => {
  it('reports a blocked loop once it is back', async () => {
    let resolve!: (ms: number) => void;
    const stalled = new Promise<number>((r) => (resolve = r));
    const watch = new LoopWatch({ thresholdMs: 300, onStall: resolve });
    watch.start();
    block(600);
    const ms = await stalled;
    watch.stop();
    expect(ms).toBeGreaterThan(300);
  });

  it('reports at stop a stall whose late tick has not run yet', () => {
    const stalls: number[] = [];
    const watch = new LoopWatch({ thresholdMs: 300, onStall: (ms) => stalls.push(ms) });
    watch.start();
    block(600);
    watch.stop();
    expect(stalls).toHaveLength(1);
  });

  it('keeps the threshold between 1 and 10 s, a third of the visibility timeout', () => {
    expect(stallThreshold(1)).toBe(1000);
    expect(stallThreshold(6)).toBe(2000);
    expect(stallThreshold(3600)).toBe(10_000);
  });
});

describe('StallReporter', () => {
  it('names a task that started since the last on-time tick, once, with the fix', () => {
    const { log, warnings } = recordingLog();
    const r = new StallReporter(log, 1);
    r.started('app.spin');
    // It finished before the report: no longer running, still the one that held the loop.
    r.report(4000, []);
    r.started('app.spin');
    r.report(4000, ['app.spin']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('app.spin');
    expect(warnings[0]).toContain('-P threads');
  });

  it('does not blame a task that started before an on-time tick and has ended', () => {
    const { log, warnings } = recordingLog();
    const r = new StallReporter(log, 1);
    r.started('app.quick');
    r.tick();
    r.report(4000, []);
    expect(warnings).toHaveLength(0);
  });
});
