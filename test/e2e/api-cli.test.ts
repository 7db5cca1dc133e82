/**
 * `celerity api` and `celerity dashboard` as the built CLI runs them: listening on a free port, answered over real
 * HTTP, refusing a non-loopback address without credentials, and exiting 0 on SIGTERM.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../helpers.js';
import { cli, exited, spawnWorker, watchCli } from './worker-process.js';

const procs: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await exited(p);
    }
  }
  for (const c of cleanups.splice(0)) c();
});

function setup(): { env: NodeJS.ProcessEnv; history: string } {
  const tmp = tempDir('celerity-api-cli-');
  cleanups.push(tmp.cleanup);
  const url = `sqlite://${path.join(tmp.dir, 'celerity.db')}`;
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return { env: { ...base, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url }, history: `sqlite://${path.join(tmp.dir, 'history.db')}` };
}

describe('celerity api', () => {
  it('serves the API over HTTP and exits 0 on SIGTERM', async () => {
    const { env, history } = setup();
    const port = await freePort();
    const server = watchCli(['api', '--host', '127.0.0.1', '--port', String(port), '--history', history, '-l', 'warn'], env, (p) => void procs.push(p));
    const line = await server.next((l) => l.includes('listening on'));
    const base = `http://127.0.0.1:${port}`;
    expect(line).toContain(base);

    const empty = await fetch(`${base}/api/v1/tasks`);
    expect(empty.status).toBe(200);
    expect(await empty.json()).toEqual({ tasks: [], next: null });

    const sent = await fetch(`${base}/api/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'remote.only', args: [1] }) });
    expect(sent.status).toBe(202);
    const { id, url } = (await sent.json()) as { id: string; url: string };
    const task = (await (await fetch(`${base}${url}`)).json()) as { id: string; state: string };
    expect(task).toMatchObject({ id, state: 'PENDING' });

    const bad = await fetch(`${base}/api/v1/tasks?limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const doc = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as { openapi: string };
    expect(doc.openapi).toMatch(/^3\.1\./);
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/api/v1/openapi.json');

    server.proc.kill('SIGTERM');
    expect(await exited(server.proc)).toBe(0);
  });

  it('celerity dashboard serves the same API and stops on SIGINT', async () => {
    const { env, history } = setup();
    const port = await freePort();
    const server = watchCli(['dashboard', '--port', String(port), '--history', history, '-l', 'warn'], env, (p) => void procs.push(p));
    await server.next((l) => l.includes(`listening on http://127.0.0.1:${port}`));
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    server.proc.kill('SIGINT');
    expect(await exited(server.proc)).toBe(0);
  });

  it('refuses to listen beyond loopback without credentials (exit 78, saying how to create them)', () => {
    const { env, history } = setup();
    const r = spawnSync(process.execPath, [cli, 'api', '--host', '0.0.0.0', '--port', '0', '--history', history], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/hash-token/);
  });

  it('rejects a port that is not a number (exit 2)', () => {
    const { env } = setup();
    const r = spawnSync(process.execPath, [cli, 'api', '--port', 'http'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--port/);
  });
});

describe('celerity worker --metrics-port', () => {
  it("serves the worker's own /metrics and /healthz on that port", async () => {
    const { env } = setup();
    const port = await freePort();
    const { proc } = await spawnWorker(['-n', `metrics-${port}@e2e`, '--metrics-port', String(port), '--log-format', 'json'], env, (p) => void procs.push(p));
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^# HELP /m);
    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
  });

  it('rejects a port that is not a number (exit 2)', () => {
    const { env } = setup();
    const r = spawnSync(process.execPath, [cli, 'worker', '--metrics-port', 'abc'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--metrics-port/);
  });
});
