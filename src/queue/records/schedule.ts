/**
 * Records of durable schedules: their shapes. The schedule definition's
 * encoding lives with the schedules (`schedules/codec.ts`); a fire nests an
 * enqueue record, so the codec encodes it.
 */
import type { ScheduleDefinition } from "../schedules/types.js";
import type { EnqueueRecord } from "./enqueue.js";
import type { Tag } from "./tags.js";

/** A schedule is created, or replaced (its fires so far stay accounted for). */
export interface ScheduleSetRecord {
  readonly tag: typeof Tag.ScheduleSet;
  readonly schedule: ScheduleDefinition;
}
/** A schedule is removed. */
export interface UnscheduleRecord {
  readonly tag: typeof Tag.Unschedule;
  readonly name: string;
}
/**
 * One fire of schedule `name` at `fireAt`: enqueues `job` (none when the
 * fire is skipped) and marks every fire time up to `fireAt` as accounted
 * for, in one record, so a fire time is applied once or not at all.
 */
export interface ScheduleFireRecord {
  readonly tag: typeof Tag.ScheduleFire;
  readonly name: string;
  readonly fireAt: number;
  readonly job: EnqueueRecord | undefined;
}
