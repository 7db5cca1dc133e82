/**
 * Canvas as Celery's dict form: building the dicts of chains, groups and chords, telling them apart, and the
 * small rules every part of canvas shares. Plain functions over plain data, so both the signature classes and
 * the engine (and the worker, for dicts that arrived in a message) use them.
 */
import type { SignatureDict } from '../protocol/types.js';

/** A dict merged with a call's arguments, Celery's `_merge`: group_id, once set, is not replaced. */
export function mergeCall(
  d: SignatureDict,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  options: Record<string, unknown>,
): SignatureDict {
  normalize(d);
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined || v === null) continue;
    if (k === 'group_id' && d.options.group_id !== undefined) continue;
    d.options[k] = v;
  }
  if (!d.immutable) {
    if (args.length) d.args = [...args, ...d.args];
    if (Object.keys(kwargs).length) d.kwargs = { ...d.kwargs, ...kwargs };
  }
  return d;
}

/** A signature dict for a task call. */
export function taskDict(name: string, args: readonly unknown[], kwargs: Record<string, unknown>, immutable: boolean): SignatureDict {
  return { task: name, args: [...args], kwargs: { ...kwargs }, options: {}, subtask_type: null, immutable };
}

export type Kind = 'task' | 'chain' | 'group' | 'chord' | 'chunks';

export function kindOf(d: SignatureDict): Kind {
  switch (d.subtask_type ?? d.task) {
    case 'chain':
    case 'celery.chain':
      return 'chain';
    case 'group':
    case 'celery.group':
      return 'group';
    case 'chord':
    case 'celery.chord':
      return 'chord';
    case 'chunks':
    case 'celery.chunks':
      return 'chunks';
    default:
      return 'task';
  }
}

export const clone = (d: SignatureDict): SignatureDict => structuredClone(d);

/**
 * Fills what a signature from elsewhere may leave out (Celery's Signature defaults): a producer that writes
 * `{"task": "x"}` still gets the usual shape, and one that writes nonsense gets a TypeError naming the field.
 */
export function normalize(d: SignatureDict): SignatureDict {
  if (typeof d !== 'object' || d === null || typeof d.task !== 'string' || !d.task) {
    throw new TypeError(`a signature needs a task name, got ${JSON.stringify(d)?.slice(0, 200)}`);
  }
  if (d.args === undefined || d.args === null) d.args = [];
  else if (!Array.isArray(d.args)) throw new TypeError(`signature ${d.task}: args must be a list`);
  if (d.kwargs === undefined || d.kwargs === null) d.kwargs = {};
  else if (typeof d.kwargs !== 'object' || Array.isArray(d.kwargs)) throw new TypeError(`signature ${d.task}: kwargs must be an object`);
  if (d.options === undefined || d.options === null) d.options = {};
  else if (typeof d.options !== 'object' || Array.isArray(d.options)) throw new TypeError(`signature ${d.task}: options must be an object`);
  if (d.subtask_type === undefined) d.subtask_type = null;
  d.immutable = d.immutable === true;
  return d;
}

/** Members of a group dict (`kwargs.tasks`), or of a chord header given as a list or as a group. */
export function groupTasks(d: SignatureDict): SignatureDict[] {
  const tasks = (d.kwargs as { tasks?: unknown }).tasks;
  if (!Array.isArray(tasks)) throw new TypeError(`${d.task}: kwargs.tasks must be a list of signatures`);
  return tasks as SignatureDict[];
}

export function chordParts(d: SignatureDict): { header: SignatureDict; body: SignatureDict } {
  const kw = d.kwargs as { header?: unknown; body?: unknown };
  const header = Array.isArray(kw.header) ? groupDict(kw.header as SignatureDict[]) : (kw.header as SignatureDict | undefined);
  if (!header || typeof header !== 'object') throw new TypeError('chord: kwargs.header must be a group or a list of signatures');
  if (!kw.body || typeof kw.body !== 'object') throw new TypeError('chord: kwargs.body must be a signature');
  return { header, body: kw.body as SignatureDict };
}

export function groupDict(tasks: SignatureDict[], options: Record<string, unknown> = {}): SignatureDict {
  return { task: 'celery.group', args: [], kwargs: { tasks }, options, subtask_type: 'group', immutable: false };
}

export function chainDict(tasks: SignatureDict[], options: Record<string, unknown> = {}): SignatureDict {
  return { task: 'celery.chain', args: [], kwargs: { tasks }, options, subtask_type: 'chain', immutable: false };
}

export function chordDict(header: SignatureDict, body: SignatureDict, options: Record<string, unknown> = {}): SignatureDict {
  const tasks = kindOf(header) === 'group' ? header : groupDict([header]);
  return {
    task: 'celery.chord',
    args: [],
    kwargs: { kwargs: {}, header: tasks, body },
    options,
    subtask_type: 'chord',
    immutable: false,
  };
}

/** `chunks(task, items, n)` as the group of `celery.starmap` calls it stands for. */
export function chunksGroup(d: SignatureDict): SignatureDict {
  const kw = d.kwargs as { task?: SignatureDict; it?: unknown[]; n?: number };
  if (!kw.task || !Array.isArray(kw.it) || !Number.isInteger(kw.n) || kw.n! < 1) {
    throw new TypeError('chunks: kwargs must hold task, it (a list) and n (a positive integer)');
  }
  const parts: SignatureDict[] = [];
  for (let i = 0; i < kw.it.length; i += kw.n!) {
    parts.push({
      task: 'celery.starmap',
      args: [],
      kwargs: { task: kw.task, it: kw.it.slice(i, i + kw.n!) },
      options: {},
      subtask_type: null,
      immutable: true,
    });
  }
  return groupDict(parts, { ...d.options });
}

/** Celery's `maybe_unroll_group`: a group of one is just that member. */
export function unrollGroup(d: SignatureDict): SignatureDict {
  if (kindOf(d) !== 'group') return d;
  const tasks = groupTasks(d);
  // The member as it is: the group's own options (its id above all) are not the member's.
  return tasks.length === 1 ? clone(tasks[0]!) : d;
}

/**
 * Adds an errback where Celery's `link_error` puts it: on every member of a group (any of them may fail), on a
 * chord's body, and otherwise in the signature's `link_error` option (a chain hands it to each of its steps).
 */
export function addErrback(d: SignatureDict, errback: SignatureDict): void {
  switch (kindOf(d)) {
    case 'group':
      for (const t of groupTasks(d)) addErrback(t, clone(errback));
      return;
    case 'chord':
      addErrback(chordParts(d).body, errback);
      return;
    default: {
      normalize(d);
      const current = d.options.link_error;
      const list = Array.isArray(current) ? current : current ? [current] : [];
      list.push(errback);
      d.options.link_error = list;
    }
  }
}

/**
 * How many header parts a member contributes to its chord (Celery's `_descend`): a task 1, a group the sum of its
 * members, a chain its last non-empty step, a chord its body.
 */
export function descend(d: SignatureDict): number {
  switch (kindOf(d)) {
    case 'group':
      return groupTasks(d).reduce((n, t) => n + descend(t), 0);
    case 'chain': {
      const tasks = groupTasks(d);
      for (let i = tasks.length - 1; i >= 0; i--) {
        const n = descend(tasks[i]!);
        if (n > 0) return n;
      }
      return 0;
    }
    case 'chord':
      return descend(chordParts(d).body);
    case 'chunks':
      return descend(chunksGroup(d));
    default:
      return 1;
  }
}

