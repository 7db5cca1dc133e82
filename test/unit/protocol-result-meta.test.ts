import { readdirSync, readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { DecodeError } from '../../src/errors/index.js';
import {
  buildResultMeta,
  decodeResultMeta,
  encodeResultMeta,
  parsePyIsoDate,
  type ResultMeta,
} from '../../src/protocol/index.js';

const dir = new URL('../golden/', import.meta.url);
const golden = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const resultGoldens = readdirSync(dir).filter((f) => f.startsWith('result-') && f.endsWith('.json'));

function rebuild(meta: ResultMeta): ResultMeta {
  const extended = meta.name !== undefined;
  return buildResultMeta({
    taskId: meta.task_id,
    status: meta.status,
    result: meta.result,
    traceback: meta.traceback,
    children: meta.children,
    groupId: meta.group_id,
    parentId: meta.parent_id,
    extended: extended
      ? {
          name: meta.name ?? null,
          args: meta.args ?? null,
          kwargs: meta.kwargs ?? null,
          worker: meta.worker ?? null,
          retries: meta.retries ?? null,
          queue: meta.queue ?? null,
        }
      : undefined,
    now: meta.date_done ? parsePyIsoDate(meta.date_done)! : undefined,
  });
}

describe('golden result metas from Celery 5.2', () => {
  it('has captures for both result_extended settings', () => {
    expect(resultGoldens.filter((f) => f.startsWith('result-extended-')).length).toBeGreaterThanOrEqual(10);
    expect(resultGoldens.filter((f) => !f.startsWith('result-extended-')).length).toBeGreaterThanOrEqual(10);
  });

  for (const file of resultGoldens) {
    it(`${file}: decode/encode and build give the captured bytes`, () => {
      const raw = golden(file);
      const meta = decodeResultMeta(raw);
      expect(encodeResultMeta(meta)).toBe(raw);
      expect(decodeResultMeta(Buffer.from(raw))).toEqual(meta);

      const built = rebuild(meta);
      expect(built.date_done === null).toBe(meta.date_done === null);
      if (built.date_done) {
        // Python wrote microseconds; a Date keeps milliseconds.
        expect(meta.date_done!.startsWith(built.date_done.replace(/0{3}$/, ''))).toBe(true);
      }
      expect(encodeResultMeta({ ...built, date_done: meta.date_done })).toBe(raw);
    });
  }
});

describe('result meta contents', () => {
  it('stores exceptions in Celery’s shape', () => {
    expect(decodeResultMeta(golden('result-failure-keyerror.json')).result).toEqual({
      exc_type: 'KeyError',
      exc_message: ['oops'],
      exc_module: 'builtins',
    });
    expect(decodeResultMeta(golden('result-failure-custom.json')).result).toEqual({
      exc_type: 'GoldenError',
      exc_message: ['bad thing', 42],
      exc_module: 'capture',
    });
    expect(decodeResultMeta(golden('result-revoked.json')).result).toEqual({
      exc_type: 'TaskRevokedError',
      exc_message: ['revoked'],
      exc_module: 'celery.exceptions',
    });
    expect((decodeResultMeta(golden('result-expired.json')).result as any).exc_message).toEqual(['expired']);
  });

  it('leaves date_done null for states that are not ready', () => {
    for (const name of ['result-progress.json', 'result-started.json', 'result-retry.json']) {
      expect(decodeResultMeta(golden(name)).date_done).toBeNull();
    }
    expect(decodeResultMeta(golden('result-progress.json')).result).toEqual({ current: 1, total: 10 });
    expect(Object.keys(decodeResultMeta(golden('result-started.json')).result as object)).toEqual(['pid', 'hostname']);
  });

  it('puts extended fields before task_id', () => {
    const meta = decodeResultMeta(golden('result-extended-chain-child.json'));
    expect(Object.keys(meta)).toEqual([
      'status', 'result', 'traceback', 'children', 'date_done', 'parent_id',
      'name', 'args', 'kwargs', 'worker', 'retries', 'queue', 'task_id',
    ]);
    expect(meta).toMatchObject({ name: 'capture.add', args: [3, 10], worker: 'golden@capture', queue: 'celery' });
  });
});

describe('buildResultMeta', () => {
  const now = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 6));

  it('sets naive UTC date_done for ready states only', () => {
    const done = buildResultMeta({ taskId: 't', status: 'SUCCESS', result: 5, now });
    expect(encodeResultMeta(done)).toBe(
      '{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], ' +
        '"date_done": "2030-01-02T03:04:05.006000", "task_id": "t"}',
    );
    expect(buildResultMeta({ taskId: 't', status: 'PROGRESS', result: {}, now }).date_done).toBeNull();
    expect(buildResultMeta({ taskId: 't', status: 'REVOKED', result: null, now }).date_done).not.toBeNull();
  });

  it('writes group and parent ids only when set', () => {
    const meta = buildResultMeta({ taskId: 't', status: 'STARTED', result: null, groupId: '', parentId: 'p' });
    expect(Object.keys(meta)).toEqual([
      'status', 'result', 'traceback', 'children', 'date_done', 'parent_id', 'task_id',
    ]);
  });

  it('writes all extended fields, null when unknown', () => {
    const meta = buildResultMeta({
      taskId: 't',
      status: 'SUCCESS',
      result: 1,
      now,
      extended: { name: 'x', args: null, kwargs: null, worker: null, retries: 0, queue: null },
    });
    expect(encodeResultMeta(meta)).toContain(
      '"name": "x", "args": null, "kwargs": null, "worker": null, "retries": 0, "queue": null, "task_id": "t"}',
    );
  });
});

describe('decodeResultMeta on malformed input', () => {
  it('names the problem', () => {
    expect(() => decodeResultMeta('{')).toThrow(DecodeError);
    expect(() => decodeResultMeta('{')).toThrow(/invalid result meta/);
    expect(() => decodeResultMeta('[]')).toThrow(/must be a JSON object/);
    expect(() => decodeResultMeta('{"task_id": "t"}')).toThrow(/'status'/);
    expect(() => decodeResultMeta('{"status": "SUCCESS"}')).toThrow(/'task_id'/);
    expect(() => decodeResultMeta('{"status": "SUCCESS", "task_id": "t", "children": 1}')).toThrow(/'children'/);
    expect(() => decodeResultMeta('{"status": "SUCCESS", "task_id": "t", "traceback": 1}')).toThrow(/'traceback'/);
    expect(() => decodeResultMeta('{"status": "S", "task_id": "t", "name": "n", "args": 1}')).toThrow(/'args'/);
    expect(() => decodeResultMeta(Buffer.from([0x7b, 0xff]))).toThrow(/not valid utf-8/);
  });

  it('fills defaults for fields older writers left out', () => {
    expect(decodeResultMeta('{"status": "SUCCESS", "result": 1, "task_id": "t"}')).toEqual({
      status: 'SUCCESS',
      result: 1,
      traceback: null,
      children: [],
      date_done: null,
      task_id: 't',
    });
  });
});
