import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeCheckpoint } from "../../src/log/codec.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { decodeSnapshot } from "../../src/queue/snapshot.js";
import type { ObjectStore, PutOptions } from "../../src/store/types.js";
import { memoryAndFileStores } from "./helpers.js";

/** Claims a crashed writer leaves: enough that requeueing them takes many slices. */
const CLAIMS = 20_000;

/** A store that passes everything through and keeps the first checkpoint put after `arm()`. */
function recordFirstCheckpoint(inner: ObjectStore): {
  store: ObjectStore;
  arm(): void;
  first(): { key: string; body: Uint8Array } | null;
} {
  let armed = false;
  let first: { key: string; body: Uint8Array } | null = null;
  const store: ObjectStore = {
    get: (key) => inner.get(key),
    ...(inner.head === undefined ? {} : { head: (key: string) => inner.head!(key) }),
    list: (prefix, options) => inner.list(prefix, options),
    delete: (key) => inner.delete(key),
    describe: () => inner.describe(),
    put(key: string, body: Uint8Array, options?: PutOptions) {
      if (armed && first === null && key.includes("/checkpoint/"))
        first = { key, body: body.slice() };
      return inner.put(key, body, options);
    },
  };
  return { store, arm: () => (armed = true), first: () => first };
}

describe("the open of a second writer: requeue first, then checkpoints", {
  timeout: 120_000,
}, () => {
  for (const [name, makeStore] of memoryAndFileStores("taquba-open-requeue-")) {
    it(`${name}: the first checkpoint after the open already holds every interrupted claim requeued`, async () => {
      const recorder = recordFirstCheckpoint(await makeStore());
      const first = await Queue.open(recorder.store, "q", { logger: silentLogger });
      const payload = new Uint8Array(16);
      for (let sent = 0; sent < CLAIMS; sent += 1_000)
        await first.enqueueBatch(
          "jobs",
          Array.from({ length: 1_000 }, () => payload),
        );
      let claimed = 0;
      while (claimed < CLAIMS) claimed += (await first.claimBatch("jobs", 1_000)).length;
      await first.flush();

      // The first writer stops without settling its claims; a second takes over. Its
      // checkpoints are due at every durable WAL batch, so one started while the claims
      // were requeued (they take many turns) would be cut with most of them still claimed.
      recorder.arm();
      const second = await Queue.open(recorder.store, "q", {
        logger: silentLogger,
        log: { checkpointWalBatches: 1 },
      });
      const deadline = Date.now() + 60_000;
      while (second.logStats().checkpointsWritten === 0) {
        assert.ok(Date.now() < deadline, "the second writer wrote no checkpoint");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const checkpoint = recorder.first();
      assert.ok(checkpoint !== null);
      const walId = Number(checkpoint.key.split("/").at(-1)!.split("-")[0]);
      const state = decodeSnapshot(decodeCheckpoint(checkpoint.key, walId, checkpoint.body));
      const jobs = state.queue("jobs");
      assert.equal(jobs.claimed.size, 0, "no job of the first writer is still claimed");
      assert.equal(jobs.pending.size, CLAIMS);
      assert.equal((await second.stats("jobs")).pending, CLAIMS);
      await second.close();
      await first.close().catch(() => {});
    });
  }
});
