"""Python producer for the interop tests. Usage:
  client.py send NAME ARGS_JSON KWARGS_JSON OPTIONS_JSON   -> sends, waits, prints {"id", "state", "result"|"error"}
  client.py result ID                                      -> waits for an existing id, prints the same
  client.py bulk NAME COUNT                                -> sends COUNT tasks NAME(i), prints ids as a JSON list
"""
import datetime
import json
import sys

from proj import app


def report(res):
    try:
        value = res.get(timeout=60)
        out = {'id': res.id, 'state': res.state, 'result': value}
    except Exception as exc:  # the test inspects the type and message of whatever the task raised
        out = {'id': res.id, 'state': res.state, 'error': {'type': type(exc).__name__, 'message': str(exc)},
               'traceback': res.traceback}
    print(json.dumps(out))


def main():
    verb = sys.argv[1]
    if verb == 'send':
        name, args, kwargs, options = sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), json.loads(sys.argv[5])
        if 'eta_in' in options:
            options['eta'] = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=options.pop('eta_in'))
        report(app.send_task(name, args=args, kwargs=kwargs, **options))
    elif verb == 'result':
        report(app.AsyncResult(sys.argv[2]))
    elif verb == 'bulk':
        name, count = sys.argv[2], int(sys.argv[3])
        print(json.dumps([app.send_task(name, args=[i]).id for i in range(count)]))
    else:
        raise SystemExit(f'unknown verb {verb}')


if __name__ == '__main__':
    main()
