/**
 * The schedule store of the in-process backend (tests, single-process apps), with the SQLite store's semantics:
 * plain Maps, every method one synchronous step (so, on one event loop, as atomic as a transaction), and copies in
 * and out so callers never share an object with the store. Definitions are kept as JSON text, as a table store
 * keeps them: every read parses a fresh copy, and `syncConfig` compares texts to tell a change.
 */
import type { ClaimOutcome, FireClaim, FireRecord, Lease, ScheduleStore, StoredSchedule } from '../schedules.js';

/** A stored schedule: the port's shape with the definition as text. */
type Row = Omit<StoredSchedule, 'definition'> & { definition: string };

interface LeaseRow extends Lease {
  /** Given up by its holder: nobody holds it, so whoever takes it next (the same holder too) gets a new token. */
  released: boolean;
}

/** Fire records are kept per schedule, so deleting a schedule drops its records with it. */
type Fires = Map<number, FireRecord>;

export class MemoryScheduleStore implements ScheduleStore {
  private readonly schedules = new Map<string, Row>();
  private readonly fireRecords = new Map<string, Fires>();
  private leaseRow: LeaseRow | null = null;
  private counter = 0;

  /** `check` throws when the owning backend is closed, so the store fails as the backend does. */
  constructor(private readonly check: () => void = () => undefined) {}

  async list(): Promise<StoredSchedule[]> {
    this.check();
    return [...this.schedules.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(toStored);
  }

  async get(name: string): Promise<StoredSchedule | null> {
    this.check();
    const row = this.schedules.get(name);
    return row ? toStored(row) : null;
  }

  async put(entry: { name: string; definition: Record<string, unknown>; source: 'config' | 'runtime'; paused?: boolean; now: number }): Promise<void> {
    this.check();
    this.upsert(entry.name, JSON.stringify(entry.definition), entry.source, entry.paused, entry.now);
    this.counter++;
  }

  async syncConfig(entries: readonly { name: string; definition: Record<string, unknown> }[], now: number): Promise<void> {
    this.check();
    // Serialized first, so a definition JSON cannot hold leaves the store as it was (all or nothing).
    const wanted = new Map(entries.map((e) => [e.name, JSON.stringify(e.definition)]));
    let changed = false;
    for (const [name, row] of this.schedules) {
      if (row.source === 'config' && !wanted.has(name)) changed = this.remove(name) || changed;
    }
    for (const [name, text] of wanted) {
      const row = this.schedules.get(name);
      if (row?.source === 'config' && row.definition === text) continue;
      this.upsert(name, text, 'config', undefined, now);
      changed = true;
    }
    if (changed) this.counter++;
  }

  async setPaused(name: string, paused: boolean, now: number): Promise<boolean> {
    this.check();
    const row = this.schedules.get(name);
    if (!row) return false;
    row.paused = paused;
    row.updatedAt = now;
    this.counter++;
    return true;
  }

  async delete(name: string): Promise<boolean> {
    this.check();
    if (!this.remove(name)) return false;
    this.counter++;
    return true;
  }

  async version(): Promise<number> {
    this.check();
    return this.counter;
  }

  async acquireLease(holder: string, now: number, ttlMs: number): Promise<Lease | null> {
    this.check();
    const current = this.leaseRow;
    const renewing = current !== null && current.holder === holder && !current.released;
    if (current && !renewing && !current.released && current.expiresAt > now) return null;
    const token = renewing ? current.token : (current?.token ?? 0) + 1;
    this.leaseRow = { holder, token, expiresAt: now + ttlMs, released: false };
    return { holder, token, expiresAt: now + ttlMs };
  }

  async releaseLease(holder: string, token: number): Promise<void> {
    this.check();
    const current = this.leaseRow;
    if (!current || current.holder !== holder || current.token !== token) return;
    // No clock here: 0 lies before any `now` a caller passes, so the lease counts as expired everywhere.
    this.leaseRow = { ...current, expiresAt: 0, released: true };
  }

  async lease(): Promise<Lease | null> {
    this.check();
    const current = this.leaseRow;
    return current ? { holder: current.holder, token: current.token, expiresAt: current.expiresAt } : null;
  }

  async claimFire(claim: FireClaim): Promise<ClaimOutcome> {
    this.check();
    if (!this.leads(claim.token, claim.now)) return 'fenced';
    const row = this.schedules.get(claim.name);
    if (!row) return 'missing';
    const fires = this.firesOf(claim.name);
    if (fires.has(claim.slot)) return 'duplicate';
    fires.set(claim.slot, { name: claim.name, slot: claim.slot, taskId: claim.taskId, token: claim.token, claimedAt: claim.now, sent: false });
    row.lastSlot = row.lastSlot === null ? claim.slot : Math.max(row.lastSlot, claim.slot);
    row.lastRunAt = claim.now;
    row.totalRuns++;
    row.lastTaskId = claim.taskId;
    row.nextDueAt = claim.nextDueAt;
    return 'claimed';
  }

  async advance(args: { name: string; slot: number; token: number; now: number; nextDueAt: number | null }): Promise<boolean> {
    this.check();
    if (!this.leads(args.token, args.now)) return false;
    const row = this.schedules.get(args.name);
    if (!row) return false;
    row.lastSlot = row.lastSlot === null ? args.slot : Math.max(row.lastSlot, args.slot);
    row.nextDueAt = args.nextDueAt;
    return true;
  }

  async markSent(name: string, slot: number): Promise<void> {
    this.check();
    const fire = this.fireRecords.get(name)?.get(slot);
    if (fire) fire.sent = true;
  }

  async unsentFires(belowToken: number): Promise<FireRecord[]> {
    this.check();
    const found: FireRecord[] = [];
    for (const fires of this.fireRecords.values()) {
      for (const fire of fires.values()) if (!fire.sent && fire.token < belowToken) found.push({ ...fire });
    }
    // Oldest slot first, as the SQLite store lists them: a new leader resends in the order they were due.
    return found.sort((a, b) => a.slot - b.slot || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async recordManualRun(name: string, taskId: string, now: number): Promise<boolean> {
    this.check();
    const row = this.schedules.get(name);
    if (!row) return false;
    row.totalRuns++;
    row.lastRunAt = now;
    row.lastTaskId = taskId;
    return true;
  }

  async fires(name: string, limit: number): Promise<FireRecord[]> {
    this.check();
    const fires = [...(this.fireRecords.get(name)?.values() ?? [])];
    return fires.sort((a, b) => b.slot - a.slot).slice(0, Math.max(0, limit)).map((f) => ({ ...f }));
  }

  async pruneFires(before: number): Promise<number> {
    this.check();
    let n = 0;
    for (const fires of this.fireRecords.values()) {
      for (const [slot, fire] of fires) {
        if (fire.sent && fire.claimedAt < before) {
          fires.delete(slot);
          n++;
        }
      }
    }
    return n;
  }

  // ---- internals --------------------------------------------------------------------------------------------

  /** The fencing rule of claimFire and advance: `token` is the current lease's and it has not expired at `now`. */
  private leads(token: number, now: number): boolean {
    const current = this.leaseRow;
    return current !== null && !current.released && current.token === token && current.expiresAt > now;
  }

  private upsert(name: string, definition: string, source: 'config' | 'runtime', paused: boolean | undefined, now: number): void {
    const row = this.schedules.get(name);
    if (row) {
      Object.assign(row, { definition, source, updatedAt: now });
      if (paused !== undefined) row.paused = paused;
      return;
    }
    this.schedules.set(name, {
      name, definition, source, paused: paused ?? false, lastSlot: null, lastRunAt: null, totalRuns: 0, nextDueAt: null, lastTaskId: null, updatedAt: now,
    });
  }

  private remove(name: string): boolean {
    this.fireRecords.delete(name);
    return this.schedules.delete(name);
  }

  private firesOf(name: string): Fires {
    let fires = this.fireRecords.get(name);
    if (!fires) {
      fires = new Map();
      this.fireRecords.set(name, fires);
    }
    return fires;
  }
}

function toStored(row: Row): StoredSchedule {
  return { ...row, definition: JSON.parse(row.definition) as Record<string, unknown> };
}
