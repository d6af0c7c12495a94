/**
 * `taquba remove`: one job (any status but claimed by a live writer), or with `--all` the
 * jobs of a queue in one status (optionally only those older than a
 * duration), written as the store's writer; the bulk form shows its
 * progress (a bar on a terminal).
 */
import type { RemovableStatus } from "../queue/operations.js";
import { REMOVABLE_STATUSES } from "../queue/operations.js";
import type { QueueReader } from "../queue/reader.js";
import { checkQueueName } from "../queue/validate.js";
import { defineCommand, statusFlag } from "./args.js";
import { nowOf, UsageError } from "./io.js";
import { type JobChange, jobRefusal, lookUpJob } from "./job-lookup.js";
import { Progress } from "./progress.js";
import {
  checkKnownQueue,
  openWriter,
  positionals,
  WRITE_HELP,
  WRITE_OPTIONS,
} from "./store-args.js";
import { quoted, terminalJson } from "./terminal-text.js";
import { durationFlag } from "./time-flag.js";

const HELP = `Usage: taquba remove <job-id> [options]
       taquba remove --all <queue> --status <status> [--older-than 7d] [options]

Removes one job that is pending, scheduled, done or dead (a running job is
cancelled with the API instead; a job left claimed by a writer that is gone is
removed too, as opening the store releases its claims); with --all, the jobs of <queue> in --status
(${REMOVABLE_STATUSES.join(", ")}), or only those at least --older-than old
(by enqueue, completion or failure time).

Options:
  --all                  remove jobs of <queue> instead of one job
  --status <status>      with --all: which jobs (${REMOVABLE_STATUSES.join(", ")})
  --older-than <d>       with --all: only jobs at least this old (30s, 5m, 2h, 7d)
${WRITE_HELP}
`;

/** What `remove <job-id>` does, for its look-up and refusals. */
const REMOVE: JobChange = {
  statuses: REMOVABLE_STATUSES,
  // A claim of a writer that is gone is released when the writer opens, so only a live
  // writer's claim is a running job (and --take-over fences that writer, releasing it too).
  releasedClaims: true,
  verb: "removed",
  advice: (runningUnder) =>
    `a running job is cancelled with the API instead${runningUnder === undefined ? "" : ", or --take-over fences that writer, releasing its claims, and removes it"}`,
};

export const removeCommand = defineCommand({
  name: "remove",
  summary: "remove a job, or a queue's jobs in one status (opens the store as writer)",
  help: HELP,
  options: {
    ...WRITE_OPTIONS,
    all: { type: "boolean" },
    status: { type: "string" },
    "older-than": { type: "string" },
  },
  async run(parsed, io) {
    const { values } = parsed;
    const all = values.all === true;
    const [target] = positionals(parsed.positionals, [all ? "queue" : "job-id"]);
    if (!all && (values.status !== undefined || values["older-than"] !== undefined))
      throw new UsageError("--status and --older-than go with --all <queue>");
    let status: RemovableStatus | undefined;
    let olderThanMs: number | undefined;
    if (all) {
      checkQueueName(target, "<queue>");
      const given = values.status;
      status = REMOVABLE_STATUSES.find((s) => s === given);
      if (status === undefined) throw statusFlag(REMOVABLE_STATUSES, given);
      const older = values["older-than"];
      olderThanMs = older === undefined ? undefined : durationFlag(older, "older-than");
    }
    // Read-only first: a queue never seen, or a job that is not there, needs no writer; nor
    // does a queue with no job in the status (opening one would fence a running writer for nothing).
    const known = all
      ? await checkKnownQueue(values, io, target!, "", (snapshot) => ({
          holds: holdsRemovable(snapshot, target!, status!, olderThanMs, nowOf(io)),
          claimed: snapshot.stats(target!).claimed,
        }))
      : undefined;
    const checked = known ?? (await lookUpJob(values, io, target!, REMOVE));
    // A claim the last writer left is settled when a writer opens: pending again, or dead.
    const settles = status === "pending" || status === "dead";
    const seen = known?.seen;
    if (
      status !== undefined &&
      seen !== undefined &&
      !seen.holds &&
      !(settles && seen.claimed > 0)
    ) {
      io.out(
        values.json
          ? `${terminalJson({ queue: target, status, removed: 0 })}\n`
          : `Removed 0 ${status} job(s) of ${quoted(target!)}.\n`,
      );
      return 0;
    }
    const queue = await openWriter(values, io, "remove", {}, checked);
    let removed: number;
    try {
      if (status !== undefined) {
        // Done jobs kept are not counted by stats (its done is every completion): no total then.
        const total = status === "done" ? undefined : (await queue.stats(target!))[status];
        const progress = values.json
          ? null
          : new Progress(io, {
              label: `Removing ${status} jobs of ${quoted(target!)}`,
              ...(total === undefined || olderThanMs !== undefined ? {} : { total }),
            });
        removed = await queue.removeJobs(target!, status, {
          ...(olderThanMs === undefined ? {} : { olderThanMs }),
          onProgress: (count) => progress?.update(count),
        });
        progress?.finish(removed);
      } else {
        removed = (await queue.removeJob(target!)) ? 1 : 0;
        // Gone since the check above.
        if (removed === 0) throw jobRefusal(target!, REMOVE, await queue.getJob(target!));
      }
    } finally {
      await queue.close();
    }
    if (values.json)
      io.out(`${terminalJson(all ? { queue: target, status, removed } : { removed: target })}\n`);
    else
      io.out(
        all
          ? `Removed ${removed} ${status} job(s) of ${quoted(target!)}.\n`
          : `Removed ${target}.\n`,
      );
    return 0;
  },
});

/** At most this many jobs are looked at before `remove --all --older-than` opens the writer anyway. */
export const REMOVABLE_SCAN_LIMIT = 100_000;

/**
 * Whether `reader` holds a job of `queue` in `status` that `remove --all`
 * would remove: any, or with `olderThanMs` one at least that old at `now`
 * (by the time `Queue.removeJobs` goes by: enqueue, completion or failure).
 * Done jobs are listed oldest completion first, so the first one decides.
 * Other statuses are not listed in time order: after `scanLimit` jobs without
 * one old enough the answer is true, and the writer's `removeJobs` decides
 * (this look only spares a writer when it is cheap to tell there is nothing).
 */
export function holdsRemovable(
  reader: Pick<QueueReader, "listJobs">,
  queue: string,
  status: RemovableStatus,
  olderThanMs: number | undefined,
  now: number,
  scanLimit = REMOVABLE_SCAN_LIMIT,
): boolean {
  if (olderThanMs === undefined || status === "done") {
    const [first] = reader.listJobs(queue, status, { limit: 1 }).jobs;
    if (first === undefined || olderThanMs === undefined) return first !== undefined;
    return first.completedAt === undefined || first.completedAt <= now - olderThanMs;
  }
  const cutoff = now - olderThanMs;
  let cursor: string | undefined;
  let scanned = 0;
  do {
    if (scanned >= scanLimit) return true;
    const page = reader.listJobs(queue, status, {
      limit: Math.min(1_000, scanLimit - scanned),
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const job of page.jobs) {
      const at = status === "dead" ? job.failedAt : job.enqueuedAt;
      if (at === undefined || at <= cutoff) return true;
    }
    scanned += page.jobs.length;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return false;
}
