import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CorruptionError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll } from "../../src/store/types.js";

const KIB = 1024;

function big(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

describe("QueueReader and offloaded payloads", { timeout: 30_000 }, () => {
  it("loadJob reads an offloaded payload as Queue.getJob does; getJob and listings mark it with its size instead of reading it", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", {
      logger: silentLogger,
      payloadOffloadBytes: 4 * KIB,
      defaultQueueConfig: { maxAttempts: 1 },
    });
    const payload = big(10 * KIB);
    const pending = await queue.enqueue("work", payload);
    const empty = await queue.enqueue("work", new Uint8Array(0));
    const dead = await queue.enqueue("other", big(5 * KIB));
    const claim = await queue.claim("other");
    await queue.deadLetter(claim!, "no");
    const fromQueue = await queue.getJob(pending);
    await queue.close();

    const reader = await QueueReader.open(store, "q");
    const seen = reader.getJob(pending)!;
    assert.equal(seen.payload.byteLength, 0);
    assert.equal(seen.payloadRef, fromQueue!.payloadRef);
    assert.equal(seen.payloadSize, payload.byteLength);
    assert.equal(fromQueue!.payloadSize, payload.byteLength);
    const plain = reader.getJob(empty)!;
    assert.equal(plain.payloadRef, undefined);
    assert.equal(plain.payloadSize, undefined, "a truly empty payload is not marked");

    const loaded = await reader.loadJob(pending);
    assert.deepEqual(loaded, fromQueue);
    assert.deepEqual(await reader.loadJob(empty), plain);
    assert.equal(await reader.loadJob("01J0000000000000000000000A"), null);

    const listed = reader.listJobs("work", "pending").jobs;
    assert.deepEqual(
      listed.map((j) => [j.id, j.payload.byteLength, j.payloadSize]),
      [
        [pending, 0, payload.byteLength],
        [empty, 0, undefined],
      ],
    );
    const deadJobs = reader.deadJobs("other");
    assert.deepEqual(
      deadJobs.map((j) => [j.id, j.payloadSize, j.payloadRef !== undefined]),
      [[dead, 5 * KIB, true]],
    );
  });
});

describe("QueueReader on a store whose manifests are lost", { timeout: 30_000 }, () => {
  it("rejects with the CorruptionError Queue.open gives, also when only payload objects remain", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", { logger: silentLogger, payloadOffloadBytes: KIB });
    await queue.enqueue("work", big(2 * KIB));
    await queue.close();
    for (const { key } of await listAll(store, "q/manifest/")) await store.delete(key);
    for (const only of ["checkpoint", "payload"]) {
      if (only === "payload")
        for (const { key } of await listAll(store, "q/"))
          if (!key.startsWith("q/payload/")) await store.delete(key);
      const opening = await Queue.open(store, "q", { logger: silentLogger }).catch((e: Error) => e);
      const reading = await QueueReader.open(store, "q").catch((e: Error) => e);
      assert.ok(reading instanceof CorruptionError, `${only}: ${String(reading)}`);
      assert.ok(opening instanceof CorruptionError, `${only}: ${String(opening)}`);
      assert.equal(reading.objectKey, "q/manifest/");
      assert.equal(reading.message, opening.message);
      assert.match(reading.message, new RegExp(`but "q/${only}/`));
    }
    assert.deepEqual(
      (await listAll(store, "q/")).filter(({ key }) => !key.startsWith("q/payload/")),
      [],
      "neither wrote anything",
    );
  });
});
