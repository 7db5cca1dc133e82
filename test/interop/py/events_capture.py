"""Celery's own event receiver and state keeper, run against the broker for at most SECONDS, or until the
task-succeeded event of UNTIL_UUID arrives; prints what it saw as JSON:
{"events": [{"type", "hostname", "uuid"}...], "alive": [worker names], "tasks": {uuid: state}}.
It wakes the workers up when it starts listening (a `heartbeat` broadcast), as `celery events` and Flower do.
That broadcast goes out before kombu's Redis transport has subscribed to the event channel (it subscribes on its
first poll), so events sent in reply to it can be missed; the first event received proves the subscription, and
it prints {"listening": true} on a line of its own then, for callers that must not send earlier.
Usage: events_capture.py SECONDS [UNTIL_UUID]"""
import json
import sys
import threading

from celery.events.state import State

from control_proj import app


def main():
    seconds = float(sys.argv[1])
    until = sys.argv[2] if len(sys.argv) > 2 else None
    state = State()
    seen = []
    receiver = None

    def on_event(event):
        if not seen:
            print(json.dumps({'listening': True}), flush=True)
        state.event(event)
        seen.append({'type': event['type'], 'hostname': event.get('hostname'), 'uuid': event.get('uuid')})
        if until and event['type'] == 'task-succeeded' and event.get('uuid') == until:
            receiver.should_stop = True

    with app.connection() as conn:
        receiver = app.events.Receiver(conn, handlers={'*': on_event})
        timer = threading.Timer(seconds, lambda: setattr(receiver, 'should_stop', True))
        timer.daemon = True
        timer.start()
        receiver.capture(limit=None, timeout=None, wakeup=True)
        timer.cancel()
    print(json.dumps({
        'events': seen,
        'alive': sorted(w.hostname for w in state.alive_workers()),
        'tasks': {uuid: task.state for uuid, task in state.tasks.items()},
    }))


if __name__ == '__main__':
    main()
