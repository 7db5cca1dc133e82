/**
 * Dead letters: the messages workers could not process (unknown task, unreadable body, rejected), kept by the
 * broker until someone requeues or deletes them. Listing shows an arguments preview read from the stored message;
 * requeue and delete name ids (or, for requeue, every letter of a queue), and report ids that were not found.
 */
import { z } from 'zod';
import type { Broker, DeadLetter } from '../../broker/port.js';
import type { ApiContext, ApiInstance } from '../context.js';
import { Problem } from '../problem.js';
import { problemSchema } from '../schemas.js';
import { queueNameSchema } from './remote.js';

const TAGS = ['dead-letters'];

/** Longest arguments preview, in characters: enough to recognise a message, not its whole payload. */
const PREVIEW_CHARS = 200;
/** The most ids one request may name. */
const MAX_IDS = 1000;

const letterId = z
  .string()
  .min(1, 'a dead-letter id cannot be empty')
  .max(255, 'a dead-letter id is at most 255 characters')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .regex(/^[^\u0000-\u001f\u007f-\u009f]+$/, 'a dead-letter id cannot contain control characters');


const ids = z
  .array(letterId)
  .min(1, 'name at least one id')
  .max(MAX_IDS, `at most ${MAX_IDS} ids at once`)
  .describe('dead-letter ids, as listed');

const letterSchema = z.object({
  id: z.string(),
  queue: z.string(),
  taskName: z.string().nullable(),
  taskId: z.string().nullable(),
  reason: z.string(),
  failedAt: z.number().describe('epoch ms'),
  argsPreview: z.string().nullable().describe('the arguments as the message shows them (its argsrepr, or its JSON body), shortened'),
});

const outcome = (verb: 'requeued' | 'deleted') =>
  z.object({
    [verb]: z.number().describe(`how many dead letters were ${verb}`),
    notFound: z.array(z.string()).describe('ids named that are not (or no longer) dead letters'),
    ...(verb === 'requeued' ? { unreadable: z.array(z.string()).describe('found but not readable as a message: left as they are') } : {}),
  });

export function registerDeadLetterRoutes(api: ApiInstance, ctx: ApiContext): void {
  api.get('/api/v1/dead-letters', {
    schema: {
      tags: TAGS,
      summary: 'Dead letters, newest first',
      querystring: z.object({
        queue: queueNameSchema.optional().describe('only the dead letters of this queue'),
        limit: z.coerce.number().int().min(1).max(MAX_IDS).default(100).describe(`at most this many (1 to ${MAX_IDS}, default 100)`),
      }),
      response: { 200: z.object({ deadLetters: z.array(letterSchema) }), 400: problemSchema },
    },
  }, async (req) => {
    const broker = await ctx.app.broker();
    const letters = await broker.listDeadLetters({ queue: req.query.queue, limit: req.query.limit });
    return { deadLetters: letters.map(letterRow) };
  });

  api.post('/api/v1/dead-letters/requeue', {
    schema: {
      tags: TAGS,
      summary: 'Put dead letters back on their queues: by id ({ids}), or every one ({all: true}, of one queue with {queue})',
      body: z
        .object({ ids: ids.optional(), all: z.literal(true).optional(), queue: queueNameSchema.optional() })
        .strict()
        .superRefine((b, issue) => {
          if (b.ids && b.all) issue.addIssue({ code: 'custom', message: 'name ids or pass all: true, not both', path: ['all'] });
          else if (!b.ids && !b.all) issue.addIssue({ code: 'custom', message: 'name the ids to requeue, or pass all: true', path: ['ids'] });
          if (b.queue !== undefined && !b.all) issue.addIssue({ code: 'custom', message: 'queue goes with all: true; named ids are requeued wherever they are', path: ['queue'] });
        }),
      response: { 200: outcome('requeued'), 400: problemSchema, 404: problemSchema },
    },
  }, async (req) => {
    const broker = await ctx.app.broker();
    if (req.body.all) {
      const chosen = (await everyLetter(broker, req.body.queue)).map((l) => l.id);
      const moved = chosen.length ? await broker.requeueDeadLetters(chosen) : 0;
      return { requeued: moved, notFound: [], unreadable: moved < chosen.length ? await stillThere(broker, chosen) : [] };
    }
    const { found, notFound } = await partition(broker, req.body.ids!);
    if (!found.length) throw noneFound(notFound);
    const moved = await broker.requeueDeadLetters(found);
    return { requeued: moved, notFound, unreadable: moved < found.length ? await stillThere(broker, found) : [] };
  });

  api.delete('/api/v1/dead-letters/:id', {
    schema: {
      tags: TAGS,
      summary: 'Delete one dead letter',
      params: z.object({ id: letterId }),
      response: { 200: outcome('deleted'), 400: problemSchema, 404: problemSchema },
    },
  }, async (req) => {
    const deleted = await (await ctx.app.broker()).deleteDeadLetters([req.params.id]);
    if (deleted === 0) throw new Problem(404, `no dead letter with id ${req.params.id}`, { field: '/params/id' });
    return { deleted, notFound: [] };
  });

  api.post('/api/v1/dead-letters/delete', {
    schema: {
      tags: TAGS,
      summary: 'Delete dead letters by id',
      body: z.object({ ids }).strict(),
      response: { 200: outcome('deleted'), 400: problemSchema, 404: problemSchema },
    },
  }, async (req) => {
    const broker = await ctx.app.broker();
    const { found, notFound } = await partition(broker, req.body.ids);
    if (!found.length) throw noneFound(notFound);
    return { deleted: await broker.deleteDeadLetters(found), notFound };
  });
}

function letterRow(letter: DeadLetter): z.infer<typeof letterSchema> {
  return {
    id: letter.id,
    queue: letter.queue,
    taskName: letter.taskName,
    taskId: letter.taskId,
    reason: letter.reason,
    failedAt: letter.failedAt.getTime(),
    argsPreview: argsPreview(letter.raw),
  };
}

function everyLetter(broker: Broker, queue?: string): Promise<DeadLetter[]> {
  return broker.listDeadLetters({ queue, limit: Number.MAX_SAFE_INTEGER });
}

/** The named ids split into those the broker holds and those it does not (one listing, whatever the count). */
async function partition(broker: Broker, named: readonly string[]): Promise<{ found: string[]; notFound: string[] }> {
  const held = new Set((await everyLetter(broker)).map((l) => l.id));
  const unique = [...new Set(named)];
  return { found: unique.filter((id) => held.has(id)), notFound: unique.filter((id) => !held.has(id)) };
}

async function stillThere(broker: Broker, ids: readonly string[]): Promise<string[]> {
  const held = new Set((await everyLetter(broker)).map((l) => l.id));
  return ids.filter((id) => held.has(id));
}

function noneFound(ids: readonly string[]): Problem {
  return new Problem(404, ids.length === 1 ? `no dead letter with id ${ids[0]}` : `none of the ${ids.length} ids is a dead letter`, { field: '/body/ids' });
}

/**
 * The arguments as the stored message shows them. Every broker keeps a JSON text with the headers and the body in
 * base64 (kombu's envelope on Redis and RabbitMQ, the row's parts on SQLite): protocol 2 headers carry `argsrepr`
 * and `kwargsrepr`; otherwise a JSON body `[args, kwargs, embed]` (or a protocol 1 body with args and kwargs).
 */
export function argsPreview(raw: string): string | null {
  let stored: unknown;
  try {
    stored = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(stored)) return null;
  const headers = isObject(stored.headers) ? stored.headers : {};
  if (typeof headers.argsrepr === 'string' || typeof headers.kwargsrepr === 'string') {
    return shorten(`${String(headers.argsrepr ?? '()')} ${String(headers.kwargsrepr ?? '{}')}`);
  }
  const contentType = stored['content-type'] ?? stored.content_type;
  if (typeof stored.body !== 'string' || (typeof contentType === 'string' && !contentType.includes('json'))) return null;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(stored.body, 'base64').toString('utf8'));
  } catch {
    return null;
  }
  if (Array.isArray(body)) return shorten(`${JSON.stringify(body[0] ?? [])} ${JSON.stringify(body[1] ?? {})}`);
  if (isObject(body) && ('args' in body || 'kwargs' in body)) return shorten(`${JSON.stringify(body.args ?? [])} ${JSON.stringify(body.kwargs ?? {})}`);
  return null;
}

function shorten(text: string): string {
  return text.length <= PREVIEW_CHARS ? text : `${text.slice(0, PREVIEW_CHARS - 1)}…`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
