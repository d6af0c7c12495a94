/** `taquba requeue`: a dead job back to pending, written as the store's writer (needs `--take-over`). */
import { parseCommandArgs } from "./args.js";
import type { CliIO, Command } from "./io.js";
import { openWriter, positionals, WRITE_HELP, WRITE_OPTIONS } from "./store-args.js";

const HELP = `Usage: taquba requeue <job-id> --take-over [options]

Moves a dead job back to pending (attempts reset, enqueue time kept).

Options:
${WRITE_HELP}
`;

export const requeueCommand: Command = {
  name: "requeue",
  summary: "move a dead job back to pending (takes the store over)",
  async run(args, io: CliIO) {
    const parsed = parseCommandArgs(args, WRITE_OPTIONS);
    if (parsed.values.help) {
      io.out(HELP);
      return 0;
    }
    const [id] = positionals(parsed.positionals, ["job-id"]);
    const queue = await openWriter(parsed.values);
    try {
      await queue.requeueDeadJob(id!);
    } finally {
      await queue.close();
    }
    io.out(parsed.values.json ? `${JSON.stringify({ requeued: id })}\n` : `Requeued ${id}.\n`);
    return 0;
  },
};
