/**
 * Control (pidbox) and event messages against text captured from Celery 5.2.6 / kombu 5.2.4 on Redis
 * (`redis-cli MONITOR` while `celery inspect ping` ran against a real worker started with `-E`), and Celery's
 * command semantics (celery/worker/control.py) without Redis.
 */
import { describe, expect, it } from 'vitest';
import { LamportClock } from '../../src/control/clock.js';
import { dispatchCommand } from '../../src/control/dispatch.js';
import { ControlCommandError } from '../../src/control/handler.js';
import type { ControlContext, ControlHandler } from '../../src/control/handler.js';
import { KombuNames, resolveTarget } from '../../src/broker/redis/fanout.js';
import {
  decodeControlReply,
  decodeControlRequest,
  encodeControlReply,
  encodeControlRequest,
  isAddressedTo,
  matchNodeName,
} from '../../src/protocol/control.js';
import type { ControlRequest } from '../../src/protocol/control.js';
import {
  createEvent,
  decodeEventMessage,
  encodeEventMessage,
  eventRoutingKey,
  utcoffsetHours,
} from '../../src/protocol/events.js';
import type { CeleryEvent } from '../../src/protocol/events.js';

// PUBLISH /4.celery.pidbox: `celery inspect ping`
const PY_PING_REQUEST =
  '{"body": "eyJtZXRob2QiOiAicGluZyIsICJhcmd1bWVudHMiOiB7fSwgImRlc3RpbmF0aW9uIjogbnVsbCwgInBhdHRlcm4iOiBudWxsLCAibWF0Y2hlciI6IG51bGwsICJ0aWNrZXQiOiAiNzlkMWUyYjctYjc5YS00NTdkLWI0YWUtN2Y0ZmYzNWI4NDFhIiwgInJlcGx5X3RvIjogeyJleGNoYW5nZSI6ICJyZXBseS5jZWxlcnkucGlkYm94IiwgInJvdXRpbmdfa2V5IjogImIwOTRkNDdhLTczMGItMzZjZC1hYmEzLWRlYTJlYzhkMDQ0YyJ9fQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"clock": 1, "expires": 1795335683.6927562}, "properties": {"delivery_mode": 2, "delivery_info": {"exchange": "celery.pidbox", "routing_key": ""}, "priority": 0, "body_encoding": "base64", "delivery_tag": "3f01737c-901e-4c69-8b31-e3dfc10b91c6"}}';
// LPUSH b094d47a-730b-36cd-aba3-dea2ec8d044c.reply.celery.pidbox: the worker's answer
const PY_PONG_REPLY =
  '{"body": "eyJjYXBAaG9zdCI6IHsib2siOiAicG9uZyJ9fQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"ticket": "79d1e2b7-b79a-457d-b4ae-7f4ff35b841a", "clock": 3}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "reply.celery.pidbox", "routing_key": "b094d47a-730b-36cd-aba3-dea2ec8d044c"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "a85973bd-5644-4c1a-884c-f4c8c65dabf7"}}';
// PUBLISH /4.celeryev/worker.heartbeat
const PY_HEARTBEAT =
  '{"body": "eyJob3N0bmFtZSI6ICJjYXBAaG9zdCIsICJ1dGNvZmZzZXQiOiAwLCAicGlkIjogMTI3MzUsICJjbG9jayI6IDIsICJmcmVxIjogMi4wLCAiYWN0aXZlIjogMCwgInByb2Nlc3NlZCI6IDAsICJsb2FkYXZnIjogWzEuOTEsIDEuNDEsIDAuOTZdLCAic3dfaWRlbnQiOiAicHktY2VsZXJ5IiwgInN3X3ZlciI6ICI1LjIuNiIsICJzd19zeXMiOiAiTGludXgiLCAidGltZXN0YW1wIjogMTc5NTMzNTY3OC4wMzg0NzI0LCAidHlwZSI6ICJ3b3JrZXItaGVhcnRiZWF0In0=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"hostname": "cap@host"}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", "routing_key": "worker.heartbeat"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "55d63bc3-de72-46ee-b025-2aca8d99529b"}}';
// PUBLISH /4.celeryev/task.multi: a worker's buffered task events, here a list of one
const PY_TASK_MULTI =
  '{"body": "W3siaG9zdG5hbWUiOiAiY2FwQGhvc3QiLCAidXRjb2Zmc2V0IjogMCwgInBpZCI6IDEyNzM1LCAiY2xvY2siOiAxMywgInV1aWQiOiAiMzczNzhkZmYtZTVmOS00Y2UwLWE1NjUtMGY4MTA0OGM1MTNhIiwgIm5hbWUiOiAiY2FwLnNsZWVwIiwgImFyZ3MiOiAiWzNdIiwgImt3YXJncyI6ICJ7fSIsICJyb290X2lkIjogIjM3Mzc4ZGZmLWU1ZjktNGNlMC1hNTY1LTBmODEwNDhjNTEzYSIsICJwYXJlbnRfaWQiOiBudWxsLCAicmV0cmllcyI6IDAsICJldGEiOiBudWxsLCAiZXhwaXJlcyI6IG51bGwsICJ0aW1lc3RhbXAiOiAxNzk1MzM1Njg4LjkxOTE5NzgsICJ0eXBlIjogInRhc2stcmVjZWl2ZWQifV0=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"hostname": "cap@host"}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", "routing_key": "task.multi"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "569bcf3c-14c9-4d5d-90cd-00babe7777c2"}}';

const OID = 'b094d47a-730b-36cd-aba3-dea2ec8d044c';
const TICKET = '79d1e2b7-b79a-457d-b4ae-7f4ff35b841a';

describe('pidbox messages', () => {
  it('decodes a request from celery inspect and re-encodes it byte for byte', () => {
    const req = decodeControlRequest(PY_PING_REQUEST);
    expect(req).toEqual({
      method: 'ping',
      arguments: {},
      destination: null,
      pattern: null,
      matcher: null,
      ticket: TICKET,
      replyTo: { exchange: 'reply.celery.pidbox', routing_key: OID },
      clock: 1,
      expires: 1795335683.6927562,
    });
    expect(encodeControlRequest(req, { deliveryTag: '3f01737c-901e-4c69-8b31-e3dfc10b91c6' })).toBe(PY_PING_REQUEST);
  });

  it("writes a worker's reply exactly as kombu does and reads it back", () => {
    const text = encodeControlReply(
      { ok: 'pong' },
      {
        hostname: 'cap@host',
        ticket: TICKET,
        clock: 3,
        replyTo: { exchange: 'reply.celery.pidbox', routing_key: OID },
        deliveryTag: 'a85973bd-5644-4c1a-884c-f4c8c65dabf7',
      },
    );
    expect(text).toBe(PY_PONG_REPLY);
    expect(decodeControlReply(PY_PONG_REPLY)).toEqual({
      ticket: TICKET,
      clock: 3,
      expires: null,
      body: { 'cap@host': { ok: 'pong' } },
    });
  });

  it('leaves ticket and reply_to out of a cast, as kombu does', () => {
    const text = encodeControlRequest(
      { method: 'revoke', arguments: { task_id: 'x' }, destination: ['a@h'], pattern: null, matcher: null, clock: 4, expires: 0 },
      { deliveryTag: 't' },
    );
    const body = JSON.parse(Buffer.from((JSON.parse(text) as { body: string }).body, 'base64').toString()) as object;
    expect(Object.keys(body)).toEqual(['method', 'arguments', 'destination', 'pattern', 'matcher']);
    const req = decodeControlRequest(text);
    expect(req.replyTo).toBeUndefined();
    expect(req.destination).toEqual(['a@h']);
  });

  it('selects nodes by destination, then pattern and matcher, as kombu', () => {
    const base: ControlRequest = { method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null, clock: 0, expires: 0 };
    expect(isAddressedTo('a@h', base)).toBe(true);
    expect(isAddressedTo('a@h', { ...base, destination: [] })).toBe(true);
    expect(isAddressedTo('a@h', { ...base, destination: ['b@h'] })).toBe(false);
    expect(isAddressedTo('a@h', { ...base, destination: ['b@h', 'a@h'] })).toBe(true);
    // A pattern without a matcher addresses everyone (the client filters the replies).
    expect(isAddressedTo('a@h', { ...base, pattern: 'b*' })).toBe(true);
    expect(isAddressedTo('a@h', { ...base, pattern: 'b*', matcher: 'glob' })).toBe(false);
    expect(isAddressedTo('a@h', { ...base, pattern: 'a*', matcher: 'glob' })).toBe(true);
    // Destination wins over the pattern.
    expect(isAddressedTo('a@h', { ...base, destination: ['a@h'], pattern: 'zzz', matcher: 'glob' })).toBe(true);
  });

  it("matches node names like fnmatch and re.match", () => {
    expect(matchNodeName('celery@worker1', 'celery@*')).toBe(true);
    expect(matchNodeName('celery@worker1', 'celery@worker?')).toBe(true);
    expect(matchNodeName('celery@worker1', 'celery@worker[!1]')).toBe(false);
    expect(matchNodeName('celery@worker1', 'celery@worker[0-9]')).toBe(true);
    expect(matchNodeName('celery@w.1', 'celery@w?1')).toBe(true);
    expect(matchNodeName('celeryXw1', 'celery.w1')).toBe(false);
    expect(matchNodeName('celery@worker1', 'worker', 'pcre')).toBe(false);
    expect(matchNodeName('celery@worker1', 'celery@w\\w+', 'pcre')).toBe(true);
    expect(matchNodeName('celery@worker1', 'celery', 'pcre')).toBe(true);
    expect(() => matchNodeName('a', 'a', 'nope')).toThrow(/no matcher installed/);
  });
});

describe('event messages', () => {
  it('decodes an object body and a task.multi list', () => {
    const [hb] = decodeEventMessage(PY_HEARTBEAT);
    expect(hb).toMatchObject({ hostname: 'cap@host', type: 'worker-heartbeat', freq: 2, sw_ident: 'py-celery', clock: 2 });
    const multi = decodeEventMessage(PY_TASK_MULTI);
    expect(multi).toHaveLength(1);
    expect(multi[0]).toMatchObject({ type: 'task-received', name: 'cap.sleep', args: '[3]', uuid: '37378dff-e5f9-4ce0-a565-0f81048c513a' });
  });

  it('builds events in Celery key order and re-encodes a captured task.multi byte for byte', () => {
    const event = createEvent(
      'task-received',
      {
        uuid: '37378dff-e5f9-4ce0-a565-0f81048c513a',
        name: 'cap.sleep',
        args: '[3]',
        kwargs: '{}',
        root_id: '37378dff-e5f9-4ce0-a565-0f81048c513a',
        parent_id: null,
        retries: 0,
        eta: null,
        expires: null,
      },
      { hostname: 'cap@host', pid: 12735, clock: 13, utcoffset: 0, timestamp: 1795335688.9191978 },
    );
    const { routingKey, envelope } = encodeEventMessage([event], {
      hostname: 'cap@host',
      deliveryTag: '569bcf3c-14c9-4d5d-90cd-00babe7777c2',
    });
    expect(routingKey).toBe('task.multi');
    expect(envelope).toBe(PY_TASK_MULTI);
  });

  it('keeps a given timestamp in place and puts type last', () => {
    const e = createEvent('custom-x', { a: 1, timestamp: 5, b: 2, type: 'ignored' }, { hostname: 'h', pid: 1, clock: null, utcoffset: -2 });
    expect(Object.keys(e)).toEqual(['hostname', 'utcoffset', 'pid', 'clock', 'a', 'timestamp', 'b', 'type']);
    expect(e.type).toBe('custom-x');
  });

  it('routes by type with dashes as dots, and reports the offset like Python', () => {
    expect(eventRoutingKey('task-succeeded')).toBe('task.succeeded');
    expect(eventRoutingKey('a-b-c')).toBe('a.b.c');
    const offset = utcoffsetHours();
    expect(offset).toBe(Math.floor(new Date().getTimezoneOffset() / 60));
  });

  it('refuses bodies that are not events', () => {
    const bad = encodeEventMessage([{ nope: 1 } as unknown as CeleryEvent], { hostname: 'h', deliveryTag: 't', routingKey: 'x' });
    expect(() => decodeEventMessage(bad.envelope)).toThrow(/event 0 has no string 'type'/);
  });
});

describe('kombu names', () => {
  it('puts the db prefix and global_keyprefix where kombu does', () => {
    const plain = resolveTarget({ url: 'redis://127.0.0.1:6379/4' }).names;
    expect(plain.channel('celery.pidbox')).toBe('/4.celery.pidbox');
    expect(plain.channel('celeryev', 'worker.heartbeat')).toBe('/4.celeryev/worker.heartbeat');
    expect(plain.subscription('celeryev', '#')).toBe('/4.celeryev/*');
    expect(plain.bindings('reply.celery.pidbox')).toBe('_kombu.binding.reply.celery.pidbox');
    expect(KombuNames.bindingMember('oid', '', 'oid.reply.celery.pidbox')).toBe('oid\x06\x16\x06\x16oid.reply.celery.pidbox');
    const prefixed = resolveTarget({ url: 'redis://127.0.0.1:6379/2?global_keyprefix=app:' }).names;
    expect(prefixed.channel('celery.pidbox')).toBe('app:/2.celery.pidbox');
    expect(prefixed.queueLists('q')).toEqual(['app:q', 'app:q\x06\x163', 'app:q\x06\x166', 'app:q\x06\x169']);
    const options = resolveTarget({ url: 'redis://h/1', fanoutPrefix: false, fanoutPatterns: false }).names;
    expect(options.channel('celeryev', 'worker.heartbeat')).toBe('celeryev');
    expect(resolveTarget({ url: 'redis://h/1', fanoutPrefix: 'x{db}-' }).names.channel('e')).toBe('x1-e');
  });
});

describe('command semantics (celery/worker/control.py)', () => {
  const calls: unknown[][] = [];
  const handler: ControlHandler = {
    active: async ({ safe }) => (calls.push(['active', safe]), []),
    reserved: async () => [],
    scheduled: async () => [],
    revoked: async () => ['r1'],
    registered: async () => [
      { name: 'zeta.task' },
      { name: 'celery.chord' },
      { name: 'alpha.task', attributes: { rate_limit: '10/s', exchange: null } },
    ],
    stats: async () => ({ total: {}, pid: 1, clock: '0', uptime: 0, pool: {}, broker: {}, prefetch_count: 0, rusage: 'N/A' }),
    activeQueues: async () => [],
    queryTask: async (ids) => Object.fromEntries(ids.map((id) => [id, ['ready', {} as never]])),
    revoke: async (command) => (calls.push(['revoke', command]), command.terminate ? command.taskIds.slice(0, 1) : []),
    rateLimit: async (task, rate) => {
      if (task !== 'alpha.task') throw new ControlCommandError('unknown task');
      calls.push(['rateLimit', rate]);
    },
    timeLimit: async () => undefined,
    addConsumer: async (c) => void calls.push(['addConsumer', c]),
    cancelConsumer: async () => undefined,
    poolGrow: async (n) => void calls.push(['poolGrow', n]),
    poolShrink: async () => {
      throw new RangeError('cannot shrink below 1');
    },
    shutdown: async (msg) => void calls.push(['shutdown', msg]),
  };
  const ctx = (method = 'x'): ControlContext => ({
    hostname: 'me@h',
    clock: new LamportClock(7),
    request: { method, arguments: {}, destination: null, pattern: null, matcher: null, clock: 0, expires: 0 },
  });
  const run = (method: string, args: Record<string, unknown> = {}) => dispatchCommand(handler, method, args, ctx(method));

  it('answers like a Celery worker', async () => {
    expect(await run('ping')).toEqual({ kind: 'reply', value: { ok: 'pong' } });
    expect(await run('clock')).toEqual({ kind: 'reply', value: { clock: 7 } });
    expect(await run('nosuch')).toEqual({ kind: 'reply', value: { error: "KeyError('nosuch')" } });
    expect(await run('registered', { taskinfoitems: [] })).toEqual({ kind: 'reply', value: ['alpha.task [rate_limit=10/s]', 'zeta.task'] });
    expect(await run('dump_tasks', { builtins: true, taskinfoitems: ['exchange'] })).toEqual({
      kind: 'reply',
      value: ['alpha.task', 'celery.chord', 'zeta.task'],
    });
    expect(await run('query_task', { ids: 'one' })).toEqual({ kind: 'reply', value: { one: ['ready', {}] } });
    await run('active', { safe: null });
    expect(calls.at(-1)).toEqual(['active', false]);
  });

  it('revokes and terminates with Celery texts', async () => {
    expect(await run('revoke', { task_id: ['a', 'b', 'a'], terminate: false, signal: 'SIGTERM' })).toEqual({
      kind: 'reply',
      value: { ok: 'tasks a, b flagged as revoked' },
    });
    expect(calls.at(-1)).toEqual(['revoke', { taskIds: ['a', 'b'], terminate: false, signal: 'SIGTERM' }]);
    expect(await run('revoke', { task_id: 'a', terminate: true, signal: 'KILL' })).toEqual({ kind: 'reply', value: { ok: 'terminate: a' } });
    expect(calls.at(-1)).toEqual(['revoke', { taskIds: ['a'], terminate: true, signal: 'SIGKILL' }]);
    expect(await run('terminate', { signal: 'TERM', task_id: [] })).toEqual({ kind: 'reply', value: { ok: 'terminate: tasks unknown' } });
    expect(await run('revoke', { task_id: 'a', terminate: true, signal: 'kill' })).toEqual({
      kind: 'reply',
      value: { error: "TypeError('signal name must be uppercase string.')" },
    });
    expect(await run('revoke', {})).toEqual({
      kind: 'reply',
      value: { error: 'TypeError("revoke() missing 1 required positional argument: \'task_id\'")' },
    });
  });

  it('validates rate limits and reports handler refusals as Celery does', async () => {
    expect(await run('rate_limit', { task_name: 'alpha.task', rate_limit: '10/m' })).toEqual({
      kind: 'reply',
      value: { ok: 'new rate limit set successfully' },
    });
    expect(await run('rate_limit', { task_name: 'alpha.task', rate_limit: 0 })).toEqual({
      kind: 'reply',
      value: { ok: 'rate limit disabled successfully' },
    });
    expect(calls.at(-1)).toEqual(['rateLimit', null]);
    expect(await run('rate_limit', { task_name: 'other', rate_limit: '1/s' })).toEqual({ kind: 'reply', value: { error: 'unknown task' } });
    expect(await run('rate_limit', { task_name: 'alpha.task', rate_limit: 'abc/s' })).toEqual({
      kind: 'reply',
      value: { error: 'Invalid rate limit string: ValueError("could not convert string to float: \'abc\'")' },
    });
    expect(await run('pool_shrink', { n: 1 })).toEqual({ kind: 'reply', value: { error: "RangeError('cannot shrink below 1')" } });
    expect(await run('pool_grow', {})).toEqual({ kind: 'reply', value: { ok: 'pool will grow' } });
    expect(calls.at(-1)).toEqual(['poolGrow', 1]);
  });

  it('answers conf, report, memory samples, autoscale, objgraph and election as Celery names them', async () => {
    const withConf: ControlHandler = {
      ...handler,
      conf: async (withDefaults) => ({ broker_url: 'redis://h/0', ...(withDefaults ? { task_default_queue: 'celery' } : {}) }),
      report: async () => 'software -> celerity',
      memsample: async () => '12.5MB',
      memdump: async (n) => `- rss (end): 12MB. (${n})`,
      autoscale: async (max, min) => [max ?? 4, min ?? 1],
    };
    const call = (method: string, args: Record<string, unknown> = {}) => dispatchCommand(withConf, method, args, ctx(method));
    expect(await call('conf', {})).toEqual({ kind: 'reply', value: { broker_url: 'redis://h/0' } });
    expect(await call('dump_conf', { with_defaults: 'yes' })).toEqual({ kind: 'reply', value: { broker_url: 'redis://h/0', task_default_queue: 'celery' } });
    expect(await call('conf', { with_defaults: 'maybe' })).toEqual({ kind: 'reply', value: { error: 'TypeError("\'maybe\' is not a valid boolean argument.")' } });
    expect(await call('report')).toEqual({ kind: 'reply', value: { ok: 'software -> celerity' } });
    expect(await call('memsample')).toEqual({ kind: 'reply', value: '12.5MB' });
    expect(await call('memdump', {})).toEqual({ kind: 'reply', value: '- rss (end): 12MB. (10)' });
    expect(await call('autoscale', { max: 8, min: null })).toEqual({ kind: 'reply', value: { ok: 'autoscale now max=8 min=1' } });
    expect(await call('objgraph', {})).toMatchObject({ kind: 'reply', value: { error: expect.stringContaining('not supported') } });
    expect(await call('election', { id: 'e', topic: 't' })).toEqual({ kind: 'reply', value: null });
    // A worker that does not autoscale, or does not allow pool restarts, answers as Celery's does.
    expect(await run('autoscale', { max: 8, min: 2 })).toEqual({ kind: 'reply', value: { error: "ValueError('Autoscale not enabled')" } });
    expect(await run('pool_restart', { reload: true })).toEqual({ kind: 'reply', value: { error: "ValueError('Pool restarts not enabled')" } });
    const restarting = { ...withConf, poolRestart: async () => true };
    expect(await dispatchCommand(restarting, 'pool_restart', {}, ctx('pool_restart'))).toEqual({ kind: 'reply', value: { ok: 'reload started' } });
  });

  it('passes add_consumer options through and never answers shutdown', async () => {
    expect(await run('add_consumer', { queue: 'q1', routing_key: 'rk', auto_delete: true })).toEqual({
      kind: 'reply',
      value: { ok: 'add consumer q1' },
    });
    expect(calls.at(-1)).toEqual([
      'addConsumer',
      { queue: 'q1', exchange: null, exchangeType: 'direct', routingKey: 'rk', options: { auto_delete: true } },
    ]);
    expect(await run('shutdown', {})).toEqual({ kind: 'none' });
    await new Promise((r) => setImmediate(r));
    expect(calls.at(-1)).toEqual(['shutdown', 'Got shutdown from remote']);
  });

  it("answers a starting node's mingle hello with revoked ids as floats and the clock", async () => {
    const c = ctx('hello');
    const result = await dispatchCommand(handler, 'hello', { from_node: 'other@h', revoked: {} }, c);
    expect(result.kind).toBe('reply');
    const value = (result as { value: { revoked: Record<string, number>; clock: number } }).value;
    expect(Object.keys(value.revoked)).toEqual(['r1']);
    expect(Number.isInteger(value.revoked.r1)).toBe(false);
    expect(value.clock).toBe(8);
    expect(await dispatchCommand(handler, 'hello', { from_node: 'me@h' }, c)).toEqual({ kind: 'reply', value: null });
  });
});
