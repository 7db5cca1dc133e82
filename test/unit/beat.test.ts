/**
 * Beat's policies with an injected clock, on the in-memory broker and store: catch-up (misfire once/skip/all),
 * restarts that neither skip nor repeat, overlap, pause and resume, run limits, start/end dates, one-offs, run now,
 * run-time changes, and the message it sends (Celery's `periodic_task_name` header).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { Beat, type BeatClock } from '../../src/beat/beat.js';
import { decodeTaskMessage } from '../../src/protocol/message.js';
import type { CelerityOptions } from '../../src/app/config.js';

class TestClock implements BeatClock {
  constructor(public t: number) {}
  now = () => this.t;
  sleep = () => Promise.resolve();
}

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const apps: Celerity[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

function setup(beatSchedule: CelerityOptions['beatSchedule'] = {}, extra: CelerityOptions = {}) {
  const app = new Celerity('beat-unit', { broker: 'memory://', backend: 'memory://', loglevel: 'silent', beatSchedule, ...extra }, {});
  apps.push(app);
  const clock = new TestClock(T0);
  const beat = new Beat(app, { clock });
  const fired: number[] = [];
  beat.on('fired', (e) => fired.push(e.slot));
  return { app, clock, beat, fired };
}

/** Moves the clock to `t` and ticks once. */
async function at(env: { clock: TestClock; beat: Beat }, t: number): Promise<void> {
  env.clock.t = t;
  await env.beat.tick();
}

const minute = 60_000;

describe('beat', () => {
  it('starts with the slots after it first saw a schedule, then fires each as it comes', async () => {
    const env = setup({ m: { task: 't', schedule: { every: 60 } } });
    await env.app.schedules.syncConfig();
    await at(env, T0 + 1);
    await at(env, T0 + minute - 1);
    expect(env.fired).toEqual([]);
    // However far the next slot, a beat reads the store again within a second (changes made elsewhere are seen).
    await env.app.schedules.add('far', { task: 't', schedule: { at: new Date(T0 + 86_400_000).toISOString() } });
    expect(await env.beat.tick()).toBeLessThanOrEqual(1000);
    await env.app.schedules.delete('far');
    await at(env, T0 + minute);
    await at(env, T0 + minute + 500);
    await at(env, T0 + 2 * minute + 10);
    expect(env.fired).toEqual([T0 + minute, T0 + 2 * minute]);
    await env.beat.stop();
  });

  it('misfire once: one run for the newest missed slot after an outage (Celery)', async () => {
    const env = setup({ m: { task: 't', schedule: { every: 60 } } });
    await env.app.schedules.syncConfig();
    await at(env, T0 + 1);
    await at(env, T0 + 10 * minute + 5);
    expect(env.fired).toEqual([T0 + 10 * minute]);
    await at(env, T0 + 11 * minute);
    expect(env.fired).toEqual([T0 + 10 * minute, T0 + 11 * minute]);
  });

  it('misfire skip: a slot later than the grace is dropped, the next one runs', async () => {
    const env = setup({ m: { task: 't', schedule: { every: 60 }, misfire: 'skip', misfireGrace: 30 } });
    await env.app.schedules.syncConfig();
    await at(env, T0 + 1);
    await at(env, T0 + 10 * minute + 31_000);
    expect(env.fired).toEqual([]);
    await at(env, T0 + 11 * minute + 29_000);
    expect(env.fired).toEqual([T0 + 11 * minute]);
  });

  it('misfire all: every missed slot within the window (its start included) runs once, oldest first', async () => {
    const env = setup({ m: { task: 't', schedule: { every: 60 }, misfire: 'all', misfireGrace: 300 } });
    await env.app.schedules.syncConfig();
    await at(env, T0 + 1);
    await at(env, T0 + 10 * minute);
    expect(env.fired).toEqual([5, 6, 7, 8, 9, 10].map((k) => T0 + k * minute));
    await at(env, T0 + 10 * minute + 1);
    expect(env.fired).toHaveLength(6);
  });

  it('a restarted beat neither repeats nor skips a slot (state lives in the store)', async () => {
    const env = setup({ m: { task: 't', schedule: { every: 60 }, misfire: 'all', misfireGrace: 3600 } });
    await env.app.schedules.syncConfig();
    await at(env, T0 + 1);
    await at(env, T0 + 2 * minute);
    await env.beat.stop();
    const second = new Beat(env.app, { clock: env.clock });
    const fired: number[] = [];
    second.on('fired', (e) => fired.push(e.slot));
    
    await at({ clock: env.clock, beat: second }, T0 + 2 * minute + 10);
    expect(fired).toEqual([]);
    await at({ clock: env.clock, beat: second }, T0 + 5 * minute);
    expect(fired).toEqual([3, 4, 5].map((k) => T0 + k * minute));
    const s = await env.app.schedules.get('m');
    expect(s?.totalRuns).toBe(5);
    expect(s?.nextDueAt?.getTime()).toBe(T0 + 6 * minute);
    await second.stop();
  });

  it('overlap skip: no new run while the previous one is unfinished', async () => {
    const env = setup({ m: { task: 't', schedule: { every: 60 }, overlap: 'skip' } });
    await env.app.schedules.syncConfig();
    await at(env, T0 + 1);
    await at(env, T0 + minute);
    const first = (await env.app.schedules.get('m'))!.lastTaskId!;
    const backend = await env.app.backend();
    await backend.set(first, { task_id: first, status: 'STARTED', result: null, traceback: null, children: [], date_done: null });
    await at(env, T0 + 2 * minute);
    expect(env.fired).toEqual([T0 + minute]);
    await backend.set(first, { task_id: first, status: 'SUCCESS', result: 1, traceback: null, children: [], date_done: new Date().toISOString() });
    await at(env, T0 + 3 * minute);
    expect(env.fired).toEqual([T0 + minute, T0 + 3 * minute]);
  });

  it('pause skips the slots that pass; resume fires from the next one; changes are seen at the next tick', async () => {
    const env = setup();
    await env.app.schedules.syncConfig();
    await env.app.schedules.add('m', { task: 't', schedule: { every: 60 } });
    await at(env, T0 + 1);
    await env.app.schedules.pause('m');
    await at(env, T0 + 5 * minute);
    expect(env.fired).toEqual([]);
    await env.app.schedules.resume('m');
    await at(env, T0 + 5 * minute + 1);
    expect(env.fired).toEqual([]);
    await at(env, T0 + 6 * minute);
    expect(env.fired).toEqual([T0 + 6 * minute]);
    await env.app.schedules.update('m', { schedule: { every: 120 } });
    await at(env, T0 + 8 * minute);
    expect(env.fired).toEqual([T0 + 6 * minute, T0 + 8 * minute]);
    expect(await env.app.schedules.delete('m')).toBe(true);
    await at(env, T0 + 20 * minute);
    expect(env.fired).toHaveLength(2);
  });

  it('maxRuns, startAt and endAt bound the runs; a one-off fires once', async () => {
    const env = setup({
      limited: { task: 't', schedule: { every: 60 }, maxRuns: 2 },
      window: { task: 't', schedule: { every: 60 }, startAt: new Date(T0 + 3 * minute), endAt: new Date(T0 + 4 * minute) },
      once: { task: 't', schedule: { at: new Date(T0 + 90_000).toISOString() } },
    });
    const byName = new Map<string, number[]>();
    env.beat.on('fired', (e) => byName.set(e.name, [...(byName.get(e.name) ?? []), e.slot]));
    await env.app.schedules.syncConfig();
    await at(env, T0 + 1);
    for (let k = 1; k <= 6; k++) await at(env, T0 + k * minute + 30_000);
    expect(byName.get('limited')).toEqual([T0 + minute, T0 + 2 * minute]);
    expect(byName.get('window')).toEqual([T0 + 3 * minute, T0 + 4 * minute]);
    expect(byName.get('once')).toEqual([T0 + 90_000]);
  });

  it('sends a Celery message with the entry options and the periodic_task_name header; run now counts as a run', async () => {
    const env = setup({ nightly: { task: 'maintenance.cleanup', schedule: { every: 60 }, args: [7], kwargs: { dry: false }, options: { queue: 'maintenance', priority: 1 } } });
    await env.app.schedules.syncConfig();
    await at(env, T0 + 1);
    await at(env, T0 + minute);
    const r = await env.app.schedules.runNow('nightly');
    const broker = await env.app.broker();
    const got = await broker.reserve(['maintenance'], { max: 10, waitMs: 0 });
    expect(got).toHaveLength(2);
    const msgs = got.map((d) => decodeTaskMessage(d.message!, env.app.serializers));
    for (const m of msgs) {
      expect(m.task).toBe('maintenance.cleanup');
      expect(m.args).toEqual([7]);
      expect(m.kwargs).toEqual({ dry: false });
      expect(m.headers.periodic_task_name).toBe('nightly');
    }
    expect(msgs.map((m) => m.id)).toContain(r.id);
    expect((await env.app.schedules.get('nightly'))!.totalRuns).toBe(2);
  });

  it('a bad entry fails when the app is built, naming it', () => {
    expect(() => new Celerity('x', { beatSchedule: { bad: { task: 't', schedule: '61 * * * *' } } }, {})).toThrow(/beatSchedule\.bad/);
    expect(() => new Celerity('x', { beatSchedule: { bad: { task: 't', schedule: { every: 1 }, misfire: 'never' } } }, {})).toThrow(/misfire/);
    expect(() => new Celerity('x', { timezone: 'Mars/Olympus' }, {})).toThrow(/timezone/);
  });
});
