import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { FaultStore, InjectedFaultError } from "../../src/store/wrappers/fault.js";
import { LatencyStore } from "../../src/store/wrappers/latency.js";
import { seededRandom } from "../../src/util/random.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

/** Resolves after pending microtasks and one macrotask turn. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("seededRandom", { timeout: 60_000 }, () => {
  it("is deterministic per seed, differs across seeds, and stays in [0, 1)", () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const seqA = Array.from({ length: 1000 }, a);
    assert.deepEqual(seqA, Array.from({ length: 1000 }, b));
    assert.notDeepEqual(seqA.slice(0, 10), Array.from({ length: 10 }, c));
    assert.ok(seqA.every((x) => x >= 0 && x < 1));
    const mean = seqA.reduce((s, x) => s + x, 0) / seqA.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean} should be near 0.5`);
  });
});

describe("FaultStore", { timeout: 60_000 }, () => {
  it('"before" fails without performing the write', async () => {
    const inner = new MemoryStore();
    const store = new FaultStore(inner);
    store.addRule({ op: "put", mode: "before", times: 1 });
    await assert.rejects(store.put("a", bytes("x")), (err: unknown) => {
      assert.ok(err instanceof InjectedFaultError);
      assert.equal(err.code, "INJECTED_FAULT");
      return true;
    });
    assert.equal(await inner.get("a"), null);
    // times: 1 — the next put goes through.
    await store.put("a", bytes("y"));
    assert.equal(text((await inner.get("a"))?.body), "y");
    assert.equal(store.injectedCount, 1);
  });

  it('"after" performs the write, then reports failure', async () => {
    const inner = new MemoryStore();
    const store = new FaultStore(inner);
    store.addRule({
      op: ["put"],
      keyPrefix: "log/",
      mode: "after",
      error: () => new Error("boom"),
    });
    await assert.rejects(store.put("log/1", bytes("landed")), /boom/);
    assert.equal(text((await inner.get("log/1"))?.body), "landed");
    // Keys outside the prefix and other ops are untouched.
    await store.put("other", bytes("ok"));
    assert.equal(text((await store.get("log/1"))?.body), "landed");
  });

  it('an "after" rule is not spent on a request that failed on its own: the next one gets the fault', async () => {
    const inner = new MemoryStore();
    const store = new FaultStore(inner);
    await inner.put("taken", bytes("first"));
    store.addRule({ op: "put", mode: "after", times: 1 });
    // The inner store refuses this create: nothing took effect, so no fault was injected.
    await assert.rejects(
      store.put("taken", bytes("second"), { ifNoneMatch: "*" }),
      (err: unknown) => !(err instanceof InjectedFaultError),
    );
    assert.equal(store.injectedCount, 0);
    await assert.rejects(store.put("k", bytes("landed")), InjectedFaultError);
    assert.equal(text((await inner.get("k"))?.body), "landed");
    assert.equal(store.injectedCount, 1);
    await store.put("k2", bytes("v"));
  });

  it("matches keyPattern, honours probability deterministically, and removes rules", async () => {
    const store = new FaultStore(new MemoryStore(), { random: seededRandom(7) });
    const remove = store.addRule({ keyPattern: /\.tmp$/g, mode: "before", probability: 0.5 });
    let failures = 0;
    for (let i = 0; i < 200; i++) {
      try {
        await store.put(`k${i}.tmp`, bytes(""));
      } catch {
        failures++;
      }
    }
    assert.ok(failures > 60 && failures < 140, `about half should fail, got ${failures}`);
    assert.equal(store.injectedCount, failures);
    await store.put("k.dat", bytes("")); // pattern does not match
    remove();
    await store.put("z.tmp", bytes(""));
    store.addRule({ op: "list", mode: "before" });
    await assert.rejects(store.list(""), InjectedFaultError);
    store.clearRules();
    assert.equal((await store.list("")).objects.length, 202 - failures);
  });

  it("pause holds matching requests until release", async () => {
    const inner = new MemoryStore();
    const store = new FaultStore(inner);
    const pause = store.pause({ op: "put", keyPrefix: "seg/" });
    let done = false;
    const pending = store.put("seg/1", bytes("late")).then(() => {
      done = true;
    });
    await pause.whenHeld(1);
    await settle();
    assert.equal(pause.held(), 1);
    assert.equal(done, false);
    assert.equal(await inner.get("seg/1"), null, '"before" pause holds before performing');
    await store.put("other/1", bytes("free")); // not matched
    pause.release();
    await pending;
    assert.equal(done, true);
    assert.equal(pause.held(), 0);
    assert.equal(text((await inner.get("seg/1"))?.body), "late");
    await store.put("seg/2", bytes("after release")); // no longer held
  });

  it('pause with mode "after" lets the write land but withholds the response', async () => {
    const inner = new MemoryStore();
    const store = new FaultStore(inner);
    const pause = store.pause({ op: "put", mode: "after" });
    let done = false;
    const pending = store.put("zombie", bytes("z")).then(() => {
      done = true;
    });
    await pause.whenHeld();
    assert.equal(text((await inner.get("zombie"))?.body), "z");
    await settle();
    assert.equal(done, false);
    pause.release();
    await pending;
    assert.equal(done, true);
  });

  it("forwards describe and head", async () => {
    const store = new FaultStore(new MemoryStore());
    assert.equal(store.describe(), "faults+memory://");
    await store.put("h", bytes("abc"));
    assert.equal((await store.head?.("h"))?.size, 3);
    store.addRule({ op: "head", mode: "before" });
    await assert.rejects(async () => store.head?.("h"), InjectedFaultError);
    const headless: ObjectStore = {
      get: async () => null,
      put: async () => {},
      delete: async () => {},
      list: async () => ({ objects: [] }),
      describe: () => "headless",
    };
    assert.equal(new FaultStore(headless).head, undefined);
  });
});

describe("CountingStore", { timeout: 60_000 }, () => {
  it("counts requests per op and bytes moved, and resets", async () => {
    const store = new CountingStore(new MemoryStore());
    await store.put("a", bytes("hello"));
    await store.put("b", bytes("hi"), { ifNoneMatch: "*" });
    await assert.rejects(store.put("b", bytes("again"), { ifNoneMatch: "*" }));
    await store.get("a");
    await store.get("missing");
    await store.head?.("a");
    await store.list("");
    await store.delete("a");
    const snap = store.snapshot();
    assert.deepEqual(snap.counts, { get: 2, put: 3, delete: 1, list: 1, head: 1 });
    assert.equal(snap.requests, 8);
    assert.equal(snap.bytesWritten, 5 + 2 + 5);
    assert.equal(snap.bytesRead, 5);
    // The snapshot is a copy.
    await store.get("b");
    assert.equal(snap.counts.get, 2);
    assert.equal(store.counts.get, 3);
    store.reset();
    assert.deepEqual(store.snapshot(), {
      counts: { get: 0, put: 0, delete: 0, list: 0, head: 0 },
      bytesWritten: 0,
      bytesRead: 0,
      requests: 0,
    });
    assert.equal(store.describe(), "counting+memory://");
  });
});

describe("LatencyStore", { timeout: 60_000 }, () => {
  it("delays selected ops by at least latencyMs and leaves others alone", async () => {
    const store = new LatencyStore(new MemoryStore(), {
      latencyMs: 300,
      jitterMs: 10,
      random: seededRandom(1),
      ops: ["put"],
    });
    const start = performance.now();
    await store.put("a", bytes("x"));
    const putMs = performance.now() - start;
    assert.ok(putMs >= 299, `put took ${putMs}ms, expected >= 300`);
    // A get left alone waits for no timer: it settles before an immediate queued ahead of it
    // runs. (A bound on its wall time fails when a busy machine pauses the process.)
    let immediateRan = false;
    setImmediate(() => {
      immediateRan = true;
    });
    assert.equal(text((await store.get("a"))?.body), "x");
    assert.equal(immediateRan, false, "get was delayed");
    assert.equal(store.describe(), "latency(300+0..10ms)+memory://");
  });

  it("rejects bad options", () => {
    assert.throws(
      () => new LatencyStore(new MemoryStore(), { latencyMs: -1 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new LatencyStore(new MemoryStore(), { latencyMs: 1, jitterMs: Number.NaN }),
      /jitterMs/,
    );
  });
});
