/**
 * The dashboard as a user meets it: a `celerity worker` process and `celerity dashboard` (both from the built CLI,
 * dist/cli/main.js) on one temporary SQLite file and a free port, and Debian's Chromium driven by playwright-core.
 * Locally a missing Chromium skips the browser tests with a one-line reason; under CI=true it fails them.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { freePort, tempDir } from '../helpers.js';
import { requireService } from '../services.js';
import { cli, exited, watchCli, type WatchedCli } from '../e2e/worker-process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
export const fixture = path.join(root, 'test/browser/app.ts');
/** Screenshots of every page the tests visit (gitignored; the good ones are copied to docs/screenshots/). */
export const artifacts = path.join(root, 'test/browser/artifacts');
export const VIEWPORT = { width: 1280, height: 800 };

export const chromiumCheck = await requireService(`Chromium at ${CHROMIUM}`, () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install chromium)`);
});

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface User {
  user: string;
  password: string;
  readOnly?: boolean;
}

export interface DashboardOptions {
  /** Users of CELERITY_API_USERS, hashed with `celerity api hash-password`; none: loopback without login. */
  users?: User[];
}

export interface Dashboard {
  /** http://127.0.0.1:<port> */
  base: string;
  /** The test's folder: the SQLite files and the gate files of the fixture's tasks. */
  dir: string;
  worker: WatchedCli;
  server: WatchedCli;
  /** A JSON request to the API as a script would make it (Basic auth as `as` when given). */
  api<T = any>(method: string, url: string, body?: unknown, as?: User): Promise<{ status: number; body: T }>;
  /** Sends a task through the API and returns its id. */
  send(name: string, args: unknown[], options?: Record<string, unknown>, as?: User): Promise<string>;
  /** Creates a gate file the fixture's tasks wait on. */
  open(name: string): void;
  /** True once the gate file (or a file a task left) exists. */
  exists(name: string): boolean;
  /** A fresh browser context at the dashboard's size, its base URL set. */
  context(browser: Browser): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** `celerity api hash-password` from the built CLI: the apiUsers entry for `u`. */
export function hashPassword(u: User): string {
  const r = spawnSync(process.execPath, [cli, 'api', 'hash-password', '--user', u.user, ...(u.readOnly ? ['--read-only'] : [])], {
    input: `${u.password}\n`,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`hash-password failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/** Resolves with the first line `match` accepts; rejects with the process's output if it exits first. */
async function lineOrExit(proc: WatchedCli, match: (l: string) => boolean, what: string): Promise<void> {
  const stderr: string[] = [];
  proc.proc.stderr!.on('data', (d) => stderr.push(String(d)));
  await Promise.race([
    proc.next(match, 20_000),
    exited(proc.proc).then((code) => {
      throw new Error(`${what} exited with ${code} before it was ready:\n${proc.lines.join('\n')}\n${stderr.join('')}`);
    }),
  ]);
}

export async function startDashboard(opts: DashboardOptions = {}): Promise<Dashboard> {
  if (!existsSync(path.join(root, 'dist/dashboard/index.html'))) throw new Error('dist/dashboard/index.html is missing: run npm run build first');
  const tmp = tempDir('celerity-browser-');
  const url = `sqlite://${path.join(tmp.dir, 'celerity.db')}`;
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  const env: NodeJS.ProcessEnv = { ...base, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url, BROWSER_GATES: tmp.dir };
  if (opts.users?.length) env.CELERITY_API_USERS = opts.users.map(hashPassword).join(',');
  const procs: ChildProcess[] = [];
  const track = (p: ChildProcess) => void procs.push(p);
  const close = async () => {
    for (const p of procs.splice(0).reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        const killer = setTimeout(() => p.kill('SIGKILL'), 5000);
        await exited(p);
        clearTimeout(killer);
      }
    }
    tmp.cleanup();
  };
  try {
    const node = `browser-${randomUUID().slice(0, 8)}@test`;
    // -E: task events from the first task on. Without it the worker sends none until the dashboard's periodic
    // enable_events reaches it, and a task that ends before that shows only after a reload.
    const worker = watchCli(['worker', '-A', fixture, '-n', node, '-c', '4', '-E', '--log-format', 'json'], env, track);
    const port = await freePort();
    const history = `sqlite://${path.join(tmp.dir, 'history.db')}`;
    const server = watchCli(['dashboard', '-A', fixture, '--port', String(port), '--history', history, '-l', 'warn'], env, track);
    await Promise.all([lineOrExit(worker, (l) => l.includes('ready.'), 'celerity worker'), lineOrExit(server, (l) => l.includes('listening on'), 'celerity dashboard')]);
    const baseUrl = `http://127.0.0.1:${port}`;
    const api: Dashboard['api'] = async (method, path_, body, as) => {
      const headers: Record<string, string> = {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (as) headers.authorization = `Basic ${Buffer.from(`${as.user}:${as.password}`).toString('base64')}`;
      const res = await fetch(`${baseUrl}${path_}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    return {
      base: baseUrl,
      dir: tmp.dir,
      worker,
      server,
      api,
      send: async (name, args, options, as) => {
        const res = await api<{ id: string }>('POST', '/api/v1/tasks', { name, args, ...(options ? { options } : {}) }, as);
        if (res.status !== 202) throw new Error(`sending ${name} answered ${res.status}: ${JSON.stringify(res.body)}`);
        return res.body.id;
      },
      open: (name) => writeFileSync(path.join(tmp.dir, name), ''),
      exists: (name) => existsSync(path.join(tmp.dir, name)),
      context: async (browser) => {
        const context = await browser.newContext({ viewport: VIEWPORT, baseURL: baseUrl });
        // Shorter than a test's own timeout, so a wait that fails names what it waited for.
        context.setDefaultTimeout(10_000);
        return context;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Saves the page as test/browser/artifacts/<name>.png (the viewport only, so the files stay small). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
}
