/** Schedules as `listSchedules` reports them (the writer's and the reader's). */
import type { State } from "../state.js";
import { nextFireAfter } from "./timing.js";
import type { Schedule, ScheduleInfo } from "./types.js";
import { scheduleOptions } from "./validate.js";

/** One schedule as reported; `next` is its next fire time when the caller knows it. */
export function scheduleInfo(
  s: Schedule,
  next: number | null = nextFireAfter(s, s.firedUpTo),
): ScheduleInfo {
  const info: ScheduleInfo = {
    name: s.name,
    ...(s.cron === undefined ? { everyMs: s.everyMs! } : { cron: s.cron }),
    timezone: s.timezone,
    queue: s.queue,
    payload: Uint8Array.from(s.payload),
    catchUp: s.catchUp,
    nextRunAt: next,
    firedUpTo: s.firedUpTo,
  };
  if (s.options !== undefined) info.options = scheduleOptions(s.options);
  if (s.startAt !== undefined) info.startAt = s.startAt;
  if (s.endAt !== undefined) info.endAt = s.endAt;
  return info;
}

/** Every schedule of `state`, by name. */
export function listScheduleInfos(
  state: State,
  nextOf: (s: Schedule) => number | null = (s) => nextFireAfter(s, s.firedUpTo),
): ScheduleInfo[] {
  return [...state.schedules.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((s) => scheduleInfo(s, nextOf(s)));
}
