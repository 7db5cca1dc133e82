/**
 * /api/v1/tasks: list the history, send a task by name, read one task (history merged with the result store),
 * revoke, retry with the original arguments, the same in bulk by filter, and the canvas tree around a task.
 *
 * A task id neither the history nor the result store knows reads as PENDING with `known: false`, as Celery's
 * AsyncResult does (a sent task has no record until something happens to it), rather than 404.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { TaskQuery, TaskRecord } from '../../history/port.js';
import { argsRepr, kwargsRepr } from '../../protocol/repr.js';
import type { ApiContext, ApiInstance } from '../context.js';
import { Problem } from '../problem.js';
import { problemSchema, taskDetailSchema, taskFilterShape, taskIdParams, taskIdSchema, taskListQuery, taskPageSchema, type TaskFilter } from '../schemas.js';
import { FINISHED_STATES, mergedState, resultMeta, taskTree, taskView } from '../task-view.js';

const TAGS = ['tasks'];
const problems = { 400: problemSchema, 404: problemSchema, 409: problemSchema, 503: problemSchema };

/** Ten years: a longer delay is a mistake, and would not fit a date. */
const MAX_DELAY_S = 10 * 365 * 86400;

const sendOptions = z.strictObject({
  queue: z.string().min(1).max(255).optional(),
  countdown: z.number().nonnegative().max(MAX_DELAY_S).optional().describe('seconds from now before it may run'),
  eta: z.iso.datetime({ offset: true }).optional().describe('no earlier than this time (ISO 8601)'),
  expires: z.union([z.number().nonnegative().max(MAX_DELAY_S), z.iso.datetime({ offset: true })]).optional().describe('seconds from now, or an ISO 8601 time'),
  priority: z.number().int().min(0).max(9).optional(),
  taskId: taskIdSchema.optional(),
  headers: z.record(z.string(), z.unknown()).optional(),
});

const sendBody = z.strictObject({
  name: z.string().min(1).max(255).describe('the task name, registered here or not (as Celery send_task)'),
  args: z.array(z.unknown()).default([]),
  kwargs: z.record(z.string(), z.unknown()).default({}),
  options: sendOptions.optional(),
});

const accepted = z.object({ id: z.string(), state: z.literal('PENDING'), url: z.string() });

const bulkBody = z.strictObject({
  filter: z.strictObject(taskFilterShape).default({}),
  limit: z.number().int().min(1).max(1000).default(100),
  all: z.boolean().default(false).describe('required to act on every task when the filter is empty'),
  terminate: z.boolean().default(false).describe('revoke: also stop the tasks that are running'),
  signal: z.string().regex(/^[A-Z0-9]+$/).default('SIGTERM'),
});

const bulkResult = z.object({
  matched: z.number().describe('tasks matching the filter'),
  retried: z.array(z.string()).optional().describe('ids of the new tasks'),
  revoked: z.array(z.string()).optional(),
  skipped: z.array(z.object({ id: z.string(), reason: z.string() })),
});

const treeNode = z.object({ id: z.string(), name: z.string().nullable(), state: z.string(), parentId: z.string().nullable(), depth: z.number() });

const boolText = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export function registerTaskRoutes(api: ApiInstance, ctx: ApiContext): void {
  api.get(
    '/api/v1/tasks',
    { schema: { tags: TAGS, summary: 'Tasks in the history, newest first', querystring: taskListQuery, response: { 200: taskPageSchema, 400: problemSchema } } },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      try {
        return await ctx.monitor.history.list({ ...taskQuery(filter), limit, cursor });
      } catch (err) {
        if (cursor !== undefined && err instanceof TypeError) throw new Problem(400, `not a cursor this API handed out: ${err.message}`, { field: '/query/cursor' });
        throw err;
      }
    },
  );

  api.post(
    '/api/v1/tasks',
    { schema: { tags: TAGS, summary: 'Send a task by name', body: sendBody, response: { 202: accepted, ...problems } } },
    async (request, reply) => {
      const { name, args, kwargs, options = {} } = request.body;
      const id = await send(ctx, name, args, kwargs, options, null);
      return reply.code(202).send({ id, state: 'PENDING' as const, url: `/api/v1/tasks/${encodeURIComponent(id)}` });
    },
  );

  api.post(
    '/api/v1/tasks/retry',
    { schema: { tags: TAGS, summary: 'Retry the finished tasks matching a filter with their original arguments', body: bulkBody, response: { 200: bulkResult, ...problems } } },
    async (request) => {
      const { matched, tasks } = await selectBulk(ctx, request.body);
      const retried: string[] = [];
      const skipped: { id: string; reason: string }[] = [];
      for (const task of tasks) {
        try {
          retried.push(await retry(ctx, task.id));
        } catch (err) {
          if (!(err instanceof Problem) || err.status >= 500) throw err;
          skipped.push({ id: task.id, reason: err.message });
        }
      }
      return { matched, retried, skipped };
    },
  );

  api.post(
    '/api/v1/tasks/revoke',
    { schema: { tags: TAGS, summary: 'Revoke the unfinished tasks matching a filter', body: bulkBody, response: { 200: bulkResult, ...problems } } },
    async (request) => {
      const { terminate, signal } = request.body;
      const { matched, tasks } = await selectBulk(ctx, request.body);
      const skipped = tasks.filter((t) => FINISHED_STATES.has(t.state)).map((t) => ({ id: t.id, reason: `already finished (${t.state})` }));
      const revoked = tasks.filter((t) => !FINISHED_STATES.has(t.state)).map((t) => t.id);
      await revoke(ctx, revoked, terminate, signal);
      return { matched, revoked, skipped };
    },
  );

  api.get(
    '/api/v1/tasks/:id',
    { schema: { tags: TAGS, summary: 'One task: its history merged with the result store', params: taskIdParams, response: { 200: taskDetailSchema, ...problems } } },
    (request) => taskView(ctx, request.params.id),
  );

  api.delete(
    '/api/v1/tasks/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Revoke a task: it will not run; with terminate=true, stop it if running',
        params: taskIdParams,
        querystring: z.strictObject({ terminate: boolText.default(false), signal: z.string().regex(/^[A-Z0-9]+$/).default('SIGTERM') }),
        response: { 202: z.object({ id: z.string(), revoked: z.literal(true), terminate: z.boolean() }), ...problems },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { terminate, signal } = request.query;
      await revoke(ctx, [id], terminate, signal);
      return reply.code(202).send({ id, revoked: true as const, terminate });
    },
  );

  api.post(
    '/api/v1/tasks/:id/retry',
    {
      schema: {
        tags: TAGS,
        summary: 'Send a finished task again with its original arguments, as a new task',
        params: taskIdParams,
        response: { 202: z.object({ id: z.string(), retryOf: z.string(), url: z.string() }), ...problems },
      },
    },
    async (request, reply) => {
      const id = await retry(ctx, request.params.id);
      return reply.code(202).send({ id, retryOf: request.params.id, url: `/api/v1/tasks/${encodeURIComponent(id)}` });
    },
  );

  api.get(
    '/api/v1/tasks/:id/tree',
    {
      schema: {
        tags: TAGS,
        summary: 'The canvas around a task: parent, descendants, group members',
        params: taskIdParams,
        querystring: z.strictObject({ depth: z.coerce.number().int().min(1).max(10).default(3).describe('levels of descendants') }),
        response: {
          200: z.object({
            id: z.string(),
            rootId: z.string().nullable(),
            task: treeNode,
            parent: treeNode.nullable(),
            children: z.array(treeNode).describe('descendants, breadth first'),
            group: z.object({ id: z.string(), members: z.array(treeNode) }).nullable(),
            truncated: z.boolean().describe('more descendants or members exist than are listed'),
          }),
          ...problems,
        },
      },
    },
    (request) => taskTree(ctx, request.params.id, request.query.depth),
  );
}

function taskQuery(filter: TaskFilter): TaskQuery {
  return {
    ...(filter.state?.length ? { state: filter.state } : {}),
    ...(filter.name !== undefined ? { name: filter.name } : {}),
    ...(filter.worker !== undefined ? { worker: filter.worker } : {}),
    ...(filter.queue !== undefined ? { queue: filter.queue } : {}),
    ...(filter.since !== undefined ? { since: filter.since } : {}),
    ...(filter.until !== undefined ? { until: filter.until } : {}),
    ...(filter.q !== undefined ? { text: filter.q } : {}),
  };
}

/** Sends `name` and records it in the history with its exact arguments; resolves to the task id. */
async function send(
  ctx: ApiContext,
  name: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
  options: z.output<typeof sendOptions> & { parentId?: string; rootId?: string },
  retryOf: string | null,
): Promise<string> {
  const app = ctx.app;
  const queue = options.queue ?? app.tasks.get(name)?.options.queue ?? app.router.route(name).queue;
  const taskId = options.taskId ?? randomUUID();
  const now = Date.now();
  try {
    await app.sendTask(name, args, { ...options, kwargs, queue, taskId });
  } catch (err) {
    const e = err as Error;
    if (e.name === 'EncodeError') throw new Problem(400, `the arguments cannot be sent: ${e.message}`, { field: '/body/args' });
    if (e instanceof TypeError || e instanceof RangeError) throw new Problem(400, e.message, { field: '/body/options' });
    throw new Problem(503, `the task could not be sent: ${e.message}`);
  }
  const eta = options.eta ?? (options.countdown ? new Date(now + options.countdown * 1000).toISOString() : null);
  const expires = options.expires === undefined ? null : typeof options.expires === 'number' ? new Date(now + options.expires * 1000).toISOString() : options.expires;
  ctx.monitor.record({
    id: taskId,
    timestamp: now,
    state: 'PENDING',
    fields: {
      name,
      queue,
      args: argsRepr(args),
      kwargs: kwargsRepr(kwargs),
      argsJson: JSON.stringify(args),
      kwargsJson: JSON.stringify(kwargs),
      eta,
      expires,
      retries: 0,
      parentId: options.parentId ?? null,
      rootId: options.rootId ?? taskId,
    },
    timeline: { type: 'api-sent', timestamp: now, hostname: null, fields: JSON.stringify({ queue, ...(retryOf ? { retryOf } : {}) }) },
  });
  return taskId;
}

async function revoke(ctx: ApiContext, ids: readonly string[], terminate: boolean, signal: string): Promise<void> {
  if (!ids.length) return;
  try {
    await ctx.app.revokeTasks(ids, { terminate, signal });
  } catch (err) {
    throw new Problem(503, `the revocation could not be sent: ${(err as Error).message}`);
  }
  const now = Date.now();
  for (const id of ids) {
    ctx.monitor.record({ id, timestamp: now, timeline: { type: 'api-revoke', timestamp: now, hostname: null, fields: JSON.stringify({ terminate, signal }) } });
  }
}

/** Sends a finished task again under a new id with its exact original arguments; resolves to the new id. */
async function retry(ctx: ApiContext, id: string): Promise<string> {
  // What this API sent a moment ago may still wait in the monitor's buffer.
  await ctx.monitor.flush();
  const [record, meta] = await Promise.all([ctx.monitor.history.get(id), resultMeta(ctx, id)]);
  const state = mergedState(record, meta);
  if (!FINISHED_STATES.has(state)) {
    const unknown = !record && !meta ? ' (neither the history nor the result store knows it)' : '';
    throw new Problem(409, `task ${id} is ${state}${unknown}: only a finished task (SUCCESS, FAILURE, REVOKED, REJECTED) can be retried`);
  }
  const name = record?.name ?? meta?.name ?? null;
  if (!name) throw new Problem(409, `the name of task ${id} is not known, so it cannot be sent again`);
  const args = exactArgs(record, meta?.args);
  const kwargs = exactKwargs(record, meta?.kwargs);
  if (!args || !kwargs) {
    throw new Problem(
      409,
      `the exact arguments of task ${id} are not known (only their repr text ${record?.args ?? '?'} ${record?.kwargs ?? ''} was seen): ` +
        'tasks sent through this API, or results stored with resultExtended, can be retried',
    );
  }
  const queue = record?.queue ?? meta?.queue ?? undefined;
  const newId = await send(ctx, name, args, kwargs, { ...(queue ? { queue } : {}), ...(record?.parentId ? { parentId: record.parentId } : {}) }, id);
  const now = Date.now();
  ctx.monitor.record({ id, timestamp: now, timeline: { type: 'api-retry', timestamp: now, hostname: null, fields: JSON.stringify({ newId }) } });
  return newId;
}

/**
 * The arguments to send again: an extended result's first (what the worker that ran it received, exactly), then the
 * history's (sent through the API, or a repr that read back as a plain literal; a producer's custom argsrepr could
 * read as one and yet differ from the arguments).
 */
function exactArgs(record: TaskRecord | null, metaArgs: unknown): unknown[] | null {
  if (Array.isArray(metaArgs)) return metaArgs;
  const parsed = parseExact(record?.argsJson);
  if (Array.isArray(parsed)) return parsed;
  return record?.args === '()' ? [] : null;
}

function exactKwargs(record: TaskRecord | null, metaKwargs: unknown): Record<string, unknown> | null {
  if (isObject(metaKwargs)) return metaKwargs;
  const parsed = parseExact(record?.kwargsJson);
  if (isObject(parsed)) return parsed;
  return record?.kwargs === '{}' ? {} : null;
}

function parseExact(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** The tasks a bulk call acts on: the filter's newest `limit`, and how many match in all. */
async function selectBulk(ctx: ApiContext, body: { filter: TaskFilter; limit: number; all: boolean }): Promise<{ matched: number; tasks: TaskRecord[] }> {
  const query = taskQuery(body.filter);
  if (!Object.keys(query).length && !body.all) {
    throw new Problem(400, 'an empty filter selects every task: give a filter, or all: true to mean it', { field: '/body/filter' });
  }
  const history = ctx.monitor.history;
  const tasks: TaskRecord[] = [];
  let cursor: string | undefined;
  while (tasks.length < body.limit) {
    const page = await history.list({ ...query, limit: Math.min(1000, body.limit - tasks.length), ...(cursor ? { cursor } : {}) });
    tasks.push(...page.tasks);
    if (!page.next) break;
    cursor = page.next;
  }
  return { matched: await history.count(query), tasks };
}
