/** `taquba stats`: counters of some or all queues, read-only. */
import type { QueueStats } from "../queue/types.js";
import { checkQueueName } from "../queue/validate.js";
import { defineCommand } from "./args.js";
import { CommandFailure } from "./io.js";
import {
  openReader,
  STORE_HELP,
  STORE_OPTIONS,
  toJson,
  unknownQueueMessage,
} from "./store-args.js";
import { shown } from "./terminal-text.js";

const HELP = `Usage: taquba stats [queue...] [options]

Counters of the given queues (default: every queue, also one paused before
its first job); a queue the store has never seen is refused. Read-only: a
running writer is not disturbed.

Options:
${STORE_HELP}
`;

const COLUMNS = ["pending", "scheduled", "claimed", "done", "dead"] as const;

function table(rows: QueueStats[]): string {
  const header = ["queue", ...COLUMNS];
  const cells = rows.map((r) => [
    r.paused ? `${shown(r.queue)} (paused)` : shown(r.queue),
    ...COLUMNS.map((c) => String(r[c])),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[]): string =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ");
  return `${[line(header), ...cells.map(line)].join("\n")}\n`;
}

export const statsCommand = defineCommand({
  name: "stats",
  summary: "show queue counters (read-only)",
  help: HELP,
  options: STORE_OPTIONS,
  async run({ values, positionals }, io) {
    for (const name of positionals) checkQueueName(name, "<queue>");
    const reader = await openReader(values);
    const known = reader.listQueues({ includePaused: true });
    // A mistyped name would otherwise show as a queue of zeros.
    const unknown = positionals.find((name) => !known.includes(name));
    if (unknown !== undefined) throw new CommandFailure(unknownQueueMessage(unknown, known));
    const names = positionals.length > 0 ? positionals : known;
    const rows = names.map((name) => reader.stats(name));
    if (values.json) io.out(toJson(rows));
    else if (rows.length === 0) io.out("No queues yet.\n");
    else io.out(table(rows));
    return 0;
  },
});
