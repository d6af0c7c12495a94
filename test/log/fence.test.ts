import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { FencedError } from "../../src/errors.js";
import { WriterFence } from "../../src/log/fencing.js";
import { openLog } from "../../src/log/index.js";
import { LogKeys } from "../../src/log/keys.js";
import { ManifestReader } from "../../src/log/manifest.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { fenceContext, rec, rejection, testOptions } from "./helpers.js";

/** The one message of a fenced writer, whichever path found out. */
const FENCED_MESSAGE =
  /^log "q\/" in .+ is fenced \((a writer with epoch \d+ took over|another writer took WAL slot "q\/wal\/\d{20}"|another writer's manifest "q\/manifest\/\d{20}" \(epoch \d+\) is newer than this writer's)\); this writer \(epoch \d+\) has stopped for good and rejects every call\. Open the log again if this process should be its writer\.$/;

function assertFenced(error: unknown, evidence: RegExp): void {
  assert.ok(error instanceof FencedError, `expected FencedError, got ${String(error)}`);
  assert.match(error.message, FENCED_MESSAGE);
  assert.match(error.message, evidence);
}

describe("writer fence: one rule, one message", { timeout: 60_000 }, () => {
  it("claiming takes the next epoch; a newer claim supersedes the older everywhere it looks", async () => {
    const store = new MemoryStore();
    const older = await WriterFence.claim(fenceContext(store), Promise.resolve());
    const newer = await WriterFence.claim(fenceContext(store), Promise.resolve());
    assert.deepEqual([older.epoch, newer.epoch], [1, 2]);

    assertFenced(await rejection(older.throwIfSuperseded()), /epoch 2 took over.*\(epoch 1\)/);
    assertFenced(await rejection(older.confirmNewest()), /epoch 2 took over/);
    assertFenced(
      await rejection(older.commit({ checkpoint: null, replayAfter: 0, closed: false })),
      /epoch 2 took over/,
    );
    await newer.throwIfSuperseded();
    await newer.confirmNewest();
    await newer.commit({ checkpoint: null, replayAfter: 0, closed: false });
    assert.equal(newer.manifestId, 3);
  });

  it("a busy writer's periodic check reports the newer epoch, at most once per interval", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const older = await WriterFence.claim(fenceContext(store, clock), Promise.resolve());
    await WriterFence.claim(fenceContext(store, clock), Promise.resolve());
    const reported: FencedError[] = [];
    older.checkWhileBusy((error) => reported.push(error));
    await new Promise((r) => setImmediate(r));
    assert.equal(reported.length, 0, "checked too soon after the claim");
    clock.advance(1_000);
    older.checkWhileBusy((error) => reported.push(error));
    older.checkWhileBusy((error) => reported.push(error)); // already running: no second look
    for (let i = 0; i < 10 && reported.length === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(reported.length, 1);
    assertFenced(reported[0], /epoch 2 took over/);
  });

  it("the log raises the same message on every path that finds it fenced", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    first.log.setSnapshotSource(() => rec("state"));
    await first.log.append(rec("a"));
    await openLog(store, "q", testOptions());
    // Garbage collection finds the newer manifest first.
    assertFenced(await rejection(first.log.collectGarbage()), /epoch 2 took over/);

    const zombie = await openLog(store, "q", testOptions());
    await openLog(store, "q", testOptions());
    // A WAL create that meets the successor's fence.
    assertFenced(await rejection(zombie.log.append(rec("z"))), /took WAL slot/);

    const idle = await openLog(store, "q", testOptions());
    idle.log.setSnapshotSource(() => rec("state"));
    await openLog(store, "q", testOptions());
    // A checkpoint's manifest commit.
    assertFenced(await rejection(idle.log.checkpoint()), /epoch \d+ took over/);
  });
});

/** Lists `q/manifest/` without its newest object while `hiding` is set. */
class HidingNewestManifest implements ObjectStore {
  hiding = false;
  readonly #inner: MemoryStore;
  constructor(inner: MemoryStore) {
    this.#inner = inner;
  }
  get = (key: string) => this.#inner.get(key);
  put = (key: string, body: Uint8Array, options?: { ifNoneMatch?: "*" }) =>
    this.#inner.put(key, body, options);
  delete = (key: string) => this.#inner.delete(key);
  describe = () => "a store whose listing lags";
  async list(prefix: string, options?: { startAfter?: string }) {
    const page = await this.#inner.list(prefix, options);
    if (prefix !== "q/manifest/" || !this.hiding) return page;
    return { ...page, objects: page.objects.slice(0, -1) };
  }
}

describe("writer fence over a listing that lags", { timeout: 60_000 }, () => {
  it("a commit whose slot a newer epoch took is fenced, though the listing does not show it yet", async () => {
    const inner = new MemoryStore();
    const store = new HidingNewestManifest(inner);
    const older = await WriterFence.claim(fenceContext(store), Promise.resolve());
    const newer = await WriterFence.claim(fenceContext(inner), Promise.resolve());
    assert.equal(newer.manifestId, 2);
    store.hiding = true;
    // Manifest 2 is the newer writer's: the key being taken is the evidence, whatever the
    // listing says. Creating manifest 3 would be a write of a fenced writer, and the newer
    // writer would find itself superseded by an older epoch.
    assertFenced(
      await rejection(older.commit({ checkpoint: null, replayAfter: 0, closed: false })),
      /epoch 2 took over.*\(epoch 1\)/,
    );
    store.hiding = false;
    assert.deepEqual(
      await new ManifestReader(fenceContext(inner).storage, new LogKeys("q/")).listIds(),
      [1, 2],
    );
    await newer.confirmNewest();
  });
});
