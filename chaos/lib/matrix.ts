/** Which scenarios run on which store, and one scenario run on a fresh store with a ledger of its own. */
import { Ledger, type Tally } from './ledger.js';
import { brokerRestart, frozenBroker, garbage, killLoop, unencodable, type Options, type Scenario } from './scenarios.js';
import { openStore, type StoreKind } from './stores.js';

export const SCENARIOS: Record<string, Scenario> = { kill: killLoop, restart: brokerRestart, frozen: frozenBroker, garbage, unencodable };

/** The SQLite store is embedded: there is no broker process to restart or freeze. */
export const MATRIX: Record<StoreKind, string[]> = {
  sqlite: ['kill', 'garbage', 'unencodable'],
  redis: ['kill', 'restart', 'frozen', 'garbage', 'unencodable'],
  'redis+postgres': ['kill', 'restart', 'frozen', 'garbage', 'unencodable'],
};

export const DEFAULTS: Options = { tasks: 200, kills: 5, restarts: 2, garbage: 500, freezeMs: 3000, settleMs: 60_000, seed: 20261205 };

export async function runScenario(kind: StoreKind, name: string, options: Options): Promise<Tally[]> {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`unknown scenario ${JSON.stringify(name)}: one of ${Object.keys(SCENARIOS).join(', ')}`);
  const ledger = new Ledger();
  const store = await openStore(kind, ledger);
  try {
    return await scenario(store, ledger, options);
  } finally {
    await store.close();
    await ledger.close();
  }
}
