import { performance } from "node:perf_hooks";
import { context } from "@opentelemetry/api";
import { Queue } from "../../src/index.js";
import { type Args, UsageError } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { requestContexts } from "../lib/request-contexts.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { type BenchStore, createBenchStore, type StoreKind } from "../lib/stores.js";
import { benchTelemetry, TELEMETRY_MODES, type TelemetryMode } from "../lib/telemetry.js";
import type { Workload } from "../lib/workload.js";

export interface TelemetryOverheadParams {
  /** Jobs per mode in the measured phase. */
  jobs: number;
  /** Jobs per mode per turn: the modes take turns in chunks of this size. */
  chunk: number;
  producers: number;
  payloadBytes: number;
  /** Jobs each queue enqueues before the measured phase (JIT warm-up). */
  warmup: number;
  /**
   * Comma-separated modes: `off`, `default` (the option left out; the bench
   * registers no provider), `metrics`, `traces`, `both`, each optionally
   * `:<sample ratio>` and then `:parent` (`requireParentSpan: true`).
   */
  modes: string;
  /**
   * When above 0, every enqueue (in every mode alike) runs inside a request's
   * context, as in a traced web app: this share of requests has a recording
   * (sampled) span, the others an unsampled, non-recording one; an
   * AsyncLocalStorage context manager is registered. 0: no context at all.
   */
  requests: number;
  /**
   * With `requests`: each request also runs inside a server span started and
   * ended around it, as an HTTP instrumentation does (recorded for the
   * sampled share, non-recording for the rest): the baseline of an
   * application that traces its requests.
   */
  requestSpans: boolean;
}

interface Mode {
  label: string;
  telemetry: TelemetryMode;
  sample: number;
  requireParentSpan: boolean;
}

function parseModes(raw: string): Mode[] {
  return raw.split(",").map((label) => {
    const [name, ratio, parent] = label.split(":");
    const telemetry = TELEMETRY_MODES.find((m) => m === name);
    const sample = ratio === undefined ? 1 : Number(ratio);
    if (
      telemetry === undefined ||
      !(sample >= 0 && sample <= 1) ||
      (parent !== undefined && parent !== "parent")
    )
      throw new UsageError(
        `Expected \`--modes\` items like off, metrics, traces:0.01, traces:0.01:parent; got "${label}"`,
      );
    return { label, telemetry, sample, requireParentSpan: parent === "parent" };
  });
}

/** `--modes`, checked before anything runs. */
function checkedModes(raw: string): string {
  parseModes(raw);
  return raw;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const QUEUE = "single";

/**
 * The single-enqueue workload (P producers each awaiting its own enqueue)
 * run on one queue per telemetry mode, each on its own store, in one
 * process: the modes take turns in chunks (in a rotating order), so that
 * changes in the machine's load fall on every mode alike. Reports each
 * mode's CPU per job and its overhead against `off`: the median, over turns,
 * of the mode's CPU per job in that turn divided by `off`'s in the same turn.
 */
export const telemetryOverhead: Workload<TelemetryOverheadParams> = {
  name: "telemetry_overhead",
  describe: "single_enqueue per telemetry mode, interleaved in one process: CPU per job vs off",
  params: (args: Args) => ({
    jobs: args.integer("jobs", 300_000, 1),
    chunk: args.integer("chunk", 10_000, 1),
    producers: args.integer("producers", 64, 1),
    payloadBytes: args.integer("payload", 64, 0),
    warmup: args.integer("warmup", 20_000, 0),
    modes: checkedModes(args.string("modes", "off,metrics,traces,traces:0.1,traces:0.01")),
    requests: args.number("requests", 0),
    requestSpans: args.flag("request-spans"),
  }),
  async run(kind: StoreKind, params: TelemetryOverheadParams): Promise<BenchResult[]> {
    const modes = parseModes(params.modes);
    const baseline = modes.findIndex((m) => m.telemetry === "off");
    if (baseline < 0) throw new Error("`--modes` must include off (the baseline)");
    const stores: BenchStore[] = [];
    const otels: ReturnType<typeof benchTelemetry>[] = [];
    const queues: Queue[] = [];
    const payload = new Uint8Array(params.payloadBytes).fill(0x61);
    const requests = requestContexts(params.requests, params.requestSpans);
    let sentAll = 0;
    const produce = async (queue: Queue, name: string, count: number) => {
      let sent = 0;
      const producer = async (): Promise<void> => {
        while (sent < count) {
          sent++;
          if (requests === undefined) await queue.enqueue(name, payload);
          else if (params.requestSpans)
            await requests.serve(sentAll++, () => queue.enqueue(name, payload));
          else await context.with(requests.of(sentAll++), () => queue.enqueue(name, payload));
        }
      };
      await Promise.all(Array.from({ length: params.producers }, producer));
    };
    try {
      for (const [i, mode] of modes.entries()) {
        const bench = await createBenchStore(kind);
        stores.push(bench);
        const otel = benchTelemetry(mode.telemetry, mode.sample, mode.requireParentSpan);
        otels.push(otel);
        queues.push(
          await Queue.open(bench.store, `bench/telemetry-overhead-${i}`, {
            ...(otel.telemetry === undefined ? {} : { telemetry: otel.telemetry }),
          }),
        );
      }
      for (const queue of queues) await produce(queue, "warmup", params.warmup);
      const cpu = modes.map(() => 0);
      const wall = modes.map(() => 0);
      const ratios: number[][] = modes.map(() => []);
      const turns = Math.ceil(params.jobs / params.chunk);
      const t0 = performance.now();
      for (let turn = 0; turn < turns; turn++) {
        const turnCpu = modes.map(() => 0);
        for (let k = 0; k < modes.length; k++) {
          const m = (k + turn) % modes.length;
          const c0 = process.cpuUsage();
          const w0 = performance.now();
          await produce(queues[m]!, QUEUE, params.chunk);
          const c = process.cpuUsage(c0);
          turnCpu[m] = c.user + c.system;
          cpu[m]! += turnCpu[m]!;
          wall[m]! += performance.now() - w0;
        }
        for (let m = 0; m < modes.length; m++) ratios[m]!.push(turnCpu[m]! / turnCpu[baseline]!);
      }
      const seconds = (performance.now() - t0) / 1_000;
      const jobs = turns * params.chunk;
      for (const queue of queues) await queue.close();
      return modes.map((mode, m) => ({
        workload: "telemetry_overhead",
        target: kind,
        params: paramsOf(params, { mode: mode.label }),
        jobs,
        seconds,
        jobsPerSec: jobs / (wall[m]! / 1_000),
        latencyKind: "none",
        latency: new LatencyRecorder().summary(),
        peakRssMb: peakRssMb(),
        metrics: {
          cpuMicrosPerJob: cpu[m]! / jobs,
          overheadVsOffPct: (median(ratios[m]!) - 1) * 100,
          overheadVsOffTotalPct: (cpu[m]! / cpu[baseline]! - 1) * 100,
        },
      }));
    } finally {
      await requests?.shutdown();
      for (const otel of otels) await otel.shutdown();
      for (const bench of stores) await bench.cleanup();
    }
  },
};
