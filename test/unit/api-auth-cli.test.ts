/**
 * `celerity api hash-password` and `hash-token` on the `api` command, with stdin, stdout and stderr as streams:
 * what they print is accepted by parseCredentials and lets the secret in, and nothing takes a password as an
 * argument or echoes it.
 */
import { Command } from 'commander';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseCredentials, tokenDigest, verifyPassword } from '../../src/api/credentials.js';
import { registerApiCredentials } from '../../src/cli/api-credentials.js';

interface Run {
  stdout: string;
  stderr: string;
}

async function run(args: string[], input: { text?: string; tty?: string[] } = {}): Promise<Run> {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (raw: boolean) => void; raw?: boolean[] };
  if (input.tty) {
    stdin.isTTY = true;
    stdin.raw = [];
    stdin.setRawMode = (raw) => stdin.raw!.push(raw);
    for (const chunk of input.tty) stdin.write(chunk);
  } else {
    stdin.end(input.text ?? '');
  }
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough().on('data', (d) => out.push(String(d)));
  const stderr = new PassThrough().on('data', (d) => err.push(String(d)));
  const api = new Command('api').exitOverride().configureOutput({ writeErr: () => undefined });
  registerApiCredentials(api, { stdin, stdout, stderr });
  await api.parseAsync(args, { from: 'user' });
  if (stdin.raw) expect(stdin.raw).toEqual([true, false]);
  return { stdout: out.join(''), stderr: err.join('') };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );
}

describe('celerity api hash-password', () => {
  it('hashes a password piped on stdin into an apiUsers entry that verifies it', async () => {
    const r = await run(['hash-password', '--user', 'alice'], { text: 'correct horse battery\n' });
    expect(r.stdout).toMatch(/^alice:scrypt\$32768\$8\$1\$\S+\n$/);
    expect(r.stderr).toContain('CELERITY_API_USERS');
    const user = parseCredentials({ apiUsers: [r.stdout.trim()], apiTokens: [] }).users.get('alice')!;
    expect(user.readOnly).toBe(false);
    expect(await verifyPassword('correct horse battery', user.password)).toBe(true);
    expect(await verifyPassword('correct horse battery\n', user.password)).toBe(false);
    expect(r.stdout + r.stderr).not.toContain('correct horse');
  });

  it('--read-only adds :ro; without --user the bare hash is printed and the entry shape explained', async () => {
    const ro = await run(['hash-password', '-u', 'bob', '--read-only'], { text: 'read only pass' });
    expect(parseCredentials({ apiUsers: [ro.stdout.trim()], apiTokens: [] }).users.get('bob')!.readOnly).toBe(true);
    const bare = await run(['hash-password'], { text: 'read only pass\r\n' });
    expect(bare.stdout).toMatch(/^scrypt\$[^:\s]+\n$/);
    expect(bare.stderr).toContain('<name>:scrypt$');
  });

  it('at a terminal, asks twice with echo off and accepts a pasted answer with its repetition in one chunk', async () => {
    const typed = await run(['hash-password', '-u', 'carol'], { tty: ['s3cret-pa', 'ss\r', 'x\u007fs3cret-pass\r'] });
    expect(typed.stderr).toMatch(/^Password: \nRepeat the password: \n/);
    expect(typed.stderr).not.toContain('s3cret');
    const user = parseCredentials({ apiUsers: [typed.stdout.trim()], apiTokens: [] }).users.get('carol')!;
    expect(await verifyPassword('s3cret-pass', user.password)).toBe(true);
    const pasted = await run(['hash-password', '-u', 'dave'], { tty: ['pasted-pass\rpasted-pass\r'] });
    expect(pasted.stdout).toMatch(/^dave:scrypt\$/);
  });

  it('refuses different repetitions, short, empty and multi-line passwords and bad user names', async () => {
    expect((await rejection(run(['hash-password'], { tty: ['one-password\rtwo-password\r'] }))).message).toBe('the passwords differ');
    expect((await rejection(run(['hash-password'], { tty: ['\u0003'] }))).message).toBe('aborted');
    expect((await rejection(run(['hash-password'], { text: 'short\n' }))).message).toBe('the password must have at least 8 characters');
    expect((await rejection(run(['hash-password'], { text: '' }))).message).toBe('no password on stdin');
    expect((await rejection(run(['hash-password'], { text: 'first line\nsecond line\n' }))).message).toBe('stdin holds more than one line: expected one password');
    for (const name of ['a:b', 'a,b', ' alice', '']) {
      expect((await rejection(run(['hash-password', '--user', name], { text: 'long enough' }))).message).toMatch(/^--user must be a name without/);
    }
  });

  it('takes no password as an argument', async () => {
    const err = await rejection(run(['hash-password', 'my-password-here'], { text: 'long enough' }));
    expect(err.message).toMatch(/too many arguments/);
  });
});

describe('celerity api hash-token', () => {
  it('creates a token, shows it once, and prints the apiTokens entry that lets it in', async () => {
    const r = await run(['hash-token']);
    const [, token, entry] = /^token: (cel_[A-Za-z0-9_-]{43})\napiTokens entry: (sha256\$[0-9a-f]{64})\n$/.exec(r.stdout)!;
    expect(r.stderr).toContain('shown only this once');
    const creds = parseCredentials({ apiUsers: [], apiTokens: [entry!] });
    expect(creds.tokens.get(tokenDigest(token!))).toEqual({ digest: tokenDigest(token!), readOnly: false });
    expect((await run(['hash-token'])).stdout).not.toContain(token);
  });

  it('--read-only adds :ro; --stdin hashes an existing token', async () => {
    expect((await run(['hash-token', '--read-only'])).stdout).toMatch(/^apiTokens entry: sha256\$[0-9a-f]{64}:ro$/m);
    const r = await run(['hash-token', '--stdin', '--read-only'], { text: 'cel_existing-token\n' });
    expect(r.stdout).toBe(`sha256$${tokenDigest('cel_existing-token')}:ro\n`);
    expect((await rejection(run(['hash-token', '--stdin'], { text: '\n' }))).message).toBe('no token on stdin');
  });
});
