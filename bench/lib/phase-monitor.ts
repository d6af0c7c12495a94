/**
 * Measures the phases of a benchmark for stalls of the event loop: the worst
 * delay (`perf_hooks.monitorEventLoopDelay`, 1 ms resolution) and its 99th
 * percentile, the V8 garbage-collection pauses (a `gc` PerformanceObserver:
 * longest, count and total, major and minor apart), and the attribution of
 * each gap over 20 ms to our code, GC or waiting for a core ({@link TurnMeter}),
 * and for the gaps waiting for a core, who held the cores.
 */
import {
  constants,
  type IntervalHistogram,
  monitorEventLoopDelay,
  PerformanceObserver,
  performance,
} from "node:perf_hooks";
import { sleep } from "./process.js";
import { type BenchResult, peakRssMb } from "./result.js";
import { type CoreUse, gapHolder } from "./threads.js";
import { TurnMeter, type TurnSummary } from "./turns.js";

/** Anything whose checkpoints a phase counts. */
export interface CheckpointSource {
  logStats(): { checkpointsWritten: number };
}

/** One measured phase: the worst event-loop delay seen while it ran. */
export interface PhaseRow {
  phase: string;
  seconds: number;
  maxMs: number;
  p99Ms: number;
  /** Longest single garbage-collection pause (V8) during the phase. */
  gcMaxMs: number;
  /** Longest major (mark-compact) and minor (scavenge) pause. */
  gcMajorMaxMs: number;
  gcMinorMaxMs: number;
  /** GC pauses in the phase and their total length. */
  gcCount: number;
  gcTotalMs: number;
  /** Longest on-CPU time of the main thread in one gap of the loop (NaN off Linux). */
  cpuMaxMs: number;
  /** The same less the GC pauses in that gap: the longest stretch of our code. */
  ownMaxMs: number;
  /** Gaps over 20 ms: all, while waiting for a core, made long by GC, by our code. */
  gaps: number;
  gapsWaited: number;
  gapsGc: number;
  gapsOurs: number;
  /**
   * Summed over the gaps waiting for a core (NaN off Linux): our V8 platform
   * threads, libuv pool and other threads on a CPU; the rest of the machine
   * and steal (±10 ms a gap), the cores' time the machine did not account (±20 ms a gap).
   */
  waitedV8Ms: number;
  waitedLibuvMs: number;
  waitedOtherMs: number;
  waitedRestMs: number;
  waitedStealMs: number;
  waitedLostMs: number;
  /** Of the gaps waiting for a core, those whose cores our V8 threads held the most, other processes, steal. */
  waitedByV8: number;
  waitedByRest: number;
  waitedBySteal: number;
  /** Of the gaps classed waiting, those in which the main thread waited < 5 ms (on the CPU or blocked): no holder. */
  waitedNotWaiting: number;
  /** Main-thread CPU the turn meter spent sampling. */
  meterMs: number;
  checkpoints: number;
}

const f1 = (ms: number) => ms.toFixed(1);

/** `wallMs` given: the main thread's time neither on a CPU nor runnable (blocked, asleep). */
function coreLine(c: CoreUse, wallMs?: number): string {
  const blocked =
    wallMs === undefined ? "" : `, blocked ${f1(Math.max(0, wallMs - c.mainRunMs - c.mainWaitMs))}`;
  return (
    `main ran ${f1(c.mainRunMs)}, waited ${f1(c.mainWaitMs)}${blocked}; our V8 threads ${f1(c.v8Ms)} (waited ${f1(c.v8WaitMs)}), ` +
    `libuv ${f1(c.libuvMs)}, other ${f1(c.otherMs)}; other processes ${c.restMs.toFixed(0)}, steal ${c.stealMs.toFixed(0)}, idle ${c.idleMs.toFixed(0)}, lost ${c.lostMs.toFixed(0)}`
  );
}

/** Who held the cores in the gaps waiting for one (summed, then each), and the meter's cost. */
function coresText(turns: TurnSummary, available: boolean): string {
  const meter = `    meter: ${turns.ticks} ticks, ${f1(turns.meterMs)} ms CPU sampling\n`;
  if (turns.waited === 0 || !available) return meter;
  const by = Object.entries(turns.waitedBy)
    .filter(([, n]) => n > 0)
    .map(([who, n]) => `${who} ${n}`)
    .join(", ");
  const each = turns.waitedGaps.map((g) =>
    g.cores === undefined
      ? ""
      : `    waited ${f1(g.wallMs)} ms at ${g.fromUs} µs: ${coreLine(g.cores, g.wallMs)}; held most by ${gapHolder(g.cores)}\n`,
  );
  return `    cores in the ${turns.waited} gaps waiting for a core: ${coreLine(turns.waitedCores)}; held most by ${by}\n${each.join("")}${meter}`;
}

export class PhaseMonitor {
  readonly #delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
  readonly #gc: PerformanceObserver;
  readonly #turns = new TurnMeter(20);
  #gcMax = 0;
  #gcMajorMax = 0;
  #gcMinorMax = 0;
  #gcCount = 0;
  #gcTotal = 0;
  #start = 0;
  #checkpointsAtStart = 0;
  readonly rows: PhaseRow[] = [];

  constructor() {
    this.#gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const ms = entry.duration;
        this.#gcMax = Math.max(this.#gcMax, ms);
        this.#gcCount++;
        this.#gcTotal += ms;
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR)
          this.#gcMajorMax = Math.max(this.#gcMajorMax, ms);
        else if (kind === constants.NODE_PERFORMANCE_GC_MINOR)
          this.#gcMinorMax = Math.max(this.#gcMinorMax, ms);
      }
    });
    this.#gc.observe({ entryTypes: ["gc"] });
    this.#delay.enable();
  }

  /** Starts a phase (after one turn of the loop: a stall right after a reset would go unseen). */
  async begin(queue: CheckpointSource): Promise<void> {
    this.#delay.reset();
    await new Promise((resolve) => setImmediate(resolve));
    this.#gcMax = 0;
    this.#gcMajorMax = 0;
    this.#gcMinorMax = 0;
    this.#gcCount = 0;
    this.#gcTotal = 0;
    this.#turns.reset();
    this.#start = performance.now();
    this.#checkpointsAtStart = queue.logStats().checkpointsWritten;
  }

  /** Ends a phase: waits for the monitor's timer to record a stall that just ended, then reads it. */
  async end(phase: string, queue: CheckpointSource): Promise<PhaseRow> {
    await sleep(25);
    const turns = this.#turns.summary();
    const row: PhaseRow = {
      phase,
      seconds: (performance.now() - this.#start) / 1_000,
      maxMs: this.#delay.max / 1e6,
      p99Ms: this.#delay.percentile(99) / 1e6,
      gcMaxMs: this.#gcMax,
      gcMajorMaxMs: this.#gcMajorMax,
      gcMinorMaxMs: this.#gcMinorMax,
      gcCount: this.#gcCount,
      gcTotalMs: this.#gcTotal,
      cpuMaxMs: turns.maxCpuMs,
      ownMaxMs: turns.maxOwnMs,
      gaps: turns.gaps,
      gapsWaited: turns.waited,
      gapsGc: turns.gc,
      gapsOurs: turns.ours,
      waitedV8Ms: this.#turns.available ? turns.waitedCores.v8Ms : Number.NaN,
      waitedLibuvMs: this.#turns.available ? turns.waitedCores.libuvMs : Number.NaN,
      waitedOtherMs: this.#turns.available ? turns.waitedCores.otherMs : Number.NaN,
      waitedRestMs: this.#turns.available ? turns.waitedCores.restMs : Number.NaN,
      waitedStealMs: this.#turns.available ? turns.waitedCores.stealMs : Number.NaN,
      waitedLostMs: this.#turns.available ? turns.waitedCores.lostMs : Number.NaN,
      waitedByV8: turns.waitedBy["our V8 threads"],
      waitedByRest: turns.waitedBy["other processes"],
      waitedBySteal: turns.waitedBy.steal,
      waitedNotWaiting: turns.waitedBy["main not waiting"],
      meterMs: turns.meterMs,
      checkpoints: queue.logStats().checkpointsWritten - this.#checkpointsAtStart,
    };
    this.rows.push(row);
    process.stderr.write(
      `  ${phase}: max ${row.maxMs.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms, gc max ${row.gcMaxMs.toFixed(1)} ms, ${row.checkpoints} checkpoints, ${row.seconds.toFixed(1)} s\n` +
        `    GC: ${row.gcCount} pauses, ${row.gcTotalMs.toFixed(0)} ms in all, longest major ${row.gcMajorMaxMs.toFixed(1)} ms, minor ${row.gcMinorMaxMs.toFixed(1)} ms\n` +
        `    longest turn on CPU ${row.cpuMaxMs.toFixed(1)} ms (${row.ownMaxMs.toFixed(1)} ms without GC); gaps > 20 ms: ${row.gaps} (${row.gapsWaited} waiting for a core, ${row.gapsGc} GC, ${row.gapsOurs} ours)\n` +
        turns.worst
          .map(
            (g) =>
              `    gap ${g.wallMs.toFixed(1)} ms at ${g.fromUs} µs: on CPU ${g.cpuMs.toFixed(1)}, waiting ${g.waitMs.toFixed(1)}, GC ${g.gcMs.toFixed(1)}\n`,
          )
          .join("") +
        coresText(turns, this.#turns.available),
    );
    return row;
  }

  stop(): void {
    this.#delay.disable();
    this.#gc.disconnect();
    this.#turns.stop();
  }
}

/**
 * A stall workload's result over its measured `rows`: no jobs per second,
 * the event-loop delay as its latency (p99 and max over the phases), and the
 * longest stall, GC pause and turns on CPU as metrics; every row of
 * `windows` (by default the measured ones) as a window.
 */
export function stallResult(
  workload: string,
  target: string,
  params: Record<string, number | string | boolean>,
  jobs: number,
  seconds: number,
  rows: readonly PhaseRow[],
  windows: readonly PhaseRow[] = rows,
): BenchResult {
  const most = (pick: (row: PhaseRow) => number) => Math.max(...rows.map(pick));
  return {
    workload,
    target,
    params,
    jobs,
    seconds,
    jobsPerSec: 0,
    latencyKind: "event-loop delay",
    latency: {
      count: 0,
      mean: 0,
      p50: 0,
      p95: 0,
      p99: most((r) => r.p99Ms),
      max: most((r) => r.maxMs),
    },
    peakRssMb: peakRssMb(),
    metrics: {
      maxStallMs: most((r) => r.maxMs),
      maxGcPauseMs: most((r) => r.gcMaxMs),
      maxCpuTurnMs: most((r) => r.cpuMaxMs),
      maxOwnTurnMs: most((r) => r.ownMaxMs),
    },
    windows: windows.map((r) => ({ ...r })) as unknown as Record<string, number>[],
  };
}
