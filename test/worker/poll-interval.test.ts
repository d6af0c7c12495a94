import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { IDLE_RECHECK_MS, runWorker } from "../../src/worker/run-worker.js";
import { mustClaim, openTestQueue, text, turns } from "../queue/helpers.js";
import { until } from "../until.js";

/** Counts the claim batches `queue` is asked for. */
function countClaims(queue: Queue): { count: number } {
  const counted = { count: 0 };
  const claimBatch = queue.claimBatch.bind(queue);
  queue.claimBatch = (name, max, options) => {
    counted.count++;
    return claimBatch(name, max, options);
  };
  return counted;
}

/**
 * A worker on queue "q" with `pollIntervalMs: 0` that records the payloads it
 * handled (throwing for those `fail` picks), started after `setup`.
 */
async function idleWorker(
  options: OpenOptions = {},
  fail: (payload: string) => boolean = () => false,
  setup: (queue: Queue) => Promise<void> = async () => {},
) {
  const { queue, clock } = await openTestQueue(options);
  await setup(queue);
  const claims = countClaims(queue);
  const handled: string[] = [];
  const stop = new AbortController();
  const worker = runWorker(
    queue,
    "q",
    (job) => {
      const payload = text(job.payload);
      handled.push(payload);
      if (fail(payload)) throw new Error(`${payload} failed`);
    },
    { pollIntervalMs: 0, signal: stop.signal, logger: silentLogger },
  );
  await turns(20);
  return { queue, clock, claims, handled, stop, worker };
}

/** Turns of the event loop that a job woken into a waiting claim needs to be handled (no clock time passes). */
const PROMPT_TURNS = 30;

describe("runWorker pollIntervalMs: 0", { timeout: 60_000 }, () => {
  it("an idle worker waits for a wake-up instead of claiming in a loop; a job enqueued later is handled at once", async () => {
    const { queue, clock, claims, handled, stop, worker } = await idleWorker();
    // Ten idle minutes over 600 turns: a wait of 0 would claim on every turn.
    for (let i = 0; i < 600; i++) {
      clock.advance(1_000);
      await turns(1);
    }
    // The first claim, and a re-check a minute (the tenth may still be on its way).
    const minutes = 600_000 / IDLE_RECHECK_MS;
    assert.ok(
      claims.count >= minutes && claims.count <= minutes + 1,
      `${claims.count} claims in ${minutes} idle minutes`,
    );
    await queue.enqueue("q", "late");
    await turns(PROMPT_TURNS);
    assert.deepEqual(handled, ["late"], "handled without the clock moving");
    assert.ok(claims.count <= 13, `${claims.count} claims`);
    stop.abort();
    await worker;
    await queue.close();
  });

  it("a wake-up that never comes delays a job by one re-check at most, never stalls the worker", async () => {
    const { queue, clock } = await openTestQueue();
    // The worker's first waiting claim waits where no job comes: its wake-up is lost.
    const claimBatch = queue.claimBatch.bind(queue);
    let lost = false;
    queue.claimBatch = (name, max, options) => {
      if (!lost && options?.waitMs !== undefined && options.waitMs > 0) {
        lost = true;
        return claimBatch("elsewhere", max, options);
      }
      return claimBatch(name, max, options);
    };
    const handled: string[] = [];
    const stop = new AbortController();
    const worker = runWorker(queue, "q", (job) => void handled.push(text(job.payload)), {
      pollIntervalMs: 0,
      signal: stop.signal,
      logger: silentLogger,
    });
    await turns(20);
    assert.ok(lost, "the worker waits for a wake-up");
    await queue.enqueue("q", "missed");
    await turns(PROMPT_TURNS);
    assert.deepEqual(handled, [], "its wake-up went elsewhere");
    clock.advance(IDLE_RECHECK_MS - 1);
    await turns(PROMPT_TURNS);
    assert.deepEqual(handled, []);
    clock.advance(1);
    await until(() => handled.length === 1, "handled at the re-check");
    assert.deepEqual(handled, ["missed"]);
    stop.abort();
    await worker;
    await queue.close();
  });

  it("handles promptly a job that comes by promotion, a retry with or without backoff, or a reaped lease", async () => {
    const noBackoff = await idleWorker(
      { defaultQueueConfig: { retryBackoffBaseMs: 0 } },
      (payload) => payload === "fails once" && noBackoff.handled.length === 1,
    );
    await noBackoff.queue.enqueue("q", "fails once");
    await turns(PROMPT_TURNS);
    assert.deepEqual(noBackoff.handled, ["fails once", "fails once"], "retried at once");
    noBackoff.stop.abort();
    await noBackoff.worker;
    await noBackoff.queue.close();

    const { queue, clock, handled, stop, worker } = await idleWorker(
      { defaultQueueConfig: { retryBackoffBaseMs: 1_000, retryBackoffMaxMs: 1_000 } },
      (payload) => payload === "backs off" && !handled.includes("backed off"),
    );
    await queue.enqueue("q", "scheduled", { delayMs: 5_000 });
    await turns(PROMPT_TURNS);
    clock.advance(5_000);
    await turns(PROMPT_TURNS);
    assert.deepEqual(handled, ["scheduled"], "promoted at its runAt");

    await queue.enqueue("q", "backs off");
    await turns(PROMPT_TURNS);
    handled.push("backed off");
    clock.advance(1_000);
    await turns(PROMPT_TURNS);
    assert.deepEqual(
      handled,
      ["scheduled", "backs off", "backed off", "backs off"],
      "retried after its backoff",
    );

    stop.abort();
    await worker;
    await queue.close();

    // A claim taken aside, its lease left to run out: the reaper requeues the job to the worker.
    const reaped = await idleWorker({}, undefined, async (queue) => {
      await queue.enqueue("q", "reaped");
      await mustClaim(queue, "q", 1_000);
    });
    assert.deepEqual(reaped.handled, []);
    reaped.clock.advance(1_000);
    await reaped.queue.reapNow();
    await turns(PROMPT_TURNS);
    assert.deepEqual(reaped.handled, ["reaped"], "requeued by the reaper");
    assert.ok(reaped.claims.count <= 3, `${reaped.claims.count} claims`);
    reaped.stop.abort();
    await reaped.worker;
    await reaped.queue.close();
  });

  it("handles promptly a job held back by the rate window once it opens, or by its group's cap once a slot frees", async () => {
    const limited = await idleWorker({
      queueConfigs: { q: { rateLimit: { max: 1, perMs: 1_000 } } },
    });
    await limited.queue.enqueueBatch("q", ["first", "second"]);
    await turns(PROMPT_TURNS);
    assert.deepEqual(limited.handled, ["first"]);
    limited.clock.advance(1_000);
    await turns(PROMPT_TURNS);
    assert.deepEqual(limited.handled, ["first", "second"], "served when the window opened");
    limited.stop.abort();
    await limited.worker;
    await limited.queue.close();

    let aside: Claim | undefined;
    const grouped = await idleWorker(
      { queueConfigs: { q: { groupConcurrency: 1 } } },
      undefined,
      async (queue) => {
        await queue.enqueue("q", "aside", { groupKey: "g" });
        await queue.enqueue("q", "waits", { groupKey: "g" });
        aside = await mustClaim(queue, "q");
      },
    );
    await turns(PROMPT_TURNS);
    assert.deepEqual(grouped.handled, [], "the group is at its cap");
    await grouped.queue.ack(aside!);
    await turns(PROMPT_TURNS);
    assert.deepEqual(grouped.handled, ["waits"], "served when the group's slot freed");
    grouped.stop.abort();
    await grouped.worker;
    await grouped.queue.close();
  });

  it("on the system clock too: an idle worker claims once, then handles a later job and stops on its signal", async () => {
    const queue = await Queue.open(new MemoryStore(), "q", { logger: silentLogger });
    const claims = countClaims(queue);
    const handled: string[] = [];
    const stop = new AbortController();
    const worker = runWorker(queue, "q", (job) => void handled.push(text(job.payload)), {
      pollIntervalMs: 0,
      signal: stop.signal,
      logger: silentLogger,
    });
    // 20 ms of idle wall time, in 1 ms steps: a wait of 0 would claim on every turn.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(claims.count, 1);
    await queue.enqueue("q", "late");
    await until(() => handled.length === 1, "the job enqueued later handled");
    stop.abort();
    await worker;
    assert.ok(claims.count <= 3, `${claims.count} claims`);
    await queue.close();
  });

  it("an idle worker stops at once on its signal or when the queue closes", async () => {
    for (const how of ["signal", "close"] as const) {
      const { queue, stop, worker } = await idleWorker();
      let ended = false;
      const watched = worker.then(() => {
        ended = true;
      });
      if (how === "signal") stop.abort();
      else await queue.close();
      await turns(PROMPT_TURNS);
      assert.ok(ended, `ended on ${how} without the clock moving`);
      await watched;
      await queue.close();
    }
  });
});
