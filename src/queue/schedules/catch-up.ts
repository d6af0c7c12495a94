/**
 * At open, the fire times a schedule missed before this process took the
 * store (after its `firedUpTo`, up to that moment: while no process owned
 * it, or while a previous owner, frozen or stalled, still held it without
 * firing them; a taker cannot tell that owner from a crashed one), handled
 * per its `catchUp`: `"none"` skips them (one fire record
 * without a job), `"latest"` fires the newest, `"all"` leaves them to the
 * runner's passes, at most {@link MAX_CATCH_UP_FIRES} of them: older ones are
 * skipped, with a warning. Fire times after that moment are this process's
 * own: they always fire.
 */
import type { Logger } from "../../logger.js";
import type { SliceBudget } from "../../util/slices.js";
import { nextTurn } from "../../util/slices.js";
import type { ScheduleFireRecord } from "../records/schedule.js";
import { Tag } from "../records/tags.js";
import { type CronExpression, lastFireUpTo, nextFireAfter } from "./timing.js";
import type { Schedule } from "./types.js";

/**
 * Most missed fire times a schedule with `catchUp: "all"` fires at open: the
 * newest ones; older missed times are skipped and a warning is logged.
 */
export const MAX_CATCH_UP_FIRES = 1_000;

/** Fire times asked of the cron parser at once while counting back. */
const CHUNK = 64;

/** What catching up needs from the runner. */
export interface CatchUpContext {
  /** Commits a skip (a fire record without a job). */
  commit(record: ScheduleFireRecord): void;
  /** Fires `s` at `fireAt` (enqueues its job). */
  fire(s: Schedule, fireAt: number): void;
  /** The schedule as the state holds it now (it may change while this waits a turn). */
  current(): Schedule | undefined;
  logger: Logger;
  /** The caller's slice: counting back yields a turn when it is spent. */
  budget: SliceBudget;
  stopped(): boolean;
}

/** Handles the fire times `s` missed up to `ownedAt` per its `catchUp`. */
export async function catchUp(
  s: Schedule,
  ownedAt: number,
  cron: CronExpression | undefined,
  ctx: CatchUpContext,
): Promise<void> {
  const last = lastFireUpTo(s, s.firedUpTo, ownedAt, cron);
  if (last === null) return;
  if (s.catchUp === "none") {
    ctx.commit({ tag: Tag.ScheduleFire, name: s.name, fireAt: last, job: undefined });
    return;
  }
  if (s.catchUp === "latest") {
    ctx.fire(s, last);
    return;
  }
  const skipTo = await pastTheCap(s, last, cron, ctx);
  if (skipTo === null || ctx.stopped() || ctx.current() !== s) return;
  ctx.commit({ tag: Tag.ScheduleFire, name: s.name, fireAt: skipTo, job: undefined });
  ctx.logger.warn(
    `schedule ${JSON.stringify(s.name)}: more than ${MAX_CATCH_UP_FIRES} fire times were missed while no process owned the store; catchUp "all" fires the newest ${MAX_CATCH_UP_FIRES} and skips those up to ${new Date(skipTo).toISOString()}`,
  );
}

/**
 * The newest missed fire time that is not among the newest
 * {@link MAX_CATCH_UP_FIRES} (all up to it are skipped), or `null` when no
 * more than that many were missed. `last` is the newest missed one.
 */
async function pastTheCap(
  s: Schedule,
  last: number,
  cron: CronExpression | undefined,
  ctx: CatchUpContext,
): Promise<number | null> {
  const first = nextFireAfter(s, s.firedUpTo, cron);
  if (first === null) return null;
  if (s.everyMs !== undefined) {
    const candidate = last - MAX_CATCH_UP_FIRES * s.everyMs;
    return candidate >= first ? candidate : null;
  }
  const expression = cron!;
  let cursor = last;
  let count = 1;
  while (count <= MAX_CATCH_UP_FIRES) {
    if (ctx.budget.spent()) {
      await nextTurn();
      ctx.budget.start();
      if (ctx.stopped()) return null;
    }
    const runs = expression.previousRuns(
      Math.min(CHUNK, MAX_CATCH_UP_FIRES + 1 - count),
      new Date(cursor),
    );
    if (runs.length === 0) return null;
    for (const run of runs) {
      const t = run.getTime();
      if (t < first) return null;
      count++;
      if (count === MAX_CATCH_UP_FIRES + 1) return t;
      cursor = t;
    }
  }
  return null;
}
