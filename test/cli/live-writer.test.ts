/**
 * Writing commands and a writer that is (or was) running: refused without
 * `--take-over` while the store's writer heartbeat is fresh, forced with it
 * (the running Queue is fenced and fails loudly), and allowed when the beat
 * is stale, closed, or absent. The heartbeat's age is set with injected
 * clocks, never by waiting.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { runCli } from "../../src/cli/run.js";
import { ManualClock } from "../../src/clock.js";
import { FencedError } from "../../src/errors.js";
import { inspectLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { capture, cli, tempDirs } from "./capture.js";
import { runBuiltCli } from "./child.js";

const temp = tempDirs("taquba-cli-live-");
after(temp.removeAll);

/** The running Queue must now fail: it was fenced by the CLI's writer. */
async function assertFenced(queue: Queue): Promise<void> {
  await assert.rejects(queue.enqueue("mail", "after the take-over"), FencedError);
  await queue.close().catch(() => {});
}

describe("writing commands and a live writer", { timeout: 120_000 }, () => {
  it("a Queue beating now: every writing command refuses without --take-over and writes nothing", async () => {
    const dir = await temp.make();
    const store = new FileStore(dir);
    const queue = await Queue.open(store, "taquba", {
      logger: silentLogger,
      heartbeatMs: 60_000,
      defaultQueueConfig: { maxAttempts: 1 },
    });
    const dead = await queue.enqueue("mail", "x");
    await queue.nack((await queue.claim("mail"))!, "boom");
    const pending = await queue.enqueue("mail", "y");
    // Paused, so that resuming it changes something (a no-op opens no writer).
    await queue.pauseQueue("held");
    const before = await inspectLog(store, "taquba");
    for (const line of [
      "enqueue mail hello",
      `requeue ${dead}`,
      "requeue --all mail",
      `remove ${pending}`,
      "remove --all mail --status dead",
      "pause mail",
      "resume held",
    ]) {
      const out = await runBuiltCli([...line.split(" "), "--store", dir]);
      const command = line.split(" ")[0]!;
      assert.equal(out.code, 1, `${line}: ${out.stderr}`);
      assert.equal(out.stdout, "", line);
      assert.match(
        out.stderr,
        new RegExp(
          `^taquba ${command}: writer epoch 1 is live \\(its heartbeat is \\d+(?:\\.\\d)? s old, beating every 60000 ms\\); nothing was written: pass --take-over to fence it and write anyway\\n$`,
        ),
        line,
      );
    }
    const unchanged = await inspectLog(store, "taquba");
    assert.deepEqual(unchanged.manifest, before.manifest, "no writer opened");
    assert.equal(unchanged.wal.objects, before.wal.objects, "no fence written");
    // The Queue was not disturbed.
    await queue.enqueue("mail", "still the writer");
    assert.deepEqual(await queue.stats("mail"), {
      queue: "mail",
      pending: 2,
      scheduled: 0,
      claimed: 0,
      done: 0,
      dead: 1,
      paused: false,
    });

    // --take-over forces it: the CLI writes, the Queue is fenced and fails loudly.
    const forced = await runBuiltCli(["requeue", dead, "--take-over", "--store", dir]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(
      forced.stderr,
      /^taquba requeue: opened the queue store as its writer \(epoch 2\); fenced live writer epoch 1 \(--take-over; its heartbeat was \d+(?:\.\d)? s old\): it fails on its next write\n$/,
    );
    await assertFenced(queue);
    const reader = await QueueReader.open(store, "taquba");
    assert.equal(reader.getJob(dead)?.status, "pending");
    assert.equal(reader.stats("mail").pending, 3);

    // The fenced Queue's beat is of an older epoch: the next command sees the clean close.
    const next = await runBuiltCli(["pause", "mail", "--store", dir]);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /writer epoch 2 had closed cleanly\n$/);
  });

  it("a heartbeat an hour old (a Queue on an injected clock): the command proceeds and fences it", async () => {
    const dir = await temp.make();
    const clock = new ManualClock(Date.now() - 3_600_000);
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      heartbeatMs: 1_000,
      clock,
    });
    await queue.enqueue("mail", "x");
    const out = await runBuiltCli(["enqueue", "mail", "hello", "--store", dir]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stderr,
      /^taquba enqueue: opened the queue store as its writer \(epoch 2\); fenced writer epoch 1, whose heartbeat had stopped 1\.0 h ago \(every 1000 ms\): gone or stalled\n$/,
    );
    await assertFenced(queue);
    assert.equal((await QueueReader.open(new FileStore(dir), "taquba")).stats("mail").pending, 2);
  });

  it("live up to 3 beat intervals, stale after, by the CLI's injected clock", async () => {
    const dir = await temp.make();
    const start = 1_800_000_000_000;
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      heartbeatMs: 1_000,
      clock: new ManualClock(start),
    });
    await queue.enqueue("mail", "x");
    const run = async (cliNow: number, ...args: string[]) => {
      const io = Object.assign(capture(), { clock: new ManualClock(cliNow) });
      const code = await runCli([...args, "--store", dir], io);
      return { code, stdout: io.stdout, stderr: io.stderr };
    };
    const live = await run(start + 3_000, "pause", "mail");
    assert.equal(live.code, 1, live.stderr);
    assert.match(live.stderr, /writer epoch 1 is live \(its heartbeat is 3\.0 s old/);
    assert.equal((await queue.stats("mail")).paused, false);
    await queue.enqueue("mail", "not fenced");

    const stale = await run(start + 3_001, "pause", "mail");
    assert.equal(stale.code, 0, stale.stderr);
    assert.match(stale.stderr, /fenced writer epoch 1, whose heartbeat had stopped 3\.0 s ago/);
    await assertFenced(queue);
    const reader = await QueueReader.open(new FileStore(dir), "taquba");
    assert.equal(reader.stats("mail").paused, true);
    assert.equal(reader.stats("mail").pending, 2);
  });

  it("a Queue that closed cleanly with a heartbeat, or runs without one: the command proceeds", async () => {
    const dir = await temp.make();
    const beating = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      heartbeatMs: 60_000,
    });
    await beating.enqueue("mail", "x");
    await beating.close();
    const closed = await cli("enqueue", "mail", "y", "--store", dir);
    assert.equal(closed.code, 0, closed.stderr);
    assert.match(closed.stderr, /\(epoch 2\); writer epoch 1 had closed cleanly\n$/);

    // No heartbeat: it cannot be told from a crashed writer, so it is fenced, and stderr says so.
    const silent = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    const out = await cli("enqueue", "mail", "z", "--store", dir);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stderr,
      /^taquba enqueue: opened the queue store as its writer \(epoch 4\); fenced writer epoch 3 in case it still runs \(it has no heartbeat and did not close cleanly; its last manifest is \d+(?:\.\d)? s old\)\n$/,
    );
    await assertFenced(silent);
    assert.equal((await QueueReader.open(new FileStore(dir), "taquba")).stats("mail").pending, 3);
  });

  describe("the check before writing is not what judges the writer", () => {
    /** A store with a dead and a pending job of "mail", written and closed by writer epoch 1. */
    async function closedStore(): Promise<{ dir: string; dead: string; pending: string }> {
      const dir = await temp.make();
      const queue = await Queue.open(new FileStore(dir), "taquba", {
        logger: silentLogger,
        defaultQueueConfig: { maxAttempts: 1 },
      });
      const dead = await queue.enqueue("mail", "x");
      await queue.nack((await queue.claim("mail"))!, "boom");
      const pending = await queue.enqueue("mail", "y");
      await queue.pauseQueue("held");
      await queue.close();
      return { dir, dead, pending };
    }

    /** The commands that read the store before opening it as writer. */
    function checkedCommands(dead: string, pending: string): string[] {
      return [
        "pause mail",
        "resume held",
        `remove ${pending}`,
        "remove --all mail --status dead",
        `requeue ${dead}`,
        "requeue --all mail",
      ];
    }

    it("a slow read of the state: a writer beating all along is live, not stale", async () => {
      const { dir, dead, pending } = await closedStore();
      const heartbeatMs = 400;
      const queue = await Queue.open(new FileStore(dir), "taquba", {
        logger: silentLogger,
        heartbeatMs,
      });
      // A big checkpoint on a remote store: its read outlasts STALE_INTERVALS beats.
      const slowMs = 3 * heartbeatMs + 600;
      const get = FileStore.prototype.get;
      let slowReads = 0;
      FileStore.prototype.get = async function (this: FileStore, key: string) {
        if (key.includes("/checkpoint/")) {
          slowReads++;
          await new Promise((resolve) => setTimeout(resolve, slowMs));
        }
        return get.call(this, key);
      };
      try {
        for (const line of checkedCommands(dead, pending)) {
          const reads = slowReads;
          const out = await cli(...line.split(" "), "--store", dir);
          assert.ok(slowReads > reads, `${line}: the check read the checkpoint`);
          assert.equal(out.code, 1, `${line}: ${out.stderr}`);
          assert.match(
            out.stderr,
            new RegExp(
              `^taquba ${line.split(" ")[0]}: writer epoch 2 is live \\(its heartbeat is \\d\\.\\d s old, beating every ${heartbeatMs} ms\\); nothing was written`,
            ),
            line,
          );
          // Not fenced: it goes on writing.
          await queue.enqueue("mail", "still the writer");
        }
      } finally {
        FileStore.prototype.get = get;
      }
      assert.equal((await queue.stats("mail")).paused, false);
      await queue.close();
    });

    it("a writer that opens while the check reads: refused, naming that writer", async () => {
      const { dir, dead, pending } = await closedStore();
      const open = QueueReader.open;
      let writer: Queue | undefined;
      // The check's reader has read the store as epoch 1 left it; then a writer opens.
      QueueReader.open = async (...args: Parameters<typeof QueueReader.open>) => {
        const reader = await open.apply(QueueReader, args);
        writer ??= await Queue.open(new FileStore(dir), "taquba", {
          logger: silentLogger,
          heartbeatMs: 60_000,
        });
        return reader;
      };
      try {
        for (const line of checkedCommands(dead, pending)) {
          const out = await cli(...line.split(" "), "--store", dir);
          assert.equal(out.code, 1, `${line}: ${out.stderr}`);
          assert.match(
            out.stderr,
            new RegExp(`^taquba ${line.split(" ")[0]}: writer epoch 2 is live \\(`),
            line,
          );
          assert.ok(writer !== undefined);
          await writer.enqueue("mail", "still the writer");
        }
      } finally {
        QueueReader.open = open;
      }
      assert.equal((await writer!.stats("mail")).paused, false);
      await writer!.close();
    });
  });
});
