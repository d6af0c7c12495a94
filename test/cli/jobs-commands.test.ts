import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-jobs-");
after(temp.removeAll);

async function seeded(): Promise<{ dir: string; ids: string[] }> {
  const dir = await temp.make();
  const queue = await Queue.open(new FileStore(dir), "taquba", {
    logger: silentLogger,
    defaultQueueConfig: { maxAttempts: 1 },
  });
  const ids = await queue.enqueueBatch("mail", ["a", "b", "c", "d", "e"]);
  for (let i = 0; i < 2; i++) await queue.nack((await queue.claim("mail"))!, `fail ${i}`);
  await queue.close();
  return { dir, ids };
}

describe("taquba jobs, pause, resume, requeue --all", { timeout: 60_000 }, () => {
  it("jobs <queue> --status pages through one status with a cursor", async () => {
    const { dir, ids } = await seeded();
    const store = ["--store", dir];
    const pending = await cli("jobs", "mail", "--status", "pending", "--limit", "2", ...store);
    assert.equal(pending.code, 0, pending.stderr);
    const lines = pending.stdout.trim().split("\n");
    assert.equal(lines.length, 3);
    assert.ok(lines[0]!.startsWith(ids[2]!));
    assert.ok(lines[1]!.startsWith(ids[3]!));
    const cursor = /^next: --cursor (\S+)$/.exec(lines[2]!)?.[1];
    assert.ok(cursor);
    const rest = await cli("jobs", "mail", "--status", "pending", "--cursor", cursor, ...store);
    assert.equal(rest.stdout.trim().split("\n").length, 1);
    assert.ok(rest.stdout.startsWith(ids[4]!));
    const dead = await cli("jobs", "mail", "--status", "dead", "--json", ...store);
    const page = JSON.parse(dead.stdout) as { jobs: { id: string; payload: string }[] };
    assert.deepEqual(
      page.jobs.map((j) => [j.id, j.payload]),
      [
        [ids[0], "a"],
        [ids[1], "b"],
      ],
    );
    const bad = await cli("jobs", "mail", "--status", "finished", ...store);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /Expected `--status` to be one of pending, scheduled, claimed, done, dead/,
    );
    const missing = await cli("jobs", "mail", ...store);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--status/);
  });

  it("jobs shows offloaded payloads read from their objects", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      payloadOffloadBytes: 8,
    });
    const id = await queue.enqueue("big", "a payload longer than eight bytes");
    await queue.close();
    const text = await cli("jobs", "big", "--status", "pending", "--store", dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(`^${id} .*payload "a payload longer than eight bytes"$`, "m"),
    );
    const json = await cli("jobs", "big", "--status", "pending", "--json", "--store", dir);
    const page = JSON.parse(json.stdout) as { jobs: { payload: string; payloadRef?: string }[] };
    assert.equal(page.jobs[0]!.payload, "a payload longer than eight bytes");
    assert.ok(page.jobs[0]!.payloadRef);
  });

  it("pause and resume take the store over, are durable, and never create a store", async () => {
    const { dir } = await seeded();
    const store = ["--store", dir];
    assert.equal((await cli("pause", "mail", ...store)).code, 2, "needs --take-over");
    const paused = await cli("pause", "mail", "--take-over", ...store);
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal((await QueueReader.open(new FileStore(dir), "taquba")).stats("mail").paused, true);
    assert.match((await cli("stats", "mail", ...store)).stdout, /paused/);
    const resumed = await cli("resume", "mail", "--take-over", ...store);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(
      (await QueueReader.open(new FileStore(dir), "taquba")).stats("mail").paused,
      false,
    );
    const elsewhere = await cli("pause", "mail", "--take-over", "--path", "nowhere", ...store);
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stderr, /no taquba queue store/);
  });

  it("requeue --all <queue> moves every dead job back, --limit caps it", async () => {
    const { dir } = await seeded();
    const store = ["--store", dir];
    const one = await cli("requeue", "--all", "mail", "--limit", "1", "--take-over", ...store);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /Requeued 1 dead job\(s\) of "mail"/);
    const rest = await cli("requeue", "--all", "mail", "--take-over", "--json", ...store);
    assert.deepEqual(JSON.parse(rest.stdout), { queue: "mail", requeued: 1 });
    const stats = (await QueueReader.open(new FileStore(dir), "taquba")).stats("mail");
    assert.equal(stats.dead, 0);
    assert.equal(stats.pending, 5);
    const misuse = await cli(
      "requeue",
      "01JDZZZZZZZZZZZZZZZZZZZZZZ",
      "--limit",
      "1",
      "--take-over",
      ...store,
    );
    assert.equal(misuse.code, 2);
  });
});
