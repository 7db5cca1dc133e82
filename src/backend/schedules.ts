/**
 * The schedule-store port: a capability of a result store (`backend.schedules?.()`) that keeps periodic-task
 * schedules, their run state, a leader lease with a fencing token and one fire record per (schedule, slot), so
 * that any number of beat processes fire each slot of each schedule exactly once.
 *
 * Times are milliseconds since the epoch and are always passed in by the caller (`now`), never read from the
 * store's clock: beats agree on time through the lease, and tests drive the whole thing with an injected clock.
 * Correctness never depends on clocks agreeing: a fire is recorded only under the current lease token (fencing),
 * and a (schedule, slot) pair can be recorded once; a skewed clock can only delay a fail-over.
 */

/** One schedule as stored: its definition (opaque JSON to the store), where it came from, and its run state. */
export interface StoredSchedule {
  name: string;
  /** The definition as plain JSON data (task, schedule, args, kwargs, options, policies). Opaque to the store. */
  definition: Record<string, unknown>;
  /**
   * `config`: defined in code or settings; `syncConfig` replaces these. `runtime`: added by `app.schedules` or
   * the CLI; only explicit calls change them.
   */
  source: 'config' | 'runtime';
  paused: boolean;
  /** The newest slot fired or skipped (ms), null before the first. Slots at or before it are never fired again. */
  lastSlot: number | null;
  /** When the newest fire (or manual run) was recorded (ms), null before the first. */
  lastRunAt: number | null;
  /** Fires plus manual runs. */
  totalRuns: number;
  /** The next slot as computed by the beat that last fired or skipped (ms), null when none is left or unknown. */
  nextDueAt: number | null;
  /** The task id of the newest fire or manual run (for the overlap policy and `schedule list`). */
  lastTaskId: string | null;
  /** When the definition or the paused flag last changed (ms). */
  updatedAt: number;
}

/** The leader lease: whoever holds the newest token may fire. */
export interface Lease {
  holder: string;
  /** Grows by one each time the lease changes hands (or is taken after it expired); never reused. */
  token: number;
  expiresAt: number;
}

export interface FireClaim {
  name: string;
  /** The slot's nominal time (ms). */
  slot: number;
  /** The id the fired task gets (decided before the claim, so a resend after a crash reuses it). */
  taskId: string;
  /** The lease token the claimer holds. */
  token: number;
  now: number;
  /** The schedule's next slot after this one (ms), or null. */
  nextDueAt: number | null;
}

/**
 * `claimed`: recorded, the caller must send the task and then `markSent`. `duplicate`: this (name, slot) was
 * claimed before (by anyone). `fenced`: the caller's token is not the current lease's, or the lease expired at
 * `now`: it is not the leader any more. `missing`: no schedule has that name (deleted meanwhile).
 */
export type ClaimOutcome = 'claimed' | 'duplicate' | 'fenced' | 'missing';

export interface FireRecord {
  name: string;
  slot: number;
  taskId: string;
  token: number;
  claimedAt: number;
  /** False until `markSent`: a fire claimed by a beat that died before sending it. */
  sent: boolean;
}

export interface ScheduleStore {
  /** Every schedule, ordered by name. */
  list(): Promise<StoredSchedule[]>;
  get(name: string): Promise<StoredSchedule | null>;
  /**
   * Inserts or replaces the definition of `name` (and its source). Run state is kept; `paused` is set only when
   * given (a new schedule starts unpaused). Bumps `version()`.
   */
  put(entry: { name: string; definition: Record<string, unknown>; source: 'config' | 'runtime'; paused?: boolean; now: number }): Promise<void>;
  /**
   * Atomically makes the `config` schedules exactly `entries`: each is `put` (state and paused kept), every other
   * `config` schedule is deleted; `runtime` schedules are untouched (a runtime schedule of the same name becomes a
   * config one). Bumps `version()` only when something changed.
   */
  syncConfig(entries: readonly { name: string; definition: Record<string, unknown> }[], now: number): Promise<void>;
  /** Sets the paused flag; false when no schedule has that name. Bumps `version()`. */
  setPaused(name: string, paused: boolean, now: number): Promise<boolean>;
  /** Deletes the schedule and its fire records; false when there was none. Bumps `version()`. */
  delete(name: string): Promise<boolean>;
  /** A number that changes whenever a definition, a paused flag or the set of schedules changes. */
  version(): Promise<number>;

  /**
   * Takes or renews the lease for `holder`: when nobody holds it, or it expired at `now`, the holder gets it
   * with a new token; when `holder` already holds it (expired or not, as long as nobody took it since) it is
   * renewed with the same token. Returns the lease, or null when someone else holds it.
   */
  acquireLease(holder: string, now: number, ttlMs: number): Promise<Lease | null>;
  /** Gives the lease up (it expires at once) when `holder` still holds it with `token`. */
  releaseLease(holder: string, token: number): Promise<void>;
  /** The current lease, expired or not; null when none was ever taken. */
  lease(): Promise<Lease | null>;

  /**
   * Atomically, when `token` is the current lease's token, that lease has not expired at `now`, the schedule
   * exists and (name, slot) was never claimed: records the fire (unsent) and updates the schedule's state
   * (lastSlot = max(lastSlot, slot), lastRunAt = now, totalRuns + 1, lastTaskId, nextDueAt).
   */
  claimFire(claim: FireClaim): Promise<ClaimOutcome>;
  /**
   * Under the same fencing as claimFire, records that slots up to `slot` were passed over (misfire policy
   * `skip`): lastSlot = max(lastSlot, slot) and nextDueAt; no fire record, no run counted. False when fenced or
   * missing.
   */
  advance(args: { name: string; slot: number; token: number; now: number; nextDueAt: number | null }): Promise<boolean>;
  /** Marks a claimed fire as sent (no-op when unknown). */
  markSent(name: string, slot: number): Promise<void>;
  /** Claimed fires not marked sent whose token is below `token`: their beat lost the lease before sending them. */
  unsentFires(belowToken: number): Promise<FireRecord[]>;
  /** A task sent by hand ("run now"): totalRuns + 1, lastRunAt = now, lastTaskId; lastSlot unchanged. False when missing. */
  recordManualRun(name: string, taskId: string, now: number): Promise<boolean>;
  /** The newest fire records of a schedule, newest slot first. */
  fires(name: string, limit: number): Promise<FireRecord[]>;
  /** Deletes sent fire records claimed before `before` (ms); resolves to how many. */
  pruneFires(before: number): Promise<number>;
}

/**
 * A stored definition's text read back for `StoredSchedule.definition`, with JSON.parse as every store reads it (a
 * driver's own JSON reader may turn long integers into bigints). One edited by hand into something that is not an
 * object becomes `{ unreadable: text }`, which the beat rejects (and logs) for that schedule alone, rather than an
 * error that would stop every schedule from being listed.
 */
export function parseScheduleDefinition(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // falls through
  }
  return { unreadable: text };
}
