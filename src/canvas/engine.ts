/**
 * Freezing and applying canvas, with Celery 5's semantics so messages match what a Python producer sends:
 *
 * - a chain sends its first task only; the rest ride along in the message's `chain` field, reversed, each with
 *   its task id assigned in advance, and every worker pops the next step when its task succeeds;
 * - a group sends each member with `group_id` = the group's id;
 * - a chord freezes its body, gives every header member `chord` = the body, `group_id` and `group_index`, records
 *   the header size in the result backend, then sends the header; the member that completes the join sends the
 *   body (worker/canvas-steps.ts).
 *
 * Everything works on Celery's dict form, so signatures a Python producer put in a message are applied the same
 * way as ones built here. Dicts are copied before they are changed; callers' signatures are never mutated except
 * by `freeze`, which is how ids assigned up front stay with the signature.
 */
import { randomUUID } from 'node:crypto';
import { AsyncResult, GroupResult, type RevokeTaskOptions } from '../result/results.js';
import type { SignatureDict } from '../protocol/types.js';
import type { AnyResult, CanvasApp, CanvasHost } from './host.js';
import { addErrback, chordDict, chordParts, chunksGroup, clone, descend, groupTasks, kindOf, mergeCall, normalize, unrollGroup } from './dicts.js';

interface FreezeArgs {
  id?: string;
  groupId?: string;
  chord?: SignatureDict;
  rootId?: string;
  parentId?: string;
  groupIndex?: number;
}

/** The canvas engine bound to one app. */
export class Canvas implements CanvasHost {
  constructor(private readonly app: CanvasApp) {}

  get oid(): string {
    return this.app.oid;
  }

  backend() {
    return this.app.backend();
  }

  revokeTasks(ids: readonly string[], options: RevokeTaskOptions): Promise<void> {
    return this.app.revokeTasks(ids, options);
  }

  /** Assigns ids (to `d` itself and its members) and returns the result handle it will have. */
  freeze(d: SignatureDict, f: FreezeArgs = {}): AnyResult {
    normalize(d);
    switch (kindOf(d)) {
      case 'chain':
        return this.freezeChain(d, f);
      case 'group':
        return this.freezeGroup(d, f);
      case 'chord':
        return this.freezeChord(d, f);
      case 'chunks':
        return this.freezeGroup(chunksGroup(d), f);
      default:
        return this.freezeTask(d, f);
    }
  }

  /** Sends `d` called with `args` in front of its own and `options` over its own. */
  async apply(d: SignatureDict, args: unknown[], kwargs: Record<string, unknown>, options: Record<string, unknown>): Promise<AnyResult> {
    normalize(d);
    switch (kindOf(d)) {
      case 'chain':
        return this.applyChain(d, args, kwargs, options);
      case 'group':
        return this.applyGroup(d, args, kwargs, options);
      case 'chord':
        return this.applyChord(d, args, kwargs, options);
      case 'chunks':
        return this.applyGroup(chunksGroup(d), args, kwargs, options);
      default:
        return this.applyTask(d, args, kwargs, options);
    }
  }

  // ---- tasks ----------------------------------------------------------------------------------------------------

  private freezeTask(d: SignatureDict, f: FreezeArgs): AsyncResult {
    const o = d.options;
    if (typeof o.task_id !== 'string') o.task_id = f.id ?? randomUUID();
    if (f.rootId) o.root_id = f.rootId;
    if (f.parentId) o.parent_id = f.parentId;
    if (o.reply_to === undefined) o.reply_to = this.app.oid;
    if (f.groupId && o.group_id === undefined) o.group_id = f.groupId;
    if (f.chord) o.chord = f.chord;
    if (f.groupIndex !== undefined) o.group_index = f.groupIndex;
    return new AsyncResult(o.task_id as string, this);
  }

  private async applyTask(d: SignatureDict, args: unknown[], kwargs: Record<string, unknown>, options: Record<string, unknown>): Promise<AsyncResult> {
    const m = mergeCall(clone(d), args, kwargs, options);
    const id = typeof m.options.task_id === 'string' ? m.options.task_id : randomUUID();
    m.options.task_id = id;
    await this.app.sendFromOptions(m.task, m.args, m.kwargs, m.options);
    return new AsyncResult(id, this);
  }

  // ---- chains ---------------------------------------------------------------------------------------------------

  private freezeChain(d: SignatureDict, f: FreezeArgs): AnyResult {
    const { results } = this.prepareSteps(d.args, d.kwargs, groupTasks(d), { ...f, clone: false });
    return results[0]!;
  }

  private async applyChain(d: SignatureDict, args: unknown[], kwargs: Record<string, unknown>, options: Record<string, unknown>): Promise<AnyResult> {
    const o: Record<string, unknown> = { ...d.options, ...options };
    const partial = args.length && !d.immutable ? [...args, ...d.args] : d.args;
    const { task_id, group_id, chord, group_index, root_id, parent_id, link, link_error, ...rest } = o;
    const { tasks, results } = this.prepareSteps(partial, kwargs, groupTasks(d), {
      id: task_id as string | undefined,
      groupId: group_id as string | undefined,
      chord: chord as SignatureDict | undefined,
      groupIndex: group_index as number | undefined,
      rootId: root_id as string | undefined,
      parentId: parent_id as string | undefined,
      linkError: (Array.isArray(link_error) ? link_error : link_error ? [link_error] : []) as SignatureDict[],
      clone: true,
    });
    if (!tasks.length) return new GroupResult(randomUUID(), [], this);
    if (link) appendAll(tasks[0]!, 'link', link);
    const first = tasks.pop()!;
    const existing = Array.isArray(rest.chain) ? (rest.chain as SignatureDict[]) : [];
    const chainRest = [...existing, ...tasks];
    if (root_id) rest.root_id = root_id;
    if (parent_id) rest.parent_id = parent_id;
    rest.chain = chainRest.length ? chainRest : null;
    const applied = await this.apply(first, [], {}, rest);
    return tasks.length ? results[0]! : applied;
  }

  /**
   * Celery's `prepare_steps`: walks the steps last to first, splicing nested chains, turning `group | task` into a
   * chord, freezing each step (the last with the chain's own id, group and chord), and linking results to their
   * parents. Returns the steps in reverse (the message's `chain` order) and their results, last step first.
   */
  private prepareSteps(
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    steps: SignatureDict[],
    p: FreezeArgs & { linkError?: SignatureDict[]; clone: boolean },
  ): { tasks: SignatureDict[]; results: AnyResult[] } {
    const queue = [...steps];
    const tasks: SignatureDict[] = [];
    const results: AnyResult[] = [];
    let prevTask: SignatureDict | undefined;
    let prevRes: AnyResult | undefined;
    let i = 0;
    while (queue.length) {
      let task = queue.pop()!;
      const isFirst = queue.length === 0;
      const isLast = i === 0;
      task = unrollGroup(task);
      if (p.clone) task = isFirst ? mergeCall(clone(task), args, kwargs, {}) : clone(task);
      else if (isFirst && !task.immutable) task.args = [...args, ...task.args];
      if (kindOf(task) === 'chain') {
        // Splice: its steps join ours (the first of them is then the chain's first and takes the partial args).
        queue.push(...groupTasks(task));
        continue;
      }
      if (kindOf(task) === 'group' && prevTask && prevRes) {
        // group | task is a chord whose body is the step after the group.
        tasks.pop();
        results.pop();
        task = chordDict(task, prevTask, { task_id: prevRes.id, ...(p.rootId ? { root_id: p.rootId } : {}) });
        prevRes = undefined;
      }
      const res = isLast
        ? this.freeze(task, { id: p.id, rootId: p.rootId, groupId: p.groupId, chord: p.chord, groupIndex: p.groupIndex })
        : this.freeze(task, { rootId: p.rootId });
      i++;
      if (prevRes && !prevRes.parent) prevRes.parent = res;
      for (const eb of p.linkError ?? []) addErrback(task, clone(eb));
      tasks.push(task);
      results.push(res);
      prevTask = task;
      prevRes = res;
      if (kindOf(task) === 'chord') {
        // The step before a chord is the parent of its header, not of its body.
        let node: AnyResult = res;
        while (node.parent) node = node.parent;
        prevRes = node;
      }
    }
    return { tasks, results };
  }

  // ---- groups ---------------------------------------------------------------------------------------------------

  /** Celery's `_freeze_group_tasks`: nested groups are flattened; members get the group and their index. */
  private freezeGroup(d: SignatureDict, f: FreezeArgs): GroupResult {
    const o = d.options;
    if (typeof o.task_id !== 'string') o.task_id = f.groupId ?? randomUUID();
    if (f.groupId) o.group_id = f.groupId;
    if (f.chord) o.chord = f.chord;
    if (f.groupIndex !== undefined) o.group_index = f.groupIndex;
    if (o.root_id === undefined && f.rootId) o.root_id = f.rootId;
    if (o.parent_id === undefined && f.parentId) o.parent_id = f.parentId;
    const members = flattenGroup(d);
    const results = members.map((m, index) =>
      this.freeze(m, {
        groupId: f.groupId,
        chord: f.chord,
        rootId: o.root_id as string | undefined,
        parentId: o.parent_id as string | undefined,
        // A group that is itself one part of an outer chord puts all its members in that part's place.
        groupIndex: f.groupIndex ?? index,
      }),
    );
    (d.kwargs as { tasks: SignatureDict[] }).tasks = members;
    return new GroupResult(o.task_id as string, results, this);
  }

  private async applyGroup(d: SignatureDict, args: unknown[], kwargs: Record<string, unknown>, options: Record<string, unknown>): Promise<GroupResult> {
    if (options.link) throw new TypeError('a group cannot have link callbacks: use a chord');
    const o: Record<string, unknown> = { ...d.options, ...options };
    const groupId = typeof o.task_id === 'string' ? o.task_id : randomUUID();
    delete o.task_id;
    delete o.link_error;
    o.group_id = groupId;
    const rootId = o.root_id as string | undefined;
    const prepared = flattenGroup(d).map((m) => {
      const member = clone(m);
      return { member, result: this.freeze(member, { groupId, rootId }) };
    });
    const result = new GroupResult(groupId, prepared.map((p) => p.result), this);
    if (!prepared.length) return result;
    // The chord size must be stored before the last member can finish: Celery writes it just before sending the
    // last one; writing it before the first is as safe and keeps the sends in one batch.
    const chordOf = (m: SignatureDict) => (o.chord ?? m.options.chord) as SignatureDict | undefined;
    // A group that is itself one part of an outer chord (the last step of a chain in a header: it has an index in
    // that header) adds its members to the outer join, whose size already counts them; setting the size here
    // would replace the outer size and fire the body early.
    const nested = o.group_index !== undefined && o.group_index !== null;
    if (!nested && prepared.some((p) => chordOf(p.member))) {
      const size = prepared.reduce((n, p) => n + descend(p.member), 0);
      await (await this.app.backend()).setChordSize(groupId, size);
    }
    await Promise.all(prepared.map((p) => this.apply(p.member, args, kwargs, { ...o, chord: chordOf(p.member) })));
    return result;
  }

  // ---- chords ---------------------------------------------------------------------------------------------------

  private freezeChord(d: SignatureDict, f: FreezeArgs): AnyResult {
    const { header, body } = chordParts(d);
    (d.kwargs as { header: SignatureDict }).header = header;
    const groupId = typeof header.options.task_id === 'string' ? header.options.task_id : randomUUID();
    const headerResult = this.freezeGroup(header, { parentId: f.parentId, rootId: f.rootId, chord: body, groupId });
    const bodyResult = this.freeze(body, { id: f.id, rootId: f.rootId, chord: f.chord, groupId: f.groupId, groupIndex: f.groupIndex });
    linkRoot(bodyResult, headerResult);
    d.options.task_id = headerResult.id;
    return bodyResult;
  }

  private async applyChord(d: SignatureDict, args: unknown[], kwargs: Record<string, unknown>, options: Record<string, unknown>): Promise<AnyResult> {
    const parts = chordParts(clone(d));
    const partial = args.length && !d.immutable ? [...args, ...d.args] : d.args;
    const merged: Record<string, unknown> = { ...d.options, ...options };
    const taskId = merged.task_id as string | undefined;
    delete merged.task_id;
    const body = mergeCall(parts.body, [], {}, merged);
    const header = parts.header;
    const groupId = typeof header.options.task_id === 'string' ? header.options.task_id : randomUUID();
    const rootId = body.options.root_id as string | undefined;
    const bodyResult = this.freeze(body, { id: taskId, rootId });
    const { chain: _chain, chord: _chord, ...headerOptions } = merged;
    const headerResult = this.freezeGroup(header, { groupId, chord: body, rootId });
    if (groupTasks(header).length) {
      await this.applyGroup(header, [...partial], kwargs, { ...headerOptions, task_id: groupId });
    } else {
      await this.apply(body, [[]], {}, {});
    }
    linkRoot(bodyResult, headerResult);
    return bodyResult;
  }
}

/** Members of a group with nested groups flattened into it (Celery unrolls them), as fresh copies. */
function flattenGroup(d: SignatureDict): SignatureDict[] {
  const out: SignatureDict[] = [];
  const stack = [...groupTasks(d)];
  while (stack.length) {
    const t = stack.shift()!;
    if (kindOf(t) === 'group') stack.unshift(...groupTasks(t));
    else out.push(clone(t));
  }
  return out;
}

function appendAll(d: SignatureDict, key: 'link' | 'link_error', values: unknown): void {
  const list = Array.isArray(d.options[key]) ? (d.options[key] as unknown[]) : [];
  for (const v of Array.isArray(values) ? values : [values]) list.push(v);
  d.options[key] = list;
}

/** Makes `parent` the parent of the first result without one, walking up from `node` (a chain's first step). */
function linkRoot(node: AnyResult, parent: AnyResult): void {
  const seen = new Set<string>();
  let n: AnyResult | undefined = node;
  while (n) {
    if (seen.has(n.id)) throw new Error('recursive result parents');
    seen.add(n.id);
    if (!n.parent) {
      n.parent = parent;
      return;
    }
    n = n.parent;
  }
}
