import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { MAX_TRANSACTION_OPS } from "../../src/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { liveState, stateDigest } from "../reliability/lib/audit.js";
import { openTestQueue, rejection } from "./helpers.js";

describe("transaction size", { timeout: 60_000 }, () => {
  it(`takes ${MAX_TRANSACTION_OPS} operations; one more is refused with a typed error and nothing written`, async () => {
    const { queue } = await openTestQueue({}, new MemoryStore());
    try {
      const full = await queue.transaction((tx) => {
        for (let i = 0; i < MAX_TRANSACTION_OPS - 1; i++) tx.enqueue("q", `job-${i}`);
        tx.kvPut("k", "v");
      });
      assert.equal(full.enqueued.length, MAX_TRANSACTION_OPS - 1);
      const digest = stateDigest(liveState(queue));
      const records = queue.logStats().recordsWritten;
      const error = await rejection(
        queue.transaction((tx) => {
          for (let i = 0; i < MAX_TRANSACTION_OPS; i++) tx.enqueue("q", `more-${i}`);
          tx.kvPut("k2", "v");
        }),
      );
      assert.ok(error instanceof InvalidArgumentError);
      assert.match(
        error.message,
        new RegExp(
          `^Expected \`build\` to add at most ${MAX_TRANSACTION_OPS} operations.*got ${MAX_TRANSACTION_OPS + 1}`,
        ),
      );
      assert.equal(queue.logStats().recordsWritten, records);
      assert.equal(stateDigest(liveState(queue)), digest);
      assert.equal(await queue.kvGet("k2"), null);
    } finally {
      await queue.close();
    }
  });
});
