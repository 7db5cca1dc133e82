/**
 * Where the control and event modules get their mailbox: the broker's (shared, closed by its owner), or one
 * opened for a URL and owned by the module that opened it.
 */
import type { Mailbox } from '../broker/mailbox.js';
import { RedisMailbox } from '../broker/redis/mailbox.js';
import type { RedisTargetOptions } from '../broker/redis/fanout.js';

export interface MailboxSource extends Partial<RedisTargetOptions> {
  /** The mailbox to use (a broker's); when absent, one is opened for `url` and closed with its user. */
  mailbox?: Mailbox;
  /** Close `mailbox` too when closing (it was opened for this user alone). Default false. */
  closeMailbox?: boolean;
}

export function mailboxOf(source: MailboxSource, connectionName: string): { mailbox: Mailbox; owned: boolean } {
  if (source.mailbox) return { mailbox: source.mailbox, owned: source.closeMailbox ?? false };
  if (!source.url) throw new TypeError('remote control and events need a mailbox or a broker URL');
  return { mailbox: new RedisMailbox(source as RedisTargetOptions, connectionName), owned: true };
}
