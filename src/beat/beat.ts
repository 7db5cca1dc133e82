/**
 * Beat: sends periodic tasks when their slots come, with any number of beat processes on one store and each slot
 * of each schedule sent once.
 *
 * How once is kept: beats share a lease in the schedule store; its holder (the leader) fires, the others wait and
 * take over when it expires. Every fire is first claimed in the store under the leader's lease token, keyed by
 * (schedule, slot): a second claim of a slot fails whoever makes it, and a claim under a token that is no longer
 * the lease's fails too (fencing), so a beat that paused past its lease and wakes up with stale plans cannot fire.
 * The task id is chosen before the claim and stored with it; a claim whose beat died before sending is sent, with
 * that id, by the next leader once the dead one's lease has expired. A beat that notices its lease is about to
 * run out between claim and send leaves the send to whoever leads next rather than race it.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { ScheduleStore, StoredSchedule } from '../backend/schedules.js';
import { READY_STATES } from '../protocol/types.js';
import { storedEntry, type ScheduleEntry } from '../schedule/entry.js';
import { nextSlot, slotsBetween } from '../schedule/next.js';
import { sendEntry, slotOptions } from '../app/schedules.js';
import type { BeatApp } from './beat-app.js';
import { newestSlotUpTo } from './slots.js';

/** Time as the beat sees it: injected in tests, the system clock otherwise. */
export interface BeatClock {
  now(): number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: BeatClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    }),
};

export interface BeatOptions {
  clock?: BeatClock;
  /** This beat's name in the lease (default `<hostname>:<pid>:<random>`). */
  id?: string;
  /** Seconds the lease lasts without renewal (default: the app's `beatLeaseTimeout`). */
  leaseTimeout?: number;
  /**
   * Longest wait between two ticks, in ms (default 1000): how soon a change made elsewhere (a schedule added,
   * paused or deleted) is seen and how soon a follower notices an expired lease.
   */
  maxInterval?: number;
  /** Replace the store's config schedules with the app's `beatSchedule` at start (default true). */
  syncConfig?: boolean;
}

/** What happened to one slot; `fired` carries the id of the task sent. */
export interface SlotEvent {
  name: string;
  slot: number;
  taskId?: string;
  reason?: string;
}

/** Sent fire records older than this are deleted (they only guard against stale leaders, which the lease fences). */
const FIRE_RETENTION_MS = 7 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;
/** At most this many missed slots of one schedule are sent in one tick (misfire `all`); the rest come next tick. */
const MAX_FIRES_PER_TICK = 1000;

/** What a beat emits: each slot sent (`fired`; `resent` for another beat's unsent claim) or skipped, and leadership changes. */
export interface BeatEvents {
  fired: [SlotEvent];
  resent: [SlotEvent];
  skipped: [SlotEvent];
  leader: [token: number];
  follower: [];
  error: [err: Error];
}

export class Beat extends EventEmitter<BeatEvents> {
  readonly id: string;
  private readonly clock: BeatClock;
  private readonly ttlMs: number;
  private readonly maxInterval: number;
  private readonly syncConfigAtStart: boolean;
  /** The lease token while this beat leads, null otherwise. */
  private token: number | null = null;
  /** Until when (by this beat's clock) it may still send: the lease's expiry less a third of its length. */
  private sendableUntil = 0;
  /** Unsent claims may exist (a leader change, a failed or abandoned send): look for them next tick. */
  private checkUnsent = true;
  private lastPrune = -Infinity;
  /** Definitions read from the store, by name, kept while their text stays the same (reading one builds its cron parser). */
  private readonly entries = new Map<string, { text: string; entry: ScheduleEntry | { error: string } }>();
  private running: Promise<void> | undefined;
  private readonly stopper = new AbortController();

  constructor(
    private readonly app: BeatApp,
    options: BeatOptions = {},
  ) {
    super();
    this.clock = options.clock ?? systemClock;
    this.id = options.id ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.ttlMs = Math.round((options.leaseTimeout ?? app.conf.beatLeaseTimeout) * 1000);
    this.maxInterval = options.maxInterval ?? 1000;
    this.syncConfigAtStart = options.syncConfig ?? true;
  }

  /** Whether this beat held the lease at its last tick. */
  get isLeader(): boolean {
    return this.token !== null;
  }

  /**
   * Syncs the app's `beatSchedule` into the store (errors reject here), then ticks until `stop()`. Tests that
   * drive a beat with `tick()` and an injected clock do not start it.
   */
  async start(): Promise<void> {
    if (this.running) return;
    if (this.syncConfigAtStart) await this.app.schedules.syncConfig();
    this.running = this.loop();
  }

  /** Stops ticking and gives the lease up, so another beat takes over at once rather than after it expires. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.running;
    this.running = undefined;
    if (this.token !== null) {
      const token = this.token;
      this.token = null;
      await (await this.app.scheduleStore()).releaseLease(this.id, token).catch(() => undefined);
    }
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopper.signal.aborted) {
      let wait: number;
      try {
        wait = await this.tick();
        failures = 0;
      } catch (err) {
        failures++;
        this.app.log.error({ err: (err as Error).message, beat: this.id }, 'beat: tick failed; trying again');
        if (this.listenerCount('error')) this.emit('error', err as Error);
        wait = Math.min(this.maxInterval * 2 ** Math.min(failures, 5), this.ttlMs / 3);
      }
      await this.clock.sleep(Math.max(0, Math.min(wait, this.maxInterval)), this.stopper.signal);
    }
  }

  /** One round: take or renew the lease; as leader, send what is due. Resolves to the ms until the next due slot. */
  async tick(): Promise<number> {
    const store = await this.app.scheduleStore();
    const now = this.clock.now();
    const lease = await store.acquireLease(this.id, now, this.ttlMs);
    if (!lease) {
      if (this.token !== null) {
        this.token = null;
        this.app.log.warn({ beat: this.id }, 'beat: another beat holds the lease now; standing by');
        this.emit('follower');
      }
      return this.maxInterval;
    }
    this.sendableUntil = lease.expiresAt - this.ttlMs / 3;
    if (this.token !== lease.token) {
      this.token = lease.token;
      this.checkUnsent = true;
      this.app.log.info({ beat: this.id, token: lease.token }, 'beat: leading (holding the schedule lease)');
      this.emit('leader', lease.token);
    }
    if (this.checkUnsent) await this.resendUnsent(store, lease.token);
    let wake = now + this.maxInterval;
    for (const s of await store.list()) {
      if (!this.maySend()) break;
      const next = await this.runSchedule(store, s);
      if (next !== null) wake = Math.min(wake, next);
    }
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await store.pruneFires(now - FIRE_RETENTION_MS);
    }
    return Math.max(0, wake - this.clock.now());
  }

  private maySend(): boolean {
    return this.token !== null && this.clock.now() < this.sendableUntil;
  }

  /** Sends the claims that no beat sent: a dead leader's (its lease has expired, since this beat holds it) and this beat's own abandoned ones. */
  private async resendUnsent(store: ScheduleStore, token: number): Promise<void> {
    this.checkUnsent = false;
    for (const fire of await store.unsentFires(token + 1)) {
      if (!this.maySend()) {
        this.checkUnsent = true;
        return;
      }
      const s = await store.get(fire.name);
      const entry = s && this.entryOf(s);
      if (!entry) {
        await store.markSent(fire.name, fire.slot);
        continue;
      }
      try {
        await sendEntry(this.app, fire.name, entry, fire.taskId);
      } catch (err) {
        this.checkUnsent = true;
        this.app.log.error({ err: (err as Error).message, schedule: fire.name }, 'beat: could not send a claimed slot; trying again');
        return;
      }
      await store.markSent(fire.name, fire.slot);
      this.app.log.info({ schedule: fire.name, task: entry.task, id: fire.taskId, slot: new Date(fire.slot).toISOString() }, 'beat: sent a slot claimed by a beat that stopped before sending it');
      this.emit('resent', { name: fire.name, slot: fire.slot, taskId: fire.taskId });
    }
  }

  private entryOf(s: StoredSchedule): ScheduleEntry | null {
    const text = JSON.stringify(s.definition);
    const cached = this.entries.get(s.name);
    if (cached?.text === text) return 'error' in cached.entry ? null : cached.entry;
    const entry = storedEntry(s.definition, s.name);
    this.entries.set(s.name, { text, entry });
    if (!('error' in entry)) return entry;
    // Logged once per change of the definition, not every tick.
    this.app.log.error({ schedule: s.name, err: entry.error }, 'beat: cannot read this schedule; it does not fire until it is fixed');
    return null;
  }

  /** Fires what is due of one schedule under its policies; resolves to its next slot (ms) or null. */
  private async runSchedule(store: ScheduleStore, s: StoredSchedule): Promise<number | null> {
    const entry = this.entryOf(s);
    if (!entry) return null;
    const token = this.token!;
    const opts = slotOptions(entry, this.app.conf.timezone);
    const now = this.clock.now();
    const next = (after: number) => nextSlot(entry.schedule, after, opts);
    if (entry.maxRuns !== null && s.totalRuns >= entry.maxRuns) return null;

    // First sight: slots from now on, except a one-off whose time has come (it was added to run).
    if (s.lastSlot === null && !(entry.schedule.type === 'clocked' && s.totalRuns === 0)) {
      await store.advance({ name: s.name, slot: now, token, now, nextDueAt: next(now) });
      return next(now);
    }
    // Never fired (a one-off on first sight): its slot may lie anywhere in the past.
    const after = s.lastSlot ?? 0;
    const newest = newestSlotUpTo(entry.schedule, after, now, opts);
    if (newest === null) return next(Math.max(after, now));

    // Slots that passed while paused are skipped, not caught up after `resume`.
    if (s.paused) {
      await store.advance({ name: s.name, slot: newest, token, now, nextDueAt: next(newest) });
      return null;
    }
    const grace = entry.misfireGrace * 1000;
    let due: number[];
    if (entry.misfire === 'all') due = slotsBetween(entry.schedule, Math.max(after, now - grace - 1), now, opts, MAX_FIRES_PER_TICK);
    else if (entry.misfire === 'skip') due = now - newest <= grace ? [newest] : [];
    else due = [newest];
    if (entry.maxRuns !== null) due = due.slice(0, entry.maxRuns - s.totalRuns);

    // Firing a slot records it as the newest (claimFire), which passes over every older one; with nothing to fire,
    // the passed-over slots are recorded by hand so that no later beat sends them.
    if (!due.length) {
      await store.advance({ name: s.name, slot: newest, token, now, nextDueAt: next(newest) });
      this.app.log.warn({ schedule: s.name, slot: new Date(newest).toISOString() }, `beat: missed slot of ${s.name} skipped (misfire ${entry.misfire})`);
      this.emit('skipped', { name: s.name, slot: newest, reason: `misfire ${entry.misfire}` });
      return next(newest);
    }
    let lastTaskId = s.lastTaskId;
    let lastRunAt = s.lastRunAt;
    for (const slot of due) {
      if (!this.maySend()) return slot;
      if (entry.overlap === 'skip' && (await this.stillRunning(lastTaskId, lastRunAt))) {
        await store.advance({ name: s.name, slot, token, now: this.clock.now(), nextDueAt: next(slot) });
        this.app.log.info({ schedule: s.name, previous: lastTaskId }, 'beat: previous run still unfinished; slot skipped (overlap skip)');
        this.emit('skipped', { name: s.name, slot, reason: 'overlap' });
        continue;
      }
      const taskId = randomUUID();
      const outcome = await store.claimFire({ name: s.name, slot, taskId, token, now: this.clock.now(), nextDueAt: next(slot) });
      if (outcome === 'fenced') {
        this.token = null;
        return null;
      }
      if (outcome !== 'claimed') continue;
      if (!this.maySend()) {
        // Sending now could race the next leader's resend of this very claim: leave it to whoever leads next.
        this.checkUnsent = true;
        return slot;
      }
      try {
        await sendEntry(this.app, s.name, entry, taskId);
      } catch (err) {
        this.checkUnsent = true;
        this.app.log.error({ err: (err as Error).message, schedule: s.name }, 'beat: sending failed; the slot is sent again next tick');
        // Not at once: the broker may be down for a while.
        return this.clock.now() + this.maxInterval;
      }
      await store.markSent(s.name, slot);
      lastTaskId = taskId;
      lastRunAt = this.clock.now();
      this.app.log.info({ schedule: s.name, task: entry.task, id: taskId, slot: new Date(slot).toISOString() }, `beat: sending due task ${s.name} (${entry.task})`);
      this.emit('fired', { name: s.name, slot, taskId });
    }
    return next(Math.max(now, due[due.length - 1] ?? newest));
  }

  /** Overlap check: the previous run has no ready result yet (no record counts as unfinished while it could still be queued). */
  private async stillRunning(taskId: string | null, lastRunAt: number | null): Promise<boolean> {
    if (!taskId) return false;
    const meta = await (await this.app.backend()).get(taskId);
    if (meta) return !READY_STATES.has(meta.status);
    return lastRunAt !== null && this.clock.now() - lastRunAt < this.app.conf.resultExpires * 1000;
  }
}
