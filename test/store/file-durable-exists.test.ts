/**
 * A create-if-absent that finds its key taken reports an object that is
 * durable. The WAL resolves an ambiguous create by creating again and reading
 * the slot back: "exists, with our write token" counts as written. After a
 * create whose directory fsync failed (or timed out), the link is in place but
 * not yet durable, so the create that finds it must fsync the directory
 * before it answers, or a write could be acknowledged that a power cut undoes.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { StorageError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { FileStore } from "../../src/store/file.js";
import { encodeDirectory } from "../../src/store/file-keys.js";
import { THREAD_MAX_BODY } from "../../src/store/file-writer.js";
import { ObjectExistsError } from "../../src/store/types.js";
import { rec, testOptions, texts } from "../log/helpers.js";
import { until } from "../until.js";
import { DirectorySyncs } from "./directory-syncs.js";
import {
  crashWriter,
  failWriterDirSync,
  holdWriter,
  postedPuts,
  storeOnPool,
  storeOnThread,
} from "./writer-thread.js";

const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

/**
 * After a create of "wal/b" (`body`) in `store` whose directory fsync failed,
 * beside "wal/a" created before: a get and a head fail while the directory's
 * fsync fails, the next read fsyncs it once and answers, and "wal/a" is read
 * without one.
 */
async function assertReadsSyncFirst(
  store: FileStore,
  syncs: DirectorySyncs,
  body: Uint8Array,
): Promise<void> {
  // The read-back of an ambiguous create must not report an object that may not survive.
  syncs.failures = 1;
  await assert.rejects(store.get("wal/b"), (err) => {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.permanent, false);
    return true;
  });
  syncs.failures = 1;
  await assert.rejects(store.head("wal/b"), StorageError);
  const before = syncs.succeeded;
  assert.deepEqual((await store.get("wal/b"))?.body, body);
  assert.equal(syncs.succeeded, before + 1, "fsynced before it was read");
  assert.equal((await store.head("wal/b"))?.size, 2);
  assert.equal(syncs.succeeded, before + 1, "once");
  // An untouched object is read without an fsync.
  assert.deepEqual((await store.get("wal/a"))?.body, new Uint8Array([0]));
  assert.equal(syncs.succeeded, before + 1);
}

/**
 * Appends "first" to log "q" in `store` (whose directory is `root`), then,
 * with `failSyncOnce(walDirectory)` making the WAL directory's next fsync
 * fail, "second": asserts it was acknowledged only after a later fsync of
 * that directory succeeded (and `afterAppend`), and that a log opened on
 * `reopen()` holds both.
 */
async function assertAppendDurable(
  store: FileStore,
  root: string,
  syncs: DirectorySyncs,
  how: { failSyncOnce(wal: string): void; afterAppend?(): void; reopen(): FileStore },
): Promise<void> {
  const { log } = await openLog(store, "q", testOptions({ flushIntervalMs: 0 }));
  await log.append(rec("first"));
  const wal = join(root, encodeDirectory("q"), encodeDirectory("wal"));
  await syncs.watch(wal);
  how.failSyncOnce(wal);
  let syncedAfterFailure = -1;
  const appended = log.append(rec("second")).then(() => {
    syncedAfterFailure = syncs.succeeded;
  });
  const before = syncs.succeeded;
  await appended;
  how.afterAppend?.();
  assert.ok(
    syncedAfterFailure > before,
    "acknowledged only after a later fsync of the WAL directory succeeded",
  );
  await log.close();
  const reopened = await openLog(how.reopen(), "q", testOptions());
  assert.deepEqual(texts(reopened.records), ["first", "second"]);
  await reopened.log.close();
}

/**
 * Keeps every thread of libuv's pool busy opening a FIFO that nobody writes,
 * so the pool's calls queue; the returned function lets them go.
 */
async function occupyThreadPool(folder: string): Promise<() => Promise<void>> {
  await mkdir(folder, { recursive: true });
  const size = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: size }, (_, i) => join(folder, `fifo-${i}`));
  for (const fifo of fifos) execFileSync("mkfifo", [fifo]);
  const readers = fifos.map((fifo) => open(fifo, "r"));
  return async () => {
    // A writer opening each FIFO completes its reader's open.
    for (const fifo of fifos) closeSync(openSync(fifo, "w"));
    for (const reader of readers) await (await reader).close();
    await rm(folder, { recursive: true, force: true });
  };
}

describe("FileStore: a key found taken is durable", { timeout: 30_000 }, () => {
  let dir: string;
  let syncs: DirectorySyncs;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-exists-"));
    syncs = await DirectorySyncs.install();
  });
  after(async () => {
    syncs.uninstall();
    await rm(dir, { recursive: true, force: true });
  });

  it("a create that finds the object a failed create linked fsyncs its directory before answering", async () => {
    const { store, writer } = await storeOnThread(join(dir, "store"), {}, true);
    await store.put("wal/a", new Uint8Array([0]), { ifNoneMatch: "*" });
    const wal = join(dir, "store", encodeDirectory("wal"));
    await syncs.watch(wal);
    failWriterDirSync(writer, wal);
    const body = new Uint8Array([1, 2, 3]);
    await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.match(err.message, /EIO: i\/o error, fsync/);
      assert.equal(err.permanent, false, "an I/O error is retried");
      return true;
    });
    // The link took effect, but nothing made its directory entry durable.
    let before = syncs.succeeded;
    await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), ObjectExistsError);
    assert.ok(
      syncs.succeeded > before,
      "the directory was fsynced before the create reported the object as existing",
    );
    // Made durable once: later answers need no fsync.
    before = syncs.succeeded;
    await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), ObjectExistsError);
    assert.deepEqual((await store.get("wal/b"))?.body, body);
    assert.equal(syncs.succeeded, before);
  });

  it("a get or head of an object whose directory fsync failed fsyncs it first, and fails if that fails", async () => {
    const { store, writer } = await storeOnThread(join(dir, "reads"), {}, true);
    await store.put("wal/a", new Uint8Array([0]), { ifNoneMatch: "*" });
    const wal = join(dir, "reads", encodeDirectory("wal"));
    await syncs.watch(wal);
    failWriterDirSync(writer, wal);
    const body = new Uint8Array([4, 5]);
    await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), /EIO: i\/o error, fsync/);
    await assertReadsSyncFirst(store, syncs, body);
  });

  it("a WAL append acknowledged after its directory fsync failed once is durable", async () => {
    const root = join(dir, "log");
    const { store, writer } = await storeOnThread(root, {}, true);
    // Appends fsync the WAL directory on the writer thread; this side fsyncs it only to make
    // a create found taken durable, which the failed fsync made necessary.
    await assertAppendDurable(store, root, syncs, {
      failSyncOnce: (wal) => failWriterDirSync(writer, wal),
      reopen: () => new FileStore(root),
    });
  });

  it("a read while a put of its key is on the writer thread fsyncs after the put's failed directory fsync, not before", async () => {
    const root = join(dir, "settle");
    const { store, writer } = await storeOnThread(root, {}, true);
    await store.put("wal/a", new Uint8Array([0]), { ifNoneMatch: "*" });
    const wal = join(root, encodeDirectory("wal"));
    await syncs.watch(wal);
    // The thread is held before the put's link, as a slow write ahead of it would.
    const release = await holdWriter(writer);
    failWriterDirSync(writer, wal);
    const body = new Uint8Array([7, 7, 7]);
    let syncedAtFailure = -1;
    const put = store.put("wal/b", body, { ifNoneMatch: "*" }).then(
      () => assert.fail("the directory fsync after the link fails"),
      (err: unknown) => {
        syncedAtFailure = syncs.succeeded;
        assert.match(String(err), /EIO: i\/o error, fsync/);
      },
    );
    await new Promise((resolve) => setImmediate(resolve));
    // A read issued while the put is held on the thread must not count a directory fsync
    // made before the link as making the object durable. (Without the fix it answers at
    // once; the pause only gives it the time to.)
    const head = store.head("wal/b");
    await Promise.race([head, delay(100)]);
    release();
    await put;
    assert.equal((await head)?.size, 3, "the read waited for the put");
    assert.deepEqual((await store.get("wal/b"))?.body, body);
    assert.ok(
      syncs.succeeded > syncedAtFailure,
      "the directory was fsynced after the link's own fsync failed, before the object was reported",
    );
    await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), ObjectExistsError);
  });

  it("a delete's answer does not count a put of the same key posted after it as durable", async () => {
    const root = join(dir, "delete-race");
    const { store, writer } = await storeOnThread(root, {}, true);
    await store.put("wal/c", new Uint8Array([0]));
    const wal = join(root, encodeDirectory("wal"));
    await syncs.watch(wal);
    // The directory fsyncs after the unlink and after the new file's rename both fail (in one
    // batch of the thread or in two). The put is posted before the delete's answer is back.
    failWriterDirSync(writer, wal, 2);
    const deleted = store.delete("wal/c").catch((err: unknown) => err);
    const put = store.put("wal/c", new Uint8Array([1, 2, 3])).catch((err: unknown) => err);
    assert.match(String(await deleted), /EIO/);
    assert.match(String(await put), /EIO/);
    const before = syncs.succeeded;
    assert.deepEqual((await store.get("wal/c"))?.body, new Uint8Array([1, 2, 3]));
    assert.equal(syncs.succeeded, before + 1, "the get fsynced the put's directory first");
  });
  it("a create whose writer thread crashed after its link is made durable before it is reported", async () => {
    const root = join(dir, "crash");
    const { store, writer } = await storeOnThread(root, {}, true);
    await store.put("wal/a", new Uint8Array([0]), { ifNoneMatch: "*" });
    const wal = join(root, encodeDirectory("wal"));
    await syncs.watch(wal);
    // The put and the crash reach the held thread together, as one batch: the put is linked,
    // then the thread dies before the batch's directory fsync and before it answers.
    const release = await holdWriter(writer);
    const posted = postedPuts(writer);
    const body = new Uint8Array([5, 5, 5]);
    const put = store.put("wal/b", body, { ifNoneMatch: "*" }).then(
      () => assert.fail("the thread crashed before it answered"),
      (err: unknown) => err,
    );
    await until(() => posted.length === 1, "the put posted to the thread");
    crashWriter(writer);
    release();
    const err = await put;
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.permanent, false, "its outcome is unknown: retried");
    assert.match(
      err.message,
      /put "wal\/b" failed: the FileStore writer thread died: Error: the writer thread crashed \(injected\)/,
    );
    assert.equal((await stat(posted[0]!)).size, 3, "the thread linked it before it crashed");
    // Nothing has fsynced the directory since the link: a read must, before it reports it.
    const before = syncs.succeeded;
    assert.deepEqual((await store.get("wal/b"))?.body, body);
    assert.equal(syncs.succeeded, before + 1, "the get fsynced the directory first");
    // The log's retry finds it; later writes work.
    await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), ObjectExistsError);
    await store.put("wal/c", body, { ifNoneMatch: "*" });
    assert.deepEqual((await store.get("wal/c"))?.body, body);
  });
  it("a get called right after a put of its key waits for it, and reports its object only once durable", async () => {
    const root = join(dir, "read-after-put");
    const { store, writer } = await storeOnThread(root, {}, true);
    await store.put("wal/1", bytes("old"));
    const wal = join(root, encodeDirectory("wal"));
    await syncs.watch(wal);
    failWriterDirSync(writer, wal);
    // Every thread of the pool busy (opening FIFOs nobody writes yet), so the get's own
    // calls wait while the thread places the new object and fails its directory fsync.
    const release = await occupyThreadPool(join(dir, "fifos"));
    const put = store.put("wal/1", bytes("new")).then(
      () => assert.fail("its directory fsync fails"),
      (err: unknown) => err,
    );
    let syncedAtAnswer = -1;
    const got = store.get("wal/1").then((object) => {
      syncedAtAnswer = syncs.succeeded;
      return object;
    });
    assert.match(String(await put), /EIO: i\/o error, fsync/);
    const before = syncs.succeeded;
    await release();
    assert.equal(text((await got)?.body), "new");
    assert.ok(syncedAtAnswer > before, "the directory was fsynced before the get answered");
  });

  it("a get called right before a put of its key reports the put's object only once durable", async () => {
    const root = join(dir, "read-before-put");
    const { store, writer } = await storeOnThread(root, {}, true);
    await store.put("wal/1", bytes("old"));
    const wal = join(root, encodeDirectory("wal"));
    await syncs.watch(wal);
    failWriterDirSync(writer, wal);
    // The get's open waits for a thread of the pool while the writer thread places the new
    // object and fails its directory fsync: the get opens a file no fsync has made durable.
    const release = await occupyThreadPool(join(dir, "fifos-before"));
    let syncedAtAnswer = -1;
    const got = store.get("wal/1").then((object) => {
      syncedAtAnswer = syncs.succeeded;
      return object;
    });
    const put = store.put("wal/1", bytes("new")).then(
      () => assert.fail("its directory fsync fails"),
      (err: unknown) => err,
    );
    assert.match(String(await put), /EIO: i\/o error, fsync/);
    const before = syncs.succeeded;
    await release();
    const answer = text((await got)?.body);
    if (answer === "new")
      assert.ok(syncedAtAnswer > before, "the directory was fsynced before the get answered");
    else assert.equal(answer, "old");
  });

  for (const path of ["thread", "pool"] as const) {
    it(`a get of a key overwritten without pause answers (puts on the ${path})`, async () => {
      const root = join(dir, `hot-${path}`);
      const timeoutMs = 10_000;
      const store =
        path === "thread"
          ? (await storeOnThread(root, { timeoutMs })).store
          : storeOnPool(root, { timeoutMs });
      await store.put("hb/1", bytes("first"));
      // 16 writers, each overwriting the key again as soon as its last put is answered: a
      // put of it is always in flight. A read waits for the ones in flight when it is called,
      // not for every later one, or it never answers.
      let stop = false;
      let puts = 0;
      const overwrite = async (): Promise<void> => {
        while (!stop) {
          await store.put("hb/1", new Uint8Array(100));
          puts++;
        }
      };
      const writers = Array.from({ length: 16 }, overwrite);
      try {
        await until(() => puts >= 32, "the overwrites running", 10_000);
        const object = await store.get("hb/1");
        assert.equal(object?.body.byteLength, 100);
      } finally {
        stop = true;
        await Promise.all(writers);
      }
    });
  }

  for (const fault of ["its directory fsync fails", "the thread dies"] as const) {
    it(`a thread overwrite whose pool overwrite of the same key came first stays unsynced when ${fault}`, async () => {
      const root = join(dir, `mixed-${fault.split(" ")[1]}`);
      const { store, writer } = await storeOnThread(root, {}, true);
      await store.put("hb/1", bytes("first"));
      const hb = join(root, encodeDirectory("hb"));
      await syncs.watch(hb);
      // The thread's overwrite waits behind a hold while the pool's overwrite (a body over
      // the thread's limit) places its own object, fsyncs and drops its entry.
      const releaseThread = await holdWriter(writer);
      if (fault === "its directory fsync fails") failWriterDirSync(writer, hb);
      const posted = postedPuts(writer);
      const small = store.put("hb/1", bytes("small")).then(
        () => assert.fail(`${fault}`),
        (err: unknown) => err,
      );
      await until(() => posted.length === 1, "the small overwrite posted");
      if (fault === "the thread dies") crashWriter(writer);
      await store.put("hb/1", new Uint8Array(THREAD_MAX_BODY + 1));
      releaseThread();
      assert.ok((await small) instanceof StorageError);
      // The small object is in place; nothing fsynced its directory since.
      const before = syncs.succeeded;
      assert.equal(text((await store.get("hb/1"))?.body), "small");
      assert.equal(syncs.succeeded, before + 1, "the get fsynced the directory first");
    });
  }

  // The same rules on the thread pool's path, which the writes before the thread is up,
  // bodies over its limit and every write of a store whose thread cannot start take.
  describe("through the thread pool", () => {
    it("a create that finds the object a failed create linked fsyncs its directory before answering", async () => {
      const store = storeOnPool(join(dir, "pool-store"));
      await store.put("wal/a", new Uint8Array([0]), { ifNoneMatch: "*" });
      await syncs.watch(join(dir, "pool-store", encodeDirectory("wal")));
      syncs.failed = 0;
      syncs.failures = 1;
      const body = new Uint8Array([1, 2, 3]);
      await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), (err) => {
        assert.ok(err instanceof StorageError, String(err));
        assert.equal(err.permanent, false, "an I/O error is retried");
        return true;
      });
      assert.equal(syncs.failed, 1);
      // The link took effect, but nothing made its directory entry durable.
      let before = syncs.succeeded;
      await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), ObjectExistsError);
      assert.ok(
        syncs.succeeded > before,
        "the directory was fsynced before the create reported the object as existing",
      );
      // Made durable once: later answers need no fsync.
      before = syncs.succeeded;
      await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), ObjectExistsError);
      assert.deepEqual((await store.get("wal/b"))?.body, body);
      assert.equal(syncs.succeeded, before);
    });

    it("a body over the thread's limit, on a store whose thread is up, follows the same rule", async () => {
      const { store } = await storeOnThread(join(dir, "pool-large"));
      await store.put("cp/a", new Uint8Array([0]), { ifNoneMatch: "*" });
      await syncs.watch(join(dir, "pool-large", encodeDirectory("cp")));
      syncs.failed = 0;
      syncs.failures = 1;
      const body = new Uint8Array(THREAD_MAX_BODY + 1).fill(6);
      await assert.rejects(store.put("cp/b", body, { ifNoneMatch: "*" }), StorageError);
      assert.equal(syncs.failed, 1, "its directory fsync was made here, on the pool");
      const before = syncs.succeeded;
      await assert.rejects(store.put("cp/b", body, { ifNoneMatch: "*" }), ObjectExistsError);
      assert.equal(syncs.succeeded, before + 1, "fsynced before it was reported as existing");
      assert.deepEqual((await store.get("cp/b"))?.body, body);
      assert.equal(syncs.succeeded, before + 1, "once");
    });

    it("a get or head of an object whose directory fsync failed fsyncs it first, and fails if that fails", async () => {
      const store = storeOnPool(join(dir, "pool-reads"));
      await store.put("wal/a", new Uint8Array([0]), { ifNoneMatch: "*" });
      await syncs.watch(join(dir, "pool-reads", encodeDirectory("wal")));
      syncs.failed = 0;
      syncs.failures = 1;
      const body = new Uint8Array([4, 5]);
      await assert.rejects(store.put("wal/b", body, { ifNoneMatch: "*" }), StorageError);
      assert.equal(syncs.failed, 1);
      await assertReadsSyncFirst(store, syncs, body);
    });

    it("a WAL append acknowledged after its directory fsync failed once is durable", async () => {
      const root = join(dir, "pool-log");
      await assertAppendDurable(storeOnPool(root), root, syncs, {
        failSyncOnce: () => {
          syncs.failed = 0;
          syncs.failures = 1;
        },
        afterAppend: () =>
          assert.equal(syncs.failed, 1, "the directory fsync of the append failed once"),
        reopen: () => storeOnPool(root),
      });
    });
  });
});
