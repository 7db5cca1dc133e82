/**
 * The in-memory state behind the API's auth: browser sessions, failed-login counts per client and password checks.
 * Each is bounded, so a flood of logins or addresses cannot grow the process without limit; all of it is lost on a
 * restart, which only means logging in again.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { SCRYPT_DEFAULTS, secretKey, verifyPassword, type PasswordHash, type UserCredential } from './credentials.js';

export interface Caller {
  /** The user name; `token:<first 8 hex digits of its hash>` for a token; `local` on loopback without credentials. */
  name: string;
  readOnly: boolean;
  via: 'basic' | 'bearer' | 'session' | 'loopback';
}

/** Sessions by a keyed digest of their id (the id itself is kept nowhere), each expiring a fixed time after login. */
export class Sessions {
  private readonly byKey = new Map<string, { caller: Caller; csrfToken: string; expires: number }>();
  private readonly key = secretKey();

  constructor(
    private readonly ttl: number,
    private readonly now: () => number,
    private readonly max = 10_000,
  ) {}

  create(caller: Caller): { id: string; csrfToken: string } {
    if (this.byKey.size >= this.max) this.prune();
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    this.byKey.set(this.key(id), { caller, csrfToken, expires: this.now() + this.ttl });
    return { id, csrfToken };
  }

  get(id: string): { caller: Caller; csrfToken: string } | undefined {
    const k = this.key(id);
    const session = this.byKey.get(k);
    if (session && session.expires <= this.now()) {
      this.byKey.delete(k);
      return undefined;
    }
    return session;
  }

  delete(id: string): void {
    this.byKey.delete(this.key(id));
  }

  /** Expired sessions out; when all are live, the oldest logins give way (insertion order is login order). */
  private prune(): void {
    const now = this.now();
    for (const [k, s] of this.byKey) if (s.expires <= now) this.byKey.delete(k);
    for (const k of this.byKey.keys()) {
      if (this.byKey.size < this.max) break;
      this.byKey.delete(k);
    }
  }
}

/**
 * Who is counted as one client: an IPv4 address, or an IPv6 /64, since one host commonly holds a whole /64 and
 * could otherwise take a fresh address for every guess.
 */
export function clientKey(ip: string): string {
  if (isIP(ip) !== 6 || /^::ffff:\d/i.test(ip)) return ip.replace(/^::ffff:/i, '');
  const canonical = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const [head, tail] = canonical.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/**
 * Password attempts per client in a fixed one-minute window. An attempt counts when it starts and is taken back
 * when it succeeds, so a burst of parallel guesses is stopped as surely as a sequence of them.
 */
export class LoginLimiter {
  private readonly byClient = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number,
    private readonly window = 60_000,
    private readonly max = 10_000,
  ) {}

  /** Seconds until the client may try again, or 0 after counting this attempt. */
  attempt(client: string): number {
    const now = this.now();
    let entry = this.byClient.get(client);
    if (!entry || now - entry.since >= this.window) {
      if (this.byClient.size >= this.max) this.prune(now);
      entry = { count: 0, since: now };
      this.byClient.set(client, entry);
    }
    if (entry.count >= this.limit) return Math.max(1, Math.ceil((entry.since + this.window - now) / 1000));
    entry.count += 1;
    return 0;
  }

  /** Takes back an attempt that succeeded or was never made. */
  release(client: string): void {
    const entry = this.byClient.get(client);
    if (entry && entry.count > 0) entry.count -= 1;
  }

  private prune(now: number): void {
    for (const [c, e] of this.byClient) if (now - e.since >= this.window) this.byClient.delete(c);
    for (const c of this.byClient.keys()) {
      if (this.byClient.size < this.max) break;
      this.byClient.delete(c);
    }
  }
}

/**
 * Password checks. Scrypt costs tens of milliseconds and 32 MiB by design, and runs on libuv's few threads, so:
 * a successful check is remembered for a few minutes under a keyed digest of name and password (a script or a page
 * sending Basic on every request pays it once); the same name and password checked by parallel requests share one
 * check; only a few distinct checks run at once, more are refused rather than queued behind them; and an unknown
 * name is checked against a dummy hash, so its answer takes as long as a wrong password's.
 */
export class Passwords {
  private readonly verified = new Map<string, { user: UserCredential; until: number }>();
  private readonly running = new Map<string, Promise<UserCredential | undefined>>();
  private readonly key = secretKey();
  private readonly dummy: PasswordHash;

  constructor(
    private readonly users: ReadonlyMap<string, UserCredential>,
    private readonly now: () => number,
    private readonly maxRunning = 8,
    private readonly remember = 5 * 60_000,
    private readonly max = 1_000,
  ) {
    // The cost of a configured user's hash, so an unknown name costs what a known one does.
    const like = users.values().next().value?.password ?? { ...SCRYPT_DEFAULTS, salt: randomBytes(16), hash: randomBytes(32) };
    this.dummy = { N: like.N, r: like.r, p: like.p, salt: randomBytes(like.salt.length), hash: randomBytes(like.hash.length) };
  }

  /** The digest that names this name and password in the maps below. */
  ticket(name: string, password: string): string {
    return this.key(`${name}\u0000${password}`);
  }

  /** The user, when this name and password were verified in the last few minutes. */
  remembered(ticket: string): UserCredential | undefined {
    const hit = this.verified.get(ticket);
    return hit && hit.until > this.now() ? hit.user : undefined;
  }

  /** The check of this very name and password that is already running. */
  underWay(ticket: string): Promise<UserCredential | undefined> | undefined {
    return this.running.get(ticket);
  }

  /** Starts a check; undefined when too many are running already. */
  start(ticket: string, name: string, password: string): Promise<UserCredential | undefined> | undefined {
    if (this.running.size >= this.maxRunning) return undefined;
    const check = this.verify(ticket, name, password).finally(() => this.running.delete(ticket));
    this.running.set(ticket, check);
    return check;
  }

  private async verify(ticket: string, name: string, password: string): Promise<UserCredential | undefined> {
    const user = this.users.get(name);
    if (!user) {
      await verifyPassword(password, this.dummy);
      return undefined;
    }
    if (!(await verifyPassword(password, user.password))) return undefined;
    if (this.verified.size >= this.max) this.verified.clear();
    this.verified.set(ticket, { user, until: this.now() + this.remember });
    return user;
  }
}
