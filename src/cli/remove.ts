/**
 * `taquba remove`: one job (any status but claimed by a live writer), or with `--all` the
 * jobs of a queue in one status (optionally only those older than a
 * duration), written as the store's writer; the bulk form shows its
 * progress (a bar on a terminal).
 */
import type { RemovableStatus } from "../queue/operations.js";
import { REMOVABLE_STATUSES } from "../queue/operations.js";
import { checkQueueName } from "../queue/validate.js";
import { defineCommand, statusFlag } from "./args.js";
import { CommandFailure, UsageError } from "./io.js";
import { Progress } from "./progress.js";
import {
  type CheckedStore,
  checkKnownQueue,
  noStore,
  openWriter,
  positionals,
  readBeforeWriting,
  resolveStore,
  WRITE_HELP,
  WRITE_OPTIONS,
} from "./store-args.js";
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

/** How either refusal ends: what to do about a running job. */
const RUNNING_JOB = "a running job is cancelled with the API instead";

/** `runningUnder`: the epoch of the live writer whose claim it is, when it is running. */
function notRemoved(id: string, runningUnder?: number): CommandFailure {
  return new CommandFailure(
    runningUnder !== undefined
      ? `job ${id} is running (claimed by live writer epoch ${runningUnder}): nothing was removed (${RUNNING_JOB}, or --take-over fences that writer, releasing its claims, and removes it)`
      : `no job ${id} waiting, scheduled, done or dead: nothing was removed (${RUNNING_JOB})`,
  );
}

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
    let checked: CheckedStore;
    if (all) checked = await checkKnownQueue(values, io, target!);
    else {
      // Read-only first: a job that is not there needs no writer, and none is fenced.
      const read = await readBeforeWriting(await resolveStore(values), io);
      checked = read.checked;
      if (checked.before === null) throw noStore(checked.where, "");
      const job = read.reader.getJob(target!);
      if (job === null) throw notRemoved(target!);
      // A claim of a writer that is gone is released when the writer opens, so only a live
      // writer's claim is a running job (and --take-over fences that writer, releasing it too).
      const writer = checked.before;
      if (job.status === "claimed" && values["take-over"] !== true && writer.kind === "live")
        throw notRemoved(target!, writer.epoch);
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
              label: `Removing ${status} jobs of "${target}"`,
              ...(total === undefined || olderThanMs !== undefined ? {} : { total }),
            });
        removed = await queue.removeJobs(target!, status, {
          ...(olderThanMs === undefined ? {} : { olderThanMs }),
          onProgress: (count) => progress?.update(count),
        });
        progress?.finish(removed);
      } else {
        removed = (await queue.removeJob(target!)) ? 1 : 0;
        // Gone or claimed since the check above.
        if (removed === 0) throw notRemoved(target!);
      }
    } finally {
      await queue.close();
    }
    if (values.json)
      io.out(`${JSON.stringify(all ? { queue: target, status, removed } : { removed: target })}\n`);
    else
      io.out(
        all ? `Removed ${removed} ${status} job(s) of "${target}".\n` : `Removed ${target}.\n`,
      );
    return 0;
  },
});
