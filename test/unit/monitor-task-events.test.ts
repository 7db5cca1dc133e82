import { describe, expect, it } from 'vitest';
import type { ReceivedEvent } from '../../src/control/event-receiver.js';
import { taskUpdateFromEvent } from '../../src/monitor/task-events.js';

const base = { hostname: 'celery@w1', utcoffset: 0, pid: 42, clock: 7, local_received: 1_700_000_001 };

function ev(type: string, fields: Record<string, unknown>, timestamp = 1_700_000_000.5): ReceivedEvent {
  return { ...base, ...fields, timestamp, type } as ReceivedEvent;
}

describe('taskUpdateFromEvent', () => {
  it('task-sent: PENDING with the call, the queue, and exact args when the repr is a plain literal', () => {
    const u = taskUpdateFromEvent(
      ev('task-sent', {
        uuid: 't1', root_id: 'r', parent_id: 'p', name: 'proj.add', args: '(2, 3)', kwargs: "{'z': None}", retries: 0,
        eta: '2026-01-01T00:00:00+00:00', expires: null, queue: 'celery', exchange: '', routing_key: 'celery',
      }),
    )!;
    expect(u.id).toBe('t1');
    expect(u.state).toBe('PENDING');
    expect(u.timestamp).toBe(1_700_000_000_500);
    expect(u.fields).toEqual({
      name: 'proj.add', args: '(2, 3)', argsJson: '[2,3]', kwargs: "{'z': None}", kwargsJson: '{"z":null}', retries: 0,
      eta: '2026-01-01T00:00:00+00:00', parentId: 'p', rootId: 'r', queue: 'celery',
    });
    expect(u.timeline!.type).toBe('task-sent');
    expect(u.timeline!.hostname).toBe('celery@w1');
    expect(JSON.parse(u.timeline!.fields!)).toEqual({
      root_id: 'r', parent_id: 'p', name: 'proj.add', args: '(2, 3)', kwargs: "{'z': None}", retries: 0,
      eta: '2026-01-01T00:00:00+00:00', expires: null, queue: 'celery', exchange: '', routing_key: 'celery',
    });
  });

  it('task-sent without a queue takes the routing key', () => {
    const u = taskUpdateFromEvent(ev('task-sent', { uuid: 't1', name: 'x', args: '()', kwargs: '{}', routing_key: 'rk' }))!;
    expect(u.fields!.queue).toBe('rk');
  });

  it('task-received: RECEIVED on the sending worker; args that are not a literal keep only the repr', () => {
    const u = taskUpdateFromEvent(ev('task-received', { uuid: 't1', name: 'proj.add', args: '(<object object at 0x7f>,)', kwargs: '{}', retries: 1 }))!;
    expect(u.state).toBe('RECEIVED');
    expect(u.fields).toMatchObject({ worker: 'celery@w1', name: 'proj.add', args: '(<object object at 0x7f>,)', kwargs: '{}', kwargsJson: '{}', retries: 1 });
    expect(u.fields!.argsJson).toBeUndefined();
  });

  it('task-started, -succeeded, -failed, -retried: state, worker, result, runtime, exception and traceback', () => {
    expect(taskUpdateFromEvent(ev('task-started', { uuid: 't1' }))).toMatchObject({ state: 'STARTED', fields: { worker: 'celery@w1' } });
    expect(taskUpdateFromEvent(ev('task-succeeded', { uuid: 't1', result: '5', runtime: 0.25 }))).toMatchObject({
      state: 'SUCCESS', fields: { result: '5', runtime: 0.25, worker: 'celery@w1' },
    });
    expect(taskUpdateFromEvent(ev('task-failed', { uuid: 't1', exception: "ValueError('nope')", traceback: 'Traceback...' }))).toMatchObject({
      state: 'FAILURE', fields: { exception: "ValueError('nope')", traceback: 'Traceback...' },
    });
    expect(taskUpdateFromEvent(ev('task-retried', { uuid: 't1', exception: "Retry('in 1s')", traceback: null }))).toMatchObject({
      state: 'RETRY', fields: { exception: "Retry('in 1s')" },
    });
  });

  it('task-revoked and task-rejected: the state, with terminated/expired/signum and requeue in the timeline', () => {
    const r = taskUpdateFromEvent(ev('task-revoked', { uuid: 't1', terminated: true, signum: 15, expired: false }))!;
    expect(r.state).toBe('REVOKED');
    expect(r.fields).toBeUndefined();
    expect(JSON.parse(r.timeline!.fields!)).toEqual({ terminated: true, signum: 15, expired: false });
    const j = taskUpdateFromEvent(ev('task-rejected', { uuid: 't1', requeue: false }))!;
    expect(j.state).toBe('REJECTED');
    expect(JSON.parse(j.timeline!.fields!)).toEqual({ requeue: false });
  });

  it('a custom task event gives a timeline entry and no state', () => {
    const u = taskUpdateFromEvent(ev('task-progress', { uuid: 't1', current: 3, total: 10 }))!;
    expect(u.state).toBeUndefined();
    expect(u.fields).toBeUndefined();
    expect(u.timeline).toEqual({ type: 'task-progress', timestamp: 1_700_000_000_500, hostname: 'celery@w1', fields: '{"current":3,"total":10}' });
  });

  it('gives null for worker events and task events without an id', () => {
    expect(taskUpdateFromEvent(ev('worker-heartbeat', { freq: 2, active: 0, processed: 1 }))).toBeNull();
    expect(taskUpdateFromEvent(ev('task-started', {}))).toBeNull();
    expect(taskUpdateFromEvent(ev('task-started', { uuid: 17 }))).toBeNull();
  });

  it('falls back to the time received when the timestamp is unusable, and keeps an event with no own fields', () => {
    const u = taskUpdateFromEvent(ev('task-started', { uuid: 't1' }, Number.NaN))!;
    expect(u.timestamp).toBe(1_700_000_001_000);
    expect(u.timeline!.fields).toBeNull();
  });

  it('a result that is not text (a sender that put the value) is kept as JSON text', () => {
    expect(taskUpdateFromEvent(ev('task-succeeded', { uuid: 't1', result: { a: 1 }, runtime: 1 }))!.fields!.result).toBe('{"a":1}');
  });
});
