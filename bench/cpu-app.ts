/**
 * The app bench/cpu-pools.ts runs under `celerity worker -P threads|process|async`: a CPU-bound task and a no-op,
 * the same two as bench/py/cpu_proj.py, on the queue `cpu`. Broker and results come from CELERITY_* variables.
 */
import { Celerity } from 'celerity';

export const app = new Celerity('cpu-bench');

/** Primes below n by trial division: pure CPU, no allocation, the same loop as the Python version. */
export function countPrimes(n: number): number {
  let count = 0;
  for (let i = 2; i < n; i++) {
    let prime = true;
    for (let d = 2; d * d <= i; d++) {
      if (i % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

app.task('bench.primes', countPrimes, { queue: 'cpu' });
app.task('bench.noop', () => null, { queue: 'cpu' });
