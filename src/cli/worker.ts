/**
 * `celerity worker`: start-up banner, then consume until SIGTERM/SIGINT or a remote `shutdown` command (warm
 * shutdown: running tasks get the shutdown timeout to finish); a second signal returns everything to the broker at
 * once. The process exits 0 once the worker has stopped, however the stop was asked for.
 */
import os from 'node:os';
import type { Celerity } from '../app/celerity.js';
import type { NodeOptions } from '../worker/node.js';
import { fail } from './exit.js';
import { VERSION } from './version.js';
import { maskUrl } from './context.js';
import type { Beat } from '../beat/beat.js';
import { startBeat } from './beat.js';

export function banner(
  app: Celerity,
  worker: { hostname: string; queues: string[]; concurrency: number; prefetch: number; poolKind: string; beat?: boolean },
): string {
  const c = app.conf;
  const tasks = [...app.tasks.keys()].sort();
  const lines = [
    `celerity ${VERSION} (Node ${process.version}) on ${os.type()} ${os.release()}`,
    '',
    '[config]',
    `.> app:         ${app.main}`,
    `.> node:        ${worker.hostname}`,
    `.> broker:      ${maskUrl(c.broker)}`,
    `.> results:     ${maskUrl(c.backend)}`,
    `.> concurrency: ${worker.concurrency} (${worker.poolKind})`,
    `.> prefetch:    ${worker.prefetch}`,
    `.> acks late:   ${c.acksLate}`,
    `.> task events: ${c.sendTaskEvents ? 'ON' : 'OFF'}`,
    ...(worker.beat ? [`.> beat:        ON (${Object.keys(c.beatSchedule).length} in beatSchedule; store ${maskUrl(c.beatStore ?? c.backend)})`] : []),
    '',
    '[queues]',
    ...worker.queues.map((q) => `.> ${q}`),
    '',
    '[tasks]',
    ...(tasks.length ? tasks.map((t) => `  . ${t}`) : ['  (none registered)']),
    '',
  ];
  return lines.join('\n');
}

export async function runWorker(
  app: Celerity,
  options: { queues?: string[]; appModule?: string; node?: NodeOptions; autoscale?: { max: number; min: number }; beat?: boolean },
): Promise<void> {
  const worker = app.worker({ queues: options.queues, appModule: options.appModule, node: options.node, autoscale: options.autoscale });
  process.stderr.write(`${banner(app, { hostname: worker.hostname, queues: worker.queues, concurrency: worker.concurrency, prefetch: worker.prefetch, poolKind: worker.poolKind, beat: options.beat })}\n`);
  let beat: Beat | undefined;
  // A signal or a remote `shutdown` command stops the worker; either way the process ends here.
  worker.once('stopped', () =>
    void Promise.resolve(beat?.stop())
      .then(() => app.close())
      .then(() => process.exit(0), fail),
  );
  let signals = 0;
  // Celery's three shutdowns: warm on SIGTERM/SIGINT (running tasks get the shutdown timeout, then go back to the
  // broker: the soft deadline), cold on SIGQUIT or a second signal (everything goes back to the broker at once).
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (sig === 'SIGQUIT') {
      app.log.warn({ signal: sig }, `${sig} received: cold shutdown (returning running tasks to the broker)`);
      void worker.stop({ timeout: 0 });
    } else if (signals === 1) {
      app.log.info({ signal: sig }, `${sig} received: warm shutdown (finishing running tasks, up to ${app.conf.shutdownTimeout}s)`);
      worker.stop().catch(fail);
    } else {
      app.log.warn({ signal: sig }, `${sig} received again: cold shutdown (returning running tasks to the broker)`);
      void worker.stop({ timeout: 0 });
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGQUIT', onSignal);
  await worker.start();
  // Started after the worker, so a beat in this process never sends before its own worker consumes.
  if (options.beat) beat = await startBeat(app);
  app.log.info({ hostname: worker.hostname, queues: worker.queues }, `${worker.hostname} ready.`);
}
