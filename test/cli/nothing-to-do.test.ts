/**
 * `requeue --all` and `remove --all` with nothing to change: the read-only
 * look before writing finds no job they would touch, so they open no writer,
 * and a running writer (one without a heartbeat, which a writing command
 * cannot tell from a crashed one) is not fenced for nothing. Claims the last
 * writer left do count: opening a writer settles them (pending again, or dead
 * once out of attempts), so the command has work to do.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-nothing-to-do-");
after(temp.removeAll);

/** `remove --all emails --status pending --older-than 1d` on `dir` removes exactly one job. */
async function removesOneOldPendingJob(dir: string): Promise<void> {
  const out = await cli(
    "remove",
    "--all",
    "emails",
    "--status",
    "pending",
    "--older-than",
    "1d",
    "--store",
    dir,
  );
  assert.equal(out.code, 0, out.stderr);
  assert.ok(out.stdout.endsWith('Removed 1 pending job(s) of "emails".\n'), out.stdout);
}

describe("bulk commands with nothing to change", { timeout: 60_000 }, () => {
  it("requeue --all and remove --all open no writer: a running writer goes on", async () => {
    const dir = await temp.make();
    const app = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await app.enqueue("emails", "hello");
    await app.flush();
    const store = ["--store", dir];
    const runs = [
      [["requeue", "--all", "emails"], 'Requeued 0 dead job(s) of "emails".\n'],
      [["requeue", "--all", "emails", "--json"], '{"queue":"emails","requeued":0}\n'],
      [["remove", "--all", "emails", "--status", "dead"], 'Removed 0 dead job(s) of "emails".\n'],
      [
        ["remove", "--all", "emails", "--status", "scheduled", "--older-than", "1d", "--json"],
        '{"queue":"emails","status":"scheduled","removed":0}\n',
      ],
    ] as const;
    for (const [args, stdout] of runs) {
      const out = await cli(...args, ...store);
      assert.equal(out.code, 0, `${args.join(" ")}: ${out.stderr}`);
      assert.ok(out.stdout.endsWith(stdout), `${args.join(" ")}: ${out.stdout}`);
      assert.equal(out.stderr, "", `${args.join(" ")}: no writer opened`);
    }
    // Not fenced: the application's writes go on.
    await app.enqueue("emails", "world");
    assert.equal((await app.stats("emails")).pending, 2);
    await app.close();
  });

  it("pause, resume and remove --all --older-than with nothing to change open no writer", async () => {
    const dir = await temp.make();
    const app = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await app.enqueue("emails", "hello");
    await app.enqueue("held", "later");
    await app.pauseQueue("held");
    await app.flush();
    const store = ["--store", dir];
    const runs = [
      [["pause", "held"], '"held" was paused already.\n'],
      [["pause", "held", "--json"], '{"queue":"held","paused":true}\n'],
      [["resume", "emails"], '"emails" was not paused.\n'],
      [["resume", "emails", "--json"], '{"queue":"emails","paused":false}\n'],
      [
        ["remove", "--all", "emails", "--status", "pending", "--older-than", "1d"],
        'Removed 0 pending job(s) of "emails".\n',
      ],
    ] as const;
    for (const [args, stdout] of runs) {
      const out = await cli(...args, ...store);
      assert.equal(out.code, 0, `${args.join(" ")}: ${out.stderr}`);
      assert.ok(out.stdout.endsWith(stdout), `${args.join(" ")}: ${out.stdout}`);
      assert.equal(out.stderr, "", `${args.join(" ")}: no writer opened`);
    }
    // Not fenced: the application's writes go on.
    await app.enqueue("emails", "world");
    assert.deepEqual(
      [(await app.stats("emails")).pending, (await app.stats("held")).paused],
      [2, true],
    );
    await app.close();
    // A job old enough is removed (the check looks at the times, not only at the status).
    const old = await temp.make();
    const clock = { now: () => Date.now() - 2 * 86_400_000 };
    const earlier = await Queue.open(new FileStore(old), "taquba", { logger: silentLogger, clock });
    await earlier.enqueue("emails", "old");
    await earlier.close();
    const newer = await Queue.open(new FileStore(old), "taquba", { logger: silentLogger });
    await newer.enqueue("emails", "new");
    await newer.close();
    await removesOneOldPendingJob(old);
    // The old job listed after the first page of 1,000 (claimed last: a higher priority number).
    const later = await temp.make();
    const before = await Queue.open(new FileStore(later), "taquba", {
      logger: silentLogger,
      clock,
    });
    await before.enqueue("emails", "old", { priority: 10_000 });
    await before.close();
    const after1000 = await Queue.open(new FileStore(later), "taquba", { logger: silentLogger });
    for (let i = 0; i < 1_001; i++) await after1000.enqueue("emails", `new${i}`, { priority: 0 });
    await after1000.close();
    const firstPage = (await QueueReader.open(new FileStore(later), "taquba")).listJobs(
      "emails",
      "pending",
      { limit: 1_000 },
    );
    assert.ok(firstPage.jobs.every((job) => job.priority === 0) && firstPage.nextCursor);
    await removesOneOldPendingJob(later);
  });

  it("claims left by a writer that is gone are settled, then requeued or removed", async () => {
    const statsOf = async (dir: string) =>
      (await QueueReader.open(new FileStore(dir), "taquba")).stats("q");
    // Closed cleanly with 3 jobs claimed, out of attempts: opening a writer makes them dead.
    const closed = await temp.make();
    const first = await Queue.open(new FileStore(closed), "taquba", { logger: silentLogger });
    for (let i = 0; i < 3; i++) await first.enqueue("q", `job${i}`, { maxAttempts: 1 });
    for (let i = 0; i < 3; i++) assert.ok(await first.claim("q"));
    await first.close();
    assert.equal((await statsOf(closed)).claimed, 3);
    const requeued = await cli("requeue", "--all", "q", "--store", closed);
    assert.equal(requeued.code, 0, requeued.stderr);
    assert.ok(requeued.stdout.endsWith('Requeued 3 dead job(s) of "q".\n'), requeued.stdout);
    const settled = await statsOf(closed);
    assert.deepEqual([settled.pending, settled.claimed], [3, 0]);

    // Crashed with 3 jobs claimed, attempts left: opening a writer makes them pending again.
    const crashed = await temp.make();
    const second = await Queue.open(new FileStore(crashed), "taquba", { logger: silentLogger });
    for (let i = 0; i < 3; i++) await second.enqueue("q", `job${i}`, { maxAttempts: 3 });
    for (let i = 0; i < 3; i++) assert.ok(await second.claim("q"));
    await second.flush();
    assert.equal((await statsOf(crashed)).claimed, 3);
    const removed = await cli("remove", "--all", "q", "--status", "pending", "--store", crashed);
    assert.equal(removed.code, 0, removed.stderr);
    assert.ok(removed.stdout.endsWith('Removed 3 pending job(s) of "q".\n'), removed.stdout);
    const left = await statsOf(crashed);
    assert.deepEqual([left.pending, left.claimed], [0, 0]);
    await second.close().catch(() => {});
  });
});
