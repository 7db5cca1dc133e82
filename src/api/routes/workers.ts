/**
 * Workers: every node the monitor has seen (Celerity and Python Celery alike, from their heartbeats), what one is
 * doing now (asked over remote control), and the remote-control actions that change a worker: pool size,
 * autoscale bounds, the queues it consumes, shutdown. A worker's `{error}` reply becomes a problem (409 when it
 * refused, 502 when it does not know the command); silence becomes a 504, or a 404 for a name nobody knows.
 */
import { z } from 'zod';
import type { WorkerInfo } from '../../monitor/types.js';
import type { ApiContext, ApiInstance } from '../context.js';
import { Problem } from '../problem.js';
import { problemSchema } from '../schemas.js';
import { askWorker, controlOf, errorOf, hasMailbox, queueNameSchema, queueNames, timeoutSeconds } from './remote.js';

const TAGS = ['workers'];

/** Node names are `celery@host`-like; no control characters, so a name is safe in logs and in a pidbox message. */
const workerName = z
  .string()
  .min(1)
  .max(255)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .regex(/^[^\u0000-\u001f\u007f-\u009f]+$/, 'must not contain control characters')
  .describe('the node name, as `celery@host`');


const poolSchema = z.object({
  implementation: z.string().nullable(),
  maxConcurrency: z.number().nullable(),
  processes: z.array(z.number()),
});

const workerSchema = z.object({
  name: z.string(),
  online: z.boolean().describe('a heartbeat within twice its interval, or an answer to this request'),
  lastHeartbeat: z.number().nullable().describe('epoch ms'),
  heartbeatInterval: z.number().nullable().describe('seconds'),
  active: z.number().nullable().describe('tasks running, as the last heartbeat said'),
  processed: z.number().nullable(),
  loadavg: z.array(z.number()).nullable(),
  pid: z.number().nullable(),
  swIdent: z.string().nullable().describe('`celerity` or `py-celery`'),
  swVer: z.string().nullable(),
  swSys: z.string().nullable(),
  /** Filled from a live `stats` / `active_queues` round (refresh=true, and always on the detail route). */
  pool: poolSchema.nullable(),
  concurrency: z.number().nullable(),
  queues: z.array(z.string()).nullable(),
});

type WorkerBody = z.infer<typeof workerSchema>;

const detailSchema = workerSchema.extend({
  answered: z.boolean().describe('the worker answered remote control within the timeout'),
  stats: z.record(z.string(), z.unknown()).nullable(),
  registered: z.array(z.string()).nullable(),
  activeTasks: z.array(z.unknown()).nullable(),
  reserved: z.array(z.unknown()).nullable(),
  scheduled: z.array(z.unknown()).nullable(),
  consumers: z.array(z.unknown()).nullable().describe('the `active_queues` reply: kombu queue declarations'),
  conf: z.record(z.string(), z.unknown()).nullable().describe('settings changed from the defaults, passwords masked'),
});

const actionReply = z.object({ worker: z.string(), ok: z.unknown() });

const nameParams = z.object({ name: workerName });

/** The problems a call to a worker can end in: bad input, unknown worker, refused, no remote control, silence. */
const actionProblems = { 400: problemSchema, 404: problemSchema, 409: problemSchema, 502: problemSchema, 503: problemSchema, 504: problemSchema };
const timeoutQuery = z.object({ timeout: timeoutSeconds });

export function registerWorkerRoutes(api: ApiInstance, ctx: ApiContext): void {
  api.get('/api/v1/workers', {
    schema: {
      tags: TAGS,
      summary: 'Every worker the monitor has seen; with refresh=true, pool, concurrency and queues asked live',
      querystring: z.object({
        refresh: z.enum(['true', 'false', '1', '0']).optional().describe('ask every worker for stats and active_queues now'),
        timeout: timeoutSeconds,
      }),
      response: { 200: z.object({ workers: z.array(workerSchema), refreshed: z.boolean() }), 400: problemSchema, 503: problemSchema },
    },
  }, async (req) => {
    const byName = new Map(ctx.monitor.workers().map((w) => [w.hostname, fromMonitor(w)]));
    const refresh = req.query.refresh === 'true' || req.query.refresh === '1';
    if (!refresh || !(await hasMailbox(ctx))) return { workers: sorted(byName), refreshed: false };
    const client = await controlOf(ctx);
    const timeout = req.query.timeout * 1000;
    const [stats, queues] = await Promise.all([client.inspect('stats', {}, { timeout }), client.inspect('active_queues', {}, { timeout })]);
    for (const name of new Set([...Object.keys(stats), ...Object.keys(queues)])) {
      const worker = byName.get(name) ?? unseen(name);
      // Answering now is as good as a heartbeat: a worker started a moment ago has sent none yet.
      worker.online = true;
      fillLive(worker, stats[name], queues[name]);
      byName.set(name, worker);
    }
    return { workers: sorted(byName), refreshed: true };
  });

  api.get('/api/v1/workers/:name', {
    schema: {
      tags: TAGS,
      summary: "One worker: its heartbeat, and live stats, pool, registered tasks, active, reserved and scheduled tasks, consumers and settings",
      params: nameParams,
      querystring: timeoutQuery,
      response: { 200: detailSchema, 400: problemSchema, 404: problemSchema, 503: problemSchema },
    },
  }, async (req) => {
    const { name } = req.params;
    const seen = ctx.monitor.worker(name);
    const mailbox = await hasMailbox(ctx);
    const ask = mailbox ? await liveDetail(ctx, name, req.query.timeout * 1000) : null;
    if (!seen && !ask?.answered) {
      throw new Problem(404, `no worker named ${name} has been seen${mailbox ? ` or answered within ${req.query.timeout} s` : ''}`, { field: '/params/name' });
    }
    const worker = seen ? fromMonitor(seen) : unseen(name);
    if (!ask?.answered) return { ...worker, ...EMPTY_DETAIL };
    worker.online = true;
    fillLive(worker, ask.stats, ask.consumers);
    return {
      ...worker,
      answered: true,
      stats: maskSecrets(record(ask.stats)) as Record<string, unknown> | null,
      registered: Array.isArray(ask.registered) ? ask.registered.map(taskNameOf) : null,
      activeTasks: list(ask.active),
      reserved: list(ask.reserved),
      scheduled: list(ask.scheduled),
      consumers: list(ask.consumers),
      conf: ask.conf === undefined || errorOf(ask.conf) !== null ? null : (maskSecrets(record(ask.conf)) as Record<string, unknown> | null),
    };
  });

  const growBody = z.strictObject({ n: z.number().int().min(1).max(10_000).describe('slots to add or remove') });
  const actions: WorkerAction[] = [
    { path: '/pool/grow', summary: 'Run n more tasks at once (pool_grow)', body: growBody, command: (b) => ({ method: 'pool_grow', args: { n: b.n } }) },
    { path: '/pool/shrink', summary: 'Run n fewer tasks at once (pool_shrink)', body: growBody, command: (b) => ({ method: 'pool_shrink', args: { n: b.n } }) },
    {
      path: '/autoscale',
      summary: 'New autoscale bounds (the worker must have been started with autoscale)',
      body: z
        .strictObject({ max: z.number().int().min(1).max(10_000), min: z.number().int().min(0).max(10_000).optional() })
        .refine((b) => b.min === undefined || b.min <= b.max, { message: 'min must not be above max', path: ['min'] }),
      command: (b) => ({ method: 'autoscale', args: { max: b.max, min: b.min ?? null } }),
    },
    {
      path: '/consumers',
      summary: 'Start consuming from a queue (add_consumer)',
      body: z.strictObject({
        queue: queueNameSchema,
        exchange: z.string().min(1).max(255).optional(),
        exchangeType: z.enum(['direct', 'topic', 'fanout', 'headers']).optional(),
        routingKey: z.string().max(255).optional(),
      }),
      command: (b) => ({ method: 'add_consumer', args: { queue: b.queue, exchange: b.exchange ?? null, exchange_type: b.exchangeType ?? null, routing_key: b.routingKey ?? null } }),
    },
    {
      path: '/consumers/:queue',
      httpMethod: 'DELETE',
      summary: 'Stop consuming from a queue (cancel_consumer)',
      params: z.object({ name: workerName, queue: queueNameSchema }),
      command: (_b, p) => ({ method: 'cancel_consumer', args: { queue: p.queue } }),
    },
  ];
  for (const action of actions) registerAction(api, ctx, action);

  api.post('/api/v1/workers/:name/shutdown', {
    schema: {
      tags: TAGS,
      summary: 'Warm shutdown: the worker finishes its running tasks and stops (sent once it answers a ping)',
      params: nameParams,
      querystring: timeoutQuery,
      response: { 202: actionReply, ...actionProblems },
    },
  }, async (req, reply) => {
    const { name } = req.params;
    const client = await controlOf(ctx);
    // Celery never answers `shutdown`, so a ping first tells a worker that will act from one that is not there.
    const pong = await askWorker(client, name, 'ping', {}, req.query.timeout * 1000);
    if (pong === undefined) throw silent(ctx, name, req.query.timeout);
    await client.broadcast('shutdown', { destination: [name], reply: false });
    return reply.code(202).send({ worker: name, ok: 'shutdown requested' });
  });
}

/** A remote-control command on one worker that answers `{ok}` or `{error}`. */
interface WorkerAction {
  path: string;
  httpMethod?: 'POST' | 'DELETE';
  summary: string;
  params?: z.ZodObject;
  body?: z.ZodType<Record<string, unknown>>;
  command(body: Record<string, unknown>, params: { name: string; queue?: string }): { method: string; args: Record<string, unknown> };
}

function registerAction(api: ApiInstance, ctx: ApiContext, action: WorkerAction): void {
  api.route({
    method: action.httpMethod ?? 'POST',
    url: `/api/v1/workers/:name${action.path}`,
    schema: {
      tags: TAGS,
      summary: action.summary,
      params: action.params ?? nameParams,
      querystring: timeoutQuery,
      ...(action.body ? { body: action.body } : {}),
      response: { 200: actionReply, ...actionProblems },
    },
    handler: async (req) => {
      const params = req.params as { name: string; queue?: string };
      const { method, args } = action.command((req.body ?? {}) as Record<string, unknown>, params);
      const timeout = (req.query as { timeout: number }).timeout;
      const reply = await askWorker(await controlOf(ctx), params.name, method, args, timeout * 1000);
      if (reply === undefined) throw silent(ctx, params.name, timeout);
      return { worker: params.name, ok: okOf(params.name, method, reply) };
    },
  });
}

const EMPTY_DETAIL = { answered: false, stats: null, registered: null, activeTasks: null, reserved: null, scheduled: null, consumers: null, conf: null };

interface LiveDetail {
  answered: boolean;
  stats: unknown;
  registered: unknown;
  active: unknown;
  reserved: unknown;
  scheduled: unknown;
  consumers: unknown;
  conf: unknown;
}

/** Every inspect call of the detail page at once, each ending as soon as the one worker has answered. */
async function liveDetail(ctx: ApiContext, name: string, timeoutMs: number): Promise<LiveDetail> {
  const client = await controlOf(ctx);
  const ask = (method: string, args: Record<string, unknown> = {}) => askWorker(client, name, method, args, timeoutMs);
  const [stats, registered, active, reserved, scheduled, consumers, conf] = await Promise.all([
    ask('stats'),
    ask('registered'),
    ask('active'),
    ask('reserved'),
    ask('scheduled'),
    ask('active_queues'),
    ask('conf', { with_defaults: false }),
  ]);
  const answered = [stats, registered, active, reserved, scheduled, consumers].some((v) => v !== undefined);
  return { answered, stats, registered, active, reserved, scheduled, consumers, conf };
}

/** A worker as the list shows it from its heartbeats alone (the live fields need a remote-control round). */
export function fromMonitor(w: WorkerInfo): WorkerBody {
  return {
    name: w.hostname,
    online: w.online,
    lastHeartbeat: w.lastHeartbeat,
    heartbeatInterval: w.freq,
    active: w.active,
    processed: w.processed,
    loadavg: w.loadavg,
    pid: w.pid,
    swIdent: w.swIdent,
    swVer: w.swVer,
    swSys: w.swSys,
    pool: null,
    concurrency: null,
    queues: null,
  };
}

/** A worker that answered remote control but has sent no heartbeat the monitor received. */
function unseen(name: string): WorkerBody {
  return {
    name,
    online: false,
    lastHeartbeat: null,
    heartbeatInterval: null,
    active: null,
    processed: null,
    loadavg: null,
    pid: null,
    swIdent: null,
    swVer: null,
    swSys: null,
    pool: null,
    concurrency: null,
    queues: null,
  };
}

/** Pool, concurrency and queues from a `stats` and an `active_queues` reply (Celery's and Celerity's shapes). */
function fillLive(worker: WorkerBody, stats: unknown, queues: unknown): void {
  const s = record(stats);
  const pool = record(s?.pool);
  if (pool) {
    const max = pool['max-concurrency'];
    worker.pool = {
      implementation: typeof pool.implementation === 'string' ? pool.implementation : null,
      maxConcurrency: typeof max === 'number' ? max : null,
      processes: Array.isArray(pool.processes) ? pool.processes.filter((p): p is number => typeof p === 'number') : [],
    };
    worker.concurrency = worker.pool.maxConcurrency;
  }
  if (worker.pid === null && typeof s?.pid === 'number') worker.pid = s.pid;
  if (Array.isArray(queues)) worker.queues = queueNames(queues);
}

/** `inspect registered` lists `name [rate_limit=10/s ...]` when a task has routing or rate attributes set. */
function taskNameOf(entry: unknown): string {
  const text = String(entry);
  const bracket = text.indexOf(' [');
  return bracket < 0 ? text : text.slice(0, bracket);
}

function sorted(byName: Map<string, WorkerBody>): WorkerBody[] {
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function okOf(name: string, command: string, reply: unknown): unknown {
  const error = errorOf(reply);
  if (error !== null) {
    // kombu answers a command it has no handler for with KeyError('<name>').
    if (error.startsWith('KeyError(')) throw new Problem(502, `worker ${name} does not support ${command}: ${error}`);
    throw new Problem(409, `worker ${name} refused ${command}: ${error}`);
  }
  if (reply && typeof reply === 'object' && !Array.isArray(reply) && 'ok' in reply) return (reply as { ok: unknown }).ok;
  throw new Problem(502, `worker ${name} answered ${command} with neither ok nor error: ${JSON.stringify(reply)}`);
}

function silent(ctx: ApiContext, name: string, timeout: number): Problem {
  if (!ctx.monitor.worker(name)) return new Problem(404, `no worker named ${name} has been seen or answered within ${timeout} s`, { field: '/params/name' });
  return new Problem(504, `worker ${name} did not answer within ${timeout} s`);
}

function record(value: unknown): Record<string, unknown> | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function list(value: unknown): unknown[] | null {
  return Array.isArray(value) ? value : null;
}

const SECRET_KEY = /pass|secret|token|signature|api_?key|private/i;

/**
 * Both Celery and Celerity leave passwords out of their settings and stats already; this also covers a worker that
 * does not, since read-only callers may see this page.
 */
function maskSecrets(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key) && value !== '') return '********';
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]+@/i, '$1********@');
  }
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  return value;
}
