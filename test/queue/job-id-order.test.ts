/**
 * A caller's `jobId` goes to the earliest call that asks for it, also when
 * that call does not commit within its own call (its payload is offloaded
 * first, or the log does not take writes): a later call with the same id
 * waits for it, then finds the id taken (or takes it, if the earlier call
 * failed). Before, the later call could commit first and the earlier one
 * got `DuplicateJobIdError` (or `created: false` in a transaction).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DuplicateJobIdError } from "../../src/errors.js";
import type { Queue } from "../../src/queue/queue.js";
import type { ObjectStore } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import {
  FAIL_FAST,
  memoryAndFileStores,
  openTestQueue,
  rejection,
  turns,
  watch,
} from "./helpers.js";

/** Offloaded above this many bytes. */
const OFFLOAD = 100;
const BIG = "b".repeat(OFFLOAD * 2);

type Outcome = "won" | "lost";

/** Whether a call's job took the id, or found it taken. */
async function outcome(call: Promise<boolean>): Promise<Outcome> {
  try {
    return (await call) ? "won" : "lost";
  } catch (error) {
    if (error instanceof DuplicateJobIdError) return "lost";
    throw error;
  }
}

/** One call of each kind with a caller `jobId`: resolves with whether it created the job. */
const calls: [string, (queue: Queue, jobId: string, payload: string) => Promise<boolean>][] = [
  ["enqueue", (queue, jobId, payload) => queue.enqueue("q", payload, { jobId }).then(() => true)],
  [
    "enqueueMany",
    (queue, jobId, payload) =>
      queue
        .enqueueMany("q", [{ payload: "other" }, { payload, options: { jobId } }])
        .then((results) => results[1]!.created),
  ],
  [
    "transaction",
    (queue, jobId, payload) =>
      queue
        .transaction((tx) => {
          tx.kvPut("k", "v");
          tx.enqueue("q", payload, { jobId });
        })
        .then((result) => result.enqueued[0]!.created),
  ],
  [
    "enqueueFlow",
    (queue, jobId, payload) =>
      queue
        .enqueueFlow({
          queue: "q",
          payload,
          options: { jobId },
          children: [{ queue: "c", payload }],
        })
        .then(() => true),
  ],
];

/** Live state sound, and a replay of the store equal to it. */
async function assertReplays(queue: Queue, store: ObjectStore): Promise<void> {
  assert.deepEqual(auditState(liveState(queue)), []);
  assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(liveState(queue)));
}

describe("a caller's jobId goes to the earliest call", { timeout: 120_000 }, () => {
  for (const [name, makeStore] of memoryAndFileStores("taquba-job-id-order-")) {
    it(`${name}: the earlier call takes the id, whichever of them writes its payload first`, async () => {
      for (const [firstName, first] of calls)
        for (const [secondName, second] of calls)
          for (const offloaded of ["neither", "first", "second", "both"] as const) {
            const what = `${firstName} then ${secondName}, ${offloaded} offloaded`;
            const big = (which: "first" | "second"): string =>
              offloaded === which || offloaded === "both" ? `${which}${BIG}` : which;
            const store = await makeStore();
            const { queue } = await openTestQueue({ payloadOffloadBytes: OFFLOAD }, store);
            const a = outcome(first(queue, "id", big("first")));
            const b = outcome(second(queue, "id", big("second")));
            assert.deepEqual([await a, await b], ["won", "lost"], what);
            const payload = (await queue.getJob("id"))!.payload.toString();
            assert.ok(payload.startsWith("first"), `${what}: ${payload.slice(0, 10)}`);
            await assertReplays(queue, store);
            await queue.close();
          }
    });

    it(`${name}: a later call in the same step finds the id taken, and none of its jobs is applied`, async () => {
      const store = await makeStore();
      const { queue } = await openTestQueue({}, store);
      // The earlier call decides and commits within its call: the later one, checked against
      // the state before the earlier one committed, used to fail in apply after applying "b".
      const first = queue.enqueue("q", "first", { jobId: "id" });
      const second = rejection(
        queue.enqueueMany("q", [
          { payload: "b", options: { jobId: "b" } },
          { payload: "second", options: { jobId: "id" } },
        ]),
      );
      assert.equal(await first, "id");
      assert.ok((await second) instanceof DuplicateJobIdError, String(await second));
      assert.equal(liveState(queue).findPublic("b"), -1);
      await assertReplays(queue, store);
      await queue.close();
    });

    it(`${name}: a call that fails to write its payload lets the later call take the id`, async () => {
      const faults = new FaultStore(await makeStore());
      const { queue } = await openTestQueue({ ...FAIL_FAST, payloadOffloadBytes: OFFLOAD }, faults);
      const payloadWrite = faults.pause({ op: "put", keyPrefix: "q/payload/" });
      const first = rejection(queue.enqueue("q", `first${BIG}`, { jobId: "id" }));
      const second = queue.transaction((tx) => {
        tx.enqueue("q", "second", { jobId: "id" });
      });
      const secondSettled = watch(second);
      await payloadWrite.whenHeld();
      await turns();
      assert.equal(secondSettled.settled(), false, "waits for the earlier call");
      assert.equal(liveState(queue).findPublic("id"), -1, "has not taken the id");
      faults.addRule({ op: "put", keyPattern: /\/payload\//, mode: "before" });
      payloadWrite.release();
      assert.equal((await first).code, "STORAGE");
      assert.deepEqual((await second).enqueued, [{ id: "id", created: true }]);
      assert.equal((await queue.getJob("id"))!.payload.toString(), "second");
      faults.clearRules();
      await assertReplays(queue, faults);
      await queue.close();
    });

    it(`${name}: a call waiting for the log to take writes keeps its id from later calls`, async () => {
      const faults = new FaultStore(await makeStore());
      const { queue } = await openTestQueue({ log: { maxUnflushedBytes: 50 } }, faults);
      const walWrite = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const filler = queue.enqueue("q", "f".repeat(200));
      await walWrite.whenHeld();
      const first = queue.enqueue("q", "first", { jobId: "id" });
      const later = [
        rejection(queue.enqueue("q", "second", { jobId: "id" })),
        queue.transaction((tx) => {
          tx.enqueue("q", "third", { jobId: "id" });
        }),
        rejection(queue.enqueueFlow({ queue: "q", payload: "fourth", options: { jobId: "id" } })),
      ] as const;
      walWrite.release();
      await filler;
      assert.equal(await first, "id");
      assert.ok((await later[0]) instanceof DuplicateJobIdError);
      assert.deepEqual((await later[1]).enqueued, [{ id: "id", created: false }]);
      assert.ok((await later[2]) instanceof DuplicateJobIdError);
      assert.equal((await queue.getJob("id"))!.payload.toString(), "first");
      await assertReplays(queue, faults);
      await queue.close();
    });
  }
});
