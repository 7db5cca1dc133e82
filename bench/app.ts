/** The app the benchmark's worker processes load: one task that does nothing. */
import { Celerity } from 'celerity';

export const app = new Celerity('bench');
export const noop = app.task('bench.noop', () => null);
