/**
 * A writing command opens the store as its writer for a moment, with none of the
 * application's options: a schedule it fired would take the command's queue settings (the
 * default `maxAttempts` and priority) rather than the application's. So it fires none, and
 * catches none up: the fire times that pass meanwhile are missed, and the application,
 * opening the store again, handles them per each schedule's `catchUp`, with its own settings.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-writer-schedules-");
after(temp.removeAll);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("writing commands and schedules", { timeout: 60_000 }, () => {
  it("fire no schedule: the application catches up, with its own queue settings", async () => {
    const dir = await temp.make();
    const options = {
      logger: silentLogger,
      queueConfigs: { reports: { maxAttempts: 7, defaultPriority: 5 } },
    };
    const app = await Queue.open(new FileStore(dir), "taquba", options);
    await app.enqueue("mail", "hello");
    await app.schedule("tick", { everyMs: 200, queue: "reports", payload: "t", catchUp: "latest" });
    await app.close();
    // What the application fired itself (a loaded machine may reach a fire time before close).
    const firedByApp = (await QueueReader.open(new FileStore(dir), "taquba")).stats("reports");
    await sleep(500); // fire times pass while no application has the store

    const enqueued = await cli("enqueue", "mail", "world", "--store", dir);
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const paused = await cli("pause", "mail", "--store", dir);
    assert.equal(paused.code, 0, paused.stderr);
    const reader = await QueueReader.open(new FileStore(dir), "taquba");
    assert.equal(reader.stats("mail").pending, 2);
    assert.equal(
      reader.stats("reports").pending,
      firedByApp.pending,
      "no schedule fired by the commands",
    );

    const again = await Queue.open(new FileStore(dir), "taquba", options);
    try {
      const deadline = Date.now() + 5_000;
      while ((await again.stats("reports")).pending <= firedByApp.pending && Date.now() < deadline)
        await sleep(20);
      const { jobs } = await again.listJobs("reports", "pending");
      assert.ok(jobs.length > firedByApp.pending, "the application caught up");
      for (const job of jobs) assert.deepEqual([job.maxAttempts, job.priority], [7, 5]);
    } finally {
      await again.close();
    }
  });
});

describe("schedules off only for the command line", { timeout: 30_000 }, () => {
  it("a registered symbol on the options does not stop an application's schedules", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      [Symbol.for("taquba.noSchedules")]: true,
    } as Parameters<typeof Queue.open>[2]);
    try {
      await queue.schedule("tick", { everyMs: 50, queue: "reports", payload: "t" });
      const deadline = Date.now() + 5_000;
      while ((await queue.stats("reports")).pending === 0 && Date.now() < deadline) await sleep(20);
      assert.ok((await queue.stats("reports")).pending > 0, "the schedule fired");
    } finally {
      await queue.close();
    }
  });
});
