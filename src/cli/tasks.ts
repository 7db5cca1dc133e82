/**
 * `celerity tasks list`: tasks from the task history (history/port.ts), newest first, filtered by state, age, name,
 * worker and queue. The history is written by monitors (`celerity api`, `celerity dashboard`), not by workers, so
 * an empty history says so rather than printing an empty table.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { historyUrlFor, openHistoryStore } from '../history/open.js';
import type { TaskQuery, TaskRecord } from '../history/port.js';
import { sqlitePathFromUrl } from '../sqlite/open.js';
import { maskPassword } from '../util/mask.js';
import { appFrom, UsageError, type CommonFlags } from './context.js';

interface ListFlags extends CommonFlags {
  state?: string[];
  since?: number;
  name?: string;
  worker?: string;
  queue?: string;
  limit: number;
  json?: boolean;
  history?: string;
}

/** The store returns at most this many per page; larger --limit values read several pages. */
const PAGE = 1000;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

const NEVER_FED = 'monitors fill it while they run (celerity api, celerity dashboard); workers alone do not';

export function registerTasks(program: Command, common: (cmd: Command) => Command): void {
  const tasks = program.command('tasks').description('tasks recorded in the task history');
  common(tasks.command('list').description('tasks from the task history, newest first'))
    .option('-s, --state <states>', 'only these states (comma separated: FAILURE,REVOKED)', states)
    .option('--since <when>', 'first seen within this long (30m, 1h, 2d) or since this ISO time', since)
    .option('--name <task>', 'task name, or a prefix ending in * (proj.media.*)')
    .option('--worker <node>', 'only tasks received by this node (celery@host)')
    .option('-Q, --queue <name>', 'only tasks sent to this queue')
    .option('--limit <n>', 'at most this many tasks', limit, 50)
    .option('--history <url>', 'task history store: sqlite:// or postgresql:// (default: the historyUrl setting)')
    .option('-j, --json', 'print one JSON array of task records')
    .action(async (o: ListFlags) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      try {
        const url = o.history ?? historyUrlFor(app.conf);
        if (!historyExists(url)) {
          if (o.json) process.stdout.write('[]\n');
          process.stderr.write(`No task history at ${maskPassword(url)}: ${NEVER_FED}.\n`);
          return;
        }
        const history = await openHistoryStore(url, { busyTimeout: app.conf.sqliteBusyTimeout });
        try {
          const query: Omit<TaskQuery, 'limit' | 'cursor'> = { state: o.state, since: o.since, name: o.name, worker: o.worker, queue: o.queue };
          const rows: TaskRecord[] = [];
          let cursor: string | undefined;
          do {
            const page = await history.list({ ...query, limit: Math.min(PAGE, o.limit - rows.length), cursor });
            rows.push(...page.tasks);
            cursor = page.next ?? undefined;
          } while (cursor && rows.length < o.limit);
          if (o.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
          if (rows.length === 0) {
            const total = await history.count({});
            process.stderr.write(total === 0 ? `The task history at ${maskPassword(url)} is empty: ${NEVER_FED}.\n` : `No tasks match (${total} in the history).\n`);
            return;
          }
          if (o.json) return;
          printTable(rows);
          if (cursor) {
            const matching = await history.count(query);
            process.stderr.write(`(${rows.length} of ${matching} matching tasks; --limit shows more)\n`);
          }
        } finally {
          await history.close();
        }
      } finally {
        await app.close();
      }
    });
}

/** A SQLite history whose file does not exist yet was never fed; opening it would create an empty file. */
function historyExists(url: string): boolean {
  if (!/^sqlite:\/\//i.test(url.trim())) return true;
  const file = sqlitePathFromUrl(url.trim(), 'historyUrl');
  return file === ':memory:' || existsSync(file);
}

function printTable(rows: readonly TaskRecord[]): void {
  const table = [
    ['id', 'name', 'state', 'worker', 'received', 'runtime'],
    ...rows.map((t) => [t.id, t.name ?? '-', t.state, t.worker ?? '-', time(t.receivedAt ?? t.createdAt), t.runtime === null ? '-' : `${t.runtime.toFixed(3)}s`]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) {
    process.stdout.write(`${row.map((cell, c) => (c === row.length - 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd()}\n`);
  }
}

/** UTC, to the second: `2026-12-05 20:15:03`. */
function time(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** `--since 30m` / `1h` / `2d` / `90s` / `1w`, or an ISO 8601 time; the epoch ms it means. */
export function parseSince(value: string, now = Date.now()): number {
  const v = value.trim();
  const rel = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(v);
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]!.toLowerCase()]!;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.test(v)) {
    const ms = Date.parse(v);
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError(`--since must be a duration such as 30m, 1h or 2d, or an ISO time such as 2026-01-31T09:00Z, got ${JSON.stringify(value)}`);
}

function since(v: string): number {
  return parseSince(v);
}

function states(v: string): string[] {
  const list = v.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (!list.length) throw new UsageError(`--state must name at least one state (FAILURE, SUCCESS, ...), got ${JSON.stringify(v)}`);
  return list;
}

function limit(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`--limit must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}
