/**
 * examples/email against its fake SMTP server: a worker on one SQLite file retries a transiently refused email with
 * backoff until it goes through (once), fails a permanently refused one at once without retrying, and refuses a
 * malformed address with a clear error.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { startFakeSmtp, type FakeSmtp } from '../../examples/email/fake-smtp.js';
import { app, sendEmail } from '../../examples/email/tasks.js';
import { useSqliteCli } from './sqlite-cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tasks = path.join(root, 'examples/email/tasks.ts');
let smtp: FakeSmtp;
beforeAll(async () => {
  smtp = await startFakeSmtp();
});
afterAll(() => smtp?.close());
const fresh = useSqliteCli(tasks, () => ({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) }));

describe('examples/email', () => {
  it('retries with exponential backoff and jitter on transient errors only', () => {
    expect(sendEmail.options).toMatchObject({ retryBackoff: true, retryJitter: true, maxRetries: 5, retryBackoffMax: 60 });
    expect(sendEmail.options.autoretryFor?.map((c) => (typeof c === 'string' ? c : c.name))).toEqual(['SmtpTransientError']);
  });

  it('retries a 451 until accepted, fails a 550 at once', { timeout: 60_000 }, async () => {
    const s = fresh();
    const { lines } = await s.worker('email', ['-Q', 'email', '-c', '4']);
    const client = new Celerity('producer', { broker: s.url, backend: s.url, loglevel: 'silent', taskRoutes: app.conf.taskRoutes }, {});
    try {
      const flaky = await client.sendTask<any>('email.send', ['flaky+2@example.com', 'Your invoice', 'Attached.\n.hidden line']);
      const bounce = await client.sendTask('email.send', ['bounce@example.com', 'Hello?', 'Anyone there?']);
      const bad = await client.sendTask('email.send', ['not an address', 'x', 'y']);

      expect(await flaky.get({ timeout: 20_000 })).toEqual({ to: 'flaky+2@example.com', accepted: expect.stringMatching(/^250 /), attempts: 3 });
      expect(smtp.attempts.get('flaky+2@example.com')).toBe(3);
      const mails = smtp.delivered.filter((m) => m.to === 'flaky+2@example.com');
      expect(mails).toHaveLength(1);
      expect(mails[0]!.data).toContain('Subject: Your invoice');
      expect(mails[0]!.data).toContain('\n.hidden line');
      expect(await flaky.state).toBe('SUCCESS');
      const retried = lines.filter((l) => l.includes(`${flaky.id}] retry: Retry in`));
      expect(retried).toHaveLength(2);
      for (const l of retried) expect(l).toContain('451 4.3.0');

      const err = (await bounce.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
      expect(err.name).toBe('SmtpPermanentError');
      expect(err.message).toBe('RCPT TO: 550 5.1.1 <bounce@example.com>: no such user');
      expect(smtp.attempts.get('bounce@example.com')).toBe(1);
      expect(lines.filter((l) => l.includes(`${bounce.id}] retry:`))).toHaveLength(0);

      const badErr = (await bad.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
      expect(badErr.name).toBe('TypeError');
      expect(badErr.message).toBe('not an email address: "not an address"');
    } finally {
      await client.close();
    }
  });
});
