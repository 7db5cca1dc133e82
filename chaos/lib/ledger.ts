/**
 * The ledger: what the worker app (chaos/app.ts) recorded on a Redis outside the store under test, one list of
 * task ids per start and per finish, and the accounting of a scenario's tasks against it.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const LEDGER_URL = process.env.CHAOS_LEDGER_URL ?? 'redis://127.0.0.1:6379/7';

export interface Tally {
  store: string;
  scenario: string;
  sent: number;
  completed: number;
  lost: number;
  ranTwice: number;
  deadLetters: number;
  stuck: number;
  note: string;
}

export class Ledger {
  readonly key = `chaos-${randomUUID().slice(0, 8)}`;
  readonly redis = new Redis(LEDGER_URL);

  /** Runs per task id: how many times each started and finished. */
  async runs(): Promise<{ started: Map<string, number>; done: Map<string, number> }> {
    const count = (ids: string[]) => ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());
    const [started, done] = await Promise.all([this.redis.lrange(`${this.key}:started`, 0, -1), this.redis.lrange(`${this.key}:done`, 0, -1)]);
    return { started: count(started), done: count(done) };
  }

  async doneCount(): Promise<number> {
    return this.redis.llen(`${this.key}:done`);
  }

  async close(): Promise<void> {
    await this.redis.del(`${this.key}:started`, `${this.key}:done`);
    this.redis.disconnect();
  }
}

/** Good tasks against the ledger: completed (finished at least once), ran twice (started more than once), lost. */
export function account(ids: readonly string[], runs: Awaited<ReturnType<Ledger['runs']>>, deadIds: ReadonlySet<string>) {
  let completed = 0;
  let ranTwice = 0;
  let lost = 0;
  for (const id of ids) {
    if ((runs.done.get(id) ?? 0) > 0) completed++;
    else if (!deadIds.has(id)) lost++;
    if ((runs.started.get(id) ?? 0) > 1) ranTwice++;
  }
  return { completed, ranTwice, lost };
}

/** Waits until `done()` holds, checking every `stepMs`; false once `ms` passed without it. */
export async function until(done: () => Promise<boolean>, ms: number, stepMs = 200): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export function printTable(rows: readonly Tally[]): string {
  const head = ['store', 'scenario', 'sent', 'completed', 'lost', 'ran twice', 'dead letters', 'stuck', 'note'];
  const cells = rows.map((r) => [r.store, r.scenario, r.sent, r.completed, r.lost, r.ranTwice, r.deadLetters, r.stuck, r.note].map(String));
  const lines = [head, head.map(() => '---'), ...cells].map((c) => `| ${c.join(' | ')} |`);
  return lines.join('\n');
}
