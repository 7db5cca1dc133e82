"""Celery's own remote-control client, run against whatever listens on the broker; prints one JSON object with
the result of each call. Usage: control_client.py TIMEOUT CALL [CALL ...], where CALL is a method name optionally
followed by `:` and a JSON object of keyword arguments:
  ping, registered, query_task:{"ids": ["a"]}, ...        app.control.inspect(timeout=TIMEOUT)._request(...);
                                                          a "destination" key becomes inspect's destination
  broadcast:{"command": "ping", "reply": true, ...}       app.control.broadcast(..., timeout=TIMEOUT)
  send_task:{"name": "control.sleep", "args": [2]}        app.send_task(...) -> the task id
Each call uses a connection of its own: kombu caches queue declarations per connection and reuses a reply
queue name when a mailbox copy gets the address of a collected one, which would skip declaring its binding."""
import json
import sys

from control_proj import app


def main():
    timeout = float(sys.argv[1])
    out = {}
    for call in sys.argv[2:]:
        method, _, raw = call.partition(':')
        kwargs = json.loads(raw) if raw else {}
        with app.connection_for_write() as conn:
            if method == 'broadcast':
                out[call] = app.control.broadcast(timeout=timeout, connection=conn, **kwargs)
            elif method == 'send_task':
                out[call] = app.send_task(connection=conn, **kwargs).id
            else:
                destination = kwargs.pop('destination', None)
                inspect = app.control.inspect(timeout=timeout, destination=destination, connection=conn)
                out[call] = inspect._request(method, **kwargs)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
