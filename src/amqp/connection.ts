/**
 * One AMQP connection that comes back by itself: the first open tries every broker of the URL once and fails with
 * one clear line; after that, a lost connection is reopened with backoff (100 ms doubling to 5 s, with jitter),
 * trying the brokers in turn (kombu's failover round-robin), for as long as the owner keeps it open. Each
 * successful open is a new generation: channels, consumers and delivery tags of an older one are gone, and their
 * users open new ones from `channel()`.
 *
 * amqplib's own recovery reopens one URL only, so failover across several brokers is done here; amqplib does the
 * protocol, heartbeats and TLS.
 */
import { connect, type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { ConnectionError } from '../errors/index.js';
import type { AmqpEndpoint } from './url.js';

export interface AmqpConnectionOptions {
  /** The first answer (connection.open-ok) within this many ms, per broker tried. */
  connectMs: number;
  /** Shown by the server (`rabbitmqctl list_connections client_properties`). */
  connectionName: string;
  /** Told when a connection is lost and when it is back; the owner logs it. */
  onLost?: (err: Error) => void;
  onBack?: (generation: number) => void;
}

const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 5_000;

export class AmqpConnection {
  /** Increases with every open connection; 0 before the first. */
  generation = 0;
  private model: ChannelModel | null = null;
  private opening: Promise<ChannelModel> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private next = 0;
  private attempts = 0;
  private closed = false;
  private lastError: Error | null = null;
  private readonly waiters = new Set<() => void>();
  /** What `once` did on the current connection, by key. */
  private done = new Map<string, Promise<void>>();
  private doneGeneration = 0;

  constructor(
    readonly endpoints: readonly AmqpEndpoint[],
    private readonly options: AmqpConnectionOptions,
  ) {}

  /** `host:port[/vhost]` of every broker, for messages. */
  get target(): string {
    return this.endpoints.map((e) => e.target).join(', ');
  }

  /** Opens the first connection: every broker is tried once; ConnectionError naming them all when none answers. */
  async open(): Promise<void> {
    if (this.model) return;
    if (this.closed) throw new ConnectionError('the AMQP connection is closed');
    this.opening ??= this.tryAll().finally(() => (this.opening = null));
    await this.opening;
  }

  /**
   * The open connection, waiting up to `waitMs` for one being reopened; ConnectionError when none comes (the
   * caller retries later: reopening goes on meanwhile).
   */
  async current(waitMs: number): Promise<ChannelModel> {
    if (this.model) return this.model;
    if (this.closed) throw new ConnectionError('the AMQP connection is closed');
    if (this.generation === 0) {
      await this.open();
      return this.model!;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.waiters.add(done);
    });
    if (this.model) return this.model;
    throw new ConnectionError(`cannot reach RabbitMQ at ${this.target}: ${this.lastError?.message ?? 'reconnecting'}`);
  }

  async channel(waitMs: number): Promise<Channel> {
    return (await this.current(waitMs)).createChannel();
  }

  async confirmChannel(waitMs: number): Promise<ConfirmChannel> {
    return (await this.current(waitMs)).createConfirmChannel();
  }

  /**
   * Runs `fn` on a channel of its own, closed after: a declaration the server refuses (PRECONDITION_FAILED) or a
   * queue that is not there (NOT_FOUND) closes that channel, not one shared by publishers or consumers.
   */
  async withChannel<T>(fn: (ch: Channel) => Promise<T>, waitMs = this.options.connectMs): Promise<T> {
    return use(await this.channel(waitMs), fn);
  }

  /** As withChannel, on a channel with publisher confirms. */
  async withConfirmChannel<T>(fn: (ch: ConfirmChannel) => Promise<T>, waitMs = this.options.connectMs): Promise<T> {
    return use(await this.confirmChannel(waitMs), fn);
  }

  /**
   * Runs `make` (a declaration) once per connection for `key`: again after a reconnect (the server may have lost
   * what is not durable) or after it failed, never twice at once (kombu's maybe_declare cache).
   */
  once(key: string, make: () => Promise<void>): Promise<void> {
    if (this.doneGeneration !== this.generation) {
      this.done = new Map();
      this.doneGeneration = this.generation;
    }
    let p = this.done.get(key);
    if (!p) {
      const made = make();
      made.catch(() => this.done.get(key) === made && this.done.delete(key));
      this.done.set(key, made);
      p = made;
    }
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    for (const w of [...this.waiters]) w();
    const model = this.model ?? (await this.opening?.catch(() => null));
    this.model = null;
    await model?.close().catch(() => undefined);
  }

  private async tryAll(): Promise<ChannelModel> {
    const reasons: string[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const endpoint = this.endpoints[(this.next + i) % this.endpoints.length]!;
      try {
        const model = await this.openOne(endpoint);
        this.next = (this.next + i) % this.endpoints.length;
        this.adopt(model);
        return model;
      } catch (err) {
        reasons.push(`${endpoint.target}: ${reasonOf(err)}`);
      }
    }
    const err = new ConnectionError(`cannot reach RabbitMQ at ${reasons.join('; ')}`);
    this.lastError = err;
    throw err;
  }

  private async openOne(e: AmqpEndpoint): Promise<ChannelModel> {
    const connectMs = e.connectTimeout !== undefined ? e.connectTimeout * 1000 : this.options.connectMs;
    const pending = connect(
      {
        protocol: e.protocol,
        hostname: e.hostname,
        port: e.port,
        username: e.username,
        password: e.password,
        vhost: e.vhost,
        heartbeat: e.heartbeat,
        ...(e.frameMax ? { frameMax: e.frameMax } : {}),
      },
      { ...e.tls, timeout: connectMs, clientProperties: { connection_name: this.options.connectionName } },
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      // A server that accepts the socket but never finishes the handshake: amqplib's socket timeout covers the TCP
      // connect only.
      timer = setTimeout(() => reject(new Error(`no answer within ${connectMs} ms (brokerConnectionTimeout)`)), connectMs);
    });
    try {
      return await Promise.race([pending, late]);
    } catch (err) {
      void pending.then((m) => m.close()).catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private adopt(model: ChannelModel): void {
    this.model = model;
    watchEnd(model);
    this.generation++;
    this.attempts = 0;
    this.lastError = null;
    // amqplib emits 'error' before 'close' on a connection the server closed; the close does the work.
    model.on('error', () => undefined);
    model.on('close', (err?: Error) => {
      if (this.model !== model) return;
      this.model = null;
      if (this.closed) return;
      const why = err ?? new Error('connection closed');
      this.lastError = why;
      this.options.onLost?.(why);
      this.schedule();
    });
    for (const w of [...this.waiters]) w();
  }

  private schedule(): void {
    if (this.closed || this.retry) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.attempts++);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.closed) return;
      this.next = (this.next + 1) % this.endpoints.length;
      this.opening ??= this.tryAll().finally(() => (this.opening = null));
      this.opening.then(
        () => this.options.onBack?.(this.generation),
        () => this.schedule(),
      );
    }, delay);
  }
}

/** For each connection this module opened, a promise settled when it closes, for whatever reason. */
const ends = new WeakMap<object, Promise<void>>();

function watchEnd(model: ChannelModel): void {
  const connection = (model as unknown as { connection: object }).connection;
  ends.set(connection, new Promise((resolve) => model.once('close', () => resolve())));
}

/**
 * Closes `ch` and waits for the server to confirm, so what it held unacked (letters being scanned) is back in its
 * queue before the next operation; the wait also ends when the connection closes, because amqplib never settles a
 * channel.close sent on a connection that is closing.
 */
export async function closeChannel(ch: Channel): Promise<void> {
  const end = ends.get((ch as unknown as { connection: object }).connection);
  await Promise.race([ch.close().catch(() => undefined), ...(end ? [end] : [])]);
}

async function use<C extends Channel, T>(ch: C, fn: (ch: C) => Promise<T>): Promise<T> {
  ch.on('error', () => undefined);
  try {
    return await fn(ch);
  } finally {
    await closeChannel(ch);
  }
}

/**
 * A long-lived channel (a publisher's, a consumer's) opened on first use and opened again on the next use after it
 * closed (a channel error, a lost connection); `setup` runs on each new one before it is handed out.
 */
export class ChannelSlot<C extends Channel> {
  private current: Promise<C> | null = null;

  /** `open(waitMs)`: a new channel, waiting up to `waitMs` for a connection being reopened. */
  constructor(
    private readonly open: (waitMs: number) => Promise<C>,
    private readonly setup?: (ch: C) => Promise<void>,
  ) {}

  get(waitMs = 4_000): Promise<C> {
    if (this.current) return this.current;
    const made = (async () => {
      const ch = await this.open(waitMs);
      ch.on('error', () => undefined);
      ch.on('close', () => {
        if (this.current === made) this.current = null;
      });
      await this.setup?.(ch);
      return ch;
    })();
    made.catch(() => this.current === made && (this.current = null));
    this.current = made;
    return made;
  }
}

/** The useful part of a connect error: `ECONNREFUSED`, `ACCESS_REFUSED - Login was refused ...`, a timeout. */
function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  if (code && /^E[A-Z]+$/.test(code)) return code;
  return err.message.split('\n')[0]!;
}
