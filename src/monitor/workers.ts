/**
 * The workers a monitor has heard from, kept from their worker-online, worker-heartbeat and worker-offline events
 * (celery/events/state.py `Worker`): online while the last heartbeat is younger than twice its `freq` and no
 * worker-offline came after it. Heartbeats are timed by when the monitor received them (`local_received`), as
 * Celery does, so a worker whose clock is off is not taken for dead. A worker silent for over an hour is forgotten, so the registry holds at most the
 * workers of the last hour, whatever the event rate.
 */
import type { ReceivedEvent } from '../control/event-receiver.js';
import { heartbeatExpires } from '../protocol/events.js';
import type { WorkerInfo } from './types.js';

/** Celery's default heartbeat interval, for a worker event that does not say. */
const DEFAULT_FREQ = 2;

export interface WorkerRegistryOptions {
  /** Epoch ms; defaults to Date.now. */
  now?: () => number;
  /** Forget a worker after this long without any event from it (default one hour). */
  forgetAfterMs?: number;
}

interface Entry {
  info: Omit<WorkerInfo, 'online'>;
  /** Epoch ms of the latest event of any kind. */
  lastSeen: number;
  offline: boolean;
}

export class WorkerRegistry {
  private readonly byHost = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly forgetAfterMs: number;

  constructor(options: WorkerRegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.forgetAfterMs = options.forgetAfterMs ?? 3_600_000;
  }

  /** Takes a worker event; returns false for events of other kinds (and for a worker event without a hostname). */
  handle(event: ReceivedEvent): boolean {
    if (event.type !== 'worker-online' && event.type !== 'worker-heartbeat' && event.type !== 'worker-offline') return false;
    const hostname = typeof event.hostname === 'string' ? event.hostname : '';
    if (!hostname) return false;
    // As Celery, the time the monitor received it: a worker's clock may be off from the monitor's.
    const sec = finite(event.local_received) ?? finite(event.timestamp);
    const at = sec !== undefined ? sec * 1000 : this.now();
    let entry = this.byHost.get(hostname);
    if (!entry) {
      entry = {
        info: {
          hostname,
          lastHeartbeat: null,
          freq: DEFAULT_FREQ,
          active: 0,
          processed: 0,
          loadavg: null,
          pid: null,
          swIdent: null,
          swVer: null,
          swSys: null,
        },
        lastSeen: at,
        offline: false,
      };
      this.byHost.set(hostname, entry);
    }
    const info = entry.info;
    // A heartbeat older than the one kept (events can arrive out of order) updates nothing.
    if (event.type !== 'worker-offline' && info.lastHeartbeat !== null && at < info.lastHeartbeat) return true;
    entry.lastSeen = Math.max(entry.lastSeen, at);
    const freq = finite(event.freq);
    if (freq !== undefined && freq > 0) info.freq = freq;
    const active = finite(event.active);
    if (active !== undefined) info.active = active;
    const processed = finite(event.processed);
    if (processed !== undefined) info.processed = processed;
    if (Array.isArray(event.loadavg) && event.loadavg.length === 3 && event.loadavg.every((n) => typeof n === 'number')) {
      info.loadavg = event.loadavg as [number, number, number];
    }
    const pid = finite(event.pid);
    if (pid !== undefined) info.pid = pid;
    if (typeof event.sw_ident === 'string') info.swIdent = event.sw_ident;
    if (typeof event.sw_ver === 'string') info.swVer = event.sw_ver;
    if (typeof event.sw_sys === 'string') info.swSys = event.sw_sys;
    if (event.type === 'worker-offline') {
      entry.offline = true;
    } else {
      entry.offline = false;
      info.lastHeartbeat = at;
    }
    return true;
  }

  /** Every worker not forgotten, sorted by hostname. */
  list(): WorkerInfo[] {
    this.forget();
    return [...this.byHost.keys()].sort().map((h) => this.view(this.byHost.get(h)!));
  }

  get(hostname: string): WorkerInfo | undefined {
    this.forget();
    const entry = this.byHost.get(hostname);
    return entry ? this.view(entry) : undefined;
  }

  get size(): number {
    return this.byHost.size;
  }

  /** Drops workers silent for longer than `forgetAfterMs`. */
  forget(): void {
    const cutoff = this.now() - this.forgetAfterMs;
    for (const [host, entry] of this.byHost) if (entry.lastSeen < cutoff) this.byHost.delete(host);
  }

  private view(entry: Entry): WorkerInfo {
    const { info } = entry;
    const alive =
      !entry.offline && info.lastHeartbeat !== null && this.now() < heartbeatExpires(info.lastHeartbeat / 1000, info.freq) * 1000;
    return { ...info, loadavg: info.loadavg ? [...info.loadavg] : null, online: alive };
  }
}

function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
