/**
 * A call waiting on a held `jobId` lets go of its own hold once its
 * decision is applied to the state, not once it is durable: calls waiting
 * on one id then share log writes rather than each waiting for a write of
 * its own in turn. A call that finds the id taken still answers only once
 * the log is durable up to the job that took it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DuplicateJobIdError } from "../../src/errors.js";
import type { Queue } from "../../src/queue/queue.js";
import type { ObjectStore } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { flowOf } from "./flow-fixtures.js";
import { memoryAndFileStores, openTestQueue, rejection, turns, watch } from "./helpers.js";

async function assertReplays(queue: Queue, store: ObjectStore): Promise<void> {
  assert.deepEqual(auditState(liveState(queue)), []);
  assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(liveState(queue)));
}

const WAITERS = 50;

describe("calls waiting on a held jobId", { timeout: 60_000 }, () => {
  for (const [name, makeStore] of memoryAndFileStores("taquba-job-id-release-")) {
    it(`${name}: transactions waiting on one id all decide while one log write is held`, async () => {
      const faults = new FaultStore(await makeStore());
      const { queue } = await openTestQueue({}, faults);
      const flow = queue.enqueueFlow(flowOf("a", 20));
      const waiters = Array.from({ length: WAITERS }, (_, i) =>
        queue.transaction((tx) => {
          tx.enqueue("c", "y", { jobId: "a" });
          // Applied with the decision: shows how many waiters decided.
          tx.kvPut(`k${i}`, "v");
        }),
      );
      const settled = waiters.map((w) => watch(w));
      await flow;
      // The flow is durable and has let go: the waiters' writes are held from here on.
      const walWrite = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      await walWrite.whenHeld();
      await turns();
      // One waiter at a time (each holding the id until its write is durable) decided 1.
      assert.equal(liveState(queue).kv.size, WAITERS, "every waiter decided");
      assert.ok(
        settled.every((s) => !s.settled()),
        "none answers before its record is durable",
      );
      walWrite.release();
      for (const w of waiters) assert.deepEqual((await w).enqueued, [{ id: "a", created: false }]);
      await assertReplays(queue, faults);
      await queue.close();
    });

    it(`${name}: a call finding the id taken by a waiter answers once that waiter's job is durable`, async () => {
      const faults = new FaultStore(await makeStore());
      const { queue } = await openTestQueue({}, faults);
      const walWrite = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      // The flow fails (after taking its hold): the first waiter takes the id.
      const flow = rejection(queue.enqueueFlow(flowOf("a", 200, true)));
      const first = queue.transaction((tx) => {
        tx.enqueue("c", "first", { jobId: "a" });
      });
      const later = [
        rejection(queue.enqueue("c", "second", { jobId: "a" })),
        rejection(queue.enqueueMany("c", [{ payload: "third", options: { jobId: "a" } }])),
        queue.transaction((tx) => {
          tx.enqueue("c", "fourth", { jobId: "a" });
        }),
        rejection(queue.enqueueFlow(flowOf("a", 1))),
      ] as const;
      const settled = later.map((call) => watch(call as Promise<unknown>));
      assert.equal((await flow).code, "INVALID_ARGUMENT");
      await walWrite.whenHeld();
      await turns();
      assert.notEqual(liveState(queue).findPublic("a"), -1, "the first waiter committed");
      assert.ok(
        settled.every((s) => !s.settled()),
        "no later call answers before the job that took the id is durable",
      );
      walWrite.release();
      assert.deepEqual((await first).enqueued, [{ id: "a", created: true }]);
      assert.ok((await later[0]) instanceof DuplicateJobIdError);
      assert.ok((await later[1]) instanceof DuplicateJobIdError);
      assert.deepEqual((await later[2]).enqueued, [{ id: "a", created: false }]);
      assert.ok((await later[3]) instanceof DuplicateJobIdError);
      assert.equal((await queue.getJob("a"))!.payload.toString(), "first");
      await assertReplays(queue, faults);
      await queue.close();
    });
  }
});
