/**
 * pg-boss on PostgreSQL running the end-to-end workload:
 *   node build/bench/compare/peer-pgboss.js --url=postgres://… --jobs=N --concurrency=C [--fetch-batch=B]
 * pg-boss has no per-worker concurrency: each `work()` call is one polling loop
 * that fetches up to `fetch-batch` jobs, so C loops run side by side. A loop
 * sleeps out the rest of its polling interval (minimum 0.5 s) after each
 * fetch, so the fetch batch is what lets it go fast.
 */
import { performance } from "node:perf_hooks";
import { Args } from "../lib/args.js";
import { endToEndParams, enqueuePhase, peerPayload } from "../lib/e2e.js";
import { LatencyRecorder } from "../lib/latency.js";
import { sleep } from "../lib/process.js";
import { emitResult } from "../lib/result.js";
import { importPeer, peerVersion } from "./peer-module.js";
import { peerResult } from "./peer-result.js";

interface PgBoss {
  start(): Promise<unknown>;
  stop(options: { graceful: boolean; wait: boolean }): Promise<void>;
  createQueue(name: string): Promise<void>;
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

const args = new Args(process.argv.slice(2));
const params = endToEndParams(args);
const fetchBatch = args.number("fetch-batch", 100);
const loops = args.number("loops", params.concurrency);
const PgBossCtor = await importPeer<PgBossClass>("pg-boss");
const boss = new PgBossCtor({
  connectionString: args.string("url", "postgres://postgres@127.0.0.1:5432/postgres"),
  max: Math.min(loops + 2, 50),
  supervise: false,
  schedule: false,
});
const failures: Error[] = [];
boss.on("error", (error) => failures.push(error));
await boss.start();
const name = `bench_${process.pid}`;
await boss.createQueue(name);
const data = { payload: peerPayload(params.payloadBytes) };

const batchLatency = new LatencyRecorder();
const enqueueSeconds = await enqueuePhase(
  params,
  {
    one: () => boss.send(name, data),
    many: (n) => boss.insert(Array.from({ length: n }, () => ({ name, data }))),
  },
  batchLatency,
);

let handled = 0;
const processStart = performance.now();
for (let i = 0; i < loops; i++) {
  await boss.work(name, { batchSize: fetchBatch, pollingIntervalSeconds: 0.5 }, async (jobs) => {
    handled += jobs.length;
  });
}
// Handlers run before pg-boss marks their jobs completed; done = nothing left below `completed`.
let lastReport = performance.now();
for (;;) {
  const left = handled < params.jobs ? -1 : await boss.getQueueSize(name, { before: "completed" });
  if (left === 0) break;
  if (failures.length > 0) throw failures[0];
  if (performance.now() - lastReport > 5_000) {
    lastReport = performance.now();
    process.stderr.write(`pg-boss: handled ${handled}/${params.jobs}, not completed ${left}\n`);
  }
  await sleep(handled < params.jobs ? 5 : 2);
}
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
