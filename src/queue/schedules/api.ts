/**
 * `Queue.schedule`, `unschedule` and `listSchedules` after the facade:
 * check, write the record, and tell the runner to re-arm.
 */
import type { QueueCore } from "../core.js";
import { durableRead } from "../reads.js";
import { Tag } from "../records/tags.js";
import type { ScheduleDefinition, ScheduleInfo, ScheduleSpec } from "./types.js";
import { checkScheduleName, checkScheduleSpec } from "./validate.js";
import { listScheduleInfos } from "./views.js";

/** Throws unless the queue is open and `close()` was not called (`ClosedError`). */
function checkOpen(core: QueueCore): void {
  core.check();
  core.schedules.calls.checkNotClosing();
}

/** `Queue.schedule`: create or replace, durably. */
export async function setSchedule(
  core: QueueCore,
  name: string,
  spec: ScheduleSpec,
): Promise<void> {
  checkOpen(core);
  const checked = checkScheduleSpec(
    name,
    spec,
    core.settings,
    core.now(),
    core.schedules.zoneOffsets,
  );
  return core.schedules.calls.inOrder(async () => {
    if (!core.log.isWritable()) await core.log.whenWritable();
    core.check();
    if (core.state.schedules.has(checked.name)) {
      // Times the replaced definition owes by now fire first: a replace skips no due fire.
      // Only its own: the others' due fires are the timer's, and hold up no call.
      await core.schedules.fireDueNow(checked.name);
      core.check();
    }
    const existing = core.state.schedules.get(checked.name);
    if (existing !== undefined && sameDefinition(existing, checked)) {
      // Declared again as it is (an application that sets its schedules at every start):
      // a replace would restart an `everyMs` count, and one restarted more often than
      // `everyMs` would never fire. Keep it; answer once the stored one is durable.
      return () => durableRead(core, undefined);
    }
    // Set at the time it is written (the waits above may have taken a while).
    const written = core.commit({
      tag: Tag.ScheduleSet,
      schedule: { ...checked, setAt: core.now() },
    });
    core.schedules.changed(checked.name);
    return () => written;
  });
}

/** Strict equality, for the fields compared as they are. */
const same = (a: unknown, b: unknown): boolean => a === b;

/**
 * How each field of a definition compares, but its key and when it was set. The
 * type asks for every field: one added to `ScheduleDefinition` later does not
 * compile until it is compared here (rather than silently count as the same).
 */
const SAME_FIELD: {
  readonly [K in Exclude<keyof ScheduleDefinition, "name" | "setAt">]: (
    a: ScheduleDefinition[K],
    b: ScheduleDefinition[K],
  ) => boolean;
} = {
  cron: same,
  everyMs: same,
  timezone: same,
  queue: same,
  payload: (a, b) => Buffer.compare(a, b) === 0,
  options: same,
  startAt: same,
  endAt: same,
  catchUp: same,
};
const COMPARED = Object.keys(SAME_FIELD) as (keyof typeof SAME_FIELD)[];

/** Do `a` and `b` define the same schedule (every field but when it was set)? */
function sameDefinition(a: ScheduleDefinition, b: ScheduleDefinition): boolean {
  return COMPARED.every((key) =>
    (SAME_FIELD[key] as (x: unknown, y: unknown) => boolean)(a[key], b[key]),
  );
}

/** `Queue.unschedule`: `true` once the removal is durable, `false` for an unknown name. */
export async function removeSchedule(core: QueueCore, name: string): Promise<boolean> {
  checkOpen(core);
  const checked = checkScheduleName(name);
  return core.schedules.calls.inOrder(async () => {
    if (!core.log.isWritable()) await core.log.whenWritable();
    core.check();
    if (core.state.schedules.has(checked)) {
      // Times it owes by now fire first, as before a replace: a removal skips no due fire.
      await core.schedules.fireDueNow(checked);
      core.check();
    }
    if (!core.state.schedules.has(checked))
      // An earlier removal may still be in flight: answer once it is durable.
      return async () => {
        await core.log.whenDurable();
        return false;
      };
    const written = core.commit({ tag: Tag.Unschedule, name: checked });
    core.schedules.changed(checked);
    return async () => {
      await written;
      return true;
    };
  });
}

/** `Queue.listSchedules`. */
export async function listSchedulesOf(core: QueueCore): Promise<ScheduleInfo[]> {
  core.check();
  // Right after an open, the next fire times are still being planned in slices: wait for
  // them rather than compute every one in this call (one event-loop stall).
  await core.schedules.planned();
  core.check();
  // The names are sorted again after they changed, and each one's next fire time read, in
  // slices on the queue's turn window.
  const infos = await listScheduleInfos(
    core.state,
    (s) => core.schedules.next(s),
    core.sliceBudget(),
  );
  return durableRead(core, infos);
}
