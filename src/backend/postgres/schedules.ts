/**
 * The PostgreSQL result backend's schedule store (beat), on the backend's pool: tables created by migration 3
 * (`./sql/migrations/003-schedules.sql` describes them), one statement per file in `./sql/schedules/`, all naming
 * bare tables so the URL's `?schema=` (the connection's search_path) decides where they live.
 *
 * Exactly once across processes: a claim is one statement that reads the lease row FOR SHARE (fencing), locks the
 * schedule's row and inserts into a table keyed by (name, slot) with ON CONFLICT DO NOTHING, so a claim that lost a
 * race comes back `duplicate`; the lease is taken by one upsert that locks its row. Every other change is one
 * statement too, except syncConfig: an advisory lock, then one statement, in a transaction of its own.
 */
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { parseScheduleDefinition, type ClaimOutcome, type FireClaim, type FireRecord, type Lease, type ScheduleStore, type StoredSchedule } from '../schedules.js';
import { sql } from './statements.js';

/** What the store needs of its backend: its pool and its rule for errors. */
export interface PostgresScheduleConnection {
  /** Runs one statement on the backend's pool, failing as the backend's own statements do. */
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
  /** The backend's pool (throws ConnectionError when it is not connected), for syncConfig's transaction. */
  pool(): Pool;
  /** An error to throw for `err`: a server's answer unchanged, a lost or refused connection as ConnectionError. */
  failure(err: unknown): unknown;
}

/** bigint columns arrive as text (node-postgres keeps every digit); epoch ms and tokens fit a number exactly. */
type Int8 = string;

interface ScheduleRow {
  name: string;
  definition: string;
  source: 'config' | 'runtime';
  paused: boolean;
  last_slot: Int8 | null;
  last_run_at: Int8 | null;
  total_runs: Int8;
  next_due_at: Int8 | null;
  last_task_id: string | null;
  updated_at: Int8;
}

interface FireRow {
  name: string;
  slot: Int8;
  task_id: string;
  token: Int8;
  claimed_at: Int8;
  sent: boolean;
}

interface LeaseRow {
  holder: string;
  token: Int8;
  /** null once its holder gave it up. */
  expires_at: Int8 | null;
}

const statement = (name: string) => sql(`schedules/${name}.sql`);

export class PostgresScheduleStore implements ScheduleStore {
  constructor(private readonly conn: PostgresScheduleConnection) {}

  async list(): Promise<StoredSchedule[]> {
    return (await this.conn.query<ScheduleRow>(statement('list'))).rows.map(toStored);
  }

  async get(name: string): Promise<StoredSchedule | null> {
    const { rows } = await this.conn.query<ScheduleRow>(statement('get'), [name]);
    return rows[0] ? toStored(rows[0]) : null;
  }

  async put(entry: { name: string; definition: Record<string, unknown>; source: 'config' | 'runtime'; paused?: boolean; now: number }): Promise<void> {
    const params = [entry.name, JSON.stringify(entry.definition), entry.source, entry.paused ?? null, entry.now];
    await this.conn.query(statement('put'), params);
  }

  async syncConfig(entries: readonly { name: string; definition: Record<string, unknown> }[], now: number): Promise<void> {
    // One row per name (the last entry wins), since one statement cannot upsert a row twice; serialized first, so a
    // definition JSON cannot hold changes nothing.
    const wanted = new Map(entries.map((e) => [e.name, JSON.stringify(e.definition)]));
    await this.transaction(async (client) => {
      await client.query(statement('sync-lock'));
      await client.query(statement('sync'), [[...wanted.keys()], [...wanted.values()], now]);
    });
  }

  async setPaused(name: string, paused: boolean, now: number): Promise<boolean> {
    const { rows } = await this.conn.query<{ found: boolean }>(statement('pause'), [name, paused, now]);
    return rows[0]?.found === true;
  }

  async delete(name: string): Promise<boolean> {
    const { rows } = await this.conn.query<{ found: boolean }>(statement('delete'), [name]);
    return rows[0]?.found === true;
  }

  async version(): Promise<number> {
    const { rows } = await this.conn.query<{ version: Int8 }>(statement('version'));
    return Number(rows[0]?.version ?? 0);
  }

  async acquireLease(holder: string, now: number, ttlMs: number): Promise<Lease | null> {
    const { rows } = await this.conn.query<LeaseRow>(statement('lease-acquire'), [holder, now, now + ttlMs]);
    return rows[0] ? toLease(rows[0]) : null;
  }

  async releaseLease(holder: string, token: number): Promise<void> {
    await this.conn.query(statement('lease-release'), [holder, token]);
  }

  async lease(): Promise<Lease | null> {
    const { rows } = await this.conn.query<LeaseRow>(statement('lease-get'));
    return rows[0] ? toLease(rows[0]) : null;
  }

  async claimFire(claim: FireClaim): Promise<ClaimOutcome> {
    const params = [claim.token, claim.now, claim.name, claim.slot, claim.taskId, claim.nextDueAt];
    const { rows } = await this.conn.query<{ outcome: ClaimOutcome }>(statement('claim'), params);
    return rows[0]!.outcome;
  }

  async advance(args: { name: string; slot: number; token: number; now: number; nextDueAt: number | null }): Promise<boolean> {
    const params = [args.token, args.now, args.name, args.slot, args.nextDueAt];
    const { rows } = await this.conn.query<{ advanced: boolean }>(statement('advance'), params);
    return rows[0]?.advanced === true;
  }

  async markSent(name: string, slot: number): Promise<void> {
    await this.conn.query(statement('mark-sent'), [name, slot]);
  }

  async unsentFires(belowToken: number): Promise<FireRecord[]> {
    return (await this.conn.query<FireRow>(statement('unsent'), [belowToken])).rows.map(toFire);
  }

  async recordManualRun(name: string, taskId: string, now: number): Promise<boolean> {
    return (await this.conn.query(statement('manual-run'), [name, taskId, now])).rows.length > 0;
  }

  async fires(name: string, limit: number): Promise<FireRecord[]> {
    return (await this.conn.query<FireRow>(statement('fires'), [name, Math.max(0, limit)])).rows.map(toFire);
  }

  async pruneFires(before: number): Promise<number> {
    const { rows } = await this.conn.query<{ removed: number }>(statement('prune'), [before]);
    return rows[0]?.removed ?? 0;
  }

  /** Runs `work` in a transaction on one pooled connection; a connection left in doubt is not reused. */
  private async transaction(work: (client: PoolClient) => Promise<void>): Promise<void> {
    const pool = this.conn.pool();
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw this.conn.failure(err);
    }
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
      client.release();
    } catch (err) {
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      client.release(!rolledBack);
      throw this.conn.failure(err);
    }
  }
}

const num = (value: Int8 | null): number | null => (value === null ? null : Number(value));

function toStored(row: ScheduleRow): StoredSchedule {
  return {
    name: row.name,
    definition: parseScheduleDefinition(row.definition),
    source: row.source,
    paused: row.paused,
    lastSlot: num(row.last_slot),
    lastRunAt: num(row.last_run_at),
    totalRuns: Number(row.total_runs),
    nextDueAt: num(row.next_due_at),
    lastTaskId: row.last_task_id,
    updatedAt: Number(row.updated_at),
  };
}

/** A given-up lease reads as one that expired at 0, before any time a caller passes (as the other stores). */
function toLease(row: LeaseRow): Lease {
  return { holder: row.holder, token: Number(row.token), expiresAt: Number(row.expires_at ?? 0) };
}

function toFire(row: FireRow): FireRecord {
  return {
    name: row.name,
    slot: Number(row.slot),
    taskId: row.task_id,
    token: Number(row.token),
    claimedAt: Number(row.claimed_at),
    sent: row.sent,
  };
}
