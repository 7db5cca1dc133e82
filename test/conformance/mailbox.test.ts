/** The mailbox conformance suite on the in-memory hub, a SQLite file (two connections) and Redis. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { MemoryMailbox, MemoryMailboxHub } from '../../src/broker/memory/mailbox.js';
import { RedisMailbox } from '../../src/broker/redis/mailbox.js';
import { SqliteMailbox } from '../../src/broker/sqlite/mailbox.js';
import { pingRedis, requireService } from '../services.js';
import { mailboxConformance } from './mailbox-suite.js';

const REDIS_URL = 'redis://127.0.0.1:6379/13';
const redis = await requireService('Redis on 127.0.0.1:6379', () => pingRedis(REDIS_URL));

mailboxConformance('memory', async () => {
  const hub = new MemoryMailboxHub();
  const a = new MemoryMailbox(hub);
  const b = new MemoryMailbox(hub);
  return { a, b, cleanup: async () => void (await Promise.all([a.close(), b.close()])) };
});

mailboxConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'celerity-mailbox-'));
  const path = join(dir, 'celerity.db');
  const a = new SqliteMailbox({ path });
  const b = new SqliteMailbox({ path });
  return {
    a,
    b,
    cleanup: async () => {
      await Promise.all([a.close(), b.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

if (redis.ok) {
  mailboxConformance('redis', async () => {
    const a = new RedisMailbox({ url: REDIS_URL });
    const b = new RedisMailbox({ url: REDIS_URL });
    return { a, b, cleanup: async () => void (await Promise.all([a.close(), b.close()])) };
  });
} else {
  describe.skip(`mailbox conformance: redis (skipped: ${redis.reason})`, () => undefined);
}
