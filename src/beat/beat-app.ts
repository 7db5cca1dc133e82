/**
 * What beat needs from the app, as an interface (beat sits above the app, as the worker does, without importing
 * the Celerity class). Celerity implements it.
 */
import type { ResultBackend } from '../backend/port.js';
import type { ScheduleStore } from '../backend/schedules.js';
import type { ApplyOptions } from '../canvas/options.js';
import type { AsyncResult } from '../result/results.js';
import type { Logger } from '../util/logger.js';

export interface BeatApp {
  readonly conf: {
    readonly timezone: string;
    readonly beatSchedule: Readonly<Record<string, unknown>>;
    readonly beatLeaseTimeout: number;
    readonly resultExpires: number;
  };
  readonly log: Logger;
  readonly schedules: { syncConfig(): Promise<void> };
  scheduleStore(): Promise<ScheduleStore>;
  /** For the overlap policy: the previous run's state. */
  backend(): Promise<ResultBackend>;
  sendTask(name: string, args: readonly unknown[], options: ApplyOptions): Promise<AsyncResult>;
}
