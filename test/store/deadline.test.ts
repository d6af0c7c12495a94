/**
 * `withDeadline` settles as its call does and clears its timer whichever way
 * the call ends, so a finished call never keeps the process alive for the
 * rest of its time limit.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageError } from "../../src/errors.js";
import {
  CallDeadline,
  MAX_TIMEOUT_MS,
  StoreTimeoutError,
  withCallDeadline,
  withDeadline,
} from "../../src/store/deadline.js";

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

  it("a call that outlives its limit: its signal aborts with the timeout, then it rejects", async () => {
    let signal: AbortSignal | undefined;
    const never = (given: AbortSignal) => {
      signal = given;
      return new Promise<never>(() => {});
    };
    await assert.rejects(withDeadline(20, what, never), (err) => {
      assert.ok(err instanceof StorageError);
      assert.match(
        err.message,
        /^put "k" on file:\/\/\/store timed out after 20 ms without an answer/,
      );
      assert.ok(err.cause instanceof StoreTimeoutError);
      assert.equal(signal?.aborted, true);
      assert.equal(signal?.reason, err.cause);
      return true;
    });
  });
});

describe("CallDeadline", () => {
  it("runs its listeners once when it expires, not those removed, and none added after", () => {
    const deadline = new CallDeadline();
    const heard: string[] = [];
    const removed = () => heard.push("removed");
    deadline.addEventListener("abort", () => heard.push("first"), { once: true });
    deadline.addEventListener("abort", removed, { once: true });
    deadline.addEventListener("abort", () => heard.push("second"), { once: true });
    deadline.removeEventListener("abort", removed);
    assert.equal(deadline.aborted, false);
    assert.equal(deadline.reason, undefined);
    const cause = new StoreTimeoutError(5);
    deadline.expire(cause);
    deadline.expire(new StoreTimeoutError(6));
    deadline.addEventListener("abort", () => heard.push("late"));
    assert.deepEqual(heard, ["first", "second"]);
    assert.equal(deadline.aborted, true);
    assert.equal(deadline.reason, cause);
  });

  it("as an AbortSignal: a listener removed by an earlier one does not run, and one that throws does not stop the rest", () => {
    const deadline = new CallDeadline();
    const heard: string[] = [];
    const dropped = () => heard.push("dropped");
    deadline.addEventListener("abort", () => {
      heard.push("first");
      deadline.removeEventListener("abort", dropped);
      throw new Error("first listener failed");
    });
    deadline.addEventListener("abort", dropped);
    deadline.addEventListener("abort", () => {
      heard.push("last");
      throw new Error("last listener failed");
    });
    assert.throws(() => deadline.expire(new StoreTimeoutError(5)), /first listener failed/);
    assert.deepEqual(heard, ["first", "last"]);
    assert.equal(deadline.aborted, true);
  });

  it("makes its signal on first use: aborting with it, or already aborted once expired", () => {
    const early = new CallDeadline();
    const signal = early.signal;
    assert.equal(early.signal, signal, "one signal");
    assert.equal(signal.aborted, false);
    const cause = new StoreTimeoutError(5);
    early.expire(cause);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, cause);

    const late = new CallDeadline();
    late.expire(cause);
    assert.equal(late.signal.aborted, true);
    assert.equal(late.signal.reason, cause);
  });

  it("withCallDeadline: a call that outlives its limit finds its deadline expired, then it rejects", async () => {
    let deadline: CallDeadline | undefined;
    let heard = 0;
    const never = (given: CallDeadline) => {
      deadline = given;
      given.addEventListener("abort", () => heard++, { once: true });
      return new Promise<never>(() => {});
    };
    await assert.rejects(withCallDeadline(20, what, never), (err) => {
      assert.ok(err instanceof StorageError);
      assert.ok(err.cause instanceof StoreTimeoutError);
      assert.equal(deadline?.aborted, true);
      assert.equal(deadline?.reason, err.cause);
      assert.equal(heard, 1);
      return true;
    });
  });

  it("withCallDeadline: a finished or throwing call leaves no timer, and makes no signal it did not ask for", async () => {
    const before = timers();
    let deadline: CallDeadline | undefined;
    assert.equal(
      await withCallDeadline(MAX_TIMEOUT_MS, what, async (given) => {
        deadline = given;
        return 3;
      }),
      3,
    );
    assert.equal(timers(), before);
    assert.equal(deadline?.aborted, false);
    const failure = new Error("refused");
    await assert.rejects(
      withCallDeadline(MAX_TIMEOUT_MS, what, () => {
        throw failure;
      }),
      (err) => err === failure,
    );
    assert.equal(timers(), before, "after a synchronous throw");
  });
});
