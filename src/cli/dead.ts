/** `taquba dead`: a page of the dead-lettered jobs of one queue or of every queue, read-only. */
import { DEFAULT_DEAD_JOBS_LIMIT } from "../queue/options.js";
import type { JobRecord } from "../queue/types.js";
import { checkQueueName } from "../queue/validate.js";
import { defineCommand, positiveInt } from "./args.js";
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

const HELP = `Usage: taquba dead [queue] [options]

Dead-lettered jobs of a queue in id order (default: of every queue, one page
across all of them in id order, each line starting with its queue). Read-only.

Options:
  --after <id>           list the jobs whose ids sort after this one (the last id
                         of the previous page; any id, of a job still there or not)
  --limit <n>            jobs per page, 1 or more (default ${DEFAULT_DEAD_JOBS_LIMIT})
${STORE_HELP}
`;

function describeJob(job: JobRecord, withQueue: boolean): string {
  const queue = withQueue ? `${shown(job.queue)}  ` : "";
  const failedAt = job.failedAt === undefined ? "?" : new Date(job.failedAt).toISOString();
  return `${queue}${job.id}  failed ${failedAt}  attempts ${job.attempts}/${job.maxAttempts}  error ${quoted(job.lastError ?? "")}  ${listedPayload(job)}\n`;
}

export const deadCommand = defineCommand({
  name: "dead",
  summary: "list dead-lettered jobs of a queue or of every queue (read-only)",
  help: HELP,
  options: { ...STORE_OPTIONS, after: { type: "string" }, limit: { type: "string" } },
  async run(parsed, io) {
    const { values } = parsed;
    const [queue] =
      parsed.positionals.length === 0 ? [undefined] : positionals(parsed.positionals, ["queue"]);
    const limit = positiveInt(values.limit, "limit", DEFAULT_DEAD_JOBS_LIMIT);
    if (queue !== undefined) checkQueueName(queue, "<queue>");
    const reader = await openReader(values);
    const options = { limit, ...(values.after === undefined ? {} : { after: values.after }) };
    // Every queue: the first `limit` ids after `after` of all queues are among each
    // queue's own first `limit`, so one page per queue, merged by id, is the page.
    const page =
      queue !== undefined
        ? reader.deadJobs(queue, options)
        : reader
            .listQueues()
            .flatMap((name) => reader.deadJobs(name, options))
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
            .slice(0, limit);
    // Payloads stored as objects of their own are read from them.
    await loadListedPayloads(reader, page);
    if (values.json) io.out(toJson(page));
    else if (page.length === 0)
      io.out(queue === undefined ? "No dead jobs.\n" : `No dead jobs in ${quoted(queue)}.\n`);
    else io.out(page.map((job) => describeJob(job, queue === undefined)).join(""));
    return 0;
  },
});
