/**
 * The worker app of the chaos harness. Every execution records its start and its end in a ledger on a stable Redis
 * outside the store under test, so runs can be counted per task id even while the broker is killed or frozen.
 */
import { Redis } from 'ioredis';
import { Celerity } from 'celerity';
import type { UNENCODABLE_KINDS } from './lib/kinds.js';

export const app = new Celerity('chaos');
const ledger = new Redis(process.env.LEDGER_URL ?? 'redis://127.0.0.1:6379/7');
const key = process.env.LEDGER ?? 'chaos';

async function record(id: string, ms: number): Promise<void> {
  await ledger.rpush(`${key}:started`, id);
  if (ms) await new Promise((r) => setTimeout(r, ms));
  await ledger.rpush(`${key}:done`, id);
}

/** acks_late (the default here): acknowledged once it has run, so a killed worker's task runs again. */
export const late = app.task('chaos.record', async function (n: number, ms = 0) {
  await record(this.id, ms);
  return n;
});

/** Early ack (Celery's default): acknowledged when it starts, so a kill -9 while it runs loses it. */
export const early = app.task(
  'chaos.record_early',
  async function (n: number, ms = 0) {
    await record(this.id, ms);
    return n;
  },
  { acksLate: false },
);

/** Values JSON has no form for: the result must end as FAILURE EncodeError, the message acked. */
export const unencodable = app.task('chaos.unencodable', async function (kind: (typeof UNENCODABLE_KINDS)[number]) {
  await record(this.id, 0);
  switch (kind) {
    case 'map':
      return new Map([['a', 1]]);
    case 'bigint':
      return 2n ** 64n + 1n;
    case 'nan':
      return { value: NaN };
    case 'circular': {
      const o: Record<string, unknown> = { a: 1 };
      o.self = o;
      return o;
    }
    case 'function':
      return { f: () => 1 };
    default:
      return Symbol(kind);
  }
});
