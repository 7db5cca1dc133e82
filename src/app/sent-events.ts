/**
 * Celery's `task_send_sent_event`: a producer announces each task it sends with a `task-sent` event, which is how
 * monitors (Flower, celery-exporter, `celerity api`) learn a task's queue and arguments before a worker takes it,
 * count `celery_task_sent_total`, and see how long tasks wait. Off by default, as in Celery: it costs one event per
 * send (batched, as a worker batches its task events).
 */
import type { Mailbox } from '../broker/mailbox.js';
import type { BrokerMessage } from '../protocol/types.js';
import { EventDispatcher } from '../control/event-dispatcher.js';
import type { Logger } from '../util/logger.js';

export class SentEvents {
  private dispatcher: Promise<EventDispatcher | null> | undefined;

  constructor(
    private readonly mailbox: () => Promise<Mailbox | null>,
    private readonly hostname: string,
    private readonly log: Logger,
  ) {}

  /** Announces a sent message (fields as Celery's `amqp.as_task_v2` sent_event, plus the routing). Never rejects. */
  async sent(message: BrokerMessage, queue: string): Promise<void> {
    const dispatcher = await (this.dispatcher ??= this.open());
    if (!dispatcher) return;
    const h = message.headers;
    await dispatcher.send('task-sent', {
      uuid: h.id as string,
      root_id: (h.root_id as string | null) ?? null,
      parent_id: (h.parent_id as string | null) ?? null,
      name: h.task as string,
      args: (h.argsrepr as string) ?? '',
      kwargs: (h.kwargsrepr as string) ?? '',
      retries: (h.retries as number) ?? 0,
      eta: (h.eta as string | null) ?? null,
      expires: (h.expires as string | null) ?? null,
      queue,
      exchange: '',
      routing_key: queue,
    });
  }

  async close(): Promise<void> {
    const dispatcher = await this.dispatcher;
    this.dispatcher = undefined;
    await dispatcher?.close();
  }

  private async open(): Promise<EventDispatcher | null> {
    try {
      const mailbox = await this.mailbox();
      if (!mailbox) {
        this.log.warn('sendSentEvent is on but the broker carries no events; no task-sent events are sent');
        return null;
      }
      const dispatcher = new EventDispatcher({ mailbox, closeMailbox: true, hostname: this.hostname, bufferGroups: ['task'], onError: (err) => this.log.warn({ err }, `task-sent event not published: ${err.message}`) });
      await dispatcher.start();
      return dispatcher;
    } catch (err) {
      this.log.warn({ err }, `task-sent events are off: ${(err as Error).message}`);
      return null;
    }
  }
}
