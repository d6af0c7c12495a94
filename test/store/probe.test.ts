import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, StorageError, UnsupportedStoreError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { probeConditionalWrites } from "../../src/store/probe.js";
import {
  type ListOptions,
  type ListPage,
  listAll,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";

/** A store that drops `ifNoneMatch`, like emulators that ignore conditional headers. */
class IgnoresConditionsStore implements ObjectStore {
  constructor(readonly inner: ObjectStore) {}
  get(key: string): Promise<StoredObject | null> {
    return this.inner.get(key);
  }
  put(key: string, body: Uint8Array, _options?: PutOptions): Promise<void> {
    return this.inner.put(key, body);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.inner.list(prefix, options);
  }
  describe(): string {
    return "lax://";
  }
}

describe("probeConditionalWrites", { timeout: 60_000 }, () => {
  it("passes on a store that honours create-if-absent and leaves nothing behind", async () => {
    const store = new MemoryStore();
    await store.put("q/other", new Uint8Array([1]));
    await probeConditionalWrites(store, "q/");
    assert.deepEqual(
      (await listAll(store, "")).map((o) => o.key),
      ["q/other"],
    );
  });

  it("refuses a store that ignores If-None-Match, explaining the risk and the opt-out", async () => {
    const inner = new MemoryStore();
    await assert.rejects(
      probeConditionalWrites(new IgnoresConditionsStore(inner), "q/"),
      (err: unknown) => {
        assert.ok(err instanceof UnsupportedStoreError);
        assert.equal(err.code, "UNSUPPORTED_STORE");
        assert.match(err.message, /lax:\/\//);
        assert.match(err.message, /If-None-Match/);
        assert.match(err.message, /fencing/i);
        assert.match(err.message, /allowUnsafeStore: true/);
        return true;
      },
    );
    assert.equal(inner.size, 0, "the probe object is deleted");
  });

  it("Queue.open's refusal names the opt-out's place in its options, and that place works", async () => {
    const store = new IgnoresConditionsStore(new MemoryStore());
    await assert.rejects(Queue.open(store, "q", { logger: silentLogger }), (err: unknown) => {
      assert.ok(err instanceof UnsupportedStoreError);
      assert.match(err.message, /setting `options\.log\.allowUnsafeStore` to true/);
      assert.match(err.message, /`\{ log: \{ allowUnsafeStore: true \} \}`/);
      return true;
    });
    const queue = await Queue.open(store, "q", {
      logger: silentLogger,
      log: { allowUnsafeStore: true },
    });
    await queue.close();
  });

  it("Queue.open refuses allowUnsafeStore outside `log`, where it would be ignored", async () => {
    const store = new IgnoresConditionsStore(new MemoryStore());
    const misplaced = { logger: silentLogger, allowUnsafeStore: true } as Parameters<
      typeof Queue.open
    >[2];
    await assert.rejects(Queue.open(store, "q", misplaced), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(
        err.message,
        /^Expected `options\.allowUnsafeStore` to be absent \(it belongs in `options\.log`: `\{ log: \{ allowUnsafeStore: true \} \}`\), got true$/,
      );
      return true;
    });
    assert.equal((store.inner as MemoryStore).size, 0, "nothing written");
    // Absent like any other option when undefined (a spread config with the key unset).
    const unset = { logger: silentLogger, allowUnsafeStore: undefined } as Parameters<
      typeof Queue.open
    >[2];
    const queue = await Queue.open(new MemoryStore(), "q", unset);
    await queue.close();
  });

  it("reports store failures as StorageError with the cause", async () => {
    const store = new FaultStore(new MemoryStore());
    const cause = new Error("connection reset");
    store.addRule({ op: "put", mode: "before", times: 1, error: () => cause });
    await assert.rejects(probeConditionalWrites(store, "q/"), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.cause, cause);
      assert.match(err.message, /connection reset/);
      return true;
    });
    // A failure of the second create (not "exists") is a storage error too, and cleans up.
    const inner = new MemoryStore();
    const draws = [0.9, 0.1]; // the first put passes, the second fails
    const secondFails = new FaultStore(inner, { random: () => draws.shift() ?? 0 });
    secondFails.addRule({ op: "put", mode: "before", probability: 0.5, error: () => cause });
    await assert.rejects(probeConditionalWrites(secondFails, "q/"), StorageError);
    assert.equal(secondFails.injectedCount, 1);
    assert.equal(inner.size, 0);
  });
});
