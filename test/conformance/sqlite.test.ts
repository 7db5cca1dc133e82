import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBroker } from '../../src/broker/sqlite/index.js';
import { SqliteBackend } from '../../src/backend/sqlite/index.js';
import { createBackend, createBroker } from '../../src/transports/index.js';
import { ConnectionError } from '../../src/errors/index.js';
import { brokerConformance, message } from './broker-suite.js';
import { backendConformance, meta } from './backend-suite.js';

function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'celerity-sqlite-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

brokerConformance('sqlite', async () => {
  const tmp = tempDir();
  const broker = new SqliteBroker({ path: join(tmp.dir, 'celerity.db'), visibilityTimeout: 1 });
  await broker.connect();
  return {
    broker,
    cleanup: async () => {
      await broker.close();
      tmp.remove();
    },
  };
});

backendConformance('sqlite', async () => {
  const tmp = tempDir();
  const backend = new SqliteBackend({ path: join(tmp.dir, 'celerity.db'), resultExpires: 86_400 });
  await backend.connect();
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      tmp.remove();
    },
  };
});

describe('sqlite: several connections on one file', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function open<T extends { connect(): Promise<void>; close(): Promise<void> }>(x: T): Promise<T> {
    await x.connect();
    cleanups.push(() => x.close());
    return x;
  }
  function file(): string {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    return join(tmp.dir, 'celerity.db');
  }

  it('a reserve blocked on one connection wakes on a publish from another', async () => {
    const path = file();
    const consumer = await open(new SqliteBroker({ path, visibilityTimeout: 30 }));
    const producer = await open(new SqliteBroker({ path, visibilityTimeout: 30 }));
    const start = Date.now();
    const pending = consumer.reserve(['q'], { max: 5, waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    await producer.publish([{ queue: 'q', priority: 0, message: message('x') }]);
    const got = await pending;
    expect(got.map((d) => d.message?.headers.id)).toEqual(['x']);
    expect(Date.now() - start).toBeLessThan(500);
  });

  it('waitFor on one connection wakes on a result written by another', async () => {
    const path = file();
    const reader = await open(new SqliteBackend({ path, resultExpires: 0 }));
    const writer = await open(new SqliteBackend({ path, resultExpires: 0 }));
    const pending = reader.waitFor('t1', { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 30));
    await writer.set('t1', meta('t1', 'SUCCESS', 7));
    expect(await pending).toMatchObject({ status: 'SUCCESS', result: 7 });
  });

  it('broker and backend share one file, and the tables are plain to query', async () => {
    const path = file();
    const broker = await open(new SqliteBroker({ path, visibilityTimeout: 30 }));
    const backend = await open(new SqliteBackend({ path, resultExpires: 0 }));
    await broker.publish([{ queue: 'celery', priority: 3, message: message('t9') }]);
    await backend.set('t9', meta('t9', 'FAILURE', { exc_type: 'ValueError' }, { name: 'tests.add' }));
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("select task_id, status, name from celery_results where status = 'FAILURE'").all()).toEqual(
        [{ task_id: 't9', status: 'FAILURE', name: 'tests.add' }],
      );
      expect(db.prepare('select queue, priority, state from messages').all()).toEqual([
        { queue: 'celery', priority: 3, state: 'ready' },
      ]);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('messages survive closing and reopening the file', async () => {
    const path = file();
    const first = new SqliteBroker({ path, visibilityTimeout: 30 });
    await first.connect();
    await first.publish([{ queue: 'q', priority: 0, message: message('persisted') }]);
    await first.close();
    const second = await open(new SqliteBroker({ path, visibilityTimeout: 30 }));
    const got = await second.reserve(['q'], { max: 1, waitMs: 0 });
    expect(got[0]?.message?.headers.id).toBe('persisted');
  });
});

describe('sqlite: URLs and paths', () => {
  const tmps: { remove(): void }[] = [];
  afterEach(() => tmps.splice(0).forEach((t) => t.remove()));

  it('accepts relative, absolute and :memory: URLs', async () => {
    const tmp = tempDir();
    tmps.push(tmp);
    const cwd = process.cwd();
    process.chdir(tmp.dir);
    try {
      for (const url of ['sqlite://./rel.db', `sqlite://${join(tmp.dir, 'abs.db')}`, 'sqlite://:memory:']) {
        const broker = await createBroker(url, { visibilityTimeout: 5 });
        expect(broker).toBeInstanceOf(SqliteBroker);
        await broker.connect();
        await broker.publish([{ queue: 'q', priority: 0, message: message('u') }]);
        expect(await broker.size('q')).toBe(1);
        await broker.close();
        const backend = await createBackend(url, { resultExpires: 5 });
        expect(backend).toBeInstanceOf(SqliteBackend);
        await backend.connect();
        await backend.close();
      }
      const db = new Database(join(tmp.dir, 'rel.db'), { readonly: true });
      expect(db.prepare('select count(*) n from messages').get()).toEqual({ n: 1 });
      db.close();
    } finally {
      process.chdir(cwd);
    }
  });

  it('names the path in one line when the directory does not exist', async () => {
    const path = '/nonexistent-celerity-dir/sub/celerity.db';
    for (const adapter of [
      await createBroker(`sqlite://${path}`, { visibilityTimeout: 5 }),
      await createBackend(`sqlite://${path}`, { resultExpires: 5 }),
    ]) {
      const err = await adapter.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toContain(path);
      expect((err as Error).message).toContain('does not exist');
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('reports a path that is not a database', async () => {
    const tmp = tempDir();
    tmps.push(tmp);
    const path = join(tmp.dir, 'not-a-db.db');
    writeFileSync(path, 'this is plain text, not SQLite, and it is long enough to have a header'.repeat(20));
    const err = await new SqliteBroker({ path, visibilityTimeout: 5 }).connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toContain(path);
  });

  it.skipIf(process.getuid?.() === 0)('reports a directory that is not writable (skipped as root: root may write anywhere)', async () => {
    const tmp = tempDir();
    tmps.push(tmp);
    const { chmodSync } = await import('node:fs');
    chmodSync(tmp.dir, 0o500);
    try {
      const err = await new SqliteBroker({ path: join(tmp.dir, 'x.db'), visibilityTimeout: 5 })
        .connect()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toMatch(/not writable/);
    } finally {
      chmodSync(tmp.dir, 0o700);
    }
  });
});
