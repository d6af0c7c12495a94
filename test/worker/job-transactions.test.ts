import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { Transaction } from "../../src/queue/transaction.js";
import { JobTransactions } from "../../src/worker/job-transactions.js";
import { mustClaim, openTestQueue } from "../queue/helpers.js";

describe("ctx.transaction", () => {
  it("rejects a build that is not a function, as Queue.transaction does, rather than throwing", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    const transactions = new JobTransactions(queue, claim);
    let written: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      written = transactions.run(null as unknown as (tx: Transaction) => void);
    });
    await assert.rejects(written!, InvalidArgumentError);
    assert.equal(transactions.settling, false);
    await queue.close();
  });
});
