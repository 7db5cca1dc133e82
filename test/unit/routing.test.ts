import { describe, expect, it } from 'vitest';
import { Router } from '../../src/app/routing.js';

describe('routing', () => {
  const router = new Router(
    {
      'media.faces.*': { queue: 'face_detection' },
      'media.objects.*': 'object_detection',
      'crawl.fetch': { queue: 'crawl', priority: 9 },
      'crawl.*': { queue: 'crawl_misc' },
      'maint.?leanup': { queue: 'maintenance', priority: 1 },
    },
    'celery',
  );

  it('matches globs, exact names before globs, and falls back to the default queue', () => {
    expect(router.route('media.faces.detect')).toEqual({ queue: 'face_detection' });
    expect(router.route('media.objects.detect')).toEqual({ queue: 'object_detection' });
    expect(router.route('crawl.fetch')).toEqual({ queue: 'crawl', priority: 9 });
    expect(router.route('crawl.parse')).toEqual({ queue: 'crawl_misc' });
    expect(router.route('maint.cleanup')).toEqual({ queue: 'maintenance', priority: 1 });
    expect(router.route('example.add')).toEqual({ queue: 'celery' });
  });

  it('treats dots literally and lists every routed queue', () => {
    expect(router.route('mediaXfaces.detect')).toEqual({ queue: 'celery' });
    expect(router.queues().sort()).toEqual(['celery', 'crawl', 'crawl_misc', 'face_detection', 'maintenance', 'object_detection']);
  });
});
