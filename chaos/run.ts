/**
 * `npm run chaos`: every scenario on every store, then the table (sent / completed / lost / ran twice / dead
 * letters / stuck). A few minutes by default; CHAOS_SCALE=10 (or --scale 10) sends ten times as many tasks and
 * garbage, with ten times as many kills and restarts. --stores sqlite,redis and --scenarios kill,garbage narrow it.
 * Exits 1 when anything was lost from acks_late tasks, a bad item was not dead-lettered or something is stuck.
 */
import { parseArgs } from 'node:util';
import { printTable, type Tally } from './lib/ledger.js';
import { DEFAULTS, MATRIX, runScenario } from './lib/matrix.js';
import type { StoreKind } from './lib/stores.js';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: process.env.CHAOS_SCALE ?? '1' },
    stores: { type: 'string', default: process.env.CHAOS_STORES ?? Object.keys(MATRIX).join(',') },
    scenarios: { type: 'string', default: process.env.CHAOS_SCENARIOS ?? '' },
    seed: { type: 'string', default: process.env.CHAOS_SEED ?? String(DEFAULTS.seed) },
  },
});
const scale = Number(values.scale);
if (!(scale > 0)) throw new Error(`--scale must be a positive number, got ${values.scale}`);
const options = {
  ...DEFAULTS,
  tasks: Math.max(1, Math.round(DEFAULTS.tasks * scale)),
  kills: Math.max(1, Math.round(DEFAULTS.kills * scale)),
  restarts: Math.max(1, Math.round(DEFAULTS.restarts * scale)),
  garbage: Math.max(1, Math.round(DEFAULTS.garbage * scale)),
  settleMs: DEFAULTS.settleMs * Math.max(1, scale),
  seed: Number(values.seed),
};
const only = values.scenarios ? new Set(values.scenarios.split(',')) : undefined;

const rows: Tally[] = [];
const started = Date.now();
for (const kind of values.stores.split(',') as StoreKind[]) {
  if (!MATRIX[kind]) throw new Error(`unknown store ${JSON.stringify(kind)}: one of ${Object.keys(MATRIX).join(', ')}`);
  for (const name of MATRIX[kind]) {
    if (only && !only.has(name)) continue;
    const t0 = Date.now();
    // A scenario that cannot run (a worker that does not start, a store that is down) is a row of its own.
    const got = await runScenario(kind, name, options).catch((err: Error): Tally[] => [
      { store: kind, scenario: name, sent: 0, completed: 0, lost: 0, ranTwice: 0, deadLetters: 0, stuck: 0, note: `did not run: ${err.message.split('\n')[0]}` },
    ]);
    rows.push(...got);
    console.error(`${kind} ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}
console.log(`\n${new Date().toISOString()}  scale ${scale}, seed ${options.seed}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
console.log(printTable(rows));
const bad = rows.filter((r) => r.note.startsWith('did not run') || r.stuck > 0 || (r.lost > 0 && !r.scenario.includes('early ack')));
if (bad.length) {
  console.log(`\n${bad.length} row(s) break the guarantees: ${bad.map((r) => `${r.store} / ${r.scenario}`).join('; ')}`);
  process.exitCode = 1;
}
