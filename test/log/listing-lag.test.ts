/**
 * Opening over a store whose listing does not show a manifest that exists (a
 * listing that lags its writes, or two keys aliasing one object): the claim of
 * the next epoch waits a few times with backoff, yielding to the event loop,
 * then fails with an error naming the manifest; a short lag is ridden out.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import {
  CorruptionError,
  FencedError,
  StorageError,
  UnsupportedStoreError,
} from "../../src/errors.js";
import { awaitListing } from "../../src/log/fence-errors.js";
import { openLog } from "../../src/log/index.js";
import { LogKeys } from "../../src/log/keys.js";
import { RETRY_HEALED_AFTER_MS } from "../../src/log/retry-warnings.js";
import { LogStorage } from "../../src/log/storage.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ListOptions, ListPage, ObjectStore } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { rec, rejection, settleOnClock, staleOpen, testOptions, texts } from "./helpers.js";

/**
 * Lists `q/manifest/` without its newest object for the first `hiddenListings`
 * listings after `hide()`, or on every other listing after `flicker()` (a
 * listing that keeps lagging). Refuses (permanently) the 200th hidden
 * listing, so an unbounded loop fails the test instead of hanging it.
 */
class LaggingListStore implements ObjectStore {
  hiddenListings = 0;
  #hiding = 0;
  #flickering = false;
  #manifestListings = 0;
  readonly #inner: MemoryStore;
  constructor(inner: MemoryStore) {
    this.#inner = inner;
  }
  hide(listings: number): void {
    this.#hiding = listings;
  }
  flicker(): void {
    this.#flickering = true;
  }
  get = (key: string) => this.#inner.get(key);
  put = (key: string, body: Uint8Array, options?: { ifNoneMatch?: "*" }) =>
    this.#inner.put(key, body, options);
  delete = (key: string) => this.#inner.delete(key);
  describe = () => "a store whose listing lags";
  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    const page = await this.#inner.list(prefix, options);
    if (prefix !== "q/manifest/") return page;
    if (this.#flickering) {
      if (this.#manifestListings++ % 2 === 1) return page;
    } else {
      if (this.#hiding === 0) return page;
      this.#hiding--;
    }
    if (++this.hiddenListings >= 200)
      throw new StorageError("listed the manifests 200 times: the open loops", { permanent: true });
    return { ...page, objects: page.objects.slice(0, -1) };
  }
}

describe("opening over a listing that does not show a manifest", { timeout: 30_000 }, () => {
  it("fails with an error naming the manifest, after a few listings, without blocking the event loop", async () => {
    const inner = new MemoryStore();
    const first = await openLog(inner, "q", testOptions());
    await first.log.append(rec("a"));
    const store = new LaggingListStore(inner);
    store.hide(Number.POSITIVE_INFINITY);
    let timerFired = false;
    const timer = setTimeout(() => {
      timerFired = true;
    }, 0);
    const logger = recordingLogger();
    const error = await rejection(openLog(store, "q", testOptions({ logger })));
    clearTimeout(timer);
    assert.ok(
      error instanceof UnsupportedStoreError,
      `expected UnsupportedStoreError, got ${error}`,
    );
    assert.equal(error.code, "UNSUPPORTED_STORE");
    assert.match(error.message, /manifest "q\/manifest\/0+1" exists/);
    assert.match(error.message, /listing is not consistent with its writes/);
    assert.match(error.message, /aliases/);
    assert.ok(store.hiddenListings <= 10, `listed ${store.hiddenListings} times`);
    assert.ok(timerFired, "a timer could not fire while the open retried");
    assert.equal(logger.messages("warn").length, 1, logger.messages("warn").join("; "));
    // The first writer was not fenced: the failed opener created nothing.
    await first.log.append(rec("b"));
    const check = await openLog(inner, "q", testOptions());
    assert.deepEqual(texts(check.records), ["a", "b"]);
  });

  it("rides out a listing that lags for a few listings", async () => {
    const inner = new MemoryStore();
    const first = await openLog(inner, "q", testOptions());
    await first.log.append(rec("a"));
    const store = new LaggingListStore(inner);
    store.hide(3);
    const second = await openLog(store, "q", testOptions());
    assert.equal(store.hiddenListings, 3);
    assert.deepEqual(texts(second.records), ["a"]);
    assert.equal(second.log.stats().epoch, 2);
    assert.equal((await rejection(first.log.append(rec("zombie")))).code, "FENCED");
  });
});

describe("a listing that lags more than once in one open", { timeout: 30_000 }, () => {
  it("logs one line for it, not one per manifest it left out", async () => {
    const inner = new MemoryStore();
    const first = await openLog(inner, "q", testOptions());
    await first.log.append(rec("a"));
    const store = new LaggingListStore(inner);
    store.flicker();
    const logger = recordingLogger();
    // The claim waits for the listing to show the taken manifest 1; the last check, for its own 2.
    const second = await openLog(store, "q", testOptions({ logger }));
    assert.deepEqual(texts(second.records), ["a"]);
    assert.deepEqual(
      logger.at("warn", "error").map((line) => [line.message, line.fields?.manifest]),
      [
        [
          "the store's listing does not show a manifest yet; retrying",
          "q/manifest/00000000000000000001",
        ],
      ],
    );
    assert.deepEqual(
      logger.at("debug").map((line) => [line.message, line.fields?.manifest]),
      [
        [
          "the store's listing does not show a manifest yet; retrying",
          "q/manifest/00000000000000000002",
        ],
      ],
      "the second wait is still traced",
    );
    await second.log.close();
  });
});

describe("a listing that lagged, then lists again", { timeout: 30_000 }, () => {
  it("says nothing more: no request failed, so none succeeds again; a lag later is warned again", async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const store = new MemoryStore();
    const storage = LogStorage.create(store, {
      clock,
      logger,
      retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 1_000 },
    });
    const ctx = {
      storage,
      keys: new LogKeys("q/"),
      describeLog: `log "q/" in ${store.describe()}`,
    };
    const lag = async () => {
      await settleOnClock(clock, awaitListing(ctx, 1, 0, "taken"));
      // The listing after the wait shows the manifest.
      await storage.list("q/manifest/");
    };
    await lag();
    // Later listings of the manifests (a GC pass, say), the lag long over.
    clock.advance(RETRY_HEALED_AFTER_MS + 1_000);
    await storage.list("q/manifest/");
    await storage.list("q/manifest/");
    const lagLine = "the store's listing does not show a manifest yet; retrying";
    assert.deepEqual(logger.messages("warn", "error", "info"), [lagLine]);
    // A lag in a later open is a new problem: warned, once.
    await lag();
    await lag();
    assert.deepEqual(logger.messages("warn", "error", "info"), [lagLine, lagLine]);
    assert.deepEqual(logger.messages("debug"), [lagLine]);
  });
});

/**
 * Lists `q/manifest/` without the manifests whose id is at least `cutoff`,
 * for the next `hideListings` listings that had one.
 */
class HidesNewerManifests implements ObjectStore {
  hideListings = 0;
  hidden = 0;
  readonly #inner: ObjectStore;
  readonly #cutoff: number;
  constructor(inner: ObjectStore, cutoff: number) {
    this.#inner = inner;
    this.#cutoff = cutoff;
  }
  get = (key: string) => this.#inner.get(key);
  put = (key: string, body: Uint8Array, options?: { ifNoneMatch?: "*" }) =>
    this.#inner.put(key, body, options);
  delete = (key: string) => this.#inner.delete(key);
  describe = () => "a store whose listing lags";
  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    const page = await this.#inner.list(prefix, options);
    if (prefix !== "q/manifest/" || this.hideListings === 0) return page;
    const objects = page.objects.filter(
      (o) => Number(o.key.slice("q/manifest/".length)) < this.#cutoff,
    );
    if (objects.length === page.objects.length) return page;
    this.hideListings--;
    this.hidden++;
    return { ...page, objects };
  }
}

describe("damage found after the claim, over a listing that lags", { timeout: 30_000 }, () => {
  /**
   * The live writer's batch written after the opener read ahead is damaged in
   * the store; the opener's replay meets it while the one listing it then
   * reads shows manifests below `cutoff` only: older than the opener's own
   * (cutoff 2), or none (cutoff 0). Neither is a newer writer: the open must
   * report the damage, not a fence.
   */
  async function damagedOverLag(cutoff: number): Promise<Error> {
    const inner = new MemoryStore();
    const writer = await openLog(inner, "q", testOptions());
    await writer.log.append(rec("a"));
    const fault = new FaultStore(inner);
    const lag = new HidesNewerManifests(fault, cutoff);
    const probe = fault.pause({ op: "put", keyPrefix: "q/probe/" });
    const opening = openLog(lag, "q", testOptions());
    opening.catch(() => {});
    await probe.whenHeld();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); // read ahead
    await writer.log.append(rec("b"));
    const last = (await inner.list("q/wal/")).objects.at(-1)!.key;
    const bad = Uint8Array.from((await inner.get(last))!.body);
    bad[bad.length - 1]! ^= 0xff;
    await inner.put(last, bad);
    lag.hideListings = 1;
    probe.release();
    const error = await rejection(opening);
    assert.equal(lag.hidden, 1, "the opener read the lagging listing");
    assert.ok(error instanceof CorruptionError, `expected CorruptionError, got ${String(error)}`);
    assert.equal(error.objectKey, last);
    assert.match(error.message, /checksum mismatch/);
    return error;
  }

  it("reports the damaged batch when the listing does not show the opener's manifest yet", async () => {
    await damagedOverLag(2);
  });

  it("reports the damaged batch when the listing shows no manifest", async () => {
    await damagedOverLag(0);
  });
});

describe("the last check of an open, over a listing that lags", { timeout: 30_000 }, () => {
  /** Opens while the listings after the fence is placed leave out manifests from `cutoff` on. */
  async function openOverLag(cutoff: number, listings: number) {
    const inner = new MemoryStore();
    const first = await openLog(inner, "q", testOptions());
    await first.log.append(rec("a"));
    const lag = new HidesNewerManifests(inner, cutoff);
    const opening = openLog(lag, "q", testOptions(), {
      onOwned: () => {
        lag.hideListings = listings;
      },
    });
    return { lag, opening };
  }

  for (const cutoff of [2, 0]) {
    const shows = cutoff === 0 ? "no manifest" : "only the older manifest";
    it(`rides out a few listings that show ${shows}`, async () => {
      const { lag, opening } = await openOverLag(cutoff, 2);
      const second = await opening;
      assert.equal(lag.hidden, 2);
      assert.deepEqual(texts(second.records), ["a"]);
      await second.log.close();
    });

    it(`names its own manifest when the listing keeps showing ${shows}`, async () => {
      const { opening } = await openOverLag(cutoff, Number.POSITIVE_INFINITY);
      const error = await rejection(opening);
      assert.ok(
        error instanceof UnsupportedStoreError,
        `expected UnsupportedStoreError, got ${error}`,
      );
      assert.match(error.message, /manifest "q\/manifest\/0+2" exists \(this opener created it\)/);
      assert.match(error.message, /listing is not consistent with its writes/);
    });
  }
});

describe("a stale opener over a listing that lags", { timeout: 30_000 }, () => {
  // The opener claimed its slot from the manifest it read first; meanwhile the live writer
  // checkpointed on and its GC removed what the claim counted on. A listing that hides both
  // the opener's own manifest and the writer's newer one at that moment must be waited out:
  // the open ends FENCED, not with a false report of a missing WAL batch.
  for (const listings of [1, 3]) {
    it(`ends FENCED when the listing lags for ${listings} listing(s)`, async () => {
      let lagging: HidesNewerManifests | undefined;
      const { error, writer } = await staleOpen({
        batchAfter: true,
        // Hides the opener's manifest (2) and the writer's (3).
        wrap: (store) => (lagging = new HidesNewerManifests(store, 2)),
        beforeRelease: () => {
          lagging!.hideListings = listings;
        },
      });
      await writer.log.close().catch(() => {});
      assert.ok(lagging !== undefined);
      assert.ok(lagging.hidden > 0, "the listing lagged");
      assert.ok(error instanceof FencedError, `expected FencedError, got ${error}`);
    });
  }
});
