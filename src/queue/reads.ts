/**
 * Reads of the public `Queue`: a job and its attempt history, pages of jobs
 * by status and of dead jobs, a queue's counters and the list of queues.
 */
import { checkString } from "../validate.js";
import type { QueueCore } from "./core.js";
import { checkListJobs, type JobPage, type ListJobsOptions, listJobsPage } from "./listing.js";
import type { DeadJobsOptions } from "./options.js";
import type { JobAttempt, JobRecord, JobStatus, QueueStats } from "./types.js";
import { checkDeadJobsOptions, checkQueueName } from "./validate.js";
import { attemptHistoryOf, deadJobsPage, queueNames, queueStats } from "./views.js";

/** `Queue.getJob`. */
export async function readJob(core: QueueCore, id: string): Promise<JobRecord | null> {
  core.check();
  const h = core.findJob(checkString(id, "id"));
  if (h === -1) return null;
  const [record] = await core.payloads.materialise([core.toRecord(h)]);
  return record!;
}

/** `Queue.attemptHistory`. */
export async function readAttemptHistory(core: QueueCore, id: string): Promise<JobAttempt[]> {
  core.check();
  return attemptHistoryOf(core.state, checkString(id, "id"));
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
  const jobs = await core.payloads.materialise(page.jobs.map((h) => core.toRecord(h)));
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
  return core.payloads.materialise(
    deadJobsPage(core.state, name, after, limit).map((h) => core.toRecord(h)),
  );
}

/** `Queue.stats`. */
export async function statsOf(core: QueueCore, queue: string): Promise<QueueStats> {
  core.check();
  return queueStats(core.state, checkQueueName(queue));
}

/** `Queue.listQueues`. */
export async function queuesOf(core: QueueCore): Promise<string[]> {
  core.check();
  return queueNames(core.state);
}
