/**
 * examples/http: the worker (`celerity worker -A examples/http/tasks.ts`) and the service (`tsx
 * examples/http/server.ts`) as separate processes on one SQLite file, used over real HTTP as its README shows.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useSqliteCli } from './sqlite-cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tasks = path.join(root, 'examples/http/tasks.ts');
const server = path.join(root, 'examples/http/server.ts');
const fresh = useSqliteCli(tasks);

async function startService(s: ReturnType<typeof fresh>): Promise<string> {
  const proc = spawn(process.execPath, ['--import', 'tsx', server], { cwd: root, env: { ...s.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  s.track(proc);
  const err: string[] = [];
  proc.stderr!.on('data', (d) => err.push(String(d)));
  return new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /^listening on (\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`service exited with ${code}: ${err.join('')}`)));
  });
}

/** Polls as a client of the service does, until `done` accepts a status body; every body seen is returned. */
async function poll(url: string, done: (body: any) => boolean): Promise<any[]> {
  const seen: any[] = [];
  for (let i = 0; i < 400; i++) {
    const body = await (await fetch(url)).json();
    seen.push(body);
    if (done(body)) return seen;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`not done after 400 polls: ${JSON.stringify(seen.at(-1))}`);
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('examples/http', () => {
  it('enqueues a report, shows its progress and its result', { timeout: 60_000 }, async () => {
    const s = fresh();
    await s.worker('http', ['-Q', 'celery,reports']);
    const base = await startService(s);
    const res = await post(`${base}/reports`, { customer_id: 'c-42', months: 5 });
    expect(res.status).toBe(202);
    const { task_id: id } = (await res.json()) as { task_id: string };
    expect(res.headers.get('location')).toBe(`/tasks/${id}`);
    const seen = await poll(`${base}/tasks/${id}`, (b) => b.task_status === 'SUCCESS');
    expect(seen.at(-1)).toEqual({ task_id: id, task_status: 'SUCCESS', task_result: { customerId: 'c-42', months: 5, total: 6252.5 } });
    const progress = seen.filter((b) => b.task_status === 'PROGRESS').map((b) => b.progress);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p).toMatchObject({ total: 5, current: expect.any(Number) });
  });

  it('sends any task by name, reports a failure as text, and refuses bad input', { timeout: 60_000 }, async () => {
    const s = fresh();
    await s.worker('http', ['-Q', 'celery,reports']);
    const base = await startService(s);
    const ok = (await (await post(`${base}/tasks`, { name: 'media.thumbnail', args: ['https://example.org/a.png'] })).json()) as { task_id: string };
    const done = await poll(`${base}/tasks/${ok.task_id}`, (b) => b.task_status === 'SUCCESS');
    expect(done.at(-1).task_result).toEqual({ url: 'https://example.org/a.png', thumbnail: 'https://example.org/a.png.thumb.jpg' });

    const bad = (await (await post(`${base}/tasks`, { name: 'media.thumbnail', args: ['ftp://x'] })).json()) as { task_id: string };
    const failed = await poll(`${base}/tasks/${bad.task_id}`, (b) => b.task_status === 'FAILURE');
    expect(failed.at(-1).error).toBe('TypeError: not an http(s) URL: ftp://x');

    expect((await post(`${base}/reports`, { months: 2 })).status).toBe(400);
    expect((await post(`${base}/reports`, { customer_id: 'c', months: 99 })).status).toBe(400);
    expect((await post(`${base}/tasks`, { name: 'x', args: 'nope' })).status).toBe(400);
  });
});
