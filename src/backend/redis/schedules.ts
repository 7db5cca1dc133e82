/**
 * The Redis result backend's schedule store (beat), on the backend's command connection. Every key sits under
 * `celerity:beat:` after the backend's global key prefix (`?global_keyprefix=`):
 *
 *   celerity:beat:names             sorted set of schedule names, every score 0 (so ZRANGE gives byte order)
 *   celerity:beat:schedule:<name>   hash: definition (JSON text), source, paused (0/1), last_slot, last_run_at,
 *                                   total_runs, next_due_at, last_task_id, updated_at (ms); a null field is absent
 *   celerity:beat:fires:<name>      hash: slot (ms) -> the fire record as JSON {"sent", "taskId", "token", "claimedAt"}
 *   celerity:beat:unsent            sorted set of '<slot> <name>' of fires not marked sent, scored by their token
 *   celerity:beat:sent              sorted set of '<slot> <name>' of sent fires, scored by claimedAt (pruning)
 *   celerity:beat:lease             hash: holder, token, expires_at (ms; absent once the holder gave it up)
 *   celerity:beat:lease-token       the token counter: only ever incremented, so no token is handed out twice
 *   celerity:beat:version           counter moved by every change of a definition, paused flag or the set of names
 *
 * Every change is one Lua script (`./lua/beat-*.lua`, headed by its keys and arguments), so it is atomic with its
 * checks: a claim checks the lease token and expiry, the schedule and the slot in the step that records it. Times
 * are the caller's (`now`), never the server's. Numbers travel as the decimal text JavaScript writes and are stored
 * as given; Lua only compares them.
 */
import type { Redis } from 'ioredis';
import { parseScheduleDefinition, type ClaimOutcome, type FireClaim, type FireRecord, type Lease, type ScheduleStore, type StoredSchedule } from '../schedules.js';
import { evalFramed, luaScript, type LuaScript } from '../../redis/framed.js';
import { readLua } from './scripts.js';

/** What the store needs of its backend; the backend passes its own connection, error rule and key prefix. */
export interface RedisScheduleConnection {
  /** The backend's command connection; throws ConnectionError when the backend is not connected. */
  client(): Redis;
  /** Awaits a command, turning transport failures into ConnectionError as the backend's own commands do. */
  command<T>(pending: Promise<T>): Promise<T>;
  /** A key name with the backend's global key prefix in front. */
  key(name: string): string;
}

const lua = (name: string): LuaScript => luaScript(readLua(import.meta.url, `beat-${name}.lua`));

const SCRIPTS = {
  put: lua('put'),
  sync: lua('sync'),
  pause: lua('pause'),
  delete: lua('delete'),
  acquire: lua('acquire'),
  release: lua('release'),
  claim: lua('claim'),
  advance: lua('advance'),
  markSent: lua('mark-sent'),
  manualRun: lua('manual-run'),
  prune: lua('prune'),
  unsent: lua('unsent'),
  list: lua('list'),
};

/** Sent records deleted per script call by pruneFires: bounds how long one call holds the server. */
const PRUNE_BATCH = 1000;

const CLAIM_OUTCOMES: readonly ClaimOutcome[] = ['claimed', 'duplicate', 'fenced', 'missing'];

export class RedisScheduleStore implements ScheduleStore {
  /** `<global prefix>celerity:beat:`: the scripts that find schedules themselves build keys from it. */
  private readonly prefix: string;
  private readonly k: BeatKeys;

  constructor(private readonly conn: RedisScheduleConnection) {
    this.prefix = conn.key('celerity:beat:');
    this.k = beatKeys(this.prefix);
  }

  async list(): Promise<StoredSchedule[]> {
    const reply = (await this.run(SCRIPTS.list, [this.k.names], [this.prefix])) as [string, string[]][];
    return reply.map(([name, fields]) => toStored(name, pairs(fields)));
  }

  async get(name: string): Promise<StoredSchedule | null> {
    const fields = await this.conn.command(this.conn.client().hgetall(this.k.schedule(name)));
    return Object.keys(fields).length === 0 ? null : toStored(name, fields);
  }

  async put(entry: { name: string; definition: Record<string, unknown>; source: 'config' | 'runtime'; paused?: boolean; now: number }): Promise<void> {
    const paused = entry.paused === undefined ? '' : entry.paused ? '1' : '0';
    await this.run(
      SCRIPTS.put,
      [this.k.names, this.k.schedule(entry.name), this.k.version],
      [entry.name, JSON.stringify(entry.definition), entry.source, paused, String(entry.now)],
    );
  }

  async syncConfig(entries: readonly { name: string; definition: Record<string, unknown> }[], now: number): Promise<void> {
    // Serialized before the script runs, so a definition JSON cannot hold changes nothing (all or nothing).
    const args = [this.prefix, String(now)];
    for (const e of entries) args.push(e.name, JSON.stringify(e.definition));
    await this.run(SCRIPTS.sync, [this.k.names, this.k.unsent, this.k.sent, this.k.version], args);
  }

  async setPaused(name: string, paused: boolean, now: number): Promise<boolean> {
    return (await this.run(SCRIPTS.pause, [this.k.schedule(name), this.k.version], [paused ? '1' : '0', String(now)])) === 1;
  }

  async delete(name: string): Promise<boolean> {
    const keys = [this.k.names, this.k.schedule(name), this.k.fires(name), this.k.unsent, this.k.sent, this.k.version];
    return (await this.run(SCRIPTS.delete, keys, [name])) === 1;
  }

  async version(): Promise<number> {
    return Number((await this.conn.command(this.conn.client().get(this.k.version))) ?? 0);
  }

  async acquireLease(holder: string, now: number, ttlMs: number): Promise<Lease | null> {
    const reply = (await this.run(SCRIPTS.acquire, [this.k.lease, this.k.token], [holder, String(now), String(now + ttlMs)])) as
      | [string, string, string]
      | null;
    return reply ? { holder: reply[0], token: Number(reply[1]), expiresAt: Number(reply[2]) } : null;
  }

  async releaseLease(holder: string, token: number): Promise<void> {
    await this.run(SCRIPTS.release, [this.k.lease], [holder, String(token)]);
  }

  async lease(): Promise<Lease | null> {
    const fields = await this.conn.command(this.conn.client().hgetall(this.k.lease));
    if (fields.token === undefined) return null;
    // A given-up lease reads as one that expired at 0, before any time a caller passes (as the other stores).
    return { holder: fields.holder ?? '', token: Number(fields.token), expiresAt: Number(fields.expires_at ?? 0) };
  }

  async claimFire(claim: FireClaim): Promise<ClaimOutcome> {
    const slot = String(claim.slot);
    const outcome = await this.run(
      SCRIPTS.claim,
      [this.k.lease, this.k.schedule(claim.name), this.k.fires(claim.name), this.k.unsent],
      [
        String(claim.token),
        String(claim.now),
        claim.name,
        slot,
        fireJson(claim.taskId, claim.token, claim.now),
        claim.taskId,
        claim.nextDueAt === null ? '' : String(claim.nextDueAt),
      ],
    );
    if (!CLAIM_OUTCOMES.includes(outcome as ClaimOutcome)) throw new Error(`beat-claim.lua answered ${String(outcome)}`);
    return outcome as ClaimOutcome;
  }

  async advance(args: { name: string; slot: number; token: number; now: number; nextDueAt: number | null }): Promise<boolean> {
    const argv = [String(args.token), String(args.now), String(args.slot), args.nextDueAt === null ? '' : String(args.nextDueAt)];
    return (await this.run(SCRIPTS.advance, [this.k.lease, this.k.schedule(args.name)], argv)) === 1;
  }

  async markSent(name: string, slot: number): Promise<void> {
    await this.run(SCRIPTS.markSent, [this.k.fires(name), this.k.unsent, this.k.sent], [String(slot), member(name, slot)]);
  }

  async unsentFires(belowToken: number): Promise<FireRecord[]> {
    const reply = (await this.run(SCRIPTS.unsent, [this.k.unsent], [this.prefix, String(belowToken)])) as string[];
    const found: FireRecord[] = [];
    for (let i = 0; i + 2 < reply.length; i += 3) found.push(toFire(reply[i]!, reply[i + 1]!, reply[i + 2]!));
    // Oldest slot first, as the table stores list them: a new leader resends in the order they were due.
    return found.sort((a, b) => a.slot - b.slot || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async recordManualRun(name: string, taskId: string, now: number): Promise<boolean> {
    return (await this.run(SCRIPTS.manualRun, [this.k.schedule(name)], [taskId, String(now)])) === 1;
  }

  async fires(name: string, limit: number): Promise<FireRecord[]> {
    // One schedule's records are few (pruneFires keeps them so), so they are sorted here rather than indexed.
    const fields = await this.conn.command(this.conn.client().hgetall(this.k.fires(name)));
    const all = Object.entries(fields).map(([slot, json]) => toFire(name, slot, json));
    return all.sort((a, b) => b.slot - a.slot).slice(0, Math.max(0, limit));
  }

  async pruneFires(before: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const n = (await this.run(SCRIPTS.prune, [this.k.sent], [this.prefix, String(before), String(PRUNE_BATCH)])) as number;
      removed += n;
      if (n < PRUNE_BATCH) return removed;
    }
  }

  // ---- internals --------------------------------------------------------------------------------------------

  private run(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.conn.command(evalFramed(this.conn.client(), script, keys, args));
  }
}

interface BeatKeys {
  names: string;
  unsent: string;
  sent: string;
  lease: string;
  token: string;
  version: string;
  schedule(name: string): string;
  fires(name: string): string;
}

/** The layout in this module's header; the Lua scripts that build keys themselves use the same names. */
function beatKeys(prefix: string): BeatKeys {
  return {
    names: `${prefix}names`,
    unsent: `${prefix}unsent`,
    sent: `${prefix}sent`,
    lease: `${prefix}lease`,
    token: `${prefix}lease-token`,
    version: `${prefix}version`,
    schedule: (name) => `${prefix}schedule:${name}`,
    fires: (name) => `${prefix}fires:${name}`,
  };
}

/** A fire's member in the unsent and sent indexes; the slot has no space, so the first space ends it. */
function member(name: string, slot: number): string {
  return `${slot} ${name}`;
}

/** "sent" first and "claimedAt" last: beat-mark-sent.lua flips the one and reads the other as text. */
function fireJson(taskId: string, token: number, claimedAt: number): string {
  return JSON.stringify({ sent: false, taskId, token, claimedAt });
}

function toFire(name: string, slot: string, json: string): FireRecord {
  const f = JSON.parse(json) as { sent: boolean; taskId: string; token: number; claimedAt: number };
  return { name, slot: Number(slot), taskId: f.taskId, token: f.token, claimedAt: f.claimedAt, sent: f.sent };
}

function pairs(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

const num = (text: string | undefined): number | null => (text === undefined ? null : Number(text));

function toStored(name: string, h: Record<string, string>): StoredSchedule {
  return {
    name,
    definition: parseScheduleDefinition(h.definition ?? ''),
    source: h.source === 'config' ? 'config' : 'runtime',
    paused: h.paused === '1',
    lastSlot: num(h.last_slot),
    lastRunAt: num(h.last_run_at),
    totalRuns: Number(h.total_runs ?? 0),
    nextDueAt: num(h.next_due_at),
    lastTaskId: h.last_task_id ?? null,
    updatedAt: Number(h.updated_at ?? 0),
  };
}

