"""Python producer of the RabbitMQ interop tests (test/interop/amqp.test.ts), on amqp_proj's app. Usage:
  amqp_client.py send NAME ARGS_JSON KWARGS_JSON OPTIONS_JSON    app.send_task(NAME, args, kwargs, **options)
  amqp_client.py apply NAME ARGS_JSON KWARGS_JSON OPTIONS_JSON   app.signature(NAME).apply_async(args, kwargs, **options)
      both wait for the result and print {"id", "state", "result" | "error", "elapsed"} (seconds from the send to the
      result); an option "eta_in": S becomes eta = now + S seconds
  amqp_client.py result ID                       waits for an existing id, prints the same
  amqp_client.py bulk NAME QUEUE PRIORITIES_JSON sends NAME(i) to QUEUE for each i, with priority PRIORITIES[i];
                                                 prints the ids as a JSON list
  amqp_client.py revoke ID                       app.control.revoke(ID)
  amqp_client.py chain_mixed                     chain(py.add(1, 2), ts.mul(4), py.add(10))
  amqp_client.py group_mixed                     group(py.add(1, 1), ts.add(2, 2), py.add(3, 3), ts.add(4, 4)), saved
  amqp_client.py chord_mixed TAG                 chord([py.add(1, 1), ts.add(2, 2), py.add(3, 3), ts.add(4, 4)],
                                                 ts.count(TAG))
  amqp_client.py restore GID                     GroupResult.restore(GID)
  canvas verbs print {"id", "state", "result" | "error", "parent"} (a group: {"group", "members"})."""
import datetime
import json
import sys
import time

from celery import chain, chord, group
from celery.result import GroupResult

from amqp_proj import app

TIMEOUT = 60


def describe(res, started=None):
    if res is None:
        return None
    if isinstance(res, GroupResult):
        return {'group': res.id, 'members': [describe(r) for r in res.results]}
    try:
        out = {'id': res.id, 'result': res.get(timeout=TIMEOUT, follow_parents=False), 'state': res.state}
    except Exception as exc:  # the test inspects the type and message of whatever the task raised
        out = {'id': res.id, 'state': res.state, 'error': {'type': type(exc).__name__, 'message': str(exc)}}
    if started is not None:
        out['elapsed'] = time.monotonic() - started
    else:
        out['parent'] = describe(res.parent)
    return out


def sig(name, *args):
    return app.signature(name, args)


def timed_options(raw):
    options = json.loads(raw)
    if 'eta_in' in options:
        options['eta'] = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=options.pop('eta_in'))
    return options


def main():
    verb, rest = sys.argv[1], sys.argv[2:]
    if verb in ('send', 'apply'):
        name, args, kwargs, options = rest[0], json.loads(rest[1]), json.loads(rest[2]), timed_options(rest[3])
        started = time.monotonic()
        if verb == 'send':
            res = app.send_task(name, args=args, kwargs=kwargs, **options)
        else:
            res = app.signature(name).apply_async(args, kwargs, **options)
        out = describe(res, started)
    elif verb == 'result':
        out = describe(app.AsyncResult(rest[0]), time.monotonic())
    elif verb == 'bulk':
        name, queue, priorities = rest[0], rest[1], json.loads(rest[2])
        # One connection for the whole batch, as a producer in a loop would use.
        with app.producer_or_acquire() as producer:
            out = [app.send_task(name, args=[i], queue=queue, priority=p, producer=producer).id
                   for i, p in enumerate(priorities)]
    elif verb == 'revoke':
        app.control.revoke(rest[0])
        out = {'revoked': rest[0]}
    elif verb == 'chain_mixed':
        out = describe(chain(sig('py.add', 1, 2), sig('ts.mul', 4), sig('py.add', 10)).apply_async())
    elif verb == 'group_mixed':
        res = group(sig('py.add', 1, 1), sig('ts.add', 2, 2), sig('py.add', 3, 3), sig('ts.add', 4, 4)).apply_async()
        res.save()
        out = describe(res)
    elif verb == 'chord_mixed':
        header = [sig('py.add', 1, 1), sig('ts.add', 2, 2), sig('py.add', 3, 3), sig('ts.add', 4, 4)]
        out = describe(chord(header, sig('ts.count', rest[0])).apply_async())
    elif verb == 'restore':
        out = describe(GroupResult.restore(rest[0], app=app))
    else:
        raise SystemExit(f'unknown verb {verb}')
    print(json.dumps(out))


if __name__ == '__main__':
    main()
