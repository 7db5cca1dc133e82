/** Schedules as plain data (spec.ts) and the instants they fire at (next.ts). */
export { checkTimezone, clocked, cron, crontab, describeSpec, every, toScheduleSpec } from './spec.js';
export type { CronField, CrontabFields, CronSpec, CrontabSpec, ScheduleSpec } from './spec.js';
export { nextSlot, nextSlots, slotsBetween } from './next.js';
export type { SlotOptions } from './next.js';
