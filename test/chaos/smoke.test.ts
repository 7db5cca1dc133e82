/**
 * A small run of the chaos harness (chaos/, `npm run chaos` for the full one) against real workers: on SQLite and
 * on Redis, workers killed with SIGKILL lose no acks_late task, generated garbage mixed with good tasks ends as
 * exactly one dead letter per bad item while every good task completes, and unencodable results end stored;
 * nothing is left in the queue or reserved.
 */
import { describe, expect, it } from 'vitest';
import { LEDGER_URL } from '../../chaos/lib/ledger.js';
import { DEFAULTS, runScenario } from '../../chaos/lib/matrix.js';
import type { StoreKind } from '../../chaos/lib/stores.js';
import { checkRedisServer } from '../fixtures/redis/servers.js';
import { pingRedis, requireService } from '../services.js';

const service = await requireService('Redis on 127.0.0.1:6379 (the ledger) and redis-server', async () => {
  checkRedisServer();
  await pingRedis(LEDGER_URL);
});

const options = { ...DEFAULTS, tasks: 20, kills: 2, garbage: 150, settleMs: 30_000 };

describe.skipIf(!service.ok)(`chaos smoke${service.ok ? '' : ` (skipped: ${service.reason})`}`, () => {
  for (const kind of ['sqlite', 'redis'] as StoreKind[]) {
    it(`${kind}: kill -9 loop loses no acks_late task and leaves nothing stuck`, { timeout: 60_000 }, async () => {
      const [late, early] = await runScenario(kind, 'kill', options);
      expect(late).toMatchObject({ sent: 10, completed: 10, lost: 0, deadLetters: 0, stuck: 0 });
      // Early ack is at most once: a task running at a kill may be lost, but nothing stays behind.
      expect(early).toMatchObject({ sent: 10, deadLetters: 0, stuck: 0 });
      expect(early!.completed + early!.lost).toBe(10);
    });

    it(`${kind}: every generated bad item is a dead letter, every good task completes once`, { timeout: 60_000 }, async () => {
      const [row] = await runScenario(kind, 'garbage', options);
      expect(row).toMatchObject({ sent: 20 + 150, completed: 20, lost: 0, ranTwice: 0, deadLetters: 150, stuck: 0 });
    });

    it(`${kind}: unencodable results end stored (EncodeError; BigInt kept exact), acked`, { timeout: 60_000 }, async () => {
      const [row] = await runScenario(kind, 'unencodable', options);
      expect(row).toMatchObject({ sent: 12, completed: 12, lost: 0, ranTwice: 0, deadLetters: 0, stuck: 0 });
      expect(row!.note.split(', ').sort()).toEqual(
        ['bigint: SUCCESS x2', ...['circular', 'function', 'map', 'nan', 'symbol'].map((k) => `${k}: FAILURE EncodeError x2`)].sort(),
      );
    });
  }
});
