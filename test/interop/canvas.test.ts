/**
 * Canvas between Celerity and real Python Celery 5.2 on one Redis (broker and result backend on database 2, which no
 * other test or benchmark uses; the benchmarks flush 11 to 13): chains, chords and groups built on one side run on
 * the other side's worker or on both, with values, parents and saved groups read back across; failures reach the
 * other side as ChordError and errbacks. A Python worker consumes the py.* queue and a Celerity worker the ts.*
 * queue; each side routes the other's tasks to the other's queue, so every canvas step, chord body and errback
 * crosses as it would between two fleets. Last, the messages a chain, a group and a chord publish are compared with
 * the ones Celery publishes for the same canvas, read off a queue no worker consumes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChordError, GroupResult, chain, chord, group, type AsyncResult, type SignatureDict, type Worker } from '../../src/index.js';
import { PYTHON, pythonCeleryOnRedis, requireService } from '../services.js';
import { createCanvasApp } from './canvas-app.js';
import { startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
const DB = 2;
const REDIS_URL = `redis://127.0.0.1:6379/${DB}`;

const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(REDIS_URL));

const run = randomUUID().slice(0, 8);
const queues = { ts: `canvas-ts-${run}`, py: `canvas-py-${run}`, capture: `canvas-capture-${run}` };
const prefix = `canvas-${run}`;
const T = { timeout: 30_000 };
const procs: ChildProcess[] = [];

function pyEnv(): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return {
    ...base,
    CANVAS_BROKER: REDIS_URL,
    CANVAS_BACKEND: REDIS_URL,
    CANVAS_PY_QUEUE: queues.py,
    CANVAS_TS_QUEUE: queues.ts,
    CANVAS_CAPTURE_QUEUE: queues.capture,
    CANVAS_PREFIX: prefix,
    PYTHONPATH: pyDir,
    // No __pycache__ left in the source tree.
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

/** A result as test/interop/py/canvas_client.py reports it: read with Celery's own AsyncResult / GroupResult. */
interface PyResult {
  id: string;
  state: string;
  result?: unknown;
  error?: { type: string; module: string; message: string; is_chord_error: boolean };
  parent: PyResult | PyGroup | null;
}
interface PyGroup {
  group: string;
  members: PyResult[];
}

/** Runs the Python producer (canvas_client.py VERB [ARG]) and resolves with the JSON it prints. */
function pyClient<R = PyResult>(verb: string, arg?: string): Promise<R> {
  return new Promise((resolve, reject) => {
    const argv = [path.join(pyDir, 'canvas_client.py'), verb, ...(arg === undefined ? [] : [arg])];
    const proc = spawn(PYTHON, argv, { env: pyEnv(), cwd: pyDir, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(proc);
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    proc.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as R) : reject(new Error(`canvas_client.py ${verb} failed (${code}): ${err}`)),
    );
  });
}

function pythonWorker(): Promise<ChildProcess> {
  const args = ['-m', 'celery', '-A', 'canvas_proj', 'worker', '-Q', queues.py, '-c', '4', '-n', `py-${run}@canvas`];
  args.push('-l', 'info', '--without-heartbeat', '--without-mingle', '--without-gossip');
  return startUntilReady(procs, PYTHON, args, { env: pyEnv(), cwd: pyDir, readyLine: /ready\./ });
}

/** A task message as published, with the body decoded from base64: `[args, kwargs, embed]`. */
interface Embed {
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  chain: SignatureDict[] | null;
  chord: SignatureDict | null;
}
interface Published {
  body: [unknown[], Record<string, unknown>, Embed];
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
}
const KINDS = ['chain', 'group', 'chord'] as const;
type Kind = (typeof KINDS)[number];
/** Ids a producer handed out: chain [last, middle, first], group [group, members...], chord [body, group, members...]. */
type ShapeIds = Record<Kind, string[]>;
const SIGNATURE_KEYS = ['task', 'args', 'kwargs', 'options', 'subtask_type', 'immutable'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The messages as text that differs only where two producers of the same canvas must differ: every id becomes
 * `<idN>` in order of first appearance (so which field holds which id, and where two fields hold the same one, still
 * shows), reply_to, origin and delivery_tag a placeholder, `lang` too (checked on its own). Object keys keep their
 * order, except a signature's options: Celery's are in the order its freeze and merge steps happened to set them.
 */
function canonical(messages: Published[]): string {
  const ids = new Map<string, string>();
  const placeholder: Record<string, string> = { reply_to: '<reply_to>', origin: '<origin>', delivery_tag: '<delivery_tag>', lang: '<lang>' };
  const walk = (v: unknown, key?: string): unknown => {
    if (key !== undefined && key in placeholder) return placeholder[key];
    if (typeof v === 'string' && UUID.test(v)) {
      if (!ids.has(v)) ids.set(v, `<id${ids.size}>`);
      return ids.get(v);
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v === null || typeof v !== 'object') return v;
    const entries = Object.entries(v);
    if (key === 'options') entries.sort(([a], [b]) => (a < b ? -1 : 1));
    return Object.fromEntries(entries.map(([k, x]) => [k, walk(x, k)]));
  };
  return JSON.stringify(walk(messages), null, 2);
}

describe.skipIf(!ready.ok)(`canvas across Celerity and Python Celery 5.2 on Redis${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  let redis: Redis;
  let blocking: Redis;
  let ts: ReturnType<typeof createCanvasApp>;
  let worker: Worker;

  /** A signature by task name, as Celery's `app.signature(name, args)`: how this side calls a Python task. */
  const sig = (name: string, ...args: unknown[]) => ts.app.signature(name, args);

  /**
   * Resolves once neither worker holds or awaits anything: both queues empty and nothing delivered but unacknowledged
   * (both workers acknowledge after a task's canvas follow-ups are sent), so a body sent twice would have run by then.
   */
  async function settled(): Promise<void> {
    const keys = [queues.ts, queues.py].flatMap((q) => [q, `${q}\x06\x163`, `${q}\x06\x166`, `${q}\x06\x169`]);
    const busy = async () => {
      const replies = (await keys.reduce((m, k) => m.llen(k), redis.multi()).hlen('unacked').exec())!;
      return replies.reduce((n, [, v]) => n + (v as number), 0);
    };
    await expect.poll(busy, { timeout: 20_000, interval: 50 }).toBe(0);
  }

  /** The chord's join keys (Celery 5.2's native Redis layout, and our `.f`) that still exist. */
  async function joinKeys(groupId: string): Promise<string[]> {
    const keys = ['.j', '.s', '.t', '.f'].map((s) => `celery-taskset-meta-${groupId}${s}`);
    const exists = await Promise.all(keys.map((k) => redis.exists(k)));
    return keys.filter((_, i) => exists[i]);
  }

  /** The next call an errback recorded (ts.errback / py.errback): the failed task's id and the errback's group. */
  async function nextErrback(side: 'py' | 'ts'): Promise<{ failed: string; group: string | null }> {
    const popped = await blocking.blpop(`${prefix}:errback:${side}`, 30);
    if (!popped) throw new Error(`no ${side}.errback call recorded in 30 s`);
    return JSON.parse(popped[1]) as { failed: string; group: string | null };
  }

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    blocking = new Redis(REDIS_URL);
    await redis.flushdb();
    ts = createCanvasApp({ url: REDIS_URL, queues, ledger: redis, prefix });
    worker = ts.app.worker({ queues: [queues.ts], concurrency: 8, hostname: `ts-${run}@canvas`, node: false });
    await Promise.all([worker.start(), pythonWorker()]);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await worker?.stop({ timeout: 0 });
    await ts?.app.close();
    await redis?.flushdb();
    redis?.disconnect();
    blocking?.disconnect();
  }, 30_000);

  it('a chain built in Python runs on the Celerity worker; Python reads the value and its parent', async () => {
    const out = await pyClient('chain_ts');
    expect(out).toMatchObject({ state: 'SUCCESS', result: 9, parent: { state: 'SUCCESS', result: 3, parent: null } });
    const first = ts.app.asyncResult((out.parent as PyResult).id);
    // Stored here by the Celerity worker with Celery's links: the step knows its parent, the parent its child.
    expect((await ts.app.asyncResult(out.id).meta())?.parent_id).toBe(first.id);
    expect((await first.children()).map((c) => c.id)).toEqual([out.id]);
  });

  it('a chain of Python tasks built here runs on the Python worker; get() and parent.get() are right', async () => {
    const r = await chain(sig('py.add', 1, 2), sig('py.mul', 3)).applyAsync();
    expect(await r.get(T)).toBe(9);
    const parent = r.parent as AsyncResult;
    expect(await parent.get(T)).toBe(3);
    expect((await r.meta())?.parent_id).toBe(parent.id);
    expect((await parent.children()).map((c) => c.id)).toEqual([r.id]);
  });

  it('mixed chains Python -> TypeScript -> Python complete, built in Python and built here', async () => {
    const out = await pyClient('chain_mixed');
    expect(out).toMatchObject({ state: 'SUCCESS', result: 22, parent: { result: 12, parent: { result: 3, parent: null } } });
    const r = await chain(sig('py.add', 1, 2), ts.tasks.mul.s(4), sig('py.add', 10)).applyAsync();
    expect(await r.get(T)).toBe(22);
    const middle = r.parent as AsyncResult;
    expect(await middle.get(T)).toBe(12);
    expect(await (middle.parent as AsyncResult).get(T)).toBe(3);
    expect((await r.meta())?.parent_id).toBe(middle.id);
  });

  it('a chord built in Python of TypeScript tasks completes on the Celerity worker', async () => {
    const out = await pyClient('chord_ts');
    expect(out).toMatchObject({ state: 'SUCCESS', result: 20 });
    const header = out.parent as PyGroup;
    expect(header.members.map((m) => m.result)).toEqual([0, 2, 4, 6, 8]);
    await settled();
    expect(await joinKeys(header.group)).toEqual([]);
  });

  it('a chord built here of Python tasks completes on the Python worker', async () => {
    const r = await chord([0, 1, 2, 3, 4].map((i) => sig('py.add', i, i)), sig('py.tsum')).applyAsync();
    expect(await r.get(T)).toBe(20);
    const header = r.parent as GroupResult;
    expect(await header.get(T)).toEqual([0, 2, 4, 6, 8]);
    await settled();
    expect(await joinKeys(header.id)).toEqual([]);
  });

  it('a chord built in Python with a mixed header joins parts of both workers and runs its body once', async () => {
    const out = await pyClient('chord_mixed', 'py-built');
    expect(out).toMatchObject({ state: 'SUCCESS', result: 20 });
    expect((out.parent as PyGroup).members.map((m) => m.result)).toEqual([2, 4, 6, 8]);
    await settled();
    expect(await redis.get(`${prefix}:body:py-built`)).toBe('1');
    expect(await joinKeys((out.parent as PyGroup).group)).toEqual([]);
  });

  // The last member decides who completes the join: a gated member finishes only after the other three parts are in
  // the join, so each side is shown completing a join that holds the other side's parts. The body is sent by the
  // completing member, so its stored parent is that member.
  it.each([
    { last: 'Python', body: 'py.count', gate: 'py.gate' },
    { last: 'Celerity', body: 'ts.count', gate: 'ts.gate' },
  ])('a chord built here with a mixed header: the $last worker completes the join and the body runs once', async ({ body, gate }) => {
    const tag = `ts-built-${body}`;
    const gateKey = `${prefix}:gate:${tag}`;
    const header = [sig('py.add', 1, 1), ts.tasks.add.s(2, 2), sig('py.add', 3, 3), sig(gate, 8, gateKey)];
    const r = await chord(header, sig(body, tag)).applyAsync();
    const members = r.parent as GroupResult;
    await expect.poll(() => redis.zcard(`celery-taskset-meta-${members.id}.j`), { timeout: 20_000, interval: 20 }).toBe(3);
    await redis.rpush(gateKey, 'open');
    expect(await r.get(T)).toBe(20);
    expect(await members.get(T)).toEqual([2, 4, 6, 8]);
    expect((await r.meta())?.parent_id).toBe(members.results[3]!.id);
    await settled();
    expect(await redis.get(`${prefix}:body:${tag}`)).toBe('1');
    expect(await joinKeys(members.id)).toEqual([]);
  });

  it('a group built in Python runs on the Celerity worker; the group Python saved is restored here', async () => {
    const out = await pyClient<PyGroup>('group_ts');
    expect(out.members.map((m) => [m.state, m.result])).toEqual([['SUCCESS', 2], ['SUCCESS', 4], ['SUCCESS', 6]]);
    const back = await GroupResult.restore(ts.app, out.group);
    expect(back?.id).toBe(out.group);
    expect(back?.results.map((m) => m.id)).toEqual(out.members.map((m) => m.id));
    expect(await back!.get(T)).toEqual([2, 4, 6]);
  });

  it('a group built here runs on the Python worker; the group saved here is restored in Python', async () => {
    const g = await group(sig('py.add', 1, 1), sig('py.add', 2, 2), sig('py.add', 3, 3)).applyAsync();
    expect(await g.get(T)).toEqual([2, 4, 6]);
    await g.save();
    const back = await pyClient<PyGroup>('restore', g.id);
    expect(back.group).toBe(g.id);
    expect(back.members.map((m) => [m.id, m.state, m.result])).toEqual(g.results.map((m, i) => [m.id, 'SUCCESS', 2 * (i + 1)]));
  });

  it('a chord built here whose Python member fails rejects with ChordError on the body', async () => {
    const r = await chord([sig('py.add', 1, 1), sig('py.fail', 'py member'), sig('py.add', 2, 2)], ts.tasks.tsum.s()).applyAsync();
    const failed = (r.parent as GroupResult).results[1]!;
    const err = await r.get(T).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChordError);
    expect((err as Error).message).toBe(`Dependency ${failed.id} raised KeyError('py member')`);
    expect(await r.state).toBe('FAILURE');
    await expect(failed.get(T)).rejects.toMatchObject({ name: 'KeyError', message: 'py member' });
  });

  it('a chord built in Python whose TypeScript member fails raises celery.exceptions.ChordError in Python', async () => {
    const out = await pyClient('chord_fail_ts');
    const failed = (out.parent as PyGroup).members[1]!;
    expect(failed).toMatchObject({ state: 'FAILURE', error: { type: 'TypeError', message: 'ts member' } });
    expect(out.state).toBe('FAILURE');
    expect(out.error).toEqual({
      type: 'ChordError',
      module: 'celery.exceptions',
      message: `Dependency ${failed.id} raised TypeError('ts member')`,
      is_chord_error: true,
    });
  });

  it('an errback set in Python on a failing TypeScript task runs in Python with the failed task id', async () => {
    const out = await pyClient('errback_ts');
    expect(out).toMatchObject({ state: 'FAILURE', error: { type: 'TypeError', message: 'no luck' } });
    expect((await nextErrback('py')).failed).toBe(out.id);
  });

  it('an errback set here on a failing Python task runs on the Celerity worker with the failed task id', async () => {
    const r = await sig('py.fail', 'nope').onError(ts.tasks.errback.s()).applyAsync();
    await expect(r.get(T)).rejects.toMatchObject({ name: 'KeyError', message: 'nope' });
    expect((await nextErrback('ts')).failed).toBe(r.id);
  });

  // Celery's worker applies a failed task's errbacks as one group, `group(errbacks).apply_async((task_id,), ...)`
  // (backends/base.py, _call_task_errbacks), so each errback runs with a group id (request.group, its meta's group_id).
  it.each([
    { sender: 'Python', failing: () => sig('py.fail', 'x'), errback: () => ts.tasks.errback.s(), side: 'ts' as const },
    { sender: 'Celerity', failing: () => ts.tasks.fail.s('x'), errback: () => sig('py.errback'), side: 'py' as const },
  ])('the $sender worker sends errbacks as Celery does: as a group, with the failed task id', async ({ failing, errback, side }) => {
    const r = await failing().onError(errback()).applyAsync();
    await expect(r.get(T)).rejects.toThrow('x');
    const call = await nextErrback(side);
    expect(call).toEqual({ failed: r.id, group: expect.stringMatching(UUID) });
  });

  describe('a chain, a group and a chord publish the messages Celery publishes', () => {
    const sides: Record<'python' | 'celerity', { ids: ShapeIds; messages: Record<Kind, Published[]> }> = {} as never;

    /** What was published to a capture queue, in argument order (kombu LPUSHes: the list is newest first). */
    async function take(kind: Kind): Promise<Published[]> {
      const key = `${queues.capture}.${kind}`;
      const [[, raw]] = (await redis.multi().lrange(key, 0, -1).del(key).exec()) as [[Error | null, string[]], unknown];
      const decoded = raw.map((text) => {
        const envelope = JSON.parse(text) as Omit<Published, 'body'> & { body: string };
        return { ...envelope, body: JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8')) } as Published;
      });
      return decoded.sort((a, b) => (JSON.stringify(a.body[0]) < JSON.stringify(b.body[0]) ? -1 : 1));
    }

    async function takeAll(): Promise<Record<Kind, Published[]>> {
      return { chain: await take('chain'), group: await take('group'), chord: await take('chord') };
    }

    beforeAll(async () => {
      const ids = await pyClient<ShapeIds>('shape');
      sides.python = { ids, messages: await takeAll() };
      const c = await chain(sig('cap.chain.add', 1, 2), sig('cap.chain.mul', 3), sig('cap.chain.add', 4)).applyAsync();
      const g = await group([1, 2, 3].map((i) => sig('cap.group.add', i, i))).applyAsync();
      const d = await chord([1, 2, 3].map((i) => sig('cap.chord.add', i, i)), sig('cap.chord.tsum')).applyAsync();
      const middle = c.parent as AsyncResult;
      const header = d.parent as GroupResult;
      sides.celerity = {
        ids: {
          chain: [c.id, middle.id, middle.parent!.id],
          group: [g.id, ...g.results.map((r) => r.id)],
          chord: [d.id, header.id, ...header.results.map((r) => r.id)],
        },
        messages: await takeAll(),
      };
    });

    it.each(KINDS)('%s: headers, properties and body are the same apart from ids, reply_to, origin and lang', (kind) => {
      const [py, mine] = [sides.python.messages[kind], sides.celerity.messages[kind]];
      expect(mine.map((m) => Object.keys(m.headers))).toEqual(py.map((m) => Object.keys(m.headers)));
      expect(canonical(mine)).toBe(canonical(py));
    });

    it("lang says which language produced the message (Celery's worker does not read it)", () => {
      expect(KINDS.flatMap((k) => sides.python.messages[k].map((m) => m.headers.lang))).toEqual(Array(7).fill('py'));
      expect(KINDS.flatMap((k) => sides.celerity.messages[k].map((m) => m.headers.lang))).toEqual(Array(7).fill('js'));
    });

    it.each(['python', 'celerity'] as const)('chain from %s: first step sent, the rest reversed in embed.chain with ids assigned', (side) => {
      const [last, middle, first] = sides[side].ids.chain;
      const msgs = sides[side].messages.chain;
      expect(msgs).toHaveLength(1);
      const [args, kwargs, embed] = msgs[0]!.body;
      expect(msgs[0]!.headers).toMatchObject({ task: 'cap.chain.add', id: first, root_id: first, parent_id: null, group: null, group_index: null });
      expect([args, kwargs, Object.keys(embed)]).toEqual([[1, 2], {}, ['callbacks', 'errbacks', 'chain', 'chord']]);
      expect(embed.chain!.map((s) => [s.task, s.args, s.options.task_id])).toEqual([
        ['cap.chain.add', [4], last],
        ['cap.chain.mul', [3], middle],
      ]);
      for (const s of embed.chain!) expect(Object.keys(s)).toEqual(SIGNATURE_KEYS);
    });

    it.each(['python', 'celerity'] as const)('group from %s: every member sent with the group id', (side) => {
      const [gid, ...members] = sides[side].ids.group;
      const msgs = sides[side].messages.group;
      expect(msgs.map((m) => [m.headers.id, m.headers.root_id, m.headers.parent_id, m.headers.group, m.headers.group_index])).toEqual(
        // Celery 5.2 numbers members (group_index) only in a chord header.
        members.map((id) => [id, id, null, gid, null]),
      );
      expect(msgs.map((m) => m.body)).toEqual([1, 2, 3].map((i) => [[i, i], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]));
    });

    it.each(['python', 'celerity'] as const)('chord from %s: members numbered in the group, each carrying the body with its id', (side) => {
      const [body, gid, ...members] = sides[side].ids.chord;
      const msgs = sides[side].messages.chord;
      expect(msgs.map((m) => [m.headers.id, m.headers.root_id, m.headers.parent_id, m.headers.group, m.headers.group_index])).toEqual(
        members.map((id, i) => [id, id, null, gid, i]),
      );
      for (const m of msgs) {
        const chordSig = m.body[2].chord!;
        expect(Object.keys(chordSig)).toEqual(SIGNATURE_KEYS);
        expect([chordSig.task, chordSig.args, chordSig.options.task_id]).toEqual(['cap.chord.tsum', [], body]);
      }
    });
  });
});
