/**
 * FileStore's writer thread makes the next put's temp file ahead of time,
 * once it has answered a batch, and the next put writes into it instead of
 * creating one while its caller waits. The spare is an empty temp file of
 * this process, removed once the store stops writing.
 */
import assert from "node:assert/strict";
import {
  link,
  lstat,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FileStore } from "../../src/store/file.js";
import { FileWriter } from "../../src/store/file-writer.js";
import { startWriterThread } from "../../src/store/file-writer-lifecycle.js";
import { ObjectExistsError } from "../../src/store/types.js";
import { until } from "../until.js";
import { crashWriter, holdWriter, storeOnThread } from "./writer-thread.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

/** A FileStore whose writer thread is up, keeping its spare for `spareIdleMs` without puts. */
async function storeWithSpare(directory: string, spareIdleMs: number): Promise<FileStore> {
  const writer = new FileWriter({ start: () => startWriterThread(false, spareIdleMs) });
  assert.equal(await writer.started(), true, "the writer thread is up");
  return new FileStore(directory, {}, writer);
}

const temps = (root: string): Promise<string[]> =>
  readdir(join(root, ".tmp")).catch(() => [] as string[]);

/**
 * Waits for the thread's spare: the one temp file, empty, named as this
 * process's. A put's own temp name is removed after its answer, so until then
 * the one temp file may be that one (not empty).
 */
async function spareOf(root: string): Promise<string> {
  const emptyAlone = async (): Promise<boolean> => {
    const names = await temps(root);
    if (names.length !== 1) return false;
    const size = await stat(join(root, ".tmp", names[0]!)).then(
      (info) => info.size,
      () => -1,
    );
    return size === 0;
  };
  await until(emptyAlone, "a spare temp file", 5_000);
  const [name] = await temps(root);
  assert.ok(name!.startsWith(`${process.pid}.`), `a temp file of this process: ${name}`);
  return join(root, ".tmp", name!);
}

describe("FileStore writer thread: the next put's temp file is made ahead", {
  timeout: 30_000,
}, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-spare-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("after a put the thread holds a spare temp file, and the next put's object is that file", async () => {
    const root = join(dir, "ahead");
    const store = await storeWithSpare(root, 60_000);
    await store.put("wal/1", bytes("one"), { ifNoneMatch: "*" });
    const first = await spareOf(root);
    const { ino } = await stat(first);

    // A create: written into the spare, linked to its name, the temp name removed.
    await store.put("wal/2", bytes("two"), { ifNoneMatch: "*" });
    assert.equal((await stat(join(root, "wal%2F", "2"))).ino, ino, "wal/2 is the spare's file");
    assert.equal(text((await store.get("wal/2"))?.body), "two");
    const second = await spareOf(root);
    assert.notEqual(second, first, "a new spare for the put after");

    // An overwrite uses it too (renamed into place).
    const { ino: next } = await stat(second);
    await store.put("state/current", bytes("three"));
    assert.equal((await stat(join(root, "state%2F", "current"))).ino, next);
    assert.equal(text((await store.get("state/current"))?.body), "three");
    await spareOf(root);
  });

  it("a create that finds its key taken removes the spare it wrote, and the next one gets a new spare", async () => {
    const root = join(dir, "taken");
    const store = await storeWithSpare(root, 60_000);
    await store.put("wal/1", bytes("one"), { ifNoneMatch: "*" });
    const spare = await spareOf(root);
    await assert.rejects(
      store.put("wal/1", bytes("again"), { ifNoneMatch: "*" }),
      ObjectExistsError,
    );
    assert.equal(text((await store.get("wal/1"))?.body), "one", "the object is unchanged");
    const fresh = await spareOf(root);
    assert.notEqual(fresh, spare);
  });

  it("the spare is removed once no put comes for the idle time", async () => {
    const root = join(dir, "idle");
    const store = await storeWithSpare(root, 200);
    for (let i = 0; i < 5; i++) await store.put(`wal/${i}`, bytes(`${i}`), { ifNoneMatch: "*" });
    await until(async () => (await temps(root)).length === 0, "no temp file left", 5_000);
    for (let i = 0; i < 5; i++) assert.equal(text((await store.get(`wal/${i}`))?.body), `${i}`);
    // Writing again makes a new one.
    await store.put("wal/5", bytes("5"), { ifNoneMatch: "*" });
    await spareOf(root);
  });
  for (const swap of ["replaced by another file", "replaced by a symlink", "removed"] as const)
    it(`a spare ${swap} after it was made is not used: the put places its own bytes`, async () => {
      const root = join(dir, `swap-${swap.split(" ").at(-1)}`);
      const store = await storeWithSpare(root, 60_000);
      await store.put("wal/1", bytes("one"), { ifNoneMatch: "*" });
      const spare = await spareOf(root);
      const elsewhere = join(root, "elsewhere");
      await writeFile(elsewhere, "not this put's");
      await rm(spare);
      if (swap === "replaced by another file") await writeFile(spare, "not this put's");
      if (swap === "replaced by a symlink") await symlink(elsewhere, spare);

      // A create (linked into place) and an overwrite (renamed), each finding its spare swapped.
      await store.put("wal/2", bytes("two"), { ifNoneMatch: "*" });
      const object = join(root, "wal%2F", "2");
      assert.ok((await lstat(object)).isFile(), "the object is a regular file, not a symlink");
      assert.equal(await readFile(object, "utf8"), "two");
      assert.equal(text((await store.get("wal/2"))?.body), "two");
      if (swap !== "removed") {
        assert.equal(await readFile(spare, "utf8"), "not this put's", "never written into");
        await rm(spare);
      }
      const next = await spareOf(root);
      await rm(next);
      await writeFile(next, "not this put's");
      await store.put("state/current", bytes("three"));
      const current = join(root, "state%2F", "current");
      assert.ok((await lstat(current)).isFile());
      assert.equal(await readFile(current, "utf8"), "three");
      assert.equal(await readFile(next, "utf8"), "not this put's", "never written into");
      assert.equal(await readFile(elsewhere, "utf8"), "not this put's");
    });
  it("a thread that dies mid-batch still removes its creates' temp names and closes their files", async () => {
    const root = join(dir, "dies");
    const { store, writer } = await storeOnThread(root, {}, true);
    await store.put("wal/1", bytes("one"), { ifNoneMatch: "*" });
    await spareOf(root);
    // The next create and a crash reach the thread as one batch: the create is written,
    // fsynced and linked (into the spare), then the thread dies before answering it.
    const release = await holdWriter(writer);
    const put = store.put("wal/2", bytes("two"), { ifNoneMatch: "*" });
    crashWriter(writer);
    release();
    await assert.rejects(put, /crashed/);
    assert.equal(text((await store.get("wal/2"))?.body), "two", "it was placed");
    assert.deepEqual(await temps(root), [], "no temp name left for it");
    if (process.platform !== "linux") return; // open descriptors are listed through Linux's /proc
    const open: string[] = [];
    for (const fd of await readdir("/proc/self/fd"))
      open.push(await readlink(`/proc/self/fd/${fd}`).catch(() => ""));
    assert.deepEqual(
      open.filter((path) => path.startsWith(root)),
      [],
      "no file of the store left open",
    );
  });

  it("two stores sharing a thread: a put never uses the spare made in the other store's folder", async () => {
    const writer = new FileWriter({ start: () => startWriterThread(false, 60_000) });
    assert.equal(await writer.started(), true, "the writer thread is up");
    const left = new FileStore(join(dir, "shared-left"), {}, writer);
    const right = new FileStore(join(dir, "shared-right"), {}, writer);
    await left.put("wal/1", bytes("left"), { ifNoneMatch: "*" });
    const spare = await spareOf(join(dir, "shared-left"));
    // A second name for the spare's file keeps its inode (and what is written to it) in view.
    const witness = join(dir, "shared-left", "witness");
    await link(spare, witness);
    await right.put("wal/1", bytes("right"), { ifNoneMatch: "*" });
    const object = join(dir, "shared-right", "wal%2F", "1");
    assert.notEqual((await stat(object)).ino, (await stat(witness)).ino, "not the other's spare");
    assert.equal((await stat(witness)).size, 0, "the other store's spare was not written");
    assert.equal(text((await right.get("wal/1"))?.body), "right");
    assert.deepEqual(await temps(join(dir, "shared-left")), [], "the other store's spare is gone");
    await spareOf(join(dir, "shared-right"));
    await left.put("wal/2", bytes("left 2"), { ifNoneMatch: "*" });
    assert.equal(text((await left.get("wal/2"))?.body), "left 2");
  });
});
