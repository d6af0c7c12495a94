import { performance } from "node:perf_hooks";
import { type Claim, type Clock, type FlowJob, Queue, silentLogger } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { PhaseMonitor, stallResult } from "../lib/phase-monitor.js";
import { sleep } from "../lib/process.js";
import { type BenchResult, paramsOf } from "../lib/result.js";
import { createBenchStore, type StoreKind } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface StallParams {
  /** Pending jobs the queue holds throughout. */
  live: number;
  payloadBytes: number;
  /** Scheduled jobs that all fall due at the same moment. */
  promote: number;
  /** Kept done jobs that all pass their retention at the same moment. */
  done: number;
  /** Dead jobs: listed page by page, then swept with the done ones. */
  dead: number;
  /** Claims a crashed writer leaves behind, requeued when the next one opens. */
  claimed: number;
  /** Durable schedules the state holds (in every checkpoint), none due during the run. */
  schedules: number;
  /**
   * Done jobs of a queue whose results outlive the rest: this many acked with
   * a result and as many without, swept at their two ages.
   */
  results: number;
  /** Cancelled jobs whose tombstones the state holds (in every checkpoint), then swept at once. */
  cancelled: number;
  /** Jobs of one flow (a root and its children), removed with its root. */
  flowJobs: number;
  /** Remove every live job at the end, after the close (on a third writer). */
  removeAll: boolean;
  /** Length of the light-traffic phase during which background checkpoints run. */
  trafficSeconds: number;
  checkpointIntervalMs: number;
}

const LIVE = "live";
const LATER = "later";
const KEPT = "kept";
const DEAD = "dl";
const RESULTS = "res";
const CANCELLED = "cx";
const FLOW = "flow";
const TRAFFIC = "traffic";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PATH = "bench/stalls";

/**
 * Wall time that the workload can move forward at once (job time only: it
 * makes a whole cohort of scheduled, done or dead jobs due in one step).
 */
class SkewClock implements Clock {
  skewMs = 0;
  now(): number {
    return Date.now() + this.skewMs;
  }
}

/**
 * Event-loop stalls caused by taquba while it holds N live jobs: a monitor
 * (`perf_hooks.monitorEventLoopDelay`, 1 ms resolution) records the worst
 * delay of the host's event loop in each phase — background checkpoints and
 * log GC under light traffic, stats and listings, promoting a cohort of
 * scheduled jobs that fall due at once, retention sweeps of done and dead
 * jobs that expire at once, the open of a second writer (restore) and its
 * requeue of the claims the first one left, and the final close. Setup
 * phases (filling) are reported too but are the caller's own bulk calls.
 */
export const stalls: Workload<StallParams> = {
  name: "stalls",
  describe: "worst event-loop delay per operation with N live jobs (checkpoints, sweeps, ...)",
  params: (args: Args) => ({
    live: args.integer("live", 1_000_000, 0),
    payloadBytes: args.integer("payload", 64, 0),
    promote: args.integer("promote", 100_000, 0),
    done: args.integer("done", 100_000, 0),
    dead: args.integer("dead", 100_000, 0),
    claimed: args.integer("claimed", 100_000, 0),
    schedules: args.integer("schedules", 10_000, 0),
    results: args.integer("results", 100_000, 0),
    cancelled: args.integer("cancelled", 100_000, 0),
    flowJobs: args.integer("flow-jobs", 10_000, 0),
    removeAll: args.integer("remove-all", 1, 0) !== 0,
    trafficSeconds: args.number("traffic-seconds", 8),
    checkpointIntervalMs: args.number("checkpoint-interval-ms", 2_000),
  }),
  async run(kind: StoreKind, params: StallParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    const clock = new SkewClock();
    const options = {
      clock,
      logger: silentLogger,
      reaperIntervalMs: 1_000,
      queueConfigs: {
        [KEPT]: { keepDoneJobsMs: 3 * HOUR },
        [DEAD]: { maxAttempts: 1, deadRetentionMs: 3 * HOUR },
        // Swept after the kept and dead jobs (4 h on): those without a result at 6 h, the rest at 8 h.
        [RESULTS]: { keepDoneJobsMs: 5 * HOUR, resultRetentionMs: 7 * HOUR },
        // Tombstones swept at 10 h.
        [CANCELLED]: { resultRetentionMs: 9 * HOUR },
      },
      log: { checkpointIntervalMs: params.checkpointIntervalMs },
    };
    const monitor = new PhaseMonitor();
    const started = performance.now();
    try {
      const first = await Queue.open(bench.store, PATH, options);
      const payload = new Uint8Array(params.payloadBytes).fill(0x61);

      await monitor.begin(first);
      await enqueueMany(first, LIVE, params.live, payload);
      await first.flush();
      await monitor.end("setup: fill live jobs (enqueueBatch of 1 000)", first);

      await monitor.begin(first);
      await enqueueMany(first, DEAD, params.dead, payload);
      await drain(first, DEAD, params.dead, (claim) => first.nack(claim, "bench"));
      await enqueueMany(first, KEPT, params.done, payload);
      const done = await drain(first, KEPT, params.done, (claim) => first.ack(claim));
      await monitor.end("setup: dead and kept done jobs", first);

      await monitor.begin(first);
      await enqueueMany(first, RESULTS, 2 * params.results, payload);
      const withResult = await drain(first, RESULTS, params.results, (claim) =>
        first.ack(claim, { result: payload }),
      );
      const noResult = await drain(first, RESULTS, params.results, (claim) => first.ack(claim));
      await monitor.end("setup: done jobs with and without a result", first);

      await monitor.begin(first);
      const lastCancelled = await cancelMany(first, params.cancelled, payload);
      await monitor.end(`setup: ${params.cancelled} cancelled jobs (tombstones)`, first);

      await monitor.begin(first);
      await setSchedules(first, params.schedules, payload);
      await monitor.end(`setup: ${params.schedules} schedules`, first);

      await monitor.begin(first);
      const flow = await first.enqueueFlow(wideFlow(params.flowJobs, payload));
      await nextTurn();
      await monitor.end(`enqueueFlow of ${params.flowJobs} jobs (one record)`, first);

      await monitor.begin(first);
      await traffic(first, params.trafficSeconds);
      await monitor.end("checkpoints + log GC under light traffic", first);

      // Calls one after the other, as a host serving requests makes them: each awaited call
      // is followed by a turn of the event loop (a loop of awaited calls that resolve at once
      // never yields, and would measure the caller's loop rather than any one call).
      await monitor.begin(first);
      for (let i = 0; i < 1_000; i++) {
        await first.stats(LIVE);
        await nextTurn();
      }
      await first.listQueues();
      await nextTurn();
      await first.listSchedules();
      await nextTurn();
      let after: string | undefined;
      for (let page = 0; page < 100; page++) {
        const jobs = await first.deadJobs(DEAD, after === undefined ? {} : { after });
        after = jobs.at(-1)?.id;
        await nextTurn();
      }
      for (const id of done.first) {
        await first.getJob(id);
        await nextTurn();
      }
      await monitor.end("stats, listQueues, listSchedules, deadJobs pages, getJob", first);

      await monitor.begin(first);
      await first.deadJobs(DEAD, { limit: 10_000 });
      await nextTurn();
      await monitor.end("deadJobs: one page of 10 000", first);

      await monitor.begin(first);
      let cursor: string | undefined;
      for (let page = 0; page < 100; page++) {
        const listed = await first.listJobs(LIVE, "pending", {
          limit: 1_000,
          ...(cursor === undefined ? {} : { cursor }),
        });
        cursor = listed.nextCursor;
        await nextTurn();
      }
      for (const status of ["done", "dead"] as const) {
        cursor = undefined;
        for (let page = 0; page < 20; page++) {
          const listed = await first.listJobs(status === "done" ? KEPT : DEAD, status, {
            limit: 1_000,
            ...(cursor === undefined ? {} : { cursor }),
          });
          cursor = listed.nextCursor;
          await nextTurn();
        }
      }
      for (const queue of [RESULTS, CANCELLED]) {
        cursor = undefined;
        for (let page = 0; page < 20; page++) {
          const listed = await first.listJobs(queue, "done", {
            limit: 1_000,
            ...(cursor === undefined ? {} : { cursor }),
          });
          cursor = listed.nextCursor;
          await nextTurn();
        }
      }
      await first.pauseQueue(LIVE);
      await first.resumeQueue(LIVE);
      await monitor.end(
        "listJobs: 100 pages of 1 000 pending, 20 of done, 20 of dead, 20 of done with results; pause + resume",
        first,
      );

      await monitor.begin(first);
      for (const id of withResult.first) {
        await first.getJob(id);
        await nextTurn();
      }
      for (const id of noResult.first) {
        await first.waitForCompletion(id, { timeoutMs: 0 });
        await nextTurn();
      }
      await monitor.end(
        "getJob of 1 000 done jobs with a result, waitForCompletion of 1 000",
        first,
      );

      await monitor.begin(first);
      await first.removeJob(flow.id);
      await first.flush();
      await monitor.end(`removeJob of the root of a flow of ${params.flowJobs} jobs`, first);

      await monitor.begin(first);
      // Scans every live job and removes none: the scan itself must be sliced.
      await first.removeJobs(LIVE, "pending", { olderThanMs: 1_000 * HOUR });
      await first.flush();
      await monitor.end(`removeJobs scanning ${params.live} pending jobs, removing none`, first);

      await monitor.begin(first);
      const requeued = await first.requeueDeadJobs(DEAD);
      const removed = await first.removeJobs(DEAD, "pending");
      await first.flush();
      await monitor.end(`requeueDeadJobs of ${requeued} + removeJobs of ${removed} jobs`, first);

      const runAt = clock.now() + HOUR;
      await enqueueScheduled(first, params.promote, payload, runAt);
      await first.flush();
      await monitor.begin(first);
      clock.skewMs += HOUR;
      await waitUntil(async () => (await first.stats(LATER)).scheduled === 0);
      await first.flush();
      await monitor.end(`promotion of ${params.promote} jobs due at once`, first);

      await monitor.begin(first);
      clock.skewMs += 3 * HOUR;
      const lastDone = done.last;
      await waitUntil(
        async () =>
          (lastDone === undefined || (await first.getJob(lastDone)) === null) &&
          (await first.stats(DEAD)).dead === 0,
      );
      await first.flush();
      await monitor.end(`retention sweep of ${params.done} done + ${params.dead} dead jobs`, first);

      await monitor.begin(first);
      clock.skewMs += 2 * HOUR;
      const lastNoResult = noResult.last;
      await waitUntil(
        async () => lastNoResult === undefined || (await first.getJob(lastNoResult)) === null,
      );
      await first.flush();
      await monitor.end(
        `retention sweep of ${params.results} done jobs without a result (kept ${params.results} with one)`,
        first,
      );

      await monitor.begin(first);
      clock.skewMs += 2 * HOUR;
      const lastWithResult = withResult.last;
      await waitUntil(
        async () => lastWithResult === undefined || (await first.getJob(lastWithResult)) === null,
      );
      await first.flush();
      await monitor.end(`retention sweep of ${params.results} done jobs with a result`, first);

      await monitor.begin(first);
      clock.skewMs += 2 * HOUR;
      await waitUntil(
        async () =>
          lastCancelled === undefined ||
          (await first.waitForCompletion(lastCancelled, { timeoutMs: 0 })).status === "not_found",
      );
      await first.flush();
      await monitor.end(`sweep of ${params.cancelled} cancelled-job tombstones`, first);

      await monitor.begin(first);
      const gcMs = forcedGc();
      await monitor.end(`gc: forced full GC (--expose-gc): ${gcMs.toFixed(1)} ms`, first);

      await monitor.begin(first);
      // Only their number is kept: the claims are left open for the next writer to requeue,
      // and a crashed host's claims are not held by anything in the process that takes over.
      let claimed = 0;
      while (claimed < params.claimed) {
        const batch = await first.claimBatch(LIVE, Math.min(1_000, params.claimed - claimed));
        if (batch.length === 0) break;
        claimed += batch.length;
      }
      await first.flush();
      await monitor.end(`setup: ${claimed} claims left open`, first);

      // A second writer takes over (fencing the first): it restores every job
      // and requeues the claims the first one left.
      await monitor.begin(first);
      const second = await Queue.open(bench.store, PATH, options);
      await monitor.end("open of a second writer (restore)", second);
      await monitor.begin(second);
      await waitUntil(async () => (await second.stats(LIVE)).claimed === 0);
      await second.flush();
      await monitor.end(`requeue of ${claimed} interrupted claims`, second);
      await first.close().catch(() => {});

      await monitor.begin(second);
      // The queue's first grouped job: every job it holds joins the group of no key.
      await second.enqueue(LIVE, payload, { groupKey: "tenant-1" });
      await nextTurn();
      for (const claim of await second.claimBatch(LIVE, 100)) await second.ack(claim);
      await second.flush();
      await monitor.end(`first grouped job on a queue of ${params.live} pending jobs`, second);

      await monitor.begin(second);
      await second.close();
      await monitor.end("close (final checkpoint)", second);

      if (params.removeAll) {
        await monitor.begin(second);
        const third = await Queue.open(bench.store, PATH, options);
        await monitor.end("setup: open of a third writer", third);
        await monitor.begin(third);
        const all = await third.removeJobs(LIVE, "pending");
        await third.flush();
        await monitor.end(`removeJobs of all ${all} pending jobs`, third);
        await monitor.begin(third);
        await third.close();
        await monitor.end("setup: close of the third writer", third);
      }
    } finally {
      monitor.stop();
      await bench.cleanup();
    }
    const rows = monitor.rows;
    // Setup is the benchmark's own bulk work; a forced GC measures the heap, not a turn of ours.
    const measured = rows.filter((r) => !r.phase.startsWith("setup") && !r.phase.startsWith("gc:"));
    return [
      stallResult(
        "stalls",
        kind,
        paramsOf(params),
        params.live,
        (performance.now() - started) / 1_000,
        measured,
        rows,
      ),
    ];
  },
};

const BATCH = 1_000;

async function enqueueMany(
  queue: Queue,
  name: string,
  count: number,
  payload: Uint8Array,
): Promise<void> {
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < count) {
      const n = Math.min(BATCH, count - sent);
      sent += n;
      await queue.enqueueBatch(
        name,
        Array.from({ length: n }, () => payload),
      );
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}

async function enqueueScheduled(
  queue: Queue,
  count: number,
  payload: Uint8Array,
  runAt: number,
): Promise<void> {
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      await queue.enqueue(LATER, payload, { runAt });
    }
  };
  await Promise.all(Array.from({ length: 256 }, lane));
}

/** `count` schedules, every day from a day on (none fires during the run), 256 set at a time. */
async function setSchedules(queue: Queue, count: number, payload: Uint8Array): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await queue.schedule(`nightly-${i}`, {
        everyMs: DAY,
        startAt: Date.now() + DAY,
        queue: TRAFFIC,
        payload,
      });
    }
  };
  await Promise.all(Array.from({ length: 256 }, lane));
}

/** Ids of drained jobs that later phases read back one by one. */
const READ_BACK = 1_000;

/**
 * The ids a drain keeps: the first {@link READ_BACK} claimed (read back one by
 * one later) and the last (waited for in a sweep). Not all of them: an array
 * of every id would keep up to 100 000 strings on the heap (GC work of the
 * benchmark's own making in every later phase).
 */
interface Drained {
  first: string[];
  last: string | undefined;
}

/** Claim `count` jobs of `name` (in batches) and settle each with `settle`; see {@link Drained}. */
async function drain(
  queue: Queue,
  name: string,
  count: number,
  settle: (claim: Claim) => Promise<void>,
): Promise<Drained> {
  const drained: Drained = { first: [], last: undefined };
  let taken = 0;
  const worker = async (): Promise<void> => {
    while (taken < count) {
      const claims = await queue.claimBatch(name, Math.min(250, count - taken));
      if (claims.length === 0) return;
      taken += claims.length;
      for (const claim of claims) {
        if (drained.first.length < READ_BACK) drained.first.push(claim.id);
        drained.last = claim.id;
      }
      await Promise.all(claims.map(settle));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return drained;
}

/** About 1 000 jobs/s enqueued, claimed and acked one at a time, for `seconds`. */
async function traffic(queue: Queue, seconds: number): Promise<void> {
  const end = performance.now() + seconds * 1_000;
  const payload = new Uint8Array(64).fill(0x62);
  while (performance.now() < end) {
    const batch = Array.from({ length: 10 }, async () => {
      await queue.enqueue(TRAFFIC, payload);
      const claim = await queue.claim(TRAFFIC);
      if (claim !== null) await queue.ack(claim);
    });
    await Promise.all(batch);
    await sleep(10);
  }
}

/**
 * `count` jobs enqueued then cancelled (1 000 per transaction): each leaves a
 * tombstone. Returns the id cancelled last.
 */
async function cancelMany(
  queue: Queue,
  count: number,
  payload: Uint8Array,
): Promise<string | undefined> {
  let sent = 0;
  let last: string | undefined;
  const lane = async (): Promise<void> => {
    while (sent < count) {
      const n = Math.min(BATCH, count - sent);
      sent += n;
      const ids = await queue.enqueueBatch(
        CANCELLED,
        Array.from({ length: n }, () => payload),
      );
      await queue.transaction((tx) => {
        for (const id of ids) tx.cancel(id);
      });
      last = ids.at(-1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return last;
}

/** A flow of `jobs` jobs: one root waiting for `jobs - 1` children. */
function wideFlow(jobs: number, payload: Uint8Array): FlowJob {
  return {
    queue: FLOW,
    payload,
    children: Array.from({ length: Math.max(0, jobs - 1) }, () => ({ queue: FLOW, payload })),
  };
}

/** A full GC forced by the benchmark (`--expose-gc`): its length, or NaN without the flag. */
function forcedGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return Number.NaN;
  const start = performance.now();
  gc();
  return performance.now() - start;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function waitUntil(done: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 120_000;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error("stalls: a phase did not finish in 2 min");
    await sleep(5);
  }
}
