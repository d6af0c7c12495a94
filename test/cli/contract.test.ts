/**
 * Every command of the CLI contract, run as written there (`npx taquba
 * <command> …`, plus `--store`/`--path`) by the built CLI in a child process,
 * against a store that a `Queue` created and closed; each is checked by its
 * effect, seen through the CLI's own read commands and a `QueueReader`.
 * Writing commands need no `--take-over` when no writer is live.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { tempDirs } from "./capture.js";
import { type ChildResult, runBuiltCli, startBuiltCli } from "./child.js";

const temp = tempDirs("taquba-cli-contract-");
after(temp.removeAll);

const PATH = "app";

/** A store with queue "mail" (one dead job) and "reports" (two dead jobs), created and closed by a Queue. */
async function seeded(): Promise<{ dir: string; dead: string; reportIds: string[] }> {
  const dir = await temp.make();
  const queue = await Queue.open(new FileStore(dir), PATH, {
    logger: silentLogger,
    defaultQueueConfig: { maxAttempts: 1 },
  });
  const dead = await queue.enqueue("mail", "bounced");
  await queue.nack((await queue.claim("mail"))!, "mailbox full");
  const reportIds = await queue.enqueueBatch("reports", ["r1", "r2"]);
  for (const claim of await queue.claimBatch("reports", 2)) await queue.deadLetter(claim, "bad");
  await queue.close();
  return { dir, dead, reportIds };
}

/** Exit 0, and what a writing command says on stderr: one line, that it opened the store as writer. */
function assertWrote(out: ChildResult, line: string): void {
  assert.equal(out.code, 0, `${line}: ${out.stderr}`);
  const command = line.split(" ")[0]!;
  assert.match(
    out.stderr,
    new RegExp(
      `^taquba ${command}: opened the queue store as its writer \\(epoch \\d+\\); writer epoch \\d+ had closed cleanly\\n$`,
    ),
    line,
  );
}

function assertRead(out: ChildResult, line: string): void {
  assert.equal(out.code, 0, `${line}: ${out.stderr}`);
  assert.equal(out.stderr, "", line);
}

async function reader(dir: string): Promise<QueueReader> {
  return QueueReader.open(new FileStore(dir), PATH);
}

describe("the CLI contract, run as written by the built CLI", { timeout: 120_000 }, () => {
  it("enqueue, stats, queues, dead, jobs, job, requeue, requeue --all, pause, resume, inspect", async () => {
    const { dir, dead, reportIds } = await seeded();
    const where = ["--store", dir, "--path", PATH];
    /** `npx taquba <line>` with the store flags after it. */
    const taquba = (line: string): Promise<ChildResult> =>
      runBuiltCli([...line.split(" "), ...where]);

    // enqueue <queue> <payload>: prints the id; stats then shows the job.
    const enqueued = await taquba("enqueue mail hello");
    assertWrote(enqueued, "enqueue mail hello");
    const id = enqueued.stdout.trim();
    assert.match(id, /^[0-9A-Z]{26}$/);
    assert.equal((await reader(dir)).getJob(id)?.status, "pending");

    const stats = await taquba("stats");
    assertRead(stats, "stats");
    assert.match(stats.stdout, /^mail\s+1\s+0\s+0\s+0\s+1$/m);
    assert.match(stats.stdout, /^reports\s+0\s+0\s+0\s+0\s+2$/m);

    const queues = await taquba("queues");
    assertRead(queues, "queues");
    assert.equal(queues.stdout, "mail\nreports\n");

    const deadList = await taquba("dead mail");
    assertRead(deadList, "dead mail");
    assert.match(
      deadList.stdout,
      new RegExp(`^${dead}  .*error "mailbox full"  payload "bounced"$`, "m"),
    );

    const pending = await taquba("jobs mail --status pending");
    assertRead(pending, "jobs mail --status pending");
    assert.match(pending.stdout, new RegExp(`^${id}  .*payload "hello"$`, "m"));
    assert.equal(pending.stdout.trimEnd().split("\n").length, 1);

    const job = await taquba(`job ${id}`);
    assertRead(job, `job ${id}`);
    assert.match(job.stdout, /^status\s+pending$/m);
    assert.match(job.stdout, /^payload\s+hello \(5 bytes\)$/m);

    // requeue <id>: the dead job is pending again.
    const requeued = await taquba(`requeue ${dead}`);
    assertWrote(requeued, `requeue ${dead}`);
    assert.match((await taquba(`job ${dead}`)).stdout, /^status\s+pending$/m);
    assert.match((await taquba("stats mail")).stdout, /^mail\s+2\s+0\s+0\s+0\s+0$/m);

    // requeue --all <queue>: every dead job of the queue is pending again.
    const all = await taquba("requeue --all reports");
    assertWrote(all, "requeue --all reports");
    assert.match(all.stdout, /Requeued 2 dead job\(s\) of "reports"\.\n$/);
    const afterAll = await taquba("jobs reports --status pending");
    for (const reportId of reportIds)
      assert.match(afterAll.stdout, new RegExp(`^${reportId} `, "m"));
    assert.equal(
      (await taquba("jobs reports --status dead")).stdout,
      'No dead jobs in "reports".\n',
    );

    // pause <queue>: stats shows it paused, durably; resume <queue> undoes it.
    assertWrote(await taquba("pause mail"), "pause mail");
    assert.match((await taquba("stats")).stdout, /^mail \(paused\)\s+2\s/m);
    assert.equal((await reader(dir)).stats("mail").paused, true);
    assertWrote(await taquba("resume mail"), "resume mail");
    assert.match((await taquba("stats")).stdout, /^mail\s+2\s/m);
    assert.equal((await reader(dir)).stats("mail").paused, false);

    const inspect = await taquba("inspect");
    assertRead(inspect, "inspect");
    assert.match(inspect.stdout, /^manifest\s+#\d+, writer epoch 6, .* by a clean close$/m);
    assert.match(inspect.stdout, /^writer\s+epoch 6, closed cleanly$/m);
    assert.match(inspect.stdout, /^jobs\s+4 live in 2 queue\(s\)$/m);

    // The CLI's writes are the store's state for the next Queue too.
    const queue = await Queue.open(new FileStore(dir), PATH, { logger: silentLogger });
    assert.equal((await queue.stats("mail")).pending, 2);
    assert.equal((await queue.stats("reports")).pending, 2);
    assert.equal((await queue.claim("mail"))?.id, dead, "the older job first");
    await queue.close();
  });

  it("a path with no store: read and write commands say so and exit 1, writing nothing", async () => {
    const { dir } = await seeded();
    for (const line of ["stats", "enqueue mail hello", "requeue --all mail", "pause mail"]) {
      const out = await runBuiltCli([...line.split(" "), "--store", dir, "--path", "elsewhere"]);
      // Printing the error and then hanging until the deadline's kill is a failure too.
      assert.equal(out.killed, null, line);
      assert.equal(out.code, 1, line);
      assert.match(
        out.stderr,
        /^taquba \w+: no taquba queue store at --path "elsewhere"[^\n]*\n$/,
        line,
      );
      assert.equal(out.stdout, "", line);
    }
    const objects = (await new FileStore(dir).list("elsewhere/")).objects;
    assert.deepEqual(objects, [], "nothing created");
  });

  it("--version prints the package version", async () => {
    const manifest = JSON.parse(
      await readFile(new URL("../../../package.json", import.meta.url), "utf8"),
    ) as { version: string };
    const out = await runBuiltCli(["--version"]);
    assertRead(out, "--version");
    assert.equal(out.stdout, `${manifest.version}\n`);
  });

  it("dashboard --store <url> serves the store read-only until stopped", async () => {
    const { dir } = await seeded();
    const url = new URL(`file://${dir}`).href;
    const server = await startBuiltCli([
      "dashboard",
      "--store",
      url,
      "--path",
      PATH,
      "--port",
      "0",
    ]);
    let stopped: ChildResult | undefined;
    try {
      const address = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(server.firstLine)?.[1];
      assert.ok(address, server.firstLine);
      const page = await fetch(address);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /mail/);
      assert.match(html, /reports/);
    } finally {
      stopped = await server.stop();
    }
    assert.equal(stopped.code, 0, stopped.stderr);
    const info = (await reader(dir)).inspection.manifest;
    assert.equal(info?.epoch, 1, "the dashboard did not fence the store");
    assert.equal(info?.closed, true);
  });

  it("demo runs a producer and a worker on a local file store", async () => {
    const cwd = await temp.make();
    const out = await runBuiltCli(["demo", "--jobs", "40", "--schedule-ms", "20"], cwd);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Final: done 38 {2}dead 2 {2}pending 0/);
    const stats = await runBuiltCli(["stats", "demo"], cwd);
    assertRead(stats, "stats demo");
    assert.match(stats.stdout, /^demo\s+0\s+0\s+0\s+38\s+2$/m);
  });
});
