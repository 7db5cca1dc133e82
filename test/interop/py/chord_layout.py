"""Celery 5's own Redis result backend recording chord parts and saving groups, for the test that checks our layout
against it (test/integration/redis-chord-layout.test.ts). No worker and no broker: the backend methods a worker
calls are called directly. Usage: chord_layout.py BACKEND_URL STEPS_JSON, where STEPS_JSON is a list of:
  {"op": "size", "group": G, "size": N}                        backend.set_chord_size(G, N)
  {"op": "part", "group": G, "id": T, "index": I or null,      backend.on_chord_part_return(request, STATE, VALUE)
   "state": STATE, "result": VALUE}                            as a worker calls it when member T of G finishes;
                                                               "raise": MESSAGE instead of "result" passes
                                                               KeyError(MESSAGE), as for a failed member
  {"op": "save", "group": G, "ids": [T, ...]}                  app.GroupResult(G, [AsyncResult(T), ...]).save()
  {"op": "restore", "group": G}                                GroupResult.restore(G)
Prints one JSON object: {"fired": [{"group": G, "results": [...]}, ...], "restored": [{"id", "ids"} or null, ...]}.
"fired" lists the chord bodies Celery would have sent: the body is replaced by a recorder, so a chord that
completes on the Python side is seen (with the results Celery decoded from the parts) without a broker."""
import json
import sys
from types import SimpleNamespace

import celery.backends.redis as redis_backend
from celery import Celery
from celery.result import GroupResult

fired = []


class BodyRecorder:
    def __init__(self, group):
        self.group = group

    def delay(self, results):
        fired.append({'group': self.group, 'results': results})


def main():
    url, steps = sys.argv[1], json.loads(sys.argv[2])
    app = Celery('chord_layout', backend=url)
    app.conf.update(result_serializer='json', accept_content=['json'])
    backend = app.backend
    restored = []
    for step in steps:
        op, group = step['op'], step['group']
        if op == 'size':
            backend.set_chord_size(group, step['size'])
        elif op == 'part':
            request = SimpleNamespace(id=step['id'], group=group, group_index=step['index'], chord=None)
            # on_chord_part_return builds the body from request.chord; the recorder stands in for it.
            redis_backend.maybe_signature = lambda _sig, app=None, group=group: BodyRecorder(group)
            result = KeyError(step['raise']) if 'raise' in step else step['result']
            backend.on_chord_part_return(request, step['state'], result)
        elif op == 'save':
            app.GroupResult(group, [app.AsyncResult(t) for t in step['ids']]).save()
        elif op == 'restore':
            found = GroupResult.restore(group, app=app)
            restored.append(None if found is None else {'id': found.id, 'ids': [r.id for r in found.results]})
        else:
            raise SystemExit(f'unknown op {op}')
    print(json.dumps({'fired': fired, 'restored': restored}))


if __name__ == '__main__':
    main()
