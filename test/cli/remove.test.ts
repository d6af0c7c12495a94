import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { FencedError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-remove-");
after(temp.removeAll);

async function epochOf(dir: string): Promise<number | undefined> {
  return (await QueueReader.open(new FileStore(dir), "taquba")).inspection.manifest?.epoch;
}

async function jobOf(dir: string, id: string) {
  return (await QueueReader.open(new FileStore(dir), "taquba")).getJob(id);
}

describe("taquba remove <job-id>", { timeout: 60_000 }, () => {
  it("reports an unknown job without opening the store as writer", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      heartbeatMs: null,
    });
    await queue.enqueue("mail", "hello");
    // The writer stays open, without a heartbeat: a writing command would fence it.
    const epoch = await epochOf(dir);
    const unknown = await cli("remove", "nosuch", "--store", dir);
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr,
      "taquba remove: JOB_NOT_FOUND: no pending, scheduled, done or dead job with id nosuch: nothing was removed (a running job is cancelled with the API instead)\n",
    );
    assert.equal(await epochOf(dir), epoch, "no writer was opened");
    await queue.enqueue("mail", "not fenced");
    await queue.close();
  });

  it("refuses a job a live writer is running, writing nothing; --take-over removes it", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      heartbeatMs: 60_000,
    });
    const first = await queue.enqueue("mail", "one");
    const second = await queue.enqueue("mail", "two");
    const running = await queue.claim("mail");
    assert.equal(running?.id, first);
    assert.ok(await queue.claim("mail"));
    const epoch = await epochOf(dir);

    const refused = await cli("remove", first, "--store", dir);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(
        `^taquba remove: JOB_NOT_FOUND: no pending, scheduled, done or dead job with id ${first} \\(it is claimed by live writer epoch ${epoch}\\): nothing was removed \\(a running job is cancelled with the API instead, or --take-over`,
      ),
    );
    assert.equal(await epochOf(dir), epoch, "no writer was opened");
    // The writer was not fenced: it settles its job.
    await queue.ack(running!);

    const forced = await cli("remove", second, "--store", dir, "--take-over");
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stdout, `Removed ${second}.\n`);
    assert.equal(await jobOf(dir, second), null);
    await assert.rejects(queue.enqueue("mail", "after the take-over"), FencedError);
    await queue.close().catch(() => {});
  });

  it("removes a job that a writer which is gone left claimed", async () => {
    for (const end of ["crash", "close"] as const) {
      const dir = await temp.make();
      const queue = await Queue.open(new FileStore(dir), "taquba", {
        logger: silentLogger,
        heartbeatMs: null,
      });
      const id = await queue.enqueue("mail", "one");
      await queue.enqueue("mail", "two");
      assert.equal((await queue.claim("mail"))?.id, id);
      // A crash: the writer is left as it is. Or a clean close before the job was settled.
      if (end === "close") await queue.close();
      assert.equal((await jobOf(dir, id))?.status, "claimed", end);

      const removed = await cli("remove", id, "--store", dir);
      assert.equal(removed.code, 0, `${end}: ${removed.stderr}`);
      assert.equal(removed.stdout, `Removed ${id}.\n`);
      assert.equal(await jobOf(dir, id), null, end);
      if (end === "crash") await queue.close().catch(() => {});
    }
  });
});
