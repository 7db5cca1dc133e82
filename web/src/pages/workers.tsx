// Workers: every worker the monitor has seen, refreshed from the workers themselves on load, then replaced by the
// stream's `workers` events as heartbeats change them.
import { useEffect } from 'preact/hooks';
import { api } from '../api.js';
import { subscribe } from '../stream.js';
import type { WorkerInfo } from '../types.js';
import { Link, LoadState, useLoad } from '../ui.js';

interface WorkerList {
  workers: WorkerInfo[];
  refreshed: boolean;
}

/** Merges changed workers into the list by name, keeping the others; sorted by name. */
export function mergeWorkers(current: WorkerInfo[], changed: WorkerInfo[]): WorkerInfo[] {
  const byName = new Map(current.map((w) => [w.name, w]));
  for (const w of changed) byName.set(w.name, { ...byName.get(w.name), ...w, queues: w.queues ?? byName.get(w.name)?.queues ?? null });
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function WorkersPage() {
  const list = useLoad((signal) => api<WorkerList>('/workers', { query: { refresh: true }, signal }), 'workers');
  useEffect(
    () =>
      subscribe('workers', (data) => {
        if (Array.isArray(data)) list.setData((prev) => ({ refreshed: prev?.refreshed ?? false, workers: mergeWorkers(prev?.workers ?? [], data as WorkerInfo[]) }));
      }),
    [],
  );
  const workers = list.data?.workers ?? [];
  const online = workers.filter((w) => w.online).length;
  return (
    <>
      <h1>Workers</h1>
      <p class="muted">
        {online} online, {workers.length - online} offline
      </p>
      <LoadState loading={list.loading && !list.data} error={list.error} empty={!workers.length} emptyText="No worker has been seen yet." />
      {workers.length > 0 && (
        <table class="table" role="table" aria-label="Workers">
          <thead>
            <tr>
              <th scope="col">Worker</th>
              <th scope="col">Status</th>
              <th scope="col">Active</th>
              <th scope="col">Processed</th>
              <th scope="col">Load</th>
              <th scope="col">Pool</th>
              <th scope="col">Concurrency</th>
              <th scope="col">Queues</th>
              <th scope="col">Software</th>
            </tr>
          </thead>
          <tbody>
            {workers.map((w) => (
              <tr key={w.name} data-worker={w.name} data-online={String(w.online)}>
                <td>
                  <Link href={`/workers/${encodeURIComponent(w.name)}`}>{w.name}</Link>
                </td>
                <td>
                  <span class={`badge ${w.online ? 'state-success' : 'state-offline'}`}>{w.online ? 'online' : 'offline'}</span>
                </td>
                <td>{w.active ?? '—'}</td>
                <td>{w.processed ?? '—'}</td>
                <td>{w.loadavg ? w.loadavg.map((l) => l.toFixed(2)).join(' ') : '—'}</td>
                <td>{w.pool?.implementation ?? '—'}</td>
                <td>{w.concurrency ?? w.pool?.maxConcurrency ?? '—'}</td>
                <td>{w.queues?.join(', ') || '—'}</td>
                <td>{[w.swIdent, w.swVer].filter(Boolean).join(' ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
