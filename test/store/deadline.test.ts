/**
 * `withDeadline` settles as its call does and clears its timer whichever way
 * the call ends, so a finished call never keeps the process alive for the
 * rest of its time limit.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_TIMEOUT_MS, withDeadline } from "../../src/store/deadline.js";

const what = { store: "file:///store", op: "put", key: "k" };

/** Timers that keep this process alive now. */
function timers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
}

describe("withDeadline", () => {
  it("passes a call's value or error through and clears its timer", async () => {
    const before = timers();
    assert.equal(await withDeadline(MAX_TIMEOUT_MS, what, async () => 42), 42);
    assert.equal(timers(), before, "after a value");
    const failure = new Error("refused");
    await assert.rejects(
      withDeadline(MAX_TIMEOUT_MS, what, async () => {
        throw failure;
      }),
      (err) => err === failure,
    );
    assert.equal(timers(), before, "after a rejection");
    await assert.rejects(
      withDeadline(MAX_TIMEOUT_MS, what, () => {
        throw failure;
      }),
      (err) => err === failure,
    );
    assert.equal(timers(), before, "after a synchronous throw");
  });

  it("a call that returns a plain value (untyped code) resolves with it and clears its timer", async () => {
    const before = timers();
    let signal: AbortSignal | undefined;
    const plain = (given: AbortSignal): Promise<number> => {
      signal = given;
      return 7 as unknown as Promise<number>;
    };
    // A limit of seconds, not days: a timer left behind would hold the test process that long.
    assert.equal(await withDeadline(30_000, what, plain), 7);
    assert.equal(timers(), before, "no timer is left to keep the process alive");
    assert.equal(signal?.aborted, false);
  });
});
