/**
 * The behaviour every mailbox adapter must show (broadcast with binding keys, direct queues), run against each one
 * by mailbox.test.ts. The factory opens two mailboxes on one transport, as two processes would.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Mailbox } from '../../src/broker/mailbox.js';

export interface MailboxHarness {
  a: Mailbox;
  b: Mailbox;
  cleanup(): Promise<void>;
}

/** Collects what a subscription receives; `next(n)` resolves once `n` envelopes arrived in all. */
function inbox() {
  const got: string[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    got,
    push(envelope: string) {
      got.push(envelope);
      for (const w of waiters.filter((w) => got.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
    next(n: number): Promise<void> {
      if (got.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

export function mailboxConformance(name: string, factory: () => Promise<MailboxHarness>): void {
  describe(`mailbox conformance: ${name}`, () => {
    let h: MailboxHarness;
    let ex: string;

    beforeEach(async () => {
      h = await factory();
      ex = `ex-${randomUUID()}`;
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it('broadcasts to every subscriber whose binding key matches, counting them', async () => {
      const all = inbox();
      const tasks = inbox();
      const workers = inbox();
      const exact = inbox();
      await h.b.subscribe(ex, '#', all.push);
      await h.b.subscribe(ex, 'task.#', tasks.push);
      await h.a.subscribe(ex, 'worker.#', workers.push);
      await h.a.subscribe(ex, '', exact.push);
      expect(await h.a.broadcast(ex, 'task.succeeded', 't1')).toBe(2);
      expect(await h.b.broadcast(ex, 'worker.heartbeat', 'w1')).toBe(2);
      expect(await h.a.broadcast(ex, '', 'plain')).toBe(1);
      await Promise.all([all.next(2), tasks.next(1), workers.next(1), exact.next(1)]);
      expect(await h.a.broadcast(`${ex}-other`, 'task.succeeded', 'elsewhere')).toBe(0);
      // A last broadcast every subscriber hears marks the end: nothing else arrived on the way.
      expect(await h.a.broadcast(ex, 'task.worker.end', 'end')).toBe(2);
      await Promise.all([all.next(3), tasks.next(2)]);
      expect(all.got).toEqual(['t1', 'w1', 'end']);
      expect(tasks.got).toEqual(['t1', 'end']);
      expect(workers.got).toEqual(['w1']);
      expect(exact.got).toEqual(['plain']);
    });

    it('keeps nothing for a subscriber that was not there, and stops at close', async () => {
      const early = inbox();
      await h.b.subscribe(ex, '#', early.push);
      await h.a.broadcast(ex, 'x.before', 'before');
      await early.next(1);
      const late = inbox();
      const sub = await h.b.subscribe(ex, '#', late.push);
      await h.a.broadcast(ex, 'x.after', 'after');
      await Promise.all([early.next(2), late.next(1)]);
      expect(late.got).toEqual(['after']);
      await sub.close();
      expect(await h.a.broadcast(ex, 'x.closed', 'closed')).toBe(1);
      await early.next(3);
      expect(late.got).toEqual(['after']);
    });

    it('delivers a direct send to each queue bound with its routing key, in order, once', async () => {
      const q1 = await h.a.openQueue(ex, 'k1', `${ex}.q1`);
      const q2 = await h.a.openQueue(ex, 'k2', `${ex}.q2`);
      await h.b.send(ex, 'k1', 'one');
      await h.b.send(ex, 'k1', 'two');
      await h.b.send(ex, 'nobody', 'dropped');
      expect(await q1.take(1000)).toBe('one');
      expect(await q1.take(1000)).toBe('two');
      expect(await q1.take(50)).toBeNull();
      expect(await q2.take(50)).toBeNull();
      await q1.close();
      await q2.close();
    });

    it('wakes a waiting taker when the send arrives, and releases it on abort', async () => {
      const q = await h.a.openQueue(ex, 'reply', `${ex}.reply`);
      const waiting = q.take(10_000);
      await h.b.send(ex, 'reply', 'answer');
      expect(await waiting).toBe('answer');
      const abort = new AbortController();
      const aborted = q.take(10_000, abort.signal);
      abort.abort(new Error('stop'));
      await expect(aborted).rejects.toThrow('stop');
      await q.close();
      // Closed: unbound, so a later send lands nowhere and a new queue of that name starts empty.
      await h.b.send(ex, 'reply', 'late');
      const again = await h.a.openQueue(ex, 'reply', `${ex}.reply`);
      expect(await again.take(50)).toBeNull();
      await again.close();
    });
  });
}
