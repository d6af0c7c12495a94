/**
 * Child process of the cold-start workload: builds a queue in a file store,
 * prints READY once it is durable, then either closes cleanly and exits
 * (`--mode clean`) or waits to be killed with SIGKILL (`--mode sigkill`).
 */
import { FileStore, Queue } from "../../src/index.js";
import { parseCommandLine } from "../lib/args.js";
import { buildColdQueue, COLD_PATH } from "./cold-store.js";

const { directory, build, mode } = parseCommandLine(process.argv.slice(2), (args) => ({
  directory: args.string("dir", ""),
  build: {
    live: args.integer("live", 100_000, 0),
    history: args.integer("history", 20_000, 0),
    payloadBytes: args.integer("payload", 64, 0),
  },
  mode: args.oneOf("mode", ["clean", "sigkill"] as const, "clean"),
}));
if (directory === "") throw new Error("--dir is required");
const queue = await Queue.open(new FileStore(directory, { fsync: true }), COLD_PATH);
await buildColdQueue(queue, build);
if (mode === "clean") {
  await queue.close();
  process.stdout.write("READY\n");
} else {
  process.stdout.write("READY\n");
  // Stay alive (and keep the queue's timers from mattering) until the parent kills us.
  setInterval(() => {}, 60_000);
}
