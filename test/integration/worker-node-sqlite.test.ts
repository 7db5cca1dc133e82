/**
 * A worker on the embedded SQLite store is a Celery node too: another process on the same file pings and inspects
 * it, receives its task events, and a worker started later takes over its revoked ids (mingle), all through the
 * file's mailbox.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity, ConfigurationError, ControlClient, EventReceiver } from '../../src/index.js';
import type { ReceivedEvent } from '../../src/index.js';
import { deferred, tempDir } from '../helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('a worker on the embedded store as a node', () => {
  it('a worker on the embedded SQLite store is a node too: ping, inspect and events through the file', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const url = `sqlite://${path.join(tmp.dir, 'c.db')}`;
    const app = new Celerity('sqlite-node', { broker: url, backend: url, loglevel: 'silent' }, {});
    app.task('t.add', (x: number, y: number) => x + y);
    const hostname = `sqlite-${randomUUID().slice(0, 8)}@test`;
    const worker = app.worker({ concurrency: 1, hostname, node: { taskEvents: true, heartbeatInterval: 0.2 } });
    await worker.start();
    // A second app on the same file, as `celerity inspect` in another process would open it.
    const other = new Celerity('sqlite-client', { broker: url, backend: url, loglevel: 'silent' }, {});
    const mailbox = (await other.broker()).mailbox!();
    const client = new ControlClient({ mailbox });
    const receiver = new EventReceiver({ mailbox, wakeup: false });
    const events: ReceivedEvent[] = [];
    const succeeded = deferred();
    receiver.on((e) => {
      events.push(e);
      if (e.type === 'task-succeeded') succeeded.resolve();
    });
    await receiver.start();
    cleanups.push(async () => {
      await receiver.close();
      await client.close();
      await mailbox.close();
      await other.close();
      await worker.stop();
      await app.close();
    });
    expect(await client.ping()).toEqual({ [hostname]: { ok: 'pong' } });
    const registered = await client.inspect<string[]>('registered');
    expect(registered[hostname]).toContain('t.add');
    expect(await (await other.sendTask('t.add', [1, 2])).get({ timeout: 10_000 })).toBe(3);
    await succeeded.promise;
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['task-received', 'task-started', 'task-succeeded']));
    expect(events.every((e) => e.hostname === hostname)).toBe(true);
    // Mingle through the file: a revoke told to this node over remote control only (not stored in the broker)
    // reaches a worker started afterwards, which asks the running nodes for their revoked ids.
    expect(await client.revoke('mingled-id', { reply: true, destination: [hostname] })).toEqual({ [hostname]: { ok: 'tasks mingled-id flagged as revoked' } });
    const later = `${hostname}-later`;
    const second = app.worker({ concurrency: 1, hostname: later });
    await second.start();
    cleanups.push(() => second.stop());
    expect((await client.inspect<string[]>('revoked', {}, { destination: [later] }))[later]).toContain('mingled-id');
  });

  it('a control client and an event receiver given only the sqlite:// URL reach the node, as they would on Redis', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const url = `sqlite://${path.join(tmp.dir, 'c.db')}`;
    const app = new Celerity('sqlite-url', { broker: url, backend: url, loglevel: 'silent' }, {});
    app.task('t.echo', (x: unknown) => x);
    const hostname = `url-${randomUUID().slice(0, 8)}@test`;
    const worker = app.worker({ concurrency: 1, hostname, node: { taskEvents: true } });
    await worker.start();
    const client = new ControlClient({ url });
    const receiver = new EventReceiver({ url, wakeup: false });
    const succeeded = deferred<ReceivedEvent>();
    receiver.on((e) => {
      if (e.type === 'task-succeeded') succeeded.resolve(e);
    });
    await receiver.start();
    cleanups.push(async () => {
      await receiver.close();
      await client.close();
      await worker.stop();
      await app.close();
    });
    expect(await client.ping()).toEqual({ [hostname]: { ok: 'pong' } });
    const sent = await app.sendTask('t.echo', ['hi']);
    expect(await sent.get({ timeout: 10_000 })).toBe('hi');
    expect(await succeeded.promise).toMatchObject({ uuid: sent.id, hostname });
  });

  it('a URL whose transport has no mailbox is refused at construction, naming the setting', () => {
    expect(() => new ControlClient({ url: 'postgresql://127.0.0.1/test' })).toThrow(ConfigurationError);
    expect(() => new EventReceiver({ url: 'ftp://x' })).toThrow(/invalid setting broker="ftp:\/\/x": expected a broker URL starting with sqlite:\/\//);
  });
});
