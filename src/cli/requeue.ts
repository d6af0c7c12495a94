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

const HELP = `Usage: taquba requeue <job-id> [options]
       taquba requeue --all <queue> [--limit n] [options]

Moves a dead job back to pending (attempts reset, enqueue time kept); with
--all, every dead job of the queue (oldest first, at most --limit).

Options:
  --all                  requeue the dead jobs of <queue> instead of one job
  --limit <n>            with --all: at most this many, 1 or more (default all)
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
    const limit = intFlag(values.limit, "limit", 1);
    if (all) checkQueueName(target, "<queue>");
    // Read-only first: a queue never seen, or a job that is not dead, needs no writer; nor
    // does a queue with no dead job (opening one would fence a running writer for nothing).
    const known = all
      ? await checkKnownQueue(values, io, target!, "", (snapshot) => snapshot.stats(target!))
      : undefined;
    const checked = known ?? (await lookUpJob(values, io, target!, REQUEUE));
    // A claim the last writer left is settled when a writer opens: dead once out of attempts.
    const seen = known?.seen;
    let count = 1;
    if (seen !== undefined && seen.dead === 0 && seen.claimed === 0) count = 0;
    else {
      const queue = await openWriter(values, io, "requeue", {}, checked);
      try {
        if (all) count = await requeueAll(queue, target!, limit, values.json ? null : io);
        else await requeueOne(queue, target!);
      } finally {
        await queue.close();
      }
    }
    if (values.json)
      io.out(`${terminalJson(all ? { queue: target, requeued: count } : { requeued: target })}\n`);
    else
      io.out(
        all ? `Requeued ${count} dead job(s) of ${quoted(target!)}.\n` : `Requeued ${target}.\n`,
      );
    return 0;
  },
});

/** What `requeue <job-id>` does, for its look-up and refusals. */
const REQUEUE: JobChange = { statuses: ["dead"], verb: "requeued" };

/** Requeues dead job `id`; one no longer dead since the look-up is refused as the look-up does. */
async function requeueOne(queue: Queue, id: string): Promise<void> {
  try {
    await queue.requeueDeadJob(id);
  } catch (error) {
    if (!(error instanceof JobNotFoundError)) throw error;
    const job = await queue.getJob(id);
    // A dead job that cannot run again (a flow that lost a child) says why itself.
    if (job?.status === "dead") throw error;
    throw jobRefusal(id, REQUEUE, job);
  }
}

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
    io === null
      ? null
      : new Progress(io, { label: `Requeueing dead jobs of ${quoted(name)}`, total });
  const count = await queue.requeueDeadJobs(name, {
    ...(limit === undefined ? {} : { limit }),
    onProgress: (requeued) => progress?.update(requeued),
  });
  progress?.finish(count);
  return count;
}
