import { describe, expect, it } from 'vitest';
import type { Mailbox } from '../../src/broker/mailbox.js';
import type { ReceivedEvent } from '../../src/control/event-receiver.js';
import { CelerityError } from '../../src/errors/index.js';
import { MemoryHistoryStore } from '../../src/history/memory.js';
import { Monitor, type MonitorApp } from '../../src/monitor/monitor.js';
import { decodeControlRequest } from '../../src/protocol/control.js';
import { encodeEventMessage, createEvent } from '../../src/protocol/events.js';

/** A mailbox in memory that records broadcasts and lets the test publish events to the subscriber. */
function fakeMailbox() {
  const broadcasts: { exchange: string; envelope: string }[] = [];
  let deliver: ((envelope: string) => void) | null = null;
  let closed = 0;
  const mailbox: Mailbox = {
    connect: async () => undefined,
    broadcast: async (exchange, _rk, envelope) => (broadcasts.push({ exchange, envelope }), 1),
    subscribe: async (_exchange, _key, onMessage) => {
      deliver = onMessage;
      return { close: async () => void (deliver = null) };
    },
    send: async () => undefined,
    openQueue: async () => {
      throw new Error('not used');
    },
    close: async () => void closed++,
  };
  return { mailbox, broadcasts, publish: (envelope: string) => deliver?.(envelope), closed: () => closed, subscribed: () => deliver !== null };
}

function appWith(mailbox: Mailbox | null): MonitorApp {
  return {
    broker: async () => (mailbox ? { mailbox: () => mailbox } : {}),
    backend: async () => ({ mget: async (ids) => ids.map(() => null) }),
    conf: { broker: 'amqp://user:secret@rabbit:5672//' },
  };
}

function envelopeOf(type: string, fields: object): string {
  return encodeEventMessage(createEvent(type, fields, { hostname: 'celery@w1', pid: 7, clock: 1 }), { hostname: 'celery@w1', deliveryTag: 't' }).envelope;
}

describe('Monitor', () => {
  it('refuses a broker without a mailbox, naming it without its password', async () => {
    const history = new MemoryHistoryStore();
    const err = await Monitor.start(appWith(null), { history }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CelerityError);
    expect((err as Error).message).toBe('the broker at amqp://user:***@rabbit:5672// has no mailbox: a monitor cannot receive events from it');
  });

  it('feeds events to the registry and the history, tells listeners, broadcasts enable_events, and closes what it opened', async () => {
    const fake = fakeMailbox();
    const history = new MemoryHistoryStore();
    const monitor = await Monitor.start(appWith(fake.mailbox), { history, enableEventsIntervalMs: 3_600_000 });
    expect(fake.subscribed()).toBe(true);
    // The receiver's wakeup (heartbeat) and the first enable_events.
    const methods = fake.broadcasts.map((b) => decodeControlRequest(b.envelope).method);
    expect(methods).toEqual(expect.arrayContaining(['heartbeat', 'enable_events']));

    const seen: string[] = [];
    const off = monitor.onEvent((e: ReceivedEvent) => seen.push(e.type));
    monitor.onEvent(() => {
      throw new Error('a broken listener');
    });
    fake.publish(envelopeOf('worker-heartbeat', { freq: 2, active: 1, processed: 3, loadavg: [0, 0, 0], sw_ident: 'py-celery', sw_ver: '5.2.7', sw_sys: 'Linux' }));
    fake.publish(envelopeOf('task-received', { uuid: 't1', name: 'proj.add', args: '(1, 2)', kwargs: '{}', retries: 0 }));
    fake.publish(envelopeOf('task-succeeded', { uuid: 't1', result: '3', runtime: 0.1 }));
    fake.publish('not an envelope');
    off();
    fake.publish(envelopeOf('task-progress', { uuid: 't1', done: 1 }));
    expect(seen).toEqual(['worker-heartbeat', 'task-received', 'task-succeeded']);
    expect(monitor.workers().map((w) => [w.hostname, w.online, w.swIdent])).toEqual([['celery@w1', true, 'py-celery']]);

    await monitor.flush();
    expect(await history.get('t1')).toMatchObject({ state: 'SUCCESS', worker: 'celery@w1', result: '3', argsJson: '[1,2]' });
    expect((await history.timeline('t1')).map((e) => e.type)).toEqual(['task-received', 'task-succeeded', 'task-progress']);

    await monitor.close();
    expect(fake.closed()).toBe(1);
    expect(fake.subscribed()).toBe(false);
    // The store is the caller's: still open.
    expect(await history.get('t1')).not.toBeNull();
  });

  it('record() queues a valid update and refuses a malformed one with a TypeError naming the field', async () => {
    const fake = fakeMailbox();
    const history = new MemoryHistoryStore();
    const monitor = await Monitor.start(appWith(fake.mailbox), { history, enableEvents: false, reconcile: false });
    expect(fake.broadcasts.map((b) => decodeControlRequest(b.envelope).method)).toEqual(['heartbeat']);
    expect(() => monitor.record({ id: '', timestamp: 1 })).toThrow(new TypeError('task update: id must be a non-empty string'));
    expect(() => monitor.record({ id: 'a', timestamp: Number.NaN })).toThrow(/timestamp must be a finite number/);
    expect(() => monitor.record({ id: 'a', timestamp: 1, fields: { argsJson: [1] as unknown as string } })).toThrow('task update a: argsJson must be a string or null');
    expect(() => monitor.record({ id: 'a', timestamp: 1, fields: { retries: '1' as unknown as number } })).toThrow('task update a: retries must be a finite number or null');
    monitor.record({ id: 'a', timestamp: 1_000, state: 'PENDING', fields: { name: 'proj.add', argsJson: '[1,2]' } });
    await monitor.flush();
    expect(await history.get('a')).toMatchObject({ state: 'PENDING', name: 'proj.add', argsJson: '[1,2]', sentAt: 1_000 });
    await monitor.close();
  });
});
