/**
 * Prints the settings table of docs/configuration.md from the config module, so the reference cannot drift:
 * `npx tsx scripts/config-docs.ts` regenerates it, and a unit test compares it with the file.
 */
import { CELERY_NAMES, describeSettings } from '../src/app/config.js';

export function settingsTable(): string {
  const celeryOf = new Map(Object.entries(CELERY_NAMES).map(([celery, ours]) => [ours as string, celery]));
  const rows = describeSettings().map((s) => {
    const def = s.key === 'hostname' ? '`celerity@<host>`' : s.key === 'concurrency' ? 'CPU count' : s.key === 'logFormat' ? '`pretty` on a terminal, else `json`' : `\`${JSON.stringify(s.default) ?? 'unset'}\``;
    return `| \`${s.key}\` | \`${s.env}\` | ${celeryOf.has(s.key) ? `\`${celeryOf.get(s.key)}\`` : '—'} | ${def} | ${s.expected} |`;
  });
  return ['| setting | environment | Celery name | default | expects |', '|---|---|---|---|---|', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${settingsTable()}\n`);
