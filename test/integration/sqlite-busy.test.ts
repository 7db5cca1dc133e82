/**
 * The embedded store while another process holds the file's write lock: a producer and a result write wait for
 * it without freezing their event loop, go through once the lock is released, and fail naming the file once the
 * busy timeout has passed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity, ConnectionError } from '../../src/index.js';
import { tempDir } from '../helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Another process that takes the write lock (BEGIN IMMEDIATE) and keeps it until told to commit. */
async function lockHolder(file: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    console.log('locked');
    process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });
  `;
  const proc: ChildProcess = spawn(process.execPath, ['-e', script, file], { stdio: ['pipe', 'pipe', 'inherit'], cwd: process.cwd() });
  await new Promise<void>((resolve) => createInterface({ input: proc.stdout! }).on('line', (l) => l === 'locked' && resolve()));
  const release = async () => {
    if (proc.exitCode !== null) return;
    proc.stdin!.write('go\n');
    await new Promise((r) => proc.once('exit', r));
  };
  cleanups.push(release);
  return { release };
}

function app(dir: string, busy: number): Celerity {
  const url = `sqlite://${path.join(dir, 'celerity.db')}`;
  const a = new Celerity('busy', { broker: url, backend: url, loglevel: 'silent', sqliteBusyTimeout: busy }, {});
  cleanups.push(() => a.close());
  return a;
}

describe('the embedded store locked by another process', () => {
  it('a publish waits for the lock without blocking the event loop, then goes through', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const a = app(tmp.dir, 30);
    await a.broker();
    const holder = await lockHolder(path.join(tmp.dir, 'celerity.db'));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    cleanups.push(() => clearInterval(timer));
    const sent = a.sendTask('t.any', [1]);
    // The loop keeps turning while the publish waits: these timer ticks could not fire if it waited synchronously.
    await new Promise<void>((resolve) => {
      const seen = ticks;
      const check = setInterval(() => ticks >= seen + 5 && (clearInterval(check), resolve()), 10);
    });
    let settled = false;
    void sent.then(() => (settled = true), () => (settled = true));
    expect(settled).toBe(false);
    await holder.release();
    const r = await sent;
    expect(await (await a.broker()).size('celery')).toBe(1);
    expect(await r.state).toBe('PENDING');
  });

  it('fails after sqliteBusyTimeout with an error naming the file', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const a = app(tmp.dir, 0.3);
    await a.broker();
    await a.backend();
    await lockHolder(path.join(tmp.dir, 'celerity.db'));
    const err = await a.sendTask('t.any', [1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toBe(
      `SQLite database ${path.join(tmp.dir, 'celerity.db')} is locked by another process: no write possible within 0.3 s (sqliteBusyTimeout)`,
    );
    const backend = await a.backend();
    const write = await backend.set('x', { task_id: 'x', status: 'SUCCESS', result: 1, traceback: null, children: [], date_done: null } as never).catch((e: unknown) => e);
    expect((write as Error).message).toMatch(/is locked by another process/);
  });
});
