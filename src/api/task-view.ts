/**
 * One task as the API shows it: what the history recorded, merged with what the result store holds now (a task
 * whose result was stored but whose events were never seen, a PROGRESS meta newer than the last event). The state
 * is whichever of the two comes later by Celery's precedence, as a monitor merging events would decide.
 */
import type { TaskRecord, TimelineEntry } from '../history/port.js';
import { stateReplaces } from '../history/port.js';
import { excMessageText } from '../protocol/error-text.js';
import { argsRepr, kwargsRepr } from '../protocol/repr.js';
import type { ResultMeta } from '../protocol/types.js';
import { EXCEPTION_STATES } from '../protocol/types.js';
import { GroupResult, resultFromTuple } from '../result/results.js';
import type { ApiContext } from './context.js';
import { Problem } from './problem.js';

/** States a task ends in: only these may be retried. */
export const FINISHED_STATES: ReadonlySet<string> = new Set(['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED']);

/** The states Celery defines; any other state is a custom one whose meta is progress. */
const BUILTIN_STATES = new Set(['PENDING', 'RECEIVED', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED', 'RETRY', 'IGNORED']);

export interface TaskView extends Omit<TaskRecord, 'result'> {
  known: boolean;
  result: unknown;
  error: { type: string | null; message: string; traceback: string | null } | null;
  progress: unknown;
  timeline: { type: string; timestamp: number; hostname: string | null; fields: unknown }[];
}

/** The result store's meta of `id`, or null; a store that cannot be reached is a 503, not a 500. */
export async function resultMeta(ctx: ApiContext, id: string): Promise<ResultMeta | null> {
  try {
    return await (await ctx.app.backend()).get(id);
  } catch (err) {
    throw new Problem(503, `the result store cannot be read: ${(err as Error).message}`);
  }
}

export async function resultMetas(ctx: ApiContext, ids: readonly string[]): Promise<(ResultMeta | null)[]> {
  if (!ids.length) return [];
  try {
    return await (await ctx.app.backend()).mget(ids);
  } catch (err) {
    throw new Problem(503, `the result store cannot be read: ${(err as Error).message}`);
  }
}

/** The state the API reports: the history's, replaced by the result store's when that one comes later. */
export function mergedState(record: TaskRecord | null, meta: ResultMeta | null): string {
  const current = record?.state ?? null;
  if (meta && stateReplaces(current, meta.status)) return meta.status;
  return current ?? 'PENDING';
}

export async function taskView(ctx: ApiContext, id: string): Promise<TaskView> {
  const meta = await resultMeta(ctx, id);
  let [record, timeline] = await Promise.all([ctx.monitor.history.get(id), ctx.monitor.history.timeline(id)]);
  if (!record && !meta) {
    // A task this API sent a moment ago may still wait in the monitor's buffer: read what was sent, not PENDING unknown.
    await ctx.monitor.flush();
    [record, timeline] = await Promise.all([ctx.monitor.history.get(id), ctx.monitor.history.timeline(id)]);
  }
  const state = mergedState(record, meta);
  const fromMeta = meta !== null && meta.status === state;
  const base = record ?? emptyRecord(id, meta);
  return {
    ...base,
    state,
    known: record !== null || meta !== null,
    name: base.name ?? meta?.name ?? null,
    queue: base.queue ?? meta?.queue ?? null,
    worker: base.worker ?? meta?.worker ?? null,
    retries: base.retries ?? meta?.retries ?? null,
    parentId: base.parentId ?? meta?.parent_id ?? null,
    groupId: base.groupId ?? meta?.group_id ?? null,
    argsJson: base.argsJson ?? (Array.isArray(meta?.args) ? JSON.stringify(meta.args) : null),
    kwargsJson: base.kwargsJson ?? (isPlainObject(meta?.kwargs) ? JSON.stringify(meta.kwargs) : null),
    traceback: fromMeta && meta.traceback ? meta.traceback : base.traceback,
    result: state === 'SUCCESS' && fromMeta ? (meta.result ?? null) : (base.result ?? null),
    error: taskError(state, fromMeta ? meta : null, base),
    progress: BUILTIN_STATES.has(state) ? null : fromMeta ? (meta.result ?? null) : parseJson(base.meta),
    timeline: timeline.map(timelineView),
  };
}

function emptyRecord(id: string, meta: ResultMeta | null): TaskRecord {
  return {
    id,
    name: null,
    state: 'PENDING',
    queue: null,
    worker: null,
    args: Array.isArray(meta?.args) ? argsRepr(meta.args) : null,
    kwargs: isPlainObject(meta?.kwargs) ? kwargsRepr(meta.kwargs) : null,
    argsJson: null,
    kwargsJson: null,
    result: null,
    exception: null,
    traceback: null,
    meta: null,
    retries: null,
    runtime: null,
    parentId: null,
    rootId: null,
    groupId: null,
    eta: null,
    expires: null,
    createdAt: doneAt(meta) ?? 0,
    sentAt: null,
    receivedAt: null,
    startedAt: null,
    finishedAt: doneAt(meta),
    updatedAt: doneAt(meta) ?? 0,
  };
}

/** The meta's date_done (naive UTC ISO text) as epoch ms. */
function doneAt(meta: ResultMeta | null): number | null {
  if (!meta?.date_done) return null;
  const text = meta.date_done;
  const ms = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`);
  return Number.isNaN(ms) ? null : ms;
}

function taskError(state: string, meta: ResultMeta | null, record: TaskRecord): TaskView['error'] {
  if (!EXCEPTION_STATES.has(state)) return null;
  if (meta && meta.result && typeof meta.result === 'object' && !Array.isArray(meta.result)) {
    const r = meta.result as { exc_type?: unknown; exc_message?: unknown };
    return { type: typeof r.exc_type === 'string' ? r.exc_type : null, message: excMessageText(r.exc_message), traceback: meta.traceback ?? null };
  }
  if (record.exception) {
    // An event carries the exception as its repr, `ValueError('nope')`: the type is what precedes the parenthesis.
    const m = /^([A-Za-z_][\w.]*)\(([\s\S]*)\)$/.exec(record.exception);
    return { type: m ? m[1]! : null, message: m ? unquote(m[2]!) : record.exception, traceback: record.traceback };
  }
  if (meta && typeof meta.result === 'string') return { type: null, message: meta.result, traceback: meta.traceback ?? null };
  return record.traceback ? { type: null, message: '', traceback: record.traceback } : null;
}

/** `'nope'` -> `nope`: a single quoted string argument reads as str(exc) does. */
function unquote(text: string): string {
  const m = /^'([^'\\]*)'$|^"([^"\\]*)"$/.exec(text);
  return m ? (m[1] ?? m[2]!) : text;
}

function timelineView(entry: TimelineEntry): TaskView['timeline'][number] {
  return { type: entry.type, timestamp: entry.timestamp, hostname: entry.hostname, fields: parseJson(entry.fields) };
}

export function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

export interface TreeNode {
  id: string;
  name: string | null;
  state: string;
  parentId: string | null;
  depth: number;
}

/** At most this many nodes in one tree answer. */
const TREE_NODES = 500;

/**
 * The canvas around a task: its parent, its descendants (tasks sent with it as their parent: a chain's next step,
 * callbacks, a chord's body) breadth first down to `depth`, and the members of its group.
 */
export async function taskTree(ctx: ApiContext, id: string, depth: number) {
  const history = ctx.monitor.history;
  const record = await history.get(id);
  const meta = await resultMeta(ctx, id);
  const node = (r: TaskRecord | null, taskId: string, m: ResultMeta | null, d: number): TreeNode => ({
    id: taskId,
    name: r?.name ?? m?.name ?? null,
    state: mergedState(r, m),
    parentId: r?.parentId ?? m?.parent_id ?? null,
    depth: d,
  });
  const self = node(record, id, meta, 0);
  const parentId = self.parentId;
  const parent = parentId ? await nodeOf(ctx, parentId, -1, node) : null;
  const children: TreeNode[] = [];
  let level = [id];
  let truncated = false;
  for (let d = 1; d <= depth && level.length && !truncated; d++) {
    const next: string[] = [];
    for (const pid of level) {
      const page = await history.list({ parentId: pid, limit: 1000 });
      const metas = await resultMetas(ctx, page.tasks.map((t) => t.id));
      page.tasks.forEach((t, i) => children.length < TREE_NODES && children.push(node(t, t.id, metas[i] ?? null, d)));
      next.push(...page.tasks.map((t) => t.id));
      if (children.length >= TREE_NODES || page.next) truncated = true;
    }
    level = next;
  }
  const groupId = record?.groupId ?? meta?.group_id ?? null;
  let group: { id: string; members: TreeNode[] } | null = null;
  if (groupId) {
    const page = await history.list({ groupId, limit: TREE_NODES });
    const ids = new Set(page.tasks.map((t) => t.id));
    // Task events carry no group id; a saved group (GroupResult.save) names its members in the result store.
    for (const memberId of await savedGroupMembers(ctx, groupId)) if (ids.size < TREE_NODES) ids.add(memberId);
    const known = new Map(page.tasks.map((t) => [t.id, t]));
    const missing = [...ids].filter((m) => !known.has(m));
    for (const r of await Promise.all(missing.map((m) => history.get(m)))) if (r) known.set(r.id, r);
    const all = [...ids];
    const metas = await resultMetas(ctx, all);
    group = { id: groupId, members: all.map((m, i) => node(known.get(m) ?? null, m, metas[i] ?? null, 0)) };
    if (page.next) truncated = true;
  }
  return { id, rootId: record?.rootId ?? null, task: self, parent, children, group, truncated };
}

/** The member ids of a group saved in the result store; none when it was not saved or cannot be read. */
async function savedGroupMembers(ctx: ApiContext, groupId: string): Promise<string[]> {
  try {
    const saved = await (await ctx.app.backend()).getGroup(groupId);
    if (!saved) return [];
    const group = resultFromTuple(saved.result, ctx.app);
    return group instanceof GroupResult ? group.results.map((r) => r.id) : [];
  } catch {
    return [];
  }
}

async function nodeOf(
  ctx: ApiContext,
  id: string,
  depth: number,
  node: (r: TaskRecord | null, id: string, m: ResultMeta | null, d: number) => TreeNode,
): Promise<TreeNode> {
  const [r, m] = await Promise.all([ctx.monitor.history.get(id), resultMeta(ctx, id)]);
  return node(r, id, m, depth);
}
