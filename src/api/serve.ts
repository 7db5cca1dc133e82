/**
 * The REST API as a running server: the history store, the monitor that feeds it from the broker's events, the
 * credentials from the app's settings, and the HTTP server on top. `celerity api` and `celerity dashboard` call
 * this; closing stops them in the reverse order (no request is answered from a closed store).
 */
import type { Celerity } from '../app/celerity.js';
import { openControlClient } from '../app/control-client.js';
import type { ControlClient } from '../control/client.js';
import { historyUrlFor, openHistoryStore } from '../history/open.js';
import { Monitor } from '../monitor/monitor.js';
import type { Logger } from '../util/logger.js';
import { assertBindAllowed, isLoopbackHost, parseCredentials } from './auth.js';
import type { ApiContext, ApiInstance } from './context.js';
import { buildApi } from './server.js';

export interface ApiServerOptions {
  app: Celerity;
  host: string;
  /** 0 picks a free port (the URL then names it). */
  port: number;
  /** Where the history lives; default: the app's historyUrl setting (or its default). */
  historyUrl?: string;
  logger?: Logger;
  /** Routes of a layer above the API, added before the server is ready (buildApi's `extend`). */
  extend?: (api: ApiInstance, ctx: ApiContext) => void;
}

export interface ApiServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { app, host } = options;
  const credentials = parseCredentials(app.conf);
  assertBindAllowed(host, credentials);
  const history = await openHistoryStore(options.historyUrl ?? historyUrlFor(app.conf), { busyTimeout: app.conf.sqliteBusyTimeout });
  let monitor: Monitor | undefined;
  let api: ApiInstance | undefined;
  const control = controlOpener(app);
  const close = async () => {
    await api?.close();
    await control.close();
    await monitor?.close();
    await history.close();
  };
  try {
    monitor = await Monitor.start(app, { history, retention: retentionOf(app), ...(options.logger ? { logger: options.logger } : {}) });
    const ctx: ApiContext = { app, monitor, control: control.open };
    const extend = options.extend;
    api = await buildApi(ctx, { credentials, loopback: isLoopbackHost(host), logger: options.logger, ...(extend ? { extend: (a: ApiInstance) => extend(a, ctx) } : {}) });
    await api.listen({ host, port: options.port });
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  const address = api.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { url: `http://${shown}:${port}`, close };
}

/** historyMaxAge (seconds) and historyMaxTasks, where 0 means no limit. */
export function retentionOf(app: Celerity): { maxAgeMs?: number; maxTasks?: number } {
  const { historyMaxAge, historyMaxTasks } = app.conf;
  return { ...(historyMaxAge > 0 ? { maxAgeMs: historyMaxAge * 1000 } : {}), ...(historyMaxTasks > 0 ? { maxTasks: historyMaxTasks } : {}) };
}

/**
 * The API's one remote-control client, opened on first use and shared by every request; a failed open is tried
 * again by the next request.
 */
export function controlOpener(app: Celerity): { open(): Promise<ControlClient>; close(): Promise<void> } {
  let client: Promise<ControlClient> | undefined;
  return {
    open() {
      if (!client) {
        const opening = openControlClient(app);
        opening.catch(() => client === opening && (client = undefined));
        client = opening;
      }
      return client;
    },
    async close() {
      const c = client;
      client = undefined;
      await c?.then((x) => x.close(), () => undefined);
    },
  };
}
