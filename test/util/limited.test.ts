import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConcurrencyLimit, mapLimited } from "../../src/util/limited.js";

describe("mapLimited", () => {
  it("keeps at most `limit` calls in flight and returns results in input order", async () => {
    let inFlight = 0;
    let most = 0;
    const items = Array.from({ length: 100 }, (_, i) => i);
    const results = await mapLimited(items, 8, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Later items finish first: order must come from the input, not from completion.
      await new Promise((resolve) => setTimeout(resolve, (100 - i) % 5));
      inFlight--;
      return i * 2;
    });
    assert.deepEqual(
      results,
      items.map((i) => i * 2),
    );
    assert.equal(most, 8);
  });

  it("rejects with the first error and starts no further calls", async () => {
    const started: number[] = [];
    const failure = new Error("boom");
    await assert.rejects(
      mapLimited([0, 1, 2, 3, 4, 5, 6, 7], 2, async (i) => {
        started.push(i);
        await new Promise((resolve) => setImmediate(resolve));
        if (i === 1) throw failure;
        return i;
      }),
      failure,
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(started.length <= 3, `started after the failure: ${started.join(",")}`);
  });

  it("handles no items, and fewer items than the limit", async () => {
    assert.deepEqual(await mapLimited([], 4, async (x: number) => x), []);
    assert.deepEqual(await mapLimited([1, 2], 32, async (x) => x + 1), [2, 3]);
  });
});

describe("ConcurrencyLimit", () => {
  it("runs at most `limit` calls at once, the others in call order, and frees a slot on failure", async () => {
    const limit = new ConcurrencyLimit(3);
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    const calls = Array.from({ length: 20 }, (_, i) =>
      limit.run(async () => {
        started.push(i);
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        if (i % 4 === 0) throw new Error(`call ${i}`);
        return i;
      }),
    );
    const outcomes = await Promise.allSettled(calls);
    assert.equal(most, 3);
    assert.deepEqual(
      started,
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.deepEqual(
      outcomes.map((o) => (o.status === "fulfilled" ? o.value : "failed")),
      Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? "failed" : i)),
    );
  });

  it("starts calls below the limit in the caller's turn", () => {
    const limit = new ConcurrencyLimit(2);
    let started = 0;
    const never = new Promise<void>(() => undefined);
    void limit.run(() => {
      started++;
      return never;
    });
    void limit.run(() => {
      started++;
      return never;
    });
    void limit.run(() => {
      started++;
      return never;
    });
    assert.equal(started, 2);
  });
});
