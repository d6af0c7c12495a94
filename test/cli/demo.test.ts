import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { DEFAULT_STORE_PATH, DEMO_QUEUE } from "../../src/cli/defaults.js";
import { runCli } from "../../src/cli/run.js";
import { FencedError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import type { QueueStats } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import { capture } from "./capture.js";
import { BUILT_CLI, runBuiltCli, startBuiltCli } from "./child.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("taquba demo", { timeout: 60_000 }, () => {
  it("processes every job, then resumes from the same store on the next run", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-demo-"));
    dirs.push(dir);
    const args = [
      "demo",
      "--dir",
      dir,
      "--jobs",
      "200",
      "--schedule-ms",
      "50",
      "--concurrency",
      "8",
    ];

    const first = capture();
    assert.equal(await runCli(args, first), 0, first.stderr);
    assert.match(first.stdout, /Enqueued 200 jobs/);
    // It says what it does, and the mix it describes adds up to 100 %.
    const mix = /Enqueuing 200 jobs on queue "demo": (.*)\.\n/.exec(first.stdout)?.[1] ?? "";
    const percents = [...mix.matchAll(/(\d+)% /g)].map((m) => Number(m[1]));
    assert.equal(percents.length, 4, mix);
    assert.equal(
      percents.reduce((a, b) => a + b, 0),
      100,
      mix,
    );
    assert.match(first.stdout, /Processing with a worker running 8 jobs at a time/);
    // 5 % poison (dead), everything else done, the flaky 10 % after one failure each.
    assert.match(
      first.stdout,
      /Final: done 190 {2}dead 10 {2}pending 0 {2}scheduled 0 {2}claimed 0/,
    );
    assert.match(first.stdout, /Processed 220 deliveries \(30 failed\)/);

    // Leave unfinished work behind, as an interrupted run would.
    const queue = await Queue.open(new FileStore(dir), DEFAULT_STORE_PATH, {
      logger: silentLogger,
    });
    await queue.enqueueBatch(DEMO_QUEUE, ["{}", "{}", "{}"]);
    await queue.close();

    const second = capture();
    assert.equal(await runCli(args, second), 0, second.stderr);
    assert.match(second.stdout, /done 190 {2}dead 10 {2}pending 3/);
    assert.match(second.stdout, /Resuming: 3 unfinished jobs/);
    assert.match(second.stdout, /Final: done 193 {2}dead 10 {2}pending 0/);
  });

  it("shows a live bar on a terminal and plain lines elsewhere", async () => {
    const args = (dir: string) => ["demo", "--dir", dir, "--jobs", "3000", "--schedule-ms", "0"];
    const plainDir = await mkdtemp(join(tmpdir(), "taquba-demo-"));
    dirs.push(plainDir);
    const plain = capture();
    assert.equal(await runCli(args(plainDir), plain), 0, plain.stderr);
    for (const c of ["\r", "\u001b", "█"]) assert.ok(!plain.stdout.includes(c), JSON.stringify(c));
    assert.match(plain.stdout, /^Enqueuing {2}100% {2}3000\/3000$/m);
    assert.match(
      plain.stdout,
      /^Processing {2}100% {2}3000\/3000 {2}done 2850 {2}dead 150 {2}scheduled 0 {2}failed 450/m,
    );

    const ttyDir = await mkdtemp(join(tmpdir(), "taquba-demo-"));
    dirs.push(ttyDir);
    const tty = Object.assign(capture(), { interactive: true, columns: 120 });
    assert.equal(await runCli(args(ttyDir), tty), 0, tty.stderr);
    // Control characters made visible, to match them.
    const shown = tty.stdout.replaceAll("\r", "<CR>").replaceAll("\u001b", "<ESC>");
    // Each bar is redrawn in place and its line ended once, before the next message.
    assert.match(
      shown,
      /<CR>Enqueuing {2}█{30} {2}100% {2}3000\/3000<ESC>\[K\nEnqueued 3000 jobs/u,
    );
    assert.match(
      shown,
      /<CR>Processing {2}█{30} {2}100% {2}3000\/3000 {2}done 2850 {2}dead 150 [^\n<]*<ESC>\[K\nFinal: /u,
    );
    const processing = tty.stdout.slice(tty.stdout.indexOf("Processing with"));
    assert.equal(
      processing.split("\n").length,
      6,
      "one line each: header, bar, final, processed, commands to look further",
    );
  });

  it("stops at a Ctrl-C while enqueuing, exits 130, and a rerun enqueues exactly the rest", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-demo-"));
    dirs.push(dir);
    const args = ["demo", "--dir", dir, "--jobs", "30000", "--schedule-ms", "0"];
    args.push("--concurrency", "64");
    // Ctrl-C as the first enqueue progress line is printed, right after the first chunk
    // (999 jobs) committed. The handlers run synchronously in the emit, so the run stops
    // at the same place every time.
    const io = capture();
    let sent = false;
    const out = io.out;
    io.out = (text) => {
      out(text);
      if (!sent && /^Enqueuing +\d+%/m.test(text)) {
        sent = true;
        process.emit("SIGINT", "SIGINT");
      }
    };
    assert.equal(await runCli(args, io), 130, io.stdout + io.stderr);
    assert.ok(sent, io.stdout);
    assert.doesNotMatch(io.stdout, /Processing with/);
    assert.match(
      io.stdout,
      /Interrupted: 29001 jobs still to enqueue, 999 unfinished; run "npx taquba demo --store .*" again/,
    );

    // A different --jobs does not change the run being resumed, and it says so.
    const rerun = capture();
    const other = args.map((a) => (a === "30000" ? "10" : a));
    assert.equal(await runCli(other, rerun), 0, rerun.stderr);
    assert.match(
      rerun.stderr,
      /^taquba demo: --jobs 10 ignored: resuming the earlier run of 30000 jobs$/m,
    );
    assert.match(rerun.stdout, /Resuming: 29001 of 30000 jobs still to enqueue, 999 unfinished/);
    // Every job enqueued exactly once across the two runs, and all of them settled.
    assert.match(
      rerun.stdout,
      /Final: done 28500 {2}dead 1500 {2}pending 0 {2}scheduled 0 {2}claimed 0/,
    );
    assert.doesNotMatch(rerun.stdout, /Interrupted/);
  });

  it("hears a real SIGINT and exits 130, saying what is left", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-demo-"));
    dirs.push(dir);
    const args = ["demo", "--dir", dir, "--jobs", "30000", "--schedule-ms", "0"];
    const child = await startBuiltCli(args, /^Enqueuing 30000 jobs/);
    const interrupted = await child.stop("SIGINT");
    assert.equal(interrupted.code, 130, interrupted.stdout + interrupted.stderr);
    // Enqueuing or processing, wherever the signal landed: something was left and is named.
    assert.match(
      interrupted.stdout,
      /Interrupted: \d+ (jobs still to enqueue|unfinished jobs)[^\n]*; run "[^"]+" again/,
    );
  });

  it("takes --store and --path like every command, suggests runnable commands, and --json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-demo-"));
    dirs.push(dir);
    const store = pathToFileURL(dir).href;
    const args = ["demo", "--store", store, "--path", "my demo", "--jobs", "40"];
    args.push("--schedule-ms", "0");
    const text = capture();
    assert.equal(await runCli(args, text), 0, text.stderr);
    assert.match(text.stdout, /Final: done 38 {2}dead 2 {2}pending 0/);
    // The commands it suggests use flags those commands take, and read this store.
    const hint = /^Look at the store: (.*)$/m.exec(text.stdout)?.[1] ?? "";
    const stats = `npx taquba stats --store ${store} --path 'my demo'`;
    assert.ok(hint.startsWith(`${stats}, `), hint);
    const shown = capture();
    assert.equal(await runCli(["stats", "--store", store, "--path", "my demo"], shown), 0);
    assert.match(shown.stdout, /^demo\s+0\s+0\s+0\s+38\s+2$/m);

    const json = capture();
    assert.equal(await runCli([...args, "--json"], json), 0, json.stderr);
    const summary = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { ...summary, seconds: typeof summary.seconds },
      {
        store,
        path: "my demo",
        queue: "demo",
        enqueued: 40,
        processed: 44,
        failed: 6,
        seconds: "number",
        interrupted: false,
        left: { toEnqueue: 0, unfinished: 0 },
        stats: { ...JSON.parse(JSON.stringify(summary.stats)), done: 76, dead: 4, pending: 0 },
      },
    );

    // --dir stays the simple form of --store <dir>; both at once is refused.
    const dirForm = capture();
    assert.equal(
      await runCli(["demo", "--dir", dir, "--path", "my demo", "--jobs", "1"], dirForm),
      0,
    );
    assert.match(
      dirForm.stdout,
      /^Opened .* done 76 {2}dead 4 .*\n[\s\S]*Final: done 77 {2}dead 4/,
    );
    const both = capture();
    assert.equal(await runCli(["demo", "--dir", dir, "--store", store], both), 2);
    // Refused by scheme, before a remote store wants its credentials.
    for (const url of ["memory://", "az://c/p", "s3://b/p", "gs://b/p"]) {
      const remote = capture();
      assert.equal(await runCli(["demo", "--store", url], remote), 2, url);
      assert.match(
        remote.stderr,
        /Expected `--store` to be a directory or a file:\/\/\/ URL \(the demo runs on a local file store\)/,
        url,
      );
    }
  });

  it("refuses a store whose writer is live, as the writing commands do, unless --take-over", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-demo-"));
    dirs.push(dir);
    const app = await Queue.open(new FileStore(dir), DEFAULT_STORE_PATH, {
      logger: silentLogger,
      heartbeatMs: 60_000,
    });
    await app.enqueue("mail", "hello");
    const args = ["demo", "--dir", dir, "--jobs", "20", "--schedule-ms", "0"];
    const refused = capture();
    assert.equal(await runCli(args, refused), 1, refused.stdout);
    assert.match(
      refused.stderr,
      /^taquba demo: writer epoch 1 is live .*nothing was written: pass --take-over/,
    );
    assert.equal(refused.stdout, "");
    // The app's writer was not fenced.
    await app.enqueue("mail", "still the writer");

    const forced = capture();
    assert.equal(await runCli([...args, "--take-over"], forced), 0, forced.stderr);
    assert.match(forced.stderr, /fenced live writer epoch 1 \(--take-over/);
    assert.match(forced.stdout, /Final: done 19 {2}dead 1 {2}pending 0/);
    await assert.rejects(app.enqueue("mail", "after the take-over"), FencedError);
    await app.close().catch(() => {});
  });

  it("reports usage errors with exit code 2", async () => {
    const io = capture();
    assert.equal(await runCli(["demo", "--jobs", "many"], io), 2);
    assert.match(io.stderr, /Expected `--jobs` to be a positive integer/);
    assert.equal(await runCli(["demo", "--bogus"], io), 2);
    const stray = capture();
    assert.equal(await runCli(["demo", "extra"], stray), 2);
    assert.match(stray.stderr, /taquba demo: Expected no arguments, got 1 argument/);
    assert.equal(await runCli(["nope"], io), 2);
    assert.match(io.stderr, /unknown command "nope"/);
    const help = capture();
    assert.equal(await runCli(["--help"], help), 0);
    assert.match(help.stdout, /demo/);
  });
});

describe("taquba demo | head", { timeout: 60_000 }, () => {
  it("stops quietly once its output is no longer read, closing the store for the next run", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-demo-"));
    dirs.push(dir);
    const child = spawn(process.execPath, [BUILT_CLI, "demo", "--dir", dir, "--jobs", "30000"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Like `head -1`: read the first output, then close the pipe.
    await once(child.stdout, "data");
    child.stdout.destroy();
    const [code] = (await once(child, "close")) as [number | null];
    assert.doesNotMatch(stderr, /EPIPE|Error/, stderr);
    assert.equal(code, 0, stderr);
    assert.equal(
      stderr,
      "taquba demo: created a new queue store and opened it as its writer (epoch 1)\n",
    );
    const reader = await QueueReader.open(new FileStore(dir), DEFAULT_STORE_PATH);
    assert.equal(reader.inspection.manifest?.closed, true, "the demo closed the store");

    // The next run opens it without fencing anyone (no --take-over) and finishes the rest.
    const rerun = await runBuiltCli(["demo", "--dir", dir, "--json"]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal(
      rerun.stderr,
      "taquba demo: opened the queue store as its writer (epoch 2); writer epoch 1 had closed cleanly\n",
    );
    const summary = JSON.parse(rerun.stdout) as { left: unknown; stats: QueueStats };
    assert.deepEqual(summary.left, { toEnqueue: 0, unfinished: 0 });
    assert.equal(summary.stats.done + summary.stats.dead, 30_000);
  });
});
