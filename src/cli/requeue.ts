/** `taquba requeue`: a dead job back to pending, written as the store's writer (needs `--take-over`). */
import { defineCommand } from "./args.js";
import { openWriter, positionals, WRITE_HELP, WRITE_OPTIONS } from "./store-args.js";

const HELP = `Usage: taquba requeue <job-id> --take-over [options]

Moves a dead job back to pending (attempts reset, enqueue time kept).

Options:
${WRITE_HELP}
`;

export const requeueCommand = defineCommand({
  name: "requeue",
  summary: "move a dead job back to pending (takes the store over)",
  help: HELP,
  options: WRITE_OPTIONS,
  async run(parsed, io) {
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
});
