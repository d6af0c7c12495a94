import { performance } from "node:perf_hooks";
import { Queue, runWorker } from "../../src/index.js";
import { type Args, UsageError } from "../lib/args.js";
import {
  type EndToEndParams,
  endToEndMetrics,
  endToEndParams,
  enqueueLatencyKind,
  enqueuePhase,
  warmUp,
} from "../lib/e2e.js";
import { LatencyRecorder } from "../lib/latency.js";
import { requestContexts } from "../lib/request-contexts.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import { benchTelemetry, type TelemetryParams, telemetryParams } from "../lib/telemetry.js";
import { assertTelemetry, type ExpectedEnqueueSpans } from "../lib/telemetry-check.js";
import { openOptions, type Workload } from "../lib/workload.js";

const QUEUE = "e2e";
/** The warm-up's own queue (see `warmUp`): the measured queue starts empty, its telemetry the measured jobs' alone. */
const WARMUP_QUEUE = "e2e-warmup";

const cpuMicros = (usage: NodeJS.CpuUsage): number => usage.user + usage.system;

/** How handler runs' spans are sampled (they have no parent span in a worker). */
type HandlerSampling = "linked" | "ratio";

export interface TaqubaEndToEndParams extends EndToEndParams, TelemetryParams {
  /**
   * With traces: `linked` records the handler span of exactly the jobs whose
   * enqueue span was sampled (a root sampler that follows the span's link to
   * its enqueue); `ratio` leaves handler spans to `ParentBased(TraceIdRatio)`
   * alone, so a random share of them is recorded, mostly of jobs whose
   * enqueue was not traced.
   */
  handlerSampling: HandlerSampling;
}

function handlerSamplingArg(value: string): HandlerSampling {
  if (value !== "linked" && value !== "ratio")
    throw new UsageError(`Expected \`--handler-sampling\` to be linked or ratio, got "${value}"`);
  return value;
}

/** Jobs of enqueue call number `call` (one per call from producers, else batches in order). */
function jobsOfCall(params: EndToEndParams, call: number): number {
  return params.producers > 0 ? 1 : Math.min(params.batch, params.jobs - call * params.batch);
}

/** The comparison workload (same as the peers run): enqueue N in batches, process with C. */
export const endToEnd: Workload<TaqubaEndToEndParams> = {
  name: "end_to_end",
  describe:
    "enqueue N in batches (or one per call from --producers=P), then process with concurrency C (the peer comparison workload)",
  params: (args: Args) => ({
    ...endToEndParams(args),
    ...telemetryParams(args),
    handlerSampling: handlerSamplingArg(args.string("handler-sampling", "linked")),
  }),
  async run(kind: StoreKind, params: TaqubaEndToEndParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    const requests = requestContexts(params.requests, params.requestSpans);
    try {
      // The warm-up runs with the measured run's telemetry on, so that its
      // code is warmed too; what is observed and checked is the measured
      // queue's telemetry alone (`QUEUE`), so the checks below expect exactly
      // the measured run's jobs and spans, as without a warm-up.
      const otel = benchTelemetry(
        params.telemetry,
        params.traceSample,
        params.requireParent,
        params.handlerSampling === "linked",
        QUEUE,
      );
      const queue = await Queue.open(bench.store, "bench/end-to-end", {
        ...openOptions(params.flushMs),
        ...(otel.telemetry === undefined ? {} : { telemetry: otel.telemetry }),
      });
      const payload = new Uint8Array(params.payloadBytes).fill(0x61);
      /** Enqueues into `name` as the run does: in request contexts numbered from 0 in call order, if any. */
      const enqueueOps = (name: string) => {
        const one = () => queue.enqueue(name, payload);
        const many = (n: number) =>
          queue.enqueueBatch(
            name,
            Array.from({ length: n }, () => payload),
          );
        let calls = 0;
        return requests === undefined
          ? { one, many }
          : {
              one: () => requests.run(calls++, one),
              many: (n: number) => requests.run(calls++, () => many(n)),
            };
      };
      /** Processes `jobs` jobs of `name` with the run's worker options; resolves once their acks are durable. */
      const processAll = async (name: string, jobs: number): Promise<number> => {
        let handled = 0;
        const controller = new AbortController();
        await runWorker(
          queue,
          name,
          () => {
            if (++handled === jobs) controller.abort();
          },
          {
            concurrency: params.concurrency,
            ...(params.prefetch === undefined ? {} : { prefetch: params.prefetch }),
            signal: controller.signal,
          },
        );
        // runWorker resolves once in-flight jobs are settled; flush proves the acks are durable.
        await queue.flush();
        return handled;
      };
      await warmUp(params, () => ({
        ...enqueueOps(WARMUP_QUEUE),
        process: (jobs) => processAll(WARMUP_QUEUE, jobs),
        // The warm-up's spans are exported now, not by the batch processor during the run.
        cleanup: () => otel.flush(),
      }));
      resetTraffic(bench);
      const batchLatency = new LatencyRecorder();
      const enqueueCpu0 = process.cpuUsage();
      const enqueueStart = performance.now();
      await enqueuePhase(params, enqueueOps(QUEUE), batchLatency);
      const enqueueCpu = process.cpuUsage(enqueueCpu0);
      const processCpu0 = process.cpuUsage();
      const processStart = performance.now();
      const handled = await processAll(QUEUE, params.jobs);
      const end = performance.now();
      const processCpu = process.cpuUsage(processCpu0);
      const traffic = trafficOf(bench, params.jobs);
      await queue.close();
      // After close: the queue's job counters are flushed into the SDK's.
      const observed = await otel.observe();
      await otel.shutdown();
      assertTelemetry(observed, {
        jobs: params.jobs,
        metrics: params.telemetry === "metrics" || params.telemetry === "both",
        traces: params.telemetry === "traces" || params.telemetry === "both",
        enqueueSpans: expectedEnqueueSpans(params, requests?.sampled),
        handlerSpans:
          params.handlerSampling === "linked" ? "linked" : { ratio: params.traceSample },
      });
      const enqueueSeconds = (processStart - enqueueStart) / 1_000;
      const processSeconds = (end - processStart) / 1_000;
      return [
        {
          workload: "end_to_end",
          // A run with claims held ready is its own row in the comparison.
          target: params.prefetch === undefined ? kind : `${kind} prefetch=${params.prefetch}`,
          params: paramsOf(params),
          jobs: handled,
          seconds: enqueueSeconds + processSeconds,
          jobsPerSec: params.jobs / (enqueueSeconds + processSeconds),
          latencyKind: enqueueLatencyKind(params, "enqueueBatch"),
          latency: batchLatency.summary(),
          traffic,
          peakRssMb: peakRssMb(),
          metrics: {
            ...endToEndMetrics(params, enqueueSeconds, processSeconds),
            // The process's CPU (user + system, all threads) per job in each phase.
            enqueueCpuMicrosPerJob: cpuMicros(enqueueCpu) / params.jobs,
            processCpuMicrosPerJob: cpuMicros(processCpu) / params.jobs,
            // What the telemetry reported (checked above against the set-up).
            enqueueSpans: observed.spans.producer,
            handlerSpans: observed.spans.consumer,
            linkedHandlerSpans: observed.spans.linkedToExported,
            metricPoints: observed.metrics.points,
          },
        },
      ];
    } finally {
      await requests?.shutdown();
      await bench.cleanup();
    }
  },
};

/** Enqueue spans the set-up implies: those of sampled requests, none, or a ratio of root spans. */
function expectedEnqueueSpans(
  params: TaqubaEndToEndParams,
  sampled: ((request: number) => boolean) | undefined,
): ExpectedEnqueueSpans {
  const calls = params.producers > 0 ? params.jobs : Math.ceil(params.jobs / params.batch);
  if (sampled === undefined)
    return params.requireParent ? { exact: 0, jobs: 0 } : { ratio: params.traceSample, calls };
  // A sampled request's enqueue records its span whatever the ratio (parent-based); an
  // unsampled one's is sampled out, or not started with requireParentSpan.
  let exact = 0;
  let jobs = 0;
  for (let call = 0; call < calls; call++)
    if (sampled(call)) {
      exact++;
      jobs += jobsOfCall(params, call);
    }
  return { exact, jobs };
}
