"""Python Celery side of bench/amqp.ts: a no-op task on RabbitMQ with results in Redis.

Broker and result backend come from BENCH_BROKER / BENCH_BACKEND; BENCH_TIMED_QUEUE names the queue whose first
received task the worker reports. The worker tells the orchestrator, on its stdout as `@@bench {json}` lines:

- `ready` once it consumes (worker_ready, in the main process);
- `first` with the CLOCK_MONOTONIC instant (µs) at which it received the first task of the timed queue
  (task_received, in the main process: the message has been delivered and turned into a request, before a pool child
  runs it), the same instant the Celerity worker reports with its 'task-received' event.

The lines are written to file descriptor 1 directly: the worker redirects sys.stdout to its logger.
"""
import json
import os
import time

from celery import Celery, signals

app = Celery('amqp_bench', broker=os.environ['BENCH_BROKER'], backend=os.environ['BENCH_BACKEND'])
app.conf.update(
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
    worker_prefetch_multiplier=int(os.environ.get('BENCH_PREFETCH_MULTIPLIER', '4')),
    # Celerity acknowledges a task once its result is stored (acksLate true by default): the same here, unless
    # BENCH_CELERY_ACKS_LATE=0 asks for Celery's own default (acknowledged before the task runs).
    task_acks_late=os.environ.get('BENCH_CELERY_ACKS_LATE', '1') == '1',
)

TIMED_QUEUE = os.environ.get('BENCH_TIMED_QUEUE', '')
_first_seen = False


def _tell(obj):
    os.write(1, ('@@bench ' + json.dumps(obj) + '\n').encode())


@app.task(name='bench.amqp.noop')
def noop():
    return 1


@signals.worker_ready.connect
def _ready(**_):
    _tell({'type': 'ready', 'pid': os.getpid()})


@signals.task_received.connect
def _received(request=None, **_):
    global _first_seen
    if _first_seen or request is None:
        return
    if (request.delivery_info or {}).get('routing_key') != TIMED_QUEUE:
        return
    _first_seen = True
    _tell({'type': 'first', 'us': time.monotonic_ns() // 1000})
