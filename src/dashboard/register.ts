/**
 * The dashboard's routes: the live stream, the chart series, the schedules routes and the built pages, added to the
 * REST API's instance (buildApi's `extend`), whose authentication covers them. The pages are `config.open`: served
 * to anyone, since they hold no data and the login form is one of them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Caller } from '../api/auth.js';
import type { ApiContext, ApiInstance } from '../api/context.js';
import { problemSchema } from '../api/schemas.js';
import { registerDashboardRoutes } from './routes.js';
import { registerStatic } from './static.js';
import { StatsCollector } from './stats.js';
import { StreamHub, type StreamOptions } from './stream.js';

export interface DashboardOptions {
  /** The built pages (index.html and assets/); default: dist/dashboard of this package. False serves no pages. */
  assets?: string | false;
  /** Timing and bounds of the live stream. */
  stream?: StreamOptions;
  /** The clock of the charts and the stream (default Date.now). */
  now?: () => number;
}

export interface Dashboard {
  stats: StatsCollector;
  stream: StreamHub;
}

/** dist/dashboard/ of this package, from either src/dashboard/ or dist/dashboard/ (both two levels down). */
export function defaultAssetsDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'dashboard');
}

/**
 * Registers the dashboard's routes on `api`, which must not be ready yet: `GET /api/v1/stream`, `GET
 * /api/v1/stats`, the schedules routes and the pages. The stream and the charts follow `ctx.monitor` from now
 * until the server closes, when the open streams are ended first (preClose).
 */
export function registerDashboard(api: ApiInstance, ctx: ApiContext, options: DashboardOptions = {}): Dashboard {
  const now = options.now ?? Date.now;
  const stats = new StatsCollector({ now });
  const stream = new StreamHub({ monitor: ctx.monitor, results: () => ctx.app.backend() }, stats, {
    now,
    onStalled: () => api.log.warn('dashboard stream: dropped a client whose connection took no data for too long; its page reconnects'),
    ...options.stream,
  });
  const unsubscribe = ctx.monitor.onEvent((event) => stats.observe(event));
  stream.start();
  // Streams never end on their own: they are ended before the server waits for its connections to close.
  api.addHook('preClose', async () => stream.close());
  api.addHook('onClose', async () => unsubscribe());

  api.get('/api/v1/stream', {
    // A HEAD would take the stream over and never end.
    exposeHeadRoute: false,
    schema: {
      tags: ['dashboard'],
      summary:
        'Server-Sent Events: hello {user, readOnly, serverTime} once; tasks (an array of changes, newest state per id, at most every 250 ms); ' +
        'workers (the list, when it changed); stats (the latest chart point, every 2 s); a ping comment every 15 s',
      produces: ['text/event-stream'],
      response: { 200: z.string().describe('text/event-stream'), 401: problemSchema, 403: problemSchema },
    },
  }, (request, reply) => {
    const caller: Caller = request.caller ?? { name: 'local', readOnly: false, via: 'loopback' };
    reply.hijack();
    stream.attach(reply.raw, { user: caller.name, readOnly: caller.readOnly });
  });

  registerDashboardRoutes(api, ctx, { stats, now });
  if (options.assets !== false) registerStatic(api, { dir: options.assets ?? defaultAssetsDir() });
  return { stats, stream };
}
