/**
 * A mailbox whose adapter is still being loaded: remote control and events given only a URL construct their
 * mailbox synchronously, while the adapter (and its client library) is imported on first use, as brokers are.
 */
import type { Mailbox, MailboxQueue, MailboxSubscription, SubscribeOptions } from './mailbox.js';

export class DeferredMailbox implements Mailbox {
  private loaded: Promise<Mailbox> | null = null;
  private closed = false;

  constructor(private readonly load: () => Promise<Mailbox>) {}

  private target(): Promise<Mailbox> {
    if (this.closed) return Promise.reject(new Error('the mailbox is closed'));
    this.loaded ??= this.load();
    return this.loaded;
  }

  async connect(): Promise<void> {
    await (await this.target()).connect();
  }

  async broadcast(exchange: string, routingKey: string, envelope: string): Promise<number> {
    return (await this.target()).broadcast(exchange, routingKey, envelope);
  }

  async subscribe(
    exchange: string,
    bindingKey: string,
    onMessage: (envelope: string) => void,
    options?: SubscribeOptions,
  ): Promise<MailboxSubscription> {
    return (await this.target()).subscribe(exchange, bindingKey, onMessage, options);
  }

  async send(exchange: string, routingKey: string, envelope: string): Promise<void> {
    await (await this.target()).send(exchange, routingKey, envelope);
  }

  async openQueue(exchange: string, routingKey: string, queue: string): Promise<MailboxQueue> {
    return (await this.target()).openQueue(exchange, routingKey, queue);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A load that failed opened nothing; one still under way is closed once it lands.
    const mailbox = await this.loaded?.catch(() => null);
    await mailbox?.close();
  }
}
