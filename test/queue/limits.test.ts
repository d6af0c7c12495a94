import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MAX_DEDUP_KEY_BYTES,
  MAX_HEADER_KEY_BYTES,
  MAX_HEADER_VALUE_BYTES,
  MAX_HEADERS,
  MAX_HEADERS_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_QUEUE_NAME_BYTES,
} from "../../src/index.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { liveState, stateDigest } from "../reliability/lib/audit.js";
import { mustClaim, openTestQueue, rejection } from "./helpers.js";

const MiB = 1024 * 1024;

/** `n` bytes of UTF-8 made of 2-byte characters (plus one ASCII byte when `n` is odd). */
function utf8OfBytes(n: number): string {
  return "é".repeat(Math.floor(n / 2)) + (n % 2 === 1 ? "a" : "");
}

function headersOf(count: number, valueBytes = 1): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`h${i}`, "v".repeat(valueBytes)]),
  );
}

describe("size limits besides the payload", { timeout: 60_000 }, () => {
  it("the reported case: a 64 MiB header and a 32 MiB dedup key under maxPayloadBytes 1024", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", { logger: silentLogger, maxPayloadBytes: 1024 });
    const records = queue.logStats().recordsWritten;
    const header = await rejection(
      queue.enqueue("a", "x", { headers: { big: "h".repeat(64 * MiB) } }),
    );
    assert.equal(header.code, "INVALID_ARGUMENT");
    const dedup = await rejection(queue.enqueue("a", "x", { dedupKey: "k".repeat(32 * MiB) }));
    assert.equal(dedup.code, "INVALID_ARGUMENT");
    assert.equal(queue.logStats().recordsWritten, records, "nothing was written");
    assert.ok(queue.logStats().bytesWritten < MiB);
    await queue.close();
  });

  it("accepts values at each limit and rejects one byte (or one header) more, changing nothing", async () => {
    const { queue } = await openTestQueue();
    const limits: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
      [
        "header count",
        () => queue.enqueue("a", "x", { headers: headersOf(MAX_HEADERS) }),
        () => queue.enqueue("a", "x", { headers: headersOf(MAX_HEADERS + 1) }),
      ],
      [
        "header name",
        () => queue.enqueue("a", "x", { headers: { [utf8OfBytes(MAX_HEADER_KEY_BYTES)]: "v" } }),
        () =>
          queue.enqueue("a", "x", { headers: { [utf8OfBytes(MAX_HEADER_KEY_BYTES + 1)]: "v" } }),
      ],
      [
        "header value",
        () => queue.enqueue("a", "x", { headers: { k: utf8OfBytes(MAX_HEADER_VALUE_BYTES) } }),
        () => queue.enqueue("a", "x", { headers: { k: utf8OfBytes(MAX_HEADER_VALUE_BYTES + 1) } }),
      ],
      [
        "headers in total",
        // Two values filling the total exactly (names "a" and "b" count one byte each).
        () =>
          queue.enqueue("a", "x", {
            headers: {
              a: "v".repeat(MAX_HEADER_VALUE_BYTES),
              b: "v".repeat(MAX_HEADERS_BYTES - MAX_HEADER_VALUE_BYTES - 2),
            },
          }),
        () =>
          queue.enqueue("a", "x", {
            headers: {
              a: "v".repeat(MAX_HEADER_VALUE_BYTES),
              b: "v".repeat(MAX_HEADERS_BYTES - MAX_HEADER_VALUE_BYTES - 1),
            },
          }),
      ],
      [
        "dedup key",
        () => queue.enqueue("a", "x", { dedupKey: utf8OfBytes(MAX_DEDUP_KEY_BYTES) }),
        () => queue.enqueue("a", "x", { dedupKey: utf8OfBytes(MAX_DEDUP_KEY_BYTES + 1) }),
      ],
      [
        "queue name",
        () => queue.enqueue(utf8OfBytes(MAX_QUEUE_NAME_BYTES), "x"),
        () => queue.enqueue(utf8OfBytes(MAX_QUEUE_NAME_BYTES + 1), "x"),
      ],
    ];
    for (const [what, atLimit, overLimit] of limits) {
      await atLimit();
      const before = stateDigest(liveState(queue));
      const records = queue.logStats().recordsWritten;
      const error = await rejection(overLimit());
      assert.equal(error.code, "INVALID_ARGUMENT", what);
      assert.match(error.message, /^Expected `.+` to be .*\d+ (UTF-8 bytes|headers)/, what);
      assert.equal(stateDigest(liveState(queue)), before, what);
      assert.equal(queue.logStats().recordsWritten, records, what);
    }
    await queue.close();
  });

  it("limits nack errors and dead-letter reasons; the claim stays live after a rejection", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueueBatch("a", ["1", "2"]);
    for (const settle of [
      (c: Parameters<Queue["nack"]>[0], m: string) => queue.nack(c, m),
      (c: Parameters<Queue["nack"]>[0], m: string) => queue.deadLetter(c, m),
    ]) {
      const claim = await mustClaim(queue, "a");
      assert.equal(
        (await rejection(settle(claim, utf8OfBytes(MAX_MESSAGE_BYTES + 1)))).code,
        "INVALID_ARGUMENT",
      );
      await settle(claim, utf8OfBytes(MAX_MESSAGE_BYTES));
      assert.equal(
        Buffer.byteLength((await queue.getJob(claim.id))!.lastError!),
        MAX_MESSAGE_BYTES,
      );
    }
    await queue.close();
  });
});
