/**
 * The read-only look-up of one job that `remove <job-id>` and `requeue
 * <job-id>` make before opening the store as writer: a job the command
 * cannot change needs no writer, so none is fenced. Both refuse with the
 * same words, as a `JobNotFoundError` naming what the job is.
 */
import { JobNotFoundError } from "../errors.js";
import type { JobRecord, JobStatus } from "../queue/types.js";
import type { CliIO } from "./io.js";
import {
  type CheckedStore,
  noStore,
  readBeforeWriting,
  resolveStore,
  type StoreValues,
} from "./store-args.js";
import { shown } from "./terminal-text.js";
import type { WriterState } from "./writer-check.js";

/** What a command does to one job, for its look-up and its refusal. */
export interface JobChange {
  /** The statuses of the jobs it changes, in the order the refusal names them. */
  statuses: readonly JobStatus[];
  /**
   * Whether it changes a claimed job once opening the store as writer released
   * it: one whose writer is gone, or is fenced by `--take-over`. A claimed job
   * of a live writer is refused all the same (it is running).
   */
  releasedClaims?: boolean;
  /** How the refusal ends: "nothing was removed". */
  verb: string;
  /** What to do instead, given why (`runningUnder`: the live writer whose claim it is). */
  advice?: (runningUnder: number | undefined) => string;
}

/**
 * Looks job `id` up reading only; resolves with the store as read (for
 * `openWriter`) when `change` can be made to it, else rejects with
 * {@link jobRefusal}. A place with no queue store is a `CommandFailure`:
 * there is no job to change there, with `--create` or without.
 */
export async function lookUpJob(
  values: StoreValues & { "take-over"?: boolean | undefined },
  io: CliIO,
  id: string,
  change: JobChange,
): Promise<CheckedStore> {
  const { reader, checked } = await readBeforeWriting(await resolveStore(values), io);
  const writer = checked.before;
  if (writer === null) throw noStore(checked.where, "");
  const job = reader.getJob(id);
  const runningUnder = liveClaimOf(job, writer, values["take-over"] === true);
  if (job === null || runningUnder !== undefined) throw jobRefusal(id, change, job, writer);
  const status = job.status === "claimed" && change.releasedClaims === true ? null : job.status;
  if (status !== null && !change.statuses.includes(status))
    throw jobRefusal(id, change, job, writer);
  return checked;
}

/**
 * The epoch of the live writer running `job` (claimed by it), unless
 * `takeOver` fences that writer: the claim of a writer that is gone is
 * released when the command's writer opens.
 */
function liveClaimOf(
  job: JobRecord | null,
  writer: WriterState | null,
  takeOver: boolean,
): number | undefined {
  return job?.status === "claimed" && writer?.kind === "live" && !takeOver
    ? writer.epoch
    : undefined;
}

/**
 * Why `change` is not made to job `id`, which is `job` (`null`: there is no
 * such job) under the store's last writer `writer`: a `JobNotFoundError`
 * naming the statuses it takes and what the job is. Also for a job that
 * changed between the look-up and the write.
 */
export function jobRefusal(
  id: string,
  change: JobChange,
  job: JobRecord | null,
  writer: WriterState | null = null,
): JobNotFoundError {
  const runningUnder = liveClaimOf(job, writer, false);
  const is =
    job === null
      ? ""
      : ` (it is ${job.status}${runningUnder === undefined ? "" : ` by live writer epoch ${runningUnder}`})`;
  const advice = change.advice?.(runningUnder);
  return new JobNotFoundError(
    `no ${wordList(change.statuses)} job with id ${shown(id)}${is}: nothing was ${change.verb}${advice === undefined ? "" : ` (${advice})`}`,
  );
}

/** `a`, `a or b`, `a, b or c`. */
function wordList(words: readonly string[]): string {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}
