import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Queue, silentLogger } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { sleep } from "../lib/process.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, type StoreKind } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface SchedulesParams {
  /** Durable schedules the queue holds. */
  schedules: number;
  /** `schedule()` calls timed (one after the other) once the queue holds them all. */
  calls: number;
  /** Length of the idle phase (no traffic; the schedules' fires are hours apart). */
  idleSeconds: number;
}

const PATH = "bench/schedules";

/** The cron of schedule `i`: once a day, at a minute spread over the day. */
function cronOf(i: number): string {
  const minuteOfDay = (i * 7919) % 1_440;
  return `${minuteOfDay % 60} ${Math.floor(minuteOfDay / 60)} * * *`;
}

/**
 * A queue holding N durable schedules (daily crons spread over the day):
 * the cost of one more `schedule()` call and of an `unschedule()` once they
 * exist, the worst event-loop delay while nothing fires (the scheduler must
 * not walk every schedule on a tick), and the open of a second process
 * (which plans every schedule's next fire).
 */
export const schedules: Workload<SchedulesParams> = {
  name: "schedules",
  describe: "N durable schedules: schedule()/unschedule() cost, idle event-loop delay, reopen",
  params: (args: Args) => ({
    schedules: args.integer("schedules", 20_000, 0),
    calls: args.integer("calls", 500, 1),
    idleSeconds: args.number("idle-seconds", 10),
  }),
  async run(kind: StoreKind, params: SchedulesParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const spec = (i: number) => ({ cron: cronOf(i), queue: "cron", payload: `job ${i}` });
    try {
      const queue = await Queue.open(bench.store, PATH, { logger: silentLogger });
      const fillStart = performance.now();
      for (let i = 0; i < params.schedules; i += 200)
        await Promise.all(
          Array.from({ length: Math.min(200, params.schedules - i) }, (_, k) =>
            queue.schedule(`s${i + k}`, spec(i + k)),
          ),
        );
      const fillSeconds = (performance.now() - fillStart) / 1_000;
      process.stderr.write(
        `  filled ${params.schedules} schedules in ${fillSeconds.toFixed(1)} s\n`,
      );

      // One call at a time, as an app would make them.
      delay.reset();
      const calls = new LatencyRecorder();
      const callsStart = performance.now();
      for (let i = 0; i < params.calls; i++) {
        const t = performance.now();
        await queue.schedule(`extra${i}`, spec(params.schedules + i));
        calls.record(performance.now() - t);
      }
      const callsSeconds = (performance.now() - callsStart) / 1_000;
      const callsDelayMax = delay.max / 1e6;
      const removes = new LatencyRecorder();
      for (let i = 0; i < params.calls; i++) {
        const t = performance.now();
        await queue.unschedule(`extra${i}`);
        removes.record(performance.now() - t);
      }

      await queue.flush();
      await sleep(50);
      delay.reset();
      await sleep(params.idleSeconds * 1_000);
      const idleMax = delay.max / 1e6;
      const idleP99 = delay.percentile(99) / 1e6;
      await queue.close();

      await sleep(50);
      delay.reset();
      const openStart = performance.now();
      const second = await Queue.open(bench.store, PATH, { logger: silentLogger });
      const openSeconds = (performance.now() - openStart) / 1_000;
      const listed = await second.listSchedules();
      await sleep(200);
      const reopenMax = delay.max / 1e6;
      await second.close();
      delay.disable();
      const callSummary = calls.summary();
      const removeSummary = removes.summary();
      process.stderr.write(
        `  schedule() p50 ${callSummary.p50.toFixed(2)} ms p99 ${callSummary.p99.toFixed(2)} ms; unschedule() p50 ${removeSummary.p50.toFixed(2)} ms; idle loop delay max ${idleMax.toFixed(1)} ms p99 ${idleP99.toFixed(1)} ms; reopen ${openSeconds.toFixed(2)} s, loop delay max ${reopenMax.toFixed(1)} ms\n`,
      );
      return [
        {
          workload: "schedules",
          target: kind,
          params: paramsOf(params),
          jobs: params.calls,
          seconds: callsSeconds,
          jobsPerSec: params.calls / callsSeconds,
          latencyKind: "schedule() call with N schedules (awaited, one at a time)",
          latency: callSummary,
          peakRssMb: peakRssMb(),
          metrics: {
            fillSeconds,
            scheduleP50Ms: callSummary.p50,
            scheduleP99Ms: callSummary.p99,
            unscheduleP50Ms: removeSummary.p50,
            unscheduleP99Ms: removeSummary.p99,
            callsLoopDelayMaxMs: callsDelayMax,
            idleLoopDelayMaxMs: idleMax,
            idleLoopDelayP99Ms: idleP99,
            reopenSeconds: openSeconds,
            reopenLoopDelayMaxMs: reopenMax,
            listedSchedules: listed.length,
          },
        },
      ];
    } finally {
      delay.disable();
      await bench.cleanup();
    }
  },
};
