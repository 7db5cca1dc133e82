"""Capture golden Celery 5.2 wire messages and result metas from a real Redis.

Run with the system Python that has Celery 5.2, from anywhere:

    /usr/bin/python3 test/golden/capture.py [redis-url]

The default URL is redis://127.0.0.1:6379/14. That database is flushed at the start and at the end, so point it
at a scratch database. Every file written next to this script holds the bytes exactly as they sat in Redis (no
trailing newline), so byte-equality tests against them are meaningful. `manifest.json` says where each one came
from (Redis key, task id, what it shows). `saferepr-cases.json` records Celery's `saferepr` and Python's `repr`
for a set of edge values; it needs no Redis.

This file is also the Celery app module the worker loads (`-A capture`), hence the tasks at the top.
"""
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import uuid

from celery import Celery, chain, group
from celery.utils.saferepr import saferepr

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ.get('CAPTURE_REDIS_URL', 'redis://127.0.0.1:6379/14')
NS = uuid.UUID('6f1c1f7e-4d52-4cf5-9a70-3c8a3f2f0b11')

app = Celery('capture', broker=URL, backend=URL)
app.conf.update(
    result_extended=os.environ.get('CAPTURE_EXTENDED') == '1',
    task_track_started=True,
    accept_content=['json', 'msgpack'],
    enable_utc=True,
    timezone='UTC',
)


class GoldenError(Exception):
    """A user-defined exception: shows exc_module set to the defining module."""


def _copy_meta(task_id, target):
    # The meta key is overwritten when the task finishes, so the intermediate state is copied from inside the task.
    client = app.backend.client
    client.set(target, client.get(app.backend.get_key_for_task(task_id)))


@app.task
def add(x, y):
    return x + y


@app.task
def echo(*args, **kwargs):
    return [args, kwargs]


@app.task
def fail_key():
    raise KeyError('oops')


@app.task
def fail_custom():
    raise GoldenError('bad thing', 42)


@app.task(bind=True)
def progress(self):
    self.update_state(state='PROGRESS', meta={'current': 1, 'total': 10})
    _copy_meta(self.request.id, 'golden:copy:progress')
    return 'done'


@app.task(bind=True)
def started(self):
    _copy_meta(self.request.id, 'golden:copy:started')
    return None


@app.task(bind=True)
def retry_once(self):
    # The retried message goes to a queue nobody consumes so its raw bytes can be captured.
    raise self.retry(countdown=3600, exc=ValueError('again'), queue='golden-retry')


def tid(name):
    return str(uuid.uuid5(NS, name))


def write(name, raw, manifest, **info):
    if isinstance(raw, str):
        raw = raw.encode('utf-8')
    with open(os.path.join(HERE, name), 'wb') as f:
        f.write(raw)
    manifest[name] = info


def pop_only(client, key):
    items = client.lrange(key, 0, -1)
    if len(items) != 1:
        raise SystemExit(f'expected one message in {key!r}, found {len(items)}')
    client.delete(key)
    return items[0]


def capture_messages(client, manifest):
    """Messages as the producer LPUSHes them, read before any worker runs."""
    def grab(name, key, sent_id, note):
        write(name, pop_only(client, key), manifest, redis_key=key.decode('latin-1') if isinstance(key, bytes) else key,
              task_id=sent_id, note=note)

    add.apply_async((2, 3), task_id=tid('add'))
    grab('task-add.json', 'celery', tid('add'), 'add(2, 3), defaults')

    kwargs = {
        'name': 'café', 'city': '日本', 'emoji': '🎉', 'nothing': None,
        'nested': {'list': [1, 2.5, None, True, False, 'x'], 'deep': {'deeper': {'deepest': [1e-07, 0.1]}}},
    }
    args = ("it's", 'say "hi"', 'both \' and "', 'line\nbreak\ttab', 'back\\slash')
    echo.apply_async(args, kwargs, task_id=tid('unicode'))
    grab('task-unicode.json', 'celery', tid('unicode'), 'unicode, quotes, nesting, None in args/kwargs')

    add.apply_async((1, 2), countdown=30, task_id=tid('countdown'))
    grab('task-countdown.json', 'celery', tid('countdown'), 'countdown=30: eta with microseconds')

    eta = datetime.datetime(2030, 1, 2, 3, 4, 5, 123000, tzinfo=datetime.timezone.utc)
    add.apply_async((1, 2), eta=eta, task_id=tid('eta'))
    grab('task-eta.json', 'celery', tid('eta'), 'eta=2030-01-02T03:04:05.123+00:00')

    eta0 = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    add.apply_async((1, 2), eta=eta0, task_id=tid('eta0'))
    grab('task-eta-whole.json', 'celery', tid('eta0'), 'eta without microseconds')

    add.apply_async((1, 2), expires=60, task_id=tid('expires'))
    grab('task-expires.json', 'celery', tid('expires'), 'expires=60 seconds: expiration property "60000"')

    add.apply_async((1, 2), priority=9, task_id=tid('priority'))
    grab('task-priority.json', b'celery\x06\x169', tid('priority'), 'priority=9 goes to the sub-list celery\\x06\\x169')

    add.apply_async((1, 2), time_limit=30, soft_time_limit=20, shadow='golden.alias', ignore_result=True,
                    task_id=tid('options'))
    grab('task-options.json', 'celery', tid('options'), 'time limits, shadow, ignore_result')

    long_args = (list(range(300)), 'word ' * 300)
    echo.apply_async(long_args, {'k': 'v ' * 700}, task_id=tid('long'))
    grab('task-long-args.json', 'celery', tid('long'), 'argsrepr/kwargsrepr truncated at 1024')

    add.apply_async((2, 3), task_id=tid('zlib'), compression='zlib')
    grab('task-zlib.json', 'celery', tid('zlib'), 'compression=zlib: header application/x-gzip')

    echo.apply_async((2.5, 3), {'s': 'café', 'n': None, 'l': [1, -1, 300, 70000, 2 ** 40]}, task_id=tid('msgpack'),
                    serializer='msgpack')
    grab('task-msgpack.json', 'celery', tid('msgpack'), 'serializer=msgpack, with a uint64')

    small = {'s': 'café', 'n': None, 'l': [1, -1, 127, 128, 255, 256, -33, -129, 70000, -70000], 'f': -0.1,
             'long': 'x' * 300, 'nested': {'t': True, 'f': False, 'e': [], 'd': {}}}
    echo.apply_async((2.5, 'a'), small, task_id=tid('msgpack-small'), serializer='msgpack')
    grab('task-msgpack-small.json', 'celery', tid('msgpack-small'), 'serializer=msgpack, only 32-bit integers')

    c = chain(add.s(1, 2).set(task_id=tid('chain-1')), add.s(10).set(task_id=tid('chain-2')),
              add.s(20).set(task_id=tid('chain-3')))
    c.apply_async()
    grab('task-chain.json', 'celery', tid('chain-1'), 'first task of a 3-chain: embed.chain reversed')

    g = group(add.s(1, 1).set(task_id=tid('group-0')), add.s(2, 2).set(task_id=tid('group-1')))
    g.apply_async()
    items = client.lrange('celery', 0, -1)
    client.delete('celery')
    # LPUSH order: the last pushed is first in the list.
    write('task-group-member.json', items[-1], manifest, redis_key='celery', task_id=tid('group-0'),
          note='first member of a group of two')

    v1 = Celery('capture_v1', broker=URL)
    v1.conf.task_protocol = 1
    v1.send_task('capture.add', args=(2, 3), kwargs={'extra': 'café'}, countdown=30, task_id=tid('v1'))
    grab('task-v1.json', 'celery', tid('v1'), 'task_protocol=1: empty headers, dict body')


def wait_for(client, key, predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        raw = client.get(key)
        if raw is not None and predicate(json.loads(raw)):
            return raw
        time.sleep(0.05)
    raise SystemExit(f'timed out waiting for {key}')


def meta_key(task_id):
    return app.backend.get_key_for_task(task_id).decode()


def start_worker(extended):
    # No __pycache__ left next to the goldens.
    env = dict(os.environ, CAPTURE_EXTENDED='1' if extended else '0', CAPTURE_REDIS_URL=URL,
               PYTHONDONTWRITEBYTECODE='1')
    log = open(os.path.join('/tmp', f'golden-worker-{int(extended)}.log'), 'wb')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'celery', '-A', 'capture', 'worker', '-P', 'solo', '-n', 'golden@capture',
         '--without-heartbeat', '--without-mingle', '--without-gossip', '-l', 'info'],
        cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        if app.control.ping(timeout=0.5):
            return proc
        if proc.poll() is not None:
            raise SystemExit('worker exited early; see /tmp/golden-worker-*.log')
    proc.kill()
    raise SystemExit('worker did not answer ping')


def capture_results(client, manifest, extended):
    app.conf.result_extended = extended
    p = 'result-extended-' if extended else 'result-'
    sfx = '-x' if extended else ''
    proc = start_worker(extended)
    try:
        def done(name, task_id, states, note, key=None):
            key = key or meta_key(task_id)
            raw = wait_for(client, key, lambda m: m.get('status') in states)
            write(p + name + '.json', raw, manifest, redis_key=key, task_id=task_id, note=note)

        t = tid('r-success' + sfx)
        add.apply_async((2, 3), task_id=t)
        done('success', t, {'SUCCESS'}, 'add(2, 3)')

        t = tid('r-key' + sfx)
        fail_key.apply_async(task_id=t)
        done('failure-keyerror', t, {'FAILURE'}, "raise KeyError('oops')")

        t = tid('r-custom' + sfx)
        fail_custom.apply_async(task_id=t)
        done('failure-custom', t, {'FAILURE'}, "raise GoldenError('bad thing', 42) from module capture")

        t = tid('r-progress' + sfx)
        progress.apply_async(task_id=t)
        wait_for(client, meta_key(t), lambda m: m.get('status') == 'SUCCESS')
        done('progress', t, {'PROGRESS'}, "update_state('PROGRESS', {'current': 1, 'total': 10})",
             key='golden:copy:progress')

        t = tid('r-started' + sfx)
        started.apply_async(task_id=t)
        wait_for(client, meta_key(t), lambda m: m.get('status') == 'SUCCESS')
        done('started', t, {'STARTED'}, 'task_track_started=True', key='golden:copy:started')

        t = tid('r-retry' + sfx)
        retry_once.apply_async(task_id=t)
        done('retry', t, {'RETRY'}, "self.retry(countdown=3600, exc=ValueError('again'))")
        if not extended:
            write('task-retry.json', pop_only(client, 'golden-retry'), manifest, redis_key='golden-retry',
                  task_id=t, note='the message a retry sends: retries=1, eta = now + 3600 s')
        else:
            client.delete('golden-retry')

        t = tid('r-revoked' + sfx)
        app.control.revoke(t)
        time.sleep(0.5)
        add.apply_async((1, 1), task_id=t)
        done('revoked', t, {'REVOKED'}, 'revoked before it arrived')

        t = tid('r-expired' + sfx)
        add.apply_async((1, 1), task_id=t,
                        expires=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5))
        done('expired', t, {'REVOKED'}, 'expires in the past on arrival')

        ids = [tid('r-chain-1' + sfx), tid('r-chain-2' + sfx)]
        chain(add.s(1, 2).set(task_id=ids[0]), add.s(10).set(task_id=ids[1])).apply_async()
        done('chain-parent', ids[0], {'SUCCESS'}, 'first of a chain: children lists the next task')
        done('chain-child', ids[1], {'SUCCESS'}, 'second of a chain: parent_id set')

        gids = [tid('r-group-0' + sfx), tid('r-group-1' + sfx)]
        group(add.s(1, 1).set(task_id=gids[0]), add.s(2, 2).set(task_id=gids[1])).apply_async()
        done('group-member', gids[0], {'SUCCESS'}, 'group member: group_id set')

        if not extended:
            # Celery's own worker must run a message whose lang header is not "py".
            t = tid('r-lang-js')
            add.apply_async((20, 22), task_id=t, headers={'lang': 'js'})
            raw = wait_for(client, meta_key(t), lambda m: m.get('status') in {'SUCCESS', 'FAILURE'})
            meta = json.loads(raw)
            if meta['status'] != 'SUCCESS' or meta['result'] != 42:
                raise SystemExit(f'lang=js was not accepted: {meta}')
            manifest['lang-js-accepted'] = {'task_id': t, 'meta': raw.decode()}

            # A message the worker holds (ETA) when it stops warmly is pushed back with redelivered flags.
            t = tid('redelivered')
            add.apply_async((1, 2), countdown=3600, task_id=t)
            time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    if not extended:
        items = client.lrange('celery', 0, -1)
        if len(items) == 1:
            client.delete('celery')
            write('task-redelivered.json', items[0], manifest, redis_key='celery', task_id=tid('redelivered'),
                  note='ETA message restored at warm shutdown: redelivered in headers and delivery_info')


REPR_VALUES = [
    [], [2, 3], [2], ['x'], [None, True, False], [0, -1, 10 ** 15, 2.5, -0.125, 0.1, 1e-07, 1e-05, 0.0001, 123.456,
                                                 1.5e-10, 12345.678901234567],
    ["it's"], ['say "hi"'], ['both \' and "'], ['line\nbreak', 'tab\there', 'cr\rhere', 'back\\slash'],
    ['\x00\x01\x1f\x7f\x80\x9f'], ['café', '日本', '🎉', 'Ω≈ç√'], ['\u200b', '\xa0', '\u2028', '\ufeff', '\U000e0001'],
    ['\ud800', 'a\udfffb'], [''], ['"'], ["'"], ["'\""],
    [[1, [2, [3, [4, [5]]]]]], [{'a': {'b': {'c': {'d': 1}}}}], [{}, [], {'k': []}],
    [{'a': 1, 'b': 'two', 'c': None, 'd': [1, 2], 'e': {'f': 'g'}}],
    ['word ' * 300], ['x' * 2000], [list(range(400))], [['ab cd'] * 200], [{'k' + str(i): i for i in range(200)}],
    ['a' * 1022], ['a' * 1021], ['a' * 1020], ['a b' * 400], ["it's " * 300],
]

REPR_KWARGS = [
    {}, {'a': 1}, {'name': 'café', 'q': "it's", 'n': None}, {'deep': {'a': {'b': {'c': 1}}}},
    {'k': 'v ' * 700}, {'k' + str(i): 'x' * 10 for i in range(150)}, {"quo'te": 1}, {'list': list(range(500))},
]


def capture_repr_cases():
    cases = []
    for args in REPR_VALUES:
        cases.append({
            'kind': 'args', 'value': args,
            'argsrepr': saferepr(tuple(args), 1024),
            'saferepr_nolimit': saferepr(tuple(args)),
            'repr': repr(args),
        })
    for kwargs in REPR_KWARGS:
        cases.append({
            'kind': 'kwargs', 'value': kwargs,
            'kwargsrepr': saferepr(kwargs, 1024),
            'saferepr_nolimit': saferepr(kwargs),
            'repr': repr(kwargs),
        })
    for maxlen in (1, 5, 10, 20, 33, 50):
        for args in ([1, 'hello world', [1, 2, 3], {'a': 'b c d'}], ['abc def ghi jkl', 12345]):
            cases.append({'kind': 'args', 'value': args, 'maxlen': maxlen,
                          'argsrepr': saferepr(tuple(args), maxlen)})
    dumps = [json.dumps(v) for v in REPR_VALUES + REPR_KWARGS]
    with open(os.path.join(HERE, 'saferepr-cases.json'), 'w') as f:
        json.dump({'cases': cases, 'json_dumps': dumps}, f, indent=1)
        f.write('\n')


def main():
    import redis
    client = redis.Redis.from_url(URL)
    client.flushdb()
    manifest = {}
    capture_repr_cases()
    capture_messages(client, manifest)
    capture_results(client, manifest, extended=False)
    client.flushdb()
    capture_results(client, manifest, extended=True)
    client.flushdb()
    with open(os.path.join(HERE, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write('\n')
    print(f'wrote {len(manifest)} captures to {HERE}')


if __name__ == '__main__':
    main()
