/**
 * pg-boss on PostgreSQL running the end-to-end workload:
 *   node build/bench/compare/peer-pgboss.js --url=postgres://… --jobs=N --concurrency=C [--fetch-batch=B]
 * pg-boss has no per-worker concurrency: each `work()` call is one polling loop
 * that fetches up to `fetch-batch` jobs, so C loops run side by side. A loop
 * sleeps out the rest of its polling interval (minimum 0.5 s) after each
 * fetch, so the fetch batch is what lets it go fast. With `--warmup=W`, W
 * jobs first run the same way through a queue of their own, which is then
 * deleted (see `warmUp`).
 */
import { performance } from "node:perf_hooks";
import { parseCommandLine } from "../lib/args.js";
import { type EnqueueOps, endToEndParams, enqueuePhase, peerPayload, warmUp } from "../lib/e2e.js";
import { LatencyRecorder } from "../lib/latency.js";
import { sleep } from "../lib/process.js";
import { emitResult } from "../lib/result.js";
import { importPeer, peerVersion } from "./peer-module.js";
import { peerResult } from "./peer-result.js";

interface PgBoss {
  start(): Promise<unknown>;
  stop(options: { graceful: boolean; wait: boolean }): Promise<void>;
  createQueue(name: string): Promise<void>;
  deleteQueue(name: string): Promise<void>;
  getDb(): { executeSql(text: string, values: unknown[]): Promise<unknown> };
  insert(jobs: { name: string; data: object }[]): Promise<void>;
  send(name: string, data: object): Promise<string | null>;
  work(
    name: string,
    options: { batchSize: number; pollingIntervalSeconds: number },
    handler: (jobs: unknown[]) => Promise<void>,
  ): Promise<string>;
  getQueueSize(name: string, options: { before: "completed" }): Promise<number>;
  on(event: "error", listener: (error: Error) => void): void;
}
type PgBossClass = new (options: {
  connectionString: string;
  max: number;
  supervise: boolean;
  schedule: boolean;
}) => PgBoss;

const { params, fetchBatch, loops, connectionString } = parseCommandLine(
  process.argv.slice(2),
  (args) => {
    const params = endToEndParams(args);
    return {
      params,
      fetchBatch: args.integer("fetch-batch", 100, 1),
      loops: args.integer("loops", params.concurrency, 1),
      connectionString: args.string("url", "postgres://postgres@127.0.0.1:5432/postgres"),
    };
  },
);
const PgBossCtor = await importPeer<PgBossClass>("pg-boss");
const failures: Error[] = [];
const startBoss = async (): Promise<PgBoss> => {
  const started = new PgBossCtor({
    connectionString,
    max: Math.min(loops + 2, 50),
    supervise: false,
    schedule: false,
  });
  started.on("error", (error) => failures.push(error));
  await started.start();
  return started;
};
const boss = await startBoss();
const name = `bench_${process.pid}`;
await boss.createQueue(name);
const data = { payload: peerPayload(params.payloadBytes) };

/** Sends into queue `queue` of `by` as the run does. */
const enqueueOps = (by: PgBoss, queue: string): EnqueueOps => ({
  one: () => by.send(queue, data),
  many: (n) => by.insert(Array.from({ length: n }, () => ({ name: queue, data }))),
});

/** Works queue `queue` of `by` with the run's polling loops until `jobs` jobs are completed. */
async function processAll(by: PgBoss, queue: string, jobs: number): Promise<void> {
  let handled = 0;
  for (let i = 0; i < loops; i++) {
    await by.work(queue, { batchSize: fetchBatch, pollingIntervalSeconds: 0.5 }, async (batch) => {
      handled += batch.length;
    });
  }
  // Handlers run before pg-boss marks their jobs completed; done = nothing left below `completed`.
  let lastReport = performance.now();
  for (;;) {
    const left = handled < jobs ? -1 : await by.getQueueSize(queue, { before: "completed" });
    if (left === 0) break;
    if (failures.length > 0) throw failures[0];
    if (performance.now() - lastReport > 5_000) {
      lastReport = performance.now();
      process.stderr.write(`pg-boss: handled ${handled}/${jobs}, not completed ${left}\n`);
    }
    await sleep(handled < jobs ? 5 : 2);
  }
}

// The warm-up runs on a pg-boss of its own, same options: stopping it waits
// for its polling loops to end, so none still fetches from the warm-up queue
// when that queue (its table partition) is deleted. pg-boss keeps completed
// jobs (its maintenance, off here, archives them later) and cannot delete a
// queue that still has jobs, so the warm-up's jobs are deleted first.
await warmUp(params, async () => {
  const warm = await startBoss();
  const warmupName = `${name}_warmup`;
  await warm.createQueue(warmupName);
  return {
    ...enqueueOps(warm, warmupName),
    process: (jobs) => processAll(warm, warmupName, jobs),
    async cleanup() {
      await warm.stop({ graceful: true, wait: true });
      await boss.getDb().executeSql("DELETE FROM pgboss.job WHERE name = $1", [warmupName]);
      await boss.deleteQueue(warmupName);
    },
  };
});

const batchLatency = new LatencyRecorder();
const enqueueSeconds = await enqueuePhase(params, enqueueOps(boss, name), batchLatency);
const processStart = performance.now();
await processAll(boss, name, params.jobs);
const processSeconds = (performance.now() - processStart) / 1_000;
await boss.stop({ graceful: true, wait: true });
emitResult(
  peerResult(
    `pg-boss ${peerVersion("pg-boss")}`,
    params,
    { loops, fetchBatch, pollingIntervalSeconds: 0.5 },
    batchLatency,
    enqueueSeconds,
    processSeconds,
  ),
);
// Some peer libraries leave timers or sockets behind after a clean stop; the run is over.
process.exit(0);
