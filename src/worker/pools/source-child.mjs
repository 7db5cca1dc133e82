// Runs child-main.ts when the pool itself runs from source (tests, `tsx`): Node 20 cannot load .ts files, and a worker
// thread does not see `--import` hooks, so the child program is imported through tsx's API instead. The built
// package starts dist/worker/pools/child-main.js directly and never reads this file.
import { URL } from 'node:url';
import { tsImport } from 'tsx/esm/api';

await tsImport(new URL('./child-main.ts', import.meta.url).href, import.meta.url);
