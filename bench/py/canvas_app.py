"""Python Celery side of bench/canvas.ts: the same three tasks as the Celerity worker there, on the queue `canvas`.

Broker and result backend come from BENCH_BROKER / BENCH_BACKEND. The chord body appends a line to the file named by
BENCH_MARKS each time it runs, so the orchestrator can check that it ran exactly once per chord.
"""
import os

from celery import Celery

app = Celery('canvas_bench', broker=os.environ['BENCH_BROKER'], backend=os.environ['BENCH_BACKEND'])
app.conf.update(
    task_default_queue='canvas',
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
    worker_prefetch_multiplier=4,
)


@app.task(name='bench.canvas.noop')
def noop(i):
    return i


@app.task(name='bench.canvas.inc')
def inc(x):
    return x + 1


@app.task(name='bench.canvas.collect')
def collect(values, tag):
    # One short O_APPEND write: atomic between the prefork children.
    with open(os.environ['BENCH_MARKS'], 'a') as marks:
        marks.write(f'{tag} {len(values)}\n')
    return [len(values), sum(values)]
