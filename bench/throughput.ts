/**
 * A quick end-to-end measurement, standalone: producers enqueue 64-byte jobs
 * into an fsynced FileStore (rounds of 1 000 concurrent enqueues) while a
 * worker claims and acks them; prints jobs/s and CPU per job.
 *
 * Run: npx tsc -p tsconfig.json && node build/bench/throughput.js [jobs]
 * (`--check-args`: check the command line, run nothing).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../src/logger.js";
import { Queue } from "../src/queue/queue.js";
import { FileStore } from "../src/store/file.js";
import { runWorker } from "../src/worker/run-worker.js";
import { parseNumberArgument } from "./lib/args.js";

const jobs = parseNumberArgument(
  process.argv.slice(2),
  "jobs",
  20_000,
  (n) => Number.isInteger(n) && n >= 1,
  "an integer >= 1",
  "A quick end-to-end measurement on an fsynced FileStore: jobs/s and CPU per job.",
);

const dir = await mkdtemp(join(tmpdir(), "taquba-throughput-"));
try {
  const queue = await Queue.open(new FileStore(dir), "bench", { logger: silentLogger });
  const payload = new Uint8Array(64);
  const shutdown = new AbortController();
  let acked = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const worker = runWorker(
    queue,
    "q",
    () => {
      if (++acked === jobs) shutdown.abort();
    },
    { concurrency: 64, pollIntervalMs: 50, signal: shutdown.signal, logger: silentLogger },
  );
  for (let i = 0; i < jobs; i += 1_000) {
    const round: Promise<string>[] = [];
    for (let j = i; j < Math.min(jobs, i + 1_000); j++) round.push(queue.enqueue("q", payload));
    await Promise.all(round);
  }
  await worker;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const done = (await queue.stats("q")).done;
  if (done !== jobs) throw new Error(`expected ${jobs} done jobs, found ${done}`);
  console.log(
    `${jobs} jobs in ${seconds.toFixed(2)} s = ${Math.round(jobs / seconds)} jobs/s; ` +
      `CPU ${((used.user + used.system) / jobs).toFixed(1)} µs/job`,
  );
  await queue.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
