import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { ManualClock } from "../../src/clock.js";
import { FencedError } from "../../src/errors.js";
import { isFenceSize } from "../../src/log/codec.js";
import { PROBE_MIN_AGE_MS } from "../../src/log/gc.js";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { probeConditionalWrites } from "../../src/store/probe.js";
import { listAll } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { turns, watch } from "./gated.js";
import { keysUnder, rec, testOptions, texts } from "./helpers.js";

async function fences(store: MemoryStore): Promise<string[]> {
  return (await listAll(store, "q/wal/")).filter((o) => isFenceSize(o.size)).map((o) => o.key);
}

describe("fence collection", { timeout: 30_000 }, () => {
  it("collects fences older than fenceMinAgeMs; a zombie stalled past that age still cannot get a write acknowledged", async () => {
    const clock = new ManualClock();
    const inner = new MemoryStore();
    const options = testOptions({
      clock,
      flushIntervalMs: 0,
      epochValidityMs: 1_000,
      fenceMinAgeMs: 3_000,
      fenceCheckIntervalMs: 100,
    });
    const zombieStore = new FaultStore(inner);
    const { log: zombie } = await openLog(zombieStore, "q", options);
    await zombie.append(rec("z0"));
    // The zombie's next write stalls on its way to the store.
    const stall = zombieStore.pause({ op: "put", keyPrefix: "q/wal/" });
    const lost = watch(zombie.append(rec("lost")));
    await stall.whenHeld();

    // A new writer takes over: it fences the zombie's window (slots 2-5), writes, checkpoints.
    const recovered = await openLog(inner, "q", options);
    assert.deepEqual(texts(recovered.records), ["z0"]);
    const { log } = recovered;
    const items = ["z0"];
    log.setSnapshotSource(() => rec(items.join(",")));
    items.push("b1");
    await log.append(rec("b1"));
    assert.equal((await fences(inner)).length, 4);
    await log.checkpoint();
    assert.equal((await fences(inner)).length, 4, "younger than fenceMinAgeMs: kept");
    clock.advance(3_000);
    items.push("b2");
    await log.append(rec("b2"));
    await log.checkpoint();
    assert.deepEqual(await fences(inner), [], "collected");

    // The zombie wakes up: its create lands in the collected slot, but is never acknowledged.
    stall.release();
    for (let i = 0; i < 50 && lost.state() === "pending"; i++) await turns();
    assert.equal(lost.state(), "rejected");
    const error = lost.error();
    assert.ok(error instanceof FencedError, String(error));
    assert.equal(error.inDoubt, true);
    assert.ok(await inner.get("q/wal/00000000000000000002"), "the zombie's batch did land");
    // Nobody replays it: it is below the checkpoint.
    const reopened = await openLog(inner, "q", options);
    assert.equal(new TextDecoder().decode(reopened.checkpoint!), "z0,b1,b2");
    assert.deepEqual(reopened.records, []);
  });

  it("the number of fences stays bounded over many unclean reopens", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const options = testOptions({
      clock,
      flushIntervalMs: 0,
      epochValidityMs: 1_000,
      fenceMinAgeMs: 3_000,
    });
    for (let round = 0; round < 12; round++) {
      const { log } = await openLog(store, "q", options); // never closed: the next open fences
      log.setSnapshotSource(() => rec(`state ${round}`));
      await log.append(rec(`r${round}`));
      await log.checkpoint(); // GC starts the clock on the fences it sees
      clock.advance(3_000);
      await log.append(rec(`r${round}.2`));
      await log.checkpoint();
    }
    const left = await fences(store);
    assert.ok(left.length <= 4, `fences left: ${left.length}`);
  });
});

describe("probe cleanup", { timeout: 30_000 }, () => {
  it("a probe create that failed after taking effect leaves nothing behind", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    faults.addRule({ op: "put", keyPrefix: "q/probe/", mode: "after", times: 1 });
    await assert.rejects(probeConditionalWrites(faults, "q/"));
    assert.deepEqual(await keysUnder(inner, "q/probe/"), []);
  });

  it("GC removes probe objects a crash left behind, never a fresh one", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const body = new Uint8Array([1]);
    const old = `q/probe/${ulid(clock.now() - PROBE_MIN_AGE_MS)}`;
    const fresh = `q/probe/${ulid(clock.now())}`;
    const unnamed = "q/probe/0b6c8f1e-8f3e-4c7e-9a53-3f7f5f0e2a11";
    for (const key of [old, fresh, unnamed]) await store.put(key, body);
    const { log } = await openLog(store, "q", testOptions({ clock, flushIntervalMs: 0 }));
    log.setSnapshotSource(() => rec("state"));
    await log.append(rec("a"));
    await log.checkpoint();
    assert.deepEqual(await keysUnder(store, "q/probe/"), [fresh, unnamed].sort());
    clock.advance(PROBE_MIN_AGE_MS);
    await log.append(rec("b"));
    await log.checkpoint();
    assert.deepEqual(await keysUnder(store, "q/probe/"), []);
  });
});
