/**
 * What a worker asks before it starts a claim (`isStartable`, through the
 * hook on `Queue.prototype`): `false` for a claim of this queue that can no
 * longer run, and a refusal, not `false`, for one this queue did not hand
 * out, which never can.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { mustClaim, openTestQueue } from "./helpers.js";

/** The hook runWorker asks (see `claimStartable` in `queue/worker-hooks.ts`). */
function startable(queue: Queue, claim: unknown): boolean {
  const ask = (queue as unknown as Record<symbol, (claim: unknown) => boolean>)[
    Symbol.for("taquba.claimStartable")
  ]!;
  return ask.call(queue, claim);
}

describe("isStartable", { timeout: 60_000 }, () => {
  it("a live claim is startable; one released, cancelled or reaped is not", async () => {
    const { queue, clock } = await openTestQueue();
    await queue.enqueueBatch("q", ["live", "released", "cancelled", "reaped"]);
    const live = await mustClaim(queue, "q");
    const released = await mustClaim(queue, "q");
    const cancelled = await mustClaim(queue, "q");
    assert.equal(startable(queue, live), true);
    await queue.release(released);
    assert.equal(startable(queue, released), false);
    assert.equal(await queue.cancel(cancelled.id), "requested");
    assert.equal(startable(queue, cancelled), false);
    const reaped = await mustClaim(queue, "q", 1_000);
    clock.advance(1_000);
    await queue.reapNow();
    assert.equal(startable(queue, reaped), false);
    await queue.close();
    assert.equal(startable(queue, live), false, "the queue closed");
  });

  it("a claim this queue did not hand out is refused with INVALID_ARGUMENT saying why, whether live or not", async () => {
    const { queue } = await openTestQueue();
    const { queue: other } = await openTestQueue();
    await queue.enqueue("q", "mine");
    await other.enqueueBatch("q", ["live", "released"]);
    const mine = await mustClaim(queue, "q");
    const live = await mustClaim(other, "q");
    const released = await mustClaim(other, "q");
    await other.release(released);
    const cases: [string, unknown, RegExp][] = [
      ["another queue's live claim", live, /got a claim of another Queue\./],
      ["another queue's released claim", released, /got a claim of another Queue\./],
      [
        "a copy of this queue's claim without its lease (what another copy of the module sees)",
        structuredClone(mine),
        /got an object without this queue's lease\./,
      ],
      ["null", null, /got null without this queue's lease\./],
      [
        "a claim whose lease is of another copy of the module",
        { ...mine, [Object.getOwnPropertySymbols(mine)[0]!]: { id: mine.id } },
        /got a claim whose lease is of another copy of taquba's modules\./,
      ],
    ];
    for (const [what, claim, got] of cases) {
      let thrown: unknown;
      try {
        startable(queue, claim as Claim);
      } catch (error) {
        thrown = error;
      }
      assert.ok(thrown instanceof InvalidArgumentError, what);
      assert.match(thrown.message, /^Expected `claim` to be a claim handed out by this queue, /);
      assert.match(thrown.message, got, what);
      assert.match(thrown.message, /two copies of taquba's modules loaded in one process/, what);
    }
    assert.equal(startable(queue, mine), true, "its own claim still is");
    await queue.close();
    await other.close();
  });
});

describe("deadLetter of a job whose cancellation was requested", { timeout: 60_000 }, () => {
  it("removes the job, as a nack does: cancelled with the reason in its history, across a reopen", async () => {
    const { queue, store, clock } = await openTestQueue();
    const byCall = await queue.enqueue("q", "deadLetter");
    const byTx = await queue.enqueue("q", "tx.deadLetter");
    const first = await mustClaim(queue, "q");
    const second = await mustClaim(queue, "q");
    assert.equal(await queue.cancel(byCall), "requested");
    assert.equal(await queue.cancel(byTx), "requested");
    await queue.deadLetter(first, "bad input");
    await queue.transaction((tx) => tx.deadLetter(second, "bad input"));
    const check = async (q: Queue, when: string) => {
      for (const id of [byCall, byTx]) {
        assert.equal(await q.getJob(id), null, `${when}: removed, not dead`);
        assert.deepEqual(await q.waitForCompletion(id), { status: "cancelled" }, when);
        const history = await q.attemptHistory(id);
        assert.deepEqual(
          history.map((a) => [a.outcome, a.error]),
          [["cancelled", "bad input"]],
          when,
        );
      }
      assert.equal((await q.stats("q")).dead, 0, when);
    };
    await check(queue, "live");
    await queue.close();
    const { queue: reopened } = await openTestQueue({}, store, clock);
    await check(reopened, "after a reopen");
    await reopened.close();
  });
});
