/**
 * `celerity api` and `celerity dashboard`: the REST API (and, for the dashboard, its web pages) on Flower's port
 * 5555, fed by a monitor of the broker's events and a task history that survives restarts. Both print the URL once
 * listening and exit 0 on SIGINT or SIGTERM after closing the server, the monitor and the stores.
 */
import type { Command } from 'commander';
import type { Celerity } from '../app/celerity.js';
import { startApiServer } from '../api/serve.js';
import { startDashboardServer } from '../dashboard/index.js';
import { appFrom, UsageError, type CommonFlags } from './context.js';
import { fail } from './exit.js';

/** Flower's port: dashboards and scripts written for Flower find this one where they expect it. */
export const DEFAULT_API_PORT = 5555;

interface ServeFlags extends CommonFlags {
  host: string;
  port: number;
  history?: string;
}

/** Registers `api` and `dashboard`; returns the `api` command, which carries the credential subcommands. */
export function registerApi(program: Command, common: (cmd: Command) => Command): Command {
  const api = serveCommand(common(program.command('api').description('serve the REST API (OpenAPI at /api/v1/openapi.json)')), 'REST API', startApiServer);
  serveCommand(common(program.command('dashboard').description('serve the dashboard and the REST API')), 'dashboard', startDashboardServer);
  return api;
}

type Start = typeof startApiServer;

function serveCommand(cmd: Command, what: string, start: Start): Command {
  return cmd
    .option('--host <address>', 'address to listen on (anything but loopback needs apiUsers or apiTokens)', '127.0.0.1')
    .option('--port <port>', `port to listen on (default ${DEFAULT_API_PORT}, as Flower)`, port, DEFAULT_API_PORT)
    .option('--history <url>', 'task history store: sqlite:// or postgresql:// (default: the historyUrl setting)')
    .action(async (o: ServeFlags) => {
      const app = await appFrom(o);
      await serve(app, o, what, start);
    });
}

async function serve(app: Celerity, o: ServeFlags, what: string, start: Start): Promise<void> {
  let server: Awaited<ReturnType<Start>>;
  try {
    server = await start({ app, host: o.host, port: o.port, historyUrl: o.history, logger: app.log });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, `${signal} received: stopping the ${what}`);
    server
      .close()
      .then(() => app.close())
      .then(() => process.exit(0), fail);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`celerity ${what} listening on ${server.url}\n`);
}

function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n > 65535) throw new UsageError(`--port must be a port number from 0 to 65535, got ${v}`);
  return n;
}
