/**
 * `celerity events`: a live view of the monitoring events on the broker, like `celery events --dump`. One line
 * per event, from Celerity and Python Celery workers alike:
 *
 *   2025-01-02T03:04:05.678Z celery@host task-succeeded example.add[1c0f...] result=5 runtime=0.0021
 *
 * `--json` prints each event as received, one JSON object per line, for scripts. Ctrl-C (or SIGTERM) ends the view
 * with exit code 0. On start it asks every worker for a heartbeat, so the workers that are up show at once.
 */
import type { Command } from 'commander';
import type { Mailbox } from '../broker/mailbox.js';
import { EventReceiver, type ReceivedEvent } from '../control/event-receiver.js';
import { ConfigurationError } from '../errors/index.js';
import { appFrom, maskUrl, type CommonFlags } from './context.js';

interface EventsFlags extends CommonFlags {
  json?: boolean;
  heartbeats: boolean;
}

export function registerEvents(program: Command, common: (cmd: Command) => Command): void {
  common(program.command('events').description('show live events from the workers (celery events --dump)'))
    .option('-j, --json', 'one JSON object per event, as received')
    .option('--no-heartbeats', 'leave worker-heartbeat events out')
    .action(async (flags: EventsFlags) => {
      const app = await appFrom(flags, { loglevel: flags.loglevel ? undefined : 'warn' });
      const broker = await app.broker();
      if (!broker.mailbox) {
        await app.close();
        throw new ConfigurationError('broker', app.conf.broker, 'a broker that carries events (Redis, or the embedded SQLite store)');
      }
      try {
        await showEvents(broker.mailbox(), app.conf.broker, flags, app.conf.acceptContent);
      } finally {
        await app.close();
      }
    });
}

async function showEvents(mailbox: Mailbox, url: string, flags: EventsFlags, accept: readonly string[]): Promise<void> {
  const stop = new AbortController();
  const end = (): void => stop.abort();
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  const receiver = new EventReceiver({ mailbox, closeMailbox: true, accept: [...new Set(['json', ...accept])] });
  const view = new EventView();
  try {
    await receiver.start();
    process.stderr.write(`-> celerity events: listening on ${maskUrl(url)} (Ctrl-C to stop)\n`);
    for await (const event of receiver.events({ signal: stop.signal })) {
      if (!flags.heartbeats && event.type === 'worker-heartbeat') continue;
      process.stdout.write(`${flags.json ? JSON.stringify(event) : view.line(event)}\n`);
    }
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
    await receiver.close();
  }
}

/** Fields every event has, shown in the line's fixed columns or not at all. */
const HIDDEN = new Set(['hostname', 'type', 'timestamp', 'utcoffset', 'pid', 'clock', 'local_received', 'uuid', 'name']);

/** Formats events as dump lines; remembers task names, which only task-sent and task-received carry. */
export class EventView {
  private readonly names = new Map<string, string>();

  line(event: ReceivedEvent): string {
    const time = typeof event.timestamp === 'number' ? new Date(event.timestamp * 1000).toISOString() : '-';
    const parts = [time, event.hostname, event.type];
    const uuid = typeof event.uuid === 'string' ? event.uuid : null;
    if (uuid) {
      if (typeof event.name === 'string') this.names.set(uuid, event.name);
      // Bounded: a long-running view must not keep every name it ever saw.
      if (this.names.size > 10_000) this.names.delete(this.names.keys().next().value!);
      parts.push(`${this.names.get(uuid) ?? '?'}[${uuid}]`);
    }
    const fields = Object.keys(event)
      .filter((k) => !HIDDEN.has(k))
      .sort()
      .map((k) => `${k}=${show(event[k])}`);
    return [...parts, ...fields].join(' ');
  }
}

/** A field's value on one line: strings as they are (a traceback's newlines escaped), cut at 200 characters. */
function show(value: unknown): string {
  if (typeof value === 'string') {
    const flat = value.replace(/\n/g, '\\n');
    return flat.length > 200 ? `${flat.slice(0, 197)}...` : flat;
  }
  return JSON.stringify(value) ?? 'null';
}
