import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { runCli } from "../../src/cli/run.js";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { capture, cli, tempDirs } from "./capture.js";

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

/** `taquba dead big --json` on the store in `dir`: its jobs, as printed. */
async function deadAsJson(
  dir: string,
): Promise<{ id: string; payload: string; payloadError?: string }[]> {
  const json = await cli("dead", "big", "--json", "--store", dir);
  assert.equal(json.code, 0, json.stderr);
  return JSON.parse(json.stdout) as { id: string; payload: string; payloadError?: string }[];
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
    assert.match(
      missing.stderr,
      /Expected `--status` to be one of pending, scheduled, claimed, done, dead, got nothing/,
    );
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

  it("dead and jobs list a job whose payload object is damaged, saying so, and the rest as usual", async () => {
    const dir = await temp.make();
    const fileStore = new FileStore(dir);
    const queue = await Queue.open(fileStore, "taquba", {
      logger: silentLogger,
      payloadOffloadBytes: 8,
    });
    const damaged = await queue.enqueue("big", "a payload longer than eight bytes");
    const intact = await queue.enqueue("big", "another payload over eight bytes");
    const key = (await queue.getJob(damaged))!.payloadRef!;
    const object = (await fileStore.get(key))!;
    const flipped = Uint8Array.from(object.body);
    flipped[0]! ^= 0x01;
    await fileStore.put(key, flipped);
    assert.equal((await queue.claim("big"))?.id, intact, "the claim dead-letters the damaged job");
    await queue.flush();
    await queue.close();

    const text = await cli("dead", "big", "--store", dir);
    assert.equal(text.code, 0, text.stderr);
    const unreadable = `payload unreadable ${JSON.stringify(`corrupt object "${key}": payload object checksum mismatch`)}`;
    assert.ok(text.stdout.startsWith(damaged), text.stdout);
    assert.ok(text.stdout.trimEnd().endsWith(unreadable), text.stdout);
    const dead = await deadAsJson(dir);
    assert.deepEqual(
      dead.map((j) => [j.id, j.payload]),
      [[damaged, ""]],
    );
    assert.ok(dead[0]!.payloadError?.includes(key));
    const listed = await cli("jobs", "big", "--status", "dead", "--store", dir);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      new RegExp(`^${damaged} .*payload unreadable "corrupt object`, "m"),
    );
    const claimed = await cli("jobs", "big", "--status", "claimed", "--store", dir);
    assert.match(
      claimed.stdout,
      new RegExp(`^${intact} .*payload "another payload over eight bytes"$`, "m"),
    );
  });

  it("dead and jobs list a dead job whose payload object was deleted outside taquba, saying it is missing", async () => {
    const dir = await temp.make();
    const fileStore = new FileStore(dir);
    const queue = await Queue.open(fileStore, "taquba", {
      logger: silentLogger,
      payloadOffloadBytes: 8,
    });
    const gone = await queue.enqueue("big", "a payload longer than eight bytes");
    const key = (await queue.getJob(gone))!.payloadRef!;
    await queue.deadLetter((await queue.claim("big"))!, "gave up");
    await queue.flush();
    await queue.close();
    await fileStore.delete(key);

    const text = await cli("dead", "big", "--store", dir);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.startsWith(gone), text.stdout);
    assert.ok(
      text.stdout
        .trimEnd()
        .endsWith(
          `payload unreadable ${JSON.stringify(`payload object "${key}" is missing: the job was removed meanwhile, or the object was deleted outside taquba`)}`,
        ),
      text.stdout,
    );
    const dead = await deadAsJson(dir);
    assert.deepEqual(
      dead.map((j) => [j.id, j.payload]),
      [[gone, ""]],
    );
    assert.match(dead[0]!.payloadError ?? "", /is missing/);
    const listed = await cli("jobs", "big", "--status", "dead", "--store", dir);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${gone} .*payload unreadable "payload object`, "m"));
  });

  it("job <id> shows the progress kept with the job's settlement", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      defaultQueueConfig: { keepDoneJobsMs: 60_000 },
    });
    const id = await queue.enqueue("import", "rows.csv");
    const stop = new AbortController();
    await runWorker(
      queue,
      "import",
      async (_job, ctx) => {
        stop.abort();
        ctx.progress({ row: 2, of: 2 });
      },
      { signal: stop.signal, logger: silentLogger },
    );
    await queue.close();
    const out = await cli("job", id, "--store", dir);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^progress\s+\{"row":2,"of":2\}$/m);
    const json = JSON.parse((await cli("job", id, "--json", "--store", dir)).stdout) as {
      progress: unknown;
    };
    assert.deepEqual(json.progress, { row: 2, of: 2 });
  });

  it("job <id> and jobs --status scheduled show a flow parent waiting for its children", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    const flow = await queue.enqueueFlow({
      queue: "report",
      payload: "r",
      children: [
        { queue: "part", payload: "a" },
        { queue: "part", payload: "b" },
      ],
    });
    const one = await queue.enqueueFlow({
      queue: "report",
      payload: "s",
      children: [{ queue: "part", payload: "c" }],
    });
    await queue.close();
    const out = await cli("job", flow.id, "--store", dir);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^status +scheduled$/m);
    assert.match(out.stdout, /^waits for +2 children \(a flow parent runs once each has ended\)$/m);
    assert.doesNotMatch(out.stdout, /^run at/m);
    assert.match((await cli("job", one.id, "--store", dir)).stdout, /^waits for +1 child /m);
    const json = JSON.parse((await cli("job", flow.id, "--json", "--store", dir)).stdout) as {
      waitingChildren: number;
    };
    assert.equal(json.waitingChildren, 2);
    const list = await cli("jobs", "report", "--status", "scheduled", "--store", dir);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${flow.id} .*  waits for 2 children  attempts`, "m"));
    assert.match(list.stdout, new RegExp(`^${one.id} .*  waits for 1 child  attempts`, "m"));
  });

  it("job <id> of a cancelled job shows its tombstone: queue, cancel time and history", async () => {
    const dir = await temp.make();
    // Recent enough that reopening does not sweep the tombstone away.
    const clock = new ManualClock(Math.floor(Date.now() / 1_000) * 1_000 - 60_000);
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger, clock });
    const id = await queue.enqueue("mail", "x");
    clock.advance(1_000);
    const at = new Date(clock.now()).toISOString().replaceAll(".", "\\.");
    assert.equal(await queue.cancel(id), "removed");
    await queue.close();
    const out = await cli("job", id, "--store", dir);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`^id +${id}$`, "m"));
    assert.match(out.stdout, /^queue +mail$/m);
    assert.match(out.stdout, /^status +cancelled$/m);
    assert.match(out.stdout, new RegExp(`^cancelled +${at}$`, "m"));
    assert.match(out.stdout, new RegExp(`^ +#0 cancelled +at ${at}$`, "m"));
    const json = JSON.parse((await cli("job", id, "--json", "--store", dir)).stdout) as {
      status: string;
      queue: string;
      cancelledAt: number;
      history: { outcome: string }[];
    };
    assert.equal(json.status, "cancelled");
    assert.equal(json.queue, "mail");
    assert.equal(json.cancelledAt, clock.now());
    assert.deepEqual(
      json.history.map((a) => a.outcome),
      ["cancelled"],
    );
    const missing = await cli("job", "nope", "--store", dir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no job with id "nope"/);
  });

  it("pause and resume open the store as writer, are durable, and never create a store", async () => {
    const { dir } = await seeded();
    const store = ["--store", dir];
    const paused = await cli("pause", "mail", ...store);
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal((await QueueReader.open(new FileStore(dir), "taquba")).stats("mail").paused, true);
    assert.match((await cli("stats", "mail", ...store)).stdout, /paused/);
    const resumed = await cli("resume", "mail", ...store);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(
      (await QueueReader.open(new FileStore(dir), "taquba")).stats("mail").paused,
      false,
    );
    const elsewhere = await cli("pause", "mail", "--path", "nowhere", ...store);
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stderr, /no taquba queue store/);
  });

  it("requeue --all shows a live bar on a terminal while it works through a large queue", async () => {
    const dir = await temp.make();
    const queue = await Queue.open(new FileStore(dir, { fsync: false }), "taquba", {
      logger: silentLogger,
      defaultQueueConfig: { maxAttempts: 1 },
    });
    await queue.enqueueBatch(
      "big",
      Array.from({ length: 2_500 }, (_, i) => `job ${i}`),
    );
    for (let left = 2_500; left > 0; ) {
      const claims = await queue.claimBatch("big", 500);
      await Promise.all(claims.map((c) => queue.deadLetter(c, "broken")));
      left -= claims.length;
    }
    await queue.close();
    // A fake terminal: the bar is drawn after the first write (up to 256 jobs, as many as fit
    // the slice's time) and at the end (in between at most every 100 ms).
    const tty = Object.assign(capture(), { interactive: true, columns: 100 });
    const args = ["requeue", "--all", "big", "--take-over", "--store", dir];
    assert.equal(await runCli(args, tty), 0, tty.stderr);
    const frames = tty.stdout.split("\r").slice(1);
    assert.ok(frames.length >= 2, tty.stdout);
    assert.ok(frames[0]!.endsWith("\u001b[K"), frames[0]);
    const first = frames[0]!
      .slice(0, -3)
      .match(/^Requeueing dead jobs of "big" {2}(█*)(░*) +(\d+)% {2}(\d+)\/2500$/u);
    assert.ok(first !== null, frames[0]);
    const done = Number(first[4]);
    assert.ok(done >= 1 && done <= 256, `first write of ${done} jobs`);
    assert.equal(first[1]!.length + first[2]!.length, 30);
    assert.equal(first[1]!.length, Math.floor((done / 2_500) * 30));
    assert.equal(Number(first[3]), Math.floor((done / 2_500) * 100));
    assert.equal(
      frames[frames.length - 1],
      `Requeueing dead jobs of "big"  ${"█".repeat(30)}  100%  2500/2500\u001b[K\nRequeued 2500 dead job(s) of "big".\n`,
    );
    const stats = (await QueueReader.open(new FileStore(dir), "taquba")).stats("big");
    assert.equal(stats.dead, 0);
    assert.equal(stats.pending, 2_500);
  });

  it("remove <job-id> and remove --all <queue> --status [--older-than], with progress", async () => {
    const { dir, ids } = await seeded();
    const store = ["--store", dir, "--take-over"];
    const one = await cli("remove", ids[0]!, ...store);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, `Removed ${ids[0]}.\n`);
    const again = await cli("remove", ids[0]!, ...store);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /nothing was removed/);
    const young = await cli(
      "remove",
      "--all",
      "mail",
      "--status",
      "pending",
      "--older-than",
      "1d",
      ...store,
    );
    assert.equal(young.code, 0, young.stderr);
    assert.match(young.stdout, /Removed 0 pending job\(s\) of "mail"\.\n$/);
    const pending = await cli("remove", "--all", "mail", "--status", "pending", ...store);
    assert.equal(
      pending.stdout,
      'Removing pending jobs of "mail"  100%  3/3\nRemoved 3 pending job(s) of "mail".\n',
    );
    const dead = await cli("remove", "--all", "mail", "--status", "dead", "--json", ...store);
    assert.deepEqual(JSON.parse(dead.stdout), { queue: "mail", status: "dead", removed: 1 });
    const stats = (await QueueReader.open(new FileStore(dir), "taquba")).stats("mail");
    assert.equal(stats.pending + stats.dead, 0);
    for (const bad of [
      ["remove", "--all", "mail", ...store],
      ["remove", "--all", "mail", "--status", "claimed", ...store],
      ["remove", "--all", "mail", "--status", "dead", "--older-than", "soon", ...store],
      ["remove", ids[1]!, "--status", "dead", ...store],
    ]) {
      const misuse = await cli(...bad);
      assert.equal(misuse.code, 2, `${bad.join(" ")}: ${misuse.stderr}`);
    }
  });

  it("requeue --all <queue> moves every dead job back, --limit caps it", async () => {
    const { dir } = await seeded();
    const store = ["--store", dir];
    const one = await cli("requeue", "--all", "mail", "--limit", "1", "--take-over", ...store);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(
      one.stdout,
      'Requeueing dead jobs of "mail"  100%  1/1\nRequeued 1 dead job(s) of "mail".\n',
    );
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
