/**
 * Fits a message's args and kwargs to a task function before it runs, so a wrong call is reported as Python
 * would ("missing 1 required positional argument") instead of surfacing later as `undefined` inside the task.
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
  const given = bound.filter((_, i) => i in bound).length;
  if (given < required || bound.length < required) {
    const missing = required - given;
    throw new TypeError(`${task.name}() missing ${missing} required positional argument${missing === 1 ? '' : 's'}`);
  }
  return bound;
}
