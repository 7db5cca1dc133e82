/**
 * What a running monitor offers the layers above it (the REST API, the dashboard, metrics): the workers it has
 * seen, the live event stream, and the history store it feeds.
 */
import type { ReceivedEvent } from '../control/event-receiver.js';
import type { HistoryStore, TaskUpdate } from '../history/port.js';

/** A worker as its heartbeats describe it (celery/events/state.py Worker). Times are epoch ms. */
export interface WorkerInfo {
  hostname: string;
  /** A heartbeat within 2 x freq (Celery's rule) and no worker-offline since. */
  online: boolean;
  lastHeartbeat: number | null;
  /** Seconds between heartbeats. */
  freq: number;
  active: number;
  processed: number;
  loadavg: [number, number, number] | null;
  pid: number | null;
  /** `py-celery` for Python Celery, `celerity` for ours. */
  swIdent: string | null;
  swVer: string | null;
  swSys: string | null;
}

export interface MonitorView {
  readonly history: HistoryStore;
  /** Every worker seen since the monitor started (and not forgotten after a long silence), sorted by hostname. */
  workers(): WorkerInfo[];
  worker(hostname: string): WorkerInfo | undefined;
  /** Calls `listener` with every event received from now on; returns the function that stops it. */
  onEvent(listener: (event: ReceivedEvent) => void): () => void;
  /**
   * Records a change the monitor did not learn from an event (a task sent through the API, with its exact
   * arguments); applied with the next batch.
   */
  record(update: TaskUpdate): void;
  /** Calls `listener` with every update `record` takes from now on (live views show API-sent tasks at once); returns the function that stops it. */
  onRecord(listener: (update: TaskUpdate) => void): () => void;
  /** Writes every update received so far to the history store. */
  flush(): Promise<void>;
}
