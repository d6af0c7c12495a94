/**
 * graphile-worker on PostgreSQL running the end-to-end workload:
 *   node build/bench/compare/peer-graphile.js --url=postgres://… --jobs=N --concurrency=C [--local-queue=500]
 * Uses the settings of graphile-worker's own performance guide: a local
 * queue (batched fetch) and batched completion with no delay. Completed jobs
 * are deleted from its table, like taquba's ack. With `--warmup=W`, W jobs
 * first run the same way under a task name of their own (see `warmUp`).
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { parseCommandLine } from "../lib/args.js";
import { type EnqueueOps, endToEndParams, enqueuePhase, peerPayload, warmUp } from "../lib/e2e.js";
import { LatencyRecorder } from "../lib/latency.js";
import { sleep } from "../lib/process.js";
import { emitResult } from "../lib/result.js";
import { importPeer, peerVersion } from "./peer-module.js";
import { peerResult } from "./peer-result.js";

interface PgClient {
  query(sql: string): Promise<{ rows: { n: number }[] }>;
}
interface WorkerUtils {
  migrate(): Promise<void>;
  addJobs(specs: { identifier: string; payload: unknown }[]): Promise<unknown>;
  addJob(identifier: string, payload: unknown): Promise<unknown>;
  withPgClient<T>(callback: (client: PgClient) => Promise<T>): Promise<T>;
  release(): Promise<void>;
}
interface Runner {
  stop(): Promise<void>;
}
type LogFactory = () => () => void;
interface GraphileWorker {
  Logger: new (factory: LogFactory) => unknown;
  makeWorkerUtils(options: { connectionString: string; logger: unknown }): Promise<WorkerUtils>;
  run(options: Record<string, unknown>): Promise<Runner>;
}

const { params, localQueue, connectionString } = parseCommandLine(
  process.argv.slice(2),
  (args) => ({
    params: endToEndParams(args),
    localQueue: args.integer("local-queue", 500, 1),
    connectionString: args.string("url", "postgres://postgres@127.0.0.1:5432/postgres"),
  }),
);
const graphile = await importPeer<GraphileWorker>("graphile-worker");
const logger = new graphile.Logger(() => () => {});
const utils = await graphile.makeWorkerUtils({ connectionString, logger });
await utils.migrate();
const payload = { payload: peerPayload(params.payloadBytes) };

/** Adds jobs of task `task` as the run does. */
const enqueueOps = (task: string): EnqueueOps => ({
  one: () => utils.addJob(task, payload),
  many: (n) => utils.addJobs(Array.from({ length: n }, () => ({ identifier: task, payload }))),
});

const remaining = () =>
  utils.withPgClient(async (client) => {
    const { rows } = await client.query("select count(*)::int as n from graphile_worker.jobs");
    return rows[0]?.n ?? 0;
  });

/**
 * Runs a worker for task `task` until `jobs` jobs are handled and deleted, then stops it;
 * the seconds from its start to done (its stop not included).
 */
async function processAll(task: string, jobs: number): Promise<number> {
  const events = new EventEmitter();
  let handled = 0;
  const failures: unknown[] = [];
  events.on("job:failed", ({ error }: { error: unknown }) => failures.push(error));
  const start = performance.now();
  const runner = await graphile.run({
    connectionString,
    concurrency: params.concurrency,
    maxPoolSize: Math.max(10, params.concurrency + 2),
    noHandleSignals: true,
    pollInterval: 1_000,
    logger,
    events,
    taskList: {
      [task]: async () => {
        handled++;
      },
    },
    preset: {
      worker: {
        localQueue: localQueue > 1 ? { size: localQueue } : undefined,
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
  });
  // Completions are batched after the handler returns; done = the jobs table is empty.
  while (handled < jobs || (await remaining()) > 0) {
    if (failures.length > 0) throw failures[0];
    await sleep(handled < jobs ? 5 : 2);
  }
  const seconds = (performance.now() - start) / 1_000;
  await runner.stop();
  return seconds;
}

// Nothing to remove after the warm-up: its jobs are deleted as they complete
// (processAll waits for an empty jobs table), and jobs without a queue name
// have no queue object in graphile-worker.
await warmUp(params, () => ({
  ...enqueueOps("noop_warmup"),
  process: (jobs) => processAll("noop_warmup", jobs),
}));

const batchLatency = new LatencyRecorder();
const enqueueSeconds = await enqueuePhase(params, enqueueOps("noop"), batchLatency);
const processSeconds = await processAll("noop", params.jobs);
await utils.release();
emitResult(
  peerResult(
    `graphile-worker ${peerVersion("graphile-worker")}`,
    params,
    { localQueue, completeJobBatchDelay: 0 },
    batchLatency,
    enqueueSeconds,
    processSeconds,
  ),
);
// Some peer libraries leave timers or sockets behind after a clean stop; the run is over.
process.exit(0);
