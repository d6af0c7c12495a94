/**
 * Opening over a store whose listing does not show a manifest that exists (a
 * listing that lags its writes, or two keys aliasing one object): the claim of
 * the next epoch waits a few times with backoff, yielding to the event loop,
 * then fails with an error naming the manifest; a short lag is ridden out.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageError, UnsupportedStoreError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ListOptions, ListPage, ObjectStore } from "../../src/store/types.js";
import { recordingLogger } from "../recording-logger.js";
import { rec, rejection, testOptions, texts } from "./helpers.js";

/**
 * Lists `q/manifest/` without its newest object for the first `hiddenListings`
 * listings after `hide()`. Refuses (permanently) the 200th hidden listing, so
 * an unbounded loop fails the test instead of hanging it.
 */
class LaggingListStore implements ObjectStore {
  hiddenListings = 0;
  #hiding = 0;
  readonly #inner: MemoryStore;
  constructor(inner: MemoryStore) {
    this.#inner = inner;
  }
  hide(listings: number): void {
    this.#hiding = listings;
  }
  get = (key: string) => this.#inner.get(key);
  put = (key: string, body: Uint8Array, options?: { ifNoneMatch?: "*" }) =>
    this.#inner.put(key, body, options);
  delete = (key: string) => this.#inner.delete(key);
  describe = () => "a store whose listing lags";
  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    const page = await this.#inner.list(prefix, options);
    if (prefix !== "q/manifest/" || this.#hiding === 0) return page;
    this.#hiding--;
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
