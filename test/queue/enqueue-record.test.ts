/**
 * Every enqueue record a queue builds has the same fields in the same
 * order, whatever its job sets: so they share one hidden class, and the
 * code that applies them stays optimized when the first flow of a process
 * (records naming `flowParent`) follows plain enqueues.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CheckedJob } from "../../src/queue/enqueue.js";
import { enqueueRecordOf } from "../../src/queue/enqueue-record.js";
import { DEFAULT_QUEUE_CONFIG } from "../../src/queue/options.js";
import { checkEnqueueOptions } from "../../src/queue/validate.js";

const ID = "01J00000000000000000000000";
const PARENT = "01J00000000000000000000001";

function job(options: Parameters<typeof checkEnqueueOptions>[0]): CheckedJob {
  return {
    payload: new Uint8Array([1, 2, 3]),
    options: checkEnqueueOptions(options, DEFAULT_QUEUE_CONFIG),
    arg: "options",
    trace: undefined,
  };
}

describe("enqueue records", () => {
  it("have one set of fields, in one order, for plain jobs, jobs with options, offloaded payloads and flow jobs", () => {
    const plain = enqueueRecordOf(ID, "q", job({}), undefined, 1_000);
    const keys = Object.keys(plain);
    const others = [
      enqueueRecordOf(
        ID,
        "q",
        job({ jobId: "a", timeoutMs: 5, groupKey: "g", dedupKey: "d", delayMs: 10 }),
        undefined,
        1_000,
      ),
      enqueueRecordOf(ID, "q", job({}), { key: "k", size: 3 }, 1_000),
      enqueueRecordOf(ID, "q", job({}), undefined, 1_000, PARENT, false),
      enqueueRecordOf(ID, "q", job({}), undefined, 1_000, undefined, true),
      enqueueRecordOf(ID, "q", job({ jobId: "b" }), undefined, 1_000, PARENT, true),
    ];
    for (const record of others) assert.deepEqual(Object.keys(record), keys);
  });

  it("set what the job sets, and leave the rest undefined", () => {
    const child = enqueueRecordOf(ID, "q", job({ jobId: "a" }), undefined, 1_000, PARENT, true);
    assert.equal(child.jobId, "a");
    assert.equal(child.flowParent, PARENT);
    assert.equal(child.waitsForChildren, true);
    const plain = enqueueRecordOf(ID, "q", job({}), undefined, 1_000);
    assert.equal(plain.jobId, undefined);
    assert.equal(plain.flowParent, undefined);
    assert.equal(plain.waitsForChildren, undefined);
    assert.equal(plain.payloadRef, undefined);
    assert.deepEqual([...plain.payload], [1, 2, 3]);
  });
});
