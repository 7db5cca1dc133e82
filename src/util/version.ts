import { readFileSync } from 'node:fs';

/** Read once from package.json, which ships with the package. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
