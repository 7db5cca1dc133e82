/**
 * The embedded store's schedule store (beat): schedules, their run state, the leader lease and the fire records
 * in tables beside the results, in the same file (`./sql/schedules-schema.sql` describes them; every statement is
 * one `./sql/schedules-*.sql` file).
 *
 * Exactly once across processes: the lease is taken in one statement (an upsert that only wins when the lease is
 * free, expired or already ours), and a claim is one BEGIN IMMEDIATE transaction (fencing check, existence check,
 * insert into a table keyed by (name, slot), run state), so a claim that lost a race to another process finds the
 * winner's row and comes back as `duplicate`. Every method waits for another process's lock asynchronously
 * (`sqlite/busy.ts`), as the backend's own methods do.
 */
import { parseScheduleDefinition, type ClaimOutcome, type FireClaim, type FireRecord, type Lease, type ScheduleStore, type StoredSchedule } from '../schedules.js';
import { prepare, type SqliteDatabase } from '../../sqlite/open.js';
import { readSql, type Stmt } from '../../sqlite/sql-files.js';
import { retryWhileBusy } from '../../sqlite/busy.js';

interface ScheduleRow {
  name: string;
  definition: string;
  source: 'config' | 'runtime';
  paused: number;
  last_slot: number | null;
  last_run_at: number | null;
  total_runs: number;
  next_due_at: number | null;
  last_task_id: string | null;
  updated_at: number;
}

interface FireRow {
  name: string;
  slot: number;
  task_id: string;
  token: number;
  claimed_at: number;
  sent: number;
}

interface LeaseRow {
  holder: string;
  token: number;
  /** null once its holder gave it up. */
  expires_at: number | null;
}

type Name = { name: string };
type Fencing = { token: number; now: number };

function prepareStatements(db: SqliteDatabase) {
  const sql = <P, R = unknown>(name: string) => prepare(db, readSql(import.meta.url, `schedules-${name}.sql`)) as unknown as Stmt<P, R>;
  return {
    list: sql<Record<string, never>, ScheduleRow>('list'),
    get: sql<Name, ScheduleRow>('get'),
    put: sql<Name & { definition: string; source: string; paused: number | null; now: number }>('put'),
    syncUpsert: sql<Name & { definition: string; now: number }>('sync-upsert'),
    syncDelete: sql<{ names: string }>('sync-delete'),
    pause: sql<Name & { paused: number; now: number }>('pause'),
    delete: sql<Name>('delete'),
    version: sql<Record<string, never>, { version: number }>('version'),
    versionBump: sql<Record<string, never>>('version-bump'),
    leaseAcquire: sql<{ holder: string; now: number; expires_at: number }, LeaseRow>('lease-acquire'),
    leaseRelease: sql<{ holder: string; token: number }>('lease-release'),
    leaseGet: sql<Record<string, never>, LeaseRow>('lease-get'),
    leaseCheck: sql<Fencing, { ok: number }>('lease-check'),
    fireInsert: sql<Name & { slot: number; task_id: string; token: number; now: number }>('fire-insert'),
    fireState: sql<Name & { slot: number; task_id: string; now: number; next_due_at: number | null }>('fire-state'),
    advance: sql<Name & Fencing & { slot: number; next_due_at: number | null }>('advance'),
    markSent: sql<Name & { slot: number }>('mark-sent'),
    unsent: sql<{ below_token: number }, FireRow>('unsent'),
    manualRun: sql<Name & { task_id: string; now: number }>('manual-run'),
    fires: sql<Name & { limit: number }, FireRow>('fires'),
    prune: sql<{ before: number }>('prune'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

const NONE = {} as Record<string, never>;

export class SqliteScheduleStore implements ScheduleStore {
  /** The connection the statements were prepared on: a backend that reconnects hands out a new one. */
  private prepared: { db: SqliteDatabase; stmts: Statements } | null = null;

  /**
   * `connection` gives the backend's open connection (throwing when it is not connected), so the store can be
   * handed out before `connect()` and follows the backend across a close and reconnect.
   */
  constructor(
    private readonly connection: () => SqliteDatabase,
    busy: { file: string; timeoutMs: number },
  ) {
    // Reads too: the first call on a connection creates the tables, which takes the write lock.
    retryWhileBusy(this, ['list', 'get', 'put', 'syncConfig', 'setPaused', 'delete', 'version', 'acquireLease', 'releaseLease', 'lease', 'claimFire', 'advance', 'markSent', 'unsentFires', 'recordManualRun', 'fires', 'pruneFires'], busy);
  }

  async list(): Promise<StoredSchedule[]> {
    return this.use().stmts.list.all(NONE).map(toStored);
  }

  async get(name: string): Promise<StoredSchedule | null> {
    const row = this.use().stmts.get.get({ name });
    return row ? toStored(row) : null;
  }

  async put(entry: { name: string; definition: Record<string, unknown>; source: 'config' | 'runtime'; paused?: boolean; now: number }): Promise<void> {
    const { db, stmts } = this.use();
    const params = {
      name: entry.name,
      definition: JSON.stringify(entry.definition),
      source: entry.source,
      paused: entry.paused === undefined ? null : Number(entry.paused),
      now: entry.now,
    };
    db.transaction(() => {
      stmts.put.run(params);
      stmts.versionBump.run(NONE);
    }).immediate();
  }

  async syncConfig(entries: readonly { name: string; definition: Record<string, unknown> }[], now: number): Promise<void> {
    const { db, stmts } = this.use();
    const rows = entries.map((e) => ({ name: e.name, definition: JSON.stringify(e.definition), now }));
    const names = JSON.stringify(rows.map((r) => r.name));
    db.transaction(() => {
      let changes = stmts.syncDelete.run({ names }).changes;
      for (const row of rows) changes += stmts.syncUpsert.run(row).changes;
      if (changes > 0) stmts.versionBump.run(NONE);
    }).immediate();
  }

  async setPaused(name: string, paused: boolean, now: number): Promise<boolean> {
    const { db, stmts } = this.use();
    return db.transaction(() => {
      if (stmts.pause.run({ name, paused: Number(paused), now }).changes === 0) return false;
      stmts.versionBump.run(NONE);
      return true;
    }).immediate();
  }

  async delete(name: string): Promise<boolean> {
    const { db, stmts } = this.use();
    return db.transaction(() => {
      if (stmts.delete.run({ name }).changes === 0) return false;
      stmts.versionBump.run(NONE);
      return true;
    }).immediate();
  }

  async version(): Promise<number> {
    return this.use().stmts.version.get(NONE)?.version ?? 0;
  }

  async acquireLease(holder: string, now: number, ttlMs: number): Promise<Lease | null> {
    const row = this.use().stmts.leaseAcquire.get({ holder, now, expires_at: now + ttlMs });
    return row ? toLease(row) : null;
  }

  async releaseLease(holder: string, token: number): Promise<void> {
    this.use().stmts.leaseRelease.run({ holder, token });
  }

  async lease(): Promise<Lease | null> {
    const row = this.use().stmts.leaseGet.get(NONE);
    return row ? toLease(row) : null;
  }

  async claimFire(claim: FireClaim): Promise<ClaimOutcome> {
    const { db, stmts } = this.use();
    const { name, slot, taskId: task_id, token, now } = claim;
    return db.transaction((): ClaimOutcome => {
      if (!stmts.leaseCheck.get({ token, now })) return 'fenced';
      if (!stmts.get.get({ name })) return 'missing';
      if (stmts.fireInsert.run({ name, slot, task_id, token, now }).changes === 0) return 'duplicate';
      stmts.fireState.run({ name, slot, task_id, now, next_due_at: claim.nextDueAt });
      return 'claimed';
    }).immediate();
  }

  async advance(args: { name: string; slot: number; token: number; now: number; nextDueAt: number | null }): Promise<boolean> {
    const { name, slot, token, now, nextDueAt } = args;
    return this.use().stmts.advance.run({ name, slot, token, now, next_due_at: nextDueAt }).changes > 0;
  }

  async markSent(name: string, slot: number): Promise<void> {
    this.use().stmts.markSent.run({ name, slot });
  }

  async unsentFires(belowToken: number): Promise<FireRecord[]> {
    return this.use().stmts.unsent.all({ below_token: belowToken }).map(toFire);
  }

  async recordManualRun(name: string, taskId: string, now: number): Promise<boolean> {
    return this.use().stmts.manualRun.run({ name, task_id: taskId, now }).changes > 0;
  }

  async fires(name: string, limit: number): Promise<FireRecord[]> {
    return this.use().stmts.fires.all({ name, limit: Math.max(0, limit) }).map(toFire);
  }

  async pruneFires(before: number): Promise<number> {
    return this.use().stmts.prune.run({ before }).changes;
  }

  /** The backend's connection, with the tables created and the statements prepared the first time it is used. */
  private use(): { db: SqliteDatabase; stmts: Statements } {
    const db = this.connection();
    if (this.prepared?.db !== db) {
      // One transaction, so two processes creating the tables at once cannot see each other's half.
      db.transaction(() => db.exec(readSql(import.meta.url, 'schedules-schema.sql'))).immediate();
      this.prepared = { db, stmts: prepareStatements(db) };
    }
    return this.prepared;
  }
}

function toStored(row: ScheduleRow): StoredSchedule {
  return {
    name: row.name,
    definition: parseScheduleDefinition(row.definition),
    source: row.source,
    paused: row.paused !== 0,
    lastSlot: row.last_slot,
    lastRunAt: row.last_run_at,
    totalRuns: row.total_runs,
    nextDueAt: row.next_due_at,
    lastTaskId: row.last_task_id,
    updatedAt: row.updated_at,
  };
}

/** A given-up lease reads as one that expired at 0, before any time a caller passes. */
function toLease(row: LeaseRow): Lease {
  return { holder: row.holder, token: row.token, expiresAt: row.expires_at ?? 0 };
}

function toFire(row: FireRow): FireRecord {
  return { name: row.name, slot: row.slot, taskId: row.task_id, token: row.token, claimedAt: row.claimed_at, sent: row.sent !== 0 };
}
