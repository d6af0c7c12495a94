/**
 * Deterministic simulation: one seed drives a random workload against a
 * fault-injecting store (errors before and after a write takes effect,
 * latency, slow listings) on a simulated clock, with clean restarts, crashes,
 * storage outages, a competing writer that fences the current one, handlers
 * whose process dies before or after their claim is durable, and wall-clock
 * steps in both directions. The log keeps up to four WAL writes in flight,
 * and bursts of big batches crash or get fenced with several of them in
 * flight; a zombie writer stalls past the fences' minimum age, so its fence
 * is collected before it wakes up. Flows (`sim-flows.ts`), their payloads
 * offloaded on most seeds' flows, go through all of it: an acknowledged one
 * stays whole with its payloads, a refused one leaves nothing, one in doubt
 * is whole or absent after the next open, and a wider one is in flight
 * while the process freezes past the orphans' minimum age and an orphan
 * pass runs. After the run a last open, once that age has passed, must collect
 * every payload object no job references and read back every one a job
 * does (`sim-orphans.ts`). The auditor runs after every step. The
 * same seed replays the same run exactly (the report's `traceDigest` and
 * `storeDigest` say so): the library's randomness is drawn from the seed and
 * its slices of bulk work run on a clock that counts its readings, sharing a
 * turn window that closes on the simulated clock, through the queue's
 * test-only seams (`RANDOM_SOURCE`, `SLICE_CLOCK`, `SLICE_TIMERS`). One thing
 * still follows the machine: `MemoryStore` copies bodies over 256 KiB in
 * slices of real time; the report's `largestObjectBytes` says whether a run
 * stored one.
 */
import { createHash } from "node:crypto";
import { ManualClock, startTimer } from "../../../src/clock.js";
import { FencedError, StorageError, TaqubaError } from "../../../src/errors.js";
import { isFenceSize } from "../../../src/log/codec.js";
import { decodeManifest, type Manifest } from "../../../src/log/manifest.js";
import { silentLogger } from "../../../src/logger.js";
import { walk } from "../../../src/queue/listing.js";
import type { OpenOptions } from "../../../src/queue/options.js";
import { ORPHAN_MIN_AGE_MS, referencedKeys } from "../../../src/queue/payloads.js";
import { Queue } from "../../../src/queue/queue.js";
import type { Claim, JobStatus } from "../../../src/queue/types.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { listAll } from "../../../src/store/types.js";
import { FaultStore } from "../../../src/store/wrappers/fault.js";
import {
  RANDOM_SOURCE,
  type RandomSource,
  randomSourceFrom,
  seededRandom,
} from "../../../src/util/random.js";
import { SLICE_CLOCK, SLICE_TIMERS } from "../../../src/util/slices.js";
import { auditPublicApi, auditState, liveState, replayedState, stateDigest } from "./audit.js";
import { resolveFlowsInDoubt } from "./sim-flow-doubt.js";
import { parentReady, removalOf, requeueOf } from "./sim-flow-reach.js";
import { doubtfulFlow, flowSetting, forcedFlowStep, freeze } from "./sim-flow-steps.js";
import { type FlowPlan, flowStep, rightPayload } from "./sim-flows.js";
import { SimModel } from "./sim-model.js";
import { payloadsAtEnd } from "./sim-orphans.js";
import { ClockedLatencyStore, ProcessStore } from "./sim-stores.js";

export interface SimOptions {
  seed: number;
  steps: number;
  /** Chance that a store request fails (half before, half after taking effect). Default 0.05. */
  faultRate?: number;
}

export interface SimReport {
  seed: number;
  steps: number;
  restarts: number;
  crashes: number;
  fences: number;
  outages: number;
  /** Crashes and fences that hit the log with several WAL writes in flight. */
  pipelineCuts: number;
  /** Writes rejected with `inDoubt: true`. */
  inDoubt: number;
  /** Fences garbage-collected (a zombie may wake up to a collected slot). */
  fencesCollected: number;
  /** Zombie writes that landed in a collected fence's slot (never acknowledged, never replayed). */
  zombieWritesInCollectedSlots: number;
  faults: number;
  /** Processes killed while a claim's record was in flight (the claim must never be delivered). */
  claimCrashesBefore: number;
  /** Processes killed right after a claim was handed out (its attempt must count). */
  claimCrashesAfter: number;
  /** Wall-clock steps, back and forward. */
  clockSteps: number;
  /** The process stood still for longer than the orphans' minimum age. */
  freezes: number;
  enqueued: number;
  acked: number;
  /** Claims given back with `release`. */
  released: number;
  /** Claims handed out whose payload was read from its own object. */
  offloadedClaims: number;
  /** Transactions committed, and refused (a failing kvCheck or a lost claim: nothing applied). */
  transactions: number;
  refusedTransactions: number;
  /** Flows acknowledged (of them, with a payload offloaded), and refused for a taken job id. */
  flows: number;
  offloadedFlows: number;
  /** Flows of a few dozen jobs called with their payload writes held across a freeze. */
  wideFlows: number;
  /** Flows whose commit write was made to fail in doubt (then the process died). */
  doubtfulFlows: number;
  refusedFlows: number;
  /** Flows whose outcome was in doubt, found whole or absent after a reopen. */
  flowsInDoubtWhole: number;
  flowsInDoubtAbsent: number;
  /**
   * After the run, a reopen once the orphans' minimum age has passed: the
   * payload objects no live job referenced before its orphan pass, and
   * those referenced after it (each read back).
   */
  orphansAtEnd: number;
  payloadObjectsAtEnd: number;
  /** Audits that checked the model against the queue, and audits that found writes in flight and skipped it. */
  modelChecks: number;
  modelChecksSkipped: number;
  violations: string[];
  /**
   * What the run did, step by step: a hash over each step's counters, the
   * simulated time and the store's keys after it. Equal for two runs of one
   * seed (the run replays exactly).
   */
  traceDigest: string;
  /** A hash of every object in the store (key and bytes) at the end of the run. */
  storeDigest: string;
  /**
   * The largest object the store held after any step. `MemoryStore` copies a
   * body over {@link SLICED_COPY_BYTES} in slices timed by the process's
   * clock, not the run's: a run that stored one may not replay exactly.
   */
  largestObjectBytes: number;
}

/** Bodies above this size `MemoryStore` copies over several turns of the event loop. */
export const SLICED_COPY_BYTES = 256 * 1024;

export const QUEUES = ["alpha", "beta", "gamma"] as const;
/** A payload above the simulation's `payloadOffloadBytes`: stored as its own object. */
export const BIG_PAYLOAD = "x".repeat(3_000);
export const PATH = "sim";
/** Simulated milliseconds one settle may take before it counts as a hang. */
const SETTLE_LIMIT_MS = 60_000;

/** Settled outcome of a promise. */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export class World {
  readonly random: () => number;
  readonly clock = new ManualClock(1_700_000_000_000);
  readonly memory = new MemoryStore();
  readonly faults: FaultStore;
  readonly shared: ClockedLatencyStore;
  readonly model = new SimModel();
  readonly violations: string[] = [];
  readonly keepsDone: boolean;
  /** The earliest wall-clock reading so far (no job completed before it). */
  minWall = this.clock.now();
  /** Group-commit window: 0 seals at once, otherwise the simulated clock must pass it. */
  readonly flushIntervalMs: number;
  readonly maxWritesInFlight: number;
  readonly report: SimReport;
  /** Jobs' payloads above this are offloaded: small on some seeds, so most flows write objects. */
  readonly offloadBytes: number;
  /** Processes opened so far (the current one's number). */
  generation = 0;
  /** The latest wall time seen (the wall clock may have been set back since). */
  maxWall = this.clock.now();
  /** Flows with the caller's ids on every job, until their outcome is known. */
  readonly flowPlans: FlowPlan[] = [];
  queue: Queue | null = null;
  process: ProcessStore | null = null;
  claims: Claim[] = [];
  /** Monotonic time each live claim's lease runs out (a wall step must not end it sooner). */
  readonly leaseEnds = new Map<Claim, number>();
  inFlight = 0;
  /** Queues paused as of the last call (pause and resume apply at once). */
  readonly paused = new Set<string>();
  /**
   * The clock slices of bulk work run on: each reading is a quarter of a
   * millisecond after the last, so where work yields to the event loop (and
   * so how it interleaves with the simulated clock) follows the run, not how
   * fast the machine is.
   */
  #sliceTicks = 0;
  readonly sliceNow = (): number => ++this.#sliceTicks / 4;
  /**
   * The timers phase the queue's turn window closes at: once the simulated
   * clock has moved a millisecond (as a 0 ms timer is due after one), not
   * when the process's timers run, which depends on how long the machine
   * took over the turns of the run.
   */
  readonly timersPhaseLater = (callback: () => void): void => {
    startTimer(this.clock, 1, callback);
  };
  /**
   * The library's randomness (job ids, object names, write tokens, writer
   * ids, retry jitter): a stream of its own, so the workload draws the same
   * numbers from {@link random} as it did before the library drew from a seed.
   */
  readonly librarySource: RandomSource;

  constructor(readonly options: SimOptions) {
    this.random = seededRandom(options.seed);
    this.librarySource = randomSourceFrom(seededRandom(options.seed ^ 0x5eed_1ab));
    this.faults = new FaultStore(this.memory, { random: this.random });
    const rate = options.faultRate ?? 0.05;
    this.faults.addRule({ mode: "before", probability: rate / 2 });
    this.faults.addRule({ mode: "after", probability: rate / 2 });
    this.shared = new ClockedLatencyStore(this.faults, this.clock, this.random, 3, 15);
    this.keepsDone = this.random() < 0.3;
    this.flushIntervalMs = this.random() < 0.5 ? 0 : 2;
    this.maxWritesInFlight = 1 + this.int(4);
    // From the seed, not the random stream: every other draw of a seed stays where it was.
    this.offloadBytes = (options.seed >>> 1) % 2 === 0 ? 32 : 2_048;
    this.report = {
      seed: options.seed,
      steps: 0,
      restarts: 0,
      crashes: 0,
      fences: 0,
      outages: 0,
      pipelineCuts: 0,
      inDoubt: 0,
      fencesCollected: 0,
      zombieWritesInCollectedSlots: 0,
      faults: 0,
      claimCrashesBefore: 0,
      claimCrashesAfter: 0,
      clockSteps: 0,
      freezes: 0,
      enqueued: 0,
      acked: 0,
      released: 0,
      offloadedClaims: 0,
      transactions: 0,
      refusedTransactions: 0,
      flows: 0,
      wideFlows: 0,
      doubtfulFlows: 0,
      offloadedFlows: 0,
      refusedFlows: 0,
      flowsInDoubtWhole: 0,
      flowsInDoubtAbsent: 0,
      orphansAtEnd: 0,
      payloadObjectsAtEnd: 0,
      modelChecks: 0,
      modelChecksSkipped: 0,
      violations: this.violations,
      traceDigest: "",
      storeDigest: "",
      largestObjectBytes: 0,
    };
  }

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.int(items.length)];
  }

  openOptions(): OpenOptions {
    const options: OpenOptions = {
      clock: this.clock,
      logger: silentLogger,
      flushIntervalMs: this.flushIntervalMs,
      // The 3,000-byte payloads of some jobs are stored as objects of their own, and so are
      // the big payloads of flows (over 32 bytes on some seeds).
      payloadOffloadBytes: this.offloadBytes,
      reaperIntervalMs: 100,
      schedulerIntervalMs: 50,
      defaultQueueConfig: {
        maxAttempts: 3,
        leaseMs: 200,
        retryBackoffBaseMs: this.int(2) * 20,
        retryBackoffMaxMs: 100,
        // Half the runs that keep done jobs sweep those without a result within the run
        // (picked without drawing from the random stream, so seeds replay as before);
        // results are kept for resultRetentionMs (24 h) either way.
        keepDoneJobsMs: this.keepsDone
          ? this.maxWritesInFlight % 2 === 0
            ? 1_000
            : 10_000_000
          : null,
        deadRetentionMs: null,
      },
      log: {
        clock: this.clock,
        checkpointWalBytes: 2_048,
        checkpointIntervalMs: 1_000,
        gcMinAgeMs: 0,
        manifestHistory: 2,
        maxWritesInFlight: this.maxWritesInFlight,
        // The acknowledgement rule's V and the fences' minimum age (≥ 3V), in simulated time.
        epochValidityMs: 300,
        fenceMinAgeMs: 900,
        retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 400 },
      },
    };
    // The queue's test-only seams: slices and their turn window on clocks of the run,
    // randomness from the seed.
    return Object.assign(options, {
      [SLICE_CLOCK]: this.sliceNow,
      [SLICE_TIMERS]: this.timersPhaseLater,
      [RANDOM_SOURCE]: this.librarySource,
    });
  }

  /** Lets the simulation run (ticking the clock) until `promise` settles. */
  async settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
    let outcome: Outcome<T> | null = null;
    promise.then(
      (value) => {
        outcome = { ok: true, value };
      },
      (error: unknown) => {
        outcome = { ok: false, error };
      },
    );
    // Monotonic: a wall step must neither hide a hang nor invent one.
    const deadline = this.clock.monotonicNow() + SETTLE_LIMIT_MS;
    for (;;) {
      for (let i = 0; i < 3 && outcome === null; i++) await new Promise(setImmediate);
      if (outcome !== null) return outcome;
      if (this.clock.monotonicNow() >= deadline) {
        this.violations.push(`an operation did not settle within ${SETTLE_LIMIT_MS} simulated ms`);
        return { ok: false, error: new Error("hang") };
      }
      this.clock.advance(1);
    }
  }

  /**
   * Runs the auditor's `read` with store reads going straight to memory (no
   * latency, no faults), so reading offloaded payloads through the queue's
   * read API needs no simulated time to pass (the state stays as audited).
   */
  async quietly<T>(read: () => Promise<T>): Promise<T> {
    this.shared.readsDirect = this.memory;
    try {
      return await read();
    } finally {
      this.shared.readsDirect = null;
    }
  }

  /** Runs the simulation forward for `ms` simulated milliseconds. */
  async pass(ms: number): Promise<void> {
    for (let i = 0; i < ms; i++) {
      await new Promise(setImmediate);
      this.clock.advance(1);
    }
    await new Promise(setImmediate);
  }

  unexpected(what: string, error: unknown): void {
    if ((error as { inDoubt?: unknown } | null)?.inDoubt === true) this.report.inDoubt++;
    if (error instanceof TaqubaError && ["FENCED", "STORAGE", "CLOSED"].includes(error.code)) {
      if (error.code === "FENCED" && this.queue !== null && !this.queue.closed) return;
      return; // the queue failed or was closed; the next step reopens it
    }
    this.violations.push(`${what} failed unexpectedly: ${String(error)}`);
  }

  /** Opens a new "process" on the store, retrying while storage faults make the open fail. */
  async open(): Promise<{ queue: Queue; process: ProcessStore }> {
    for (let attempt = 0; ; attempt++) {
      const process = new ProcessStore(this.shared, this.memory);
      const opened = await this.settle(Queue.open(process, PATH, this.openOptions()));
      if (opened.ok) {
        this.generation++;
        return { queue: opened.value, process };
      }
      process.kill();
      const error = opened.error;
      if (!(error instanceof TaqubaError) || error.code !== "STORAGE" || attempt > 50) {
        this.violations.push(`open failed: ${String(error)}`);
        throw error;
      }
    }
  }
}

/** Runs one seeded simulation and reports what it did and every invariant violation. */
export async function runSimulation(options: SimOptions): Promise<SimReport> {
  const w = new World(options);
  const trace = createHash("sha256");
  ({ queue: w.queue, process: w.process } = await w.open());
  for (let step = 0; step < options.steps && w.violations.length === 0; step++) {
    w.report.steps = step + 1;
    const queue = w.queue;
    const forced = forcedFlowStep(options.seed, step);
    if (queue.closed) await restart(w, "clean");
    else if (forced !== null) await forced(w);
    else await randomStep(w);
    await w.pass(w.int(4));
    await audit(w, step % 25 === 24);
    const objects = await listAll(w.memory, "");
    for (const o of objects)
      w.report.largestObjectBytes = Math.max(w.report.largestObjectBytes, o.size);
    const keys = objects.map((o) => `${o.key}:${o.size}`);
    const { violations: _, traceDigest: __, storeDigest: ___, ...counters } = w.report;
    trace.update(
      `${JSON.stringify(counters)} t=${w.clock.monotonicNow()} w=${w.clock.now()} ${keys.join(" ")}\n`,
    );
  }
  w.report.traceDigest = trace.digest("hex");
  if (w.violations.length === 0) await audit(w, true);
  w.report.faults = w.faults.injectedCount;
  if (w.violations.length === 0)
    await payloadsAtEnd(
      w,
      PATH,
      () => reopen(w),
      (id, bytes) => rightPayload(w, id, bytes, BIG_PAYLOAD),
    );
  await w.settle(w.queue.close().catch(() => {}));
  w.process?.kill();
  w.report.storeDigest = await storeDigest(w.memory);
  return w.report;
}

async function randomStep(w: World): Promise<void> {
  const roll = w.random();
  if (roll < 0.16) return enqueue(w);
  if (roll < 0.2) return flowStep(w, flowSetting(w));
  if (roll < 0.21) return doubtfulFlow(w, w.int(2) === 0);
  if (roll < 0.28) return transaction(w);
  if (roll < 0.33) return enqueueBatch(w);
  if (roll < 0.35) return burst(w);
  if (roll < 0.54) return claim(w);
  if (roll < 0.78) return settleClaim(w);
  if (roll < 0.83) return cancel(w);
  if (roll < 0.845) return requeueDead(w);
  if (roll < 0.86) return operation(w);
  if (roll < 0.9) return w.int(25) === 0 ? freeze(w) : w.pass(w.int(300));
  if (roll < 0.92) return clockStep(w);
  if (roll < 0.935) return restart(w, "clean");
  if (roll < 0.95) return restart(w, "crash");
  if (roll < 0.965) return claimThenCrash(w);
  if (roll < 0.985) return fence(w);
  return outage(w);
}

/** Issues an awaited write; on success everything claimed before it is durable. */
function track<T>(w: World, what: string, start: () => Promise<T>, onOk: (value: T) => void): void {
  const seq = w.model.nextSeq();
  w.inFlight++;
  let promise: Promise<T>;
  try {
    promise = start();
  } catch (error) {
    w.inFlight--;
    w.unexpected(what, error);
    return;
  }
  promise.then(
    (value) => {
      w.inFlight--;
      w.model.durableBefore(seq);
      onOk(value);
    },
    (error: unknown) => {
      w.inFlight--;
      w.unexpected(what, error);
    },
  );
}

/**
 * A KV write alone, or a transaction: maybe the ack of a live claim, one or
 * two enqueues (with job ids, so a refused transaction's jobs can be looked
 * for), a KV put of a fresh key, maybe a delete of a known key, and
 * sometimes a kvCheck that fails. A refused transaction must leave no trace.
 */
function transaction(w: World): void {
  const queue = w.queue!;
  const kind = w.int(6);
  const tag = `${w.report.steps}-${w.int(1_000_000)}`;
  const key = `kv/${tag}`;
  if (kind === 0) {
    track(
      w,
      "kvPut",
      () => queue.kvPut(key, tag),
      () => w.model.kvPut(key, tag),
    );
    return;
  }
  const known = [...w.model.kvMustHave.keys()];
  if (kind === 1) {
    const old = w.pick(known);
    if (old === undefined) return;
    w.model.kvDeleting(old);
    track(
      w,
      "kvDelete",
      () => queue.kvDelete(old),
      () => w.model.kvDeleted(old),
    );
    return;
  }
  const conflict = kind === 2;
  const claim = w.int(2) === 0 ? w.pick(w.claims) : undefined;
  if (claim !== undefined) {
    w.claims.splice(w.claims.indexOf(claim), 1);
    w.model.removing(claim.id);
  }
  const jobIds = Array.from({ length: 1 + w.int(2) }, (_, i) => `t${tag}-${i}`);
  const old = w.int(3) === 0 ? w.pick(known) : undefined;
  if (old !== undefined) w.model.kvDeleting(old);
  const seq = w.model.nextSeq();
  w.inFlight++;
  let written: Promise<unknown>;
  try {
    written = queue.transaction((tx) => {
      if (claim !== undefined) tx.ack(claim);
      for (const id of jobIds) tx.enqueue(w.pick(QUEUES)!, `tx job ${id}`, { jobId: id });
      tx.kvPut(key, tag);
      if (old !== undefined) tx.kvDelete(old);
      if (conflict) tx.kvCheck(`${key}/absent`, "present");
    });
  } catch (error) {
    w.inFlight--;
    w.unexpected("transaction", error);
    return;
  }
  written.then(
    () => {
      w.inFlight--;
      w.model.durableBefore(seq);
      w.report.transactions++;
      if (conflict) w.violations.push(`transaction ${tag} committed with a failing kvCheck`);
      if (claim !== undefined) {
        w.report.acked++;
        w.model.removed(claim.id, claim.queue);
      }
      for (const id of jobIds) w.model.enqueued(id);
      w.report.enqueued += jobIds.length;
      w.model.kvPut(key, tag);
      if (old !== undefined) w.model.kvDeleted(old);
    },
    (error: unknown) => {
      w.inFlight--;
      const code = error instanceof TaqubaError ? error.code : undefined;
      if (code === "CONFLICT" || code === "CLAIM_LOST") {
        if (code === "CONFLICT" && !conflict)
          w.violations.push(`transaction ${tag} failed a kvCheck it did not have`);
        w.report.refusedTransactions++;
        w.model.neverApplied(key, jobIds);
        return;
      }
      w.unexpected("transaction", error);
    },
  );
}

function enqueue(w: World): void {
  const queue = w.queue!;
  const name = w.pick(QUEUES)!;
  const delay = w.int(4) === 0 ? 1 + w.int(400) : 0;
  const options = {
    priority: w.pick([100, 1_000, 10_000])!,
    maxAttempts: 1 + w.int(3),
    ...(delay > 0 ? { runAt: w.clock.now() + delay } : {}),
    // A debounce half the time: its payload (offloaded when big) replaces the holder's.
    ...(w.int(5) === 0
      ? { dedupKey: `k${w.int(4)}`, ...(w.int(2) === 0 ? { dedupReplace: true } : {}) }
      : {}),
    ...(w.int(4) === 0 ? { headers: { step: String(w.report.steps) } } : {}),
    ...(w.int(6) === 0 ? { timeoutMs: 1 + w.int(10_000) } : {}),
  };
  const payload = w.int(8) === 0 ? BIG_PAYLOAD : `job ${w.report.steps}`;
  track(
    w,
    "enqueue",
    () => queue.enqueue(name, payload, options),
    (id) => {
      w.report.enqueued++;
      w.model.enqueued(id);
    },
  );
}

function enqueueBatch(w: World): void {
  const queue = w.queue!;
  if (w.int(2) === 0) {
    // Per-job options: caller ids, delays, dedup keys (also repeated within the call).
    const step = w.report.steps;
    const jobs = Array.from({ length: 1 + w.int(5) }, (_, i) => ({
      payload: `many ${step}.${i}`,
      options: {
        ...(w.int(2) === 0 ? { jobId: `j${step}-${i}` } : {}),
        ...(w.int(4) === 0 ? { delayMs: w.int(300) } : {}),
        ...(w.int(4) === 0 ? { dedupKey: `k${w.int(4)}` } : {}),
        priority: w.pick([100, 1_000, 10_000])!,
      },
    }));
    track(
      w,
      "enqueueMany",
      () => queue.enqueueMany(w.pick(QUEUES)!, jobs),
      (results) => {
        for (const [i, result] of results.entries()) {
          const jobId = jobs[i]!.options.jobId;
          if (result.created && jobId !== undefined && result.id !== jobId)
            w.violations.push(`enqueueMany gave job ${jobId} the id ${result.id}`);
          if (!result.created) continue;
          w.report.enqueued++;
          w.model.enqueued(result.id);
        }
      },
    );
    return;
  }
  const payloads = Array.from({ length: 1 + w.int(5) }, (_, i) => `batch ${w.report.steps}.${i}`);
  track(
    w,
    "enqueueBatch",
    () => queue.enqueueBatch(w.pick(QUEUES)!, payloads),
    (ids) => {
      w.report.enqueued += ids.length;
      for (const id of ids) w.model.enqueued(id);
    },
  );
}

async function claim(w: World): Promise<void> {
  const queue = w.queue!;
  const waitMs = w.int(3) === 0 ? 1 + w.int(100) : 0;
  const leaseMs = 50 + w.int(400);
  const name = w.pick(QUEUES)!;
  if (w.int(3) === 0) {
    // A batch: every claim in it is handed out together, each one durable.
    const batch = await w.settle(queue.claimBatch(name, 1 + w.int(4), { leaseMs, waitMs }));
    if (!batch.ok) return w.unexpected("claimBatch", batch.error);
    for (const claim of batch.value) handedOut(w, claim, leaseMs);
    return;
  }
  const pausedAtCall = w.paused.has(name) && waitMs === 0;
  const outcome = await w.settle(queue.claim(name, { leaseMs, waitMs }));
  if (!outcome.ok) return w.unexpected("claim", outcome.error);
  const claim = outcome.value;
  if (claim === null) return;
  if (pausedAtCall) w.violations.push(`claim of paused queue ${name} handed out job ${claim.id}`);
  handedOut(w, claim, leaseMs);
}

/** A claim was handed out (its record is durable): note what that promises. */
function handedOut(w: World, claim: Claim, leaseMs: number): void {
  const problem = w.model.delivered(claim);
  if (problem !== null) w.violations.push(problem);
  if (claim.payloadRef !== undefined) w.report.offloadedClaims++;
  if (claim.payloadRef !== undefined || w.model.flows.payloads.has(claim.id)) {
    if (!rightPayload(w, claim.id, Buffer.from(claim.payload).toString(), BIG_PAYLOAD))
      w.violations.push(
        `job ${claim.id} was handed out with ${claim.payload.byteLength} bytes of its ${claim.payloadRef === undefined ? "" : "offloaded "}payload`,
      );
  }
  for (const p of parentReady(w, claim.id)) w.violations.push(p);
  w.claims.push(claim);
  w.leaseEnds.set(claim, w.clock.monotonicNow() + leaseMs);
}

/**
 * A handler's process dies holding a claim: half the time while the claim's
 * record is still in flight (the claim must never be delivered), half the
 * time right after the claim was handed out (its attempt must count: after
 * the restart the job has at least that many attempts, and a job that was
 * on its last attempt is dead — a crashing job cannot loop forever).
 */
async function claimThenCrash(w: World): Promise<void> {
  const queue = w.queue!;
  const name = w.pick(QUEUES)!;
  if (w.int(2) === 0) {
    const pending = queue.claim(name, { leaseMs: 200 });
    pending.then(
      (claim) => {
        if (claim !== null)
          w.violations.push(`claim of job ${claim.id} was delivered after its process died`);
      },
      () => {},
    );
    w.report.claimCrashesBefore++;
    return restart(w, "crash"); // kills the process at once, before the claim can land
  }
  const outcome = await w.settle(queue.claim(name, { leaseMs: 200 }));
  if (!outcome.ok) return w.unexpected("claim", outcome.error);
  const claim = outcome.value;
  if (claim === null) return;
  handedOut(w, claim, 200);
  w.report.claimCrashesAfter++;
  await restart(w, "crash");
  // Reads answer once what is in flight is durable: let the open's writes land first.
  if (!(await quiesce(w))) return;
  const job = await w.quietly(() => w.queue!.getJob(claim.id));
  if (w.model.removalAttempted.has(claim.id) || job === null) return; // cancelled, or gone by a checked path
  if (job.attempts < claim.attempts)
    w.violations.push(
      `job ${claim.id} has ${job.attempts} attempts after its process died holding attempt ${claim.attempts}`,
    );
  if (claim.attempts >= claim.maxAttempts && job.status !== "dead")
    w.violations.push(
      `job ${claim.id} killed its process on its last attempt (${claim.attempts}/${claim.maxAttempts}) and is ${job.status}, not dead`,
    );
}

/**
 * Whether every result acked so far must still be kept: none is older than
 * resultRetentionMs (24 h, the default) on the wall clock, whatever
 * keepDoneJobsMs does to done jobs without one.
 */
function resultsKept(w: World): boolean {
  return w.clock.now() < w.minWall + 86_400_000;
}

/**
 * The wall clock steps back or forward by up to 20 s, or now and then ahead
 * by more than the orphans' minimum age (so the orphan pass of the next
 * open, running beside the new process's first calls, collects the objects
 * left so far, a fenced writer's flow in flight among them); no time passes.
 */
function clockStep(w: World): void {
  const ms =
    w.int(4) === 0
      ? ORPHAN_MIN_AGE_MS + w.int(60_000)
      : (1 + w.int(20_000)) * (w.int(2) === 0 ? -1 : 1);
  w.maxWall = Math.max(w.maxWall, w.clock.now());
  w.clock.stepWall(ms);
  w.minWall = Math.min(w.minWall, w.clock.now());
  w.report.clockSteps++;
}

function settleClaim(w: World): void {
  const queue = w.queue!;
  const claim = w.pick(w.claims);
  if (claim === undefined) return;
  const kind = w.int(10);
  if (kind < 6) w.claims.splice(w.claims.indexOf(claim), 1);
  const name = claim.queue;
  const calledAt = w.clock.monotonicNow();
  const leaseEnd = w.leaseEnds.get(claim) ?? Number.NEGATIVE_INFINITY;
  const claimLost = (what: string) => (error: unknown) => {
    // A reaped lease or a claim from before a restart: rejected, nothing changes.
    if (error instanceof TaqubaError && error.code === "CLAIM_LOST") {
      if (calledAt < leaseEnd)
        w.violations.push(
          `${what} of job ${claim.id} lost its claim ${leaseEnd - calledAt} ms before its lease ended`,
        );
      return;
    }
    w.unexpected(what, error);
  };
  if (kind < 3) {
    const result = w.int(2) === 0 ? `result of ${claim.id}` : undefined;
    if (result === undefined) w.model.removing(claim.id);
    const seq = w.model.nextSeq();
    queue.ack(claim, result === undefined ? {} : { result }).then(() => {
      w.model.durableBefore(seq);
      w.report.acked++;
      if (result === undefined) w.model.removed(claim.id, name);
      else w.model.completedWithResult(claim.id, name, result);
    }, claimLost("ack"));
  } else if (kind < 5) {
    const seq = w.model.nextSeq();
    queue
      .nack(claim, "simulated failure")
      .then(() => w.model.durableBefore(seq), claimLost("nack"));
  } else if (kind < 6) {
    const seq = w.model.nextSeq();
    // A requeue called after this (a flow's dead jobs come back together, so
    // one of another job of its flow may take this one along) wins over it.
    const requeues = w.model.requeueCalls(claim.id);
    queue.deadLetter(claim, "simulated poison").then(() => {
      w.model.durableBefore(seq);
      if (!w.model.removalAttempted.has(claim.id) && w.model.requeueCalls(claim.id) === requeues)
        w.model.mustBeDead.add(claim.id);
    }, claimLost("deadLetter"));
  } else if (w.int(3) === 0) {
    // Given back unstarted: pending again at once, the attempt its claim counted given back.
    w.claims.splice(w.claims.indexOf(claim), 1);
    w.model.releasing(claim);
    w.report.released++;
    const seq = w.model.nextSeq();
    queue.release(claim).then(() => w.model.durableBefore(seq), claimLost("release"));
  } else {
    const extensionMs = 100 + w.int(400);
    queue
      .renewLease(claim, extensionMs)
      .then(() => w.leaseEnds.set(claim, calledAt + extensionMs), claimLost("renewLease"));
  }
}

function cancel(w: World): void {
  const queue = w.queue!;
  const id = w.pick(w.model.ids);
  if (id === undefined) return;
  // Cancelling a flow parent cancels the jobs under it that have not ended.
  for (const each of removalOf(liveState(queue), id).touched) w.model.removing(each);
  queue.cancel(id).then(
    (outcome) => {
      if (outcome === "removed") w.model.cancelledJob(id);
    },
    (error: unknown) => w.unexpected("cancel", error),
  );
}

function requeueDead(w: World): void {
  const queue = w.queue!;
  const id = w.pick([...w.model.mustBeDead]);
  if (id === undefined) return;
  // A flow's dead jobs come back together, or, when it lost a child to a removal, none.
  const reach = requeueOf(liveState(queue), id);
  for (const each of reach.touched) w.model.requeueing(each);
  const seq = w.model.nextSeq();
  queue.requeueDeadJob(id).then(
    () => {
      w.model.durableBefore(seq);
      if (reach.counted.size === 0)
        w.violations.push(`requeueDeadJob(${id}) requeued a flow that lost a child`);
    },
    (error: unknown) => {
      if (
        !(
          reach.counted.size === 0 &&
          error instanceof TaqubaError &&
          error.code === "JOB_NOT_FOUND"
        )
      )
        w.unexpected("requeueDeadJob", error);
    },
  );
}

/**
 * Several big batches in a row, so the log keeps several WAL writes in
 * flight; then, often, a crash or a competing writer while they are.
 */
async function burst(w: World): Promise<void> {
  const queue = w.queue!;
  for (let i = 0; i < 2 + w.int(3); i++) {
    const payloads = Array.from({ length: 40 }, (_, j) => `burst ${w.report.steps}.${i}.${j}`);
    track(
      w,
      "burst",
      () => queue.enqueueBatch(w.pick(QUEUES)!, payloads),
      (ids) => {
        w.report.enqueued += ids.length;
        for (const id of ids) w.model.enqueued(id);
      },
    );
    await new Promise(setImmediate);
  }
  const roll = w.int(3);
  if (roll === 2) return;
  await w.pass(w.int(2));
  w.report.pipelineCuts++;
  await (roll === 0 ? restart(w, "crash") : fence(w));
  // Crash again before the new writer checkpoints: the next open replays through the
  // window it fenced, past the dead batches that landed there.
  if (w.int(2) === 0) await restart(w, "crash");
}

/**
 * The public ids of queue `name`'s jobs in `status`, from its live state at once (the bulk
 * calls' walk). Own-id jobs go by their caller's id, as the model knows them.
 */
function publicIdsIn(queue: Queue, name: string, status: JobStatus): string[] {
  const state = liveState(queue);
  const qs = state.queues.get(name);
  const ids: string[] = [];
  if (qs !== undefined)
    walk(state, qs, status, null, (h) => {
      ids.push(state.publicIdOf(h));
      return true;
    });
  return ids;
}

/**
 * An operator's call: pause or resume a queue, wake a scheduled job, remove
 * the jobs of a status, requeue every dead job, or walk a status page by page.
 */
async function operation(w: World): Promise<void> {
  const queue = w.queue!;
  const name = w.pick(QUEUES)!;
  const kind = w.int(5);
  if (kind === 0) {
    const pause = !w.paused.has(name);
    if (pause) w.paused.add(name);
    else {
      w.paused.delete(name);
      w.model.mustBePaused.delete(name);
    }
    track(
      w,
      pause ? "pauseQueue" : "resumeQueue",
      () => (pause ? queue.pauseQueue(name) : queue.resumeQueue(name)),
      () => {
        if (pause && w.paused.has(name)) w.model.mustBePaused.add(name);
      },
    );
    return;
  }
  if (kind === 1) {
    const id = w.pick(w.model.ids);
    if (id === undefined) return;
    track(
      w,
      "wakeScheduled",
      () => queue.wakeScheduled(id),
      (outcome) => {
        if (!["woken", "not_scheduled", "not_found"].includes(outcome))
          w.violations.push(`wakeScheduled(${id}) said ${outcome}`);
      },
    );
    return;
  }
  if (kind === 2 || kind === 3) {
    // Learn what the call will act on: the walk, a listing and the call read the state at
    // once, with nothing in between (ids only: a listing that reads offloaded payloads back
    // waits for them, and drops a job the call removed meanwhile).
    const status = kind === 2 ? w.pick(["pending", "scheduled", "dead"] as const)! : "dead";
    // The call acts on exactly the jobs in that status at the call, past any listing page
    // too (in slices): tell the model all of them. A listing made alongside must agree.
    const ids = publicIdsIn(queue, name, status);
    // What it reaches in flows, by the API's rules: removing a parent removes the jobs under
    // it that have not ended; requeueing a flow's dead job requeues its whole dead part.
    const state = liveState(queue);
    const touched: string[] = [];
    const counted = new Set<number>();
    for (const id of ids) {
      const reach = kind === 2 ? removalOf(state, id) : requeueOf(state, id);
      touched.push(...reach.touched);
      for (const h of reach.counted) counted.add(h);
    }
    const listing = queue.listJobs(name, status, { limit: 1_000, loadPayloads: false });
    const call = kind === 2 ? queue.removeJobs(name, status) : queue.requeueDeadJobs(name);
    call.catch(() => {});
    const listed = await w.settle(listing);
    // After that wait, as before: acks of these jobs' last attempts resolve in it, and the
    // model must hear of the call after them.
    for (const id of touched) {
      if (kind === 2) w.model.removing(id);
      else w.model.requeueing(id);
    }
    if (!listed.ok) w.unexpected("listJobs", listed.error);
    else {
      const walked = new Set(ids);
      const page = listed.value.jobs;
      if (
        page.length !== Math.min(ids.length, 1_000) ||
        page.some((j) => !walked.has(j.id)) ||
        (listed.value.nextCursor !== undefined) !== ids.length > 1_000
      )
        w.violations.push(
          `listJobs(${name}, ${status}) and the bulk call disagree: a page of ${page.length}${
            listed.value.nextCursor === undefined ? "" : " and more"
          }, ${ids.length} in the state at the call`,
        );
    }
    track(
      w,
      kind === 2 ? "removeJobs" : "requeueDeadJobs",
      () => call,
      (count) => {
        if (count !== counted.size)
          w.violations.push(
            `${kind === 2 ? "removeJobs" : "requeueDeadJobs"} acted on ${count} jobs, ${ids.length} were ${status} at the call (${counted.size} with their flows)`,
          );
        if (kind === 2) for (const id of ids) w.model.removed(id, null);
      },
    );
    return;
  }
  // A walk in pages of 3: never a job twice.
  const status = w.pick(["pending", "scheduled", "claimed", "done", "dead"] as const)!;
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const listed = await w.settle(
      queue.listJobs(name, status, { limit: 3, ...(cursor === undefined ? {} : { cursor }) }),
    );
    if (!listed.ok) return w.unexpected("listJobs", listed.error);
    for (const job of listed.value.jobs) {
      if (seen.has(job.id))
        w.violations.push(`listJobs walk of ${status} returned ${job.id} twice`);
      if (job.status !== status)
        w.violations.push(`listJobs(${status}) returned a ${job.status} job`);
      seen.add(job.id);
    }
    cursor = listed.value.nextCursor;
    if (cursor === undefined) return;
    await w.pass(w.int(3));
  }
}

/** Stops the current process (cleanly, or by "killing" it) and opens a new one. */
export async function restart(w: World, how: "clean" | "crash"): Promise<void> {
  const old = w.queue!;
  if (how === "clean") {
    const failed = old.closed; // a failed queue's close resolves without making anything durable
    const closed = await w.settle(old.close());
    if (closed.ok && !failed) w.model.durableBefore(Number.POSITIVE_INFINITY);
    w.report.restarts++;
  } else {
    w.process!.kill();
    void old.close().catch(() => {});
    w.report.crashes++;
  }
  await reopen(w);
}

/** The current process is gone (closed or killed): a new one opens the store. */
async function reopen(w: World): Promise<void> {
  w.process!.kill();
  w.model.forgetPendingClaims();
  w.claims = [];
  w.leaseEnds.clear();
  ({ queue: w.queue, process: w.process } = await w.open());
  await checkRecovered(w);
}

/** A competing writer opens the store; the old one must end FENCED and write nothing more. */
async function fence(w: World): Promise<void> {
  const old = w.queue!;
  const oldProcess = w.process!;
  // Half the time the old writer is a zombie: its next WAL write is stuck in flight
  // while the new writer opens, checkpoints and collects garbage, and lands afterwards.
  const zombie = w.int(2) === 0;
  let probePromise: Promise<string> | null = null;
  if (zombie) {
    oldProcess.stall();
    probePromise = old.enqueue("alpha", "from the zombie");
    probePromise.catch(() => {});
  }
  const opened = await w.open();
  oldProcess.markFenced();
  w.report.fences++;
  if (zombie) {
    // Past the checkpoint interval and the fences' minimum age: the checkpoint's GC may
    // collect the fences in the zombie's window before it wakes up.
    await w.pass(1_100);
    const before = await fenceCount(w.memory);
    await w.settle(opened.queue.enqueue("beta", "after the fence").catch(() => "")); // checkpoint + GC
    await w.pass(50);
    w.report.fencesCollected += Math.max(0, before - (await fenceCount(w.memory)));
    oldProcess.release();
  }
  const probe = await w.settle(probePromise ?? old.enqueue("alpha", "from the zombie"));
  const error = probe.ok ? null : probe.error;
  // A zombie stuck past its retry budget may give up with STORAGE instead: just as safe.
  const safe = error instanceof FencedError || (zombie && error instanceof StorageError);
  if (!safe)
    w.violations.push(
      `the fenced writer's enqueue ${probe.ok ? "succeeded" : `failed with ${String(error)}`}`,
    );
  await w.pass(20);
  // A zombie may land a WAL batch in a slot whose fence was collected: harmless as long as
  // the slot is covered by the checkpoint (never replayed) and the write was not acknowledged.
  const replayAfter = (await newestManifest(w.memory))?.replayAfter ?? 0;
  const harmful = oldProcess.writesAfterFence.filter((key) => {
    const slot = /\/wal\/(\d{20})$/.exec(key);
    return slot === null || Number(slot[1]) > replayAfter;
  });
  if (harmful.length > 0)
    w.violations.push(`the fenced writer wrote ${harmful.join(", ")} after the fence`);
  w.report.zombieWritesInCollectedSlots += oldProcess.writesAfterFence.length - harmful.length;
  oldProcess.kill();
  w.model.forgetPendingClaims();
  w.queue = opened.queue;
  w.process = opened.process;
  w.claims = [];
  w.leaseEnds.clear();
  await checkRecovered(w);
}

/** Every request fails for long enough that retries give up; then the store comes back. */
async function outage(w: World): Promise<void> {
  w.report.outages++;
  const clear = w.faults.addRule({ mode: w.int(2) === 0 ? "before" : "after", op: "put" });
  // Make sure something is being written, so the log notices the outage.
  track(
    w,
    "enqueue during outage",
    () => w.queue!.enqueue("alpha", "during outage"),
    (id) => w.model.enqueued(id),
  );
  await w.pass(600);
  clear();
}

async function checkRecovered(w: World): Promise<void> {
  // Flows of the processes before: their outcome is settled in the store now.
  await resolveFlowsInDoubt(w);
  // A pause or resume not yet durable may be lost: learn what the store says.
  w.paused.clear();
  for (const name of QUEUES) {
    const stats = await w.settle(w.queue!.stats(name));
    if (stats.ok && stats.value.paused) w.paused.add(name);
  }
  if (!(await quiesce(w))) return;
  const problems = await w.quietly(() => w.model.check(w.queue!, w.keepsDone, resultsKept(w)));
  for (const p of problems) w.violations.push(`after reopen: ${p}`);
}

/**
 * Lets the simulation run until nothing logged is in flight, so the reads
 * that follow (which answer only once the writes before them are durable)
 * answer without simulated time passing. False when the queue closed or
 * writes kept coming.
 */
export async function quiesce(w: World): Promise<boolean> {
  const queue = w.queue!;
  for (let i = 0; i < 10; i++) {
    if (queue.closed) return false;
    if (queue.logStats().unflushedBytes === 0) return true;
    const flushed = await w.settle(queue.flush());
    if (!flushed.ok) return false;
  }
  return !queue.closed && queue.logStats().unflushedBytes === 0;
}

async function audit(w: World, deep: boolean): Promise<void> {
  const queue = w.queue!;
  for (const p of auditState(liveState(queue))) w.violations.push(`state: ${p}`);
  if (queue.closed) return;
  // Checked against the state as it stands now, before the reads below let time pass.
  for (const p of await payloadObjectsPresent(w)) w.violations.push(p);
  // Reads answer only durable state, so they answer at once only while nothing is in
  // flight: a deep audit waits for that; a light one checks the model only when it is
  // so already (most steps), rather than letting simulated time pass on every step.
  if (deep ? !(await quiesce(w)) : queue.logStats().unflushedBytes > 0) {
    w.report.modelChecksSkipped++;
    return;
  }
  w.report.modelChecks++;
  for (const p of await w.quietly(() => w.model.check(queue, w.keepsDone, resultsKept(w))))
    w.violations.push(p);
  if (!deep || queue.closed) return;
  for (const p of await w.quietly(() => auditPublicApi(queue))) w.violations.push(`api: ${p}`);
  // Once everything is durable, a fresh replay of the store must rebuild the live state.
  if (!(await quiesce(w))) return;
  const live = stateDigest(liveState(queue));
  const replayed = stateDigest(await replayedState(w.memory, PATH));
  if (live !== replayed)
    w.violations.push(`replay differs from the live state:\n${firstDifference(live, replayed)}`);
}

/** Nothing a live job needs is ever deleted: every payload object a job of the live state references exists. */
export async function payloadObjectsPresent(w: World, path = PATH): Promise<string[]> {
  const stored = new Set(await payloadKeys(w, path));
  const problems: string[] = [];
  for (const key of referencedKeys(liveState(w.queue!)))
    if (!stored.has(key)) problems.push(`payload object ${key} of a live job is gone`);
  return problems;
}

/** The keys of every payload object in the store. */
export async function payloadKeys(w: World, path = PATH): Promise<string[]> {
  return (await listAll(w.memory, `${path}/payload/`)).map((o) => o.key);
}

async function newestManifest(store: MemoryStore): Promise<Manifest | null> {
  const keys = (await listAll(store, `${PATH}/manifest/`)).map((o) => o.key);
  const newest = keys.at(-1);
  if (newest === undefined) return null;
  const object = await store.get(newest);
  return object === null ? null : decodeManifest(newest, object.body);
}

async function storeDigest(store: MemoryStore): Promise<string> {
  const hash = createHash("sha256");
  for (const { key } of await listAll(store, "")) {
    const object = await store.get(key);
    hash.update(`${key} ${object?.body.byteLength ?? -1}\n`);
    if (object !== null) hash.update(object.body);
  }
  return hash.digest("hex");
}

async function fenceCount(store: MemoryStore): Promise<number> {
  return (await listAll(store, `${PATH}/wal/`)).filter((o) => isFenceSize(o.size)).length;
}

function firstDifference(a: string, b: string): string {
  const la = a.split("\n");
  const lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `  live:     ${la[i]}\n  replayed: ${lb[i]}`;
  }
  return "(same)";
}
