/** `taquba inspect`: the objects behind a queue store (manifest, WAL, checkpoint), read-only. */
import type { LogInspection } from "../log/index.js";
import type { WriterHeartbeat } from "../queue/heartbeat.js";
import { defineCommand } from "./args.js";
import { nowOf } from "./io.js";
import { openReader, positionals, STORE_HELP, STORE_OPTIONS, toJson } from "./store-args.js";
import { quoted } from "./terminal-text.js";
import { type WriterState, writerState } from "./writer-check.js";

const HELP = `Usage: taquba inspect [options]

The objects behind a queue store: manifest and writer epoch, WAL batches
waiting to be replayed, the checkpoint and its age, the writer's heartbeat
and whether a writing command would find a live writer, live job counts.
Read-only.

Options:
${STORE_HELP}
`;

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function age(ms: number | null): string {
  if (ms === null) return "unknown age";
  if (ms < 60_000) return `${Math.round(ms / 1000)} s old`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min old`;
  return `${(ms / 3_600_000).toFixed(1)} h old`;
}

function describe(info: LogInspection): string {
  const lines = [`objects     ${info.objects} (${bytes(info.bytes)}) under ${quoted(info.prefix)}`];
  const m = info.manifest;
  lines.push(
    m === null
      ? "manifest    none (nobody has opened this queue store yet)"
      : `manifest    #${m.id}, writer epoch ${m.epoch}, written ${new Date(m.createdAt).toISOString()}${m.closed ? " by a clean close" : ""}`,
  );
  lines.push(
    `wal         ${info.wal.objects} objects (${bytes(info.wal.bytes)}), ${info.wal.fences} fences; ` +
      `${info.wal.pendingObjects} batches (${bytes(info.wal.pendingBytes)}) after the checkpoint`,
  );
  const c = info.checkpoint;
  lines.push(
    c === null
      ? `checkpoint  none (${info.checkpoints} stored)`
      : `checkpoint  ${c.name} (${bytes(c.bytes)}, ${age(c.ageMs)}); ${info.checkpoints} stored`,
  );
  return `${lines.join("\n")}\n`;
}

function describeBeat(beat: WriterHeartbeat | null, now: number): string {
  if (beat === null)
    return "heartbeat   none (the writer does not beat: OpenOptions.heartbeatMs)\n";
  const state = beat.closed
    ? "closed cleanly"
    : `${age(now - beat.at)}, every ${beat.intervalMs} ms`;
  return `heartbeat   #${beat.counter} of writer epoch ${beat.epoch} at ${new Date(beat.at).toISOString()} (${state})\n`;
}

/** What a writing command would make of the newest writer. */
function describeWriter(state: WriterState): string {
  const what = {
    closed: "closed cleanly",
    live: "live: writing commands need --take-over",
    stale: "heartbeat stale: gone or stalled",
    silent: "no heartbeat, not closed cleanly: crashed, or running without a heartbeat",
  }[state.kind];
  return `writer      epoch ${state.epoch}, ${what}\n`;
}

export const inspectCommand = defineCommand({
  name: "inspect",
  summary: "show the objects behind a queue store (read-only)",
  help: HELP,
  options: STORE_OPTIONS,
  async run(parsed, io) {
    positionals(parsed.positionals, []);
    const reader = await openReader(parsed.values);
    const queues = reader.listQueues().map((name) => reader.stats(name));
    const heartbeat = reader.writerHeartbeat();
    const now = nowOf(io);
    const manifest = reader.inspection.manifest;
    const writer = manifest === null ? null : writerState(manifest, heartbeat, now);
    if (parsed.values.json) io.out(toJson({ log: reader.inspection, heartbeat, writer, queues }));
    else {
      const live = queues.reduce((n, q) => n + q.pending + q.scheduled + q.claimed, 0);
      io.out(
        `${describe(reader.inspection)}${describeBeat(heartbeat, now)}${writer === null ? "" : describeWriter(writer)}jobs        ${live} live in ${queues.length} queue(s)\n`,
      );
    }
    return 0;
  },
});
