/**
 * Attributes each long gap of the event loop: was the main thread running
 * (our code, or V8 collecting garbage on it), or waiting for a core?
 *
 * A 1 ms interval timer notes, at every tick, the time and the main thread's
 * scheduler counters (`/proc/self/task/<pid>/schedstat` on Linux: nanoseconds
 * on a CPU, nanoseconds runnable but waiting for one). A gap between two
 * ticks is one turn of the loop (or a few); its on-CPU time is what the
 * process itself spent, which a loaded machine does not inflate the way it
 * inflates the gap's wall time. Garbage-collection pauses (from a `gc`
 * PerformanceObserver) that overlap a gap are subtracted to get the time our
 * code ran. On other systems only wall times are reported.
 *
 * A gap in which the main thread waited for a core also says who held the
 * cores meanwhile ({@link ThreadSampler}): the other threads of this process
 * by kind (V8's platform threads, the libuv pool, others), the rest of the
 * machine, and steal. Every tick samples every thread (about 1 µs a thread),
 * so a gap is the difference of the samples at its two ends; the meter's own
 * cost is counted and reported.
 */
import { PerformanceObserver, performance } from "node:perf_hooks";
import {
  addCoreUse,
  type CoreUse,
  coreUse,
  emptyCoreUse,
  GAP_HOLDERS,
  type GapHolder,
  gapHolder,
  SAMPLE,
  ThreadSampler,
} from "./threads.js";

/** What a gap of the event loop over the threshold was made of. */
export interface Gap {
  wallMs: number;
  /** Main thread on a CPU (NaN without schedstat). */
  cpuMs: number;
  /** Main thread runnable, waiting for a CPU (NaN without schedstat). */
  waitMs: number;
  /** V8 garbage-collection pauses overlapping the gap. */
  gcMs: number;
  /** Monotonic clock at the gap's start, in µs (the time base of `--cpu-prof` profiles). */
  fromUs: number;
  /** What every core did during the gap (undefined without /proc). */
  cores?: CoreUse;
}

/** A phase's summary. */
export interface TurnSummary {
  /** Gaps longer than the threshold. */
  gaps: number;
  /** ...of which the thread ran for less than the threshold (it waited for a core). */
  waited: number;
  /** ...of which it ran longer, but not counting GC pauses for less than the threshold. */
  gc: number;
  /** ...of which our code ran longer than the threshold (GC pauses not counted). */
  ours: number;
  /** Longest on-CPU time of the main thread between two ticks. */
  maxCpuMs: number;
  /** Longest on-CPU time between two ticks less the GC pauses in it. */
  maxOwnMs: number;
  /** The three gaps in which our code ran longest. */
  worst: Gap[];
  /** The gaps in which the thread waited for a core, in the order they came (at most 20). */
  waitedGaps: Gap[];
  /** Summed over all those gaps: what the cores did (zeros without /proc). */
  waitedCores: CoreUse;
  /**
   * How many of them each holder held the cores the most in; "main not
   * waiting" counts those in which the main thread did not wait for a core
   * (it was on the CPU, or blocked), which have no holder.
   */
  waitedBy: Record<GapHolder, number>;
  /** The meter's own cost: ticks, and ms of the main thread's CPU spent sampling (ticks × median tick time). */
  ticks: number;
  meterMs: number;
}

const KEEP_WAITED = 20;

export class TurnMeter {
  readonly #thresholdMs: number;
  readonly #timer: NodeJS.Timeout;
  readonly #gcObserver: PerformanceObserver;
  /** GC pauses of the current phase: start, end (performance.now()). */
  #gcs: number[] = [];
  readonly #sampler = new ThreadSampler();
  #lastAt = performance.now();
  #lastHr = process.hrtime.bigint();
  #last = new Float64Array(SAMPLE.length);
  #now = new Float64Array(SAMPLE.length);
  /** Gaps over the threshold, raw: start, end, cpu, wait, start in µs of the monotonic clock. */
  #raw: number[] = [];
  /** What the cores did in each gap of #raw. */
  #cores: CoreUse[] = [];
  #maxCpu = 0;
  #maxCpuAt: [number, number] = [0, 0];
  #ticks = 0;
  /** The time of the last ticks, a ring: their median is a tick's cost on the CPU. */
  readonly #tickMs = new Float64Array(255);
  readonly available = this.#sampler.available;

  constructor(thresholdMs = 20) {
    this.#thresholdMs = thresholdMs;
    this.#gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.#gcs.push(entry.startTime, entry.startTime + entry.duration);
      }
    });
    this.#gcObserver.observe({ entryTypes: ["gc"] });
    if (this.available) this.#sampler.sample(this.#last, this.#lastAt);
    this.#timer = setInterval(() => this.#tick(), 1);
  }

  #tick(): void {
    const at = performance.now();
    const hr = process.hrtime.bigint();
    const now = this.#now;
    let cpu = Number.NaN;
    let wait = Number.NaN;
    if (this.available) {
      this.#sampler.sample(now, at);
      cpu = now[SAMPLE.mainRun]! - this.#last[SAMPLE.mainRun]!;
      wait = now[SAMPLE.mainWait]! - this.#last[SAMPLE.mainWait]!;
    }
    if (cpu > this.#maxCpu) {
      this.#maxCpu = cpu;
      this.#maxCpuAt = [this.#lastAt, at];
    }
    if (at - this.#lastAt > this.#thresholdMs) {
      this.#raw.push(this.#lastAt, at, cpu, wait, Number(this.#lastHr / 1000n));
      this.#cores.push(coreUse(this.#last, now));
    }
    this.#lastAt = at;
    this.#lastHr = hr;
    this.#now = this.#last;
    this.#last = now;
    this.#tickMs[this.#ticks % this.#tickMs.length] = performance.now() - at;
    this.#ticks++;
  }

  /** Clears the counters for a new phase. */
  reset(): void {
    this.#gcs = [];
    this.#raw = [];
    this.#cores = [];
    this.#maxCpu = 0;
    this.#maxCpuAt = [0, 0];
    this.#ticks = 0;
  }

  #gcIn(from: number, to: number): number {
    let ms = 0;
    for (let i = 0; i < this.#gcs.length; i += 2) {
      const a = Math.max(from, this.#gcs[i]!);
      const b = Math.min(to, this.#gcs[i + 1]!);
      if (b > a) ms += b - a;
    }
    return ms;
  }

  /** The phase so far. */
  summary(): TurnSummary {
    const t = this.#thresholdMs;
    const gaps: Gap[] = [];
    for (let i = 0; i < this.#raw.length; i += 5) {
      const from = this.#raw[i]!;
      const to = this.#raw[i + 1]!;
      gaps.push({
        wallMs: to - from,
        cpuMs: this.#raw[i + 2]!,
        waitMs: this.#raw[i + 3]!,
        gcMs: this.#gcIn(from, to),
        fromUs: this.#raw[i + 4]!,
        ...(this.available ? { cores: this.#cores[i / 5]! } : {}),
      });
    }
    let waited = 0;
    let gc = 0;
    let ours = 0;
    const waitedGaps: Gap[] = [];
    const waitedCores = emptyCoreUse();
    const waitedBy = Object.fromEntries(GAP_HOLDERS.map((h) => [h, 0])) as Record<
      GapHolder,
      number
    >;
    let maxOwn = this.#maxCpu - this.#gcIn(this.#maxCpuAt[0], this.#maxCpuAt[1]);
    for (const g of gaps) {
      maxOwn = Math.max(maxOwn, g.cpuMs - g.gcMs);
      if (!(g.cpuMs > t)) {
        waited++;
        if (waitedGaps.length < KEEP_WAITED) waitedGaps.push(g);
        if (g.cores !== undefined) {
          addCoreUse(waitedCores, g.cores);
          waitedBy[gapHolder(g.cores)]++;
        }
      } else if (g.cpuMs - g.gcMs <= t) gc++;
      else ours++;
    }
    return {
      gaps: gaps.length,
      waited,
      gc,
      ours,
      maxCpuMs: this.#maxCpu,
      maxOwnMs: Math.max(0, maxOwn),
      worst: [...gaps].sort((a, b) => b.cpuMs - b.gcMs - (a.cpuMs - a.gcMs)).slice(0, 3),
      waitedGaps,
      waitedCores,
      waitedBy,
      ticks: this.#ticks,
      meterMs: this.#ticks * this.#medianTickMs(),
    };
  }

  /**
   * A tick's cost on the CPU: the median time of the last ticks. A tick takes
   * some µs, so most run uninterrupted and their wall time is CPU time; the
   * few that are preempted or hold a GC pause would inflate a sum of wall
   * times, not the median. (The main thread's schedstat is no help here: for
   * a running thread it advances only at scheduler ticks and switches.)
   */
  #medianTickMs(): number {
    const n = Math.min(this.#ticks, this.#tickMs.length);
    if (n === 0) return 0;
    const sorted = this.#tickMs.slice(0, n).sort();
    return sorted[n >> 1]!;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#gcObserver.disconnect();
    this.#sampler.close();
  }
}
