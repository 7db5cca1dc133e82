"""Python producer of the numbers interop test. Usage:
  numbers_client.py send NAME QUEUE ARGS_EXPR   -> sends NAME(*eval(ARGS_EXPR)) (a Python expression, so it can
                                                 hold 2**64 + 1 and float('nan')), waits, prints
                                                 {"id", "state", "type", "module", "repr", "result"} of the value
                                                 it got back (a FAILURE's exception, not raised: result is its text)
"""
import json
import sys

from numbers_proj import app


def main():
    verb, name, queue, args = sys.argv[1:5]
    if verb != 'send':
        raise SystemExit(f'unknown verb {verb}')
    res = app.send_task(name, args=eval(args), queue=queue)  # the test's own expression, not outside input
    # A FAILURE comes back as the exception instance rather than raised, so its class can be reported.
    value = res.get(timeout=60, propagate=False)
    failed = isinstance(value, BaseException)
    # type and repr say exactly what Python holds; `result` is there for values JSON can carry as they are.
    print(json.dumps({'id': res.id, 'state': res.state, 'type': type(value).__name__,
                      'module': type(value).__module__, 'repr': repr(value),
                      'result': str(value) if failed else value}))


if __name__ == '__main__':
    main()
