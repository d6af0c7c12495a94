import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CorruptionError } from "../../src/errors.js";
import { MemoryStore, Queue, silentLogger } from "../../src/index.js";
import { openLog } from "../../src/log/index.js";
import { QueueReader } from "../../src/queue/reader.js";
import { encodeSnapshot } from "../../src/queue/snapshot.js";
import { SNAPSHOT_REVISION } from "../../src/queue/snapshot-layout.js";
import { State } from "../../src/queue/state.js";
import { listAll } from "../../src/store/types.js";
import { rejection } from "../log/helpers.js";

/**
 * A store under "tenants/a" whose checkpoint passes the log's checks (its
 * checksum is right) and holds a queue snapshot as `change` made it, with
 * the key of that checkpoint.
 */
async function storeWithSnapshot(
  change: (snapshot: Uint8Array) => Uint8Array,
): Promise<{ store: MemoryStore; key: string }> {
  const store = new MemoryStore();
  const snapshot = change(encodeSnapshot(new State()));
  const { log } = await openLog(store, "tenants/a", { logger: silentLogger });
  log.setSnapshotSource(() => snapshot);
  await log.checkpoint();
  await log.close();
  const checkpoints = await listAll(store, "tenants/a/checkpoint/");
  assert.equal(checkpoints.length, 1);
  return { store, key: checkpoints[0]!.key };
}

describe("restoring a queue's state", () => {
  it("names the exact checkpoint object whose snapshot does not decode, and what it expected", async () => {
    const { store, key } = await storeWithSnapshot((valid) =>
      valid.subarray(0, valid.byteLength - 1),
    );
    const opened = await rejection(Queue.open(store, "tenants/a", { logger: silentLogger }));
    const read = await rejection(QueueReader.open(store, "tenants/a"));
    for (const error of [opened, read]) {
      assert.ok(error instanceof CorruptionError, String(error));
      assert.equal(error.objectKey, key);
      assert.ok(error.message.includes(`"${key}"`), error.message);
      assert.match(error.message, /expected a queue snapshot/);
    }
  });

  it("names the exact checkpoint object whose snapshot a newer release wrote", async () => {
    const { store, key } = await storeWithSnapshot((valid) => {
      valid[1] = SNAPSHOT_REVISION + 1;
      return valid;
    });
    const opened = await rejection(Queue.open(store, "tenants/a", { logger: silentLogger }));
    const read = await rejection(QueueReader.open(store, "tenants/a"));
    for (const error of [opened, read]) {
      assert.ok(error instanceof CorruptionError, String(error));
      assert.equal(error.objectKey, key);
      assert.match(error.message, /written by a newer taquba release/);
    }
  });
});
