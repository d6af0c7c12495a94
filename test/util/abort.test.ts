// Owns src/util/abort.ts: which objects count as abort signals, and the combined signal,
// with the host's `AbortSignal.any` and with the fallback used where it is missing (jsdom 20,
// Node 20.0–20.2).
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { anySignal, isAbortSignal } from "../../src/util/abort.js";
import { checkOptionalSignal } from "../../src/validate.js";
import { runWorker } from "../../src/worker/run-worker.js";

/** An old `AbortSignal` polyfill (event-target-shim's kind): `aborted` and listeners, no `reason`. */
function polyfillSignal(aborted: boolean): EventTarget {
  return Object.assign(new EventTarget(), { aborted });
}

/** Runs `body` as on a host without `AbortSignal.any`. */
async function withoutAny(body: () => void | Promise<void>): Promise<void> {
  const statics = AbortSignal as { any?: typeof AbortSignal.any };
  const any = statics.any;
  delete statics.any;
  try {
    await body();
  } finally {
    statics.any = any;
  }
}

function listeners(signal: AbortSignal): number {
  return getEventListeners(signal, "abort").length;
}

describe("isAbortSignal", () => {
  it("accepts signals and their look-alikes that have a reason", () => {
    assert.equal(isAbortSignal(new AbortController().signal), true);
    assert.equal(isAbortSignal(AbortSignal.abort("x")), true);
    // Another realm's signal, as jsdom makes them: the shape, not the class.
    const foreign = Object.assign(new EventTarget(), { aborted: false, reason: undefined });
    assert.equal(isAbortSignal(foreign), true);
  });

  it("refuses an old polyfill without `reason`, and what is no signal", () => {
    assert.equal(isAbortSignal(polyfillSignal(true)), false);
    assert.equal(isAbortSignal(polyfillSignal(false)), false);
    for (const value of [null, undefined, 1, "signal", {}, { aborted: false, reason: 1 }])
      assert.equal(isAbortSignal(value), false, String(value));
  });

  it("an old polyfill is refused with INVALID_ARGUMENT, not rejected with `undefined`", async () => {
    assert.throws(
      () => checkOptionalSignal(polyfillSignal(true), "options.signal"),
      (error) => error instanceof InvalidArgumentError && error.code === "INVALID_ARGUMENT",
    );
    const queue = await Queue.open(new MemoryStore(), "app", { logger: silentLogger });
    try {
      const id = await queue.enqueue("q", "x");
      await assert.rejects(
        queue.waitForCompletion(id, { signal: polyfillSignal(true) as AbortSignal }),
        (error) =>
          error instanceof InvalidArgumentError &&
          /Expected `options.signal` to be an AbortSignal/.test(error.message),
      );
    } finally {
      await queue.close();
    }
  });
});

describe("anySignal", () => {
  it("with AbortSignal.any: aborts with the first source's reason; dispose is harmless", () => {
    const a = new AbortController();
    const b = new AbortController();
    const combined = anySignal([a.signal, b.signal]);
    const reason = new Error("b first");
    b.abort(reason);
    a.abort(new Error("a later"));
    assert.equal(combined.signal.aborted, true);
    assert.equal(combined.signal.reason, reason);
    combined.dispose();
  });

  for (const first of [0, 1]) {
    it(`without AbortSignal.any: source ${first} aborts first, with its reason, and no listener stays`, async () => {
      await withoutAny(() => {
        const sources = [new AbortController(), new AbortController()];
        const combined = anySignal(sources.map((c) => c.signal));
        assert.deepEqual(
          sources.map((c) => listeners(c.signal)),
          [1, 1],
        );
        assert.equal(combined.signal.aborted, false);
        const reason = new Error(`source ${first}`);
        sources[first]!.abort(reason);
        assert.equal(combined.signal.aborted, true);
        assert.equal(combined.signal.reason, reason);
        assert.deepEqual(
          sources.map((c) => listeners(c.signal)),
          [0, 0],
        );
        // The other source aborting later changes nothing.
        sources[1 - first]!.abort(new Error("later"));
        assert.equal(combined.signal.reason, reason);
        combined.dispose();
      });
    });
  }

  it("without AbortSignal.any: an already aborted source gives its reason at once, and no listener", async () => {
    await withoutAny(() => {
      const live = new AbortController();
      const reason = new Error("already");
      const combined = anySignal([live.signal, AbortSignal.abort(reason)]);
      assert.equal(combined.signal.aborted, true);
      assert.equal(combined.signal.reason, reason);
      assert.equal(listeners(live.signal), 0);
      combined.dispose();
    });
  });

  it("without AbortSignal.any: dispose lets go of a long-lived source", async () => {
    await withoutAny(() => {
      const long = new AbortController();
      const combined: AbortSignal[] = [];
      for (let i = 0; i < 1000; i++) {
        const c = anySignal([long.signal, new AbortController().signal]);
        combined.push(c.signal);
        c.dispose();
      }
      assert.equal(listeners(long.signal), 0);
      // A disposed signal follows its sources no more.
      long.abort(new Error("late"));
      assert.equal(
        combined.some((signal) => signal.aborted),
        false,
      );
    });
  });

  it("without AbortSignal.any: a job with timeoutMs leaves no listener on its claim's signal", async () => {
    await withoutAny(async () => {
      const queue = await Queue.open(new MemoryStore(), "app", { logger: silentLogger });
      try {
        await queue.enqueue("q", "x", { timeoutMs: 60_000 });
        const stop = new AbortController();
        let claimSignal: AbortSignal | undefined;
        let during = -1;
        await runWorker(
          queue,
          "q",
          (job, ctx) => {
            assert.equal(ctx.signal.aborted, false);
            claimSignal = queue.claimSignal(job);
            during = listeners(claimSignal);
            stop.abort();
          },
          { signal: stop.signal },
        );
        assert.equal(during, 1);
        assert.equal(claimSignal!.aborted, false);
        assert.equal(listeners(claimSignal!), 0);
      } finally {
        await queue.close();
      }
    });
  });
});
