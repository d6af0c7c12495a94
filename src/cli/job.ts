/** `taquba job`: one job with its attempt history, result and progress, read-only. */
import type { JobAttempt, JobRecord } from "../queue/types.js";
import type { CancelledJobInfo } from "../queue/views.js";
import { defineCommand } from "./args.js";
import { CommandFailure } from "./io.js";
import {
  openReader,
  positionals,
  STORE_HELP,
  STORE_OPTIONS,
  shownPayload,
  toJson,
} from "./store-args.js";
import { quoted, shown, terminalJson } from "./terminal-text.js";

const HELP = `Usage: taquba job <job-id> [options]

One job: its fields, payload and result (as UTF-8 text, or hex:… when they
are not text or are text starting with "hex:"), and how each attempt ended. A cancelled job is shown from
what its cancel left (queue, cancel time, history) for the queue's result
retention. Read-only. Exits 1 when there is no such job.

Options:
${STORE_HELP}
`;

function time(ms: number | undefined): string {
  return ms === undefined ? "-" : new Date(ms).toISOString();
}

function describeAttempt(a: JobAttempt): string {
  const claimed = a.claimedAt === undefined ? "" : ` claimed ${time(a.claimedAt)}`;
  const error = a.error === undefined ? "" : `  error ${quoted(a.error)}`;
  return `  #${a.attempt} ${a.outcome.padEnd(13)} at ${time(a.recordedAt)}${claimed}${error}\n`;
}

function describeJob(job: JobRecord, payload: Uint8Array, history: JobAttempt[]): string {
  const lines = [
    `id           ${job.id}`,
    `queue        ${shown(job.queue)}`,
    `status       ${job.status}`,
    `attempts     ${job.attempts}/${job.maxAttempts}`,
    `priority     ${job.priority}`,
    `enqueued     ${time(job.enqueuedAt)}`,
  ];
  if (job.runAt !== undefined) lines.push(`run at       ${time(job.runAt)}`);
  // A flow parent waiting for its children is scheduled with no time of its own.
  if (job.waitingChildren !== undefined)
    lines.push(
      `waits for    ${job.waitingChildren} ${job.waitingChildren === 1 ? "child" : "children"} (a flow parent runs once each has ended)`,
    );
  if (job.claimedAt !== undefined) lines.push(`claimed      ${time(job.claimedAt)}`);
  if (job.completedAt !== undefined) lines.push(`completed    ${time(job.completedAt)}`);
  if (job.failedAt !== undefined) lines.push(`failed       ${time(job.failedAt)}`);
  if (job.timeoutMs !== undefined) lines.push(`timeout      ${job.timeoutMs} ms`);
  if (job.progress !== undefined) lines.push(`progress     ${terminalJson(job.progress)}`);
  if (job.dedupKey !== undefined) lines.push(`dedup key    ${quoted(job.dedupKey)}`);
  if (job.lastError !== undefined) lines.push(`last error   ${quoted(job.lastError)}`);
  for (const [key, value] of Object.entries(job.headers))
    lines.push(`header       ${shown(key)}=${shown(value)}`);
  // Text that spans lines (or would act on the terminal) is quoted: it cannot forge a field line.
  lines.push(`payload      ${shown(shownPayload(payload))} (${payload.byteLength} bytes)`);
  if (job.result !== undefined)
    lines.push(`result       ${shown(shownPayload(job.result))} (${job.result.byteLength} bytes)`);
  lines.push(history.length === 0 ? "history      none" : "history");
  return `${lines.join("\n")}\n${history.map(describeAttempt).join("")}`;
}

function describeCancelled(job: CancelledJobInfo): string {
  const lines = [
    `id           ${job.id}`,
    `queue        ${shown(job.queue)}`,
    "status       cancelled",
    `cancelled    ${time(job.cancelledAt)}`,
    "history",
  ];
  return `${lines.join("\n")}\n${job.history.map(describeAttempt).join("")}`;
}

export const jobCommand = defineCommand({
  name: "job",
  summary: "show one job with its history and result (read-only)",
  help: HELP,
  options: STORE_OPTIONS,
  async run(parsed, io) {
    const [id] = positionals(parsed.positionals, ["job-id"]);
    const reader = await openReader(parsed.values);
    const job = await reader.loadJob(id!);
    if (job === null) {
      const cancelled = reader.cancelledJob(id!);
      if (cancelled === null) throw new CommandFailure(`no job with id ${quoted(id!)}`);
      if (parsed.values.json) io.out(toJson({ ...cancelled, status: "cancelled" }));
      else io.out(describeCancelled(cancelled));
      return 0;
    }
    const history = reader.attemptHistory(id!);
    if (parsed.values.json) io.out(toJson({ ...job, history }));
    else io.out(describeJob(job, job.payload, history));
    return 0;
  },
});
