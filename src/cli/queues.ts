/** `taquba queues`: every queue name, read-only. */
import { defineCommand } from "./args.js";
import { openReader, positionals, STORE_HELP, STORE_OPTIONS, toJson } from "./store-args.js";
import { shown } from "./terminal-text.js";

const HELP = `Usage: taquba queues [options]

Every queue that ever held a job, and every paused queue that has not held
one yet (\`pause --new-queue\`), one name per line (\`stats\` tells which are
paused). Read-only.

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
    const reader = await openReader(parsed.values);
    const names = reader.listQueues({ includePaused: true });
    io.out(parsed.values.json ? toJson(names) : names.map((n) => `${shown(n)}\n`).join(""));
    return 0;
  },
});
