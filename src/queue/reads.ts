/**
 * Reads of the public `Queue`: a job and its attempt history, pages of jobs
 * by status and of dead jobs, a queue's counters and the list of queues.
 */
import { nextTurn } from "../util/slices.js";
import { checkString } from "../validate.js";
import type { QueueCore } from "./core.js";
import { checkListJobs, type JobPage, type ListJobsOptions, listJobsPage } from "./listing.js";
import type { DeadJobsOptions, ListQueuesOptions } from "./options.js";
import { isUnreadable, markUnreadable, warnUnreadable } from "./payload-object.js";
import type { JobAttempt, JobRecord, JobStatus, QueueStats } from "./types.js";
import { checkQueueName } from "./validate.js";
import { checkDeadJobsOptions, checkListQueuesOptions } from "./validate-options.js";
import { attemptHistoryOf, deadJobsPage, queueNames, queueStats } from "./views.js";

/** Dead jobs a long `deadJobs` page reads between two checks of its slice's budget. */
const DEAD_JOBS_PER_STEP = 256;

/**
 * `answer` (read from the state as of now) once every record applied so far
 * is durable: a read never reports a job or value whose record a crash could
 * still undo (a write acknowledged only once durable, read the same way).
 * Costs nothing when no write is in flight; never seals the open log batch
 * early, so reads do not shrink group commits. Rejects when the log failed.
 */
export async function durableRead<T>(core: QueueCore, answer: T): Promise<T> {
  await core.log.append([]);
  return answer;
}

/**
 * The records of jobs `handles` with their offloaded payloads read back. A
 * read racing a change of the job answers as if it came just after it,
 * rather than failing on the object the change deleted: a job removed
 * meanwhile is left out, one whose payload was replaced is read again. A job
 * whose object cannot be read though it still references it fails the read
 * (`getJob`: `unreadable` is null), or, in a listing (and the dashboard's read
 * of one job), is listed without its payload, marked with
 * `payloadError` when the object is damaged or gone (see {@link markUnreadable})
 * and added to `unreadable`, the listing's list of them (its caller warns once
 * for them): one such job must not hide the others, least of all on the dead
 * list where it ends up. A store that fails to answer still fails a listing.
 */
async function withPayloads(
  core: QueueCore,
  handles: readonly number[],
  unreadable: JobRecord[] | null,
): Promise<JobRecord[]> {
  const records = handles.map((h) => core.toRecord(h));
  if (!records.some((r) => r.payloadRef !== undefined)) return records;
  // Log ids, not handles or public ids: a row or a caller's id may be reused once a job is gone.
  const ids = handles.map((h) => core.state.idOf(h));
  const limit = core.payloads.callLimit();
  const read = await Promise.allSettled(records.map((r) => core.payloads.materialise([r], limit)));
  const kept: JobRecord[] = [];
  for (const [i, outcome] of read.entries()) {
    if (outcome.status === "fulfilled") {
      kept.push(records[i]!);
      continue;
    }
    const h = core.state.find(ids[i]!);
    if (h === -1) continue;
    const now = core.toRecord(h);
    if (now.payloadRef !== records[i]!.payloadRef) {
      kept.push((await core.payloads.materialise([now]))[0]!);
      continue;
    }
    if (unreadable === null || !isUnreadable(outcome.reason)) throw outcome.reason;
    kept.push(markUnreadable(records[i]!, outcome.reason));
    unreadable.push(records[i]!);
  }
  return kept;
}

/**
 * `Queue.getJob`; with `unreadable`, answered as a listing would: a job whose
 * payload object is damaged or gone comes with `payloadError` (and is added
 * to `unreadable`) instead of rejecting.
 */
export async function readJob(
  core: QueueCore,
  id: string,
  unreadable: JobRecord[] | null = null,
): Promise<JobRecord | null> {
  core.check();
  const h = core.findJob(checkString(id, "id"));
  if (h === -1) return durableRead(core, null);
  const [record] = await durableRead(core, await withPayloads(core, [h], unreadable));
  return record ?? null;
}

/**
 * Registry key of the hook on `Queue.prototype` that {@link jobAsListed}
 * calls (see `hooks.ts`).
 */
export const READ_JOB_AS_LISTED = Symbol.for("taquba.readJobAsListed");

/**
 * Job `id` of a live queue as a listing shows it: like `getJob`, but a job
 * whose offloaded payload object is still damaged or gone on a second read
 * comes with an empty `payload` and `payloadError` instead of rejecting —
 * what the dashboard's job page shows, so the job can still be seen,
 * requeued or removed (the caller warns). A `Queue` of a release without
 * the hook answers `getJob`.
 */
export function jobAsListed(
  queue: { getJob(id: string): Promise<JobRecord | null> },
  id: string,
): Promise<JobRecord | null> {
  const hook = (queue as unknown as Record<symbol, unknown>)[READ_JOB_AS_LISTED];
  return typeof hook === "function"
    ? (hook.call(queue, id) as Promise<JobRecord | null>)
    : queue.getJob(id);
}

/**
 * The hook's body: {@link readJob} marking an unreadable payload, after one
 * more read of it (a body garbled in transit looks like damage; a claim
 * reads twice too).
 */
export async function readJobAsListed(core: QueueCore, id: string): Promise<JobRecord | null> {
  const record = await readJob(core, id, []);
  return record?.payloadError === undefined ? record : await readJob(core, id, []);
}

/** `Queue.attemptHistory`. */
export async function readAttemptHistory(core: QueueCore, id: string): Promise<JobAttempt[]> {
  core.check();
  return durableRead(core, attemptHistoryOf(core.state, checkString(id, "id")));
}

/** `Queue.listJobs`. */
export async function listJobsOf(
  core: QueueCore,
  queue: string,
  status: JobStatus,
  options: ListJobsOptions,
): Promise<JobPage<JobRecord>> {
  core.check();
  const name = checkQueueName(queue);
  const checked = checkListJobs(status, options);
  const page = listJobsPage(core.state, name, checked.status, checked.from, checked.limit);
  const unreadable: JobRecord[] = [];
  const jobs = await durableRead(
    core,
    checked.loadPayloads
      ? await withPayloads(core, page.jobs, unreadable)
      : page.jobs.map((h) => core.toRecord(h)),
  );
  if (unreadable.length > 0) warnUnreadable(core.logger, unreadable);
  return page.nextCursor === undefined ? { jobs } : { jobs, nextCursor: page.nextCursor };
}

/** `Queue.deadJobs`. */
export async function readDeadJobs(
  core: QueueCore,
  queue: string,
  options: DeadJobsOptions,
): Promise<JobRecord[]> {
  core.check();
  const name = checkQueueName(queue);
  const { after, limit } = checkDeadJobsOptions(options);
  // A long page is read a few hundred jobs at a time, a slice's worth per turn of the event
  // loop, each step going on after the id of the last job listed.
  const state = core.state;
  const jobs: JobRecord[] = [];
  // Listed without their payload, over all steps: one warning for the call.
  const unreadable: JobRecord[] = [];
  const budget = core.sliceBudget();
  let from = after;
  while (jobs.length < limit) {
    const step = Math.min(DEAD_JOBS_PER_STEP, limit - jobs.length);
    const page = deadJobsPage(state, name, from, step);
    if (page.length === 0) break;
    from = state.publicIdOf(page[page.length - 1]!);
    for (const job of await withPayloads(core, page, unreadable)) jobs.push(job);
    if (page.length < step) break;
    if (budget.spent()) {
      await nextTurn();
      core.check();
      budget.start();
    }
  }
  // Answered once every record applied so far (including those seen by earlier steps) is durable.
  const answer = await durableRead(core, jobs);
  if (unreadable.length > 0) warnUnreadable(core.logger, unreadable);
  return answer;
}

/** `Queue.stats`. */
export async function statsOf(core: QueueCore, queue: string): Promise<QueueStats> {
  core.check();
  // Counters as applied, writes in flight included: monitoring must answer during a store
  // outage, when a durable read would wait for the outage to end.
  return queueStats(core.state, checkQueueName(queue));
}

/** `Queue.listQueues`. */
export async function queuesOf(core: QueueCore, options: ListQueuesOptions): Promise<string[]> {
  core.check();
  return queueNames(core.state, checkListQueuesOptions(options).includePaused);
}
