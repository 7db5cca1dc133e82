/**
 * Credentials of the REST API and dashboard, stored as hashes only. Passwords are people's, low in entropy and
 * reused, so they get scrypt with memory-hard parameters in a self-describing string
 * (`scrypt$N$r$p$<salt b64>$<hash b64>`) that records how to verify it. Tokens are 32 random bytes, which no one can
 * guess, so a plain SHA-256 (`sha256$<hex>`) is enough and a bearer check costs microseconds instead of a scrypt.
 */
import { createHash, createHmac, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ConfigurationError } from '../errors/index.js';

/** Parameters of new password hashes: 32 MiB and tens of milliseconds per check, Percival's interactive-login choice doubled. */
export const SCRYPT_DEFAULTS = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Weaker stored hashes are refused: they would make a stolen config cheap to crack. */
const MIN_N = 2 ** 14;
const MAX_N = 2 ** 20;
const MAX_MEMORY = 1024 * 1024 * 1024;

export const TOKEN_PREFIX = 'cel_';

export interface PasswordHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export interface UserCredential {
  name: string;
  readOnly: boolean;
  password: PasswordHash;
}

export interface TokenCredential {
  /** SHA-256 of the token, lowercase hex. */
  digest: string;
  readOnly: boolean;
}

/** Parsed `apiUsers` and `apiTokens`; both empty means none configured (loopback only). */
export interface Credentials {
  readonly users: ReadonlyMap<string, UserCredential>;
  /** By digest: the digest of a presented token finds its entry in one lookup. */
  readonly tokens: ReadonlyMap<string, TokenCredential>;
}

export const NO_CREDENTIALS: Credentials = { users: new Map(), tokens: new Map() };

export function hasCredentials(creds: Credentials): boolean {
  return creds.users.size > 0 || creds.tokens.size > 0;
}

function scrypt(password: string | Buffer, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCallback(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));
}

const scryptOptions = (h: Pick<PasswordHash, 'N' | 'r' | 'p'>): ScryptOptions => ({ N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + 1024 * 1024 });

/** `scrypt$N$r$p$<salt b64>$<hash b64>` of the password with a fresh random salt. Runs on the thread pool, not the event loop. */
export async function hashPassword(password: string, params: { N: number; r: number; p: number } = SCRYPT_DEFAULTS): Promise<string> {
  if (!password) throw new TypeError('the password is empty');
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(password.normalize('NFC'), salt, KEY_BYTES, scryptOptions(params));
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** The parts of a stored password hash, or a sentence saying what is wrong with it (never echoing it). */
export function parsePasswordHash(text: string): PasswordHash | string {
  const parts = text.split('$');
  if (parts[0] !== 'scrypt') return 'a password hash starting with scrypt$';
  if (parts.length !== 6) return 'scrypt$N$r$p$<salt base64>$<hash base64> (six fields separated by $)';
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  if (!/^\d+$/.test(n) || !Number.isSafeInteger(N) || N < MIN_N || N > MAX_N || (N & (N - 1)) !== 0) {
    return `scrypt N a power of two from ${MIN_N} to ${MAX_N} (weaker hashes are refused)`;
  }
  if (!/^\d+$/.test(r) || R < 8 || R > 32) return 'scrypt r from 8 to 32';
  if (!/^\d+$/.test(p) || P < 1 || P > 16) return 'scrypt p from 1 to 16';
  if (128 * N * R > MAX_MEMORY) return 'scrypt parameters needing at most 1 GiB (128 * N * r)';
  const b64 = /^[A-Za-z0-9+/]+={0,2}$/;
  if (!b64.test(salt) || Buffer.from(salt, 'base64').length < 16) return 'a base64 salt of at least 16 bytes';
  if (!b64.test(hash) || Buffer.from(hash, 'base64').length < 16 || Buffer.from(hash, 'base64').length > 128) {
    return 'a base64 scrypt hash of 16 to 128 bytes';
  }
  return { N, r: R, p: P, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
}

/** Whether the password matches the stored hash, compared in constant time. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const key = await scrypt(password.normalize('NFC'), stored.salt, stored.hash.length, scryptOptions(stored));
  return timingSafeEqual(key, stored.hash);
}

/** A new bearer token: `cel_` and 32 random bytes in base64url (43 characters). */
export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** `sha256$<hex>`, what `apiTokens` stores for the token. */
export function hashToken(token: string): string {
  if (!token) throw new TypeError('the token is empty');
  return `sha256$${tokenDigest(token)}`;
}

/** A keyed digest for in-memory lookups of secrets (sessions, verified passwords): the key lives only in this process. */
export function secretKey(): (value: string) => string {
  const key = randomBytes(32);
  return (value) => createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/** Constant-time equality of two strings of any length (compares their digests). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

const HASH_PASSWORD = 'celerity api hash-password --user <name>';
const HASH_TOKEN = 'celerity api hash-token';

function splitReadOnly(entry: string): { body: string; readOnly: boolean } {
  return entry.endsWith(':ro') ? { body: entry.slice(0, -3), readOnly: true } : { body: entry, readOnly: false };
}

function parseUser(entry: string, key: string): UserCredential {
  const colon = entry.indexOf(':');
  if (colon <= 0) {
    throw new ConfigurationError(key, colon < 0 ? '***' : entry.replace(/^:.*/, ':***'), `name:<password hash> or name:<password hash>:ro, with the hash printed by \`${HASH_PASSWORD}\``);
  }
  const name = entry.slice(0, colon);
  const { body, readOnly } = splitReadOnly(entry.slice(colon + 1));
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name) || name.trim() !== name) {
    throw new ConfigurationError(key, `${name}:***`, 'a user name without control characters or surrounding blanks');
  }
  if (!body.startsWith('scrypt$')) {
    throw new ConfigurationError(
      key,
      `${name}:***`,
      `name:<password hash>: the password of ${JSON.stringify(name)} is not hashed; store the line \`${HASH_PASSWORD.replace('<name>', name)}\` prints, never the password itself`,
    );
  }
  const password = parsePasswordHash(body);
  if (typeof password === 'string') throw new ConfigurationError(key, `${name}:scrypt$***`, `${password}, as printed by \`${HASH_PASSWORD}\``);
  return { name, readOnly, password };
}

function parseToken(entry: string, key: string): TokenCredential {
  const { body, readOnly } = splitReadOnly(entry);
  if (!body.startsWith('sha256$')) {
    throw new ConfigurationError(
      key,
      '***',
      `sha256$<64 hex digits> or sha256$<64 hex digits>:ro, the hash of a token and not the token itself: \`${HASH_TOKEN}\` creates a token and prints its hash, \`${HASH_TOKEN} --stdin\` hashes an existing one`,
    );
  }
  const hex = body.slice('sha256$'.length);
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigurationError(key, 'sha256$***', `sha256$ followed by 64 hex digits, as printed by \`${HASH_TOKEN}\``);
  return { digest: hex.toLowerCase(), readOnly };
}

/**
 * `apiUsers` (`name:<scrypt hash>[:ro]`) and `apiTokens` (`sha256$<hex>[:ro]`) parsed and checked. A plain-text
 * password or token, a weak or malformed hash, or a user named twice is a ConfigurationError naming the entry
 * (`apiUsers[1]`) and saying how to hash it; the secret itself is never repeated in the message.
 */
export function parseCredentials(conf: { apiUsers: readonly string[]; apiTokens: readonly string[] }): Credentials {
  const users = new Map<string, UserCredential>();
  conf.apiUsers.forEach((entry, i) => {
    const user = parseUser(entry, `apiUsers[${i}]`);
    if (users.has(user.name)) throw new ConfigurationError(`apiUsers[${i}]`, `${user.name}:***`, `each user name once (${JSON.stringify(user.name)} is listed twice)`);
    users.set(user.name, user);
  });
  const tokens = new Map<string, TokenCredential>();
  conf.apiTokens.forEach((entry, i) => {
    const token = parseToken(entry, `apiTokens[${i}]`);
    const same = tokens.get(token.digest);
    // The same token twice with different rights is ambiguous; the stricter one wins rather than failing a restart.
    tokens.set(token.digest, same ? { digest: token.digest, readOnly: same.readOnly || token.readOnly } : token);
  });
  return { users, tokens };
}
