/**
 * The app the browser tests load with -A in a `celerity worker` process and in `celerity dashboard`. Tasks that
 * must wait for the test wait on files in BROWSER_GATES (the test's own folder): the worker is another process, so
 * a file is the signal both sides can see.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Celerity, type TaskContext } from 'celerity';

export const app = new Celerity('browser');

const gates = process.env.BROWSER_GATES ?? process.cwd();

async function opened(name: string): Promise<void> {
  while (!existsSync(path.join(gates, name))) await new Promise((r) => setTimeout(r, 20));
}

export const add = app.task('browser.add', (x: number, y: number) => x + y);

/** Reports PROGRESS `{current, total}` and holds each step until the file `<key>-<current>` exists. */
export const steps = app.task('browser.steps', async function (this: TaskContext, key: string, total: number) {
  for (let current = 1; current <= total; current++) {
    await this.updateState('PROGRESS', { current, total });
    await opened(`${key}-${current}`);
  }
  return `${key} done in ${total} steps`;
});

/** Fails until the file `fixed-<label>` exists, so a retry with the same arguments can succeed. */
export const flaky = app.task('browser.flaky', (label: string) => {
  if (!existsSync(path.join(gates, `fixed-${label}`))) throw new RangeError(`${label} is broken`);
  return `fixed ${label}`;
});

/** Leaves the file `ran-<label>` behind: proof that it ran. */
export const mark = app.task('browser.mark', (label: string) => {
  writeFileSync(path.join(gates, `ran-${label}`), '');
  return label;
});
