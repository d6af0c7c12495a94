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

/**
 * `records` with their offloaded payloads read back, leaving out the jobs
 * removed (and their objects deleted) while the payloads were being read: a
 * read racing an ack or a removal answers as if it came just after it,
 * rather than failing. A job still there whose object cannot be read fails
 * the read.
 */
async function withPayloads(core: QueueCore, records: JobRecord[]): Promise<JobRecord[]> {
  if (!records.some((r) => r.payloadRef !== undefined)) return records;
  const read = await Promise.allSettled(records.map((r) => core.payloads.materialise([r])));
  const kept: JobRecord[] = [];
  for (const [i, outcome] of read.entries()) {
    const record = records[i]!;
    if (outcome.status === "fulfilled") kept.push(record);
    else {
      const h = core.findJob(record.id);
      if (h !== -1 && core.toRecord(h).payloadRef === record.payloadRef) throw outcome.reason;
    }
  }
  return kept;
}

/** `Queue.getJob`. */
export async function readJob(core: QueueCore, id: string): Promise<JobRecord | null> {
  core.check();
  const h = core.findJob(checkString(id, "id"));
  if (h === -1) return null;
  const [record] = await withPayloads(core, [core.toRecord(h)]);
  return record ?? null;
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
  const jobs = await withPayloads(
    core,
    page.jobs.map((h) => core.toRecord(h)),
  );
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
  return withPayloads(
    core,
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
