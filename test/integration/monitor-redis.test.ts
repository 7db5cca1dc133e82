/** The monitor suite on Redis (database 8; runs use their own queues and node names). */
import { monitorSuite } from './monitor-suite.js';
import { pingRedis, requireService } from '../services.js';

const URL = 'redis://127.0.0.1:6379/8';

monitorSuite({
  label: 'Redis',
  ready: await requireService('Redis', () => pingRedis(URL)),
  urls: () => ({ broker: URL, backend: URL }),
});
