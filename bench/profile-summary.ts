/**
 * Summarizes a V8 `.cpuprofile` (as written by `node --cpu-prof`): the functions with the most self time, self
 * time by package (Celerity's src/, ioredis, bullmq, Node internals, GC, idle...), and the functions of one
 * package with the most inclusive time. A time window (process.hrtime microseconds, the profiler's clock) keeps
 * start-up and shutdown out of a role's figures.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 25] [--from <us>] [--to <us>] [--package celerity]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SummaryOptions {
  top?: number;
  /** Only samples at or after this time (µs, process.hrtime's clock). */
  fromUs?: number;
  /** Only samples before this time. */
  toUs?: number;
  /** The package whose functions get an inclusive-time list (see `packageOf`). */
  focus?: string;
  /** Directories whose scripts are Celerity's own (src/, or a compiled copy of it). Default: src/ and dist/. */
  celerityRoots?: string[];
}

export interface Summary {
  /** Sampled time inside the window, ms. */
  totalMs: number;
  /** Time the thread was not idle, ms. */
  busyMs: number;
  self: { name: string; pkg: string; ms: number }[];
  byPackage: { pkg: string; ms: number }[];
  inclusive: { name: string; ms: number }[];
}

const root = fileURLToPath(new URL('..', import.meta.url));
const defaultRoots = [path.join(root, 'src'), path.join(root, 'dist')];
/** The snapshot redis-vs-bullmq.ts compiles Celerity into, recognised after the fact too. */
const SNAPSHOT = /^(.*\/celerity-bench-build-[^/]+\/dist)\//;

/** The Celerity source or build directory `file` lies in, if any. */
function celerityRootOf(file: string, roots: string[]): string | undefined {
  return roots.find((r) => file.startsWith(r + path.sep)) ?? SNAPSHOT.exec(file)?.[1];
}

/** Which package a frame belongs to, from its script URL. */
export function packageOf(frame: CallFrame, celerityRoots = defaultRoots): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'gc';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'program';
    return 'native';
  }
  if (url.startsWith('node:')) return 'node';
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (m) return m[1]!;
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (celerityRootOf(file, celerityRoots)) return 'celerity';
  if (file.startsWith(path.join(root, 'bench'))) return 'bench';
  return 'other';
}

function frameName(frame: CallFrame, celerityRoots: string[]): string {
  const fn = frame.functionName || '(anonymous)';
  if (!frame.url) return fn;
  let where = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  const nm = where.lastIndexOf('/node_modules/');
  const own = celerityRootOf(where, celerityRoots);
  if (nm >= 0) where = where.slice(nm + '/node_modules/'.length);
  // A compiled snapshot of src/: named as dist/ paths, since its line numbers are the JavaScript's.
  else if (own) where = path.join(path.basename(own), path.relative(own, where));
  else if (!where.startsWith('node:')) where = path.relative(root, where);
  return `${fn} ${where}:${frame.lineNumber + 1}`;
}

export function summarize(profile: CpuProfile, options: SummaryOptions = {}): Summary {
  const top = options.top ?? 25;
  const roots = options.celerityRoots ?? defaultRoots;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, { pkg: string; ms: number }>();
  const pkgs = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  // Sample i is taken at startTime + sum(timeDeltas[0..i]); it stands for the time until the next sample.
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const weightUs = profile.timeDeltas[i + 1] ?? 0;
    if (options.fromUs !== undefined && t < options.fromUs) continue;
    if (options.toUs !== undefined && t >= options.toUs) continue;
    const ms = weightUs / 1000;
    const node = byId.get(profile.samples[i]!)!;
    const name = frameName(node.callFrame, roots);
    const pkg = packageOf(node.callFrame, roots);
    totalMs += ms;
    if (pkg === 'idle') idleMs += ms;
    const entry = self.get(name) ?? { pkg, ms: 0 };
    entry.ms += ms;
    self.set(name, entry);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + ms);
    if (options.focus) {
      // Each function counts once per sample however often it recurs on the stack.
      const seen = new Set<string>();
      for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
        const frame = byId.get(id)!.callFrame;
        if (packageOf(frame, roots) !== options.focus) continue;
        const key = frameName(frame, roots);
        if (seen.has(key)) continue;
        seen.add(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
      }
    }
  }
  return {
    totalMs,
    busyMs: totalMs - idleMs,
    self: [...self].map(([name, v]) => ({ name, ...v })).sort((a, b) => b.ms - a.ms).slice(0, top),
    byPackage: [...pkgs].map(([pkg, ms]) => ({ pkg, ms })).sort((a, b) => b.ms - a.ms),
    inclusive: [...inclusive].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms).slice(0, top),
  };
}

export function summarizeFile(file: string, options: SummaryOptions = {}): Summary {
  return summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, options);
}

export function formatSummary(s: Summary, title: string, perTask?: number): string {
  const pct = (ms: number) => `${((100 * ms) / (s.totalMs || 1)).toFixed(1)}%`;
  const per = (ms: number) => (perTask ? ` ${((1000 * ms) / perTask).toFixed(2)} µs/task` : '');
  const lines = [`### ${title}`, '', `sampled ${s.totalMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms (${pct(s.busyMs)})${per(s.busyMs)}`, ''];
  lines.push('| self time by package | ms | share |', '|---|---|---|');
  for (const p of s.byPackage) lines.push(`| ${p.pkg} | ${p.ms.toFixed(1)} | ${pct(p.ms)} |`);
  lines.push('', '| top self time | package | ms | share |', '|---|---|---|---|');
  for (const f of s.self) lines.push(`| \`${f.name}\` | ${f.pkg} | ${f.ms.toFixed(1)} | ${pct(f.ms)} |`);
  if (s.inclusive.length) {
    lines.push('', '| inclusive time (focus package) | ms | share |', '|---|---|---|');
    for (const f of s.inclusive) lines.push(`| \`${f.name}\` | ${f.ms.toFixed(1)} | ${pct(f.ms)} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
  if (!file) {
    console.error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [--top N] [--from us] [--to us] [--package name]');
    process.exit(2);
  }
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const summary = summarizeFile(file, { top: num(opt('top')), fromUs: num(opt('from')), toUs: num(opt('to')), focus: opt('package') });
  console.log(formatSummary(summary, path.basename(file)));
}
