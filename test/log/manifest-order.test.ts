import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog } from "../../src/log/index.js";
import { LogKeys } from "../../src/log/keys.js";
import { ManifestReader } from "../../src/log/manifest.js";
import { LogStorage } from "../../src/log/storage.js";
import { silentLogger } from "../../src/logger.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { keysUnder, rec, testOptions, texts } from "./helpers.js";

/** Manifests the log below holds: its writer's claim, then one per checkpoint. */
const MANIFESTS = 8;

/** A log of {@link MANIFESTS} manifests (none collected), each checkpoint after one more record. */
async function manyManifests(): Promise<MemoryStore> {
  const store = new MemoryStore();
  const { log } = await openLog(store, "q", testOptions({ gcMinAgeMs: 1e12 }));
  const written: string[] = [];
  log.setSnapshotSource(() => rec(written.join(",")));
  for (let i = 1; i < MANIFESTS; i++) {
    await log.append(rec(`r${i}`));
    written.push(`r${i}`);
    await log.checkpoint();
  }
  await log.append(rec("after the last checkpoint"));
  return store; // not closed: the next writer takes it over
}

/** Breaks the `ObjectStore` contract: each page of 3 keys comes back in reverse key order. */
function reversedPages(inner: ObjectStore): ObjectStore {
  return {
    get: (key) => inner.get(key),
    put: (key, body, putOptions) => inner.put(key, body, putOptions),
    delete: (key) => inner.delete(key),
    describe: () => inner.describe(),
    list: async (prefix, listOptions) => {
      const page = await inner.list(prefix, { ...listOptions, limit: 3 });
      return { ...page, objects: [...page.objects].reverse() };
    },
  };
}

describe("manifests listed out of key order", { timeout: 60_000 }, () => {
  it("the newest manifest is the highest id listed, not the last", async () => {
    const inner = await manyManifests();
    const keys = new LogKeys("q/");
    const storage = LogStorage.create(reversedPages(inner), {
      clock: { now: () => 0, monotonicNow: () => 0 },
      logger: silentLogger,
      retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 1_000 },
    });
    const manifests = new ManifestReader(storage, keys);
    const ascending = Array.from({ length: MANIFESTS }, (_, i) => i + 1);
    assert.deepEqual(await manifests.listIds(), ascending);
    assert.equal((await manifests.newest())?.id, MANIFESTS);
  });

  it("a writer opens, recovers and collects over such a listing", async () => {
    const inner = await manyManifests();
    const { log, checkpoint, records } = await openLog(
      reversedPages(inner),
      "q",
      testOptions({ manifestHistory: 0 }),
    );
    assert.equal(log.stats().epoch, 2);
    assert.equal(
      new TextDecoder().decode(checkpoint!),
      Array.from({ length: MANIFESTS - 1 }, (_, i) => `r${i + 1}`).join(","),
    );
    assert.deepEqual(texts(records), ["after the last checkpoint"]);
    log.setSnapshotSource(() => rec("taken over"));
    await log.checkpoint();
    // Its garbage collection saw its own manifest as the newest: the earlier ones are gone.
    assert.deepEqual(await keysUnder(inner, "q/manifest/"), [
      `q/manifest/${String(MANIFESTS + 2).padStart(20, "0")}`,
    ]);
    await log.close();
  });

  it("a writer opens a log whose WAL after the checkpoint is listed out of key order", async () => {
    const inner = await manyManifests();
    const { log } = await openLog(inner, "q", testOptions({ gcMinAgeMs: 1e12 }));
    for (let i = 0; i < 10; i++) await log.append(rec(`w${i}`));
    await log.close(); // no snapshot source: the 10 batches stay to be replayed
    const reopened = await openLog(reversedPages(inner), "q", testOptions());
    assert.deepEqual(texts(reopened.records), [
      "after the last checkpoint",
      ...Array.from({ length: 10 }, (_, i) => `w${i}`),
    ]);
    await reopened.log.close();
  });
});
