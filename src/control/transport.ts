/**
 * Where the control and event modules get their mailbox: the broker's (shared, closed by its owner), or one
 * opened for a broker URL through the transport table and owned by the module that opened it.
 */
import type { Mailbox } from '../broker/mailbox.js';
import { openMailbox, type MailboxOptions } from '../transports/index.js';

export interface MailboxSource extends Omit<MailboxOptions, 'connectionName'> {
  /** The mailbox to use (a broker's); when absent, one is opened for `url` and closed with its user. */
  mailbox?: Mailbox;
  /** Close `mailbox` too when closing (it was opened for this user alone). Default false. */
  closeMailbox?: boolean;
  /** A broker URL of any transport with a mailbox (`sqlite://`, `redis://`, ...), used when `mailbox` is absent. */
  url?: string;
}

export function mailboxOf(source: MailboxSource, connectionName: string): { mailbox: Mailbox; owned: boolean } {
  if (source.mailbox) return { mailbox: source.mailbox, owned: source.closeMailbox ?? false };
  if (!source.url) throw new TypeError('remote control and events need a mailbox or a broker URL');
  const { url, mailbox: _m, closeMailbox: _c, ...options } = source;
  return { mailbox: openMailbox(url, { ...options, connectionName }), owned: true };
}
