/**
 * Dead letters on RabbitMQ: the durable queue `celerity.dead_letters`, one message per letter, oldest first. Its
 * body is the rejected message as kombu's JSON envelope (the `raw` form every broker keeps), its header
 * `x-celerity-dead-letter` the record (id, queue, reason, task, time), so `rabbitmqadmin get` shows them as they are.
 *
 * Reading scans the queue with basic.get on a channel of its own without acking; closing that channel gives every
 * letter not taken back to the queue in its place. Requeueing publishes the envelope to its queue (confirmed) before
 * acking the letter, so a crash in between leaves a copy in both places rather than in neither.
 */
import type { Channel, ConfirmChannel, GetMessage } from 'amqplib';
import type { DeadLetter } from '../port.js';
import { decodeEnvelope } from '../../protocol/envelope.js';
import { bytesOfText, textOfBytes } from '../raw.js';
import { DEAD_LETTER_HEADER, DEAD_LETTER_QUEUE } from './topology.js';
import { publishOptions } from './messages.js';

interface Letter {
  msg: GetMessage;
  letter: DeadLetter;
}

export interface DeadLetterRecord {
  id: string;
  queue: string;
  reason: string;
  task_id: string | null;
  task_name: string | null;
  failed_at: string;
}

/** The message that keeps `raw` (kombu's envelope text) as a dead letter. */
export function deadLetterMessage(raw: string, record: DeadLetterRecord): { body: Buffer; headers: Record<string, unknown> } {
  return { body: bytesOfText(raw), headers: { [DEAD_LETTER_HEADER]: { ...record } } };
}

function readLetter(msg: GetMessage): DeadLetter | null {
  const record = msg.properties.headers?.[DEAD_LETTER_HEADER] as Partial<DeadLetterRecord> | undefined;
  if (!record || typeof record.id !== 'string') return null;
  return {
    id: record.id,
    queue: String(record.queue ?? ''),
    reason: String(record.reason ?? ''),
    raw: textOfBytes(msg.content),
    taskId: typeof record.task_id === 'string' ? record.task_id : null,
    taskName: typeof record.task_name === 'string' ? record.task_name : null,
    failedAt: new Date(String(record.failed_at ?? 0)),
  };
}

/** Every letter, oldest first, held unacked on `ch` until it is closed. Messages without a record are left alone. */
async function scan(ch: Channel): Promise<Letter[]> {
  const out: Letter[] = [];
  for (;;) {
    const msg = await ch.get(DEAD_LETTER_QUEUE, { noAck: false });
    if (!msg) return out;
    const letter = readLetter(msg);
    if (letter) out.push({ msg, letter });
  }
}

export async function listDeadLetters(ch: Channel, options: { queue?: string; limit?: number }): Promise<DeadLetter[]> {
  const limit = options.limit ?? 100;
  if (limit <= 0) return [];
  const letters = (await scan(ch)).map((l) => l.letter).filter((l) => options.queue === undefined || l.queue === options.queue);
  return letters.reverse().slice(0, limit);
}

export async function deleteDeadLetters(ch: Channel, ids: readonly string[]): Promise<number> {
  const wanted = new Set(ids);
  if (!wanted.size) return 0;
  let n = 0;
  for (const { msg, letter } of await scan(ch)) {
    if (!wanted.delete(letter.id)) continue;
    ch.ack(msg);
    n++;
  }
  return n;
}

export async function purgeDeadLetters(ch: Channel, options: { queue?: string }): Promise<number> {
  if (options.queue === undefined) {
    return (await ch.purgeQueue(DEAD_LETTER_QUEUE)).messageCount;
  }
  let n = 0;
  for (const { msg, letter } of await scan(ch)) {
    if (letter.queue !== options.queue) continue;
    ch.ack(msg);
    n++;
  }
  return n;
}

/**
 * Puts the letters named back on their queues, marked redelivered; `declare` declares a queue before its first
 * message goes there. Resolves to how many moved.
 */
export async function requeueDeadLetters(
  ch: ConfirmChannel,
  ids: readonly string[],
  declare: (queue: string) => Promise<void>,
): Promise<number> {
  const wanted = new Set(ids);
  if (!wanted.size) return 0;
  let n = 0;
  for (const { msg, letter } of await scan(ch)) {
    if (!wanted.delete(letter.id)) continue;
    const message = decodeEnvelope(letter.raw);
    message.headers = { ...message.headers, redelivered: true };
    delete message.headersParts;
    await declare(letter.queue);
    const priority = typeof message.properties.priority === 'number' ? message.properties.priority : 0;
    await new Promise<void>((resolve, reject) =>
      ch.publish('', letter.queue, message.body, publishOptions(message, priority), (err) => (err ? reject(err) : resolve())),
    );
    ch.ack(msg);
    n++;
  }
  return n;
}
