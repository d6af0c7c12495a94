/** `taquba queues`: every queue name, read-only. */
import { defineCommand } from "./args.js";
import { openReader, positionals, STORE_HELP, STORE_OPTIONS, toJson } from "./store-args.js";

const HELP = `Usage: taquba queues [options]

Every queue that ever held a job, one per line. Read-only.

Options:
${STORE_HELP}
`;

export const queuesCommand = defineCommand({
  name: "queues",
  summary: "list queue names (read-only)",
  help: HELP,
  options: STORE_OPTIONS,
  async run(parsed, io) {
    positionals(parsed.positionals, []);
    const names = (await openReader(parsed.values)).listQueues();
    io.out(parsed.values.json ? toJson(names) : names.map((n) => `${n}\n`).join(""));
    return 0;
  },
});
