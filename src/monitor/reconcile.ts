/**
 * Reads the result store for tasks the history has not seen finish. This is how custom states (PROGRESS and its
 * meta, which Celery sends no event for) reach the history, and how tasks of workers that send no events still
 * finish there; an extended result also gives the exact arguments, the worker and the queue, and any result its
 * group id, which no event carries.
 *
 * Each round takes the oldest unfinished tasks not updated for a second and reads their metas in one `mget`. A
 * task whose meta told nothing new is left alone for a while (2 s, doubling to a minute), so a backlog of tasks
 * nobody runs is not read every second; one that is running (STARTED, PROGRESS or another custom state) is read
 * every round. The query asks for as many more ids as are resting, so a resting backlog cannot hide newer tasks.
 */
import type { ResultBackend } from '../backend/port.js';
import type { HistoryStore, TaskUpdate } from '../history/port.js';
import { parsePyIsoDate } from '../protocol/message.js';
import { pyRepr, argsRepr, kwargsRepr } from '../protocol/repr.js';
import type { ResultMeta } from '../protocol/types.js';
import { silentLogger, type MonitorLogger } from './recorder.js';

export interface ReconcilerOptions {
  history: Pick<HistoryStore, 'unfinished'>;
  backend: Pick<ResultBackend, 'mget'>;
  /** Where the updates go (the recorder). */
  sink: (update: TaskUpdate) => void;
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Metas read per round; default 500. */
  batchSize?: number;
  /** Epoch ms; defaults to Date.now. */
  now?: () => number;
  logger?: MonitorLogger;
}

interface Checked {
  /** Not read again before this (epoch ms); 0 = every round. */
  restUntil: number;
  restMs: number;
  /** When it was last read (epoch ms). */
  readAt: number;
  /** What the last meta said, to tell a change from a repeat. */
  fingerprint: string | null;
}

const FIRST_REST_MS = 2_000;
const MAX_REST_MS = 60_000;
/** The most ids one query asks for, resting ones included. */
const MAX_QUERY = 10_000;
const READY = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);
/** What one read of a finished task adds to what its events said. */
const FILLED_FROM_FINISHED = new Set(['groupId', 'parentId', 'argsJson', 'kwargsJson', 'args', 'kwargs', 'queue']);
/** Finished tasks waiting for their one read. */
const MAX_FINISHED = 5_000;
/** States of a task that is running, which may change at any moment. */
const QUIET = new Set(['PENDING', 'RECEIVED', 'REJECTED']);

export class Reconciler {
  private readonly checked = new Map<string, Checked>();
  private readonly finishedIds = new Set<string>();
  private readonly history: Pick<HistoryStore, 'unfinished'>;
  private readonly backend: Pick<ResultBackend, 'mget'>;
  private readonly sink: (update: TaskUpdate) => void;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly now: () => number;
  private readonly log: MonitorLogger;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(options: ReconcilerOptions) {
    this.history = options.history;
    this.backend = options.backend;
    this.sink = options.sink;
    this.intervalMs = options.intervalMs ?? 1_000;
    this.batchSize = options.batchSize ?? 500;
    this.now = options.now ?? Date.now;
    this.log = options.logger ?? silentLogger;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) this.round().catch(() => undefined);
    }, this.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /**
   * `id` finished by an event: read its stored meta once, for what no event carries (the group id that lets the
   * canvas tree find a group's members, the exact arguments of an extended result). Bounded: when results finish
   * faster than a round reads them, the surplus is skipped (their events already told the state).
   */
  finished(id: string): void {
    if (this.finishedIds.size < MAX_FINISHED) this.finishedIds.add(id);
  }

  /** An event about `id` arrived: read its meta in the next round rather than after its rest. */
  touched(id: string): void {
    this.checked.delete(id);
  }

  /** One round; resolves to the number of updates made. Errors are logged and rethrown. */
  round(): Promise<number> {
    if (this.running) return this.running;
    const run = this.doRound().finally(() => (this.running = null));
    this.running = run;
    return run;
  }

  private async doRound(): Promise<number> {
    const now = this.now();
    let resting = 0;
    for (const [id, c] of this.checked) {
      // Not read for long: finished or forgotten by retention meanwhile; a later read starts it again.
      if (now - c.readAt > 2 * MAX_REST_MS) this.checked.delete(id);
      else if (c.restUntil > now) resting++;
    }
    const made = await this.readFinished(now);
    let ids: string[];
    let metas: (ResultMeta | null)[];
    try {
      const candidates = await this.history.unfinished({ olderThan: now - this.intervalMs, limit: Math.min(MAX_QUERY, this.batchSize + resting) });
      ids = candidates.filter((id) => (this.checked.get(id)?.restUntil ?? 0) <= now).slice(0, this.batchSize);
      if (ids.length === 0) return made;
      metas = await this.backend.mget(ids);
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'task history: reading results of unfinished tasks failed');
      throw err;
    }
    let more = made;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const meta = metas[i] ?? null;
      const fingerprint = meta ? metaFingerprint(meta) : null;
      const prev = this.checked.get(id);
      const changed = fingerprint !== null && fingerprint !== prev?.fingerprint;
      if (changed) {
        this.sink(updateFromMeta(id, meta!, now));
        more++;
      }
      if (meta && READY.has(meta.status)) {
        this.checked.delete(id);
        continue;
      }
      const running = meta !== null && !QUIET.has(meta.status);
      const restMs = running || changed ? 0 : Math.min(MAX_REST_MS, prev?.restMs ? prev.restMs * 2 : FIRST_REST_MS);
      this.checked.set(id, { restUntil: restMs ? now + restMs : 0, restMs, readAt: now, fingerprint });
    }
    return more;
  }

  /** One read of up to a batch of tasks that finished by an event; only metas that add something make an update. */
  private async readFinished(now: number): Promise<number> {
    if (!this.finishedIds.size) return 0;
    const ids = [...this.finishedIds].slice(0, this.batchSize);
    for (const id of ids) this.finishedIds.delete(id);
    let metas: (ResultMeta | null)[];
    try {
      metas = await this.backend.mget(ids);
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'task history: reading results of finished tasks failed');
      return 0;
    }
    let made = 0;
    for (let i = 0; i < ids.length; i++) {
      const meta = metas[i];
      if (!meta || !READY.has(meta.status) || !(meta.group_id || Array.isArray(meta.args))) continue;
      // The events already told the state, result and end (as repr text, kept); this read only fills the fields
      // they lack.
      const { fields = {} } = updateFromMeta(ids[i]!, meta, now);
      const kept = Object.fromEntries(Object.entries(fields).filter(([k]) => FILLED_FROM_FINISHED.has(k)));
      this.sink({ id: ids[i]!, timestamp: now, fields: kept });
      made++;
    }
    return made;
  }
}

/** Enough of a meta to tell whether it changed since the last read. */
function metaFingerprint(meta: ResultMeta): string {
  try {
    return JSON.stringify([meta.status, meta.result, meta.date_done, meta.traceback]);
  } catch {
    return `${meta.status}|${String(meta.date_done)}`;
  }
}

/** The history change a stored meta makes: its state and the fields it tells. */
export function updateFromMeta(id: string, meta: ResultMeta, now: number): TaskUpdate {
  const ready = READY.has(meta.status);
  const done = ready && meta.date_done ? (parsePyIsoDate(meta.date_done)?.getTime() ?? null) : null;
  const timestamp = done ?? now;
  const f: NonNullable<TaskUpdate['fields']> = {};
  const resultJson = jsonText(meta.result);
  const timelineFields: Record<string, unknown> = {};
  switch (meta.status) {
    case 'SUCCESS':
      if (resultJson !== null) f.result = resultJson;
      break;
    case 'FAILURE':
    case 'RETRY':
    case 'REVOKED': {
      const exception = exceptionRepr(meta.result);
      if (exception !== null) f.exception = exception;
      if (meta.traceback) f.traceback = meta.traceback;
      break;
    }
    case 'STARTED': {
      const hostname = (meta.result as { hostname?: unknown } | null)?.hostname;
      if (typeof hostname === 'string' && hostname) f.worker = hostname;
      break;
    }
    default:
      // PROGRESS and other custom states: the meta the task stored with update_state.
      if (resultJson !== null) {
        f.meta = resultJson;
        timelineFields.meta = meta.result;
      }
  }
  if (meta.group_id) f.groupId = meta.group_id;
  if (meta.parent_id) f.parentId = meta.parent_id;
  if (meta.name) f.name = meta.name;
  if (meta.worker) f.worker = meta.worker;
  if (meta.queue) f.queue = meta.queue;
  if (typeof meta.retries === 'number' && Number.isFinite(meta.retries)) f.retries = meta.retries;
  if (Array.isArray(meta.args)) {
    const json = jsonText(meta.args);
    if (json !== null) {
      f.argsJson = json;
      f.args = argsRepr(meta.args);
    }
  }
  if (meta.kwargs && typeof meta.kwargs === 'object' && !Array.isArray(meta.kwargs)) {
    const json = jsonText(meta.kwargs);
    if (json !== null) {
      f.kwargsJson = json;
      f.kwargs = kwargsRepr(meta.kwargs);
    }
  }
  if (meta.date_done) timelineFields.date_done = meta.date_done;
  const update: TaskUpdate = {
    id,
    timestamp,
    timeline: {
      type: `result-${meta.status}`,
      timestamp,
      hostname: meta.worker ?? null,
      fields: Object.keys(timelineFields).length ? (jsonText(timelineFields) ?? null) : null,
    },
  };
  if (meta.status !== 'PENDING') update.state = meta.status;
  if (Object.keys(f).length) update.fields = f;
  return update;
}

/** A stored exception (`{exc_type, exc_message, exc_module}`) as Python's repr writes it: `ValueError('nope')`. */
function exceptionRepr(result: unknown): string | null {
  if (result === null || typeof result !== 'object') return result == null ? null : String(result);
  const r = result as { exc_type?: unknown; exc_message?: unknown };
  if (typeof r.exc_type !== 'string' || !r.exc_type) return jsonText(result);
  const args = Array.isArray(r.exc_message) ? r.exc_message : r.exc_message == null ? [] : [r.exc_message];
  return `${r.exc_type}(${args.map((a) => pyRepr(a)).join(', ')})`;
}

function jsonText(v: unknown): string | null {
  if (v === undefined) return null;
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? null;
  } catch {
    return null;
  }
}
