/**
 * The worker's HTTP endpoint for Prometheus and orchestrators (the `metricsPort` and `metricsHost` settings):
 * `GET /metrics` (WorkerMetrics), `GET /healthz` (200 while the process serves), `GET /readyz` (200 when the
 * worker's broker and result backend answer, 503 naming the failing check otherwise). Plain node:http: three
 * read-only routes need no framework.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerApp } from '../worker/worker-app.js';
import type { Logger } from '../util/logger.js';
import { checkReady } from './health.js';
import { WorkerMetrics, type WorkerView } from './worker-metrics.js';

export interface WorkerMetricsServerOptions {
  port: number;
  host: string;
  log?: Logger;
  /** Per readiness check (default 2 s). */
  readyTimeoutMs?: number;
}

export class WorkerMetricsServer {
  private constructor(
    private readonly server: Server,
    private readonly metrics: WorkerMetrics,
    /** `http://host:port` as bound (the real port when 0 was asked). */
    readonly url: string,
  ) {}

  /**
   * Listens, or rejects with an error naming metricsPort when the address cannot be bound (a port in use), so
   * the worker fails to start instead of running unobserved.
   */
  static async start(worker: WorkerView, app: WorkerApp, options: WorkerMetricsServerOptions): Promise<WorkerMetricsServer> {
    const metrics = new WorkerMetrics(worker);
    const ready = () =>
      checkReady({ broker: () => app.broker(), backend: () => app.backend(), timeoutMs: options.readyTimeoutMs, queue: worker.queues[0] ?? app.conf.defaultQueue });
    const server = createServer((req, res) => void handle(req, res, metrics, ready));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      metrics.close();
      const e = err as NodeJS.ErrnoException;
      throw new Error(`metricsPort ${options.port} on metricsHost ${options.host} cannot be bound: ${e.code ?? ''} ${e.message}`.replace(/  +/g, ' '), {
        cause: err,
      });
    }
    // Prometheus keeps its connections open between scrapes; they must not hold a stopping worker.
    server.on('connection', (socket) => socket.unref());
    server.unref();
    const { address, port } = server.address() as AddressInfo;
    const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
    options.log?.info({ url }, `metrics served at ${url}/metrics`);
    return new WorkerMetricsServer(server, metrics, url);
  }

  async close(): Promise<void> {
    this.metrics.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  metrics: WorkerMetrics,
  ready: () => ReturnType<typeof checkReady>,
): Promise<void> {
  try {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'application/json', JSON.stringify({ error: 'method not allowed' }), { allow: 'GET, HEAD' });
    if (path === '/metrics') return send(res, 200, metrics.contentType, await metrics.metrics());
    if (path === '/healthz') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
    if (path === '/readyz') {
      const r = await ready();
      return send(res, r.ok ? 200 : 503, 'application/json', JSON.stringify({ status: r.ok ? 'ok' : 'unavailable', checks: r.checks }));
    }
    send(res, 404, 'application/json', JSON.stringify({ error: `no route ${path}: try /metrics, /healthz or /readyz` }));
  } catch (err) {
    send(res, 500, 'application/json', JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
