/**
 * The dashboard's live stream (`GET /api/v1/stream`, Server-Sent Events): task changes from the monitor's events
 * (and PROGRESS read from the result store, which no event carries), the workers when they change, and the chart
 * point, to every connected page.
 *
 * Memory is bounded per client whatever the rate of events or the speed of the page: a client holds at most one
 * pending change per task id (the newest replaces the older), flags for workers and stats (sent as they are when
 * the client can take them), and nothing else. A client whose socket cannot take more data gets nothing written
 * until it drains; one that stays full too long is dropped (its EventSource reconnects and starts afresh). One
 * that falls so far behind that its pending ids pass a limit gets a new `hello` instead, on which the page
 * reloads its list.
 */
import type { ServerResponse } from 'node:http';
import { fromMonitor } from '../api/routes/workers.js';
import { stateReplaces, type TaskUpdate } from '../history/port.js';
import { taskUpdateFromEvent } from '../monitor/task-events.js';
import type { MonitorView, WorkerInfo } from '../monitor/types.js';
import type { ResultMeta } from '../protocol/types.js';
import type { StatsCollector } from './stats.js';

/** One task as the stream sends it. Times are epoch ms; runtime is seconds. */
export interface TaskChange {
  id: string;
  name: string | null;
  state: string;
  worker: string | null;
  queue: string | null;
  runtime: number | null;
  updatedAt: number;
  createdAt: number;
  /** The meta of a custom state (PROGRESS `{current, total}`), when the task is in one. */
  progress?: unknown;
}

/** A worker as GET /api/v1/workers lists it (from heartbeats: the live fields, which need a remote-control round, are null). */
export type StreamWorker = ReturnType<typeof fromMonitor>;

export interface StreamOptions {
  /** Between two `tasks` messages to one client (default 250 ms). */
  batchMs?: number;
  /** Task changes in one message (default 500). */
  maxBatch?: number;
  /** Between two looks at the workers (default 1 s). */
  workersMs?: number;
  /** Between two `stats` messages (default 2 s). */
  statsMs?: number;
  /** Between two `: ping` comments, which keep proxies from closing an idle stream (default 15 s). */
  pingMs?: number;
  /** Between two reads of running tasks' metas from the result store (default 500 ms). */
  progressMs?: number;
  /** Pending task ids of one client before it is sent `hello` instead, to reload (default 5000). */
  maxPending?: number;
  /** How long a client's socket may stay full before the client is dropped (default 30 s). */
  stallMs?: number;
  /** Tasks whose name, queue and state are remembered to complete later events (default 10 000). */
  maxTracked?: number;
  now?: () => number;
  /** Called when a client is dropped because its socket stayed full (for the log). */
  onStalled?: () => void;
}

export interface StreamSource {
  monitor: Pick<MonitorView, 'onEvent' | 'onRecord' | 'workers'>;
  /** The result store, for PROGRESS; rejects when there is none. */
  results(): Promise<{ mget(ids: readonly string[]): Promise<(ResultMeta | null)[]> }>;
}

export interface HelloData {
  user: string;
  readOnly: boolean;
}

/** States Celery defines; a task in another one is in a custom state whose meta is its progress. */
const BUILTIN = new Set(['PENDING', 'RECEIVED', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED', 'RETRY', 'IGNORED']);
/** Running tasks read from the result store in one round. */
const PROGRESS_BATCH = 500;

class Client {
  readonly pending = new Map<string, TaskChange>();
  workers = false;
  /** The workers list as last sent to this client (JSON). */
  workersSent = '';
  stats = false;
  resync = false;
  blockedSince = 0;

  constructor(
    readonly res: ServerResponse,
    readonly hello: HelloData,
  ) {}

  /** The socket takes more data without buffering beyond its high-water mark. */
  writable(): boolean {
    return !this.res.destroyed && !this.res.writableEnded && !this.res.writableNeedDrain;
  }
}

export class StreamHub {
  private readonly clients = new Set<Client>();
  private readonly tasks = new Map<string, TaskChange>();
  private readonly running = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly o: Required<Omit<StreamOptions, 'now' | 'onStalled'>>;
  private readonly onStalled: () => void;
  private readonly now: () => number;
  private polling = false;
  private closed = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly source: StreamSource,
    private readonly stats: StatsCollector,
    options: StreamOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.onStalled = options.onStalled ?? (() => undefined);
    this.o = {
      batchMs: options.batchMs ?? 250,
      maxBatch: options.maxBatch ?? 500,
      workersMs: options.workersMs ?? 1000,
      statsMs: options.statsMs ?? 2000,
      pingMs: options.pingMs ?? 15_000,
      progressMs: options.progressMs ?? 500,
      maxPending: options.maxPending ?? 5000,
      stallMs: options.stallMs ?? 30_000,
      maxTracked: options.maxTracked ?? 10_000,
    };
  }

  /** Subscribes to the monitor's events and starts the timers. */
  start(): void {
    if (this.unsubscribe) return;
    const offEvents = this.source.monitor.onEvent((event) => {
      const update = taskUpdateFromEvent(event);
      if (update) this.onUpdate(update);
    });
    // Tasks the API records itself (sent through it, to a queue no worker may consume yet) show at once too.
    const offRecords = this.source.monitor.onRecord((update) => this.onUpdate(update));
    this.unsubscribe = () => {
      offEvents();
      offRecords();
    };
    this.every(this.o.batchMs, () => this.flush());
    this.every(this.o.workersMs, () => this.checkWorkers());
    this.every(this.o.statsMs, () => this.clients.forEach((c) => (c.stats = true)));
    this.every(this.o.pingMs, () => this.clients.forEach((c) => c.writable() && c.res.write(': ping\n\n')));
    this.every(this.o.progressMs, () => void this.pollProgress());
  }

  /** Ends every stream (the pages reconnect to whichever server comes next) and stops. */
  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes over a response: writes the stream's headers and `hello`, then keeps it until either side closes. */
  attach(res: ServerResponse, hello: HelloData): void {
    if (this.closed) {
      // A request that came in while the server was closing: answered, so the server's close is not held up.
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '2' }).end('the server is closing\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx would otherwise hold the events back in its buffer.
      'x-accel-buffering': 'no',
    });
    const client = new Client(res, hello);
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    res.write('retry: 2000\n\n');
    this.writeHello(client);
    client.workers = true;
    client.stats = true;
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private writeHello(client: Client): void {
    client.res.write(frame('hello', { user: client.hello.user, readOnly: client.hello.readOnly, serverTime: this.now() }));
  }

  private onUpdate(update: TaskUpdate): void {
    let task = this.tasks.get(update.id);
    if (task) {
      // Map order is the eviction order: a task seen again is the newest.
      this.tasks.delete(update.id);
    } else {
      task = { id: update.id, name: null, state: 'PENDING', worker: null, queue: null, runtime: null, updatedAt: update.timestamp, createdAt: update.timestamp };
    }
    this.tasks.set(update.id, task);
    if (this.tasks.size > this.o.maxTracked) {
      const oldest = this.tasks.keys().next().value!;
      this.tasks.delete(oldest);
      this.running.delete(oldest);
    }
    const f = update.fields ?? {};
    if (f.name) task.name = f.name;
    if (f.queue) task.queue = f.queue;
    if (f.worker) task.worker = f.worker;
    if (typeof f.runtime === 'number') task.runtime = f.runtime;
    task.createdAt = Math.min(task.createdAt, update.timestamp);
    task.updatedAt = Math.max(task.updatedAt, update.timestamp);
    if (update.state && stateReplaces(task.state, update.state)) this.setState(task, update.state);
    this.changed(task);
  }

  private setState(task: TaskChange, state: string): void {
    task.state = state;
    if (BUILTIN.has(state)) delete task.progress;
    if (state === 'STARTED' || !BUILTIN.has(state)) this.running.add(task.id);
    else this.running.delete(task.id);
  }

  private changed(task: TaskChange): void {
    for (const c of this.clients) {
      if (c.resync) continue;
      c.pending.delete(task.id);
      c.pending.set(task.id, task);
      if (c.pending.size > this.o.maxPending) {
        c.pending.clear();
        c.resync = true;
      }
    }
  }

  private checkWorkers(): void {
    if (!this.clients.size) return;
    const text = JSON.stringify(this.workerList());
    for (const c of this.clients) if (c.workersSent !== text) c.workers = true;
  }

  private workerList(): StreamWorker[] {
    return this.source.monitor.workers().map(toStreamWorker);
  }

  /** Custom states are in the result store only: read the running tasks' metas, in one round at a time. */
  private async pollProgress(): Promise<void> {
    if (this.polling || !this.clients.size || !this.running.size) return;
    this.polling = true;
    try {
      const ids = [...this.running].slice(0, PROGRESS_BATCH);
      // To the back of the line: with more running tasks than one round reads, every one gets its turn.
      for (const id of ids) {
        this.running.delete(id);
        this.running.add(id);
      }
      const metas = await (await this.source.results()).mget(ids);
      metas.forEach((meta, i) => {
        const task = this.tasks.get(ids[i]!);
        if (!meta || !task || !stateReplaces(task.state, meta.status)) return;
        const custom = !BUILTIN.has(meta.status);
        if (meta.status === task.state && (!custom || JSON.stringify(meta.result) === JSON.stringify(task.progress))) return;
        this.setState(task, meta.status);
        if (custom) task.progress = meta.result ?? null;
        task.updatedAt = Math.max(task.updatedAt, this.now());
        this.changed(task);
      });
    } catch {
      // A result store that cannot be read now is tried again next round; the events still flow.
    } finally {
      this.polling = false;
    }
  }

  /** Sends what is pending to every client that can take it now; the batch timer calls it. */
  flush(): void {
    const now = this.now();
    for (const c of this.clients) this.flushClient(c, now);
  }

  private flushClient(c: Client, now: number): void {
    if (c.res.destroyed || c.res.writableEnded) {
      this.clients.delete(c);
      return;
    }
    if (c.res.writableNeedDrain) {
      if (!c.blockedSince) c.blockedSince = now;
      else if (now - c.blockedSince >= this.o.stallMs) {
        this.clients.delete(c);
        c.res.destroy();
        this.onStalled();
      }
      return;
    }
    c.blockedSince = 0;
    if (c.resync) {
      c.resync = false;
      this.writeHello(c);
    }
    if (c.pending.size) {
      const batch: TaskChange[] = [];
      for (const [id, task] of c.pending) {
        if (batch.length >= this.o.maxBatch) break;
        batch.push(task);
        c.pending.delete(id);
      }
      c.res.write(frame('tasks', batch));
    }
    if (c.workers) {
      c.workers = false;
      c.workersSent = JSON.stringify(this.workerList());
      c.res.write(`event: workers\ndata: ${c.workersSent}\n\n`);
    }
    if (c.stats) {
      c.stats = false;
      c.res.write(frame('stats', this.stats.latest()));
    }
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The same row GET /api/v1/workers lists for this worker. */
export function toStreamWorker(w: WorkerInfo): StreamWorker {
  return fromMonitor(w);
}
