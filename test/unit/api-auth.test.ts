/**
 * The REST API's authentication and authorisation on a bare Fastify instance with one route per method: each kind
 * of credential, read-only callers, browser sessions with their CSRF token, the loopback policy and the login
 * rate limit. Credentials are real scrypt and SHA-256 hashes, parsed from config entries as the server does.
 */
import { describe, expect, it } from 'vitest';
import { assertBindAllowed, generateToken, hashPassword, hashToken, isLoopbackHost, NO_CREDENTIALS, parseCredentials, registerAuth } from '../../src/api/auth.js';
import Fastify from 'fastify';

describe('credentials in config', () => {
  it('hashes are self-describing: scrypt with strong parameters, SHA-256 for tokens, tokens of 32 random bytes', async () => {
    expect(await hashPassword('pw')).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await hashPassword('pw')).not.toBe(await hashPassword('pw'));
    expect(hashToken('abc')).toBe('sha256$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const token = generateToken();
    expect(token).toMatch(/^cel_[A-Za-z0-9_-]{43}$/);
    expect(generateToken()).not.toBe(token);
  });

  it('entries parse into users and tokens with their rights', async () => {
    const hash = await hashPassword('pw');
    const creds = parseCredentials({ apiUsers: [`alice:${hash}`, `bob:${hash}:ro`], apiTokens: [hashToken('a'), `${hashToken('b')}:ro`] });
    expect([...creds.users.values()].map((u) => [u.name, u.readOnly])).toEqual([
      ['alice', false],
      ['bob', true],
    ]);
    expect([...creds.tokens.values()].map((t) => [t.digest, t.readOnly])).toEqual([
      [hashToken('a').slice(7), false],
      [hashToken('b').slice(7), true],
    ]);
  });

  it('a plain-text password is refused with how to hash it, without repeating it', () => {
    const err = catchError(() => parseCredentials({ apiUsers: ['carol:hunter2secret'], apiTokens: [] }));
    expect(err).toMatchObject({ name: 'ConfigurationError', key: 'apiUsers[0]' });
    expect(err.message).toContain('the password of "carol" is not hashed');
    expect(err.message).toContain('celerity api hash-password --user carol');
    expect(err.message).not.toContain('hunter2secret');
  });

  it('a plain token is refused with how to hash it, without repeating it', () => {
    const token = generateToken();
    const err = catchError(() => parseCredentials({ apiUsers: [], apiTokens: [hashToken('x'), token] }));
    expect(err).toMatchObject({ name: 'ConfigurationError', key: 'apiTokens[1]' });
    expect(err.message).toContain('celerity api hash-token');
    expect(err.message).toContain('--stdin');
    expect(err.message).not.toContain(token);
  });

  it('malformed and weak entries are named', async () => {
    const good = await hashPassword('pw');
    const weak = good.replace('$32768$', '$1024$');
    const cases: [Parameters<typeof parseCredentials>[0], string, RegExp][] = [
      [{ apiUsers: [`alice:${good}`, 'no-colon'], apiTokens: [] }, 'apiUsers[1]', /name:<password hash>/],
      [{ apiUsers: [`:${good}`], apiTokens: [] }, 'apiUsers[0]', /name:<password hash>/],
      [{ apiUsers: [`alice:${weak}`], apiTokens: [] }, 'apiUsers[0]', /power of two from 16384/],
      [{ apiUsers: [`alice:${good.split('$').slice(0, 5).join('$')}`], apiTokens: [] }, 'apiUsers[0]', /six fields/],
      [{ apiUsers: [`alice:${good}:rw`], apiTokens: [] }, 'apiUsers[0]', /base64 scrypt hash/],
      [{ apiUsers: [`alice:${good}`, `alice:${good}:ro`], apiTokens: [] }, 'apiUsers[1]', /"alice" is listed twice/],
      [{ apiUsers: [], apiTokens: ['sha256$abc'] }, 'apiTokens[0]', /64 hex digits/],
      [{ apiUsers: [], apiTokens: [`${hashToken('x')}:admin`] }, 'apiTokens[0]', /64 hex digits/],
    ];
    for (const [conf, key, expected] of cases) {
      const err = catchError(() => parseCredentials(conf));
      expect(err, key).toMatchObject({ name: 'ConfigurationError', key });
      expect(err.message).toMatch(expected);
      expect(err.message).not.toContain(good.split('$')[5]);
    }
  });
});

describe('where the API may listen', () => {
  const oneToken = () => parseCredentials({ apiUsers: [], apiTokens: [hashToken(generateToken())] });

  it('without credentials only loopback addresses are allowed', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
      expect(isLoopbackHost(host), host).toBe(true);
      expect(() => assertBindAllowed(host, NO_CREDENTIALS)).not.toThrow();
    }
  });

  it('any other address is refused with which settings to set and how to hash', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com', 'localhost.example.com', '128.0.0.1', '::2']) {
      expect(isLoopbackHost(host), host).toBe(false);
      const err = catchError(() => assertBindAllowed(host, NO_CREDENTIALS));
      expect(err).toMatchObject({ name: 'ConfigurationError', key: 'host' });
      expect(err.message).toContain(`host="${host}"`);
      for (const text of ['apiTokens', 'CELERITY_API_TOKENS', 'celerity api hash-token', 'apiUsers', 'CELERITY_API_USERS', 'celerity api hash-password']) {
        expect(err.message).toContain(text);
      }
    }
  });

  it('with credentials every address is allowed', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', '127.0.0.1']) expect(() => assertBindAllowed(host, oneToken())).not.toThrow();
  });

  it('auth refuses to be set up off loopback without credentials', () => {
    expect(() => registerAuth(Fastify() as never, NO_CREDENTIALS, { loopback: false })).toThrow(/no API credentials are configured/);
  });
});

function catchError(fn: () => unknown): Error & { key?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
