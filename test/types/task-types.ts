/**
 * Compile-time checks, run by `npm run typecheck` (never executed): argument and result types flow from the task
 * function. Each @ts-expect-error line must fail to compile, or tsc reports the directive as unused.
 */
import { Celerity, type AsyncResult, type TaskContext } from '../../src/index.js';

const app = new Celerity('types', { broker: 'memory://', backend: 'memory://' });
const add = app.task('example.add', (x: number, y: number) => x + y);
const greet = app.task('example.greet', async (name: string, punctuation?: string) => `hello ${name}${punctuation ?? ''}`);
const progress = app.task('example.progress', async function (this: TaskContext, total: number) {
  await this.updateState('PROGRESS', { current: 0, total });
  return { done: total };
});
const contextual = app.task('example.contextual', async function (n: number) {
  // `this` is typed from the task constraint without an annotation.
  const id: string = this.id;
  return `${id}:${n}`;
});

export async function checks(): Promise<void> {
  const r: AsyncResult<number> = await add.delay(2, 3);
  const n: number = await r.get({ timeout: 1000 });
  await add.applyAsync([2, 3], { countdown: 10, queue: 'math', priority: 9 });
  // @ts-expect-error a string is not a number
  await add.delay('x');
  // @ts-expect-error too few arguments
  await add.delay(1);
  // @ts-expect-error too many arguments
  await add.delay(1, 2, 3);
  // @ts-expect-error applyAsync takes the arguments as a tuple
  await add.applyAsync([2, '3']);
  const g: string = await (await greet.delay('ada')).get();
  await greet.delay('ada', '!');
  const p: { done: number } = await (await progress.delay(10)).get();
  // @ts-expect-error the result is an object, not a number
  const wrong: number = await (await progress.delay(10)).get();
  const c: string = await (await contextual.delay(1)).get();
  // by name: untyped unless the caller says what it expects
  const byName = await app.sendTask<number>('proj.mul', [3], { kwargs: { y: 4 } });
  const m: number = await byName.get();
  void [n, g, p, wrong, c, m];
}
