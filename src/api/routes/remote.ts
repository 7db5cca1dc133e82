/**
 * What the worker and queue routes share about asking workers over remote control: the timeout parameter, the
 * control client (a 503 problem when the broker has no mailbox), one worker's answer to one command, and the queue
 * names in an `active_queues` reply.
 */
import { z } from 'zod';
import type { ControlClient } from '../../control/client.js';
import type { ApiContext } from '../context.js';
import { Problem } from '../problem.js';

/** Seconds to wait for a worker's reply: Celery's 1 s by default, at most a minute so a request cannot hang. */
export const timeoutSeconds = z.coerce
  .number()
  .min(0.01)
  .max(60)
  .default(1)
  .describe('seconds to wait for the worker to answer (default 1, at most 60)');

/** A queue name as a path parameter or body field: not empty, at most 255 characters, no control characters. */
export const queueNameSchema = z
  .string()
  .min(1)
  .max(255)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .regex(/^[^\u0000-\u001f\u007f-\u009f]+$/, 'a queue name cannot contain control characters');

/** True when the app's broker carries remote control (Redis, RabbitMQ, the embedded SQLite store, memory). */
export async function hasMailbox(ctx: ApiContext): Promise<boolean> {
  return typeof (await ctx.app.broker()).mailbox === 'function';
}

export async function controlOf(ctx: ApiContext): Promise<ControlClient> {
  try {
    return await ctx.control();
  } catch (err) {
    throw new Problem(503, `remote control is not available on this broker: ${(err as Error).message}`);
  }
}

/**
 * The value `name` replied to `method`, or undefined when it did not answer within `timeoutMs`. The call ends as
 * soon as that one worker has answered.
 */
export async function askWorker(
  client: ControlClient,
  name: string,
  method: string,
  args: Record<string, unknown>,
  timeoutMs: number,
): Promise<unknown> {
  const replies = await client.broadcast(method, { arguments: args, destination: [name], reply: true, timeout: timeoutMs, limit: 1 });
  for (const reply of replies) if (Object.hasOwn(reply, name)) return reply[name];
  return undefined;
}

/** The queue names in an `active_queues` reply (a list of kombu queue declarations); [] for anything else. */
export function queueNames(reply: unknown): string[] {
  if (!Array.isArray(reply)) return [];
  const names = reply.map((q: unknown) => (q && typeof q === 'object' ? (q as { name?: unknown }).name : undefined));
  return [...new Set(names.filter((n): n is string => typeof n === 'string'))];
}

/** A worker's `{error: text}` reply, or null when the reply is not one. */
export function errorOf(reply: unknown): string | null {
  if (!reply || typeof reply !== 'object' || Array.isArray(reply)) return null;
  const error = (reply as { error?: unknown }).error;
  return error === undefined ? null : String(error);
}
