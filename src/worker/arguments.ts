/**
 * Fits a message's args and kwargs to a task function before it runs, so a wrong call is reported as Python
 * would ("add() missing 1 required positional argument: 'y'", naming the parameters when the task declares
 * `params`) instead of surfacing later as `undefined` inside the task.
 *
 * Celery kwargs reach a TypeScript task through its declared `params` (parameter names): each kwarg is placed at
 * its parameter's position. With `varKwargs`, other kwargs are allowed and read from `this.kwargs` (Python's
 * `**kwargs`). Otherwise a task accepts positional arguments only.
 */
import type { AnyTask } from '../app/task.js';

export function bindArguments(task: AnyTask, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): unknown[] {
  const params = task.options.params;
  const required = task.fn.length;
  const names = Object.keys(kwargs);
  const bound = [...args];
  const varKwargs = task.options.varKwargs ?? false;
  if (names.length) {
    if (!params && !varKwargs) {
      throw new TypeError(
        `${task.name}() got keyword arguments (${names.join(', ')}) but declares no params; ` +
          `add { params: ['name', ...] } (or varKwargs: true) to the task options to accept Celery kwargs`,
      );
    }
    for (const name of names) {
      const at = params ? params.indexOf(name) : -1;
      if (at < 0) {
        // Python's **kwargs: names without a parameter stay in this.kwargs for the task to read.
        if (varKwargs) continue;
        throw new TypeError(`${task.name}() got an unexpected keyword argument '${name}'`);
      }
      if (at < args.length) throw new TypeError(`${task.name}() got multiple values for argument '${name}'`);
      bound[at] = kwargs[name];
    }
  }
  if (params && bound.length > params.length) {
    throw new TypeError(`${task.name}() takes ${params.length} positional arguments but ${bound.length} were given`);
  }
  const missing: number[] = [];
  for (let i = 0; i < required; i++) if (!(i in bound)) missing.push(i);
  if (missing.length) throw new TypeError(missingMessage(task, missing));
  return bound;
}

/**
 * Python's words for a call short of arguments: `add() missing 1 required positional argument: 'y'`, and with
 * several, `'x' and 'y'` or `'a', 'b', and 'c'`. The names need the task's `params`; without them (or when they do
 * not name every missing position) the message gives the count alone.
 */
function missingMessage(task: AnyTask, missing: readonly number[]): string {
  const n = missing.length;
  const head = `${task.name}() missing ${n} required positional argument${n === 1 ? '' : 's'}`;
  const params = task.options.params;
  if (!params || missing.some((i) => i >= params.length)) return head;
  const names = missing.map((i) => `'${params[i]}'`);
  const listed = n === 1 ? names[0] : n === 2 ? `${names[0]} and ${names[1]}` : `${names.slice(0, -1).join(', ')}, and ${names[n - 1]}`;
  return `${head}: ${listed}`;
}
