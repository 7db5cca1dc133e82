/**
 * `celerity result <id>`: a task's stored result, optionally waited for (--wait) or followed through its progress
 * (--follow). Exit 0 success, 1 failed/revoked, 3 not ready, 75 when --timeout passes.
 *
 * --follow draws the task's PROGRESS meta `{current, total}` as a bar on stderr: redrawn in place on a terminal, one
 * line per change otherwise (a log, a pipe). stdout carries only the result, exactly as with --wait, so
 * `celerity result <id> --follow --json > out.json` still writes one JSON record.
 */
import type { Command } from 'commander';
import type { Celerity } from '../app/celerity.js';
import type { ResultBackend } from '../backend/port.js';
import { errorText } from '../protocol/error-text.js';
import type { ResultMeta } from '../protocol/types.js';
import { READY_STATES } from '../protocol/types.js';
import type { ProgressEvent } from '../result/progress.js';
import { appFrom, UsageError, type CommonFlags } from './context.js';
import { Exit } from './exit.js';

interface ResultFlags extends CommonFlags {
  wait?: boolean;
  follow?: boolean;
  timeout?: number;
  json?: boolean;
}

/** Width of the bar between the brackets. */
const BAR_WIDTH = 20;

export function registerResult(program: Command, common: (cmd: Command) => Command): void {
  common(program.command('result <id>').description('show a task result; exit 0 success, 1 failed/revoked, 3 not ready'))
    .option('-w, --wait', 'wait until the task is ready')
    .option('-f, --follow', 'wait, drawing the task\'s progress (PROGRESS meta {current, total}) on stderr')
    .option('-t, --timeout <seconds>', 'with --wait or --follow: give up after this long (exit 75)', seconds('--timeout'))
    .option('--json', 'print the whole result record as JSON')
    .action(async (id: string, o: ResultFlags) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      let meta: ResultMeta | null;
      try {
        const timeoutMs = o.timeout !== undefined ? o.timeout * 1000 : undefined;
        if (o.follow) meta = await follow(app, id, timeoutMs, process.stderr);
        else {
          const backend: ResultBackend = await app.backend();
          meta = o.wait ? await backend.waitFor(id, { timeoutMs }) : await backend.get(id);
        }
      } finally {
        await app.close();
      }
      process.exitCode = printResult(id, meta, o.json ?? false);
    });
}

/** Prints the record as `result` always has; returns the exit code for its state. */
function printResult(id: string, meta: ResultMeta | null, json: boolean): number {
  const state = meta?.status ?? 'PENDING';
  if (json) process.stdout.write(`${JSON.stringify(meta ?? { task_id: id, status: 'PENDING' })}\n`);
  else if (state === 'SUCCESS') process.stdout.write(`${JSON.stringify(meta!.result)}\n`);
  else if (state === 'FAILURE' || state === 'REVOKED' || state === 'RETRY') {
    const text = errorText(meta!.result);
    process.stdout.write(`${state}${text ? `: ${text}` : ''}\n`);
    if (meta!.traceback) process.stderr.write(`${meta!.traceback}\n`);
  } else process.stdout.write(`${state}${meta?.result != null ? ` ${JSON.stringify(meta.result)}` : ''}\n`);
  return state === 'SUCCESS' ? Exit.OK : READY_STATES.has(state) ? Exit.FAILURE : Exit.NOT_READY;
}

/** Draws each change until the task is ready and returns its final record. */
async function follow(app: Celerity, id: string, timeoutMs: number | undefined, out: NodeJS.WriteStream): Promise<ResultMeta | null> {
  const tty = out.isTTY === true;
  let drawn = false;
  try {
    for await (const e of app.asyncResult(id).progress({ timeout: timeoutMs })) {
      if (e.ready) return e.record;
      const line = progressLine(e);
      if (tty) {
        // A line longer than the terminal wraps, and the carriage return would then redraw only its last row.
        out.write(`\r\x1b[K${out.columns ? line.slice(0, Math.max(1, out.columns - 1)) : line}`);
        drawn = true;
      } else out.write(`${line}\n`);
    }
  } finally {
    if (drawn) out.write('\n');
  }
  return null;
}

/**
 * One change as text: `PROGRESS [#####...............] 3/12 25%` when the meta has numeric current and total, the
 * state with its meta as JSON otherwise.
 */
export function progressLine(e: Pick<ProgressEvent, 'state' | 'meta'>): string {
  const bar = progressBar(e.meta);
  if (bar) return `${e.state} ${bar}`;
  return e.meta == null ? e.state : `${e.state} ${JSON.stringify(e.meta)}`;
}

/** `[#####.....] 3/10 30%` for a meta `{current, total}`; null when the meta has no usable pair. */
export function progressBar(meta: unknown, width = BAR_WIDTH): string | null {
  if (!meta || typeof meta !== 'object') return null;
  const { current, total } = meta as { current?: unknown; total?: unknown };
  if (typeof current !== 'number' || typeof total !== 'number' || !Number.isFinite(current) || !Number.isFinite(total) || total <= 0) return null;
  const ratio = Math.min(1, Math.max(0, current / total));
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${current}/${total} ${Math.floor(ratio * 100)}%`;
}

function seconds(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a non-negative number of seconds, got ${v}`);
    return n;
  };
}
