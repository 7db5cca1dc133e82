/**
 * A fake SMTP server for the example and its test, failing as real ones do: a recipient `flaky+N@...` is refused
 * with 451 (try again later) on its first N attempts, and `bounce@...` with 550 (no such user) always. Accepted
 * messages are kept in `delivered`. Run alone: `npx tsx examples/email/fake-smtp.ts` (port 2525, or SMTP_PORT).
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { pathToFileURL } from 'node:url';

export interface FakeSmtp {
  port: number;
  /** Messages accepted, in order: recipient and the raw data. */
  delivered: { to: string; data: string }[];
  /** RCPT attempts per recipient, refused ones included. */
  attempts: Map<string, number>;
  close(): Promise<void>;
}

function verdict(to: string, attempt: number): string | null {
  const flaky = /^flaky\+(\d+)@/.exec(to);
  if (flaky && attempt <= Number(flaky[1])) return `451 4.3.0 <${to}>: mailbox busy, try again later`;
  if (to.startsWith('bounce@')) return `550 5.1.1 <${to}>: no such user`;
  return null;
}

export async function startFakeSmtp(port = 0): Promise<FakeSmtp> {
  const delivered: FakeSmtp['delivered'] = [];
  const attempts = new Map<string, number>();
  const server: Server = createServer((socket) => {
    socket.setEncoding('utf8');
    const reply = (line: string) => socket.write(`${line}\r\n`);
    let buffer = '';
    let to = '';
    let data: string[] | null = null;
    reply('220 fake-smtp ready');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (data) {
          if (line === '.') {
            delivered.push({ to, data: data.join('\n') });
            data = null;
            reply(`250 2.0.0 queued as ${delivered.length}`);
          } else data.push(line.startsWith('..') ? line.slice(1) : line);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') reply('250-fake-smtp\r\n250 8BITMIME');
        else if (verb === 'MAIL') reply('250 2.1.0 ok');
        else if (verb === 'RCPT') {
          to = /<([^>]*)>/.exec(line)?.[1] ?? '';
          const n = (attempts.get(to) ?? 0) + 1;
          attempts.set(to, n);
          reply(verdict(to, n) ?? '250 2.1.5 ok');
        } else if (verb === 'DATA') {
          data = [];
          reply('354 end data with <CR><LF>.<CR><LF>');
        } else if (verb === 'QUIT') {
          reply('221 2.0.0 bye');
          socket.end();
        } else reply('502 5.5.2 command not recognised');
      }
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    delivered,
    attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const smtp = await startFakeSmtp(Number(process.env.SMTP_PORT ?? 2525));
  console.log(`fake SMTP listening on 127.0.0.1:${smtp.port}`);
}
