/**
 * A RabbitMQ node of a test's own, beside the machine's (same installation, its own name, port, data and config),
 * for tests that stop and start the broker or change its settings: doing that to the shared node would break every
 * other AMQP test running at the same time. Needs root (the server runs as the rabbitmq user) and rabbitmq-server.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { userInfo } from 'node:os';

export interface RabbitNode {
  url: string;
  port: number;
  /** rabbitmqctl against this node; throws with its output when it fails. */
  ctl(...args: string[]): string;
  stop(): Promise<void>;
}

const SERVER = '/usr/sbin/rabbitmq-server';

/** Why a private node cannot run here, or null when it can. */
export function rabbitNodeUnavailable(): string | null {
  if (!existsSync(SERVER)) return `${SERVER} is not installed`;
  if (userInfo().uid !== 0) return 'a private RabbitMQ node needs root (it runs as the rabbitmq user)';
  const id = spawnSync('id', ['-u', 'rabbitmq'], { encoding: 'utf8' });
  if (id.status !== 0) return 'there is no rabbitmq user';
  return null;
}

/**
 * The service check of a test that runs a private node and keeps its results in Redis at `redisUrl`: ok, or why
 * not (a failure under CI, as every service check).
 */
export async function requirePrivateRabbit(redisUrl: string): Promise<{ ok: boolean; reason: string }> {
  const { pingRedis, requireService } = await import('./services.js');
  return requireService('a private RabbitMQ node, and Redis', async () => {
    const why = rabbitNodeUnavailable();
    if (why) throw new Error(why);
    await pingRedis(redisUrl);
  });
}

/** Starts a node listening on 127.0.0.1:`port` with `config` lines added to rabbitmq.conf. */
export function startRabbitNode(name: string, port: number, config: string[] = []): RabbitNode {
  const dir = mkdtempSync(join(tmpdir(), `celerity-rabbit-${name}-`));
  const node = `${name}@localhost`;
  mkdirSync(join(dir, 'log'));
  mkdirSync(join(dir, 'mnesia'));
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), [`listeners.tcp.local = 127.0.0.1:${port}`, ...config, ''].join('\n'));
  const uid = Number(spawnSync('id', ['-u', 'rabbitmq'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'rabbitmq'], { encoding: 'utf8' }).stdout.trim());
  for (const p of [dir, join(dir, 'log'), join(dir, 'mnesia'), join(dir, 'enabled_plugins'), join(dir, 'rabbitmq.conf')]) chownSync(p, uid, gid);
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(port + 20_000),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  const ctl = (...args: string[]): string => {
    const r = spawnSync('rabbitmqctl', ['-n', node, ...args], { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const started = spawnSync(SERVER, ['-detached'], { encoding: 'utf8', env });
  if (started.status !== 0) throw new Error(`rabbitmq-server failed to start: ${started.stderr}`);
  ctl('wait', join(dir, 'pid'), '--timeout', '60');
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}//`,
    port,
    ctl,
    async stop() {
      spawnSync('rabbitmqctl', ['-n', node, 'stop'], { encoding: 'utf8', env });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
