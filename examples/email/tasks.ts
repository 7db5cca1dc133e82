/**
 * Sending email with automatic retries: a transient refusal (4xx, connection trouble) is retried with exponential
 * backoff and full jitter (1 s, 2 s, 4 s, ... each drawn at random below that, at most 60 s apart), up to 5 times;
 * a permanent one (5xx) fails at once, since sending again would not help. SMTP_HOST and SMTP_PORT choose the
 * server (default 127.0.0.1:2525, where `npx tsx examples/email/fake-smtp.ts` listens).
 */
import { Celerity } from 'celerity';
import { sendMail, SmtpTransientError } from './smtp.js';

export const app = new Celerity('email', {
  taskRoutes: { 'email.*': { queue: 'email' } },
  queues: ['email'],
});

const host = process.env.SMTP_HOST ?? '127.0.0.1';
const port = Number(process.env.SMTP_PORT ?? 2525);

export const sendEmail = app.task(
  'email.send',
  async function (to: string, subject: string, body: string) {
    if (!/^[^@\s<>]+@[^@\s<>]+$/.test(to)) throw new TypeError(`not an email address: ${JSON.stringify(to)}`);
    const reply = await sendMail(host, port, { from: 'noreply@example.com', to, subject, body });
    return { to, accepted: reply, attempts: this.retries + 1 };
  },
  { params: ['to', 'subject', 'body'], autoretryFor: [SmtpTransientError], retryBackoff: true, retryBackoffMax: 60, retryJitter: true, maxRetries: 5 },
);
