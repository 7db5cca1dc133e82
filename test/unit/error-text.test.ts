import { describe, expect, it } from 'vitest';
import { errorText, excMessageText } from '../../src/protocol/error-text.js';
import { decodeResultMeta } from '../../src/protocol/result-meta.js';
import { serializeError, TaskRevokedError } from '../../src/errors/index.js';

const py = (exc_type: string, exc_message: unknown, exc_module = 'builtins') => ({ exc_type, exc_message, exc_module });

describe('errorText: a stored failure as one readable line', () => {
  it('shows a single string argument as it is, whatever the type', () => {
    expect(errorText(py('KeyError', ['x']))).toBe('KeyError: x');
    expect(errorText(py('ValueError', ['bad input']))).toBe('ValueError: bad input');
    expect(errorText(py('ValueError', ["it's \"quoted\"\non two lines"]))).toBe('ValueError: it\'s "quoted"\non two lines');
  });

  it('shows a single argument of another type as Python prints it', () => {
    expect(errorText(py('KeyError', [5]))).toBe('KeyError: 5');
    expect(errorText(py('LookupError', [null]))).toBe('LookupError: None');
    expect(errorText(py('ValueError', [true]))).toBe('ValueError: True');
    expect(errorText(py('ValueError', [1.5]))).toBe('ValueError: 1.5');
    expect(errorText(py('ValueError', [['a', 1]]))).toBe("ValueError: ['a', 1]");
    expect(errorText(py('ValueError', [{ code: 'E1', n: 2 }]))).toBe("ValueError: {'code': 'E1', 'n': 2}");
  });

  it('joins several arguments as Python\'s str() of their tuple', () => {
    expect(errorText(py('MyError', ['code', 42], 'proj.errors'))).toBe("MyError: ('code', 42)");
    expect(errorText(py('ValueError', [2, 'out of range']))).toBe("ValueError: (2, 'out of range')");
    expect(excMessageText(['a', null, false])).toBe("('a', None, False)");
  });

  it('shows the type alone when the exception had no arguments or an empty message', () => {
    expect(errorText(py('KeyError', []))).toBe('KeyError');
    expect(errorText(py('Exception', ['']))).toBe('Exception');
    expect(errorText(py('ValueError', null))).toBe('ValueError');
  });

  it('reads an exc_message stored as a plain string (older writers)', () => {
    expect(errorText(py('RuntimeError', 'went wrong'))).toBe('RuntimeError: went wrong');
  });

  it('renders what this worker stores for its own errors', () => {
    expect(errorText(serializeError(new TypeError('add() missing 1 required positional argument: \'y\'')))).toBe(
      "TypeError: add() missing 1 required positional argument: 'y'",
    );
    expect(errorText(serializeError(new TaskRevokedError('expired')))).toBe('TaskRevokedError: expired');
    expect(errorText(serializeError(new RangeError('too big')))).toBe('ValueError: too big');
  });

  it('renders a result meta as Python Celery writes it', () => {
    const meta = decodeResultMeta(
      '{"status": "FAILURE", "result": {"exc_type": "KeyError", "exc_message": ["x"], "exc_module": "builtins"}, ' +
        '"traceback": "Traceback (most recent call last):\\n...", "children": [], "date_done": "2024-05-01T12:00:00.000000", ' +
        '"task_id": "3b1f"}',
    );
    expect(`${meta.status}: ${errorText(meta.result)}`).toBe('FAILURE: KeyError: x');
  });

  it('shows values outside the exception shape as they are, and nothing for null', () => {
    expect(errorText(null)).toBe('');
    expect(errorText(undefined)).toBe('');
    expect(errorText('worker lost')).toBe('worker lost');
    expect(errorText(7)).toBe('7');
    expect(errorText({ pid: 12 })).toBe("{'pid': 12}");
    expect(errorText({ exc_message: ['no type'] })).toBe('Exception: no type');
  });
});
