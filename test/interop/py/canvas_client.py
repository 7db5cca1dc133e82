"""Python producer of the canvas interop tests: builds a canvas with Celery's own canvas module, sends it, waits for
it and prints one JSON object. Usage: canvas_client.py VERB [ARG]:
  chain_ts            chain(ts.add(1, 2), ts.mul(3))
  chain_mixed         chain(py.add(1, 2), ts.mul(4), py.add(10))
  chord_ts            chord([ts.add(i, i) for i in 0..4], ts.tsum())
  chord_mixed TAG     chord([py.add(1, 1), ts.add(2, 2), py.add(3, 3), ts.add(4, 4)], ts.count(TAG))
  chord_fail_ts       chord([ts.add(1, 1), ts.fail('ts member'), ts.add(2, 2)], py.tsum())
  errback_ts          ts.fail('no luck') with link_error=py.errback()
  group_ts            group(ts.add(i, i) for i in 1..3), saved
  restore GID         GroupResult.restore(GID)
each printing the result as {"id", "state", "result" | "error", "parent"} (a group: {"group", "members"}), and
  shape               publishes a 3-step chain, a 3-member group and a 3-member chord of cap.* tasks (routed where no
                      worker listens) and prints their ids: {"chain": [last, middle, first], "group": [gid, ids...],
                      "chord": [body, gid, member ids...]}."""
import json
import sys

from celery import chain, chord, group
from celery.exceptions import ChordError
from celery.result import GroupResult

from canvas_proj import app

TIMEOUT = 30


def sig(name, *args, **options):
    return app.signature(name, args, **options)


def describe(res):
    if res is None:
        return None
    if isinstance(res, GroupResult):
        return {'group': res.id, 'members': [describe(r) for r in res.results]}
    try:
        # Each result is described on its own: by default get() first raises the error of a failed parent (for a
        # chord body, a failed header member's), which would hide what the body itself stored.
        out = {'id': res.id, 'result': res.get(timeout=TIMEOUT, follow_parents=False), 'state': res.state}
    except Exception as exc:  # the test inspects whatever the canvas raised
        out = {'id': res.id, 'state': res.state, 'error': {
            'type': type(exc).__name__,
            'module': type(exc).__module__,
            'message': str(exc),
            'is_chord_error': isinstance(exc, ChordError),
        }}
    out['parent'] = describe(res.parent)
    return out


def shape():
    c = chain(sig('cap.chain.add', 1, 2), sig('cap.chain.mul', 3), sig('cap.chain.add', 4)).apply_async()
    g = group(sig('cap.group.add', i, i) for i in (1, 2, 3)).apply_async()
    d = chord([sig('cap.chord.add', i, i) for i in (1, 2, 3)], sig('cap.chord.tsum')).apply_async()
    return {
        'chain': [c.id, c.parent.id, c.parent.parent.id],
        'group': [g.id, *[r.id for r in g.results]],
        'chord': [d.id, d.parent.id, *[r.id for r in d.parent.results]],
    }


def main():
    verb, arg = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    if verb == 'chain_ts':
        out = describe(chain(sig('ts.add', 1, 2), sig('ts.mul', 3)).apply_async())
    elif verb == 'chain_mixed':
        out = describe(chain(sig('py.add', 1, 2), sig('ts.mul', 4), sig('py.add', 10)).apply_async())
    elif verb == 'chord_ts':
        out = describe(chord([sig('ts.add', i, i) for i in range(5)], sig('ts.tsum')).apply_async())
    elif verb == 'chord_mixed':
        header = [sig('py.add', 1, 1), sig('ts.add', 2, 2), sig('py.add', 3, 3), sig('ts.add', 4, 4)]
        out = describe(chord(header, sig('ts.count', arg)).apply_async())
    elif verb == 'chord_fail_ts':
        header = [sig('ts.add', 1, 1), sig('ts.fail', 'ts member'), sig('ts.add', 2, 2)]
        out = describe(chord(header, sig('py.tsum')).apply_async())
    elif verb == 'errback_ts':
        out = describe(sig('ts.fail', 'no luck').apply_async(link_error=sig('py.errback')))
    elif verb == 'group_ts':
        res = group(sig('ts.add', i, i) for i in (1, 2, 3)).apply_async()
        res.save()
        out = describe(res)
    elif verb == 'restore':
        out = describe(GroupResult.restore(arg, app=app))
    elif verb == 'shape':
        out = shape()
    else:
        raise SystemExit(f'unknown verb {verb}')
    print(json.dumps(out))


if __name__ == '__main__':
    main()
