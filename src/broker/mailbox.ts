/**
 * The mailbox port: what remote control (Celery's pidbox) and monitoring events (celeryev) need from a transport,
 * beside the task queues of the broker port. Envelopes are opaque text here: the control and event modules above
 * encode and decode them, so every adapter carries the same bytes Celery's own nodes exchange.
 *
 * Two shapes of delivery, as in kombu:
 * - broadcast: every current subscriber of an exchange whose binding key matches the routing key gets the envelope
 *   (control requests to all nodes, events to all monitors). Nothing is kept for subscribers that come later.
 * - direct: an envelope sent to an exchange with a routing key waits in each queue bound with that key until it is
 *   taken (control replies to the client that asked).
 *
 * Binding keys match routing keys as kombu's Redis transport matches them (its `fanout_patterns`): `#` and `*`
 * stand for any run of characters, dots included; an empty binding key matches only an empty routing key.
 */

/** Receives broadcast envelopes until it is closed. */
export interface MailboxSubscription {
  close(): Promise<void>;
}

/** A queue bound to a direct exchange, taking what `Mailbox.send` puts there; deleted on close. */
export interface MailboxQueue {
  /** The next envelope, or null when none arrived within `timeoutMs`; rejects with the signal's reason on abort. */
  take(timeoutMs: number, signal?: AbortSignal): Promise<string | null>;
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /**
   * The subscriber's own queue name, registered as bound to the exchange while subscribed (a pidbox node queue,
   * `<hostname>.celery.pidbox`), so tools listing an exchange's bindings see the node.
   */
  queue?: string;
}

export interface Mailbox {
  /** Opens connections now (every other method opens them when needed); rejects with ConnectionError. */
  connect(): Promise<void>;
  /**
   * Sends `envelope` to every current subscriber of `exchange` whose binding key matches `routingKey`. Resolves to
   * how many subscribers it reached: a control client waits for at most that many replies.
   */
  broadcast(exchange: string, routingKey: string, envelope: string): Promise<number>;
  /** Calls `onMessage` with every envelope broadcast on `exchange` that `bindingKey` matches, until closed. */
  subscribe(
    exchange: string,
    bindingKey: string,
    onMessage: (envelope: string) => void,
    options?: SubscribeOptions,
  ): Promise<MailboxSubscription>;
  /** Appends `envelope` to every queue bound to the direct `exchange` with `routingKey` (none bound: dropped). */
  send(exchange: string, routingKey: string, envelope: string): Promise<void>;
  /** Declares `queue` bound to the direct `exchange` with `routingKey`. */
  openQueue(exchange: string, routingKey: string, queue: string): Promise<MailboxQueue>;
  /** Ends every subscription and queue of this mailbox and releases its connections. */
  close(): Promise<void>;
}

/**
 * Whether a broadcast with `routingKey` reaches a subscriber bound with `bindingKey`: kombu's Redis transport
 * publishes on `<exchange>/<routingKey>` (just `<exchange>` for an empty key) and subscribes with a glob of
 * `<exchange>/<bindingKey>` where `#` became `*`; this is that comparison without the shared exchange part.
 */
export function bindingMatches(bindingKey: string, routingKey: string): boolean {
  if (bindingKey === '') return routingKey === '';
  if (routingKey === '') return false;
  return globMatches(bindingKey.replace(/#/g, '*'), routingKey);
}

/** Redis's glob as kombu's patterns use it: `*` any run, `?` one character, everything else literal. */
function globMatches(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
