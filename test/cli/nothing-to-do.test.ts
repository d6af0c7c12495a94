/**
 * `requeue --all` and `remove --all` with nothing to change: the read-only
 * look before writing finds no job they would touch, so they open no writer,
 * and a running writer (one without a heartbeat, which a writing command
 * cannot tell from a crashed one) is not fenced for nothing.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-nothing-to-do-");
after(temp.removeAll);

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
});
