// One worker: what it runs and consumes, its stats and registered tasks, and remote control (pool grow/shrink,
// autoscale, add/cancel consumer, shutdown), each behind a confirmation.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { subscribe } from '../stream.js';
import type { WorkerDetail, WorkerInfo } from '../types.js';
import { Json, Link, LoadState, confirmAction, fmtTime, useCanAct, useLoad } from '../ui.js';

export function WorkerPage(props: { name: string }) {
  const path = `/workers/${encodeURIComponent(props.name)}`;
  const worker = useLoad((signal) => api<WorkerDetail>(path, { signal }), path);
  useEffect(
    () =>
      subscribe('workers', (data) => {
        const mine = Array.isArray(data) ? (data as WorkerInfo[]).find((w) => w.name === props.name) : undefined;
        if (mine) worker.setData((prev) => (prev ? { ...prev, ...mine, queues: mine.queues ?? prev.queues } : prev));
      }),
    [props.name],
  );
  const w = worker.data;
  return (
    <>
      <p class="crumbs">
        <Link href="/workers">Workers</Link> /
      </p>
      <h1>Worker</h1>
      <LoadState loading={worker.loading && !w} error={worker.error} />
      {w && (
        <>
          <p class="subtitle">
            <strong>{w.name}</strong> <span class={`badge ${w.online ? 'state-success' : 'state-offline'}`}>{w.online ? 'online' : 'offline'}</span>
            {!w.answered && <span class="muted"> (did not answer remote control)</span>}
          </p>
          <dl class="fields">
            {(
              [
                ['Software', [w.swIdent, w.swVer, w.swSys].filter(Boolean).join(' ') || '—'],
                ['PID', w.pid ?? '—'],
                ['Pool', w.pool?.implementation ?? '—'],
                ['Concurrency', w.concurrency ?? w.pool?.maxConcurrency ?? '—'],
                ['Active', w.active ?? '—'],
                ['Processed', w.processed ?? '—'],
                ['Load', w.loadavg?.map((l) => l.toFixed(2)).join(' ') ?? '—'],
                ['Last heartbeat', fmtTime(w.lastHeartbeat)],
              ] as const
            ).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
          <Controls worker={w} onDone={worker.reload} />
          <section aria-labelledby="queues-h">
            <h2 id="queues-h">Queues consumed</h2>
            <ConsumerList worker={w} onDone={worker.reload} />
          </section>
          <section aria-labelledby="registered-h">
            <h2 id="registered-h">Registered tasks ({w.registered?.length ?? 0})</h2>
            {w.registered?.length ? (
              <ul class="columns">
                {w.registered.map((r) => (
                  <li key={r}>
                    <Link href={`/tasks?name=${encodeURIComponent(r)}`}>{r}</Link>
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">Not known (the worker did not answer).</p>
            )}
          </section>
          <section aria-labelledby="active-h">
            <h2 id="active-h">Running now ({w.activeTasks?.length ?? 0})</h2>
            {w.activeTasks?.length ? <Json value={w.activeTasks} label="Active tasks" /> : <p class="muted">None.</p>}
          </section>
          {w.stats && (
            <section aria-labelledby="stats-h">
              <h2 id="stats-h">Stats</h2>
              <Json value={w.stats} label="Worker stats" />
            </section>
          )}
          {w.conf && (
            <section aria-labelledby="conf-h">
              <h2 id="conf-h">Configuration</h2>
              <Json value={w.conf} label="Worker configuration" />
            </section>
          )}
        </>
      )}
    </>
  );
}

function queueNames(w: WorkerDetail): string[] {
  const fromConsumers = (w.consumers ?? []).map((c) => (c && typeof c === 'object' && 'name' in c ? String((c as { name: unknown }).name) : null)).filter((n): n is string => !!n);
  return [...new Set(fromConsumers.length ? fromConsumers : (w.queues ?? []))];
}

function ConsumerList(props: { worker: WorkerDetail; onDone: () => void }) {
  const canAct = useCanAct();
  const names = queueNames(props.worker);
  const base = `/workers/${encodeURIComponent(props.worker.name)}`;
  if (!names.length) return <p class="muted">None known.</p>;
  return (
    <ul>
      {names.map((q) => (
        <li key={q} data-queue={q}>
          {q}{' '}
          {canAct && (
            <button
              type="button"
              class="small"
              aria-label={`Cancel consumer ${q}`}
              onClick={() =>
                confirmAction({
                  title: 'Cancel consumer',
                  body: (
                    <p>
                      {props.worker.name} stops consuming from {q}.
                    </p>
                  ),
                  confirmLabel: 'Cancel consumer',
                  danger: true,
                  action: async () => {
                    await api(`${base}/consumers/${encodeURIComponent(q)}`, { method: 'DELETE' });
                    props.onDone();
                    return `${props.worker.name} no longer consumes from ${q}`;
                  },
                })
              }
            >
              Cancel
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

function Controls(props: { worker: WorkerDetail; onDone: () => void }) {
  const canAct = useCanAct();
  const [n, setN] = useState(1);
  const [max, setMax] = useState(props.worker.concurrency ?? 4);
  const [min, setMin] = useState(1);
  const [queue, setQueue] = useState('');
  if (!canAct) return null;
  const name = props.worker.name;
  const base = `/workers/${encodeURIComponent(name)}`;
  const run = (title: string, text: string, confirmLabel: string, path: string, body?: unknown, danger = false) =>
    confirmAction({
      title,
      body: <p>{text}</p>,
      confirmLabel,
      danger,
      action: async () => {
        const r = await api<{ ok: unknown }>(`${base}${path}`, { method: 'POST', body });
        props.onDone();
        return `${name}: ${typeof r?.ok === 'string' ? r.ok : `${title} done`}`;
      },
    });
  const int = (v: string, fallback: number) => (Number.isFinite(Number.parseInt(v, 10)) ? Number.parseInt(v, 10) : fallback);
  return (
    <section aria-labelledby="control-h" class="controls">
      <h2 id="control-h">Control</h2>
      <div class="toolbar" role="group" aria-label="Pool size">
        <label>
          Processes
          <input type="number" min={1} max={10000} value={n} onInput={(e) => setN(int(e.currentTarget.value, 1))} />
        </label>
        <button type="button" onClick={() => run('Grow pool', `${name} runs ${n} more task(s) at once.`, 'Grow', '/pool/grow', { n })}>
          Grow pool
        </button>
        <button type="button" onClick={() => run('Shrink pool', `${name} runs ${n} fewer task(s) at once.`, 'Shrink', '/pool/shrink', { n })}>
          Shrink pool
        </button>
      </div>
      <div class="toolbar" role="group" aria-label="Autoscale">
        <label>
          Max
          <input type="number" min={1} max={10000} value={max} onInput={(e) => setMax(int(e.currentTarget.value, 1))} />
        </label>
        <label>
          Min
          <input type="number" min={0} max={10000} value={min} onInput={(e) => setMin(int(e.currentTarget.value, 0))} />
        </label>
        <button type="button" onClick={() => run('Autoscale', `${name} scales its pool between ${min} and ${max}.`, 'Set autoscale', '/autoscale', { max, min })}>
          Set autoscale
        </button>
      </div>
      <form
        class="toolbar"
        aria-label="Add consumer"
        onSubmit={(e) => {
          e.preventDefault();
          if (queue.trim()) run('Add consumer', `${name} starts consuming from ${queue.trim()}.`, 'Add consumer', '/consumers', { queue: queue.trim() });
        }}
      >
        <label>
          Queue
          <input value={queue} required onInput={(e) => setQueue(e.currentTarget.value)} />
        </label>
        <button type="submit">Add consumer</button>
      </form>
      <div class="toolbar">
        <button type="button" class="danger" onClick={() => run('Shut down worker', `${name} finishes its running tasks and stops. It does not come back by itself.`, 'Shut down', '/shutdown', undefined, true)}>
          Shut down
        </button>
      </div>
    </section>
  );
}
