/**
 * Whatever a foreign or buggy producer puts in a queue, nothing is lost and nothing is stuck: thousands of
 * unreadable items mixed with good tasks, pushed straight into the store, are each accounted for (every good task
 * ran exactly once, every bad item is a dead letter holding its exact bytes, nothing stays reserved), also after a
 * consumer reserved them all and died; and an item that cannot be decoded but names its task gets a FAILURE a
 * client can read. Runner files supply the store and its corpus (garbage-redis.test.ts, garbage-sqlite.test.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/broker/port.js';
import type { Celerity, Worker } from '../../src/index.js';
import { encodeTaskMessage } from '../../src/protocol/message.js';
import { createSerializerRegistry } from '../../src/protocol/serializers.js';
import type { BrokerMessage } from '../../src/protocol/types.js';

/** A case of requirement "FAILURE wherever there is an id": an undecodable item naming task `id`. */
export interface FailureCase<Item> {
  what: string;
  item: Item;
  id: string;
  /** What the stored error's message must say. */
  reason: RegExp;
}

export interface GarbageStore<Item> {
  /** An app on a fresh part of the store (its own key prefix or file). */
  open(): Promise<{ app: Celerity; cleanup(): Promise<void> }>;
  /** Writes the items straight into `queue`, in this order, as another producer could. */
  push(app: Celerity, queue: string, items: readonly Item[]): Promise<void>;
  /** A good task message running `garbage.count(id)`. */
  good(id: string, queue: string): Item;
  /** Thousands of bad items, duplicates included. */
  corpus(queue: string): Item[];
  /** Tasks that look odd but that the store's rules accept (run, not dead-lettered), each with its id. */
  oddButGood(queue: string): { id: string; item: Item }[];
  failures(queue: string): FailureCase<Item>[];
  /** The bytes of an item: equal when nothing was changed. */
  fingerprint(item: Item): string;
  /**
   * What a restore must keep of an item: its bytes when it is not a readable message, the message itself (not the
   * transport's redelivered mark and delivery tag, which a restore renews) when it is.
   */
  restoreKey(item: Item): string;
  /** The item a dead letter holds, as the store keeps it. */
  letterItem(letter: DeadLetter): Item;
  /** Every item waiting in `queue`, read from the store itself. */
  queued(app: Celerity, queue: string): Promise<Item[]>;
  /** Messages reserved and not yet acknowledged, by anyone. */
  reserved(app: Celerity): Promise<number>;
  /**
   * Reserves everything in `queue` through a broker of its own that then goes away without acknowledging (a
   * consumer that died), and returns how many it took; `restore` then brings them back.
   */
  crash(app: Celerity, queue: string): Promise<number>;
  restore(app: Celerity): Promise<number>;
}

const registry = createSerializerRegistry();

/** The message Celery (and this library) publishes for `task(id)`; `garbage.count` counts its runs per id. */
export function taskMessage(id: string, task = 'garbage.count'): BrokerMessage {
  return encodeTaskMessage(
    {
      id,
      task,
      args: [id],
      kwargs: {},
      eta: null,
      expires: null,
      retries: 0,
      timelimit: [null, null],
      rootId: null,
      parentId: null,
      group: null,
      groupIndex: null,
      shadow: null,
      ignoreResult: false,
      replyTo: '',
      priority: 0,
      embed: { callbacks: null, errbacks: null, chain: null, chord: null },
      origin: 'gen1@garbage',
    },
    registry,
  );
}

export const sha = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** A fixed-seed PRNG: the corpus is the same on every run. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const GOOD = 400;

export function garbageSuite<Item>(name: string, store: GarbageStore<Item>): void {
  describe(`garbage in the queue: ${name}`, () => {
    let app: Celerity;
    let cleanup: () => Promise<void>;
    let worker: Worker | undefined;
    let queue: string;
    const runs = new Map<string, number>();

    beforeEach(async () => {
      ({ app, cleanup } = await store.open());
      queue = `garbage-${randomUUID()}`;
      runs.clear();
      app.task('garbage.count', (id: string) => {
        runs.set(id, (runs.get(id) ?? 0) + 1);
      });
    });

    afterEach(async () => {
      await worker?.stop({ timeout: 0 });
      worker = undefined;
      await cleanup();
    });

    /** The corpus and GOOD good tasks (some of them odd-looking), shuffled together. */
    function mixture(): { items: Item[]; bad: Item[]; goodIds: string[] } {
      const bad = store.corpus(queue);
      const good = Array.from({ length: GOOD }, (_, i) => `good-${i}-${randomUUID()}`).map((id) => ({ id, item: store.good(id, queue) }));
      good.push(...store.oddButGood(queue));
      const items = shuffled([...bad, ...good.map((g) => g.item)], prng(7));
      return { items, bad, goodIds: good.map((g) => g.id) };
    }

    /** Runs a worker until `good` tasks succeeded and `bad` messages were dead-lettered, then stops it. */
    async function drain(good: number, bad: number): Promise<void> {
      const w = app.worker({ queues: [queue], concurrency: 4 });
      worker = w;
      let succeeded = 0;
      let rejected = 0;
      const done = new Promise<void>((resolve) => {
        const check = (): void => {
          if (succeeded >= good && rejected >= bad) resolve();
        };
        w.on('task-succeeded', () => (succeeded++, check()));
        w.on('task-rejected', () => (rejected++, check()));
      });
      await w.start();
      await done;
      await w.stop();
      worker = undefined;
      expect({ succeeded, rejected }).toEqual({ succeeded: good, rejected: bad });
    }

    /** Every good id ran once; the dead letters are exactly the bad items (as `key` sees them); nothing is held. */
    async function accountFor(goodIds: readonly string[], bad: readonly Item[], key: (item: Item) => string): Promise<void> {
      expect(goodIds.filter((id) => runs.get(id) !== 1)).toEqual([]);
      expect([...runs.values()].reduce((a, b) => a + b, 0)).toBe(goodIds.length);
      const broker = await app.broker();
      const letters = await broker.listDeadLetters({ queue, limit: Number.MAX_SAFE_INTEGER });
      expect(letters).toHaveLength(bad.length);
      expect(letters.map((l) => key(store.letterItem(l))).sort()).toEqual(bad.map(key).sort());
      expect(await store.reserved(app)).toBe(0);
      expect(await broker.size(queue)).toBe(0);
    }

    it('runs every good task once and dead-letters every bad item with its exact bytes', { timeout: 120_000 }, async () => {
      const { items, bad, goodIds } = mixture();
      expect(bad.length).toBeGreaterThan(2000);
      await store.push(app, queue, items);
      await drain(goodIds.length, bad.length);
      await accountFor(goodIds, bad, store.fingerprint);
      // Operators can get rid of them: some by id, then the rest of the queue's.
      const broker = await app.broker();
      const some = (await broker.listDeadLetters({ queue, limit: 25 })).map((l) => l.id);
      expect(await broker.deleteDeadLetters([...some, ...some])).toBe(25);
      expect(await broker.purgeDeadLetters({ queue })).toBe(bad.length - 25);
      expect(await broker.listDeadLetters({ queue })).toEqual([]);
    });

    it('a consumer that reserved everything and died: restore brings back every item intact, then all are handled', { timeout: 120_000 }, async () => {
      const { items, bad, goodIds } = mixture();
      await store.push(app, queue, items);
      expect(await store.crash(app, queue)).toBe(items.length);
      expect(await store.queued(app, queue)).toEqual([]);
      expect(await store.reserved(app)).toBe(items.length);
      expect(await store.restore(app)).toBe(items.length);
      expect(await store.reserved(app)).toBe(0);
      // Unreadable items come back byte for byte; messages as the same messages (marked redelivered).
      const back = await store.queued(app, queue);
      expect(back.map(store.restoreKey).sort()).toEqual(items.map(store.restoreKey).sort());
      await drain(goodIds.length, bad.length);
      await accountFor(goodIds, bad, store.restoreKey);
    });

    it('stores FAILURE under the id an undecodable message still names, so get() rejects', { timeout: 60_000 }, async () => {
      const cases = store.failures(queue);
      await store.push(app, queue, cases.map((c) => c.item));
      await drain(0, cases.length);
      for (const c of cases) {
        const err = await app.asyncResult(c.id).get({ timeout: 5000 }).then(
          () => new Error(`${c.what}: resolved`),
          (e: Error) => e,
        );
        expect([c.what, err.name]).toEqual([c.what, expect.stringMatching(/^(DecodeError|ContentDisallowed)$/)]);
        expect(`${c.what}: ${err.message}`).toMatch(c.reason);
      }
    });
  });
}
