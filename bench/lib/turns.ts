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
 */
import { readFileSync } from "node:fs";
import { PerformanceObserver, performance } from "node:perf_hooks";

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
}

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

function readSchedstat(): [number, number] | null {
  try {
    const [run, wait] = readFileSync(SCHEDSTAT, "latin1").split(" ");
    return [Number(run) / 1e6, Number(wait) / 1e6];
  } catch {
    return null;
  }
}

export class TurnMeter {
  readonly #thresholdMs: number;
  readonly #timer: NodeJS.Timeout;
  readonly #gcObserver: PerformanceObserver;
  /** GC pauses of the current phase: start, end (performance.now()). */
  #gcs: number[] = [];
  #lastAt = performance.now();
  #lastHr = process.hrtime.bigint();
  #last = readSchedstat();
  /** Gaps over the threshold, raw: start, end, cpu, wait, start in µs of the monotonic clock. */
  #raw: number[] = [];
  #maxCpu = 0;
  #maxCpuAt: [number, number] = [0, 0];
  readonly available = this.#last !== null;

  constructor(thresholdMs = 20) {
    this.#thresholdMs = thresholdMs;
    this.#gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.#gcs.push(entry.startTime, entry.startTime + entry.duration);
      }
    });
    this.#gcObserver.observe({ entryTypes: ["gc"] });
    this.#timer = setInterval(() => this.#tick(), 1);
  }

  #tick(): void {
    const at = performance.now();
    const hr = process.hrtime.bigint();
    const now = readSchedstat();
    const cpu = now !== null && this.#last !== null ? now[0] - this.#last[0] : Number.NaN;
    const wait = now !== null && this.#last !== null ? now[1] - this.#last[1] : Number.NaN;
    if (cpu > this.#maxCpu) {
      this.#maxCpu = cpu;
      this.#maxCpuAt = [this.#lastAt, at];
    }
    if (at - this.#lastAt > this.#thresholdMs)
      this.#raw.push(this.#lastAt, at, cpu, wait, Number(this.#lastHr / 1000n));
    this.#lastAt = at;
    this.#lastHr = hr;
    this.#last = now;
  }

  /** Clears the counters for a new phase. */
  reset(): void {
    this.#gcs = [];
    this.#raw = [];
    this.#maxCpu = 0;
    this.#maxCpuAt = [0, 0];
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
      });
    }
    let waited = 0;
    let gc = 0;
    let ours = 0;
    let maxOwn = this.#maxCpu - this.#gcIn(this.#maxCpuAt[0], this.#maxCpuAt[1]);
    for (const g of gaps) {
      maxOwn = Math.max(maxOwn, g.cpuMs - g.gcMs);
      if (!(g.cpuMs > t)) waited++;
      else if (g.cpuMs - g.gcMs <= t) gc++;
      else ours++;
    }
    return {
      gaps: gaps.length,
      waited,
      gc,
      ours,
      maxCpuMs: this.#maxCpu,
      maxOwnMs: Math.max(0, maxOwn),
      worst: gaps.sort((a, b) => b.cpuMs - b.gcMs - (a.cpuMs - a.gcMs)).slice(0, 3),
    };
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#gcObserver.disconnect();
  }
}
