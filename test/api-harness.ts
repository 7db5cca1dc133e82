/**
 * The REST API in a test: an app (on a fresh SQLite file unless a broker and backend are given), a task history
 * store, a real Monitor on the app's broker, and `buildApi` on top, called with `api.inject()`. Optionally an
 * in-process worker that sends task events, so that what the API shows comes from the same path as in production.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import path from 'node:path';
import type { Credentials } from '../src/api/auth.js';
import { NO_CREDENTIALS } from '../src/api/auth.js';
import type { ApiContext, ApiInstance } from '../src/api/context.js';
import { controlOpener } from '../src/api/serve.js';
import { buildApi } from '../src/api/server.js';
import type { HistoryStore } from '../src/history/port.js';
import { SqliteHistoryStore } from '../src/history/sqlite.js';
import { Monitor } from '../src/monitor/monitor.js';
import { Celerity, type CelerityOptions, type Worker } from '../src/index.js';
import type { WorkerOptions } from '../src/worker/worker.js';
import { tempDir } from './helpers.js';

export interface ApiHarnessOptions {
  /** Default: a SQLite file of the harness's own. */
  broker?: string;
  /** Default: the broker's URL when it is SQLite, else that same SQLite file. */
  backend?: string;
  /** Default: a SQLite history file of the harness's own (closed with the harness either way). */
  history?: HistoryStore;
  /** Default: none (loopback only). */
  credentials?: Credentials;
  /** Default true. */
  loopback?: boolean;
  /** More settings of the app (task events are on unless set here). */
  settings?: CelerityOptions;
  /** Registers tasks on the app before anything starts. */
  tasks?: (app: Celerity) => void;
  /** Where the server logs (unexpected errors with their stack); none by default. */
  logger?: FastifyBaseLogger;
  /** Starts an in-process worker on the app (true, or its options). */
  worker?: boolean | WorkerOptions;
  /** Routes of a layer above the API (the dashboard's), added as `celerity dashboard` adds them; `dir` is the harness's folder. */
  extend?: (api: ApiInstance, ctx: ApiContext, dir: string) => void;
}

export interface ApiHarness {
  app: Celerity;
  monitor: Monitor;
  history: HistoryStore;
  api: ApiInstance;
  worker: Worker | null;
  /** The harness's temporary folder. */
  dir: string;
  /** A JSON request: the status, headers and parsed body. */
  call(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: any }>;
  /** Stops everything in reverse order and removes the folder. */
  close(): Promise<void>;
}

export async function startApiHarness(opts: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const tmp = tempDir('celerity-api-');
  const file = `sqlite://${path.join(tmp.dir, 'celerity.db')}`;
  const broker = opts.broker ?? file;
  const backend = opts.backend ?? (broker.startsWith('sqlite:') ? broker : file);
  const app = new Celerity(
    'api-test',
    { broker, backend, loglevel: 'silent', logFormat: 'json', sendTaskEvents: true, ...opts.settings },
    {},
  );
  opts.tasks?.(app);
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => tmp.cleanup(), () => app.close()];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const history = opts.history ?? new SqliteHistoryStore({ path: path.join(tmp.dir, 'history.db') });
    cleanups.push(() => history.close());
    await history.connect();
    const monitor = await Monitor.start(app, { history, flushIntervalMs: 20 });
    cleanups.push(() => monitor.close());
    const control = controlOpener(app);
    cleanups.push(() => control.close());
    let worker: Worker | null = null;
    if (opts.worker) {
      const w = app.worker({ hostname: `api-${randomUUID().slice(0, 8)}@test`, ...(opts.worker === true ? {} : opts.worker) });
      await w.start();
      cleanups.push(() => w.stop());
      worker = w;
    }
    const ctx: ApiContext = { app, monitor, control: control.open };
    const extend = opts.extend;
    const api = await buildApi(ctx, {
      credentials: opts.credentials ?? NO_CREDENTIALS,
      loopback: opts.loopback ?? true,
      logger: opts.logger,
      ...(extend ? { extend: (a: ApiInstance) => extend(a, ctx, tmp.dir) } : {}),
    });
    cleanups.push(() => api.close());
    const call: ApiHarness['call'] = async (method, url, body, headers = {}) => {
      const res = await api.inject({
        method: method as 'GET',
        url,
        ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }),
        ...(body === undefined ? { headers } : {}),
      });
      let parsed: unknown = res.body;
      try {
        parsed = res.body ? JSON.parse(res.body) : null;
      } catch {
        // Not JSON (metrics text): the text as it is.
      }
      return { status: res.statusCode, headers: res.headers, body: parsed };
    };
    return { app, monitor, history, api, worker, dir: tmp.dir, call, close };
  } catch (err) {
    await close();
    throw err;
  }
}
