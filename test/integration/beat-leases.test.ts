/**
 * Three beats on one store, driven by an injected clock over 1,000 slots, with leaders killed (between a claim and
 * its send too) and beats paused past their lease (before a claim, and between a claim and its send): every slot
 * is sent exactly once, and a follower takes over within the lease time. On SQLite, Redis and PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import type { ScheduleStore } from '../../src/backend/schedules.js';
import { Beat, type BeatClock } from '../../src/beat/beat.js';
import type { BeatApp } from '../../src/beat/beat-app.js';
import type { ApplyOptions } from '../../src/canvas/options.js';
import { pingPostgres, pingRedis, requireService } from '../services.js';
import { tempDir } from '../helpers.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const POSTGRES = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const redis = await requireService('Redis', () => pingRedis(REDIS));
const postgres = await requireService('PostgreSQL', () => pingPostgres(POSTGRES));

const SLOTS = Number(process.env.BEAT_TEST_SLOTS ?? 1000);
const EVERY_S = 10;
const TTL_S = 30;

/** A clock the test moves; beats never sleep on it (the test calls tick()). */
class TestClock implements BeatClock {
  constructor(public t: number) {}
  now = () => this.t;
  sleep = () => Promise.resolve();
}

/** A deterministic random sequence, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Gate {
  promise: Promise<void>;
  open(): void;
  /** Resolves once a beat waits at the gate (it is paused there). */
  reached: Promise<void>;
  reach(): void;
}
function gate(): Gate {
  let open!: () => void;
  let reach!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  const reached = new Promise<void>((r) => (reach = r));
  return { promise, open, reached, reach };
}

/** One beat process: its own app (own store connection), a send that can crash or stall, a store that can stall. */
class BeatProcess {
  readonly beat: Beat;
  /** Set to make the next send throw, as a process killed after its claim and before its send. */
  crashOnSend = false;
  /** Set to stall right before the next claim / right after it (a process paused by the OS). */
  stallBeforeClaim: Gate | undefined;
  stallAfterClaim: Gate | undefined;
  dead = false;

  constructor(
    readonly app: Celerity,
    clock: TestClock,
    readonly sends: string[],
  ) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the proxy and the host below act for this process
    const self = this;
    const wrapStore = (store: ScheduleStore): ScheduleStore =>
      new Proxy(store, {
        get(target, prop, receiver) {
          if (prop !== 'claimFire') return Reflect.get(target, prop, receiver);
          return async (claim: Parameters<ScheduleStore['claimFire']>[0]) => {
            const before = self.stallBeforeClaim;
            self.stallBeforeClaim = undefined;
            if (before) {
              before.reach();
              await before.promise;
            }
            const outcome = await target.claimFire(claim);
            const after = self.stallAfterClaim;
            self.stallAfterClaim = undefined;
            if (after) {
              after.reach();
              await after.promise;
            }
            return outcome;
          };
        },
      });
    const host: BeatApp = {
      conf: app.conf,
      log: app.log,
      schedules: app.schedules,
      scheduleStore: async () => wrapStore(await app.scheduleStore()),
      backend: () => app.backend(),
      sendTask: async (name: string, args: readonly unknown[], options: ApplyOptions) => {
        if (self.dead) throw new Error('this process is dead');
        if (self.crashOnSend) {
          self.dead = true;
          throw new Error('killed between claim and send');
        }
        sends.push(options.taskId!);
        return app.asyncResult(options.taskId!);
      },
    };
    this.beat = new Beat(host, { clock, leaseTimeout: TTL_S, id: `beat-${randomUUID().slice(0, 8)}` });
  }
}

interface StoreCase {
  name: string;
  ok: boolean;
  reason: string;
  url: () => Promise<{ url: string; cleanup: () => Promise<void> }>;
}

const cases: StoreCase[] = [
  {
    name: 'SQLite',
    ok: true,
    reason: '',
    url: async () => {
      const tmp = tempDir();
      return { url: `sqlite://${path.join(tmp.dir, 'beat.db')}`, cleanup: async () => tmp.cleanup() };
    },
  },
  {
    name: 'Redis',
    ok: redis.ok,
    reason: redis.reason,
    url: async () => ({ url: `${REDIS}?global_keyprefix=beat-test-${randomUUID().slice(0, 8)}:`, cleanup: async () => undefined }),
  },
  {
    name: 'PostgreSQL',
    ok: postgres.ok,
    reason: postgres.reason,
    url: async () => {
      const schema = `celerity_beat_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      return {
        url: `${POSTGRES}?schema=${schema}`,
        cleanup: async () => {
          const c = new pg.Client({ connectionString: POSTGRES });
          await c.connect();
          await c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
          await c.end();
        },
      };
    },
  },
];

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe.each(cases)('three beats on $name', (c) => {
  it.skipIf(!c.ok)(`fire each of ${SLOTS} slots exactly once through kills and pauses${c.ok ? '' : ` (skipped: ${c.reason})`}`, { timeout: 120_000 }, async () => {
    const { url, cleanup } = await c.url();
    cleanups.push(cleanup);
    const random = rng(20261205);
    const start = Date.UTC(2026, 11, 5, 12, 0, 0);
    const clock = new TestClock(start);
    const sends: string[] = [];
    const apps: Celerity[] = [];
    const makeApp = () => {
      const app = new Celerity(
        'beat-test',
        {
          broker: 'memory://',
          backend: url,
          loglevel: 'silent',
          beatSchedule: { tick: { task: 'test.tick', schedule: { every: EVERY_S }, misfire: 'all', misfireGrace: 10 * SLOTS * EVERY_S } },
        },
        {},
      );
      apps.push(app);
      return app;
    };
    const spawn = () => new BeatProcess(makeApp(), clock, sends);
    let beats = [spawn(), spawn(), spawn()];
    // Beats here are driven by tick() on the test's clock, never started (start() would tick on its own).
    await apps[0]!.schedules.syncConfig();

    /** Ticks left hanging by a stall, finished later. */
    const hanging: { process: BeatProcess; tick: Promise<unknown>; gates: Gate[]; until: number }[] = [];
    let kills = 0;
    let midSendKills = 0;
    let stallsBefore = 0;
    let stallsAfter = 0;
    let takeovers = 0;
    const end = start + SLOTS * EVERY_S * 1000;

    while (clock.t < end) {
      clock.t += Math.round((0.3 + random() * 1.2) * EVERY_S * 1000);
      for (const h of hanging.filter((x) => clock.t >= x.until)) {
        for (const g of h.gates) g.open();
        await h.tick;
        hanging.splice(hanging.indexOf(h), 1);
      }
      // One pending mishap per beat at a time.
      const leader = beats.find((b) => b.beat.isLeader && !b.crashOnSend && !b.stallBeforeClaim && !b.stallAfterClaim && !hanging.some((h) => h.process === b));
      const roll = random();
      if (leader && roll < 0.02) {
        // kill -9 of the leader: no release, its lease runs out.
        kills++;
        beats = beats.filter((b) => b !== leader);
        beats.push(spawn());
      } else if (leader && roll < 0.04) {
        midSendKills++;
        leader.crashOnSend = true;
      } else if (leader && roll < 0.06) {
        stallsBefore++;
        leader.stallBeforeClaim = gate();
      } else if (leader && roll < 0.08) {
        stallsAfter++;
        leader.stallAfterClaim = gate();
      }
      const order = [...beats].sort(() => random() - 0.5);
      for (const b of order) {
        if (b.dead || hanging.some((h) => h.process === b)) continue;
        const wasLeader = b.beat.isLeader;
        const gates = [b.stallBeforeClaim, b.stallAfterClaim].filter((g): g is Gate => g !== undefined);
        const tick = b.beat.tick().catch(() => undefined);
        if (gates.length) {
          // Paused for longer than the lease: another beat leads meanwhile. The test clock moves on only once the
          // beat is paused at its gate (or finished without reaching it): a tick still talking to the store while
          // the clock jumps would be a pause at some other point, between a lease check and a send, which no
          // lease can guard.
          const settled = await Promise.race([tick.then(() => true), ...gates.map((g) => g.reached.then(() => false))]);
          if (!settled) {
            hanging.push({ process: b, tick, gates, until: clock.t + (TTL_S + 5 + random() * 30) * 1000 });
            continue;
          }
        } else await tick;
        if (b.dead) {
          beats = beats.filter((x) => x !== b);
          beats.push(spawn());
        }
        if (!wasLeader && b.beat.isLeader) takeovers++;
      }
    }
    // Let everything finish: stalled beats wake, and the leader catches up to the end.
    clock.t = end + (TTL_S + 1) * 1000;
    for (const h of hanging) {
      for (const g of h.gates) g.open();
      await h.tick;
    }
    for (let i = 0; i < 3; i++) for (const b of beats.filter((x) => !x.dead)) await b.beat.tick();

    const store = await apps[0]!.scheduleStore();
    const fires = await store.fires('tick', SLOTS * 10);
    const slots = fires.map((f) => f.slot).sort((a, b) => a - b);
    // Every slot between the first and the last fired, none twice.
    expect(new Set(slots).size).toBe(slots.length);
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(EVERY_S * 1000);
    expect(slots.length).toBeGreaterThanOrEqual(SLOTS - 2);
    // Every fire sent exactly once (by its claimer or, after a kill or a stall, by the next leader), and nothing else.
    const counts = new Map<string, number>();
    for (const id of sends) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    expect(new Set(sends)).toEqual(new Set(fires.map((f) => f.taskId)));
    expect(fires.every((f) => f.sent)).toBe(true);
    // The scenario really exercised what it claims to.
    expect(kills).toBeGreaterThan(3);
    expect(midSendKills).toBeGreaterThan(3);
    expect(stallsBefore).toBeGreaterThan(3);
    expect(stallsAfter).toBeGreaterThan(3);
    expect(takeovers).toBeGreaterThan(10);
    console.log(
      `${c.name}: ${slots.length} slots fired once each; ${kills} leaders killed, ${midSendKills} killed between claim and send, ` +
        `${stallsBefore} paused before a claim, ${stallsAfter} paused between claim and send, ${takeovers} take-overs`,
    );
    for (const b of beats) if (!b.dead) await b.beat.stop();
    for (const app of apps) await app.close();
  });
});

describe('fail-over', () => {
  it('a follower takes over within the lease time of a killed leader, and at once after a stop', async () => {
    const tmp = tempDir();
    cleanups.push(async () => tmp.cleanup());
    const url = `sqlite://${path.join(tmp.dir, 'beat.db')}`;
    const clock = new TestClock(Date.UTC(2026, 0, 1));
    const sends: string[] = [];
    const mk = () => new BeatProcess(new Celerity('t', { broker: 'memory://', backend: url, loglevel: 'silent' }, {}), clock, sends);
    const [a, b] = [mk(), mk()];
    await a.beat.tick();
    await b.beat.tick();
    expect(a.beat.isLeader).toBe(true);
    expect(b.beat.isLeader).toBe(false);
    // a is killed (stops ticking); b cannot lead until the lease has run out, then does at its next tick.
    clock.t += TTL_S * 1000 - 1;
    await b.beat.tick();
    expect(b.beat.isLeader).toBe(false);
    clock.t += 1;
    await b.beat.tick();
    expect(b.beat.isLeader).toBe(true);
    // A clean stop releases the lease: a takes over at its next tick, without waiting.
    await b.beat.stop();
    await a.beat.tick();
    expect(a.beat.isLeader).toBe(true);
    await a.beat.stop();
    await a.app.close();
    await b.app.close();
  });
});
