"""Producer of bench/canvas.ts for Python Celery: sends the chord and the chain, waits for their results.

Commands, one a line on stdin; for each, one line on stdout: `@@bench ` and a JSON object (other lines are logs):
  chord <members> <tag>  chord of <members> noop(i) with collect(results, <tag>) as body
  chain <steps>          inc(0) | inc() | ... (<steps> in all)
  exit
Times are from just before the canvas is built to the result (total) and to apply_async returning (publish).
"""
import json
import os
import sys
import time
import traceback

from celery import chain, chord

from canvas_app import app, collect, inc, noop

TIMEOUT = float(os.environ.get('BENCH_TIMEOUT_S', '900'))
# AsyncResult.get() follows parents by default: every second of waiting it fetches the state of each result before
# the awaited one (10,000 GETs for a chord's header), which competes with the worker for Redis and the two cores.
FOLLOW_PARENTS = os.environ.get('BENCH_PY_FOLLOW_PARENTS', '0') == '1'


def reply(obj):
    sys.stdout.write('@@bench ' + json.dumps(obj) + '\n')
    sys.stdout.flush()


def run_chord(members, tag):
    t0 = time.perf_counter()
    sig = chord([noop.s(i) for i in range(members)], collect.s(tag))
    result = sig.apply_async()
    t1 = time.perf_counter()
    length, total = result.get(timeout=TIMEOUT, follow_parents=FOLLOW_PARENTS)
    t2 = time.perf_counter()
    return {'type': 'chord', 'publishMs': (t1 - t0) * 1000, 'totalMs': (t2 - t0) * 1000, 'length': length, 'sum': total}


def run_chain(steps):
    t0 = time.perf_counter()
    sig = chain(inc.s(0), *[inc.s() for _ in range(steps - 1)])
    result = sig.apply_async()
    t1 = time.perf_counter()
    value = result.get(timeout=TIMEOUT, follow_parents=FOLLOW_PARENTS)
    t2 = time.perf_counter()
    return {'type': 'chain', 'publishMs': (t1 - t0) * 1000, 'totalMs': (t2 - t0) * 1000, 'value': value}


def main():
    app.connection_for_write().ensure_connection(max_retries=3)
    reply({'type': 'ready', 'pid': os.getpid()})
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == 'chord':
                reply(run_chord(int(words[1]), words[2]))
            elif words[0] == 'chain':
                reply(run_chain(int(words[1])))
            elif words[0] == 'exit':
                break
            else:
                reply({'type': 'error', 'message': f'unknown command {line.strip()}'})
        except Exception as exc:  # reported to the orchestrator, which decides what a failure means
            reply({'type': 'error', 'message': f'{type(exc).__name__}: {exc}', 'trace': traceback.format_exc()})


if __name__ == '__main__':
    main()
