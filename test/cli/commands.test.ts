import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DEFAULT_DATA_DIR, DEFAULT_STORE_PATH } from "../../src/cli/defaults.js";
import { silentLogger } from "../../src/logger.js";
import { reportProgress } from "../../src/queue/progress.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { listAll } from "../../src/store/types.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-");
after(temp.removeAll);
const storeDir = temp.make;

describe("taquba CLI commands", { timeout: 60_000 }, () => {
  it("stats, queues, dead and inspect read a store without fencing its running writer", async () => {
    const dir = await storeDir();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await queue.enqueue("emails", "hello");
    await queue.enqueue("emails", "world");
    await queue.enqueue("reports", "r1");
    const claim = await queue.claim("reports");
    assert.ok(claim);
    await queue.deadLetter(claim, "bad input");
    const store = ["--store", dir];

    const stats = await cli("stats", ...store);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /^queue\s+pending\s+scheduled\s+claimed\s+done\s+dead$/m);
    assert.match(stats.stdout, /^emails\s+2\s+0\s+0\s+0\s+0$/m);
    assert.match(stats.stdout, /^reports\s+0\s+0\s+0\s+0\s+1$/m);

    const json = await cli("stats", "emails", "--json", ...store);
    assert.deepEqual(JSON.parse(json.stdout), [
      { queue: "emails", pending: 2, claimed: 0, done: 0, dead: 0, scheduled: 0, paused: false },
    ]);

    assert.equal((await cli("queues", ...store)).stdout, "emails\nreports\n");

    const dead = await cli("dead", "reports", ...store);
    assert.equal(dead.code, 0, dead.stderr);
    assert.ok(dead.stdout.startsWith(claim.id), dead.stdout);
    assert.match(dead.stdout, /error "bad input"/);
    assert.match(dead.stdout, /payload "r1"/);
    assert.equal(
      (await cli("dead", "reports", "--after", claim.id, ...store)).stdout,
      'No dead jobs in "reports".\n',
    );
    // `--after` is a plain exclusive bound by id: a removed job's own id is a place too.
    for (const jobId of ["report-3", "report-2"]) {
      await queue.enqueue("reports", jobId, { jobId });
      await queue.deadLetter((await queue.claim("reports"))!, "bad input");
    }
    assert.equal(await queue.removeJob("report-2"), true);
    const after = await cli("dead", "reports", "--after", "report-2", ...store);
    assert.equal(after.code, 0, after.stderr);
    assert.ok(after.stdout.startsWith("report-3 "), after.stdout);
    assert.equal(after.stdout.split("\n").length, 2, after.stdout);
    const all = await cli("dead", "reports", ...store);
    assert.deepEqual(
      all.stdout
        .trimEnd()
        .split("\n")
        .map((line) => line.split(" ")[0]),
      [claim.id, "report-3"],
    );
    // A page of none is refused (exit 2), not answered "No dead jobs": the queue has some.
    for (const args of [["reports"], []]) {
      const none = await cli("dead", ...args, "--limit", "0", ...store);
      assert.equal(none.code, 2, none.stderr);
      assert.equal(none.stdout, "");
      assert.match(none.stderr, /Expected `--limit` to be a positive integer, got "0"$/m);
    }

    // Without a queue: every queue's dead jobs, one page in id order, each line naming its queue.
    const other = await queue.claim("emails");
    await queue.deadLetter(other!, "bad address");
    const every = await cli("dead", ...store);
    assert.equal(every.code, 0, every.stderr);
    const everyLines = every.stdout.trimEnd().split("\n");
    assert.deepEqual(
      everyLines.map((line) => line.split(/\s+/).slice(0, 2).join(" ")),
      [`emails ${other!.id}`, `reports ${claim.id}`, "reports report-3"],
    );
    assert.match(everyLines[0]!, /error "bad address".*payload "hello"/);
    const everyPage = await cli("dead", "--after", other!.id, "--limit", "1", "--json", ...store);
    assert.deepEqual(
      (JSON.parse(everyPage.stdout) as { queue: string; id: string }[]).map((j) => [j.queue, j.id]),
      [["reports", claim.id]],
    );
    await queue.requeueDeadJob(other!.id);

    const inspect = await cli("inspect", ...store);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /^manifest\s+#\d+, writer epoch 1/m);
    assert.match(inspect.stdout, /^jobs\s+2 live in 2 queue\(s\)$/m);

    // The writer was never fenced: it keeps writing, and a new reader sees it.
    await queue.enqueue("emails", "still the writer");
    assert.equal((await queue.stats("emails")).pending, 3);
    await queue.close();
  });

  it("requeue and enqueue open a store whose writer closed as writer, and say so on stderr", async () => {
    const dir = await storeDir();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await queue.enqueue("jobs", "x", { maxAttempts: 1 });
    const claim = await queue.claim("jobs");
    assert.ok(claim);
    await queue.nack(claim, "boom");
    await queue.close();
    const store = ["--store", dir];

    const requeued = await cli("requeue", claim.id, ...store);
    assert.equal(requeued.code, 0, requeued.stderr);
    assert.equal(
      requeued.stderr,
      "taquba requeue: opened the queue store as its writer (epoch 2); writer epoch 1 had closed cleanly\n",
    );
    assert.equal(requeued.stdout, `Requeued ${claim.id}.\n`);
    // --take-over is accepted when nobody is live too.
    const missing = await cli("requeue", claim.id, "--take-over", ...store);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /JOB_NOT_FOUND/);

    const enqueued = await cli(
      "enqueue",
      "jobs",
      "payload text",
      "--priority",
      "100",
      "--header",
      "trace=abc",
      "--header",
      "k=v=w",
      // An ordinary header name, not the object's prototype.
      "--header",
      "__proto__=x",
      ...store,
    );
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const id = enqueued.stdout.trim();

    const reader = await QueueReader.open(new FileStore(dir), "taquba");
    assert.deepEqual(reader.stats("jobs"), {
      queue: "jobs",
      pending: 2,
      claimed: 0,
      done: 0,
      dead: 0,
      scheduled: 0,
      paused: false,
    });
    const job = reader.getJob(id);
    assert.equal(Buffer.from(job!.payload).toString(), "payload text");
    assert.equal(job!.priority, 100);
    assert.deepEqual(job!.headers, JSON.parse('{"trace":"abc","k":"v=w","__proto__":"x"}'));
    assert.equal(reader.getJob(claim.id)?.attempts, 0);
  });

  it("reports bad usage and bad input naming the flag or argument, changing nothing", async () => {
    const dir = await storeDir();
    const badUrl = await cli("stats", "--store", "s3://");
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /Expected `--store` to be a store URL/);
    const twoQueues = await cli("dead", "a", "b", "--store", dir);
    assert.equal(twoQueues.code, 2);
    assert.match(twoQueues.stderr, /Expected <queue>, got 2 argument/);
    const badPriority = await cli(
      "enqueue",
      "q",
      "p",
      "--priority",
      "high",
      "--take-over",
      "--store",
      dir,
    );
    assert.equal(badPriority.code, 2);
    assert.match(badPriority.stderr, /Expected `--priority` to be an integer/);
    const badQueue = await cli("enqueue", "", "p", "--take-over", "--store", dir);
    assert.equal(badQueue.code, 2);
    assert.match(badQueue.stderr, /Expected `<queue>`/);
    // Out-of-range values are named by their flag, not by the API field behind it.
    for (const [flag, value] of [
      ["--max-attempts", "0"],
      ["--priority", "-1"],
      ["--run-at", "+99999999999999d"],
    ]) {
      const bad = await cli("enqueue", "q", "p", `${flag}=${value}`, "--take-over", "--store", dir);
      assert.equal(bad.code, 2, flag);
      assert.match(bad.stderr, new RegExp(`^taquba enqueue: Expected \`${flag}\``), flag);
      assert.doesNotMatch(bad.stderr, /options\./, flag);
    }
    // Checked before the store is opened: nothing was written, not even a writer's manifest.
    assert.equal((await QueueReader.open(new FileStore(dir), "taquba")).inspection.manifest, null);
    assert.deepEqual((await QueueReader.open(new FileStore(dir), "taquba")).listQueues(), []);
  });

  it("read commands on a place without a queue store say so and exit 1", async () => {
    const dir = await storeDir();
    for (const args of [
      ["stats"],
      ["queues"],
      ["dead", "q"],
      ["inspect"],
      ["stats", "--path", "elsewhere"],
      // The dashboard too: not an empty dashboard served for a mistyped place.
      ["dashboard", "--port", "0"],
      ["dashboard", "--port", "0", "--path", "elsewhere"],
    ]) {
      const out = await cli(...args, "--store", dir);
      assert.equal(out.code, 1, args.join(" "));
      assert.match(out.stderr, /no taquba queue store at --path "(taquba|elsewhere)" in --store/);
      assert.equal(out.stdout, "");
    }
    for (const command of [["stats"], ["dashboard", "--port", "0"]]) {
      const missingDir = await cli(...command, "--store", join(dir, "does-not-exist"));
      assert.equal(missingDir.code, 1, missingDir.stderr);
      assert.match(missingDir.stderr, /no taquba queue store/);
    }
    // A store at one path is not found under another.
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await queue.enqueue("q", "x");
    await queue.close();
    assert.equal((await cli("stats", "--store", dir)).code, 0);
    assert.equal((await cli("stats", "--store", dir, "--path", "other")).code, 1);
  });

  it("a queue store whose manifests are lost is reported as damaged, not as missing, by every command", async () => {
    const dir = await storeDir();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await queue.enqueue("q", "x");
    await queue.close();
    const store = new FileStore(dir);
    for (const { key } of await listAll(store, "taquba/manifest/")) await store.delete(key);
    for (const args of [
      ["inspect"],
      ["stats"],
      ["queues"],
      ["dashboard", "--port", "0"],
      ["enqueue", "q", "p"],
      ["enqueue", "q", "p", "--create"],
    ]) {
      const out = await cli(...args, "--store", dir);
      assert.equal(out.code, 1, args.join(" "));
      assert.equal(out.stdout, "", args.join(" "));
      assert.match(
        out.stderr,
        /^taquba \w+: CORRUPTION: corrupt object "taquba\/manifest\/": no manifest under "taquba\/manifest\/", but "taquba\/checkpoint\/\d{20}-\w+" exists: the log's manifests were deleted or lost/,
        args.join(" "),
      );
      assert.match(
        out.stderr,
        /Restore the manifests from a backup, or move the log's objects aside/,
      );
      assert.doesNotMatch(out.stderr, /no taquba queue store/);
    }
    assert.deepEqual(
      (await listAll(store, "taquba/")).filter(({ key }) => key.startsWith("taquba/manifest/")),
      [],
      "nothing opened it as a new store",
    );
  });

  it("writing commands never create a queue store unless --create is given", async () => {
    const dir = await storeDir();
    const refused = await cli("enqueue", "q", "p", "--store", dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no taquba queue store at .*pass --create to create one/);
    const requeue = await cli(
      "requeue",
      "01JDX0000000000000000000AB",
      "--take-over",
      "--store",
      dir,
    );
    // A job of a store that is not there cannot be changed: no --create hint there.
    assert.equal(requeue.code, 1);
    assert.match(requeue.stderr, /no taquba queue store at .*; check --store and --path\n$/);
    assert.deepEqual(await new FileStore(dir).list(""), { objects: [] }, "nothing written");

    const created = await cli("enqueue", "q", "p", "--create", "--store", dir);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(
      created.stderr,
      "taquba enqueue: created a new queue store and opened it as its writer (epoch 1)\n",
    );
    const again = await cli("enqueue", "q", "p2", "--store", dir);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await QueueReader.open(new FileStore(dir), "taquba")).stats("q").pending, 2);
  });

  it("--run-at takes ISO 8601 or +30s/+5m/+2h/+1d and rejects anything else", async () => {
    const dir = await storeDir();
    const seed = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await seed.close();
    const enqueue = (runAt: string) =>
      cli("enqueue", "q", "p", `--run-at=${runAt}`, "--take-over", "--json", "--store", dir);
    const cases: [string, number][] = [
      ["+30s", 30_000],
      ["+5m", 300_000],
      ["+2h", 7_200_000],
      ["+1d", 86_400_000],
    ];
    for (const [flag, delay] of cases) {
      const before = Date.now();
      const out = await enqueue(flag);
      const after = Date.now();
      assert.equal(out.code, 0, out.stderr);
      const { id } = JSON.parse(out.stdout) as { id: string };
      const job = (await QueueReader.open(new FileStore(dir), "taquba")).getJob(id);
      assert.equal(job?.status, "scheduled", flag);
      assert.ok(job.runAt! >= before + delay && job.runAt! <= after + delay, flag);
    }
    const iso = await enqueue("2999-01-02T03:04:05.678Z");
    assert.equal(iso.code, 0, iso.stderr);
    const job = (await QueueReader.open(new FileStore(dir), "taquba")).getJob(
      (JSON.parse(iso.stdout) as { id: string }).id,
    );
    assert.equal(job?.runAt, Date.parse("2999-01-02T03:04:05.678Z"));
    for (const bad of [
      "tomorrow",
      "30s",
      "+30",
      "+5x",
      "-5m",
      "+1.5h",
      "1700000000000",
      "2026-02-30",
      "2026-13-01T00:00:00Z",
      "2026-12-02T25:00:00Z",
      "Dec 2 2026",
      "",
    ]) {
      const out = await enqueue(bad);
      assert.equal(out.code, 2, bad);
      assert.match(out.stderr, /Expected `--run-at` to be an ISO 8601 time/, bad);
    }
    assert.equal(
      (await QueueReader.open(new FileStore(dir), "taquba")).stats("q").scheduled,
      5,
      "the rejected ones wrote nothing",
    );
  });

  it("the default --store and --path are where the README's quickstart opens its queue", async () => {
    const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
    const quickstart = /Queue\.open\(new FileStore\("([^"]+)"\), "([^"]+)"\)/.exec(readme);
    assert.ok(quickstart, "the quickstart opens a FileStore");
    assert.equal(quickstart[1], DEFAULT_DATA_DIR);
    assert.equal(quickstart[2], DEFAULT_STORE_PATH);
  });

  it("job <id> shows a job with its history, result and payload as text or hex", async () => {
    const dir = await storeDir();
    const queue = await Queue.open(new FileStore(dir), "taquba", {
      logger: silentLogger,
      payloadOffloadBytes: 1_000,
      defaultQueueConfig: { retryBackoffBaseMs: 0 },
    });
    const id = await queue.enqueue("emails", "hello ✓", { headers: { tenant: "acme" } });
    await queue.nack((await queue.claim("emails"))!, "SMTP 451");
    await queue.ack((await queue.claim("emails"))!, { result: new Uint8Array([0, 1, 254]) });
    const binary = await queue.enqueue("emails", new Uint8Array([0xde, 0xad, 0x00, 0x0a]));
    const large = await queue.enqueue("emails", "x".repeat(2_000));
    // Text that looks like the hex form must not print as the bytes it spells.
    const looksHex = await queue.enqueue("emails", "hex:dead000a");
    await queue.close();
    const store = ["--store", dir];

    const out = await cli("job", id, ...store);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^status\s+done$/m);
    assert.match(out.stdout, /^payload\s+hello ✓ \(9 bytes\)$/m);
    assert.match(out.stdout, /^result\s+hex:0001fe \(3 bytes\)$/m);
    assert.match(out.stdout, /^header\s+tenant=acme$/m);
    assert.match(out.stdout, /#1 retried .* error "SMTP 451"$/m);
    assert.match(out.stdout, /#2 completed /m);
    assert.doesNotMatch(out.stdout, /"type":\s*"Buffer"|Buffer|\{"0":/);

    const hex = await cli("job", binary, ...store);
    assert.match(hex.stdout, /^payload\s+hex:dead000a \(4 bytes\)$/m);
    assert.match(hex.stdout, /^history\s+none$/m);
    const offloaded = await cli("job", large, ...store);
    assert.match(offloaded.stdout, /^payload\s+x{2000} \(2000 bytes\)$/m);
    const text = JSON.parse((await cli("job", looksHex, "--json", ...store)).stdout) as {
      payload: string;
    };
    assert.equal(text.payload, `hex:${Buffer.from("hex:dead000a").toString("hex")}`);

    const json = JSON.parse((await cli("job", id, "--json", ...store)).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(json.payload, "hello ✓");
    assert.equal(json.result, "hex:0001fe");
    assert.deepEqual(
      (json.history as { outcome: string }[]).map((h) => h.outcome),
      ["retried", "completed"],
    );

    const missing = await cli("job", "01JDZZZZZZZZZZZZZZZZZZZZZZ", ...store);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no job with id/);
    const noId = await cli("job", ...store);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /Expected <job-id>/);
  });

  it("shows names, headers and errors holding control characters quoted, so they cannot act on the terminal", async () => {
    const dir = await storeDir();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    // A queue name, header, error and schedule name of the application's data.
    const evil = "q\x1b[2J\x1b]0;pwned\x07\r\nfake  9  9  9  9  9";
    const id = await queue.enqueue(evil, "x", {
      maxAttempts: 1,
      headers: { "x-\x1b[31m": `red\x1b[0m\u009b2J` },
    });
    await queue.deadLetter((await queue.claim(evil))!, `boom\u009b2J\x7f`);
    await queue.schedule(`tick\x1b[1m`, { everyMs: 60_000, queue: evil, payload: "t\u009b" });
    await queue.close();
    const store = ["--store", dir];
    const quotedName = JSON.stringify(evil);

    for (const args of [["stats"], ["queues"], ["dead"], ["job", id], ["schedules"]]) {
      const out = await cli(...args, ...store);
      assert.equal(out.code, 0, out.stderr);
      // Nothing a terminal acts on but the line ends of the output itself.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
      assert.doesNotMatch(out.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, args[0]);
      if (args[0] !== "schedules") assert.ok(out.stdout.includes(quotedName), out.stdout);
    }
    const stats = (await cli("stats", ...store)).stdout;
    assert.equal(stats.trimEnd().split("\n").length, 2, "no forged row");
    const job = (await cli("job", id, ...store)).stdout;
    assert.match(job, /^header\s+"x-\\u001b\[31m"="red\\u001b\[0m\\u009b2J"$/m);
    assert.match(job, /^last error\s+"boom\\u009b2J\\u007f"$/m);
    assert.match((await cli("schedules", ...store)).stdout, /^"tick\\u001b\[1m" /m);
    // --json keeps the exact strings.
    assert.deepEqual(JSON.parse((await cli("queues", "--json", ...store)).stdout), [evil]);

    // A name that looks quoted is quoted: it cannot pass for another name's quoted form.
    const lookalike = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await lookalike.enqueue('"q\\u001b"', "x");
    await lookalike.enqueue("q\u001b", "x");
    await lookalike.close();
    const names = (await cli("queues", ...store)).stdout.split("\n");
    assert.ok(names.includes(String.raw`"\"q\\u001b\""`), names.join("\n"));
    assert.ok(names.includes(String.raw`"q\u001b"`), names.join("\n"));

    // A payload or result whose text spans lines is quoted by `job`: it cannot forge a field line.
    const forger = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    const forged = await forger.enqueue("f", "x\rstatus       done\nattempts     0/1");
    await forger.ack((await forger.claim("f"))!, { result: "ok\nlast error   none" });
    await forger.close();
    const shownJob = (await cli("job", forged, ...store)).stdout;
    assert.match(shownJob, /^payload\s+"x\\rstatus {7}done\\nattempts {5}0\/1" \(\d+ bytes\)$/m);
    assert.match(shownJob, /^result\s+"ok\\nlast error {3}none" \(\d+ bytes\)$/m);
    assert.doesNotMatch(shownJob, /\r|^attempts {5}0\/1|^last error/m, "no forged line");
  });

  it("echoes names, ids, paths and commands from the command line quoted, so they cannot act on the terminal", async () => {
    const dir = await storeDir();
    const evil = "q\x1b[2J\u202e\r\nfake";
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await queue.enqueue(evil, "x");
    await queue.deadLetter((await queue.claim(evil))!, "boom");
    await queue.close();
    // A queue store at a path of its own, for `inspect --path`.
    await (await Queue.open(new FileStore(dir), "p\x1b[2J", { logger: silentLogger })).close();
    const store = ["--store", dir];
    const quotedName = JSON.stringify(evil).replace("\u202e", "\\u202e");
    // Nothing a terminal acts on but line ends; no format character either.
    const safe = (text: string, what: string) =>
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
      assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/, what);
    const runs: [string[], number, ...string[]][] = [
      [["jobs", evil, "--status", "pending"], 0, `No pending jobs in ${quotedName}.\n`],
      [
        ["jobs", evil, "--status", "pending", "--cursor", "bogus"],
        2,
        `taquba jobs ${quotedName} --status pending`,
      ],
      [["pause", evil], 0, `Paused ${quotedName}.\n`],
      [["resume", evil], 0, `Resumed ${quotedName}.\n`],
      [
        ["requeue", "--all", evil],
        0,
        `Requeueing dead jobs of ${quotedName}`,
        `Requeued 1 dead job(s) of ${quotedName}.\n`,
      ],
      [
        ["remove", "--all", evil, "--status", "pending"],
        0,
        `Removing pending jobs of ${quotedName}`,
        `Removed 1 pending job(s) of ${quotedName}.\n`,
      ],
      [["requeue", "nosuch\x1b[2J"], 1, String.raw`no dead job with id "nosuch\u001b[2J"`],
      [["remove", "nosuch\x1b[2J"], 1, String.raw`job with id "nosuch\u001b[2J"`],
      [["nope\x1b[2J"], 2, String.raw`taquba: unknown command "nope\u001b[2J"`],
      [["inspect", "--path", "p\x1b[2J"], 0, String.raw`under "p\u001b[2J/"`],
      [
        ["dashboard", "--host", "h\x1b[2J", "--port", "0"],
        1,
        String.raw`cannot serve on "h\u001b[2J":0`,
      ],
    ];
    for (const [args, code, ...expected] of runs) {
      const out = await cli(...args, ...store);
      const what = JSON.stringify(args);
      assert.equal(out.code, code, `${what}: ${out.stderr}`);
      safe(out.stdout, what);
      safe(out.stderr, what);
      const text = out.stdout + out.stderr;
      for (const part of expected) assert.ok(text.includes(part), `${what}: ${text}`);
    }

    // The demo names its store and path, and suggests commands whose words are ANSI-C quoted.
    const demoDir = await storeDir();
    const demo = await cli(
      "demo",
      "--dir",
      demoDir,
      "--path",
      "d\x1b[2J'",
      "--jobs",
      "1",
      "--schedule-ms",
      "0",
    );
    assert.equal(demo.code, 0, demo.stderr);
    safe(demo.stdout, "demo");
    safe(demo.stderr, "demo");
    assert.ok(demo.stdout.includes(String.raw`(path "d\u001b[2J'")`), demo.stdout);
    assert.ok(demo.stdout.includes(String.raw`--path $'d\x1b[2J\''`), demo.stdout);
  });

  it("--json keeps text with C1 controls exact but escaped, and `job` shows progress escaped", async () => {
    const dir = await storeDir();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    // Valid UTF-8 text holding C1 controls (NEL, CSI) and DEL: text, not bytes to show as hex.
    const name = "csi\u009b2J";
    const payload = "line1\u0085line2";
    const id = await queue.enqueue(name, payload, {
      maxAttempts: 1,
      headers: { "x-c1": "v\u009b1m" },
    });
    const claim = (await queue.claim(name))!;
    const progress = { step: "a\u009b2Jb", n: 1 };
    reportProgress(queue, claim, progress);
    await queue.deadLetter(claim, "boom\u0085");
    const pending = await queue.enqueue(name, payload);
    await queue.schedule("tick\u009b", { everyMs: 60_000, queue: name, payload });
    await queue.close();
    const store = ["--store", dir];
    const raw = /[\u007f-\u009f]/;

    const outputs: Record<string, string> = {};
    for (const args of [
      ["queues", "--json"],
      ["stats", "--json"],
      ["jobs", name, "--status", "pending", "--json"],
      ["dead", "--json"],
      ["job", id, "--json"],
      ["job", id],
      ["schedules", "--json"],
    ]) {
      const out = await cli(...args, ...store);
      assert.equal(out.code, 0, out.stderr);
      assert.doesNotMatch(out.stdout, raw, args.join(" "));
      outputs[args.join(" ")] = out.stdout;
    }
    assert.deepEqual(JSON.parse(outputs["queues --json"]!), [name]);
    const jobs = JSON.parse(outputs[`jobs ${name} --status pending --json`]!) as {
      jobs: { id: string; payload: string }[];
    };
    assert.deepEqual(
      jobs.jobs.map((j) => [j.id, j.payload]),
      [[pending, payload]],
      "the exact text, not hex",
    );
    const dead = JSON.parse(outputs["dead --json"]!) as { payload: string; lastError: string }[];
    assert.equal(dead[0]!.payload, payload);
    assert.equal(dead[0]!.lastError, "boom\u0085");
    const job = JSON.parse(outputs[`job ${id} --json`]!) as {
      queue: string;
      payload: string;
      progress: unknown;
      headers: Record<string, string>;
    };
    assert.equal(job.queue, name);
    assert.equal(job.payload, payload);
    assert.deepEqual(job.progress, progress);
    assert.deepEqual(job.headers, { "x-c1": "v\u009b1m" });
    assert.match(outputs[`job ${id}`]!, /^progress\s+\{"step":"a\\u009b2Jb","n":1\}$/m);
    // On the terminal, text holding C1 controls prints as its bytes.
    assert.match(
      outputs[`job ${id}`]!,
      new RegExp(`^payload\\s+hex:${Buffer.from(payload).toString("hex")} `, "m"),
    );
    const schedules = JSON.parse(outputs["schedules --json"]!) as {
      name: string;
      payload: string;
    }[];
    assert.deepEqual(
      schedules.map((s) => [s.name, s.payload]),
      [["tick\u009b", payload]],
    );
  });

  it("shows text holding bidirectional or invisible format characters quoted, or as bytes, and exact with --json", async () => {
    const dir = await storeDir();
    const queue = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    // A right-to-left override makes "invoices\u202Efdp.exe" show as "invoicesexe.pdf".
    const name = "invoices\u202efdp.exe";
    const payload = "line1\u2028line2\u200f";
    const id = await queue.enqueue(name, payload, {
      maxAttempts: 1,
      headers: { "x-\u2067": "v\u061c\u2069" },
    });
    await queue.deadLetter((await queue.claim(name))!, "boom\u200e\u202a");
    await queue.schedule("tick\u2066", { everyMs: 60_000, queue: name, payload });
    await queue.close();
    const store = ["--store", dir];
    const raw = /[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
    const outputs: Record<string, string> = {};
    for (const args of [
      ["stats"],
      ["queues"],
      ["dead"],
      ["job", id],
      ["schedules"],
      ["queues", "--json"],
      ["dead", "--json"],
      ["job", id, "--json"],
      ["schedules", "--json"],
    ]) {
      const out = await cli(...args, ...store);
      assert.equal(out.code, 0, out.stderr);
      assert.doesNotMatch(out.stdout, raw, args.join(" "));
      outputs[args.join(" ")] = out.stdout;
    }
    assert.ok(outputs.queues!.split("\n").includes(String.raw`"invoices\u202efdp.exe"`));
    const job = outputs[`job ${id}`]!;
    assert.match(job, /^header\s+"x-\\u2067"="v\\u061c\\u2069"$/m);
    assert.match(job, /^last error\s+"boom\\u200e\\u202a"$/m);
    assert.match(job, new RegExp(`^payload\\s+hex:${Buffer.from(payload).toString("hex")} `, "m"));
    assert.match(outputs.schedules!, /^"tick\\u2066" /m);
    // --json: the exact strings.
    assert.deepEqual(JSON.parse(outputs["queues --json"]!), [name]);
    const exact = JSON.parse(outputs[`job ${id} --json`]!) as {
      queue: string;
      payload: string;
      headers: Record<string, string>;
      lastError: string;
    };
    assert.deepEqual(
      [exact.queue, exact.payload, exact.headers, exact.lastError],
      [name, payload, { "x-\u2067": "v\u061c\u2069" }, "boom\u200e\u202a"],
    );
    const schedules = JSON.parse(outputs["schedules --json"]!) as { name: string }[];
    assert.deepEqual(
      schedules.map((s) => s.name),
      ["tick\u2066"],
    );
  });

  it("--version prints the version of package.json", async () => {
    const manifest = JSON.parse(
      await readFile(new URL("../../../package.json", import.meta.url), "utf8"),
    ) as { version: string };
    for (const flag of ["--version", "-v"]) {
      const out = await cli(flag);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, `${manifest.version}\n`);
    }
  });
});
