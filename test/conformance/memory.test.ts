import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory/index.js';
import { MemoryBackend } from '../../src/backend/memory/index.js';
import { createBackend, createBroker } from '../../src/transports/index.js';
import { ConfigurationError } from '../../src/errors/index.js';
import { brokerConformance } from './broker-suite.js';
import { backendConformance } from './backend-suite.js';

/** Real time plus an offset: tests jump over timeouts, and real-time waits still see the clock move. */
function offsetClock() {
  let offset = 0;
  return { now: () => Date.now() + offset, advanceTime: (ms: number) => void (offset += ms) };
}

brokerConformance('memory', async () => {
  const clock = offsetClock();
  const broker = new MemoryBroker({ visibilityTimeout: 1, now: clock.now });
  await broker.connect();
  return { broker, cleanup: () => broker.close(), advanceTime: clock.advanceTime };
});

backendConformance('memory', async () => {
  const clock = offsetClock();
  const backend = new MemoryBackend({ resultExpires: 86_400, now: clock.now });
  await backend.connect();
  return { backend, cleanup: () => backend.close(), advanceTime: clock.advanceTime };
});

describe('adapter URLs', () => {
  it('maps memory:// to the in-memory adapters', async () => {
    expect(await createBroker('memory://', { visibilityTimeout: 10 })).toBeInstanceOf(MemoryBroker);
    expect(await createBackend('memory://', { resultExpires: 10 })).toBeInstanceOf(MemoryBackend);
  });

  it('rejects unknown and planned schemes with one line listing the supported ones', async () => {
    for (const url of ['sqs://guest@queue', 'nonsense', 'ftp://x']) {
      const err = await createBroker(url, { visibilityTimeout: 10 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigurationError);
      expect((err as Error).message).toMatch(/sqlite:\/\/.*memory:\/\//);
      expect((err as Error).message).not.toContain('\n');
    }
    const err = await createBackend('mongodb://db/results', { resultExpires: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toContain('postgresql://');
  });
});
