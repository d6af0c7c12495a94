/**
 * `taquba requeue`: a dead job (or, with `--all`, every dead job of a queue)
 * back to pending, written as the store's writer; the bulk form shows its
 * progress (a bar on a terminal).
 */
import { JobNotFoundError } from "../errors.js";
import type { Queue } from "../queue/queue.js";
import { checkQueueName } from "../queue/validate.js";
import { defineCommand, intFlag } from "./args.js";
import { type CliIO, UsageError } from "./io.js";
import { Progress } from "./progress.js";
import {
  type CheckedStore,
  checkKnownQueue,
  openWriter,
  positionals,
  readBeforeWriting,
  resolveStore,
  WRITE_HELP,
  WRITE_OPTIONS,
} from "./store-args.js";

const HELP = `Usage: taquba requeue <job-id> [options]
       taquba requeue --all <queue> [--limit n] [options]

Moves a dead job back to pending (attempts reset, enqueue time kept); with
--all, every dead job of the queue (oldest first, at most --limit).

Options:
  --all                  requeue the dead jobs of <queue> instead of one job
  --limit <n>            with --all: at most this many (default all)
${WRITE_HELP}
`;

export const requeueCommand = defineCommand({
  name: "requeue",
  summary: "move dead jobs back to pending (opens the store as writer)",
  help: HELP,
  options: { ...WRITE_OPTIONS, all: { type: "boolean" }, limit: { type: "string" } },
  async run(parsed, io) {
    const { values } = parsed;
    const all = values.all === true;
    const [target] = positionals(parsed.positionals, [all ? "queue" : "job-id"]);
    if (!all && values.limit !== undefined) throw new UsageError("--limit goes with --all <queue>");
    const limit = intFlag(values.limit, "limit", 0);
    let checked: CheckedStore;
    if (all) {
      checkQueueName(target, "<queue>");
      checked = await checkKnownQueue(values, io, target!);
    } else {
      // Read-only first: a job that is not dead needs no writer, and none is fenced. (No store
      // there: openWriter says so, or creates one with --create.)
      const read = await readBeforeWriting(await resolveStore(values), io);
      checked = read.checked;
      const job = checked.before === null ? undefined : read.reader.getJob(target!);
      if (job === null || (job !== undefined && job.status !== "dead"))
        throw new JobNotFoundError(
          `requeueDeadJob: no dead job with id ${target}${job === null ? "" : ` (it is ${job.status})`}: nothing was requeued`,
        );
    }
    const queue = await openWriter(values, io, "requeue", {}, checked);
    let count = 1;
    try {
      if (all) count = await requeueAll(queue, target!, limit, values.json ? null : io);
      else await queue.requeueDeadJob(target!);
    } finally {
      await queue.close();
    }
    if (values.json)
      io.out(
        `${JSON.stringify(all ? { queue: target, requeued: count } : { requeued: target })}\n`,
      );
    else io.out(all ? `Requeued ${count} dead job(s) of "${target}".\n` : `Requeued ${target}.\n`);
    return 0;
  },
});

/** Requeues up to `limit` dead jobs of `name`, showing progress on `io` (none with `--json`). */
async function requeueAll(
  queue: Queue,
  name: string,
  limit: number | undefined,
  io: CliIO | null,
): Promise<number> {
  const dead = (await queue.stats(name)).dead;
  const total = limit === undefined ? dead : Math.min(dead, limit);
  const progress =
    io === null ? null : new Progress(io, { label: `Requeueing dead jobs of "${name}"`, total });
  const count = await queue.requeueDeadJobs(name, {
    ...(limit === undefined ? {} : { limit }),
    onProgress: (requeued) => progress?.update(requeued),
  });
  progress?.finish(count);
  return count;
}
