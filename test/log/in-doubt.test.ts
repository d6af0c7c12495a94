import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { FencedError, StorageError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { turns, watch } from "./gated.js";
import { rec, rejection, testOptions, texts } from "./helpers.js";

describe("log writes whose outcome is in doubt", { timeout: 30_000 }, () => {
  it("a background epoch check that finds a new writer resolves the create in flight first (FENCED for a write that landed)", async () => {
    const clock = new ManualClock();
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const options = testOptions({ clock, flushIntervalMs: 0, fenceCheckIntervalMs: 1_000 });
    const { log } = await openLog(faults, "q", options);
    clock.advance(1_000);
    // The next acknowledged batch starts a look for a newer epoch; hold its manifest listing.
    const look = faults.pause({ op: "list", keyPrefix: "q/manifest/" });
    await log.append(rec("before"));
    await look.whenHeld();
    // A write lands, but its reply is held.
    const reply = faults.pause({ op: "put", keyPrefix: "q/wal/", mode: "after" });
    const landed = watch(log.append(rec("landed")));
    await reply.whenHeld();
    // A new writer opens meanwhile and replays it.
    const next = await openLog(inner, "q", testOptions());
    assert.deepEqual(texts(next.records), ["before", "landed"]);
    // The look now sees the new epoch and fails the log ...
    look.release();
    await turns(20);
    assert.equal(landed.state(), "pending", "not told FENCED while its create is in flight");
    assert.equal((await rejection(log.append(rec("later")))).code, "FENCED");
    // ... and the write that landed is acknowledged: it is durable and replayed.
    reply.release();
    await turns(20);
    assert.equal(landed.state(), "resolved");
  });

  it("a create whose reply was lost and whose read-back failed is rejected with inDoubt: true", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const options = testOptions({ retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 30 } });
    const { log } = await openLog(faults, "q", options);
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "after" });
    faults.addRule({ op: "get", keyPrefix: "q/wal/", mode: "before" });
    const error = await rejection(log.append(rec("maybe")));
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.inDoubt, true);
    assert.match(error.message, /maybe-applied/);
    // Later calls get the log's failure, which is not about any one write.
    const later = await rejection(log.append(rec("later")));
    assert.equal((later as StorageError).inDoubt, false);
    // Here it had in fact landed.
    assert.deepEqual(texts((await openLog(inner, "q", testOptions())).records), ["maybe"]);
  });

  it("a create the store refused for good is not in doubt", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const { log } = await openLog(faults, "q", testOptions());
    faults.addRule({
      op: "put",
      keyPrefix: "q/wal/",
      mode: "before",
      error: () => new StorageError("access denied", { permanent: true }),
    });
    const error = await rejection(log.append(rec("refused")));
    assert.ok(error instanceof StorageError);
    assert.equal(error.permanent, true);
    assert.equal(error.inDoubt, false);
    assert.deepEqual((await openLog(inner, "q", testOptions())).records, []);
  });

  it("a write rejected because its slot was taken is not in doubt", async () => {
    const inner = new MemoryStore();
    const { log } = await openLog(inner, "q", testOptions());
    await log.append(rec("one"));
    await openLog(inner, "q", testOptions()); // fences the next slot
    const error = await rejection(log.append(rec("two")));
    assert.ok(error instanceof FencedError);
    assert.equal(error.inDoubt, false);
  });
});
