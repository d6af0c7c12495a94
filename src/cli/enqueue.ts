/** `taquba enqueue`: one job, written as the store's writer. */
import type { EnqueueResult } from "../queue/enqueue.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, type EnqueueOptions } from "../queue/options.js";
import {
  checkDedupKey,
  checkHeaders,
  checkMaxAttempts,
  checkPayload,
  checkPriority,
  checkQueueName,
  checkTimestamp,
} from "../queue/validate.js";
import { expectationMessage } from "../validate.js";
import {
  badFlag,
  type CommandOptions,
  defineCommand,
  intFlag,
  type ParsedCommandArgs,
} from "./args.js";
import { nowOf, UsageError } from "./io.js";
import { openWriter, positionals, WRITE_HELP, WRITE_OPTIONS } from "./store-args.js";
import { quoted, terminalJson } from "./terminal-text.js";
import { timeFlag } from "./time-flag.js";

const HELP = `Usage: taquba enqueue <queue> <payload> [options]

Enqueues one job whose payload is the given text and prints its id. When
--dedup-key names a job that is already pending or scheduled, nothing is
stored: it prints that job's id, says so on stderr, and --json has
"created": false.

Options:
  --priority <n>         lower is claimed first (100 high, 1000 normal, 10000 low)
  --max-attempts <n>     deliveries before the job is dead-lettered
  --run-at <time>        when to run: an ISO 8601 time (2026-12-24T18:00:00Z) or
                         relative to now (+30s, +5m, +2h, +1d)
  --dedup-key <key>      skip if a pending/scheduled job of the queue has this key
  --header <k=v>         a header (repeatable)
${WRITE_HELP}
`;

function runAt(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  return checkTimestamp(timeFlag(value, "run-at", now), "--run-at");
}

function headers(values: string[] | undefined): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  // No prototype: `--header __proto__=x` is a header like any other, not an assignment to it.
  const out: Record<string, string> = Object.create(null);
  for (const pair of values) {
    const at = pair.indexOf("=");
    if (at <= 0) throw badFlag("header", "key=value", pair);
    const key = pair.slice(0, at);
    // Not the last one silently: the other value the user gave would be lost.
    if (key in out)
      throw new UsageError(
        expectationMessage(
          "--header",
          "given once per key",
          `${quoted(key)} twice (${quoted(`${key}=${out[key]}`)} and ${quoted(pair)})`,
        ),
      );
    out[key] = pair.slice(at + 1);
  }
  return checkHeaders(out, "--header");
}

const ENQUEUE_OPTIONS = {
  ...WRITE_OPTIONS,
  priority: { type: "string" },
  "max-attempts": { type: "string" },
  "run-at": { type: "string" },
  "dedup-key": { type: "string" },
  header: { type: "string", multiple: true },
} as const satisfies CommandOptions;

/** The job's options from the flags, checked under the flags' names before anything is opened. */
function enqueueOptions(
  values: ParsedCommandArgs<typeof ENQUEUE_OPTIONS>["values"],
  now: number,
): EnqueueOptions {
  const options: EnqueueOptions = {};
  const priority = intFlag(values.priority, "priority", -Infinity);
  if (priority !== undefined) options.priority = checkPriority(priority, "--priority");
  const maxAttempts = intFlag(values["max-attempts"], "max-attempts", -Infinity);
  if (maxAttempts !== undefined)
    options.maxAttempts = checkMaxAttempts(maxAttempts, "--max-attempts");
  const at = runAt(values["run-at"], now);
  if (at !== undefined) options.runAt = at;
  const dedupKey = values["dedup-key"];
  if (dedupKey !== undefined) options.dedupKey = checkDedupKey(dedupKey, "--dedup-key");
  const jobHeaders = headers(values.header);
  if (jobHeaders !== undefined) options.headers = jobHeaders;
  return options;
}

export const enqueueCommand = defineCommand({
  name: "enqueue",
  summary: "enqueue one job (opens the store as writer)",
  help: HELP,
  options: ENQUEUE_OPTIONS,
  async run(parsed, io) {
    const { values } = parsed;
    const [name, payload] = positionals(parsed.positionals, ["queue", "payload"]);
    const options = enqueueOptions(values, nowOf(io));
    checkQueueName(name, "<queue>");
    checkPayload(payload, DEFAULT_MAX_PAYLOAD_BYTES, "<payload>");

    const queue = await openWriter(values, io, "enqueue");
    let results: EnqueueResult[];
    try {
      results = await queue.enqueueMany(name!, [{ payload: payload!, options }]);
    } finally {
      await queue.close();
    }
    const { id, created } = results[0]!;
    // A dedup hit stores nothing: say so (stdout stays the id, for scripts).
    if (!created)
      io.err(
        `taquba enqueue: job ${id} with --dedup-key ${quoted(options.dedupKey ?? "")} was already pending or scheduled: nothing new was stored\n`,
      );
    io.out(values.json ? `${terminalJson({ id, created })}\n` : `${id}\n`);
    return 0;
  },
});
