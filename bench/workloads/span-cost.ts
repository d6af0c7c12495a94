import { performance } from "node:perf_hooks";
import * as api from "@opentelemetry/api";
import { QueueTracing } from "../../src/queue/telemetry/traces.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import type { StoreKind } from "../lib/stores.js";
import { benchTracerProvider } from "../lib/telemetry.js";
import type { Workload } from "../lib/workload.js";

export interface SpanCostParams {
  /** Spans per measured phase. */
  spans: number;
  /** Rounds: each measures the bare SDK and taquba's enqueue span, interleaved. */
  rounds: number;
  /** Share of traces sampled (1: every span recorded). */
  traceSample: number;
}

const QUEUE = "single";
const JOB_ID = "01JD0000000000000000000000";

/**
 * CPU microseconds per call of each of `bodies`, `n` calls each, measured in
 * interleaved chunks (A, B, C, then B, C, A, …) so that drift in the
 * machine's load and the garbage collector's state falls on all alike.
 */
function cpuPerCall(n: number, bodies: readonly (() => void)[]): number[] {
  const CHUNK = 5_000;
  const totals = bodies.map(() => 0);
  (globalThis as { gc?: () => void }).gc?.();
  for (let done = 0, turn = 0; done < n; done += CHUNK, turn++) {
    for (let k = 0; k < bodies.length; k++) {
      const which = (k + turn) % bodies.length;
      const body = bodies[which]!;
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < CHUNK; i++) body();
      const cpu = process.cpuUsage(cpu0);
      totals[which]! += cpu.user + cpu.system;
    }
  }
  const calls = Math.ceil(n / CHUNK) * CHUNK;
  return totals.map((micros) => micros / calls);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/**
 * The cost of one enqueue span with no queue around it, split into what the
 * OpenTelemetry SDK takes and what taquba adds: (1) the bare SDK doing what
 * taquba asks of it per enqueue (`startSpan` with the producer span's kind
 * and three attributes, `setAttribute` of the message id and `end` on a
 * recorded span), (2) taquba's `Tracing.enqueue` and `succeeded` around the
 * same SDK calls (span options per queue, the sampling check, the trace
 * context encoded as the job's 25 bytes). Same tracer provider as
 * `single_enqueue --telemetry=traces`. CPU time per span, median of rounds.
 */
export const spanCost: Workload<SpanCostParams> = {
  name: "span_cost",
  describe: "CPU µs per enqueue span: the bare OpenTelemetry SDK against taquba's tracing",
  params: (args: Args) => ({
    spans: args.integer("spans", 300_000, 1),
    rounds: args.integer("rounds", 5, 1),
    traceSample: args.number("trace-sample", 1),
  }),
  async run(_kind: StoreKind, params: SpanCostParams): Promise<BenchResult[]> {
    const provider = benchTracerProvider(params.traceSample);
    const tracer = provider.getTracer("taquba");
    const tracing = new QueueTracing(
      api,
      tracer,
      (error) => {
        throw error;
      },
      { requireParentSpan: false },
    );
    const options: api.SpanOptions = Object.freeze({
      kind: api.SpanKind.PRODUCER,
      attributes: Object.freeze({
        "messaging.system": "taquba",
        "messaging.operation.type": "send",
        "messaging.destination.name": QUEUE,
      }),
    });
    const ids = [JOB_ID];
    const sdk = (): void => {
      const span = tracer.startSpan(`enqueue ${QUEUE}`, options, api.context.active());
      if (!span.isRecording()) return;
      span.setAttribute("messaging.message.id", JOB_ID);
      span.end();
    };
    const ours = (): void => {
      tracing.enqueue(QUEUE, undefined, 1)?.succeeded(ids, true);
    };
    const none = (): void => {};
    // Warm-up: both paths optimised before anything is measured.
    for (let i = 0; i < 50_000; i++) {
      sdk();
      ours();
    }
    const sdkRounds: number[] = [];
    const oursRounds: number[] = [];
    const loopRounds: number[] = [];
    const t0 = performance.now();
    for (let r = 0; r < params.rounds; r++) {
      const [sdkMicros, oursMicros, loopMicros] = cpuPerCall(params.spans, [sdk, ours, none]);
      sdkRounds.push(sdkMicros!);
      oursRounds.push(oursMicros!);
      loopRounds.push(loopMicros!);
    }
    const seconds = (performance.now() - t0) / 1_000;
    await provider.shutdown();
    const sdkMicros = median(sdkRounds);
    const oursMicros = median(oursRounds);
    const spans = params.spans * params.rounds * 2;
    return [
      {
        workload: "span_cost",
        target: "none",
        params: paramsOf(params),
        jobs: spans,
        seconds,
        jobsPerSec: spans / seconds,
        latencyKind: "none",
        latency: new LatencyRecorder().summary(),
        peakRssMb: peakRssMb(),
        metrics: {
          sdkMicrosPerSpan: sdkMicros,
          taqubaMicrosPerSpan: oursMicros,
          taqubaOwnMicrosPerSpan: oursMicros - sdkMicros,
          emptyLoopMicros: median(loopRounds),
        },
      },
    ];
  },
};
