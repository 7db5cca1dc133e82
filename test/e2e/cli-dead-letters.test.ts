/**
 * `celerity dead-letters` end to end on each store that keeps dead letters across processes (SQLite, Redis, RabbitMQ): the
 * letters are made in this process through the broker port, then listed, deleted and purged by the built CLI.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/port.js';
import { createBroker } from '../../src/transports/index.js';
import { message } from '../conformance/broker-suite.js';
import { tempDir } from '../helpers.js';
import { freshVhost, pingRabbit, pingRedis, requireService } from '../services.js';
import { cli } from './worker-process.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const redis = await requireService('Redis', () => pingRedis(REDIS));
const rabbit = await requireService('RabbitMQ', () => pingRabbit());

interface Store {
  name: string;
  skip: string | null;
  /** A broker URL of its own: a fresh file, or a fresh key prefix; `cleanup` deletes what lives outside `dir`. */
  scope(dir: string): { url: string; cleanup(): Promise<void> } | Promise<{ url: string; cleanup(): Promise<void> }>;
}

const STORES: Store[] = [
  {
    name: 'sqlite',
    skip: null,
    scope: (dir) => ({ url: `sqlite://${path.join(dir, 'dead.db')}`, cleanup: async () => undefined }),
  },
  {
    name: 'redis',
    skip: redis.ok ? null : redis.reason,
    scope: () => {
      const prefix = `celerity-test-${randomUUID()}:`;
      return { url: `${REDIS}?global_keyprefix=${prefix}`, cleanup: () => deleteKeys(prefix) };
    },
  },
  {
    name: 'amqp',
    skip: rabbit.ok ? null : rabbit.reason,
    // A vhost of its own: the dead-letter queue `celerity.dead_letters` is one per vhost.
    scope: async () => {
      const space = await freshVhost('cli-dl');
      return { url: space.url, cleanup: () => space.remove() };
    },
  },
];

/** Deletes the keys under `prefix`, and only those. */
async function deleteKeys(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(REDIS, { lazyConnect: true });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

for (const store of STORES) {
  describe.skipIf(store.skip !== null)(`celerity dead-letters on ${store.name}${store.skip ? ` (${store.skip})` : ''}`, () => {
    let tmp: ReturnType<typeof tempDir>;
    let env: NodeJS.ProcessEnv;
    let broker: Broker;
    let q: string;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      tmp = tempDir();
      const { url, ...scope } = await store.scope(tmp.dir);
      cleanup = scope.cleanup;
      const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
      env = { ...cleanEnv, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: `sqlite://${path.join(tmp.dir, 'results.db')}` };
      broker = await createBroker(url, { visibilityTimeout: 60 });
      await broker.connect();
      q = `dl-${randomUUID()}`;
    });

    afterEach(async () => {
      await broker.close();
      await cleanup();
      tmp.cleanup();
    });

    function run(args: string[]) {
      const r = spawnSync(process.execPath, [cli, 'dead-letters', ...args], { env, encoding: 'utf8', timeout: 30_000 });
      return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
    }

    /** Publishes tasks `ids` to `queue` and rejects them one after the other, oldest first. */
    async function deadLetter(queue: string, ...ids: string[]): Promise<void> {
      await broker.publish(ids.map((id) => ({ queue, message: message(id), priority: 0 })));
      for (const d of await broker.reserve([queue], { max: ids.length, waitMs: 0 })) {
        await broker.reject(d.tag, { requeue: false, reason: `poison ${d.message?.headers.id}` });
      }
    }

    /** The task ids `list` prints, in its order. */
    const listed = (stdout: string) => stdout.split('\n').filter(Boolean).map((line) => /\[([^\]]*)\]/.exec(line)?.[1]);

    it('list: newest first, as its help says; --limit keeps the newest, -Q one queue, --json the whole letter', async () => {
      expect(run(['list', '--help']).stdout).toContain('newest first');
      const empty = run(['list']);
      expect(empty).toMatchObject({ code: 0, stdout: '', stderr: 'no dead letters' });

      await deadLetter(q, 'first', 'second', 'third');
      await deadLetter(`${q}-other`, 'elsewhere');
      const all = run(['list']);
      expect(all.code).toBe(0);
      expect(listed(all.stdout)).toEqual(['elsewhere', 'third', 'second', 'first']);
      const line = all.stdout.split('\n')[1]!.split('\t');
      expect(line.slice(2)).toEqual([q, 'tests.add[third]', 'poison third']);
      expect(new Date(line[1]!).toISOString()).toBe(line[1]);

      expect(listed(run(['list', '--limit', '2']).stdout)).toEqual(['elsewhere', 'third']);
      expect(listed(run(['list', '-Q', q]).stdout)).toEqual(['third', 'second', 'first']);
      expect(listed(run(['list', '--queue', q, '--limit', '1']).stdout)).toEqual(['third']);

      const json = run(['list', '--json', '-Q', q]).stdout.split('\n').map((l) => JSON.parse(l));
      expect(json.map((l) => l.taskId)).toEqual(['third', 'second', 'first']);
      expect(json[0]).toMatchObject({ queue: q, reason: 'poison third', taskName: 'tests.add' });
      expect(JSON.parse(json[0].raw).headers.id).toBe('third');
      expect(run(['list', '--json', '-Q', 'no-such-queue'])).toMatchObject({ code: 0, stdout: '', stderr: '' });

      for (const bad of ['0', '-1', '2.5', 'ten']) {
        const r = run(['list', '--limit', bad]);
        expect(r.code, bad).toBe(2);
        expect(r.stderr, bad).toContain(`--limit must be a positive integer, got ${bad}`);
      }
    });

    it('delete: removes exactly the named letters and says how many; unknown ids exit 1 and change nothing', async () => {
      await deadLetter(q, 'a', 'b', 'c');
      const [c, b, a] = await broker.listDeadLetters({ queue: q });
      expect(run(['delete', a!.id, c!.id, a!.id])).toMatchObject({ code: 0, stdout: 'Deleted 2 dead letters.', stderr: '' });
      expect((await broker.listDeadLetters({ queue: q })).map((l) => l.id)).toEqual([b!.id]);
      expect(await broker.size(q)).toBe(0);

      expect(run(['delete', a!.id, 'no-such-id'])).toMatchObject({
        code: 1,
        stdout: 'Deleted 0 dead letters.',
        stderr: '2 of the 2 ids named were not found',
      });
      expect(run(['delete', b!.id, 'no-such-id'])).toMatchObject({ code: 1, stdout: 'Deleted 1 dead letter.' });
      expect(await broker.listDeadLetters()).toEqual([]);
      expect(run(['delete']).code).toBe(2);
    });

    it('purge: asks first (refuses without a terminal), then deletes one queue with -Q or every letter', async () => {
      const other = `${q}-other`;
      await deadLetter(q, 'a', 'b');
      await deadLetter(other, 'c');

      const refused = run(['purge']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toBe('celerity: error: refusing to delete every dead letter without --yes (no terminal to confirm on)');
      expect(await broker.listDeadLetters()).toHaveLength(3);

      expect(run(['purge', '-Q', q, '--yes'])).toMatchObject({ code: 0, stdout: 'Deleted 2 dead letters.' });
      expect((await broker.listDeadLetters()).map((l) => l.taskId)).toEqual(['c']);
      expect(run(['purge', '--queue', q, '-y']).stdout).toBe('Deleted 0 dead letters.');
      expect(run(['purge', '-f'])).toMatchObject({ code: 0, stdout: 'Deleted 1 dead letter.' });
      expect(await broker.listDeadLetters()).toEqual([]);
    });

    it('requeue: named ids or --all, not both; -Q only with --all', async () => {
      await deadLetter(q, 'a', 'b');
      const [b, a] = await broker.listDeadLetters({ queue: q });
      expect(run(['requeue', a!.id, '--all']).code).toBe(2);
      expect(run(['requeue', a!.id, '-Q', q]).code).toBe(2);
      expect(run(['requeue', a!.id, 'no-such-id'])).toMatchObject({ code: 1, stdout: 'Requeued 1 message.' });
      expect(run(['requeue', '--all', '-Q', q])).toMatchObject({ code: 0, stdout: 'Requeued 1 message.' });
      expect(await broker.listDeadLetters()).toEqual([]);
      const back = await broker.reserve([q], { max: 10, waitMs: 0 });
      expect(back.map((d) => d.message?.headers.id).sort()).toEqual([a!.taskId, b!.taskId].sort());
      await broker.ack(back.map((d) => d.tag));
    });
  });
}
