import { performance } from "node:perf_hooks";
import { type Claim, Queue } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { payloadStamp, timedPayload } from "../lib/payload.js";
import { sleep } from "../lib/process.js";
import { type BenchResult, peakRssMb } from "../lib/result.js";
import { ArrivalSchedule, formatSchedule, parseSchedule, type Segment } from "../lib/schedule.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import { WindowSeries } from "../lib/windows.js";
import { flushMsArg, openOptions, type Workload } from "../lib/workload.js";

export interface SteadyStateParams {
  schedule: Segment[];
  workers: number;
  payloadBytes: number;
  /** Give up draining the backlog after this long (0 = no drain phase). */
  drainTimeoutSec: number;
  /** Label of the run in reports (e.g. `fixed`, `ramp`). */
  label: string;
  /** Group-commit window; default the library's. */
  flushMs?: number;
}

const QUEUE = "steady";
/** How long an idle worker waits inside `claim` before looking again. */
const IDLE_WAIT_MS = 100;

/**
 * Open-loop producers offer jobs on a schedule (one rate, or a ramp) while W
 * workers claim and ack. End-to-end latency runs from a job's *due* time to its
 * ack being durable, so a system that falls behind shows it in latency and
 * backlog instead of quietly offering less.
 */
export const steadyState: Workload<SteadyStateParams> = {
  name: "steady_state",
  describe: "offered rate (fixed or ramp) with concurrent workers: achieved rate, e2e, backlog",
  params: (args: Args) => {
    // Both are read either way, so that they are flags the workload takes.
    const fixed = { seconds: args.number("seconds", 10), rate: args.number("rate", 1_000) };
    return {
      schedule: args.has("schedule") ? parseSchedule(args.string("schedule", "")) : [fixed],
      workers: args.integer("workers", 64, 1),
      payloadBytes: args.integer("payload", 64, 0),
      drainTimeoutSec: args.number("drain-timeout", 30),
      label: args.string("label", args.has("schedule") ? "ramp" : "fixed"),
      flushMs: flushMsArg(args),
    };
  },
  async run(kind: StoreKind, params: SteadyStateParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const queue = await Queue.open(
        bench.store,
        "bench/steady-state",
        openOptions(params.flushMs),
      );
      resetTraffic(bench);
      const schedule = new ArrivalSchedule(params.schedule);
      const start = performance.now();
      const series = new WindowSeries(1_000, start);
      const enqueueLatency = new LatencyRecorder();
      const e2eLatency = new LatencyRecorder();
      const claimLatency = new LatencyRecorder();
      const ackLatency = new LatencyRecorder();
      const failures: unknown[] = [];
      let issued = 0;
      let done = 0;
      let producing = true;
      let working = true;

      const issue = (index: number): void => {
        const dueMs = start + schedule.dueAt(index);
        series.at(dueMs).enqueued++;
        queue.enqueue(QUEUE, timedPayload(params.payloadBytes, dueMs)).then(
          () => enqueueLatency.record(performance.now() - dueMs),
          (error: unknown) => failures.push(error),
        );
      };
      const producer = async (): Promise<void> => {
        while (producing) {
          const due = schedule.dueBy(performance.now() - start);
          while (issued < due) issue(issued++);
          if (issued >= schedule.totalJobs) return;
          await sleep(1);
        }
      };
      const settle = async (claim: Claim, claimedAt: number): Promise<void> => {
        await queue.ack(claim);
        const now = performance.now();
        ackLatency.record(now - claimedAt);
        const window = series.at(now);
        window.done++;
        const stamp = payloadStamp(claim.payload);
        if (stamp !== undefined) {
          e2eLatency.record(now - stamp);
          window.e2e.record(now - stamp);
        }
        done++;
      };
      const worker = async (): Promise<void> => {
        while (working) {
          const t0 = performance.now();
          const claim = await queue.claim(QUEUE);
          if (claim !== null) {
            const t1 = performance.now();
            claimLatency.record(t1 - t0);
            series.at(t1).claim.record(t1 - t0);
            await settle(claim, t1);
            continue;
          }
          // Nothing claimable: wait for the next job (not counted as claim latency).
          const waited = await queue.claim(QUEUE, { waitMs: IDLE_WAIT_MS });
          if (waited !== null) await settle(waited, performance.now());
        }
      };

      const workers = Array.from({ length: params.workers }, () =>
        worker().catch((error: unknown) => {
          failures.push(error);
        }),
      );
      await producer();
      const phaseEnd = performance.now();
      const doneInPhase = done;
      const backlogAtPhaseEnd = issued - done;
      const drainDeadline = phaseEnd + params.drainTimeoutSec * 1_000;
      while (done < issued && performance.now() < drainDeadline && failures.length === 0)
        await sleep(5);
      const drainSeconds = (performance.now() - phaseEnd) / 1_000;
      producing = false;
      working = false;
      await Promise.all(workers);
      const traffic = trafficOf(bench, done);
      await queue.close();
      if (failures.length > 0) throw failures[0];

      const phaseSeconds = (phaseEnd - start) / 1_000;
      const rows = series.rows();
      const metrics: Record<string, number> = {
        offeredPerSec: schedule.totalJobs / schedule.totalSeconds,
        achievedPerSec: doneInPhase / phaseSeconds,
        backlogAtPhaseEnd,
        backlogMax: Math.max(0, ...rows.map((r) => r.backlog ?? 0)),
        drainSeconds,
        undrained: issued - done,
        enqueueP50Ms: enqueueLatency.summary().p50,
        enqueueP99Ms: enqueueLatency.summary().p99,
        // Claims that found a job at once; idle workers waiting in claim(waitMs) are not timed.
        claimSamples: claimLatency.count,
        claimP50Ms: claimLatency.summary().p50,
        claimP99Ms: claimLatency.summary().p99,
        ackP99Ms: ackLatency.summary().p99,
      };
      // Per-segment achieved rate: completions in the segment's windows / its length.
      let from = 0;
      params.schedule.forEach((segment, i) => {
        const to = from + segment.seconds;
        const doneInSegment = rows
          .filter((r) => (r.second ?? 0) > from && (r.second ?? 0) <= to)
          .reduce((sum, r) => sum + (r.done ?? 0), 0);
        metrics[`segment${i + 1}OfferedPerSec`] = segment.rate;
        metrics[`segment${i + 1}AchievedPerSec`] = doneInSegment / segment.seconds;
        from = to;
      });
      return [
        {
          workload: "steady_state",
          target: kind,
          params: {
            label: params.label,
            schedule: formatSchedule(params.schedule),
            workers: params.workers,
            payloadBytes: params.payloadBytes,
            flushMs: params.flushMs ?? "default",
          },
          jobs: done,
          seconds: phaseSeconds,
          jobsPerSec: doneInPhase / phaseSeconds,
          latencyKind: "e2e (due → ack durable)",
          latency: e2eLatency.summary(),
          traffic,
          peakRssMb: peakRssMb(),
          metrics,
          windows: rows,
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
