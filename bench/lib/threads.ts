/**
 * Who held the cores: the CPU time of every thread of this process, by kind,
 * and of the whole machine, read from /proc on Linux.
 *
 * Each thread's `/proc/self/task/<tid>/schedstat` (nanoseconds on a CPU,
 * nanoseconds runnable but waiting for one) is kept open and re-read with a
 * positioned read (about 1 µs a file), so a sample of all of them can be taken
 * at every tick of a 1 ms timer. The machine's counters come from the first
 * line of `/proc/stat`, in clock ticks of 10 ms: over a gap of 20–30 ms they
 * are exact to about ±10 ms per counter, so they are best read summed over
 * many gaps.
 *
 * Threads are told apart by the order Node creates them (Node 20 and 22): the
 * main thread (its id is the process id), then the V8 platform (the delayed
 * task scheduler and `--v8-pool-size` workers, 4 by default: concurrent
 * marking, sweeping, compiles), then the inspector's signal thread (idle,
 * counted as "other"), then the libuv pool (`UV_THREADPOOL_SIZE`, 4 by
 * default, started at the first use of the pool). A thread named
 * `libuv-worker` (libuv ≥ 1.45) or `DelayedTaskSche` is classed by its name,
 * and once a thread carries the libuv name, unnamed threads are never taken
 * for the pool. Everything else (worker threads, ...) is "other".
 *
 * New threads are looked for every 50 ms and counted from the first sample
 * that sees them; a thread that exits loses the time since its last sample.
 * Neither matters for the threads measured here, which live as long as the
 * process.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { availableParallelism } from "node:os";

export type ThreadKind = "main" | "v8" | "libuv" | "other";

const KINDS: readonly ThreadKind[] = ["main", "v8", "libuv", "other"];

/**
 * Layout of a sample (all cumulative, ms): for each kind its run and wait
 * time, then the machine's busy, steal and idle time over all cores.
 */
export const SAMPLE = {
  mainRun: 0,
  mainWait: 1,
  v8Run: 2,
  v8Wait: 3,
  libuvRun: 4,
  libuvWait: 5,
  otherRun: 6,
  otherWait: 7,
  machineBusy: 8,
  machineSteal: 9,
  machineIdle: 10,
  /** The sample's time (performance.now()) times the number of cores. */
  coreTime: 11,
  length: 12,
} as const;

/** What the cores did during one stretch of time, in ms. */
export interface CoreUse {
  /** The main thread on a CPU, and runnable but waiting for one. */
  mainRunMs: number;
  mainWaitMs: number;
  /** The V8 platform's threads on a CPU (GC marking and sweeping, compiles), and waiting. */
  v8Ms: number;
  v8WaitMs: number;
  /** The libuv pool's threads on a CPU. */
  libuvMs: number;
  /** Other threads of this process (worker threads) on a CPU. */
  otherMs: number;
  /** Busy time of all cores not spent by this process: other processes, the kernel, interrupts (±10 ms). */
  restMs: number;
  /** Time the hypervisor ran something else while a core of ours had work (±10 ms). */
  stealMs: number;
  /** Idle time of all cores (±10 ms). */
  idleMs: number;
  /**
   * Time of all cores that the machine accounts to nothing: not busy, not
   * idle, not steal (±20 ms). Beyond that error, the machine was not running
   * (paused by its host) without the host reporting it as steal.
   */
  lostMs: number;
}

/** The change between two samples. */
export function coreUse(from: Float64Array, to: Float64Array): CoreUse {
  const d = (i: number) => to[i]! - from[i]!;
  const ours = d(SAMPLE.mainRun) + d(SAMPLE.v8Run) + d(SAMPLE.libuvRun) + d(SAMPLE.otherRun);
  return {
    mainRunMs: d(SAMPLE.mainRun),
    mainWaitMs: d(SAMPLE.mainWait),
    v8Ms: d(SAMPLE.v8Run),
    v8WaitMs: d(SAMPLE.v8Wait),
    libuvMs: d(SAMPLE.libuvRun),
    otherMs: d(SAMPLE.otherRun),
    restMs: d(SAMPLE.machineBusy) - ours,
    stealMs: d(SAMPLE.machineSteal),
    idleMs: d(SAMPLE.machineIdle),
    lostMs:
      d(SAMPLE.coreTime) - d(SAMPLE.machineBusy) - d(SAMPLE.machineSteal) - d(SAMPLE.machineIdle),
  };
}

/** Adds `b` into `a`. */
export function addCoreUse(a: CoreUse, b: CoreUse): void {
  for (const key of Object.keys(a) as (keyof CoreUse)[]) a[key] += b[key];
}

export function emptyCoreUse(): CoreUse {
  return {
    mainRunMs: 0,
    mainWaitMs: 0,
    v8Ms: 0,
    v8WaitMs: 0,
    libuvMs: 0,
    otherMs: 0,
    restMs: 0,
    stealMs: 0,
    idleMs: 0,
    lostMs: 0,
  };
}

/** Who held the cores the most while the main thread waited for one; "unknown" when no share is above its error. */
export type Holder =
  | "our V8 threads"
  | "our libuv pool"
  | "our other threads"
  | "other processes"
  | "steal"
  | "the host (lost)"
  | "unknown";

export const HOLDERS: readonly Holder[] = [
  "our V8 threads",
  "our libuv pool",
  "our other threads",
  "other processes",
  "steal",
  "the host (lost)",
  "unknown",
];

/** Clock ticks of `/proc/stat` (USER_HZ is 100 on every Linux architecture Node runs on). */
const TICK_MS = 10;

/** Below this, a thread's share (exact, from schedstat) names no holder. */
export const HOLDER_MIN_MS = 5;

/**
 * The largest share of the cores, or "unknown" when none is above its error:
 * {@link HOLDER_MIN_MS} for our threads, and more than one `/proc/stat` tick
 * for the machine's counters (other processes, steal, lost), which are
 * differences of 10 ms ticks.
 */
export function holder(use: CoreUse): Holder {
  const shares: [Holder, number, number][] = [
    ["our V8 threads", use.v8Ms, HOLDER_MIN_MS],
    ["our libuv pool", use.libuvMs, HOLDER_MIN_MS],
    ["our other threads", use.otherMs, HOLDER_MIN_MS],
    ["other processes", use.restMs, TICK_MS],
    ["steal", use.stealMs, TICK_MS],
    ["the host (lost)", use.lostMs, 2 * TICK_MS],
  ];
  let best: Holder = "unknown";
  let most = Number.NEGATIVE_INFINITY;
  for (const [who, ms, error] of shares)
    if (ms > error && ms > most) {
      best = who;
      most = ms;
    }
  return best;
}

/**
 * Who held the cores in a gap, if the main thread waited for one (at least
 * {@link HOLDER_MIN_MS}): otherwise it was on the CPU (a turn of ours) or
 * blocked (not runnable) for the gap, and nobody held it up.
 */
export type GapHolder = Holder | "main not waiting";

export const GAP_HOLDERS: readonly GapHolder[] = [...HOLDERS, "main not waiting"];

export function gapHolder(use: CoreUse): GapHolder {
  return use.mainWaitMs < HOLDER_MIN_MS ? "main not waiting" : holder(use);
}

/**
 * Thread ids in the order they were created: by their distance after the
 * main thread's id (the process id) modulo `pidMax`, since Linux hands out ids
 * cyclically and wraps at `/proc/sys/kernel/pid_max`.
 */
export function creationOrder(tids: number[], pid: number, pidMax: number): number[] {
  const rank = (tid: number) => (((tid - pid) % pidMax) + pidMax) % pidMax;
  return [...tids].sort((a, b) => rank(a) - rank(b));
}

function readPidMax(): number {
  try {
    const n = Number(readFileSync("/proc/sys/kernel/pid_max", "latin1").trim());
    return Number.isInteger(n) && n > 0 ? n : 4194304;
  } catch {
    return 4194304;
  }
}

function optionValue(name: string): string | undefined {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)];
  for (const a of args) if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  return undefined;
}

/** Threads of the V8 platform: the delayed task scheduler and its workers. */
export function platformThreads(): number {
  const given = Number(optionValue("--v8-pool-size") ?? 4);
  const workers = given > 0 ? given : Math.max(1, availableParallelism() - 1);
  return 1 + workers;
}

function libuvPoolSize(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

interface Thread {
  tid: number;
  fd: number;
  kind: number;
  run: number;
  wait: number;
}

const TASKS = "/proc/self/task";
const RESCAN_MS = 50;

export class ThreadSampler {
  readonly #buf = Buffer.alloc(4096);
  readonly #threads = new Map<number, Thread>();
  /** Every thread id seen, in creation order ({@link creationOrder}): a thread's rank. */
  #seen: number[] = [];
  readonly #pidMax = readPidMax();
  #libuvNamed = false;
  readonly #platform = platformThreads();
  readonly #inspector = process.features.inspector ? 1 : 0;
  readonly #libuv = libuvPoolSize();
  #statFd = -1;
  #lastScan = Number.NEGATIVE_INFINITY;
  /** Cumulative run and wait per kind, ms (threads gone keep what they had). */
  readonly #acc = new Float64Array(8);
  /** Cores counted in `/proc/stat`. */
  #cores = 1;
  readonly available: boolean;

  constructor() {
    try {
      this.#statFd = openSync("/proc/stat", "r");
      this.#cores = (readFileSync("/proc/stat", "latin1").match(/^cpu\d+ /gm) ?? [""]).length;
      this.#rescan(0);
      this.available = this.#threads.has(process.pid);
    } catch {
      this.available = false;
    }
  }

  /** The kind each live thread was classed as, by thread id. */
  kinds(): Map<number, ThreadKind> {
    return new Map([...this.#threads.values()].map((t) => [t.tid, KINDS[t.kind]!]));
  }

  #kindOf(tid: number, name: string): number {
    if (tid === process.pid) return 0;
    if (name === "libuv-worker") return 2;
    if (name.startsWith("DelayedTaskSch") || name.startsWith("V8 ")) return 1;
    const rank = this.#seen.indexOf(tid);
    if (rank >= 1 && rank <= this.#platform) return 1;
    const pool = rank - this.#platform - this.#inspector;
    if (!this.#libuvNamed && pool >= 1 && pool <= this.#libuv) return 2;
    return 3;
  }

  #rescan(now: number): void {
    this.#lastScan = now;
    const found: number[] = [];
    let entries: string[];
    try {
      entries = readdirSync(TASKS);
    } catch {
      return; // e.g. EMFILE: keep the threads known so far, look again at the next rescan
    }
    for (const entry of entries) {
      const tid = Number(entry);
      if (!this.#threads.has(tid)) found.push(tid);
    }
    if (found.length === 0) return;
    const named: [number, string][] = [];
    for (const tid of found) {
      let name = "";
      try {
        name = readFileSync(`${TASKS}/${tid}/comm`, "latin1").trim();
      } catch {
        continue;
      }
      if (name === "libuv-worker") this.#libuvNamed = true;
      named.push([tid, name]);
    }
    this.#seen = creationOrder([...new Set([...this.#seen, ...found])], process.pid, this.#pidMax);
    for (const [tid, name] of named) {
      let fd: number;
      try {
        fd = openSync(`${TASKS}/${tid}/schedstat`, "r");
      } catch {
        continue;
      }
      const t: Thread = { tid, fd, kind: this.#kindOf(tid, name), run: 0, wait: 0 };
      // Counted from now on: what a new thread did before it was seen is not known to be in the gap.
      if (this.#read(t)) this.#threads.set(tid, t);
      else closeSync(fd);
    }
  }

  /** Reads a thread's counters into `run`/`wait` (ms); false once the thread is gone. */
  #read(t: Thread): boolean {
    let n: number;
    try {
      n = readSync(t.fd, this.#buf, 0, 64, 0);
    } catch {
      return false;
    }
    if (n === 0) return false;
    let i = 0;
    let run = 0;
    while (i < n && this.#buf[i]! !== 32) run = run * 10 + (this.#buf[i++]! - 48);
    i++;
    let wait = 0;
    while (i < n && this.#buf[i]! !== 32) wait = wait * 10 + (this.#buf[i++]! - 48);
    t.run = run / 1e6;
    t.wait = wait / 1e6;
    return true;
  }

  /**
   * Takes a sample into `out` (layout {@link SAMPLE}). `now` is
   * `performance.now()`: new threads are looked for every 50 ms.
   */
  sample(out: Float64Array, now: number): void {
    if (now - this.#lastScan >= RESCAN_MS) this.#rescan(now);
    const acc = this.#acc;
    for (const t of this.#threads.values()) {
      const run = t.run;
      const wait = t.wait;
      if (!this.#read(t)) {
        closeSync(t.fd);
        this.#threads.delete(t.tid);
        continue;
      }
      acc[t.kind * 2]! += t.run - run;
      acc[t.kind * 2 + 1]! += t.wait - wait;
    }
    out.set(acc);
    this.#readStat(out);
    out[SAMPLE.coreTime] = now * this.#cores;
  }

  #readStat(out: Float64Array): void {
    const b = this.#buf;
    const n = readSync(this.#statFd, b, 0, 256, 0);
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice\n"
    const f: number[] = [];
    let i = 3;
    while (i < n && b[i] !== 10 && f.length < 8) {
      while (b[i] === 32) i++;
      let v = 0;
      while (i < n && b[i]! >= 48 && b[i]! <= 57) v = v * 10 + (b[i++]! - 48);
      f.push(v);
    }
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
      f;
    out[SAMPLE.machineBusy] = (user + nice + system + irq + softirq) * TICK_MS;
    out[SAMPLE.machineSteal] = steal * TICK_MS;
    out[SAMPLE.machineIdle] = (idle + iowait) * TICK_MS;
  }

  close(): void {
    for (const t of this.#threads.values()) closeSync(t.fd);
    this.#threads.clear();
    if (this.#statFd >= 0) closeSync(this.#statFd);
    this.#statFd = -1;
  }
}
