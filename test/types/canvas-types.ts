/**
 * Compile-time checks for canvas, run by `npm run typecheck` (never executed): a step must take what the step
 * before returns, and results are typed from the last step. Each @ts-expect-error line must fail to compile.
 */
import { Celerity, chain, chord, group, type AsyncResult, type GroupResult } from '../../src/index.js';

const app = new Celerity('types', { broker: 'memory://', backend: 'memory://' });
interface Page {
  url: string;
  html: string;
}
const crawl = app.task('crawl', async (url: string): Promise<Page> => ({ url, html: '' }));
const validate = app.task('validate', (page: Page, strict: boolean) => page.html.length > 0 || !strict);
const count = app.task('count', (flags: boolean[]) => flags.filter(Boolean).length);
const add = app.task('add', (x: number, y: number) => x + y);
const tsum = app.task('tsum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));

export async function checks(): Promise<void> {
  // crawl's result flows into validate's first parameter; `s(true)` binds the second.
  const r: AsyncResult<boolean> = await chain(crawl.s('https://example.com'), validate.s(true)).applyAsync();
  const ok: boolean = await r.get();
  // @ts-expect-error validate needs a Page first, and add returns a number
  chain(add.s(1, 2), validate.s(true));
  // @ts-expect-error too many bound arguments: add then has no room for the previous result
  chain(add.s(1, 2), add.s(3, 4));
  // @ts-expect-error s() binds trailing arguments of the right type only
  validate.s('yes');
  // pipe is typed the same way
  const piped: AsyncResult<number> = await add.s(1, 1).pipe(add.s(2)).pipe(add.s(3)).applyAsync();
  // an immutable signature takes anything in front
  await chain(crawl.s('u'), add.si(1, 2)).applyAsync();
  // a group's result is the tuple of its members' results
  const g: GroupResult<[number, Page]> = await group(add.s(1, 2), crawl.s('u')).applyAsync();
  const [n, page]: [number, Page] = await g.get();
  // the chord body takes the header's results as one list
  const c: AsyncResult<number> = await chord([add.s(1, 1), add.s(2, 2)], tsum.s()).applyAsync();
  await chord([validate.s(true)], count.s());
  // @ts-expect-error tsum wants numbers, the header returns Pages
  chord([crawl.s('a'), crawl.s('b')], tsum.s());
  const mapped: AsyncResult<number[]> = await add.starmap([[1, 2], [3, 4]]).applyAsync();
  // @ts-expect-error starmap items are argument lists of the task
  add.starmap([['x', 2]]);
  // optional and default parameters: bound arguments follow what comes in front
  const fmt = app.task('fmt', (text: string, width?: number) => text.padEnd(width ?? 0));
  const strictly = app.task('strictly', (page: Page, strict = true) => strict && page.html !== '');
  await fmt.s('x').delay();
  await chain(crawl.s('u'), strictly.s()).applyAsync();
  await chain(crawl.s('u'), strictly.s(false)).applyAsync();
  // @ts-expect-error fmt.s('x') is the whole call: there is no room for crawl's result in front
  chain(crawl.s('u'), fmt.s('x'));
  // a chain that ends in a group gives the group's result
  const ending: GroupResult<[number, number]> = await chain(add.s(1, 2), group(add.s(1), add.s(2))).applyAsync();
  void [ok, piped, n, page, c, mapped, ending];
}
