"""Client of bench/amqp.ts for Python Celery: sends no-op tasks, starts a worker's consumer, times round trips.

Commands, one a line on stdin; for each, one line on stdout: `@@bench ` and a JSON object (other lines are logs).
Instants are CLOCK_MONOTONIC in µs, the clock the orchestrator and the Celerity roles read too.
  send <queue> <count>                 apply_async of <count> no-op tasks in a loop, on one producer
  consume <queue> <node>               add_consumer(<queue>) on the worker <node>, waiting for its reply
  roundtrips <queue> <warmup> <count>  sequential apply_async() + AsyncResult.get(); <warmup> untimed first
  exit
"""
import json
import os
import sys
import time
import traceback

from amqp_app import app, noop

TIMEOUT = float(os.environ.get('BENCH_TIMEOUT_S', '60'))


def reply(obj):
    sys.stdout.write('@@bench ' + json.dumps(obj) + '\n')
    sys.stdout.flush()


def now_us():
    return time.monotonic_ns() // 1000


def send(queue, count):
    cpu0 = time.process_time()
    t0 = now_us()
    # One producer for the whole loop (Celery's way of sending many): no pool acquire per call. With a Redis result
    # backend each call also subscribes to its task's result channel, as apply_async does in any client process.
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            noop.apply_async(queue=queue, producer=producer)
    t1 = now_us()
    return {'type': 'sent', 'startUs': t0, 'endUs': t1, 'cpuMs': (time.process_time() - cpu0) * 1000}


def consume(queue, node):
    replies = app.control.add_consumer(queue, destination=[node], reply=True, timeout=10)
    if not replies:
        raise RuntimeError(f'no reply from {node} to add_consumer({queue})')
    return {'type': 'consuming', 'replies': replies}


def roundtrips(queue, warmup, count):
    samples = []
    cpu0 = None
    t0 = None
    for i in range(warmup + count):
        if i == warmup:
            cpu0 = time.process_time()
            t0 = now_us()
        start = time.perf_counter()
        result = noop.apply_async(queue=queue)
        value = result.get(timeout=TIMEOUT)
        if i >= warmup:
            samples.append((time.perf_counter() - start) * 1000)
        if value != 1:
            raise RuntimeError(f'task {result.id} returned {value!r}')
    return {'type': 'roundtrips', 'samples': samples, 'startUs': t0, 'endUs': now_us(), 'cpuMs': (time.process_time() - cpu0) * 1000}


def main():
    app.connection_for_write().ensure_connection(max_retries=3)
    reply({'type': 'ready', 'pid': os.getpid()})
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == 'send':
                reply(send(words[1], int(words[2])))
            elif words[0] == 'consume':
                reply(consume(words[1], words[2]))
            elif words[0] == 'roundtrips':
                reply(roundtrips(words[1], int(words[2]), int(words[3])))
            elif words[0] == 'exit':
                break
            else:
                reply({'type': 'error', 'message': f'unknown command {line.strip()}'})
        except Exception as exc:  # reported to the orchestrator, which decides what a failure means
            reply({'type': 'error', 'message': f'{type(exc).__name__}: {exc}', 'trace': traceback.format_exc()})


if __name__ == '__main__':
    main()
