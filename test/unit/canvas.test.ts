/**
 * Signatures as data and the messages canvas publishes, read back from the in-memory broker (no worker runs).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Celerity, Chain, Chord, Group, chain, chord, fromDict, group, type SignatureDict } from '../../src/index.js';
import { decodeTaskMessage } from '../../src/protocol/message.js';
import type { TaskRequest } from '../../src/protocol/types.js';

let app: Celerity;
beforeEach(() => {
  app = new Celerity('unit', { broker: 'memory://', backend: 'memory://', loglevel: 'silent' }, {});
});
afterEach(() => app.close());

const tasks = () => ({
  add: app.task('u.add', (x: number, y: number) => x + y),
  tsum: app.task('u.tsum', (xs: number[]) => xs.length),
});

/** Everything published to `queue`, decoded. */
async function published(queue = 'celery'): Promise<TaskRequest[]> {
  const broker = await app.broker();
  const deliveries = await broker.reserve([queue], { max: 1000, waitMs: 0 });
  return deliveries.map((d) => decodeTaskMessage(d.message!, app.serializers));
}

describe('signatures', () => {
  it("are Celery's dict form, keys in Celery's order, options under Celery's names", () => {
    const { add } = tasks();
    const sig = add.s(1).set({ countdown: 10, queue: 'math', priority: 9, taskId: 'id-1', softTimeLimit: 5, ignoreResult: true });
    const d = sig.toJSON();
    expect(Object.keys(d)).toEqual(['task', 'args', 'kwargs', 'options', 'subtask_type', 'immutable']);
    expect(d).toEqual({
      task: 'u.add',
      args: [1],
      kwargs: {},
      options: { countdown: 10, queue: 'math', priority: 9, task_id: 'id-1', soft_time_limit: 5, ignore_result: true },
      subtask_type: null,
      immutable: false,
    });
    expect(JSON.parse(JSON.stringify(sig))).toEqual(d);
    expect(sig.id).toBe('id-1');
  });

  it('si is immutable; clone and partial put arguments in front unless immutable', () => {
    const { add } = tasks();
    expect(add.si(1, 2).immutable).toBe(true);
    expect(add.s(2).partial(1).args).toEqual([1, 2]);
    expect(add.s(2).clone([1], {}, { queue: 'q' }).toJSON()).toMatchObject({ args: [1, 2], options: { queue: 'q' } });
    expect(add.si(1, 2).partial(9).args).toEqual([1, 2]);
    const original = add.s(2);
    original.partial(1);
    expect(original.args).toEqual([2]);
  });

  it('link and linkError store the callbacks as dicts; onError returns the signature itself', () => {
    const { add } = tasks();
    const sig = add.s(1, 1);
    const cb = add.s(10);
    expect(sig.link(cb)).toBe(cb);
    expect(sig.onError(add.si(0, 0))).toBe(sig);
    expect(sig.options.link).toEqual([cb.toJSON()]);
    expect((sig.options.link_error as SignatureDict[])[0]).toMatchObject({ task: 'u.add', immutable: true });
    expect(() => group(add.s(1, 1)).link(cb)).toThrow(/use a chord/);
  });

  it('chain, group and chord are signatures of celery.chain / celery.group / celery.chord, and round-trip', () => {
    const { add, tsum } = tasks();
    const c = chain(add.s(1, 1), add.s(2));
    expect(c.toJSON()).toMatchObject({ task: 'celery.chain', subtask_type: 'chain', kwargs: { tasks: [{ task: 'u.add' }, { task: 'u.add' }] } });
    expect(fromDict(structuredClone(c.toJSON()))).toBeInstanceOf(Chain);
    expect(fromDict(structuredClone(group(add.s(1, 1)).toJSON()))).toBeInstanceOf(Group);
    const ch = chord([add.s(1, 1)], tsum.s());
    expect(fromDict(structuredClone(ch.toJSON()))).toBeInstanceOf(Chord);
    expect(ch.header.length).toBe(1);
    expect(ch.body.name).toBe('u.tsum');
    // a | b | c flattens into one chain; group | task is a chord
    expect((add.s(1, 1).pipe(add.s(1)).pipe(add.s(2)) as Chain).tasks).toHaveLength(3);
    expect(group(add.s(1, 1), add.s(2, 2)).pipe(tsum.s())).toBeInstanceOf(Chord);
  });

  it('refuses unknown options and malformed dicts with a clear error', () => {
    const { add } = tasks();
    expect(() => add.s(1, 1).set({ countdwn: 1 } as never)).toThrow(/unknown signature option "countdwn"/);
    expect(() => fromDict({ task: '' } as SignatureDict)).toThrow(/needs a task name/);
    expect(() => fromDict({ task: 'x', args: 'nope' } as unknown as SignatureDict)).toThrow(/args must be a list/);
  });
});

describe('messages canvas publishes', () => {
  it('a signature carries its options into the message: queue, priority, expiry, time limits', async () => {
    const { add } = tasks();
    const before = Date.now();
    await add.s(1, 2).set({ queue: 'math', priority: 7, expires: 30, timeLimit: 60, softTimeLimit: 50 }).applyAsync();
    const [m] = await published('math');
    expect(m).toMatchObject({ task: 'u.add', args: [1, 2], priority: 7, timelimit: [60, 50] });
    expect(m!.expires!.getTime()).toBeGreaterThanOrEqual(before + 29_000);
  });

  it('a chain sends its first task with the rest reversed, ids assigned, root and parent unset', async () => {
    const { add } = tasks();
    const r = await chain(add.s(1, 1), add.s(2), add.s(3)).applyAsync();
    const [m] = await published();
    const second = r.parent!;
    const first = second.parent!;
    expect(m).toMatchObject({ id: first.id, rootId: first.id, parentId: null, args: [1, 1] });
    expect(m!.embed.chain!.map((s) => [s.args, s.options.task_id])).toEqual([
      [[3], r.id],
      [[2], second.id],
    ]);
  });

  it('chord members carry the group, their index and the body with its id; the size is stored first', async () => {
    const { add, tsum } = tasks();
    const r = await chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], tsum.s()).applyAsync();
    const ms = await published();
    const gid = r.parent!.id;
    expect(ms.map((m) => [m.group, m.groupIndex])).toEqual([
      [gid, 0],
      [gid, 1],
      [gid, 2],
    ]);
    expect(ms.every((m) => m.embed.chord?.options.task_id === r.id && m.embed.chord.task === 'u.tsum')).toBe(true);
    const backend = await app.backend();
    // The size is in place: three parts complete the join.
    const part = (i: number) => ({ taskId: ms[i]!.id, groupIndex: i, status: 'SUCCESS', result: i });
    expect(await backend.chordPartReturn(gid, part(0))).toBeNull();
    expect(await backend.chordPartReturn(gid, part(1))).toBeNull();
    expect(await backend.chordPartReturn(gid, part(2))).toHaveLength(3);
  });
});
