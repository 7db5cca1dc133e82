/**
 * Chord joins and saved groups on Redis in Celery 5.2's own layout, checked against Celery's RedisBackend run by
 * test/interop/py/chord_layout.py: the same inputs give the same bytes at `celery-taskset-meta-<gid>` and its `.s`
 * and `.j`; a chord whose members are recorded partly by Python and partly by us completes exactly once, on
 * whichever side records the last member; and saved groups are restored across languages.
 * Python's 5.2 result backend has no key prefix, so the tests use a scratch database, fresh ids, and delete exactly
 * their keys.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChordPart } from '../../src/backend/port.js';
import { RedisBackend } from '../../src/backend/redis/index.js';
import { PYTHON, pythonCeleryOnRedis, requireService } from '../services.js';

/** Database 13: no other test uses it. */
const REDIS_URL = 'redis://127.0.0.1:6379/13';
const SCRIPT = fileURLToPath(new URL('../interop/py/chord_layout.py', import.meta.url));
const run = promisify(execFile);

const service = await requireService('Python Celery 5 with Redis', () => pythonCeleryOnRedis(REDIS_URL));

/** A finished chord member, given once and recorded by either side. */
interface Member {
  id: string;
  index: number | null;
  state: 'SUCCESS' | 'FAILURE';
  result: unknown;
  /** For a FAILURE: Python records KeyError(raise); we record what Celery serializes that to. */
  raise?: string;
}

interface PythonReport {
  fired: { group: string; results: unknown[] }[];
  restored: ({ id: string; ids: string[] } | null)[];
}

type Step =
  | { op: 'size'; group: string; size: number }
  | { op: 'part'; group: string; member: Member }
  | { op: 'save'; group: string; ids: string[] }
  | { op: 'restore'; group: string };

async function python(steps: Step[]): Promise<PythonReport> {
  const wire = steps.map((s) => {
    if (s.op !== 'part') return s;
    const { id, index, state, result, raise } = s.member;
    return { op: 'part', group: s.group, id, index, state, ...(raise === undefined ? { result } : { raise }) };
  });
  const { stdout } = await run(PYTHON, [SCRIPT, REDIS_URL, JSON.stringify(wire)], { timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as PythonReport;
}

const keyError = (message: string) => ({ exc_type: 'KeyError', exc_message: [message], exc_module: 'builtins' });

const success = (id: string, index: number | null, result: unknown): Member => ({ id, index, state: 'SUCCESS', result });
const failure = (id: string, index: number | null, message: string): Member => ({
  id,
  index,
  state: 'FAILURE',
  result: keyError(message),
  raise: message,
});

const asPart = (m: Member): ChordPart => ({ taskId: m.id, groupIndex: m.index, status: m.state, result: m.result });

/** GroupResult(gid, [AsyncResult(id), ...]).as_tuple() */
const groupTuple = (gid: string, ids: string[]) => [[gid, null], ids.map((id) => [[id, null], null])];

describe.skipIf(!service.ok)(`Celery 5.2's chord and group layout on Redis${service.ok ? '' : ` (skipped: ${service.reason})`}`, () => {
  let backend: RedisBackend;
  let raw: Redis;
  const groups: string[] = [];
  const group = () => {
    const gid = randomUUID();
    groups.push(gid);
    return gid;
  };
  const key = (gid: string, suffix = '') => `celery-taskset-meta-${gid}${suffix}`;

  /**
   * Everything either side keeps for group `gid`: the stored bytes (as latin1 text, one character per byte, so
   * equal text is equal bytes and a difference shows readably), and the remaining time to live in seconds.
   */
  async function snapshot(gid: string) {
    const bytes = (b: Buffer | null) => b?.toString('latin1') ?? null;
    const [size, join, saved, adjust, completedBy] = await Promise.all([
      raw.getBuffer(key(gid, '.s')),
      raw.zrangeBuffer(key(gid, '.j'), 0, -1, 'WITHSCORES'),
      raw.getBuffer(key(gid)),
      raw.exists(key(gid, '.t')),
      raw.exists(key(gid, '.f')),
    ]);
    const ttls = await Promise.all(['.s', '.j', ''].map((s) => raw.ttl(key(gid, s))));
    return { size: bytes(size), join: join.map(bytes), saved: bytes(saved), adjust, completedBy, ttls };
  }

  async function forget(gid: string): Promise<void> {
    await raw.del(...['', '.s', '.j', '.t', '.f'].map((s) => key(gid, s)));
  }

  beforeAll(async () => {
    backend = new RedisBackend({ url: REDIS_URL, resultExpires: 86_400 });
    await backend.connect();
    raw = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const gid of groups) await forget(gid);
    await raw.quit();
    await backend.close();
  });

  it('writes the bytes Celery writes for the same chord size, parts and saved group', async () => {
    const gid = group();
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    // Out of header order, a failure, a member without an index, text Python escapes and floats it spells its way.
    const members = [
      success(c, 2, 'two'),
      success(a, 0, { n: 0, label: 'café' }),
      failure(b, 1, 'oops'),
      success(d, null, [1.5, 2.5e-7]),
    ];
    // Five members, four recorded: nothing completes, so both sides leave every key in place.
    await python([
      { op: 'size', group: gid, size: 5 },
      ...members.map((member) => ({ op: 'part', group: gid, member }) as const),
      { op: 'save', group: gid, ids: [a, b, c, d] },
    ]);
    const theirs = await snapshot(gid);
    await forget(gid);

    await backend.setChordSize(gid, 5);
    for (const m of members) expect(await backend.chordPartReturn(gid, asPart(m))).toBeNull();
    await backend.saveGroup(gid, { result: groupTuple(gid, [a, b, c, d]) });
    const ours = await snapshot(gid);

    expect(ours.size).toBe(theirs.size);
    expect(ours.join).toEqual(theirs.join);
    expect(ours.saved).toBe(theirs.saved);
    expect([ours.adjust, ours.completedBy, theirs.adjust, theirs.completedBy]).toEqual([0, 0, 0, 0]);
    for (const ttl of [...ours.ttls, ...theirs.ttls]) expect(ttl).toBeGreaterThan(86_390);

    // The bytes themselves, so that a change on both sides at once shows too.
    expect(ours.size).toBe('5');
    expect(ours.join).toEqual([
      `[1, "${a}", "SUCCESS", {"n": 0, "label": "caf\\u00e9"}]`,
      '0',
      `[1, "${b}", "FAILURE", {"exc_type": "KeyError", "exc_message": ["oops"], "exc_module": "builtins"}]`,
      '1',
      `[1, "${c}", "SUCCESS", "two"]`,
      '2',
      `[1, "${d}", "SUCCESS", [1.5, 2.5e-07]]`,
      'inf',
    ]);
    expect(ours.saved).toBe(
      `{"result": [["${gid}", null], [[["${a}", null], null], [["${b}", null], null], [["${c}", null], null], [["${d}", null], null]]]}`,
    );
  });

  it('a chord begun by Python members completes on ours, once, with every part; Python never fires it again', async () => {
    const gid = group();
    const [m0, m1, m2] = [success(randomUUID(), 0, { py: 0 }), failure(randomUUID(), 1, 'boom'), success(randomUUID(), 2, 'ts')];
    const before = await python([
      { op: 'size', group: gid, size: 3 },
      { op: 'part', group: gid, member: m0 },
      { op: 'part', group: gid, member: m1 },
    ]);
    expect(before.fired).toEqual([]);

    const joined = await backend.chordPartReturn(gid, asPart(m2));
    expect(joined).toEqual([m0, m1, m2].map(asPart));
    // A redelivered Python member, recorded by us: counted once, and it did not complete the chord.
    expect(await backend.chordPartReturn(gid, asPart(m0))).toBeNull();
    // The completing member redelivered before the body went out gets the parts again.
    expect(await backend.chordPartReturn(gid, asPart(m2))).toEqual(joined);

    // A redelivered member recorded by Python finds no size any more, so Celery cannot fire the body either.
    const after = await python([{ op: 'part', group: gid, member: m0 }]);
    expect(after.fired).toEqual([]);
    expect(await raw.exists(key(gid, '.s'), key(gid, '.t'))).toBe(0);

    await backend.chordDone(gid);
    expect(await raw.exists(key(gid, '.j'), key(gid, '.f'))).toBe(0);
    expect(await backend.chordPartReturn(gid, asPart(m2))).toBeNull();
  });

  it('a chord begun by our members completes on Python, which decodes our size and parts in header order', async () => {
    const gid = group();
    const [m0, m1, m2] = [success(randomUUID(), 0, { ts: 0 }), success(randomUUID(), 1, 'py'), success(randomUUID(), 2, [2])];
    await backend.setChordSize(gid, 3);
    expect(await backend.chordPartReturn(gid, asPart(m2))).toBeNull();
    expect(await backend.chordPartReturn(gid, asPart(m0))).toBeNull();
    const report = await python([{ op: 'part', group: gid, member: m1 }]);
    expect(report.fired).toEqual([{ group: gid, results: [{ ts: 0 }, 'py', [2]] }]);
    // Celery deletes the join when it fires; nothing of ours is left that could fire it a second time.
    expect(await raw.exists(key(gid, '.s'), key(gid, '.t'), key(gid, '.j'), key(gid, '.f'))).toBe(0);
    expect(await backend.chordPartReturn(gid, asPart(m0))).toBeNull();
  });

  it("Python's GroupResult.restore reads a group we save, and we read one Python saves", async () => {
    const [ours, theirs] = [group(), group()];
    const ourIds = [randomUUID(), randomUUID(), randomUUID()];
    const theirIds = [randomUUID(), randomUUID()];
    await backend.saveGroup(ours, { result: groupTuple(ours, ourIds) });

    const first = await python([
      { op: 'restore', group: ours },
      { op: 'save', group: theirs, ids: theirIds },
    ]);
    expect(first.restored).toEqual([{ id: ours, ids: ourIds }]);

    expect(await backend.getGroup(theirs)).toEqual({ result: groupTuple(theirs, theirIds) });
    await backend.deleteGroup(theirs);
    expect(await backend.getGroup(theirs)).toBeNull();
    const second = await python([{ op: 'restore', group: theirs }]);
    expect(second.restored).toEqual([null]);
  });
});
