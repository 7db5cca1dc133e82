// uPlot charts of /api/v1/stats: throughput, failure rate and latency. uPlot draws on a canvas and takes new data
// with setData, so a live update costs one redraw and no DOM work.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { StatsPoint } from './types.js';

export interface Series {
  label: string;
  value: (p: StatsPoint) => number | null;
  color: string;
  /** Bars for counts per interval, lines for rates and durations. */
  bars?: boolean;
}

const HEIGHT = 180;

function columns(points: StatsPoint[], series: Series[]): uPlot.AlignedData {
  return [points.map((p) => p.t / 1000), ...series.map((s) => points.map((p) => s.value(p)))];
}

export function Chart(props: { title: string; points: StatsPoint[]; series: Series[]; unit: (v: number) => string; summary: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const bars = uPlot.paths.bars?.({ size: [0.8, 12] });
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height: HEIGHT,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => latest.current.unit(t)), size: 60 }],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: s.bars ? `${s.color}88` : undefined,
          width: s.bars ? 0 : 1.5,
          paths: s.bars ? bars : undefined,
          spanGaps: !s.bars,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : latest.current.unit(v)),
        })),
      ],
    };
    plot.current = new uPlot(opts, columns(props.points, props.series), el);
    const observer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(() => plot.current?.setSize({ width: Math.max(280, el.clientWidth), height: HEIGHT }));
    observer?.observe(el);
    return () => {
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(columns(props.points, props.series));
  }, [props.points]);

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      {/* The canvas says nothing to a screen reader; the latest figures do. */}
      <div ref={box} role="img" aria-label={`${props.title}: ${props.summary}`} />
    </figure>
  );
}
