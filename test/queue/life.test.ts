/**
 * A close counts as closing from its first step: code of the caller that
 * the close itself runs (a claim signal's abort listener, a worker's
 * callback) finds the queue closed, and a `close()` from there joins the
 * running one. A lease still live may still be settled from there: the
 * closing flush makes that durable.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { mustClaim, openTestQueue, turns, watch } from "./helpers.js";

const ONE_ATTEMPT = { defaultQueueConfig: { maxAttempts: 1 } };

describe("closing", { timeout: 30_000 }, () => {
  it("a claim made from an abort listener the close runs is refused, and costs its job nothing", async () => {
    const { queue, store } = await openTestQueue(ONE_ATTEMPT);
    const [, other] = await queue.enqueueBatch("q", ["a", "b"]);
    const claim = await mustClaim(queue, "q");
    let inner: Promise<unknown> | undefined;
    queue.claimSignal(claim).addEventListener("abort", () => {
      inner = queue.claim("q").then(
        (got) => got,
        (error: unknown) => error,
      );
    });
    await queue.close();
    assert.ok(inner !== undefined, "the listener ran");
    assert.equal(((await inner) as { code?: string } | null)?.code, "CLOSED");
    const { queue: reopened } = await openTestQueue(ONE_ATTEMPT, store);
    const job = await reopened.getJob(other!);
    assert.deepEqual([job?.status, job?.attempts], ["pending", 0]);
    assert.deepEqual(await reopened.attemptHistory(other!), []);
    await reopened.close();
  });

  for (const [op, expected] of [
    ["ack", undefined],
    ["nack", ["dead", 1, ["dead_lettered"]]],
    ["release", ["pending", 0, []]],
  ] as const) {
    it(`settling its own claim with ${op} from an abort listener the close runs is accepted and durable`, async () => {
      const { queue, store } = await openTestQueue(ONE_ATTEMPT);
      const id = await queue.enqueue("q", "a");
      const claim = await mustClaim(queue, "q");
      let settled: Promise<unknown> | undefined;
      queue.claimSignal(claim).addEventListener("abort", () => {
        const call =
          op === "ack"
            ? queue.ack(claim)
            : op === "nack"
              ? queue.nack(claim, "stopped")
              : queue.release(claim);
        settled = call.then(
          () => "ok",
          (error: unknown) => (error as { code?: string }).code ?? error,
        );
      });
      await queue.close();
      assert.ok(settled !== undefined, "the listener ran");
      assert.equal(await settled, "ok");
      const { queue: reopened } = await openTestQueue(ONE_ATTEMPT, store);
      const job = await reopened.getJob(id);
      if (expected === undefined) assert.equal(job, null, "an acked job is gone");
      else {
        const history = (await reopened.attemptHistory(id)).map((entry) => entry.outcome);
        assert.deepEqual([job?.status, job?.attempts, history], expected);
      }
      await reopened.close();
    });
  }

  it("a close called from an abort listener the close runs finds the queue closed and joins it", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({ heartbeatMs: 60_000 }, faults);
    await queue.enqueue("q", "a");
    const claim = await mustClaim(queue, "q");
    let inner: Promise<void> | undefined;
    let closedThen: boolean | undefined;
    queue.claimSignal(claim).addEventListener("abort", () => {
      closedThen = queue.closed;
      inner = queue.close();
    });
    const beat = faults.pause({ op: "put", keyPrefix: "q/heartbeat/" });
    const outer = queue.close();
    await beat.whenHeld();
    assert.ok(inner !== undefined, "the listener ran");
    assert.equal(closedThen, true, "the queue counts as closed from the close's first step");
    const watched = [watch(outer), watch(inner)];
    await turns(20);
    assert.deepEqual(
      watched.map((w) => w.settled()),
      [false, false],
      "neither close ends before its closing beat is written",
    );
    beat.release();
    await Promise.all([outer, inner]);
  });
});
