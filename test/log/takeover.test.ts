/**
 * Taking over a busy writer: the opener places its fence at the end of the
 * WAL as a listing shows it, instead of walking slot by slot behind a writer
 * that keeps filling them, and never reads a taken slot back for a fence.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore, PutOptions } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { rec, testOptions, texts } from "./helpers.js";

/** Records the opener's requests to WAL keys. */
function recording(inner: ObjectStore): {
  store: ObjectStore;
  walCreates: string[];
  walGets: string[];
} {
  const walCreates: string[] = [];
  const walGets: string[] = [];
  const store: ObjectStore = {
    get: (key) => {
      if (key.startsWith("q/wal/")) walGets.push(key);
      return inner.get(key);
    },
    put: (key, body, options?: PutOptions) => {
      if (key.startsWith("q/wal/") && options?.ifNoneMatch === "*") walCreates.push(key);
      return inner.put(key, body, options);
    },
    delete: (key) => inner.delete(key),
    list: (prefix, options) => inner.list(prefix, options),
    describe: () => inner.describe(),
  };
  return { store, walCreates, walGets };
}

describe("log takeover of a busy writer", { timeout: 30_000 }, () => {
  it("jumps to the end of the WAL after a lost fence slot, without reading slots back", async () => {
    const memory = new MemoryStore();
    // The old writer does not look for newer epochs during the test: it keeps writing.
    const options = testOptions({ fenceCheckIntervalMs: 600_000 });
    const { log: busy } = await openLog(memory, "q", options);
    for (let i = 0; i < 5; i++) await busy.append(rec(`early ${i}`));

    // The opener's WAL listing for its fence (after its manifest, not the one it reads ahead
    // before) lands, but its answer is held while the old writer fills 50 more slots: every
    // slot the listing called free is taken by the time it tries.
    const faults = new FaultStore(memory);
    const claimed = faults.pause({ op: "put", keyPrefix: "q/manifest/", mode: "after" });
    const opener = recording(faults);
    const opening = openLog(opener.store, "q", options);
    await claimed.whenHeld();
    const held = faults.pause({ op: "list", keyPrefix: "q/wal/", mode: "after" });
    claimed.release();
    await held.whenHeld();
    for (let i = 0; i < 50; i++) await busy.append(rec(`late ${i}`));
    held.release();

    const { log, records } = await opening;
    assert.deepEqual(
      texts(records),
      [
        ...Array.from({ length: 5 }, (_, i) => `early ${i}`),
        ...Array.from({ length: 50 }, (_, i) => `late ${i}`),
      ],
      "everything the old writer acknowledged is replayed",
    );
    // One lost try at the slot the stale listing showed, then the slot after the end, then
    // the rest of the old writer's window of writes in flight (four slots in all).
    assert.equal(opener.walCreates.length, 2 + 3, opener.walCreates.join(", "));
    const fenceSlot = Number(opener.walCreates[1]!.slice("q/wal/".length));
    assert.equal(
      fenceSlot,
      5 + 50 + 1,
      "the fence follows the 55 batches (a new log has no fence)",
    );
    // Slots are read once, ahead or by replay; a taken fence slot is never read back.
    assert.equal(new Set(opener.walGets).size, opener.walGets.length, opener.walGets.join(", "));
    await assert.rejects(busy.append(rec("zombie")), { code: "FENCED" });
    await log.close();
  });
});
