/**
 * A call that finds a `jobId` taken answers `DuplicateJobIdError` only once
 * the job that took it is durable. The taking job may be applied but not
 * durable yet (a waiter that let go of its hold once its decision was
 * applied, or a plain enqueue whose write is in flight); if its write then
 * fails, the call rejects with the log's failure instead: it must not tell
 * a producer that uses `jobId` for idempotency that a job exists which never
 * will.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { liveState } from "../reliability/lib/audit.js";
import { flowOf } from "./flow-fixtures.js";
import {
  FAIL_FAST,
  memoryAndFileStores,
  openTestQueue,
  rejection,
  turns,
  watch,
} from "./helpers.js";

const OFFLOAD = 1024;
const KINDS = ["enqueue", "enqueueMany", "offloaded enqueue", "enqueueFlow"] as const;
type Kind = (typeof KINDS)[number];

/** The late call with the taken id "a". */
function lateCall(queue: Queue, kind: Kind): Promise<unknown> {
  switch (kind) {
    case "enqueue":
      return queue.enqueue("c", "late", { jobId: "a" });
    case "enqueueMany":
      return queue.enqueueMany("c", [{ payload: "late", options: { jobId: "a" } }]);
    case "offloaded enqueue":
      return queue.enqueue("c", new Uint8Array(OFFLOAD * 4), { jobId: "a" });
    case "enqueueFlow":
      return queue.enqueueFlow(flowOf("a", 1));
  }
}

/** How "a" was taken, applied but with its WAL write held. */
const HOW = ["a waiter that let go", "an enqueue in flight"] as const;

describe("a taken jobId is answered once its job is durable", { timeout: 60_000 }, () => {
  for (const [name, makeStore] of memoryAndFileStores("taquba-job-id-durable-")) {
    for (const how of HOW)
      for (const kind of KINDS)
        for (const lands of [false, true])
          it(`${name}: ${kind} after ${how}, the write ${lands ? "lands" : "fails"}`, async () => {
            const inner = await makeStore();
            const faults = new FaultStore(inner);
            const { queue } = await openTestQueue(
              { ...FAIL_FAST, payloadOffloadBytes: OFFLOAD },
              faults,
            );
            const walWrite = faults.pause({ op: "put", keyPrefix: "q/wal/" });
            let first: Promise<unknown>;
            if (how === "a waiter that let go") {
              // A failing flow holds "a"; a transaction waits on it, then takes "a" and lets go
              // once applied, before its record is durable.
              const flow = rejection(queue.enqueueFlow(flowOf("a", 200, true)));
              first = queue.transaction((tx) => {
                tx.enqueue("c", "first", { jobId: "a" });
              });
              assert.equal((await flow).code, "INVALID_ARGUMENT");
            } else {
              first = queue.enqueue("c", "first", { jobId: "a" });
            }
            const firstOutcome = first.then(
              () => "ok",
              (e: Error & { code?: string }) => e.code,
            );
            await walWrite.whenHeld();
            await turns();
            assert.notEqual(liveState(queue).findPublic("a"), -1, "a is applied");
            const late = rejection(lateCall(queue, kind));
            const lateWatch = watch(late);
            await turns();
            assert.equal(lateWatch.settled(), false, "not answered while a's write is held");
            if (!lands) faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before" });
            walWrite.release();
            const error = await late;
            if (lands) {
              assert.equal(error.code, "DUPLICATE_JOB_ID");
              assert.equal(await firstOutcome, "ok");
            } else {
              assert.notEqual(error.code, "DUPLICATE_JOB_ID");
              assert.equal(error.code, "STORAGE");
              assert.equal(await firstOutcome, "STORAGE");
            }
            await queue.close().catch(() => {});
            faults.clearRules();
            const again = await Queue.open(inner, "q", { logger: silentLogger });
            const job = await again.getJob("a");
            assert.equal(job === null ? "absent" : "present", lands ? "present" : "absent");
            await again.close();
          });
  }
});
