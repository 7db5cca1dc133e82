import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { settingsTable } from '../../scripts/config-docs.js';

describe('docs', () => {
  it('docs/configuration.md lists every setting as the config module defines it', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const generated = /<!-- generated[^\n]*\n([\s\S]*?)\n<!-- end generated -->/.exec(doc)?.[1];
    expect(generated?.trim()).toBe(settingsTable().trim());
  });
});
