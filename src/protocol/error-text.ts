/**
 * A stored failure as one readable line, `exc_type: message`, for people (the command line, logs). The message is
 * what Python's `str(exc)` gives for the exception's args as Celery stores them (`exc_message`, a list): nothing
 * for no args, the one argument itself (a string as it is, anything else as Python prints it), or the args as a
 * Python tuple when there are several. Python's traceback line for `KeyError('x')` reads `KeyError: 'x'`, because
 * KeyError alone quotes its argument; here every type reads the same way: `KeyError: x`.
 */
import { PyTuple, pyRepr } from './repr.js';

/**
 * The text of an error result (a meta's `result` in state FAILURE, RETRY or REVOKED): `ValueError: bad input`,
 * `TaskRevokedError: expired`, `MyError: ('code', 42)`, or just `KeyError` when the exception had no args. A value
 * not in Celery's exception shape is shown as it is (a string) or as Python prints it, and nothing stored (null)
 * gives an empty string.
 *
 * @example
 * errorText({ exc_type: 'KeyError', exc_message: ['x'], exc_module: 'builtins' }); // 'KeyError: x'
 */
export function errorText(result: unknown): string {
  if (result === null || result === undefined) return '';
  if (typeof result !== 'object' || Array.isArray(result)) return typeof result === 'string' ? result : pyRepr(result);
  const r = result as { exc_type?: unknown; exc_message?: unknown };
  if (typeof r.exc_type !== 'string' || r.exc_type === '') {
    return 'exc_message' in r ? joinText('Exception', excMessageText(r.exc_message)) : pyRepr(result);
  }
  return joinText(r.exc_type, excMessageText(r.exc_message));
}

/** Python's `str(exc)` for the args Celery stored: '', the single argument, or the tuple of them. */
export function excMessageText(excMessage: unknown): string {
  if (excMessage === null || excMessage === undefined) return '';
  if (!Array.isArray(excMessage)) return strOf(excMessage);
  if (excMessage.length === 0) return '';
  if (excMessage.length === 1) return strOf(excMessage[0]);
  return pyRepr(new PyTuple(excMessage));
}

/** Python's `str()`: a string as it is, anything else as its repr (which is what str gives for these types). */
function strOf(value: unknown): string {
  return typeof value === 'string' ? value : pyRepr(value);
}

function joinText(type: string, message: string): string {
  return message === '' ? type : `${type}: ${message}`;
}
