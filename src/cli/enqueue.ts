import type { EnqueueOptions } from "../queue/types.js";
import { parseCommandArgs } from "./args.js";
import { type CliIO, type Command, UsageError } from "./io.js";
import { openWriter, positionals, WRITE_HELP, WRITE_OPTIONS } from "./store-args.js";

const HELP = `Usage: taquba enqueue <queue> <payload> --take-over [options]

Enqueues one job whose payload is the given text and prints its id.

Options:
  --priority <n>         lower is claimed first (100 high, 1000 normal, 10000 low)
  --max-attempts <n>     deliveries before the job is dead-lettered
  --run-at <time>        ISO 8601 time or epoch milliseconds to run at
  --dedup-key <key>      skip if a pending/scheduled job of the queue has this key
  --header <k=v>         a header (repeatable)
${WRITE_HELP}
`;

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`--${name}: expected an integer, got "${value}"`);
  return n;
}

function runAt(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new UsageError(
      `--run-at: expected an ISO 8601 time or epoch milliseconds, got "${value}"`,
    );
  return ms;
}

function headers(values: string[] | undefined): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const pair of values) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`--header: expected key=value, got "${pair}"`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

export const enqueueCommand: Command = {
  name: "enqueue",
  summary: "enqueue one job (takes the store over)",
  async run(args, io: CliIO) {
    const parsed = parseCommandArgs(args, {
      ...WRITE_OPTIONS,
      priority: { type: "string" },
      "max-attempts": { type: "string" },
      "run-at": { type: "string" },
      "dedup-key": { type: "string" },
      header: { type: "string", multiple: true },
    });
    const { values } = parsed;
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    const [name, payload] = positionals(parsed.positionals, ["queue", "payload"]);
    const options: EnqueueOptions = {};
    const priority = integer(values.priority, "priority");
    if (priority !== undefined) options.priority = priority;
    const maxAttempts = integer(values["max-attempts"], "max-attempts");
    if (maxAttempts !== undefined) options.maxAttempts = maxAttempts;
    const at = runAt(values["run-at"]);
    if (at !== undefined) options.runAt = at;
    if (values["dedup-key"] !== undefined) options.dedupKey = values["dedup-key"];
    const jobHeaders = headers(values.header);
    if (jobHeaders !== undefined) options.headers = jobHeaders;

    const queue = await openWriter(values);
    let id: string;
    try {
      id = await queue.enqueue(name!, payload!, options);
    } finally {
      await queue.close();
    }
    io.out(values.json ? `${JSON.stringify({ id })}\n` : `${id}\n`);
    return 0;
  },
};
