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
        "Pass --new-queue to pause a queue before its first job.\n",
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
    // stats reads only, but a typo there would print zeros for a queue that is not there.
    const stats = await cli("stats", "emails", "emials", ...store);
    assert.equal(stats.code, 1, stats.stderr);
    assert.equal(stats.stdout, "");
    assert.equal(
      stats.stderr,
      'taquba stats: queue "emials" has never held a job in this store. ' +
        'Did you mean "emails"? Its queues: emails, reports.\n',
    );
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

    // --create only creates a store: it does not let a queue the store never saw through.
    const created = await cli("pause", "later", "--create", ...store);
    assert.equal(created.code, 1, created.stderr);
    assert.match(created.stderr, /Pass --new-queue to pause a queue before its first job/);
    // With --new-queue, a queue is paused before its first job; resume then knows it.
    const early = await cli("pause", "later", "--new-queue", ...store);
    assert.equal(early.code, 0, early.stderr);
    assert.equal(
      (await QueueReader.open(new FileStore(dir), "taquba")).stats("later").paused,
      true,
    );
    // queues lists it, and stats marks it paused, as for a paused queue that held jobs.
    assert.equal((await cli("queues", ...store)).stdout, "emails\nlater\nreports\n");
    assert.deepEqual(JSON.parse((await cli("queues", "--json", ...store)).stdout), [
      "emails",
      "later",
      "reports",
    ]);
    assert.match((await cli("stats", ...store)).stdout, /^later \(paused\)\s+0\s+0\s+0\s+0\s+0$/m);
    const resumed = await cli("resume", "later", ...store);
    assert.equal(resumed.code, 0, resumed.stderr);
    // A known queue needs no flag.
    assert.equal((await cli("pause", "emails", ...store)).code, 0);
    // Resumed before its first job, it is a queue the store never saw again.
    assert.equal((await cli("queues", ...store)).stdout, "emails\nreports\n");
    assert.match((await cli("resume", "later", ...store)).stderr, /has never held a job/);
    // resume has no such flag.
    assert.equal((await cli("resume", "later", "--new-queue", ...store)).code, 2);
  });

  it("pause --new-queue does not create a store: a mistyped --path is still reported", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await queue.enqueue("emails", "hello");
    await queue.close();
    const typo = await cli("pause", "q", "--new-queue", "--store", dir, "--path", "typoo");
    assert.equal(typo.code, 1, typo.stderr);
    assert.match(typo.stderr, /no taquba queue store at --path "typoo"/);
    // --create alone on a new store: the queue is new there too, so it is refused (and no
    // store is created); both flags create the store and pause the queue.
    const fresh = ["--store", await temp.make()];
    const refused = await cli("pause", "q", "--create", ...fresh);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /It has no queues yet\. Pass --new-queue/);
    assert.equal(await epochOf(fresh[1]!), undefined, "no store was created");
    const both = await cli("pause", "q", "--create", "--new-queue", ...fresh);
    assert.equal(both.code, 0, both.stderr);
    assert.equal(
      (await QueueReader.open(new FileStore(fresh[1]!), "taquba")).stats("q").paused,
      true,
    );
  });
});
