/**
 * Structured logs with pino: JSON lines for machines (the default when stdout is not a terminal), or a readable
 * single line per event for people.
 *
 * Every line carries `hostname` once. pino would write the machine's name among its base fields and then the
 * caller's own `hostname` again (the worker logs its node name, `celerity@host`, under that key), giving a line
 * with the key twice, which JSON readers resolve differently. So the machine's name is a default merged under each
 * line's fields instead: a caller's `hostname` replaces it.
 */
import os from 'node:os';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(options: { level: string; format: 'pretty' | 'json'; name?: string }): Logger {
  const hostname = os.hostname();
  const base = {
    level: options.level,
    name: options.name,
    base: { pid: process.pid },
    // A new object per line: pino merges the line's own fields into it (they win). A child logger bound to its own
    // hostname already writes one.
    mixin: (_fields: object, _level: number, logger: Logger) => (boundHostname(logger) ? {} : { hostname }),
  };
  if (options.format === 'json') return pino(base);
  // sync: a worker that exits on a signal must not lose its last lines in an async buffer.
  const stream = pretty({ sync: true, colorize: process.stdout.isTTY, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss.l' });
  return pino(base, stream);
}

/**
 * Does this logger (a child) write a `hostname` of its own? Its bindings are kept as JSON text (pino's `bindings()`
 * leaves `hostname` out, so the text is read), parsed once per logger and again only when they change.
 */
const seen = new WeakMap<Logger, { text: string; has: boolean }>();

function boundHostname(logger: Logger): boolean {
  const text = (logger as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym];
  if (typeof text !== 'string' || !text.includes('"hostname"')) return false;
  let known = seen.get(logger);
  if (known?.text !== text) {
    let has = false;
    try {
      has = Object.hasOwn(JSON.parse(`{${text.slice(1)}}`) as object, 'hostname');
    } catch {
      // Not JSON we can read: leave the default in.
    }
    known = { text, has };
    seen.set(logger, known);
  }
  return known.has;
}
