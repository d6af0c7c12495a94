import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { WriterFence } from "../../src/log/fencing.js";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { countingClock, fenceContext, rec, testOptions, texts } from "./helpers.js";

const BATCHES = 1_500;
/** Keys a page of the WAL listing holds: a long WAL is many pages. */
const PAGE_SIZE = 50;

/** A store holding a closed log of {@link BATCHES} WAL batches, none covered by a checkpoint. */
async function longWal(): Promise<MemoryStore> {
  const store = new MemoryStore();
  const { log } = await openLog(store, "q", testOptions({ checkpointWalBatches: 1_000_000 }));
  for (let i = 0; i < BATCHES; i++) {
    const written = log.append(rec(`r${i}`));
    await log.flush();
    await written;
  }
  await log.close(); // no snapshot source: every batch stays to be replayed
  return store;
}

/**
 * `inner`, listed in small pages, counting the WAL pages served in each turn
 * of the event loop while `watch` runs.
 */
function turnCounting(inner: ObjectStore): {
  store: ObjectStore;
  watch: <T>(work: () => Promise<T>) => Promise<T>;
  walPages: () => number;
  mostPagesInATurn: () => number;
  mostGetsInATurn: () => number;
} {
  let walPages = 0;
  let pagesThisTurn = 0;
  let most = 0;
  let getsThisTurn = 0;
  let mostGets = 0;
  const store: ObjectStore = {
    get: (key) => {
      if (key.startsWith("q/wal/")) mostGets = Math.max(mostGets, ++getsThisTurn);
      return inner.get(key);
    },
    put: (key, body, putOptions) => inner.put(key, body, putOptions),
    delete: (key) => inner.delete(key),
    describe: () => inner.describe(),
    list: (prefix, listOptions) => {
      if (prefix === "q/wal/") {
        walPages++;
        most = Math.max(most, ++pagesThisTurn);
      }
      return inner.list(prefix, { ...listOptions, limit: PAGE_SIZE });
    },
  };
  const watch = async <T>(work: () => Promise<T>): Promise<T> => {
    let watching = true;
    const turn = (): void => {
      pagesThisTurn = 0;
      getsThisTurn = 0;
      if (watching) setImmediate(turn);
    };
    setImmediate(turn);
    try {
      return await work();
    } finally {
      watching = false;
    }
  };
  return {
    store,
    watch,
    walPages: () => walPages,
    mostPagesInATurn: () => most,
    mostGetsInATurn: () => mostGets,
  };
}

describe("a writer's open over a store that answers without I/O", { timeout: 120_000 }, () => {
  it("gives the event loop turns while it lists a long WAL", async () => {
    const counting = turnCounting(await longWal());
    const { log, records } = await counting.watch(() =>
      openLog(counting.store, "q", testOptions(), { sliceNow: countingClock() }),
    );
    assert.equal(records.length, BATCHES);
    assert.deepEqual(texts(records.slice(-2)), [`r${BATCHES - 2}`, `r${BATCHES - 1}`]);
    const pages = counting.walPages();
    assert.ok(pages >= BATCHES / PAGE_SIZE, `${pages} pages of the WAL listed`);
    // A slice is 4 readings of the clock, one a page: a few pages a turn, not all of them.
    assert.ok(
      counting.mostPagesInATurn() <= 8,
      `${counting.mostPagesInATurn()} of ${pages} WAL pages were listed in one turn of the event loop`,
    );
    await log.close();
  });

  it("gives the event loop turns while placing its fence after a long WAL", async () => {
    const counting = turnCounting(await longWal());
    const context = fenceContext(counting.store, new ManualClock(), countingClock());
    const placed = await counting.watch(async () => {
      const fence = await WriterFence.claim(context, Promise.resolve());
      return fence.placeFence(false);
    });
    // After a clean close nothing is fenced: the first free slot follows the WAL.
    assert.deepEqual(placed, { fenceId: BATCHES + 1, nextWalId: BATCHES + 1 });
    const pages = counting.walPages();
    assert.ok(pages >= BATCHES / PAGE_SIZE, `${pages} pages of the WAL listed`);
    assert.ok(
      counting.mostPagesInATurn() <= 8,
      `${counting.mostPagesInATurn()} of ${pages} WAL pages were listed in one turn of the event loop`,
    );
  });

  it("gives the event loop turns while it salvages a long damaged WAL", async () => {
    const inner = await longWal();
    const damaged = 1_000;
    await inner.put(`q/wal/${String(damaged).padStart(20, "0")}`, rec("not a WAL batch"));
    const counting = turnCounting(inner);
    const { log, records, recovery } = await counting.watch(() =>
      openLog(counting.store, "q", testOptions({ recoverCorruption: "skip" }), {
        sliceNow: countingClock(),
      }),
    );
    assert.equal(records.length, damaged - 1);
    assert.equal(recovery?.skipped.length, BATCHES - damaged);
    // The reads of the WAL: replay's, then salvage's, each a few to a slice of 4 readings.
    assert.ok(
      counting.mostGetsInATurn() <= 64,
      `${counting.mostGetsInATurn()} WAL objects were read in one turn of the event loop`,
    );
    await log.close();
  });
});
