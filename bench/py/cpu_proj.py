"""Python Celery side of bench/cpu-pools.ts: the same two tasks as bench/cpu-app.ts, run by a prefork worker."""
import os

from celery import Celery

app = Celery('cpu_proj', broker=os.environ['BENCH_BROKER'], backend=os.environ['BENCH_BACKEND'])
app.conf.update(
    task_default_queue='cpu',
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
    worker_prefetch_multiplier=4,
)


@app.task(name='bench.primes')
def count_primes(n):
    count = 0
    for i in range(2, n):
        prime = True
        d = 2
        while d * d <= i:
            if i % d == 0:
                prime = False
                break
            d += 1
        if prime:
            count += 1
    return count


@app.task(name='bench.noop')
def noop():
    return None
