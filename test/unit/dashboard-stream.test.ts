/**
 * The live stream's bounds, over real HTTP connections: one state per task id in a batch, at most maxBatch
 * changes per message, a fresh hello (the page reloads) instead of an unbounded backlog, a client whose socket
 * stays full dropped, pings, workers when they change, and every stream ended on close. The clock is the test's,
 * and batches are sent when the test says (flush), so nothing depends on timing.
 */
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReceivedEvent } from '../../src/control/event-receiver.js';
import { StatsCollector } from '../../src/dashboard/stats.js';
import { StreamHub, type StreamOptions } from '../../src/dashboard/stream.js';
import type { WorkerInfo } from '../../src/monitor/types.js';
import type { TaskUpdate } from '../../src/history/port.js';
import type { ResultMeta } from '../../src/protocol/types.js';
import { deferred } from '../helpers.js';
import { openStream, type SseStream } from '../e2e/dashboard-server-sse.js';

const HOUR = 3_600_000;
const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0).reverse()) o.close();
});

function monitor() {
  const listeners = new Set<(e: ReceivedEvent) => void>();
  const recordListeners = new Set<(u: TaskUpdate) => void>();
  let workers: WorkerInfo[] = [];
  return {
    onEvent(l: (e: ReceivedEvent) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    onRecord(l: (u: TaskUpdate) => void) {
      recordListeners.add(l);
      return () => recordListeners.delete(l);
    },
    record: (u: TaskUpdate) => recordListeners.forEach((l) => l(u)),
    workers: () => workers,
    setWorkers: (w: WorkerInfo[]) => (workers = w),
    emit: (e: Record<string, unknown>) => listeners.forEach((l) => l({ timestamp: 1_700_000_000, local_received: 1_700_000_000, hostname: 'w@h', ...e } as ReceivedEvent)),
  };
}

async function setup(options: StreamOptions = {}, metas: Record<string, ResultMeta> = {}) {
  const m = monitor();
  const clock = { t: 1_700_000_000_000 };
  const results = async () => ({ mget: async (ids: readonly string[]) => ids.map((id) => metas[id] ?? null) });
  const hub = new StreamHub({ monitor: m, results }, new StatsCollector({ now: () => clock.t }), {
    batchMs: HOUR,
    workersMs: HOUR,
    statsMs: HOUR,
    pingMs: HOUR,
    progressMs: HOUR,
    now: () => clock.t,
    ...options,
  });
  hub.start();
  const server = http.createServer((_req, res) => hub.attach(res, { user: 'u', readOnly: true }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  open.push({ close: () => server.close() }, { close: () => hub.close() });
  const connect = async (): Promise<SseStream> => {
    const s = await openStream(`http://127.0.0.1:${port}/`);
    open.push(s);
    await s.next((e) => e.event === 'hello', 'hello');
    return s;
  };
  return { m, hub, clock, port, server, connect };
}

const worker = (hostname: string, active: number): WorkerInfo => ({
  hostname, online: true, lastHeartbeat: 1, freq: 2, active, processed: 0, loadavg: null, pid: 1, swIdent: 'celerity', swVer: '1', swSys: 'Linux',
});

describe('StreamHub', () => {
  it('says hello with the caller and the server time, then sends one state per task: the newest', async () => {
    const { m, hub, clock, connect } = await setup();
    const s = await connect();
    expect(s.events[0]).toEqual({ event: 'hello', data: { user: 'u', readOnly: true, serverTime: clock.t } });
    m.emit({ type: 'task-received', uuid: 'a', name: 'n.a', args: '()', kwargs: '{}' });
    m.emit({ type: 'task-started', uuid: 'a' });
    m.emit({ type: 'task-received', uuid: 'b', name: 'n.b', args: '()', kwargs: '{}' });
    m.emit({ type: 'task-succeeded', uuid: 'a', runtime: 0.5, result: '1' });
    const from = s.events.length;
    hub.flush();
    const e = await s.next((x) => x.event === 'tasks', 'tasks', from);
    // In the order of their last change.
    expect(e.data).toEqual([
      { id: 'b', name: 'n.b', state: 'RECEIVED', worker: 'w@h', queue: null, runtime: null, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000 },
      { id: 'a', name: 'n.a', state: 'SUCCESS', worker: 'w@h', queue: null, runtime: 0.5, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000 },
    ]);
  });

  it('sends a task the API recorded itself (sent to a queue no worker took it from yet) with its queue', async () => {
    const { m, hub, clock, connect } = await setup();
    const s = await connect();
    m.record({ id: 'api-1', timestamp: clock.t, state: 'PENDING', fields: { name: 'n.sent', queue: 'nobody' }, timeline: { type: 'api-sent', timestamp: clock.t, hostname: null, fields: null } });
    const from = s.events.length;
    hub.flush();
    expect((await s.next((x) => x.event === 'tasks', 'tasks', from)).data).toMatchObject([{ id: 'api-1', name: 'n.sent', state: 'PENDING', queue: 'nobody' }]);
  });

  it('keeps the newest state when events arrive out of order, and the name from an earlier event', async () => {
    const { m, hub, connect } = await setup();
    const s = await connect();
    m.emit({ type: 'task-received', uuid: 'a', name: 'n.a', args: '()', kwargs: '{}' });
    m.emit({ type: 'task-succeeded', uuid: 'a', runtime: 1 });
    m.emit({ type: 'task-started', uuid: 'a' });
    const from = s.events.length;
    hub.flush();
    expect((await s.next((x) => x.event === 'tasks', 'tasks', from)).data).toMatchObject([{ id: 'a', name: 'n.a', state: 'SUCCESS' }]);
  });

  it('sends at most maxBatch changes in one message, the rest in the next ones', async () => {
    const { m, hub, connect } = await setup({ maxBatch: 500 });
    const s = await connect();
    for (let i = 0; i < 1200; i++) m.emit({ type: 'task-received', uuid: `t${i}`, name: 'n' });
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const from = s.events.length;
      hub.flush();
      sizes.push((await s.next((x) => x.event === 'tasks', 'tasks', from)).data.length);
    }
    expect(sizes).toEqual([500, 500, 200]);
    const ids = new Set(s.events.filter((x) => x.event === 'tasks').flatMap((x) => x.data.map((t: any) => t.id)));
    expect(ids.size).toBe(1200);
  });

  it('sends a new hello, not a backlog, to a client whose pending changes pass maxPending', async () => {
    const { m, hub, connect } = await setup({ maxPending: 100 });
    const s = await connect();
    for (let i = 0; i < 150; i++) m.emit({ type: 'task-received', uuid: `t${i}`, name: 'n' });
    const from = s.events.length;
    hub.flush();
    expect((await s.next(() => true, 'the next event', from)).event).toBe('hello');
    m.emit({ type: 'task-received', uuid: 'after', name: 'n' });
    hub.flush();
    const e = await s.next((x) => x.event === 'tasks', 'tasks', from);
    expect(e.data.map((t: any) => t.id)).toEqual(['after']);
  });

  it('drops a client whose socket stays full for stallMs', async () => {
    const stalled = deferred<void>();
    const { m, hub, clock, port, server } = await setup({ stallMs: 5000, onStalled: () => stalled.resolve() });
    const attached = once(server, 'request');
    const sock = net.connect(port, '127.0.0.1');
    open.push({ close: () => sock.destroy() });
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    // A client that never reads: its socket's buffers fill up.
    sock.pause();
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await attached;
    expect(hub.clientCount).toBe(1);
    const big = 'x'.repeat(2000);
    let dropped = false;
    stalled.promise.then(() => (dropped = true));
    for (let round = 0; round < 500 && !dropped; round++) {
      for (let i = 0; i < 500; i++) m.emit({ type: 'task-received', uuid: `r${round}-${i}`, name: big });
      hub.flush();
      clock.t += 1000;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await stalled.promise;
    expect(hub.clientCount).toBe(0);
    sock.resume();
    await closed;
  });

  it('sends a ping comment on its interval', async () => {
    const { connect } = await setup({ pingMs: 10 });
    const s = await connect();
    expect(await s.nextComment()).toBe('ping');
  });

  it('sends the workers on connect and again when they change, as the workers route lists them', async () => {
    const { m, connect } = await setup({ workersMs: 10, batchMs: 10 });
    m.setWorkers([worker('a@h', 0)]);
    const s = await connect();
    const first = await s.next((x) => x.event === 'workers', 'workers');
    expect(first.data).toEqual([
      { name: 'a@h', online: true, lastHeartbeat: 1, heartbeatInterval: 2, active: 0, processed: 0, loadavg: null, pid: 1, swIdent: 'celerity', swVer: '1', swSys: 'Linux', pool: null, concurrency: null, queues: null },
    ]);
    m.setWorkers([worker('a@h', 3), worker('b@h', 0)]);
    const changed = await s.next((x) => x.event === 'workers', 'the changed workers', s.events.indexOf(first) + 1);
    expect(changed.data.map((w: any) => [w.name, w.active])).toEqual([['a@h', 3], ['b@h', 0]]);
  });

  it('reads the progress of running tasks from the result store, which no event carries', async () => {
    const metas: Record<string, ResultMeta> = {};
    const { m, connect } = await setup({ progressMs: 10, batchMs: 10 }, metas);
    const s = await connect();
    metas.p = { task_id: 'p', status: 'PROGRESS', result: { current: 3, total: 10 }, traceback: null, children: [], date_done: null } as ResultMeta;
    m.emit({ type: 'task-received', uuid: 'p', name: 'n.p' });
    m.emit({ type: 'task-started', uuid: 'p' });
    const e = await s.next((x) => x.event === 'tasks' && x.data.some((t: any) => t.state === 'PROGRESS'), 'PROGRESS');
    expect(e.data.find((t: any) => t.id === 'p')).toMatchObject({ name: 'n.p', state: 'PROGRESS', progress: { current: 3, total: 10 } });
    m.emit({ type: 'task-succeeded', uuid: 'p', runtime: 1 });
    const done = await s.next((x) => x.event === 'tasks' && x.data.some((t: any) => t.state === 'SUCCESS'), 'SUCCESS', s.events.indexOf(e) + 1);
    expect(done.data.find((t: any) => t.id === 'p')).not.toHaveProperty('progress');
  });

  it('ends every stream on close, and answers a stream asked for afterwards with 503', async () => {
    const { hub, port, connect } = await setup();
    const s = await connect();
    hub.close();
    await s.ended;
    expect(hub.clientCount).toBe(0);
    const late = await fetch(`http://127.0.0.1:${port}/`);
    expect(late.status).toBe(503);
  });
});
