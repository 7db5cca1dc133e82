/**
 * Canvas end to end: a real worker runs chains, groups, chords, callbacks, map/starmap/chunks and nestings of them
 * on the broker and result backend a runner file chooses.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ChordError,
  GroupResult,
  TaskRevokedError,
  chain,
  chord,
  group,
  type AsyncResult,
  type Celerity,
  type Worker,
} from '../../src/index.js';
import { deferred, nextEvent } from '../helpers.js';

export interface CanvasHarness {
  app: Celerity;
  cleanup(): Promise<void>;
}

const T = { timeout: 15_000 };

export function canvasSuite(name: string, factory: () => Promise<CanvasHarness>): void {
  describe(`canvas on ${name}`, () => {
    let h: CanvasHarness;
    let app: Celerity;
    let worker: Worker;
    const seen: unknown[][] = [];
    /** rv.hold waits for `gate`; `onStart` hears each start. */
    let gate = deferred();
    let onStart = (): void => undefined;

    function tasks(a: Celerity) {
      return {
        add: a.task('cv.add', (x: number, y: number) => x + y),
        mul: a.task('cv.mul', (x: number, y: number) => x * y),
        double: a.task('cv.double', (x: number) => x * 2),
        tsum: a.task('cv.tsum', (xs: number[]) => xs.reduce((s, x) => s + x, 0)),
        concat: a.task('cv.concat', (xs: unknown[]) => xs),
        record: a.task('cv.record', (...args: unknown[]) => {
          seen.push(args);
          return args;
        }),
        fail: a.task('cv.fail', (why: string) => {
          throw new TypeError(`failed: ${why}`);
        }),
        failAfter: a.task('cv.failAfter', (x: number) => {
          throw new RangeError(`no ${x}`);
        }),
        hold: a.task('cv.hold', async function (n: number) {
          onStart();
          await Promise.race([gate.promise, new Promise((resolve) => this.signal.addEventListener('abort', resolve))]);
          return n;
        }),
      };
    }
    let t: ReturnType<typeof tasks>;

    beforeEach(async () => {
      h = await factory();
      app = h.app;
      t = tasks(app);
      seen.length = 0;
      worker = app.worker({ concurrency: 8 });
      await worker.start();
    });
    afterEach(async () => {
      await worker.stop({ timeout: 0 });
      await h.cleanup();
    });

    it('a chain passes each result to the next step; results link to their parents and children', async () => {
      const r = await chain(t.add.s(1, 2), t.add.s(10), t.add.s(100)).applyAsync();
      expect(await r.get(T)).toBe(113);
      const second = r.parent as AsyncResult;
      const first = second.parent as AsyncResult;
      expect(await second.get(T)).toBe(13);
      expect(await first.get(T)).toBe(3);
      expect(first.parent).toBeUndefined();
      expect((await first.children()).map((c) => c.id)).toEqual([second.id]);
      expect((await second.children()).map((c) => c.id)).toEqual([r.id]);
      const meta = await r.meta();
      expect(meta?.parent_id).toBe(second.id);
      const collected: unknown[] = [];
      for await (const [, value] of first.collect(T)) collected.push(value);
      expect(collected).toEqual([3, 13, 113]);
    });

    it('pipe composes like chain; an immutable signature ignores the result before it', async () => {
      const r = await t.add.s(1, 1).pipe(t.mul.s(3)).pipe(t.add.si(5, 5)).applyAsync();
      expect(await r.get(T)).toBe(10);
      expect(await (r.parent as AsyncResult).get(T)).toBe(6);
    });

    it('partial arguments given to applyAsync go in front of the first step', async () => {
      const r = await chain(t.add.s(2), t.double.s()).applyAsync([5]);
      expect(await r.get(T)).toBe(14);
    });

    it('a group runs its members in parallel and returns their results in order', async () => {
      const g = await group(t.add.s(1, 1), t.mul.s(3, 3), t.double.s(21)).applyAsync();
      expect(g).toBeInstanceOf(GroupResult);
      expect(await g.get(T)).toEqual([2, 9, 42]);
      expect(await g.ready()).toBe(true);
      expect(await g.completedCount()).toBe(3);
      const metas = await Promise.all(g.results.map((r) => (r as AsyncResult).meta()));
      expect(metas.every((m) => m?.group_id === g.id)).toBe(true);
    });

    it('a saved group is restored by id', async () => {
      const g = await group([t.add.s(1, 2), t.add.s(3, 4)]).applyAsync();
      await g.save();
      const back = await GroupResult.restore(app, g.id);
      expect(back?.results.map((r) => r.id)).toEqual(g.results.map((r) => r.id));
      expect(await back!.get(T)).toEqual([3, 7]);
    });

    it('a chord passes the header results, in order, to the body', async () => {
      const r = await chord(
        Array.from({ length: 20 }, (_, i) => t.add.s(i, i)),
        t.tsum.s(),
      ).applyAsync();
      expect(await r.get(T)).toBe(380);
      const header = r.parent as GroupResult;
      expect(header).toBeInstanceOf(GroupResult);
      expect(header.results).toHaveLength(20);
      expect(await header.get(T)).toEqual(Array.from({ length: 20 }, (_, i) => 2 * i));
    });

    it('a chord of 500 members completes once', async () => {
      const r = await chord(Array.from({ length: 500 }, (_, i) => t.double.s(i)), t.record.s('done')).applyAsync();
      const [values, tag] = (await r.get(T)) as [number[], string];
      expect(tag).toBe('done');
      expect(values).toEqual(Array.from({ length: 500 }, (_, i) => 2 * i));
      expect(seen).toHaveLength(1);
    });

    it('an empty chord header runs the body with an empty list', async () => {
      const r = await chord([], t.concat.s()).applyAsync();
      expect(await r.get(T)).toEqual([]);
    });

    it('a failing header member fails the body with ChordError and calls its errbacks', async () => {
      const body = t.tsum.s().onError(t.record.s('chord-errback'));
      const r = await chord([t.add.s(1, 1), t.fail.s('member'), t.add.s(2, 2)], body).applyAsync();
      const err = await r.get(T).catch((e: Error) => e);
      expect(err).toBeInstanceOf(ChordError);
      expect((err as Error).message).toMatch(/Dependency .* raised TypeError\('failed: member'\)/);
      await expect.poll(() => seen.length, T).toBe(1);
      expect(seen[0]).toEqual([r.id, 'chord-errback']);
    });

    it('link applies a callback with the result; linkError one with the failed task id', async () => {
      const ok = t.add.s(2, 2);
      ok.link(t.record.s('linked'));
      const r = await ok.applyAsync();
      expect(await r.get(T)).toBe(4);
      const bad = t.fail.s('x').onError(t.record.s('errback'));
      const f = await bad.applyAsync();
      await expect(f.get(T)).rejects.toThrow('failed: x');
      await expect.poll(() => seen.length, T).toBe(2);
      expect(seen).toContainEqual([4, 'linked']);
      expect(seen).toContainEqual([f.id, 'errback']);
      expect((await r.children()).length).toBe(1);
    });

    it('a failure stops the chain; the steps it never reaches are stored as failed', async () => {
      const r = await chain(t.add.s(1, 1), t.failAfter.s(), t.double.s(), t.double.s()).applyAsync();
      const err = await r.get(T).catch((e: Error) => e);
      expect((err as Error).name).toBe('ValueError');
      expect((err as Error).message).toBe('no 2');
      expect(await r.state).toBe('FAILURE');
      const [third, second] = [r.parent as AsyncResult, (r.parent as AsyncResult).parent as AsyncResult];
      expect(await third.state).toBe('FAILURE');
      expect(await second.state).toBe('FAILURE');
      expect(await (second.parent as AsyncResult).get(T)).toBe(2);
    });

    it('group | task inside a chain becomes a chord', async () => {
      const r = await chain(t.add.s(1, 1), group(t.add.s(1), t.add.s(2)), t.tsum.s()).applyAsync();
      expect(await r.get(T)).toBe(7);
    });

    it('nests to any depth: chains, groups and chords inside a chord', async () => {
      const r = await chord(
        [
          chain(t.add.s(1, 1), t.add.s(1)),
          group(t.add.s(2, 2), t.add.s(3, 3)),
          chord([t.add.s(1, 1), t.add.s(2, 2)], t.tsum.s()),
          chain(t.add.s(0, 1), chord([t.add.s(5), t.add.s(6)], t.tsum.s()), t.double.s()),
        ],
        t.concat.s(),
      ).applyAsync();
      expect(await r.get(T)).toEqual([3, 4, 6, 6, 26]);
    });

    it('a chain ending in a group inside a chord header adds its members to the join; the body waits for all', async () => {
      const r = await chord([chain(t.add.s(1, 1), group(t.add.s(10), t.add.s(20))), t.add.s(100, 100)], t.concat.s()).applyAsync();
      const values = (await r.get(T)) as number[];
      // The group's results take the chain's place, in either order between themselves.
      expect([...values.slice(0, 2)].sort((a, b) => a - b)).toEqual([12, 22]);
      expect(values[2]).toBe(200);
    });

    it("a chain's errback reaches every member of a group step, and a chord step's body beside its own", async () => {
      const g = chain(t.add.s(1, 1), group(t.failAfter.s(), t.double.s()));
      g.linkError(t.record.s('chain-eb'));
      const gr = await g.applyAsync();
      await expect(gr.get(T)).rejects.toThrow('no 2');
      await expect.poll(() => seen.length, T).toBe(1);
      expect(seen[0]).toEqual([(gr as GroupResult).results[0]!.id, 'chain-eb']);

      const c = chain(t.add.s(1, 1), chord([t.failAfter.s()], t.tsum.s().onError(t.record.s('body-eb'))));
      c.linkError(t.record.s('chain-eb'));
      const r = await c.applyAsync();
      await expect(r.get(T)).rejects.toBeInstanceOf(ChordError);
      await expect.poll(() => seen.length, T).toBe(3);
      expect(seen).toContainEqual([r.id, 'body-eb']);
      expect(seen).toContainEqual([r.id, 'chain-eb']);
    });

    it('a group inside a chain inside a group', async () => {
      const g = await group(chain(t.add.s(1, 1), group(t.double.s(), t.add.s(10))), t.add.s(5, 5)).applyAsync();
      expect(await g.get(T)).toEqual([[4, 12], 10]);
    });

    it('map, starmap and chunks', async () => {
      expect(await (await t.double.map([1, 2, 3]).applyAsync()).get(T)).toEqual([2, 4, 6]);
      expect(await (await t.add.starmap([[1, 2], [3, 4]]).applyAsync()).get(T)).toEqual([3, 7]);
      const c = await t.add.chunks([[1, 1], [2, 2], [3, 3]], 2).applyAsync();
      expect(await c.get(T)).toEqual([[2, 4], [6]]);
    });

    it('revoking a chain revokes the steps not run yet; revoking a group with terminate stops its members', async () => {
      gate = deferred();
      const started = deferred();
      onStart = () => started.resolve();
      const r = await chain(t.hold.s(1), t.add.s(1), t.add.s(2)).applyAsync();
      const [second, first] = [r.parent as AsyncResult, (r.parent as AsyncResult).parent as AsyncResult];
      await started.promise;
      // wait: on Redis, until the workers acknowledged; on the embedded store the revoke is stored when this resolves.
      await r.revoke({ wait: true });
      gate.resolve();
      expect(await first.get(T)).toBe(1);
      await expect(second.get(T)).rejects.toBeInstanceOf(TaskRevokedError);
      expect(await r.state).toBe('PENDING');

      gate = deferred();
      let count = 0;
      const both = deferred();
      onStart = () => ++count === 2 && both.resolve();
      const g = await group(t.hold.s(10), t.hold.s(20)).applyAsync();
      await both.promise;
      await g.revoke({ terminate: true, wait: true });
      await expect(g.get(T)).rejects.toBeInstanceOf(TaskRevokedError);
      expect(await Promise.all(g.results.map((m) => (m as AsyncResult).state))).toEqual(['REVOKED', 'REVOKED']);
      gate.resolve();
    });

    it('a malformed errback is skipped with the reason logged: the task still fails once and is acknowledged', async () => {
      const bad = t.fail.s('x');
      bad.dict.options.link_error = [{ task: 'cv.record', args: 'not a list' }];
      const id = bad.freeze().id;
      const failed = nextEvent(worker, 'task-failed', (e) => e.id === id);
      const f = await bad.applyAsync();
      await expect(f.get(T)).rejects.toThrow('failed: x');
      await failed;
      expect(seen).toHaveLength(0);
    });

    it('a chord body that cannot be sent fails with the reason; the members still succeed', async () => {
      const body = t.tsum.s();
      body.dict.options.queue = 5;
      const r = await chord([t.add.s(1, 1), t.add.s(2, 2)], body).applyAsync();
      await expect(r.get(T)).rejects.toThrow(/option queue must be a queue name/);
      expect(await (r.parent as GroupResult).get(T)).toEqual([2, 4]);
    });

    it('a chain built from dicts (as a Python producer would send it) runs the same', async () => {
      const dicts = chain(t.add.s(2, 3), t.double.s()).toJSON();
      const r = await app.canvas.apply(structuredClone(dicts), [], {}, {});
      expect(await r.get(T)).toBe(10);
    });
  });
}
