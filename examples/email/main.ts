/**
 * `npx tsx examples/email/main.ts`: the fake SMTP server in this process, a worker on the embedded store pointed
 * at it, and three emails: one accepted at once, one refused twice with 451 then accepted after two retries, one
 * refused for good with 550.
 */
import { fileURLToPath } from 'node:url';
import { startWorker } from '../shared/workers.js';
import { startFakeSmtp } from './fake-smtp.js';

const smtp = await startFakeSmtp();
process.env.SMTP_PORT = String(smtp.port);
// Imported after SMTP_PORT is set: the tasks module reads it once.
const { app, sendEmail } = await import('./tasks.js');
const tasks = fileURLToPath(new URL('./tasks.ts', import.meta.url));
const worker = await startWorker(tasks, ['-Q', 'email', '-c', '4']);

const sent = {
  'ada@example.com': await sendEmail.delay('ada@example.com', 'Welcome', 'Hello Ada.'),
  'flaky+2@example.com': await sendEmail.delay('flaky+2@example.com', 'Your invoice', 'Attached.'),
  'bounce@example.com': await sendEmail.delay('bounce@example.com', 'Hello?', 'Anyone there?'),
};
for (const [to, r] of Object.entries(sent)) {
  const v = await r.get({ timeout: 30_000, propagate: false });
  const shown = v instanceof Error ? `${v.name}: ${v.message}` : `accepted after ${v.attempts} attempt(s): ${v.accepted}`;
  console.log(`${to.padEnd(22)} SMTP saw ${smtp.attempts.get(to)} attempt(s); ${shown}`);
}
await worker.stop();
await app.close();
await smtp.close();
