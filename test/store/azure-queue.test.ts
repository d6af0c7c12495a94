import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ContainerClient } from "@azure/storage-blob";
import { FencedError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import type { OpenOptions } from "../../src/queue/types.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { listAll } from "../../src/store/types.js";
import { type AzuriteServer, startAzurite } from "../servers/azurite.js";

const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);
const options: OpenOptions = { logger: silentLogger, flushIntervalMs: 1 };

// The whole stack (queue, log, fencing) on Azure's own emulator: the store that
// passes the conformance suite must also carry a queue through restart and fencing.
describe("Queue on Azurite", () => {
  let server: AzuriteServer;
  let store: AzureBlobStore;

  before(async () => {
    server = await startAzurite();
    await new ContainerClient(server.connectionString, "queues").create();
    store = new AzureBlobStore({
      container: "queues",
      prefix: "tenant",
      connectionString: server.connectionString,
    });
  });
  after(async () => {
    await server?.stop();
  });

  it("enqueues, claims and acks; state survives close and reopen", async () => {
    const first = await Queue.open(store, "app", options);
    const ids = [
      await first.enqueue("emails", "welcome"),
      await first.enqueue("emails", "digest"),
      await first.enqueue("emails", "urgent", { priority: 10 }),
    ];
    const claim = await first.claim("emails");
    assert.equal(claim?.id, ids[2], "the high-priority job is claimed first");
    assert.equal(text(claim?.payload), "urgent");
    await first.ack(claim!);
    assert.deepEqual(await first.stats("emails"), {
      queue: "emails",
      pending: 2,
      claimed: 0,
      done: 1,
      dead: 0,
      scheduled: 0,
    });
    await first.close();

    const objects = await listAll(store, "app/");
    assert.ok(
      objects.some((o) => o.key.startsWith("app/wal/")) &&
        objects.some((o) => o.key.startsWith("app/manifest/")),
      `the log lives in the container: ${objects.map((o) => o.key).join(", ")}`,
    );

    const reopened = await Queue.open(store, "app", options);
    assert.equal((await reopened.stats("emails")).pending, 2);
    const next = await reopened.claim("emails");
    assert.equal(next?.id, ids[0], "FIFO within a priority survives the restart");
    assert.equal(text(next?.payload), "welcome");
    await reopened.ack(next!);
    assert.equal((await reopened.getJob(ids[1]!))?.status, "pending");
    await reopened.close();
  });

  it("a second writer on the same path fences the first", async () => {
    const older = await Queue.open(store, "fenced", options);
    const kept = await older.enqueue("jobs", "before the takeover");

    const newer = await Queue.open(store, "fenced", options);
    await assert.rejects(older.enqueue("jobs", "from the zombie"), FencedError);
    await assert.rejects(older.claim("jobs"), FencedError);

    assert.equal((await newer.stats("jobs")).pending, 1, "the zombie's write never landed");
    const claim = await newer.claim("jobs");
    assert.equal(claim?.id, kept);
    await newer.ack(claim!);
    await newer.enqueue("jobs", "after the takeover");
    await newer.close();
    await older.close().catch(() => {});

    const reopened = await Queue.open(store, "fenced", options);
    const stats = await reopened.stats("jobs");
    assert.equal(stats.pending, 1);
    assert.equal(stats.done, 1);
    await reopened.close();
  });
});
