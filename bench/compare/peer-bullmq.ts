/**
 * BullMQ on Redis running the end-to-end workload:
 *   node build/bench/compare/peer-bullmq.js --url=redis://127.0.0.1:6390 --jobs=N --concurrency=C
 * Completed jobs are removed (`removeOnComplete`), matching taquba's ack.
 * With `--warmup=W`, W jobs first run the same way through a queue of their
 * own, which is then removed (see `warmUp`).
 */
import { performance } from "node:perf_hooks";
import { parseCommandLine } from "../lib/args.js";
import { type EnqueueOps, endToEndParams, enqueuePhase, peerPayload, warmUp } from "../lib/e2e.js";
import { LatencyRecorder } from "../lib/latency.js";
import { emitResult } from "../lib/result.js";
import { importPeer, peerVersion } from "./peer-module.js";
import { peerResult } from "./peer-result.js";

interface Connection {
  host: string;
  port: number;
  maxRetriesPerRequest: null;
}
interface BullQueue {
  add(name: string, data: unknown, opts?: Record<string, unknown>): Promise<unknown>;
  addBulk(
    jobs: { name: string; data: unknown; opts?: Record<string, unknown> }[],
  ): Promise<unknown>;
  obliterate(options: { force: boolean }): Promise<void>;
  close(): Promise<void>;
}
interface BullWorker {
  on(event: "completed", listener: () => void): void;
  on(event: "failed", listener: (job: unknown, error: Error) => void): void;
  waitUntilReady(): Promise<unknown>;
  run(): Promise<void>;
  close(): Promise<void>;
}
interface BullMQ {
  Queue: new (name: string, options: { connection: Connection }) => BullQueue;
  Worker: new (
    name: string,
    processor: () => Promise<void>,
    options: { connection: Connection; concurrency: number; autorun: boolean },
  ) => BullWorker;
}

const { params, url } = parseCommandLine(process.argv.slice(2), (args) => ({
  params: endToEndParams(args),
  url: new URL(args.string("url", "redis://127.0.0.1:6379")),
}));
const connection: Connection = {
  host: url.hostname,
  port: Number(url.port),
  maxRetriesPerRequest: null,
};
const { Queue, Worker } = await importPeer<BullMQ>("bullmq");
const name = `bench-${process.pid}`;
const queue = new Queue(name, { connection });
await queue.obliterate({ force: true });
const data = { payload: peerPayload(params.payloadBytes) };

/** Adds to `into` as the run does: completed jobs removed. */
const enqueueOps = (into: BullQueue): EnqueueOps => ({
  one: () => into.add("noop", data, { removeOnComplete: true }),
  many: (n) =>
    into.addBulk(
      Array.from({ length: n }, () => ({ name: "noop", data, opts: { removeOnComplete: true } })),
    ),
});

/** Works queue `queueName` with concurrency C until `jobs` jobs completed; the seconds from the worker's start. */
async function processAll(queueName: string, jobs: number): Promise<number> {
  const worker = new Worker(queueName, async () => {}, {
    connection,
    concurrency: params.concurrency,
    autorun: false,
  });
  await worker.waitUntilReady();
  let completed = 0;
  const allDone = new Promise<void>((resolve, reject) => {
    worker.on("completed", () => {
      if (++completed === jobs) resolve();
    });
    worker.on("failed", (_job, error) => reject(error));
  });
  const start = performance.now();
  void worker.run();
  await allDone;
  const seconds = (performance.now() - start) / 1_000;
  await worker.close();
  return seconds;
}

await warmUp(params, () => {
  const warmupName = `${name}-warmup`;
  const warmupQueue = new Queue(warmupName, { connection });
  return {
    ...enqueueOps(warmupQueue),
    process: (jobs) => processAll(warmupName, jobs),
    async cleanup() {
      await warmupQueue.obliterate({ force: true });
      await warmupQueue.close();
    },
  };
});

const batchLatency = new LatencyRecorder();
const enqueueSeconds = await enqueuePhase(params, enqueueOps(queue), batchLatency);
const processSeconds = await processAll(name, params.jobs);
await queue.obliterate({ force: true });
await queue.close();
emitResult(
  peerResult(
    `bullmq ${peerVersion("bullmq")}`,
    params,
    { removeOnComplete: true },
    batchLatency,
    enqueueSeconds,
    processSeconds,
  ),
);
// Some peer libraries leave timers or sockets behind after a clean stop; the run is over.
process.exit(0);
