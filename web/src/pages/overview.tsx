// Overview: the cluster at a glance (workers online, tasks done and failed in the window) and the charts, loaded
// from GET /api/v1/stats and moved on by the stream's `stats` events.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { failureRate, fmtCount, fmtDuration, fmtPercent } from '../chart-format.js';
import type { Chart as ChartComponent } from '../charts.js';
import { subscribe } from '../stream.js';
import type { Stats, StatsPoint, WorkerInfo } from '../types.js';
import { Link, LoadState, useLoad } from '../ui.js';
import { mergeWorkers } from './workers.js';

type Window = '15m' | '1h' | '24h';
const WINDOWS: [Window, string][] = [
  ['15m', '15 minutes'],
  ['1h', '1 hour'],
  ['24h', '24 hours'],
];
const SPAN_MS: Record<Window, number> = { '15m': 15 * 60e3, '1h': 3600e3, '24h': 86400e3 };
/** Minute-step windows are refetched at most this often; a stream point is one second and cannot extend them. */
const COARSE_REFRESH_MS = 30_000;

/** Adds a live point (replacing one of the same time) and drops the points older than the window. */
export function addPoint(points: StatsPoint[], point: StatsPoint, spanMs: number): StatsPoint[] {
  const kept = points.filter((p) => p.t !== point.t && p.t > point.t - spanMs);
  kept.push(point);
  kept.sort((a, b) => a.t - b.t);
  return kept;
}

function last<T>(values: (T | null)[]): T | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i]!;
  return null;
}

export function OverviewPage() {
  const [span, setSpan] = useState<Window>('15m');
  const stats = useLoad((signal) => api<Stats>('/stats', { query: { window: span }, signal }), `stats:${span}`);
  const workers = useLoad((signal) => api<{ workers: WorkerInfo[] }>('/workers', { signal }), 'overview-workers');
  const lastFetch = useRef(0);
  useEffect(() => {
    lastFetch.current = Date.now();
  }, [stats.data]);

  useEffect(
    () =>
      subscribe('stats', (data) => {
        // One point (the latest complete second), or several if the server sends every second since the last.
        const points = (Array.isArray(data) ? data : [data]).filter((p): p is StatsPoint => !!p && typeof (p as StatsPoint).t === 'number');
        if (!points.length) return;
        if (span === '15m') stats.setData((prev) => (prev ? { ...prev, points: points.reduce((all, p) => addPoint(all, p, SPAN_MS[span]), prev.points) } : prev));
        else if (Date.now() - lastFetch.current > COARSE_REFRESH_MS) {
          lastFetch.current = Date.now();
          stats.reload();
        }
      }),
    [span],
  );
  useEffect(
    () =>
      subscribe('workers', (data) => {
        if (Array.isArray(data)) workers.setData((prev) => ({ workers: mergeWorkers(prev?.workers ?? [], data as WorkerInfo[]) }));
      }),
    [],
  );

  // uPlot is loaded with the first chart, so the other pages do not wait for it.
  const [charts, setCharts] = useState<{ Chart: typeof ChartComponent } | null>(null);
  const [chartsError, setChartsError] = useState<string | null>(null);
  useEffect(() => {
    import('../charts.js').then(setCharts, (e: unknown) => setChartsError(errorText(e)));
  }, []);
  const Chart = charts?.Chart;

  const points = stats.data?.points ?? [];
  const sum = (k: 'succeeded' | 'failed' | 'retried' | 'received') => points.reduce((s, p) => s + p[k], 0);
  const succeeded = sum('succeeded');
  const failed = sum('failed');
  const online = workers.data?.workers.filter((w) => w.online).length ?? 0;
  const label = WINDOWS.find(([w]) => w === span)?.[1] ?? span;

  return (
    <>
      <h1>Overview</h1>
      <div class="tiles">
        <Link href="/workers" class="tile">
          <span class="tile-value">{workers.data ? online : '…'}</span> workers online
        </Link>
        <Link href="/tasks?state=SUCCESS" class="tile">
          <span class="tile-value">{succeeded.toLocaleString('en-US')}</span> succeeded ({label})
        </Link>
        <Link href="/tasks?state=FAILURE" class="tile">
          <span class="tile-value">{failed.toLocaleString('en-US')}</span> failed ({label})
        </Link>
        <span class="tile">
          <span class="tile-value">{succeeded + failed ? fmtPercent((failed / (succeeded + failed)) * 100) : '—'}</span> failure rate
        </span>
      </div>
      <div class="toolbar" role="group" aria-label="Chart window">
        {WINDOWS.map(([w, l]) => (
          <button key={w} type="button" aria-pressed={w === span} onClick={() => setSpan(w)}>
            Last {l}
          </button>
        ))}
      </div>
      <LoadState loading={(stats.loading && !stats.data) || (!Chart && !chartsError)} error={stats.error ?? chartsError} />
      {stats.data && Chart && (
        <div class="charts" key={span}>
          <Chart
            title={`Throughput (tasks per ${stats.data.step >= 60 ? 'minute' : 'second'})`}
            points={points}
            unit={fmtCount}
            summary={`${succeeded} succeeded and ${failed} failed in the last ${label}`}
            series={[
              { label: 'succeeded', value: (p) => p.succeeded, color: '#2e7d32', bars: true },
              { label: 'failed', value: (p) => p.failed, color: '#c62828', bars: true },
            ]}
          />
          <Chart
            title="Failure rate"
            points={points}
            unit={fmtPercent}
            summary={`latest ${(() => {
              const v = last(points.map(failureRate));
              return v === null ? 'none' : fmtPercent(v);
            })()}`}
            series={[{ label: 'failed %', value: failureRate, color: '#c62828' }]}
          />
          <Chart
            title="Latency"
            points={points}
            unit={fmtDuration}
            summary={`latest runtime p50 ${fmtOrNone(last(points.map((p) => p.runtimeP50)))}, p95 ${fmtOrNone(last(points.map((p) => p.runtimeP95)))}, wait p50 ${fmtOrNone(last(points.map((p) => p.waitP50)))}`}
            series={[
              { label: 'runtime p50', value: (p) => p.runtimeP50, color: '#1565c0' },
              { label: 'runtime p95', value: (p) => p.runtimeP95, color: '#6a1b9a' },
              { label: 'wait p50', value: (p) => p.waitP50, color: '#ef6c00' },
            ]}
          />
        </div>
      )}
    </>
  );
}

function fmtOrNone(v: number | null): string {
  return v === null ? 'none' : fmtDuration(v);
}
