/**
 * kombu's restore of timed-out reservations, made safe to run from many workers at once.
 *
 * kombu takes `unacked_mutex` (SET NX PX, 5 minutes), lists the tags whose unacked_index score is older than the
 * visibility timeout, and returns each in a WATCH/MULTI transaction. Here the same mutex is taken (so a Python
 * worker's restore and ours never interleave), the timed-out entries are read in batches, their envelopes
 * rebuilt in TypeScript (redelivered, fresh delivery tag: JSON Lua cannot write byte-compatibly), and each batch
 * is moved by one compare-and-move script: an entry changed or re-scored since it was read is skipped, so even
 * without the mutex nothing is lost and nothing is pushed twice. Tags and entries are read and compared as bytes,
 * so an entry holding anything at all can be moved.
 */
import { randomUUID } from 'node:crypto';
import type { RedisContext } from './context.js';
import { deadLetterRecord, parseUnackedEntry, redeliverable } from './envelopes.js';

/** kombu's unacked_mutex_expire: a restorer that dies holding the lock blocks others for at most this long. */
const MUTEX_MS = 300_000;
/** Timed-out reservations read and moved per round trip. */
const BATCH = 100;

/** Returns reservations older than `visibilityMs`; resolves to how many moved, 0 when another restorer is busy. */
export async function restoreTimedOut(ctx: RedisContext, visibilityMs: number): Promise<number> {
  const { keys, scripts } = ctx;
  const token = randomUUID();
  if ((await ctx.run(ctx.redis.set(keys.unackedMutex, token, 'PX', MUTEX_MS, 'NX'))) !== 'OK') return 0;
  try {
    let total = 0;
    // Bounded so a registry someone else keeps refilling cannot hold this worker forever.
    for (let round = 0; round < 1000; round++) {
      const ceiling = epochSeconds(Date.now() - visibilityMs);
      const found = (await ctx.run(scripts.expired([keys.unackedIndex, keys.unacked], [ceiling, BATCH]))) as (Buffer | null)[];
      if (found.length === 0) break;
      const targets: string[] = [];
      const args: (string | number | Buffer)[] = [ceiling];
      for (let i = 0; i < found.length; i += 2) {
        const stored = found[i + 1] ?? null;
        // An index entry without its registry entry is only removed; the target is never pushed to.
        const [target, payload] = stored === null ? [keys.deadLetters, ''] : destination(ctx, stored);
        if (!targets.includes(target)) targets.push(target);
        args.push(found[i]!, stored ?? '', targets.indexOf(target) + 1, payload);
      }
      const moved = Number(await ctx.run(scripts.moveUnacked([keys.unacked, keys.unackedIndex, ...targets], args)));
      total += moved;
      // A batch where nothing moved was changed under us; reading it again now would only find it again.
      if (moved === 0 || found.length < BATCH * 2) break;
    }
    return total;
  } finally {
    await scripts.unlock([keys.unackedMutex], [token]).catch(() => undefined);
  }
}

/**
 * Where a timed-out entry goes, and what is pushed there: its queue (the routing key, as kombu resolves the
 * anonymous exchange Celery publishes to) and priority list, or the dead-letter list when it cannot be read.
 */
function destination(ctx: RedisContext, stored: Buffer): [string, string | Buffer] {
  const entry = parseUnackedEntry(stored);
  if (!entry?.routingKey) {
    const reason = entry ? 'restore: no routing key to return it to' : 'restore: unreadable unacked entry';
    return [ctx.keys.deadLetters, deadLetterRecord('', reason, entry?.envelope ?? stored, new Date())];
  }
  const back = redeliverable(entry);
  return [ctx.keys.list(entry.routingKey, back.step), back.envelope];
}

/** kombu scores unacked_index with Python's time(): epoch seconds as a float. */
export function epochSeconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}
