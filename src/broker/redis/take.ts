/**
 * The caller of reserve.lua: builds its keys and arguments and turns its answer into deliveries.
 */
import { randomUUID } from 'node:crypto';
import type { Delivery } from '../port.js';
import type { RedisContext } from './context.js';
import { toDelivery } from './envelopes.js';
import { epochSeconds } from './restore.js';

/**
 * How long a reserve's consumer marker lasts. An idle worker reserves at least every few seconds; a busy one may
 * stop for longer, and then delayed messages simply go to its list, where it holds or parks them itself.
 */
const CONSUMER_MARKER_MS = 30_000;

export interface Taken {
  deliveries: Delivery[];
  /** Epoch ms of the oldest reservation anyone holds, or null. */
  oldest: number | null;
  /** Epoch ms when the next parked message of these queues is due (only when nothing was taken), or null. */
  nextDue: number | null;
}

/** Takes up to `max` messages from `lists` (the polling lists of `queues`), registering them as unacked. */
export async function takeReady(
  ctx: RedisContext,
  queues: readonly string[],
  lists: readonly string[],
  max: number,
): Promise<Taken> {
  const { keys } = ctx;
  const now = Date.now();
  const scriptKeys = [
    keys.unacked,
    keys.unackedIndex,
    ...lists,
    ...queues.map((q) => keys.delayed(q)),
    ...queues.map((q) => keys.consumer(q)),
  ];
  const args = [
    max,
    epochSeconds(now),
    now,
    lists.length,
    queues.length,
    keys.steps.join(''),
    CONSUMER_MARKER_MS,
    randomUUID(),
    ...queues,
  ];
  // Bulk strings arrive as Buffers (the envelopes are bytes), integers as numbers.
  const reply = (await ctx.run(ctx.scripts.reserve(scriptKeys, args))) as (Buffer | number | null)[];
  const deliveries: Delivery[] = [];
  for (let i = 2; i + 2 < reply.length; i += 3) {
    const index = Number(reply[i]) - 1;
    const step = keys.steps[Math.floor(index / queues.length)] ?? 0;
    const tag = String(reply[i + 2]);
    deliveries.push(toDelivery(tag, queues[index % queues.length]!, reply[i + 1] as Buffer, step));
  }
  return {
    deliveries,
    oldest: reply[0] === null || reply[0] === undefined ? null : Number(String(reply[0])) * 1000,
    nextDue: reply[1] === null || reply[1] === undefined ? null : Number(String(reply[1])),
  };
}
