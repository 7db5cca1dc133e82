/**
 * docker-compose.yml cannot be run here (no docker): this checks it parses as YAML and describes what
 * examples/README.md promises, with every app service running the built CLI on the example app.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// Installed as a dependency of the tooling, not declared: enough for a check of a file no code loads.
import { parse } from 'yaml';

const file = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));

describe('docker-compose.yml', () => {
  const doc = parse(readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, any>; volumes: Record<string, unknown> };

  it('has worker, beat, dashboard, Redis and RabbitMQ', () => {
    expect(Object.keys(doc.services).sort()).toEqual(['beat', 'dashboard', 'install', 'rabbitmq', 'redis', 'worker']);
    expect(doc.services.redis.image).toMatch(/^redis:/);
    expect(doc.services.rabbitmq.image).toMatch(/^rabbitmq:/);
    expect(Object.keys(doc.volumes)).toEqual(['node_modules']);
  });

  it('runs the example app from the bind mount on node:20, after the install, on both servers', () => {
    for (const name of ['worker', 'beat', 'dashboard']) {
      const s = doc.services[name];
      expect(s.image).toBe('node:20');
      expect(s.volumes).toContain('.:/app');
      expect(s.command.slice(0, 4)).toEqual(['node', 'dist/cli/main.js', name, '-A']);
      expect(s.command[4]).toBe('examples/crawl/tasks.ts');
      expect(s.environment.CELERITY_BROKER_URL).toMatch(/^amqp:\/\/guest:guest@rabbitmq:5672\//);
      expect(s.environment.CELERITY_RESULT_BACKEND).toBe('redis://redis:6379/1');
      expect(Object.keys(s.depends_on).sort()).toEqual(['install', 'rabbitmq', 'redis']);
    }
    expect(doc.services.worker.command).toContain('crawl,validation,maintenance');
    expect(doc.services.dashboard.ports).toEqual(['5555:5555']);
  });
});
