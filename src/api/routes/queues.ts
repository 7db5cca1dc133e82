/**
 * Queues: every queue the app knows (its default queue, the configured and the routed ones) and every queue a
 * worker consumes, each with the messages waiting (the broker's count), how many workers consume it (their
 * `active_queues` replies; null when the broker has no remote control), how long its oldest message has waited,
 * and a `no-consumer` warning when messages wait that nobody will take.
 *
 * The oldest message's age comes from the broker where it keeps enqueue times (`oldestMessageAge`: the SQLite
 * store); elsewhere (Redis lists, RabbitMQ) from the history: the oldest task of that queue still PENDING, that is
 * sent and not yet received by any worker. That is an estimate (a task whose events were lost stays PENDING), so
 * the response says which source each age came from.
 */
import { z } from 'zod';
import type { Broker } from '../../broker/port.js';
import type { HistoryStore } from '../../history/port.js';
import type { ApiContext, ApiInstance } from '../context.js';
import { Problem } from '../problem.js';
import { problemSchema } from '../schemas.js';
import { controlOf, hasMailbox, queueNameSchema, queueNames, timeoutSeconds } from './remote.js';

const TAGS = ['queues'];

const queueSchema = z.object({
  name: z.string(),
  messages: z.number().describe('messages waiting (ready or delayed), not counting those reserved by workers'),
  consumers: z.number().nullable().describe('workers consuming the queue; null when the broker carries no remote control'),
  consumerNames: z.array(z.string()).nullable(),
  oldestMessageAgeSeconds: z.number().nullable().describe('how long the oldest waiting message has waited; null when none waits or it cannot be told'),
  oldestMessageAgeSource: z
    .enum(['broker', 'history'])
    .nullable()
    .describe('broker: the enqueue time the broker keeps; history: the oldest task of the queue still PENDING in the task history'),
  warning: z.enum(['no-consumer']).nullable().describe('no-consumer: messages wait and no worker consumes the queue'),
});

type QueueBody = z.infer<typeof queueSchema>;


/** The history pages at most this many tasks per list call. */
const HISTORY_PAGE = 1000;

export function registerQueueRoutes(api: ApiInstance, ctx: ApiContext): void {
  api.get('/api/v1/queues', {
    schema: {
      tags: TAGS,
      summary: 'Every known queue with its depth, consumers, oldest message age and warnings',
      querystring: z.object({ timeout: timeoutSeconds }),
      response: { 200: z.object({ queues: z.array(queueSchema) }), 400: problemSchema, 503: problemSchema },
    },
  }, async (req) => {
    const consumed = await consumersByQueue(ctx, req.query.timeout * 1000);
    const names = [...new Set([...knownQueues(ctx), ...(consumed ? consumed.keys() : [])])].sort();
    return { queues: await Promise.all(names.map((name) => queueRow(ctx, name, consumed))) };
  });

  api.get('/api/v1/queues/:name', {
    schema: {
      tags: TAGS,
      summary: 'One queue: depth, consumers, oldest message age and warnings',
      params: z.object({ name: queueNameSchema }),
      querystring: z.object({ timeout: timeoutSeconds }),
      response: { 200: queueSchema, 400: problemSchema, 404: problemSchema, 503: problemSchema },
    },
  }, async (req) => {
    const { name } = req.params;
    const consumed = await consumersByQueue(ctx, req.query.timeout * 1000);
    const queue = await queueRow(ctx, name, consumed);
    // Redis and SQLite cannot tell an empty queue from one that never existed: an unknown name is a 404 only when
    // nothing waits in it.
    if (queue.messages === 0 && !knownQueues(ctx).includes(name) && !consumed?.has(name)) {
      throw new Problem(404, `queue ${name} is not configured, routed to or consumed by any worker, and holds no messages`, { field: '/params/name' });
    }
    return queue;
  });
}

function knownQueues(ctx: ApiContext): string[] {
  const conf = ctx.app.conf;
  return [...new Set([conf.defaultQueue, ...(conf.queues ?? []), ...ctx.app.router.queues()])];
}

/** The workers consuming each queue, by name; null when the broker has no remote control to ask. */
async function consumersByQueue(ctx: ApiContext, timeoutMs: number): Promise<Map<string, string[]> | null> {
  if (!(await hasMailbox(ctx))) return null;
  const replies = await (await controlOf(ctx)).inspect('active_queues', {}, { timeout: timeoutMs });
  const byQueue = new Map<string, string[]>();
  for (const [worker, reply] of Object.entries(replies)) {
    for (const queue of queueNames(reply)) byQueue.set(queue, [...(byQueue.get(queue) ?? []), worker].sort());
  }
  return byQueue;
}

async function queueRow(ctx: ApiContext, name: string, consumed: Map<string, string[]> | null): Promise<QueueBody> {
  const broker = await ctx.app.broker();
  const messages = await broker.size(name);
  const consumerNames = consumed ? (consumed.get(name) ?? []) : null;
  const age = messages > 0 ? await oldestAge(broker, ctx.monitor.history, name) : { seconds: null, source: null };
  return {
    name,
    messages,
    consumers: consumerNames ? consumerNames.length : null,
    consumerNames,
    oldestMessageAgeSeconds: age.seconds,
    oldestMessageAgeSource: age.source,
    warning: messages > 0 && consumerNames !== null && consumerNames.length === 0 ? 'no-consumer' : null,
  };
}

async function oldestAge(broker: Broker, history: HistoryStore, queue: string): Promise<{ seconds: number | null; source: 'broker' | 'history' | null }> {
  if (broker.oldestMessageAge) return { seconds: await broker.oldestMessageAge(queue), source: 'broker' };
  const since = await oldestPending(history, queue);
  return since === null ? { seconds: null, source: null } : { seconds: Math.max(0, Date.now() - since) / 1000, source: 'history' };
}

/**
 * When the oldest task of `queue` still PENDING was first seen (epoch ms), or null. The history lists newest
 * first, so past one page the oldest is found by halving a time bound with counts (about 40 indexed counts at
 * worst) instead of reading every page.
 */
export async function oldestPending(history: HistoryStore, queue: string): Promise<number | null> {
  const query = { state: ['PENDING'], queue };
  const total = await history.count(query);
  if (total === 0) return null;
  const page = await history.list({ ...query, limit: HISTORY_PAGE });
  const last = page.tasks[page.tasks.length - 1];
  if (!last) return null;
  if (page.next === null || total <= page.tasks.length) return last.createdAt;
  // Invariant: no pending task before `lo`, at least one before `hi`.
  let lo = 0;
  let hi = last.createdAt + 1;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await history.count({ ...query, until: mid })) > 0) hi = mid;
    else lo = mid;
  }
  return hi - 1;
}
