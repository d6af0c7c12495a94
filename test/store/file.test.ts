import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InvalidArgumentError, StorageError } from "../../src/errors.js";
import { FileStore } from "../../src/store/file.js";
import { decodeEntryName, encodeDirectory, encodeSegment } from "../../src/store/file-keys.js";
import { listAll, ObjectExistsError } from "../../src/store/types.js";
import { runStoreConformance, UNUSUAL_KEY_SEGMENTS } from "./conformance.js";
import { storeOnThread } from "./writer-thread.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-filestore-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

runStoreConformance("FileStore", async () => {
  const { dir, cleanup } = await tempDir();
  return { store: new FileStore(join(dir, "not", "yet", "created")), cleanup };
});

runStoreConformance("FileStore (writer thread up)", async () => {
  const { dir, cleanup } = await tempDir();
  const { store } = await storeOnThread(join(dir, "not", "yet", "created"));
  return { store, cleanup };
});

runStoreConformance("FileStore (fsync off)", async () => {
  const { dir, cleanup } = await tempDir();
  return { store: new FileStore(dir, { fsync: false }), cleanup };
});

describe("FileStore", { timeout: 60_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  after(() => cleanup());

  it("rejects keys that could escape the directory, naming the key, and writes nothing", async () => {
    const root = join(dir, "escape");
    const store = new FileStore(root);
    const bad = [
      "",
      "../outside",
      "a/../../outside",
      "a/./b",
      "..",
      ".",
      "/etc/passwd",
      "a//b",
      "a/",
      "nul\0byte",
      "back\\slash",
      "lone\ud800surrogate",
    ];
    for (const key of bad) {
      await assert.rejects(store.put(key, bytes("x")), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, `${JSON.stringify(key)}: ${err}`);
        if (key !== "") assert.ok(err.message.includes(JSON.stringify(key).slice(1, 4)));
        return true;
      });
      await assert.rejects(store.get(key), InvalidArgumentError);
      await assert.rejects(store.delete(key), InvalidArgumentError);
    }
    await assert.rejects(store.put("a/../../x", bytes("x")), /a\/\.\.\/\.\.\/x/);
    // Too long for a file name once encoded (255 bytes): rejected before touching the disk.
    await assert.rejects(store.put(`dir/${"é".repeat(50)}/x`, bytes("x")), /at most 255/);
    await assert.rejects(store.put(`dir/${"x".repeat(256)}`, bytes("x")), InvalidArgumentError);
    // Nothing was created: not even the root.
    await assert.rejects(readdir(root), { code: "ENOENT" });
    const longest = `ok/${"x".repeat(255)}`;
    await new FileStore(join(dir, "long")).put(longest, bytes("fits"));
  });

  it("checks and places a key under a directory part seen before as it did the first", async () => {
    // The directory part of a key is checked and encoded once, then remembered: only the last
    // segment of a later key under it is. That one is still refused as a whole key would be.
    const root = join(dir, "known-dirs");
    const store = new FileStore(root);
    await store.put("d/e/first", bytes("first"));
    for (const key of ["d/e/..", "d/e/.", "d/e/", "d/e/nul\0byte", "d/e/back\\slash"])
      await assert.rejects(store.put(key, bytes("x")), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, `${JSON.stringify(key)}: ${err}`);
        assert.ok(err.message.includes(JSON.stringify(key)), err.message);
        return true;
      });
    await assert.rejects(store.put(`d/e/${"x".repeat(256)}`, bytes("x")), /at most 255/);
    for (const key of ["d/e/.hidden", "d/e/a:b", "d/e/second"]) await store.put(key, bytes(key));
    assert.deepEqual((await readdir(join(root, "d%2F", "e%2F"))).sort(), [
      "%2Ehidden",
      "a%3Ab",
      "first",
      "second",
    ]);
    assert.deepEqual(
      (await listAll(store, "d/")).map((o) => o.key),
      ["d/e/.hidden", "d/e/a:b", "d/e/first", "d/e/second"],
    );
    // A key whose directory part only starts like a known one is checked whole.
    await assert.rejects(store.put("d/e/../x", bytes("x")), InvalidArgumentError);
    await assert.rejects(store.put("/d/e/x", bytes("x")), InvalidArgumentError);
  });

  it("stores keys with leading dots and reserved names inside its directory", async () => {
    const root = join(dir, "dots");
    const store = new FileStore(root);
    for (const key of [".tmp", ".tmp/x", "...", "a/.hidden", "a%2F", "a/b"])
      await store.put(key, bytes(key));
    assert.deepEqual(
      (await listAll(store, "")).map((o) => o.key),
      ["...", ".tmp", ".tmp/x", "a%2F", "a/.hidden", "a/b"],
    );
    assert.equal(text((await store.get(".tmp"))?.body), ".tmp");
    // Every stored name stays under the root and never starts with a dot.
    const names = await readdir(root);
    assert.ok(names.includes(".tmp"), "the temp folder exists");
    for (const name of names.filter((n) => n !== ".tmp")) assert.ok(!name.startsWith("."), name);
  });

  it("encodes names reversibly and only canonically", () => {
    for (const segment of [...UNUSUAL_KEY_SEGMENTS, "plain", "a.b", "-"]) {
      const name = encodeSegment(segment);
      assert.ok(!/[/\\:*?"<>|\0]/.test(name) && !name.startsWith("."), name);
      assert.ok(/^[\x20-\x7e]+$/.test(name), `${name} is printable ASCII`);
      assert.equal(decodeEntryName(name), segment);
      assert.equal(decodeEntryName(encodeDirectory(segment)), `${segment}/`);
    }
    assert.equal(encodeSegment("job-01ARZ3NDEK"), "job-01ARZ3NDEK", "common keys stay readable");
    // Names this store would never write are not objects.
    for (const foreign of [".tmp", "%41", "%2f", "%zz", "a%2Fb", "%2F", "%FF", "日本", "a:b"])
      assert.equal(decodeEntryName(foreign), undefined, foreign);
  });

  it("works with fsync off", async () => {
    const store = new FileStore(join(dir, "nosync"), { fsync: false });
    await store.put("a/b", bytes("1"), { ifNoneMatch: "*" });
    await assert.rejects(store.put("a/b", bytes("2"), { ifNoneMatch: "*" }), ObjectExistsError);
    await store.put("a/b", bytes("3"));
    assert.equal(text((await store.get("a/b"))?.body), "3");
    await store.delete("a/b");
    assert.equal(await store.get("a/b"), null);
  });

  it("never lists temp files, in-flight or left over by a crash", async () => {
    const root = join(dir, "temps");
    const store = new FileStore(root);
    await store.put("x", bytes("x"));
    // A crash between writing the temp file and linking it leaves this behind.
    await writeFile(join(root, ".tmp", "crashed-writer.tmp"), "partial");
    // Foreign and non-canonical files are ignored too.
    await writeFile(join(root, ".DS_Store"), "");
    await writeFile(join(root, "%61"), "");
    const writes = Array.from({ length: 20 }, (_, i) => store.put(`k${i}`, bytes("v")));
    const listings = Array.from({ length: 10 }, () => listAll(store, ""));
    await Promise.all(writes);
    for (const listing of await Promise.all(listings))
      for (const { key } of listing) assert.match(key, /^(x|k\d+)$/);
    assert.equal((await listAll(store, "")).length, 21);
    assert.equal(await store.get(".tmp/crashed-writer.tmp"), null);
    const temps = await readdir(join(root, ".tmp"));
    assert.deepEqual(temps, ["crashed-writer.tmp"], "successful writes clean up their temp files");
  });

  it("cleans up the temp file when a create loses", async () => {
    const root = join(dir, "losers");
    const store = new FileStore(root);
    await store.put("k", bytes("winner"), { ifNoneMatch: "*" });
    await assert.rejects(store.put("k", bytes("loser"), { ifNoneMatch: "*" }), ObjectExistsError);
    assert.deepEqual(await readdir(join(root, ".tmp")), []);
  });

  it("wraps unexpected filesystem errors in StorageError with the cause", async () => {
    const root = join(dir, "blocked");
    await writeFile(root, "a file where the directory should be");
    const store = new FileStore(root);
    await assert.rejects(store.put("k", bytes("x")), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.ok(err.cause instanceof Error);
      assert.match(err.message, /put "k"/);
      return true;
    });
    assert.equal(await store.get("k"), null);
  });

  it("rejects a bad list limit", async () => {
    const store = new FileStore(join(dir, "limits"));
    for (const limit of [0, -1, Number.NaN])
      await assert.rejects(
        store.list("", { limit }),
        /^InvalidArgumentError: Expected `options.limit` of list to be a number ≥ 1, got /,
      );
  });

  it("describes itself as a file URL", () => {
    const store = new FileStore(join(dir, "described"));
    assert.match(store.describe(), /^file:\/\/\/.*described$/);
  });
});
