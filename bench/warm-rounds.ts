/**
 * How much of the single-enqueue comparison's cold round is V8 warming up:
 * the comparison's taquba workload (`--jobs` jobs of 64 B, `--producers`
 * closed-loop producers each awaiting its own `enqueue`, then `runWorker` at
 * `--concurrency`, then `flush`) run `--rounds` times in one process, each
 * round on a new queue in a new directory of the file store (fsync on). The
 * first round is what `bench:compare` measures; later rounds run the same
 * code once V8 has compiled it. Prints jobs/s per phase and end to end.
 *
 * Options: --rounds=3 --jobs=20000 --producers=64 --concurrency=64
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { FileStore, Queue, runWorker } from "../src/index.js";
import { parseCommandLine } from "./lib/args.js";

const { rounds, jobs, producers, concurrency } = parseCommandLine(
  process.argv.slice(2),
  (args) => ({
    rounds: args.integer("rounds", 3, 1),
    jobs: args.integer("jobs", 20_000, 1),
    producers: args.integer("producers", 64, 1),
    concurrency: args.integer("concurrency", 64, 1),
  }),
);

const payload = new Uint8Array(64).fill(0x61);
const rate = (ms: number): string => Math.round(jobs / (ms / 1_000)).toLocaleString("en-US");
console.log("| round | enqueue jobs/s | process jobs/s | end-to-end jobs/s |");
console.log("|---|---|---|---|");
for (let round = 1; round <= rounds; round++) {
  const dir = await mkdtemp(join(tmpdir(), "taquba-warm-rounds-"));
  try {
    const queue = await Queue.open(new FileStore(dir), "bench/warm-rounds");
    const start = performance.now();
    let sent = 0;
    const producer = async (): Promise<void> => {
      while (sent < jobs) {
        sent++;
        await queue.enqueue("q", payload);
      }
    };
    await Promise.all(Array.from({ length: producers }, producer));
    const enqueued = performance.now();
    let handled = 0;
    const done = new AbortController();
    await runWorker(
      queue,
      "q",
      () => {
        if (++handled === jobs) done.abort();
      },
      { concurrency, signal: done.signal },
    );
    await queue.flush();
    const end = performance.now();
    await queue.close();
    console.log(
      `| ${round} | ${rate(enqueued - start)} | ${rate(end - enqueued)} | ${rate(end - start)} |`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
