/**
 * The benchmarks' child processes: a registry so that an error or a signal still stops them all, and the line
 * protocol their roles speak (commands on stdin, `@@bench {json}` replies on stdout, log lines passed through).
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { exited, killGroup, stopGroup } from './procs.js';

/** Lines of the child protocol start with this, so log lines on the same stdout are passed through, not parsed. */
export const TAG = '@@bench ';

/** Every child started, so that an error or a signal still stops them all (each is a process group leader). */
const children = new Set<ChildProcess>();

/** SIGTERM to the child's process group, SIGKILL after `graceMs`; no longer tracked. */
export async function stopChild(proc: ChildProcess, graceMs = 20_000): Promise<void> {
  await stopGroup(proc, graceMs);
  children.delete(proc);
}

export function killAll(): void {
  for (const proc of children) killGroup(proc, 'SIGKILL');
}

/** What every role may answer instead of the reply asked for. */
export interface ErrorReply {
  type: 'error';
  message: string;
  trace?: string;
}

/** A child speaking the line protocol; `R` is the union of the replies of its role. */
export class Peer<R extends { type: string }> {
  private readonly replies: (R | ErrorReply)[] = [];
  private waiters: (() => void)[] = [];
  failure: Error | undefined;
  readonly log: string[] = [];
  /** Rejects when the child exits: raced against the other side's replies, so a crashed worker fails the round. */
  readonly died: Promise<never>;

  constructor(
    readonly proc: ChildProcess,
    readonly label: string,
  ) {
    children.add(proc);
    const keep = (line: string) => {
      this.log.push(line);
      if (this.log.length > 200) this.log.shift();
    };
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.startsWith(TAG)) {
        this.replies.push(JSON.parse(line.slice(TAG.length)) as R | ErrorReply);
        this.wake();
      } else keep(line);
    });
    createInterface({ input: proc.stderr! }).on('line', keep);
    proc.stdin!.on('error', () => undefined);
    let died: (err: Error) => void = () => undefined;
    this.died = new Promise<never>((_, reject) => (died = reject));
    this.died.catch(() => undefined);
    proc.on('exit', (code, signal) => {
      this.failure ??= new Error(`${label} exited (${signal ?? code}):\n${this.log.slice(-30).join('\n')}`);
      died(this.failure);
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(command: string): void {
    this.proc.stdin!.write(`${command}\n`);
  }

  /** The next reply of any type; an error reply or the child's exit throws. */
  next(timeoutMs: number): Promise<R> {
    return this.take(() => true, 'reply', timeoutMs);
  }

  /** The first reply of `type` (replies of other types stay queued); an error reply or the child's exit throws. */
  expect<T extends R['type']>(type: T, timeoutMs: number): Promise<Extract<R, { type: T }>> {
    return this.take((r) => r.type === type, type, timeoutMs) as Promise<Extract<R, { type: T }>>;
  }

  async request<T extends R['type']>(command: string, type: T, timeoutMs: number): Promise<Extract<R, { type: T }>> {
    this.send(command);
    return this.expect(type, timeoutMs);
  }

  /** Asks it to leave, then stops its process group. */
  async close(): Promise<void> {
    this.send('exit');
    await exited(this.proc, 10_000);
    await stopChild(this.proc, 5_000);
  }

  private async take(match: (r: R) => boolean, what: string, timeoutMs: number): Promise<R> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.replies.findIndex((r) => r.type === 'error' || match(r as R));
      if (i >= 0) {
        const r = this.replies.splice(i, 1)[0]!;
        if (r.type === 'error') {
          const e = r as ErrorReply;
          throw new Error(`${this.label}: ${e.message}${e.trace ? `\n${e.trace}` : ''}`);
        }
        return r as R;
      }
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no ${what} within ${timeoutMs / 1000} s\n${this.log.slice(-20).join('\n')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.min(left, 1000));
      });
    }
  }
}
