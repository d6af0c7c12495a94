/**
 * WAL listings of several pages against a live writer. A listing is no
 * snapshot: a pipelined create that lands behind its cursor is missing from
 * it while later slots are in it. An opener or reader must not take that for
 * a gap (and the batches the writer sealed meanwhile for damage behind it).
 * And an open lists the WAL after the checkpoint once, not twice.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog, readLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { GatedStore, turns } from "./gated.js";
import { rec, rejection, testOptions, texts } from "./helpers.js";
import { PagedStore } from "./paged-store.js";

const WAL_DIR = "q/wal/";
const wal = (id: number) => `${WAL_DIR}${String(id).padStart(20, "0")}`;

/** Enough records that a batch goes out as one more write in flight. */
function big(tag: string): Uint8Array[] {
  return Array.from({ length: 32 }, (_, i) => rec(`${tag}${i}`));
}

/**
 * A live writer with batches 1–3 acknowledged, 5–7 landed, and the create of
 * 4 still in flight; and a store that lists its WAL two keys a page, whose
 * `betweenPages` lands 4 and has the writer acknowledge everything and write
 * batch 8 (sealed after 4 was acknowledged) once a listing's cursor has passed
 * slot 4, in listing number `atListing` of the WAL.
 */
async function liveWriterAtPageBoundary(atListing: number) {
  const gated = new GatedStore();
  gated.gating = false;
  // The writer does not look for a newer epoch meanwhile: it keeps writing, as a busy one does.
  const options = testOptions({ maxWritesInFlight: 4, fenceCheckIntervalMs: 600_000 });
  const { log } = await openLog(gated, "q", options);
  for (const text of ["a", "b", "c"]) await log.append(rec(text));
  gated.gating = true;
  const acks = [log.append(rec("k"))];
  await gated.whenHeld(1);
  acks.push(log.append(big("x")));
  await gated.whenHeld(2);
  acks.push(log.append(big("y")));
  await gated.whenHeld(3);
  acks.push(log.append(big("w")));
  await gated.whenHeld(4);
  assert.deepEqual(gated.held(), [4, 5, 6, 7]);
  for (const slot of [5, 6, 7]) gated.release(slot);
  await turns();

  const paged = new PagedStore(gated.inner, 2);
  let landed = false;
  paged.betweenPages = async ({ prefix, startAfter, listing }) => {
    if (landed || prefix !== WAL_DIR || listing !== atListing || startAfter <= wal(4)) return;
    landed = true;
    gated.gating = false;
    gated.release(4);
    await Promise.all(acks);
    await log.append(rec("z"));
  };
  const expected = ["a", "b", "c", "k", ...["x", "y", "w"].flatMap((tag) => texts(big(tag))), "z"];
  return { log, paged, options, expected, landed: () => landed };
}

describe("a WAL listing of several pages against a live writer", { timeout: 30_000 }, () => {
  for (const [atListing, which] of [
    [1, "the read-ahead before the claim"],
    [2, "the fence's listing after the claim"],
  ] as const) {
    it(`a create that lands behind the cursor of ${which} is no gap: the takeover recovers everything`, async () => {
      const { log, paged, options, expected, landed } = await liveWriterAtPageBoundary(atListing);
      const opened = await openLog(paged, "q", options);
      assert.ok(landed(), "the writer's create landed between two pages");
      assert.deepEqual(texts(opened.records), expected);
      assert.equal(opened.log.stats().epoch, 2);
      assert.equal((await rejection(log.append(rec("zombie")))).code, "FENCED");
      await opened.log.append(rec("after"));
      await opened.log.close();
    });
  }

  it("a reader does not report it as damage either", async () => {
    const { log, paged, expected, landed } = await liveWriterAtPageBoundary(1);
    const contents = await readLog(paged, "q");
    assert.ok(landed(), "the writer's create landed between two pages");
    assert.deepEqual(texts(contents.records), expected);
    assert.equal(contents.info.wal.pendingObjects, 8);
    assert.equal(contents.info.wal.objects, 8);
    await log.append(rec("still the writer"));
    await log.close();
  });

  it("a slot still missing when looked up is a gap as before", async () => {
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    for (let i = 0; i < 12; i++) await log.append(rec(`r${i}`));
    await store.delete(wal(3));
    const error = await rejection(openLog(new PagedStore(store, 2), "q", testOptions()));
    assert.equal(error.code, "CORRUPTION");
    assert.match(error.message, /00000000000000000003/);
  });
});

describe("opening lists the WAL after the checkpoint once", { timeout: 30_000 }, () => {
  it("the fence is looked for after what the read-ahead listed", async () => {
    const memory = new MemoryStore();
    const { log } = await openLog(memory, "q", testOptions());
    for (let i = 0; i < 50; i++) await log.append(rec(`r${i}`));
    // No close: the next open fences the crashed writer's window and replays 50 batches.
    const paged = new PagedStore(memory, 10);
    const counting = new CountingStore(paged);
    const opened = await openLog(counting, "q", testOptions());
    assert.equal(opened.records.length, 50);
    // 50 batches in pages of 10: 5 pages, then the fence's one page after the last slot
    // read (it listed all 5 again, before).
    assert.equal(paged.listings(WAL_DIR), 2);
    assert.equal(paged.pages(WAL_DIR), 5 + 1);
    assert.equal(counting.snapshot().counts.head, 0, "no gap: nothing looked up");
    await opened.log.close();
  });
});
