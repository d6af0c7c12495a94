// The conformance suite carries its own timeout (see conformance.ts), so a hang fails.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { FileStore } from "../../src/store/file.js";
import { COPY_SLICE_MS, copyBudget, copyInSlices, MemoryStore } from "../../src/store/memory.js";
import { SliceBudget } from "../../src/util/slices.js";
import { turnsDuring } from "../turns.js";
import { runStoreConformance } from "./conformance.js";

runStoreConformance("MemoryStore", async () => ({ store: new MemoryStore() }));

describe("MemoryStore copies of large bodies", () => {
  it("a put and a get of a few megabytes give the event loop a turn and keep every byte", async () => {
    const store = new MemoryStore();
    const body = new Uint8Array(2 * 1024 * 1024 + 17);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const turned = (): { ran: boolean } => {
      const flag = { ran: false };
      setImmediate(() => {
        flag.ran = true;
      });
      return flag;
    };
    const beforePut = turned();
    await store.put("big", body);
    assert.ok(beforePut.ran, "the put let a turn of the event loop run");
    body[0] = 0xff; // the stored copy is not the caller's buffer
    const beforeGet = turned();
    const got = await store.get("big");
    assert.ok(beforeGet.ran, "the get let a turn of the event loop run");
    assert.equal(got?.body.length, body.length);
    body[0] = 0;
    assert.ok(Buffer.from(got!.body).equals(Buffer.from(body)));
  });
});

describe("MemoryStore sliced copies", () => {
  it("copies 64 KiB between two looks at the budget", async () => {
    const body = new Uint8Array(1024 * 1024 + 5);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    // A budget always spent: every piece after the allocation waits for a turn of its own.
    const { result: copy, turns } = await turnsDuring(() => copyInSlices(body, new SliceBudget(0)));
    const pieces = Math.ceil(body.length / (64 * 1024));
    assert.ok(turns >= pieces, `${pieces} pieces copied in ${turns} turns`);
    assert.ok(Buffer.from(copy).equals(Buffer.from(body)));
    assert.notEqual(copy.buffer, body.buffer);
  });

  it("copies in slices of the smallest share of a turn, a millisecond", async () => {
    let at = 0;
    const now = (): number => (at += 0.05); // a look at the budget per 64 KiB piece: 20 pieces a slice
    const budget = copyBudget(now);
    budget.start();
    assert.equal(COPY_SLICE_MS, 1);
    assert.ok(
      Math.abs(budget.remainingMs() - 0.95) < 1e-9,
      `a slice of ${budget.remainingMs()} ms`,
    );
    const body = new Uint8Array(4 * 1024 * 1024); // 64 pieces
    const { turns } = await turnsDuring(() => copyInSlices(body, copyBudget(now)));
    assert.ok(turns >= 3, `64 pieces copied in ${turns} turns`);
  });
});

describe("MemoryStore keys", () => {
  it("refuses the keys FileStore refuses, with the same message, and stores nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-memory-keys-"));
    try {
      const file = new FileStore(dir);
      const memory = new MemoryStore();
      const body = new Uint8Array([1]);
      const bad = ["", "/abs", "../x", "a/../b", "a/./b", "a//b", "a/", "a\\b", "a\0b", "\ud800"];
      for (const key of bad) {
        const calls = (store: FileStore | MemoryStore) => [
          () => store.put(key, body),
          () => store.put(key, body, { ifNoneMatch: "*" }),
          () => store.get(key),
          () => store.head(key),
          () => store.delete(key),
        ];
        const fileCalls = calls(file);
        const memoryCalls = calls(memory);
        for (let i = 0; i < fileCalls.length; i++) {
          let fileMessage = "";
          await assert.rejects(fileCalls[i]!(), (err: unknown) => {
            assert.ok(err instanceof InvalidArgumentError, `FileStore, key ${JSON.stringify(key)}`);
            fileMessage = err.message;
            return true;
          });
          await assert.rejects(memoryCalls[i]!(), (err: unknown) => {
            assert.ok(
              err instanceof InvalidArgumentError,
              `MemoryStore, key ${JSON.stringify(key)}`,
            );
            assert.equal(err.message, fileMessage);
            return true;
          });
        }
      }
      assert.equal(memory.size, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
