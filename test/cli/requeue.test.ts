import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-requeue-");
after(temp.removeAll);

async function epochOf(dir: string): Promise<number | undefined> {
  return (await QueueReader.open(new FileStore(dir), "taquba")).inspection.manifest?.epoch;
}

describe("taquba requeue <job-id>", { timeout: 60_000 }, () => {
  it("reports a job that is not dead without opening the store as writer", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      heartbeatMs: null,
    });
    const pending = await queue.enqueue("mail", "hello");
    // The writer stays open, without a heartbeat: a writing command would fence it.
    const epoch = await epochOf(dir);
    const unknown = await cli("requeue", "nosuch", "--store", dir);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /JOB_NOT_FOUND/);
    assert.match(unknown.stderr, /no dead job with id nosuch: nothing was requeued/);
    const notDead = await cli("requeue", pending, "--store", dir);
    assert.equal(notDead.code, 1);
    assert.match(notDead.stderr, new RegExp(`no dead job with id ${pending} \\(it is pending\\)`));
    assert.equal(await epochOf(dir), epoch, "no writer was opened");
    await queue.enqueue("mail", "not fenced");
    await queue.close();
  });
});
