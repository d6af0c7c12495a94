import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CommandFailure } from "../../src/cli/io.js";
import {
  checkKnownQueue,
  openWriter,
  type ResolvedStore,
  readBeforeWriting,
} from "../../src/cli/store-args.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { capture, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-store-args-");
after(temp.removeAll);

describe("openWriter after a check before writing", { timeout: 60_000 }, () => {
  it("opens the store the check read, asking it afresh who its writer is", async () => {
    const dir = await temp.make();
    const first = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await first.enqueue("mail", "hello");
    await first.close();

    const at: ResolvedStore = {
      store: new FileStore(dir),
      path: "taquba",
      where: "the test's store",
    };
    const io = capture();
    const { reader, checked } = await readBeforeWriting(at, io);
    assert.equal(reader.stats("mail").pending, 1);
    assert.deepEqual(checked.before, { kind: "closed", epoch: 1 });
    // Values naming a place with no store: a writer resolved from them would refuse.
    const queue = await openWriter(
      { store: await temp.make(), path: "elsewhere" },
      io,
      "test",
      {},
      checked,
    );
    try {
      assert.equal((await queue.stats("mail")).pending, 1);
    } finally {
      await queue.close();
    }
    assert.equal(
      io.stderr,
      "taquba test: opened the queue store as its writer (epoch 2); writer epoch 1 had closed cleanly\n",
    );
  });

  it("refuses a writer that opened after the check's read, though the read found none live", async () => {
    const dir = await temp.make();
    const first = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await first.enqueue("mail", "hello");
    await first.close();

    const at: ResolvedStore = { store: new FileStore(dir), path: "taquba", where: "here" };
    const io = capture();
    const { checked } = await readBeforeWriting(at, io);
    assert.deepEqual(checked.before, { kind: "closed", epoch: 1 });
    const live = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      heartbeatMs: 60_000,
    });
    try {
      await assert.rejects(
        openWriter({}, io, "test", {}, checked),
        (error: unknown) =>
          error instanceof CommandFailure && /^writer epoch 2 is live /.test(error.message),
      );
      assert.equal(io.stderr, "");
      // Not fenced.
      await live.enqueue("mail", "still the writer");
    } finally {
      await live.close();
    }
  });

  it("a known-queue check keeps no snapshot for the writer to open beside", async () => {
    const dir = await temp.make();
    const first = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await first.enqueue("mail", "hello");
    await first.close();

    // The writer loads the whole state again: a snapshot kept meanwhile doubles the memory.
    const known = await checkKnownQueue({ store: dir }, capture(), "mail", "", (snapshot) =>
      snapshot.stats("mail"),
    );
    for (const [key, value] of Object.entries(known))
      assert.ok(!(value instanceof QueueReader), `${key} holds the snapshot`);
    assert.deepEqual(known.before, { kind: "closed", epoch: 1 });
    // Only what the command looked at is kept.
    assert.equal(known.seen?.pending, 1);
  });
});
