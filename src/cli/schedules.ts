/** `taquba schedules`: every durable schedule with its next fire time, read-only. */
import { listSchedulesInSlices } from "../queue/reader-hooks.js";
import type { ScheduleInfo } from "../queue/schedules/types.js";
import { defineCommand } from "./args.js";
import {
  openReader,
  positionals,
  STORE_HELP,
  STORE_OPTIONS,
  shownPayload,
  toJson,
} from "./store-args.js";
import { quoted, shown } from "./terminal-text.js";

const HELP = `Usage: taquba schedules [options]

Every schedule by name: when it fires, into which queue, and its next fire time. Read-only.

Options:
${STORE_HELP}
`;

function iso(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "-" : new Date(ms).toISOString();
}

function describeSchedule(s: ScheduleInfo): string {
  const when =
    s.cron === undefined ? `every ${s.everyMs}ms` : `cron ${quoted(s.cron)} ${shown(s.timezone)}`;
  const payload = shownPayload(s.payload);
  const text = payload.length > 40 ? `${payload.slice(0, 37)}...` : payload;
  // A schedule whose fire times cannot be computed here is not ended: say why it does not fire.
  const next = s.error === undefined ? iso(s.nextRunAt) : `- (not fired here: ${quoted(s.error)})`;
  return `${shown(s.name)}  ${when}  queue ${quoted(s.queue)}  next ${next}  catch-up ${s.catchUp}  payload ${quoted(text)}\n`;
}

export const schedulesCommand = defineCommand({
  name: "schedules",
  summary: "list schedules and their next fire times (read-only)",
  help: HELP,
  options: STORE_OPTIONS,
  async run(parsed, io) {
    positionals(parsed.positionals, []);
    // In slices: thousands of zoned crons are worked out without one long turn.
    const schedules = await listSchedulesInSlices(await openReader(parsed.values));
    if (parsed.values.json) io.out(toJson(schedules));
    else if (schedules.length === 0) io.out("No schedules.\n");
    else io.out(schedules.map(describeSchedule).join(""));
    return 0;
  },
});
