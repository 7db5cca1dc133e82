/**
 * The question a destructive verb asks before it deletes what cannot be brought back (`celerity purge`,
 * `celerity dead-letters purge`). Without a terminal to ask on, the verb refuses rather than guessing: a script
 * must say --force / --yes.
 */
import { createInterface } from 'node:readline/promises';
import { UsageError } from './context.js';

/**
 * Resolves true when the user answers `yes` on the terminal; false (after printing `aborted`) on anything else.
 * Throws UsageError when stdin is not a terminal: `refusing to <what> without <flag> (no terminal to confirm on)`.
 */
export async function confirm(question: string, what: string, flag: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError(`refusing to ${what} without ${flag} (no terminal to confirm on)`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} There is no undo. (yes/NO) `);
  rl.close();
  if (answer.trim().toLowerCase() === 'yes') return true;
  process.stderr.write('aborted\n');
  return false;
}
