/**
 * `Queue.schedule`, `unschedule` and `listSchedules` after the facade:
 * check, write the record, and tell the runner to re-arm.
 */
import { ClosedError } from "../../errors.js";
import type { QueueCore } from "../core.js";
import { durableRead } from "../reads.js";
import { Tag } from "../records/tags.js";
import type { ScheduleDefinition, ScheduleInfo, ScheduleSpec } from "./types.js";
import { checkScheduleName, checkScheduleSpec } from "./validate.js";
import { listScheduleInfos } from "./views.js";

/** A queue's `schedule`/`unschedule` calls that have not written their record yet. */
interface CallChain {
  /** Settles once the last of them has written its record, or failed. */
  tail: Promise<void>;
  waiting: number;
  /** `close()` was called: calls made from now on are refused. */
  closing: boolean;
}

/**
 * Each queue's chain of `schedule`/`unschedule` calls: a call waits for the
 * one before it to have written its record (or failed), so calls land in the
 * log in the order they were made, whatever each waits for (the log to be
 * writable, the fire times owed before it). Only the writes are ordered: the
 * durability waits after them overlap, so calls made together still share one
 * flush. `close()` waits for the calls made before it to write
 * ({@link scheduleCallsWritten}).
 */
const chains = new WeakMap<QueueCore, CallChain>();

function chainOf(core: QueueCore): CallChain {
  let chain = chains.get(core);
  if (chain === undefined) {
    chain = { tail: Promise.resolve(), waiting: 0, closing: false };
    chains.set(core, chain);
  }
  return chain;
}

/**
 * Runs `write` once every earlier `schedule`/`unschedule` call on `core` has
 * written its record or failed (at once when none is waiting: no extra turn);
 * a failed call holds up no later one. `write` resolves to what the call then
 * waits for.
 */
function inCallOrder<T>(core: QueueCore, write: () => Promise<() => Promise<T>>): Promise<T> {
  const own = chainOf(core);
  const written = own.waiting === 0 ? write() : own.tail.then(write);
  own.waiting++;
  own.tail = written.then(
    () => {
      own.waiting--;
    },
    () => {
      own.waiting--;
    },
  );
  return written.then((rest) => rest());
}

/** Throws unless the queue is open and `close()` was not called (`ClosedError`). */
function checkOpen(core: QueueCore): void {
  core.check();
  if (chains.get(core)?.closing === true) throw new ClosedError("queue is closed");
}

/**
 * For `Queue.close()`: refuses later `schedule`/`unschedule` calls, and
 * resolves (never rejects) once every call made before has written its record
 * or failed. Those calls wait only for what the close waits for anyway (the
 * log to take appends, which its flush needs too; the fire times owed, which
 * the close fires too), and for their write, not its durability.
 */
export function scheduleCallsWritten(core: QueueCore): Promise<void> {
  const chain = chainOf(core);
  chain.closing = true;
  return chain.tail;
}

/** `Queue.schedule`: create or replace, durably. */
export async function setSchedule(
  core: QueueCore,
  name: string,
  spec: ScheduleSpec,
): Promise<void> {
  checkOpen(core);
  const checked = checkScheduleSpec(name, spec, core.settings, core.now());
  return inCallOrder(core, async () => {
    if (!core.log.isWritable()) await core.log.whenWritable();
    core.check();
    if (core.state.schedules.has(checked.name)) {
      // Times the replaced definition owes by now fire first: a replace skips no due fire.
      await core.schedules.fireDueNow();
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
  return inCallOrder(core, async () => {
    if (!core.log.isWritable()) await core.log.whenWritable();
    core.check();
    if (core.state.schedules.has(checked)) {
      // Times it owes by now fire first, as before a replace: a removal skips no due fire.
      await core.schedules.fireDueNow();
      core.check();
    }
    if (!core.state.schedules.has(checked)) return async () => false;
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
  return durableRead(core, await listScheduleInfos(core.state, (s) => core.schedules.next(s)));
}
