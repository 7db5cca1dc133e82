import { describe, expect, it } from 'vitest';
import type { ReceivedEvent } from '../../src/control/event-receiver.js';
import { WorkerRegistry } from '../../src/monitor/workers.js';

const T0 = 1_700_000_000_000;

function workerEvent(type: string, hostname: string, atMs: number, extra: Record<string, unknown> = {}): ReceivedEvent {
  return {
    hostname, utcoffset: 0, pid: 100, clock: 1, freq: 2, active: 1, processed: 5, loadavg: [0.5, 0.25, 0.1],
    sw_ident: 'py-celery', sw_ver: '5.2.7', sw_sys: 'Linux', ...extra, timestamp: atMs / 1000, type, local_received: atMs / 1000,
  } as ReceivedEvent;
}

function registry() {
  let now = T0;
  const reg = new WorkerRegistry({ now: () => now });
  return { reg, advance: (ms: number) => (now += ms), at: () => now };
}

describe('WorkerRegistry', () => {
  it('keeps a worker from its online event with what the heartbeat says', () => {
    const { reg } = registry();
    expect(reg.handle(workerEvent('worker-online', 'celery@a', T0))).toBe(true);
    expect(reg.get('celery@a')).toEqual({
      hostname: 'celery@a', online: true, lastHeartbeat: T0, freq: 2, active: 1, processed: 5, loadavg: [0.5, 0.25, 0.1],
      pid: 100, swIdent: 'py-celery', swVer: '5.2.7', swSys: 'Linux',
    });
  });

  it('is online within 2 x freq of the last heartbeat, offline after', () => {
    const { reg, advance } = registry();
    reg.handle(workerEvent('worker-heartbeat', 'celery@a', T0));
    advance(3_999);
    expect(reg.get('celery@a')!.online).toBe(true);
    advance(1);
    expect(reg.get('celery@a')!.online).toBe(false);
    reg.handle(workerEvent('worker-heartbeat', 'celery@a', T0 + 4_000, { active: 3 }));
    expect(reg.get('celery@a')).toMatchObject({ online: true, active: 3, lastHeartbeat: T0 + 4_000 });
  });

  it('uses the freq the worker announces', () => {
    const { reg, advance } = registry();
    reg.handle(workerEvent('worker-heartbeat', 'celery@a', T0, { freq: 10 }));
    advance(19_000);
    expect(reg.get('celery@a')!.online).toBe(true);
    advance(1_000);
    expect(reg.get('celery@a')!.online).toBe(false);
  });

  it('is offline after worker-offline until the next heartbeat', () => {
    const { reg, advance } = registry();
    reg.handle(workerEvent('worker-online', 'celery@a', T0));
    advance(100);
    reg.handle(workerEvent('worker-offline', 'celery@a', T0 + 100));
    expect(reg.get('celery@a')!.online).toBe(false);
    reg.handle(workerEvent('worker-online', 'celery@a', T0 + 200));
    expect(reg.get('celery@a')!.online).toBe(true);
  });

  it('ignores a heartbeat older than the one it keeps', () => {
    const { reg } = registry();
    reg.handle(workerEvent('worker-heartbeat', 'celery@a', T0, { active: 2 }));
    reg.handle(workerEvent('worker-heartbeat', 'celery@a', T0 - 1_000, { active: 9 }));
    expect(reg.get('celery@a')).toMatchObject({ active: 2, lastHeartbeat: T0 });
  });

  it('lists workers sorted by hostname and forgets those silent for over an hour', () => {
    const { reg, advance } = registry();
    reg.handle(workerEvent('worker-heartbeat', 'celery@b', T0));
    reg.handle(workerEvent('worker-heartbeat', 'celery@a', T0));
    advance(30 * 60_000);
    reg.handle(workerEvent('worker-heartbeat', 'celery@b', T0 + 30 * 60_000));
    expect(reg.list().map((w) => w.hostname)).toEqual(['celery@a', 'celery@b']);
    advance(30 * 60_000 + 1);
    expect(reg.list().map((w) => w.hostname)).toEqual(['celery@b']);
    expect(reg.size).toBe(1);
  });

  it('takes only worker events with a hostname, and survives missing fields', () => {
    const { reg } = registry();
    expect(reg.handle({ type: 'task-started', hostname: 'celery@a', timestamp: 1, utcoffset: 0, pid: 1, clock: 1, local_received: 1 } as ReceivedEvent)).toBe(false);
    expect(reg.handle({ type: 'worker-heartbeat', hostname: '', timestamp: 1, utcoffset: 0, pid: 1, clock: 1, local_received: 1 } as ReceivedEvent)).toBe(false);
    expect(reg.handle({ type: 'worker-heartbeat', hostname: 'celery@c', timestamp: T0 / 1000, utcoffset: 0, pid: 1, clock: 1, local_received: T0 / 1000, loadavg: 'x' } as unknown as ReceivedEvent)).toBe(true);
    expect(reg.get('celery@c')).toMatchObject({ freq: 2, loadavg: null, swIdent: null, online: true });
  });
});
