import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
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

describe("taquba remove <job-id>", { timeout: 60_000 }, () => {
  it("reports an unknown or running job without opening the store as writer", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      heartbeatMs: null,
    });
    const id = await queue.enqueue("mail", "hello");
    const running = await queue.claim("mail");
    assert.ok(running);
    // The writer stays open, without a heartbeat: a writing command would fence it.
    const store = ["--store", dir];
    const epoch = await epochOf(dir);

    const unknown = await cli("remove", "nosuch", ...store);
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr,
      "taquba remove: no job nosuch waiting, scheduled, done or dead: nothing was removed (a running job is cancelled instead)\n",
    );
    const claimed = await cli("remove", id, ...store);
    assert.equal(claimed.code, 1);
    assert.match(
      claimed.stderr,
      new RegExp(`^taquba remove: job ${id} is running \\(claimed\\): nothing was removed`),
    );
    assert.equal(await epochOf(dir), epoch, "no writer was opened");
    // The writer was not fenced: it settles its job.
    await queue.ack(running);
    await queue.close();
  });
});
