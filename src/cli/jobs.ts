/** `taquba jobs`: a page of one queue's jobs in one status, read-only. */
import { taqubaErrorCode } from "../errors.js";
import { DEFAULT_LIST_LIMIT, JOB_STATUSES, MAX_LIST_LIMIT } from "../queue/listing.js";
import type { JobRecord, JobStatus } from "../queue/types.js";
import { checkQueueName } from "../queue/validate.js";
import { badFlag, defineCommand, intFlag, statusFlag } from "./args.js";
import {
  listedPayload,
  loadListedPayloads,
  openReader,
  positionals,
  STORE_HELP,
  STORE_OPTIONS,
  toJson,
} from "./store-args.js";
import { quoted, shown } from "./terminal-text.js";

const HELP = `Usage: taquba jobs <queue> --status <status> [options]

One page of a queue's jobs in one status: pending in claim order, scheduled
by run time, claimed and dead by id, done by completion time. Read-only.

Options:
  --status <status>      ${JOB_STATUSES.join(" | ")} (required)
  --cursor <cursor>      continue after the previous page (its "next" line)
  --limit <n>            jobs per page, 1-${MAX_LIST_LIMIT} (default ${DEFAULT_LIST_LIMIT})
${STORE_HELP}
`;

function time(ms: number | undefined): string {
  return ms === undefined ? "" : new Date(ms).toISOString();
}

function describeJob(job: JobRecord): string {
  const when = time(
    job.runAt ?? job.claimedAt ?? job.completedAt ?? job.failedAt ?? job.enqueuedAt,
  );
  const error = job.lastError === undefined ? "" : `  error ${quoted(job.lastError)}`;
  // A flow parent waiting for its children: scheduled with no run time (its time is its enqueue).
  const waits =
    job.waitingChildren === undefined
      ? ""
      : `  waits for ${job.waitingChildren} ${job.waitingChildren === 1 ? "child" : "children"}`;
  return `${job.id}  ${when}${waits}  attempts ${job.attempts}/${job.maxAttempts}  priority ${job.priority}${error}  ${listedPayload(job)}\n`;
}

export const jobsCommand = defineCommand({
  name: "jobs",
  summary: "list a queue's jobs in one status (read-only)",
  help: HELP,
  options: {
    ...STORE_OPTIONS,
    status: { type: "string" },
    cursor: { type: "string" },
    limit: { type: "string" },
  },
  async run(parsed, io) {
    const { values } = parsed;
    const [queue] = positionals(parsed.positionals, ["queue"]);
    const status = values.status;
    if (status === undefined || !(JOB_STATUSES as readonly string[]).includes(status))
      throw statusFlag(JOB_STATUSES, status);
    const limit = intFlag(values.limit, "limit", 1, DEFAULT_LIST_LIMIT);
    if (limit > MAX_LIST_LIMIT) throw badFlag("limit", `at most ${MAX_LIST_LIMIT}`, values.limit!);
    checkQueueName(queue, "<queue>");
    const reader = await openReader(values);
    let page: ReturnType<typeof reader.listJobs>;
    try {
      page = reader.listJobs(queue!, status as JobStatus, {
        limit,
        ...(values.cursor === undefined ? {} : { cursor: values.cursor }),
      });
    } catch (error) {
      // The only argument listJobs can refuse here is the cursor: name the flag, not the option.
      if (values.cursor !== undefined && taqubaErrorCode(error) === "INVALID_ARGUMENT")
        throw badFlag(
          "cursor",
          `the value after "next: --cursor" of a previous \`taquba jobs ${shown(queue!)} --status ${status}\``,
          values.cursor,
        );
      throw error;
    }
    // Payloads stored as objects of their own are read from them.
    await loadListedPayloads(reader, page.jobs);
    if (values.json) io.out(toJson(page));
    else {
      if (page.jobs.length === 0) io.out(`No ${status} jobs in ${quoted(queue!)}.\n`);
      else io.out(page.jobs.map(describeJob).join(""));
      if (page.nextCursor !== undefined) io.out(`next: --cursor ${page.nextCursor}\n`);
    }
    return 0;
  },
});
