import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors/index.js';
import { DEFAULT_HISTORY_URL, historyUrlFor, openHistoryStore } from '../../src/history/open.js';
import { SqliteHistoryStore } from '../../src/history/sqlite.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('historyUrlFor', () => {
  it('takes the setting when set, whatever the backend', () => {
    expect(historyUrlFor({ historyUrl: 'postgresql://h/db', backend: 'sqlite://./r.db' })).toBe('postgresql://h/db');
  });

  it('else the result backend when it is a SQLite file or a PostgreSQL database', () => {
    for (const backend of ['sqlite://./celerity.db', 'sqlite:///abs/x.db', 'postgres://u@h/db', 'postgresql://u@h/db?schema=s', 'db+postgresql://u@h/db', 'POSTGRESQL://u@h/db']) {
      expect(historyUrlFor({ historyUrl: null, backend })).toBe(backend);
    }
  });

  it('else the default file', () => {
    for (const backend of ['redis://localhost:6379/0', 'rpc://', 'memory://', undefined, null]) {
      expect(historyUrlFor({ historyUrl: null, backend })).toBe(DEFAULT_HISTORY_URL);
    }
    expect(historyUrlFor({ historyUrl: '', backend: 'redis://x' })).toBe('sqlite://./celerity-history.db');
  });
});

describe('openHistoryStore', () => {
  it('opens and connects a SQLite store for sqlite:// (connect again is a no-op)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celerity-history-open-'));
    try {
      const store = await openHistoryStore(`sqlite://${join(dir, 'h.db')}`, { busyTimeout: 1 });
      expect(store).toBeInstanceOf(SqliteHistoryStore);
      await store.connect();
      await store.apply([{ id: 'a', timestamp: 1, state: 'PENDING' }]);
      expect(await store.count({})).toBe(1);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects another scheme, or a sqlite:// URL without a path, naming historyUrl', async () => {
    for (const url of ['redis://localhost:6379/0', 'memory://', 'mysql://h/db', './file.db', 'sqlite://']) {
      const err = await openHistoryStore(url).catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(ConfigurationError);
      expect((err as ConfigurationError).key).toBe('historyUrl');
    }
  });

  it('never loads the PostgreSQL client for a SQLite history', () => {
    const dir = mkdtempSync(join(tmpdir(), 'celerity-history-open-'));
    try {
      const script = `
        import { createRequire } from 'node:module';
        const { openHistoryStore } = await import(${JSON.stringify(join(root, 'src/history/open.ts'))});
        const store = await openHistoryStore(${JSON.stringify(`sqlite://${join(dir, 'h.db')}`)});
        await store.close();
        const loaded = Object.keys(createRequire(import.meta.url).cache);
        console.log(JSON.stringify({ pg: loaded.filter((p) => /node_modules[\\\\/]pg[\\\\/]/.test(p)).length, sqlite: loaded.filter((p) => p.includes('better-sqlite3')).length }));
      `;
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout.trim())).toMatchObject({ pg: 0, sqlite: expect.any(Number) });
      expect(JSON.parse(run.stdout.trim()).sqlite).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
