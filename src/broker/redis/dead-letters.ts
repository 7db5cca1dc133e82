/**
 * The dead-letter list `celerity.dead_letters`: one JSON record per item, oldest first (RPUSH), so `redis-cli
 * lrange` shows them as they are. Records are found by scanning from the newest end (dead letters are few and
 * read by people, newest first); requeueing and deleting remove each by value (LREM), which makes concurrent
 * operators move or delete each one once. Items are read and removed as bytes, so an item another tool wrote that
 * is not UTF-8 is matched exactly (decoded text would not match what LREM compares with).
 */
import type { DeadLetter } from '../port.js';
import type { RedisContext } from './context.js';
import { bytesOfText } from '../raw.js';
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
  const args: (string | number | Buffer)[] = [];
  const queues = new Set<string>();
  if (wanted.size > 0) {
    await scan(ctx, (text, letter) => {
      if (!wanted.delete(letter.id)) return true;
      const back = redeliverable({ envelope: bytesOfText(letter.raw), exchange: '', routingKey: letter.queue });
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

/** Deletes the letters with these ids; resolves to how many were deleted. */
export async function deleteDeadLetters(ctx: RedisContext, ids: readonly string[]): Promise<number> {
  const wanted = new Set(ids);
  const texts: Buffer[] = [];
  if (wanted.size > 0) {
    await scan(ctx, (text, letter) => {
      if (wanted.delete(letter.id)) texts.push(text);
      return wanted.size > 0;
    });
  }
  return removeRecords(ctx, texts);
}

/** Deletes every item of the list, or the letters of `queue`; resolves to how many were deleted. */
export async function purgeDeadLetters(ctx: RedisContext, options: { queue?: string }): Promise<number> {
  if (options.queue === undefined) {
    const results = await ctx.run(ctx.redis.multi().llen(ctx.keys.deadLetters).del(ctx.keys.deadLetters).exec());
    return Number(results?.[0]?.[1] ?? 0);
  }
  const texts: Buffer[] = [];
  await scan(ctx, (text, letter) => {
    if (letter.queue === options.queue) texts.push(text);
    return true;
  });
  return removeRecords(ctx, texts);
}

/** LREMs each record by value in one transaction; resolves to how many were still there. */
async function removeRecords(ctx: RedisContext, texts: readonly Buffer[]): Promise<number> {
  if (texts.length === 0) return 0;
  const multi = ctx.redis.multi();
  for (const text of texts) multi.lrem(ctx.keys.deadLetters, 1, text);
  const results = (await ctx.run(multi.exec())) ?? [];
  return results.reduce((n, [err, removed]) => n + (err ? 0 : Number(removed)), 0);
}

/**
 * Calls `visit` on each readable record, newest first, until it returns false. Letters pushed meanwhile shift
 * the negative indices, so a record can come round twice: each is visited once.
 */
async function scan(ctx: RedisContext, visit: (item: Buffer, letter: DeadLetter) => boolean): Promise<void> {
  const seen = new Set<string>();
  for (let end = -1; ; end -= CHUNK) {
    const items = await ctx.run(ctx.redis.lrangeBuffer(ctx.keys.deadLetters, end - CHUNK + 1, end));
    for (let i = items.length - 1; i >= 0; i--) {
      const letter = parseDeadLetter(items[i]!.toString('utf8'));
      if (!letter || seen.has(letter.id)) continue;
      seen.add(letter.id);
      if (!visit(items[i]!, letter)) return;
    }
    if (items.length < CHUNK) return;
  }
}
