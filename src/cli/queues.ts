/** `taquba queues`: every queue name, read-only. */
import { parseCommandArgs } from "./args.js";
import type { CliIO, Command } from "./io.js";
import { openReader, positionals, STORE_HELP, STORE_OPTIONS, toJson } from "./store-args.js";

const HELP = `Usage: taquba queues [options]

Every queue that ever held a job, one per line. Read-only.

Options:
${STORE_HELP}
`;

export const queuesCommand: Command = {
  name: "queues",
  summary: "list queue names (read-only)",
  async run(args, io: CliIO) {
    const parsed = parseCommandArgs(args, STORE_OPTIONS);
    if (parsed.values.help) {
      io.out(HELP);
      return 0;
    }
    positionals(parsed.positionals, []);
    const names = (await openReader(parsed.values)).listQueues();
    io.out(parsed.values.json ? toJson(names) : names.map((n) => `${n}\n`).join(""));
    return 0;
  },
};
