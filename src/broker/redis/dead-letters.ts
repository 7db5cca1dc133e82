/**
 * The dead-letter list `celerity.dead_letters`: one JSON record per item, oldest first, so `redis-cli lrange`
 * shows them as they are. Records are found by scanning (dead letters are few and read by people); requeueing
 * removes each by value before pushing its message, which makes concurrent requeues move each one once.
 */
import type { DeadLetter } from '../port.js';
import type { RedisContext } from './context.js';
import { parseDeadLetter, redeliverable } from './envelopes.js';

/** Items read per LRANGE. */
const CHUNK = 500;

export async function listDeadLetters(
  ctx: RedisContext,
  options: { queue?: string; limit?: number },
): Promise<DeadLetter[]> {
  const limit = options.limit ?? 100;
  const out: DeadLetter[] = [];
  if (limit <= 0) return out;
  await scan(ctx, (_, letter) => {
    if (options.queue === undefined || letter.queue === options.queue) out.push(letter);
    return out.length < limit;
  });
  return out;
}

/** Moves the letters with these ids back to their queues (marked redelivered); resolves to how many moved. */
export async function requeueDeadLetters(
  ctx: RedisContext,
  ids: readonly string[],
): Promise<{ moved: number; queues: string[] }> {
  const wanted = new Set(ids);
  const targets: string[] = [];
  const args: (string | number)[] = [];
  const queues = new Set<string>();
  if (wanted.size > 0) {
    await scan(ctx, (text, letter) => {
      if (!wanted.delete(letter.id)) return true;
      const back = redeliverable({ envelope: letter.raw, exchange: '', routingKey: letter.queue });
      const target = ctx.keys.list(letter.queue, back.step);
      if (!targets.includes(target)) targets.push(target);
      args.push(text, targets.indexOf(target) + 1, back.envelope);
      queues.add(letter.queue);
      return wanted.size > 0;
    });
  }
  if (args.length === 0) return { moved: 0, queues: [] };
  const moved = await ctx.run(ctx.scripts.requeueDeadLetters([ctx.keys.deadLetters, ...targets], args));
  return { moved: Number(moved), queues: [...queues] };
}

/** Calls `visit` on each readable record, oldest first, until it returns false. */
async function scan(ctx: RedisContext, visit: (text: string, letter: DeadLetter) => boolean): Promise<void> {
  for (let start = 0; ; start += CHUNK) {
    const items = await ctx.run(ctx.redis.lrange(ctx.keys.deadLetters, start, start + CHUNK - 1));
    for (const text of items) {
      const letter = parseDeadLetter(text);
      if (letter && !visit(text, letter)) return;
    }
    if (items.length < CHUNK) return;
  }
}
