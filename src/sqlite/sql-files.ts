/**
 * Each atomic operation of the SQLite adapters is one named `.sql` file beside its adapter, read at runtime relative
 * to the module so the built package carries the same files (copied next to the compiled JavaScript).
 */
import { readAsset } from '../util/assets.js';

/** Reads `name` (e.g. `reserve.sql`) from the `sql/` folder next to the module whose `import.meta.url` is `base`. */
export function readSql(base: string, name: string): string {
  return readAsset(base, `sql/${name}`);
}

/** A prepared statement typed by its named parameters and its row. */
export interface Stmt<P, R = unknown> {
  run(params: P): { changes: number };
  get(params: P): R | undefined;
  all(params: P): R[];
}
