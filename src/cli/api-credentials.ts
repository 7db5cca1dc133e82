/**
 * `celerity api hash-password` and `celerity api hash-token`: the lines to put in `apiUsers` and `apiTokens`, so
 * that config files and environments hold hashes only. A password is read from stdin or typed at a prompt that
 * does not echo, never taken as an argument (argv is visible to every user of the machine in `ps` and kept in
 * shell history). A token is generated here and shown once; only its hash goes into the config.
 */
import type { Command } from 'commander';
import { generateToken, hashPassword, hashToken } from '../api/credentials.js';
import { UsageError } from './context.js';

/** Where the commands read and write; the process's streams unless a test gives others. */
export interface CredentialsIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const MIN_PASSWORD = 8;
/** More than any password or token; a larger stdin is a mistake (a file piped by accident), not a secret. */
const MAX_INPUT = 4096;

export function registerApiCredentials(api: Command, io: CredentialsIo = process): void {
  api
    .command('hash-password')
    .description('hash a password for apiUsers, read from stdin or typed at a prompt without echo')
    .option('-u, --user <name>', 'print the whole apiUsers entry for this user name')
    .option('--read-only', 'the user may only read (GET): adds :ro')
    .action(async (o: { user?: string; readOnly?: boolean }) => {
      if (o.user !== undefined) checkUserName(o.user);
      const password = io.stdin.isTTY ? await promptTwice(io) : await readSecret(io.stdin, 'password');
      if ([...password].length < MIN_PASSWORD) throw new UsageError(`the password must have at least ${MIN_PASSWORD} characters`);
      const hash = await hashPassword(password);
      const entry = `${o.user ?? '<name>'}:${hash}${o.readOnly ? ':ro' : ''}`;
      io.stdout.write(`${o.user === undefined ? hash : entry}\n`);
      io.stderr.write(
        `Add ${o.user === undefined ? `it as ${entry}` : 'this line'} to the apiUsers setting (CELERITY_API_USERS in the environment, ` +
          "entries separated by commas; quote it in a shell: the hash holds '$').\n",
      );
    });

  api
    .command('hash-token')
    .description('create a bearer token for apiTokens: prints the token once and the hash to configure')
    .option('--read-only', 'the token may only read (GET): adds :ro')
    .option('--stdin', 'hash an existing token read from stdin instead of creating one')
    .action(async (o: { readOnly?: boolean; stdin?: boolean }) => {
      const suffix = o.readOnly ? ':ro' : '';
      if (o.stdin) {
        const token = await readSecret(io.stdin, 'token');
        io.stdout.write(`${hashToken(token)}${suffix}\n`);
        io.stderr.write('Add this line to the apiTokens setting (CELERITY_API_TOKENS in the environment, entries separated by commas).\n');
        return;
      }
      const token = generateToken();
      io.stdout.write(`token: ${token}\napiTokens entry: ${hashToken(token)}${suffix}\n`);
      io.stderr.write(
        'The token is shown only this once: give it to the client, which sends it as `Authorization: Bearer <token>`. ' +
          'Put the apiTokens entry in the apiTokens setting (CELERITY_API_TOKENS in the environment, entries separated by commas).\n',
      );
    });
}

function checkUserName(name: string): void {
  // Commas separate entries in the environment and colons separate the name from the hash (and Basic's user:password).
  // eslint-disable-next-line no-control-regex
  if (!name || /[:,\u0000-\u001f\u007f]/.test(name) || name.trim() !== name) {
    throw new UsageError(`--user must be a name without ':', ',', control characters or surrounding blanks, got ${JSON.stringify(name)}`);
  }
}

/** All of stdin, without one trailing line break; a second line or nothing at all is refused. */
async function readSecret(stdin: NodeJS.ReadableStream, what: string): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.length > MAX_INPUT) throw new UsageError(`stdin holds more than ${MAX_INPUT} characters: expected one ${what}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (/[\r\n]/.test(value)) throw new UsageError(`stdin holds more than one line: expected one ${what}`);
  if (!value) throw new UsageError(`no ${what} on stdin`);
  return value;
}

async function promptTwice(io: CredentialsIo): Promise<string> {
  const [first, second] = await promptHidden(io, ['Password: ', 'Repeat the password: ']);
  if (first !== second) throw new UsageError('the passwords differ');
  return first!;
}

/**
 * Lines typed at the terminal with echo off, one per question: the characters never appear on the screen. One
 * raw-mode session for all of them, since a pasted answer may arrive in the same chunk as the next.
 */
function promptHidden(io: CredentialsIo, questions: string[]): Promise<string[]> {
  const { stdin, stderr } = io;
  const answers: string[] = [];
  stderr.write(questions[0]!);
  stdin.setRawMode?.(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const done = () => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.setRawMode?.(false);
      stdin.pause();
    };
    const onEnd = () => {
      done();
      reject(new UsageError('no password typed'));
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stderr.write('\n');
          answers.push(value);
          value = '';
          if (answers.length === questions.length) {
            done();
            resolve(answers);
            return;
          }
          stderr.write(questions[answers.length]!);
        } else if (ch === '\u0003') {
          stderr.write('\n');
          done();
          reject(new UsageError('aborted'));
          return;
        } else if (ch === '\u007f' || ch === '\b') {
          value = [...value].slice(0, -1).join('');
        } else if (ch >= ' ') {
          value += ch;
        }
      }
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
  });
}
