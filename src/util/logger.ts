/**
 * Structured logs with pino: JSON lines for machines (the default when stdout is not a terminal), or a readable
 * single line per event for people.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(options: { level: string; format: 'pretty' | 'json'; name?: string }): Logger {
  const base = { level: options.level, name: options.name };
  if (options.format === 'json') return pino(base);
  // sync: a worker that exits on a signal must not lose its last lines in an async buffer.
  const stream = pretty({ sync: true, colorize: process.stdout.isTTY, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss.l' });
  return pino(base, stream);
}
