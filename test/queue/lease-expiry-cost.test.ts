import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClaimLostError } from "../../src/errors.js";
import { Lease } from "../../src/queue/leases.js";
import { BULK_RECORD_JOBS } from "../../src/queue/records/bulk.js";
import type { Claim } from "../../src/queue/types.js";
import { claimLostReason } from "../../src/queue/worker-hooks.js";
import { turnCounter } from "../turns.js";
import { openTestQueue, setSliceMs } from "./helpers.js";

/** Runs `f`, counting the `ClaimLostError`s made meanwhile (each captures a stack). */
async function claimLostErrorsDuring<T>(f: () => Promise<T>): Promise<{ result: T; made: number }> {
  const parent = Object.getPrototypeOf(ClaimLostError) as new (...args: unknown[]) => Error;
  let made = 0;
  function Counting(this: unknown, ...args: unknown[]): Error {
    made++;
    return Reflect.construct(parent, args, new.target);
  }
  Counting.prototype = parent.prototype;
  Object.setPrototypeOf(ClaimLostError, Counting);
  try {
    return { result: await f(), made };
  } finally {
    Object.setPrototypeOf(ClaimLostError, parent);
  }
}

describe("leases expiring at once", { timeout: 60_000 }, () => {
  it("the reaper makes no error per expired lease nobody listens on, and reaps them a bounded step per turn", async () => {
    const { queue, clock } = await openTestQueue();
    const count = 3 * BULK_RECORD_JOBS + 5;
    for (let i = 0; i < count; i += 1_000)
      await queue.enqueueBatch(
        "q",
        Array.from({ length: Math.min(1_000, count - i) }, (_, j) => `j${i + j}`),
      );
    const claims: Claim[] = [];
    while (claims.length < count)
      claims.push(...(await queue.claimBatch("q", 1_000, { leaseMs: 1_000 })));
    assert.equal(claims.length, count);
    // One claim's handler listens on its signal: its reason is made when the lease expires.
    const signal = queue.claimSignal(claims[0]!);

    setSliceMs(queue, 0); // every slice does its smallest step, then yields
    const perTurn: number[] = [0];
    const lose = Lease.prototype.lose;
    Lease.prototype.lose = function (this: Lease, ...args: Parameters<Lease["lose"]>) {
      perTurn[perTurn.length - 1]!++;
      return lose.apply(this, args);
    };
    const counter = turnCounter(() => perTurn.push(0));
    const { made } = await claimLostErrorsDuring(async () => {
      clock.advance(1_000);
      await queue.reapNow();
    }).finally(() => {
      counter.stop();
      Lease.prototype.lose = lose;
    });
    assert.equal(
      perTurn.reduce((a, b) => a + b, 0),
      count,
      "every lease expired",
    );
    assert.ok(
      Math.max(...perTurn) <= BULK_RECORD_JOBS,
      `${Math.max(...perTurn)} leases expired in one turn`,
    );
    assert.ok(made <= 1, `${made} ClaimLostErrors made for ${count} expired leases`);
    assert.equal((await queue.stats("q")).pending, count);

    // Why each claim was lost is still there for whoever asks.
    assert.ok(signal.aborted && signal.reason instanceof ClaimLostError);
    assert.match(signal.reason.message, new RegExp(`lease of job ${claims[0]!.id} expired`));
    const later = claimLostReason(queue, claims[count - 1]!);
    assert.ok(later instanceof ClaimLostError);
    assert.match(later.message, new RegExp(`lease of job ${claims[count - 1]!.id} expired`));
    assert.equal(claimLostReason(queue, claims[count - 1]!), later, "the same reason each time");
    await queue.close();
  });
});
