import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-pause-");
after(temp.removeAll);

async function epochOf(dir: string): Promise<number | undefined> {
  return (await QueueReader.open(new FileStore(dir), "taquba")).inspection.manifest?.epoch;
}

describe("taquba pause and queues the store has never seen", { timeout: 60_000 }, () => {
  it("pause, resume, requeue --all and remove --all refuse a mistyped queue, writing nothing", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await queue.enqueue("emails", "hello");
    await queue.enqueue("reports", "r1");
    await queue.close();
    const store = ["--store", dir];
    const epoch = await epochOf(dir);

    const typo = await cli("pause", "emials", ...store);
    assert.equal(typo.code, 1, typo.stderr);
    assert.equal(
      typo.stderr,
      'taquba pause: queue "emials" has never held a job in this store: nothing was written. ' +
        'Did you mean "emails"? Its queues: emails, reports. ' +
        "Pass --create to pause a queue before its first job.\n",
    );
    for (const args of [
      ["resume", "emials"],
      ["requeue", "--all", "emials"],
      ["remove", "--all", "emials", "--status", "dead"],
    ]) {
      const out = await cli(...args, ...store);
      assert.equal(out.code, 1, `${args.join(" ")}: ${out.stderr}`);
      assert.match(
        out.stderr,
        /queue "emials" has never held a job in this store: nothing was written\. Did you mean "emails"\?/,
      );
    }
    // The suggestion is the library's own: a different case, a prefix, or a few edits away.
    for (const [given, meant] of [
      ["rep", "reports"],
      ["Emails", "emails"],
    ] as const) {
      const out = await cli("pause", given, ...store);
      assert.equal(out.code, 1, out.stderr);
      assert.match(out.stderr, new RegExp(`Did you mean "${meant}"\\?`));
    }
    // Read-only: no writer was opened, so none was fenced.
    assert.equal(await epochOf(dir), epoch);
    const reader = await QueueReader.open(new FileStore(dir), "taquba");
    assert.equal(reader.stats("emials").paused, false);

    // With --create, a queue is paused before its first job; resume then knows it.
    const early = await cli("pause", "later", "--create", ...store);
    assert.equal(early.code, 0, early.stderr);
    assert.equal(
      (await QueueReader.open(new FileStore(dir), "taquba")).stats("later").paused,
      true,
    );
    const resumed = await cli("resume", "later", ...store);
    assert.equal(resumed.code, 0, resumed.stderr);
    // A known queue needs no flag.
    assert.equal((await cli("pause", "emails", ...store)).code, 0);
  });
});
