/**
 * What a worker tells about itself for `inspect conf`, `inspect report`, `inspect memsample` and `memdump`, in the
 * shapes Celery 5.2 replies with (celery/worker/control.py, celery/app/utils.py `bugreport`, celery/utils/debug.py),
 * so Celery's tools and Flower read them. Memory figures are this process's resident set and V8 heap (Celery's come
 * from psutil's RSS).
 */
import os from 'node:os';
import { CELERY_NAMES, defaults, type CelerityConfig } from '../app/config.js';
import { maskPassword } from '../util/mask.js';
import { VERSION } from '../util/version.js';

/** Settings holding a URL whose password must not leave the worker. */
const URL_SETTINGS = new Set<keyof CelerityConfig>(['broker', 'backend']);

/** snake_case of a setting with no Celery name (`etaParkThreshold` -> `eta_park_threshold`). */
function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * The configuration as `celery inspect conf` shows it: Celery's setting names (dotted ones nested, as
 * `broker_transport_options.visibility_timeout`), Celerity-only settings in snake_case; only the settings that
 * differ from the defaults unless `withDefaults`. URLs without their password.
 */
export function confTable(conf: CelerityConfig, withDefaults: boolean): Record<string, unknown> {
  const base = defaults();
  const celeryName = new Map<string, string>(Object.entries(CELERY_NAMES).map(([celery, ours]) => [ours, celery]));
  const table: Record<string, unknown> = {};
  for (const key of Object.keys(conf) as (keyof CelerityConfig)[]) {
    let value: unknown = conf[key];
    if (!withDefaults && JSON.stringify(value) === JSON.stringify(base[key])) continue;
    if (URL_SETTINGS.has(key) && typeof value === 'string') value = maskPassword(value);
    const name = celeryName.get(key) ?? snake(key);
    const [head, ...rest] = name.split('.');
    if (rest.length === 0) {
      table[name] = value ?? null;
      continue;
    }
    const nested = (table[head!] ??= {}) as Record<string, unknown>;
    nested[rest.join('.')] = value ?? null;
  }
  return table;
}

/** `inspect report`: Celery's bug-report text, with this worker's software, platform and transports. */
export function bugReport(conf: CelerityConfig, appName: string): string {
  const scheme = (url: string) => /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? 'unknown';
  return [
    '',
    `software -> celerity:${VERSION} node:${process.versions.node}`,
    `            v8:${process.versions.v8}`,
    `platform -> system:${os.type()} arch:${os.arch()}`,
    `            kernel version:${os.release()} imp:Node.js`,
    `loader   -> ${appName}`,
    `settings -> transport:${scheme(conf.broker)} results:${scheme(conf.backend)}`,
    '',
    Object.entries(confTable(conf, false))
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
      .join('\n'),
    '',
  ].join('\n');
}

const UNITS: [number, string][] = [
  [2 ** 40, 'TB'],
  [2 ** 30, 'GB'],
  [2 ** 20, 'MB'],
  [2 ** 10, 'KB'],
  [0, 'b'],
];

/** Celery's `humanbytes`: 1 decimal unit, five significant digits (`52.346MB`). */
export function humanBytes(n: number): string {
  const [div, unit] = UNITS.find(([d]) => n >= d)!;
  const value = div ? n / div : n;
  return `${Number.isInteger(value) ? value : Number(value.toPrecision(5))}${unit}`;
}

/** `memsample` / `memdump`: RSS samples taken on request, reported and cleared by the next dump. */
export class MemorySamples {
  private samples: string[] = [];

  sample(): string {
    const rss = humanBytes(process.memoryUsage.rss());
    this.samples.push(rss);
    return rss;
  }

  /** Celery's memdump text: up to `count` samples spread over those taken, then the RSS now and the V8 heap. */
  dump(count = 10): string {
    const taken = this.samples;
    this.samples = [];
    const step = Math.max(1, Math.floor(taken.length / Math.max(1, count)));
    const shown = taken.length <= count ? taken : taken.filter((_, i) => i % step === 0).slice(0, count);
    const heap = process.memoryUsage();
    const lines = shown.length ? ['- rss (sample):', ...shown.map((m) => `-    > ${m},`)] : [];
    lines.push(`- rss (end): ${humanBytes(process.memoryUsage.rss())}.`);
    lines.push(`- heap (v8): ${humanBytes(heap.heapUsed)} used of ${humanBytes(heap.heapTotal)}.`);
    return `${lines.join('\n')}\n`;
  }
}
