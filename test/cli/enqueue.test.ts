import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { cli, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-enqueue-");
after(temp.removeAll);

describe("taquba enqueue --dedup-key", { timeout: 60_000 }, () => {
  it("says when a job with the key was already there, in text and with --json", async () => {
    const dir = await temp.make();
    const store = ["--store", dir];
    const first = await cli("enqueue", "demo", "hello", "--dedup-key", "k1", "--create", ...store);
    assert.equal(first.code, 0, first.stderr);
    const id = first.stdout.trim();
    assert.doesNotMatch(first.stderr, /nothing new was stored/);

    const again = await cli("enqueue", "demo", "hello2", "--dedup-key", "k1", ...store);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `${id}\n`);
    assert.match(
      again.stderr,
      new RegExp(
        `taquba enqueue: job ${id} with --dedup-key "k1" was already pending or scheduled: nothing new was stored\\n$`,
      ),
    );
    const json = await cli("enqueue", "demo", "hello3", "--dedup-key", "k1", "--json", ...store);
    assert.deepEqual(JSON.parse(json.stdout), { id, created: false });
    const fresh = await cli("enqueue", "demo", "other", "--dedup-key", "k2", "--json", ...store);
    assert.equal((JSON.parse(fresh.stdout) as { created: boolean }).created, true);

    const reader = await QueueReader.open(new FileStore(dir), "taquba");
    assert.equal(reader.stats("demo").pending, 2);
    assert.equal(Buffer.from(reader.getJob(id)!.payload).toString(), "hello");
  });
});

describe("taquba enqueue --header", { timeout: 60_000 }, () => {
  it("refuses a key given twice, before opening the store, rather than keeping only the last value", async () => {
    const dir = await temp.make();
    const twice = await cli(
      "enqueue",
      "demo",
      "hello",
      "--header",
      "a=1",
      "--header",
      "a=2",
      "--create",
      "--store",
      dir,
    );
    assert.equal(twice.code, 2, twice.stderr);
    assert.equal(
      twice.stderr,
      'taquba enqueue: Expected `--header` to be given once per key, got "a" twice ("a=1" and "a=2")\n',
    );
    assert.equal(twice.stdout, "");
    const once = await cli(
      "enqueue",
      "demo",
      "hello",
      "--header",
      "a=1",
      "--header",
      "b=2=3",
      "--create",
      "--store",
      dir,
    );
    assert.equal(once.code, 0, once.stderr);
    const reader = await QueueReader.open(new FileStore(dir), "taquba");
    assert.deepEqual({ ...reader.getJob(once.stdout.trim())!.headers }, { a: "1", b: "2=3" });
    assert.equal(reader.stats("demo").pending, 1, "the refused enqueue stored nothing");
  });
});
