// Axis and legend formats of the charts, apart from the chart module so pages can use them without loading uPlot.
import type { StatsPoint } from './types.js';

export const fmtCount = (v: number) => (Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v * 10) / 10));
export const fmtPercent = (v: number) => `${Math.round(v * 10) / 10}%`;
export const fmtDuration = (v: number) => (v < 1 ? `${Math.round(v * 1000)} ms` : `${Math.round(v * 100) / 100} s`);

export const failureRate = (p: StatsPoint) => {
  const done = p.succeeded + p.failed;
  return done ? (p.failed / done) * 100 : null;
};
