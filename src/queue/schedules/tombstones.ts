/**
 * Tombstones of removed schedules: the `firedUpTo` a schedule had when it was
 * removed, kept under its name, so a schedule created again under that name
 * (after a wall-clock step back, say) never fires a time at or before it.
 * They are state like the schedules: a removal's log record makes one, a
 * re-creation consumes it, and a checkpoint keeps them (in removal order).
 * The newest {@link MAX_SCHEDULE_TOMBSTONES} are kept; older ones are dropped
 * (only a re-creation after a clock step back past them could notice).
 */
import type { Schedule } from "./types.js";

/** Most tombstones kept; beyond, the oldest removal's is dropped. */
export const MAX_SCHEDULE_TOMBSTONES = 10_000;

/** Name → `firedUpTo` at removal, oldest removal first. */
export type ScheduleTombstones = Map<string, number>;

/** `schedule` was removed: keeps its `firedUpTo` as the newest tombstone. */
export function bury(tombstones: ScheduleTombstones, schedule: Schedule): void {
  tombstones.delete(schedule.name);
  tombstones.set(schedule.name, schedule.firedUpTo);
  while (tombstones.size > MAX_SCHEDULE_TOMBSTONES) {
    const oldest = tombstones.keys().next().value as string;
    tombstones.delete(oldest);
  }
}

/**
 * The fire time a schedule set under `name` (set at `setAt`) starts after:
 * the later of the one it replaces (or the tombstone of a removed one) and
 * `setAt`. Consumes the tombstone.
 */
export function firedUpToOnSet(
  tombstones: ScheduleTombstones,
  previous: Schedule | undefined,
  name: string,
  setAt: number,
): number {
  const buried = tombstones.get(name);
  if (buried !== undefined) tombstones.delete(name);
  return Math.max(previous?.firedUpTo ?? buried ?? 0, setAt);
}
