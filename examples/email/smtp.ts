/**
 * A minimal SMTP client (EHLO, MAIL, RCPT, DATA, QUIT; no TLS or auth) for the example: enough to show how a task
 * tells a transient refusal (4xx, a dropped connection) from a permanent one (5xx), which decides retry or fail.
 */
import { connect, type Socket } from 'node:net';

/** 4xx replies and network errors: the same message may go through later. */
export class SmtpTransientError extends Error {
  override name = 'SmtpTransientError';
  constructor(message: string, readonly code: number | null = null) {
    super(message);
  }
}

/** 5xx replies: sending again will not help. */
export class SmtpPermanentError extends Error {
  override name = 'SmtpPermanentError';
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

export interface Mail {
  from: string;
  to: string;
  subject: string;
  body: string;
}

/** Reads whole replies (the last line of a multi-line reply has a space after its code). */
class Replies {
  private buffer = '';
  private lines: string[] = [];
  /** Replies (or the connection's failure) that arrived before anyone asked for them. */
  private pending: ({ code: number; text: string } | Error)[] = [];
  private waiting: ((reply: { code: number; text: string } | Error) => void) | null = null;
  private failure: Error | null = null;

  constructor(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\r\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 2);
        this.lines.push(line);
        if (/^\d{3} /.test(line) || !/^\d{3}-/.test(line)) this.settle({ code: Number(line.slice(0, 3)) || 0, text: this.lines.splice(0).join('\n') });
      }
    });
    const fail = (err: Error) => {
      this.failure = err;
      this.settle(err);
    };
    socket.on('error', (err) => fail(new SmtpTransientError(`SMTP connection failed: ${err.message}`)));
    socket.on('close', () => fail(new SmtpTransientError('SMTP server closed the connection')));
  }

  private settle(r: { code: number; text: string } | Error): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(r);
    } else this.pending.push(r);
  }

  next(): Promise<{ code: number; text: string }> {
    const r = this.pending.shift() ?? this.failure;
    if (r) return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    return new Promise((resolve, reject) => (this.waiting = (x) => (x instanceof Error ? reject(x) : resolve(x))));
  }
}

function check(reply: { code: number; text: string }, expected: number, step: string): void {
  if (reply.code === expected) return;
  const message = `${step}: ${reply.text}`;
  if (reply.code >= 500) throw new SmtpPermanentError(message, reply.code);
  throw new SmtpTransientError(message, reply.code);
}

/** Sends one message; resolves with the server's reply to the data (its queue id, usually). */
export async function sendMail(host: string, port: number, mail: Mail, timeoutMs = 10_000): Promise<string> {
  const socket = connect({ host, port });
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply within ${timeoutMs} ms`)));
  const replies = new Replies(socket);
  const say = async (line: string, expected: number, step: string) => {
    socket.write(`${line}\r\n`);
    const reply = await replies.next();
    check(reply, expected, step);
    return reply.text;
  };
  try {
    check(await replies.next(), 220, 'greeting');
    await say('EHLO celerity.example', 250, 'EHLO');
    await say(`MAIL FROM:<${mail.from}>`, 250, 'MAIL FROM');
    await say(`RCPT TO:<${mail.to}>`, 250, 'RCPT TO');
    await say('DATA', 354, 'DATA');
    // Dot-stuffing: a line starting with "." would otherwise end the message early.
    const body = mail.body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    const accepted = await say(`From: <${mail.from}>\r\nTo: <${mail.to}>\r\nSubject: ${mail.subject}\r\n\r\n${body}\r\n.`, 250, 'message');
    await say('QUIT', 221, 'QUIT').catch(() => undefined);
    return accepted;
  } finally {
    socket.destroy();
  }
}
