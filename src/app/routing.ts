/**
 * Task routing: `taskRoutes` maps glob patterns over task names to a queue (and optionally a priority), as Celery's
 * `task_routes` dict does. Exact names win over globs; among globs the first declared wins (object key order).
 */
import type { TaskRoute } from './config.js';

export interface Route {
  queue: string;
  priority?: number;
}

export class Router {
  private readonly exact = new Map<string, Route>();
  private readonly globs: { re: RegExp; route: Route }[] = [];
  private readonly cache = new Map<string, Route>();

  constructor(
    routes: Readonly<Record<string, TaskRoute>>,
    private readonly defaultQueue: string,
  ) {
    for (const [pattern, r] of Object.entries(routes)) {
      const route: Route = typeof r === 'string' ? { queue: r } : { ...r };
      if (/[*?]/.test(pattern)) this.globs.push({ re: globToRegExp(pattern), route });
      else this.exact.set(pattern, route);
    }
  }

  /** The route of a task by name; the default queue when nothing matches. */
  route(taskName: string): Route {
    let r = this.cache.get(taskName);
    if (!r) {
      r = this.exact.get(taskName) ?? this.globs.find((g) => g.re.test(taskName))?.route ?? { queue: this.defaultQueue };
      this.cache.set(taskName, r);
    }
    return r;
  }

  /** Every queue named by a route, plus the default queue: what a worker consumes when `-Q` is not given. */
  queues(): string[] {
    const all = new Set<string>([this.defaultQueue]);
    for (const r of this.exact.values()) all.add(r.queue);
    for (const g of this.globs) all.add(g.route.queue);
    return [...all];
  }
}

/** `*` matches any run of characters (dots included, as Celery's fnmatch does); `?` one character. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
