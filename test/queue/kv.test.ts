import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConflictError, InvalidArgumentError } from "../../src/errors.js";
import { MAX_KV_KEY_BYTES, MAX_KV_VALUE_BYTES } from "../../src/queue/limits.js";
import { QueueReader } from "../../src/queue/reader.js";
import { MemoryStore } from "../../src/store/memory.js";
import { openTestQueue, rejection, text } from "./helpers.js";

describe("KV namespace", { timeout: 60_000 }, () => {
  it("puts, gets, deletes and compares-and-sets, durably across a reopen", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    assert.equal(await queue.kvGet("a"), null);
    await queue.kvPut("a", "one");
    await queue.kvPut("b", new Uint8Array([1, 2, 3]));
    assert.equal(text((await queue.kvGet("a"))!), "one");
    assert.deepEqual([...(await queue.kvGet("b"))!], [1, 2, 3]);
    assert.equal(await queue.kvDelete("b"), true);
    assert.equal(await queue.kvDelete("b"), false);
    assert.equal(await queue.kvCompareAndSet("a", "wrong", "two"), false);
    assert.equal(await queue.kvCompareAndSet("a", "one", "two"), true);
    assert.equal(await queue.kvCompareAndSet("c", null, "new"), true);
    assert.equal(await queue.kvCompareAndSet("c", null, "again"), false);
    assert.equal(await queue.kvCompareAndSet("gone", "x", "y"), false);
    assert.equal(await queue.kvGet("gone"), null);
    // A value handed out is a copy: changing it changes nothing stored.
    const got = (await queue.kvGet("a"))!;
    got[0] = 0;
    assert.equal(text((await queue.kvGet("a"))!), "two");
    await queue.close();
    const reopened = (await openTestQueue({}, store, clock)).queue;
    assert.equal(text((await reopened.kvGet("a"))!), "two");
    assert.equal(text((await reopened.kvGet("c"))!), "new");
    assert.equal(await reopened.kvGet("b"), null);
    await reopened.close();
  });

  it("a value put from a Buffer the caller writes again keeps the bytes put, live and at replay", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    const buf = Buffer.from("original");
    const put = queue.kvPut("a", buf);
    buf.write("MUTATED!");
    await put;
    buf.write("AGAIN!!!");
    assert.equal(text((await queue.kvGet("a"))!), "original");
    assert.equal(await queue.kvCompareAndSet("a", "original", buf), true);
    buf.write("THIRD!!!");
    assert.equal(text((await queue.kvGet("a"))!), "AGAIN!!!");
    await queue.close();
    const reopened = (await openTestQueue({}, store, clock)).queue;
    assert.equal(text((await reopened.kvGet("a"))!), "AGAIN!!!");
    await reopened.close();
  });

  it("keeps KV apart from jobs: no key shows as a job, no job as a key", async () => {
    const { queue } = await openTestQueue();
    const id = await queue.enqueue("q", "job");
    await queue.kvPut(id, "value under a job's id");
    assert.equal(text((await queue.getJob(id))!.payload), "job");
    assert.equal((await queue.kvScan("")).entries.length, 1);
    assert.equal(await queue.kvDelete(id), true);
    assert.equal((await queue.getJob(id))?.status, "pending");
    await queue.close();
  });

  it("scans by prefix in key order, in pages, with cursors", async () => {
    const { queue } = await openTestQueue();
    const keys = ["user/3", "user/1", "user/10", "user/2", "order/1", "users", "user/"];
    for (const key of keys) await queue.kvPut(key, key.toUpperCase());
    const all: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await queue.kvScan("user/", { limit: 2, ...(cursor ? { cursor } : {}) });
      assert.ok(page.entries.length <= 2);
      for (const { key, value } of page.entries) {
        all.push(key);
        assert.equal(text(value), key.toUpperCase());
      }
      if (page.nextCursor === undefined) break;
      cursor = page.nextCursor;
    }
    assert.deepEqual(all, ["user/", "user/1", "user/10", "user/2", "user/3"]);
    assert.deepEqual(
      (await queue.kvScan("")).entries.map((e) => e.key),
      [...keys].sort(),
    );
    assert.deepEqual(await queue.kvScan("nothing"), { entries: [] });
    // An empty page could not say whether entries follow: limit 0 is refused.
    const zero = await rejection(queue.kvScan("user/", { limit: 0 }));
    assert.ok(zero instanceof InvalidArgumentError);
    assert.match(zero.message, /^Expected `options\.limit` to be .*1 to 1000.*, got 0/);
    // The last page has no cursor, also when it is exactly full.
    const exact = await queue.kvScan("order/", { limit: 1 });
    assert.equal(exact.entries.length, 1);
    assert.equal(exact.nextCursor, undefined);
    const foreign = await rejection(queue.kvScan("user/", { cursor: "order/1" }));
    assert.ok(foreign instanceof InvalidArgumentError);
    assert.match(foreign.message, /^Expected `options.cursor` to be a nextCursor of a kvScan/);
    await queue.close();
  });

  it("refuses bad keys and values with typed errors, writing nothing", async () => {
    const { queue } = await openTestQueue();
    const before = queue.logStats();
    const cases: [Promise<unknown>, RegExp][] = [
      [queue.kvPut("", "v"), /^Expected `key` to be 1 to 1024 UTF-8 bytes, got an empty string$/],
      [
        queue.kvPut("k".repeat(MAX_KV_KEY_BYTES + 1), "v"),
        /^Expected `key` to be at most 1024 UTF-8 bytes \(MAX_KV_KEY_BYTES\), got 1025 bytes$/,
      ],
      [
        queue.kvPut("é".repeat(513), "v"),
        /^Expected `key` to be at most 1024 UTF-8 bytes \(MAX_KV_KEY_BYTES\), got 1026 bytes$/,
      ],
      [
        queue.kvPut("k", new Uint8Array(MAX_KV_VALUE_BYTES + 1)),
        /^Expected `value` to be at most 262144 bytes \(MAX_KV_VALUE_BYTES\), got 262145 bytes$/,
      ],
      [
        queue.kvPut("k", 5 as unknown as string),
        /^Expected `value` to be a Uint8Array or a string, got 5$/,
      ],
      [queue.kvPut(7 as unknown as string, "v"), /^Expected `key` to be a string, got 7$/],
      [queue.kvPut("\uD800", "v"), /^Expected `key` to be well-formed Unicode/],
      [queue.kvGet(""), /^Expected `key`/],
      [queue.kvDelete(""), /^Expected `key`/],
      [
        queue.kvCompareAndSet("k", 1 as unknown as string, "v"),
        /^Expected `expected` to be null \(absent\), a Uint8Array or a string, got 1$/,
      ],
      [
        queue.kvScan("p", { limit: 1001 }),
        /^Expected `options.limit` to be an integer from 1 to 1000, got 1001$/,
      ],
    ];
    for (const [call, message] of cases) {
      const error = await rejection(call);
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, message);
    }
    // The largest key and value are fine.
    await queue.kvPut("k".repeat(MAX_KV_KEY_BYTES), new Uint8Array(MAX_KV_VALUE_BYTES));
    assert.equal(queue.logStats().recordsWritten - before.recordsWritten, 1);
    assert.equal((await queue.kvScan("")).entries.length, 1);
    await queue.close();
  });

  it("loses no update under concurrent compare-and-set increments", async () => {
    const { queue } = await openTestQueue();
    await queue.kvPut("n", "0");
    const worker = async () => {
      for (let done = 0; done < 25; ) {
        const value = Number(text((await queue.kvGet("n"))!));
        if (await queue.kvCompareAndSet("n", String(value), String(value + 1))) done++;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    assert.equal(text((await queue.kvGet("n"))!), "100");
    await queue.close();
  });

  it("a QueueReader reads KV from checkpoint and log without fencing the writer", async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue({}, store);
    for (let i = 0; i < 50; i++) await queue.kvPut(`k/${String(i).padStart(2, "0")}`, `v${i}`);
    await queue.flush();
    const reader = await QueueReader.open(store, "q");
    assert.equal(text(reader.kvGet("k/07")!), "v7");
    const page = reader.kvScan("k/", { limit: 10 });
    assert.equal(page.entries.length, 10);
    assert.equal(page.nextCursor, "k/09");
    assert.equal(reader.kvScan("k/", { cursor: "k/45" }).entries.length, 4);
    assert.equal(reader.kvGet("missing"), null);
    await queue.kvPut("after", "still the writer");
    await queue.close();
  });

  it("ConflictError has its code", () => {
    assert.equal(new ConflictError("x").code, "CONFLICT");
  });
});
