import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { recordingLogger } from "../recording-logger.js";
import { GatedStore, turns, watch } from "./gated.js";
import { rec, testOptions } from "./helpers.js";

describe("log afterSend", { timeout: 30_000 }, () => {
  it("runs work right after the next batch is sent, while its write is in flight", async () => {
    const store = new GatedStore();
    const { log } = await openLog(store, "q", testOptions({ flushIntervalMs: undefined }));
    const first = log.append(rec("a"));
    await store.whenHeld(1);
    store.release(1);
    await first;

    const seen: Array<{ name: string; held: number[] }> = [];
    log.afterSend(() => seen.push({ name: "one", held: store.held() }));
    log.afterSend(() => seen.push({ name: "two", held: store.held() }));
    await turns();
    assert.deepEqual(seen, [], "nothing was sent: the work waits");

    const second = watch(log.append(rec("b")));
    await store.whenHeld(1);
    // Both ran once, in the order asked, with the create of batch 2 already made and not answered.
    assert.deepEqual(seen, [
      { name: "one", held: [2] },
      { name: "two", held: [2] },
    ]);
    assert.equal(second.state(), "pending");
    store.release(2);
    await turns();
    assert.equal(second.state(), "resolved");
    const third = log.append(rec("c"));
    await store.whenHeld(1);
    store.release(3);
    await third;
    assert.equal(seen.length, 2, "each runs once");
    await log.close();
  });

  it("runs work when the log fails before sending anything more", async () => {
    const store = new GatedStore();
    const { log } = await openLog(store, "q", testOptions({ flushIntervalMs: undefined }));
    const first = watch(log.append(rec("a")));
    await store.whenHeld(1);
    let ran = 0;
    log.afterSend(() => ran++);
    store.fail(1, new StorageError("refused", { permanent: true }));
    await turns();
    assert.equal(first.state(), "rejected");
    assert.equal(ran, 1);
    log.afterSend(() => ran++);
    assert.equal(ran, 1, "not inside the call");
    await turns(1);
    assert.equal(ran, 2, "a failed log sends nothing more: the work runs soon");
  });

  it("runs work when the log closes with nothing more to send", async () => {
    const store = new GatedStore();
    store.gating = false;
    const { log } = await openLog(store, "q", testOptions({ flushIntervalMs: undefined }));
    await log.append(rec("a"));
    let ran = 0;
    log.afterSend(() => ran++);
    await log.close();
    assert.equal(ran, 1);
    log.afterSend(() => ran++);
    await turns(1);
    assert.equal(ran, 2, "a closed log sends nothing more: the work runs soon");
  });

  it("a callback that throws is logged; the others run and the log goes on", async () => {
    const store = new GatedStore();
    store.gating = false;
    const logger = recordingLogger();
    const { log } = await openLog(store, "q", testOptions({ flushIntervalMs: undefined, logger }));
    const ran: string[] = [];
    log.afterSend(() => {
      throw new Error("boom");
    });
    log.afterSend(() => ran.push("after"));
    await log.append(rec("a"));
    assert.deepEqual(ran, ["after"]);
    assert.equal(logger.messages("error").length, 1);
    await log.append(rec("b"));
    assert.equal(log.stats().durableWalId, 2);
    await log.close();
  });
});
