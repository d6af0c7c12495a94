/**
 * Directories of a FileStore removed while it runs. A temp cleaner (systemd-tmpfiles ages out
 * empty directories under /tmp and /var/tmp) may remove the temp folder of an idle store: it
 * never holds objects, so the store makes it again. Any other directory (the root, a key's
 * directory) may have held objects: making it again would let a queue acknowledge work on top
 * of what was lost, which a restart then finds corrupt, so every put there fails, permanently,
 * naming the directory.
 */
import assert from "node:assert/strict";
import { promises as fsPromises } from "node:fs";
import { type FileHandle, mkdtemp, open, rm, rmdir, stat } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { StorageError } from "../../src/errors.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { encodeDirectory } from "../../src/store/file-keys.js";
import { cleanerNote } from "../../src/store/file-removed-dirs.js";
import { listAll } from "../../src/store/types.js";
import { storeOnPool, storeOnThread } from "./writer-thread.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** `put` fails with a permanent StorageError saying that `path` was removed while in use. */
async function expectRemoved(put: Promise<unknown>, path: string): Promise<void> {
  await assert.rejects(put, (err) => {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.permanent, true, err.message);
    assert.ok(err.message.includes(JSON.stringify(path)), err.message);
    assert.match(err.message, /was removed while the store was in use/);
    return true;
  });
}

describe("FileStore: directories removed while the store runs", { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-removed-dirs-"));
  });
  after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));

  /** Puts `key` (a create when `create`), allowing one transient failure first. */
  async function putAgain(store: FileStore, key: string, create: boolean): Promise<void> {
    const put = () => store.put(key, bytes(key), create ? { ifNoneMatch: "*" } : {});
    try {
      await put();
    } catch (err) {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, false, err.message);
      await put();
    }
    assert.equal(text((await store.get(key))?.body), key);
  }

  for (const path of ["pool", "thread"] as const) {
    const open = async (root: string) =>
      path === "pool" ? storeOnPool(root) : (await storeOnThread(root, {})).store;

    it(`the temp folder removed: the next puts make it again (puts on the ${path})`, async () => {
      const root = join(dir, `${path}-temp`);
      const store = await open(root);
      try {
        await store.put("q/a/first", bytes("first"));
        await store.put("q/a/created", bytes("created"), { ifNoneMatch: "*" });
        // Retried: the writer thread makes the next put's spare temp file after it answers,
        // so the folder may gain a file while it is being removed (ENOTEMPTY).
        await rm(join(root, ".tmp"), { recursive: true, force: true, maxRetries: 10 });
        await putAgain(store, "q/a/second", false);
        await putAgain(store, "q/a/third", true);
        await putAgain(store, "q/b/fourth", true);
        assert.deepEqual(
          (await listAll(store, "q/")).map((o) => o.key),
          ["q/a/created", "q/a/first", "q/a/second", "q/a/third", "q/b/fourth"],
        );
      } finally {
        await store.close();
      }
    });

    it(`the whole directory removed: every put fails, naming it (puts on the ${path})`, async () => {
      const root = join(dir, `${path}-root`);
      const store = await open(root);
      try {
        await store.put("q/a/first", bytes("first"));
        await rm(root, { recursive: true, force: true, maxRetries: 10 });
        for (const key of ["q/a/second", "q/a/second", "q/b/third", "r/fourth"])
          await expectRemoved(store.put(key, bytes(key)), root);
        await expectRemoved(store.put("q/a/fifth", bytes("5"), { ifNoneMatch: "*" }), root);
        assert.equal(await exists(root), false, "the store's directory is not made again");
      } finally {
        await store.close();
      }
    });

    it(`a key's directory removed: puts under it fail, naming it (puts on the ${path})`, async () => {
      const root = join(dir, `${path}-key`);
      const removed = join(root, encodeDirectory("q"));
      const store = await open(root);
      try {
        await store.put("q/a/first", bytes("first"));
        await store.put("r/other", bytes("other"));
        await rm(removed, { recursive: true, force: true, maxRetries: 10 });
        for (const key of ["q/a/second", "q/a/second", "q/b/third"])
          await expectRemoved(store.put(key, bytes(key)), removed);
        assert.equal(await exists(removed), false, "the key's directory is not made again");
        // Directories that are still there go on working.
        await store.put("r/more", bytes("more"));
        await store.put("s/new", bytes("new"));
        assert.deepEqual(
          (await listAll(store, "")).map((o) => o.key),
          ["r/more", "r/other", "s/new"],
        );
      } finally {
        await store.close();
      }
    });
  }

  // A temp cleaner (systemd-tmpfiles) removes, under /tmp and /var/tmp, files unused for days
  // and then the directories left empty: a queue's payload/ folder, emptied once its offloaded
  // payloads are collected, goes that way while the queue runs. The store cannot tell that from
  // a folder removed with objects in it, so the put still fails for good, but it says why.
  it("a key's directory emptied and removed under the temp directory: the error names the cleaner", async () => {
    const root = join(dir, "emptied");
    const emptied = join(root, encodeDirectory("q"), encodeDirectory("payload"));
    const store = storeOnPool(root);
    try {
      await store.put("q/payload/one", bytes("1"));
      await store.delete("q/payload/one");
      await rmdir(emptied);
      await assert.rejects(store.put("q/payload/two", bytes("2")), (err) => {
        assert.ok(err instanceof StorageError, String(err));
        assert.equal(err.permanent, true, err.message);
        assert.ok(err.message.includes(JSON.stringify(emptied)), err.message);
        assert.match(err.message, /was removed while the store was in use/);
        // Only a possibility: the store cannot tell a cleaner from a removal by hand.
        assert.match(err.message, /a temp cleaner may have removed it/);
        assert.match(err.message, /if so, keep the store's directory out of/);
        return true;
      });
    } finally {
      await store.close();
    }
  });

  // Whether a directory is gone is asked with `stat`: only "no such file or directory" (or a
  // file in its place) says it is. Any other failure says nothing about it, and is reported as
  // what it is: a transient one (too many open files, an I/O error) is retried, a permission
  // denied is permanent and says what to fix.
  for (const [code, permanent, said] of [
    ["EMFILE", false, /EMFILE/],
    ["EIO", false, /EIO/],
    ["EACCES", true, /permission denied: give this process read and write access/],
  ] as const)
    it(`a put failing with ENOENT while the directory check fails with ${code}: not "removed"`, async () => {
      const root = join(dir, `stat-${code}`);
      const store = storeOnPool(root);
      const realStat = fsPromises.stat;
      try {
        await store.put("q/a/first", bytes("1"));
        await rm(join(root, encodeDirectory("q")), {
          recursive: true,
          force: true,
          maxRetries: 10,
        });
        fsPromises.stat = (async (path: string, ...rest: unknown[]) => {
          if (String(path).startsWith(root))
            throw Object.assign(new Error(`${code}: failed, stat '${String(path)}'`), {
              code,
              syscall: "stat",
              path,
            });
          return (realStat as (...args: unknown[]) => Promise<unknown>)(path, ...rest);
        }) as typeof fsPromises.stat;
        syncBuiltinESMExports();
        await assert.rejects(store.put("q/a/second", bytes("2")), (err) => {
          assert.ok(err instanceof StorageError, String(err));
          assert.doesNotMatch(err.message, /was removed/);
          assert.match(err.message, said);
          assert.equal(err.permanent, permanent, err.message);
          // The put's own failure comes first, then the check that followed it.
          assert.match(
            err.message,
            /put "q\/a\/second" failed: ENOENT: .*, and checking whether its directory is still there failed: /,
          );
          assert.ok(err.cause instanceof AggregateError, String(err.cause));
          assert.deepEqual(
            err.cause.errors.map((e: unknown) => (e as { code?: string }).code),
            ["ENOENT", code],
          );
          return true;
        });
        fsPromises.stat = realStat;
        syncBuiltinESMExports();
        // Once the check can look, the directory is found gone.
        await expectRemoved(store.put("q/a/third", bytes("3")), join(root, encodeDirectory("q")));
      } finally {
        fsPromises.stat = realStat;
        syncBuiltinESMExports();
        await store.close();
      }
    });

  it("a queue whose directory is removed acknowledges nothing more", async () => {
    const root = join(dir, "queue");
    const queue = await Queue.open(new FileStore(root), "q", { flushIntervalMs: 0 });
    try {
      await queue.enqueue("a", "before");
      await rm(root, { recursive: true, force: true, maxRetries: 10 });
      const enqueued = queue.enqueue("a", "after").then(
        () => "acknowledged",
        (err: unknown) => String(err),
      );
      const outcome = await Promise.race([enqueued, sleep(5_000).then(() => "no answer")]);
      assert.match(outcome, /was removed while the store was in use/);
      assert.equal(await exists(root), false, "the store's directory is not made again");
    } finally {
      await queue.close().catch(() => {});
    }
  });

  // A put that started before another found a directory removed (so it did not wait for the
  // directories) must not be answered before the fsyncs that make durable any directory made
  // again meanwhile, which its object may be in: after a power cut it would be gone. (With the
  // temp folder made again, the put succeeds once the root is fsynced; with a key's directory
  // removed, it fails: that directory is not made again.)
  const races: Array<[string, string, (root: string) => string, string]> = [
    ["the temp folder", ".tmp", (root) => root, "early put answered"],
    [
      "a key's directory",
      encodeDirectory("q"),
      (root) => join(root, encodeDirectory("q")),
      "early put failed",
    ],
  ];
  for (const [what, removedDir, heldDir, outcome] of races)
    it(`${what} removed: a put is not answered before a directory made again is durable`, async () => {
      const root = join(dir, `race-${removedDir}`);
      const store = storeOnPool(root);
      const events: string[] = [];
      let holdTempOpen = false;
      let holdSync = false;
      const realOpen = fsPromises.open;
      fsPromises.open = async (path, ...rest) => {
        if (holdTempOpen && String(path).includes("/.tmp/")) {
          holdTempOpen = false;
          await sleep(300);
        }
        return realOpen(path, ...rest);
      };
      syncBuiltinESMExports();
      const probe = await open(dir, "r");
      const proto = Object.getPrototypeOf(probe) as { sync: (this: FileHandle) => Promise<void> };
      await probe.close();
      const realSync = proto.sync;
      proto.sync = async function (this: FileHandle): Promise<void> {
        if (holdSync) {
          const [own, held] = await Promise.all([
            this.stat(),
            stat(heldDir(root)).catch(() => undefined),
          ]);
          if (held !== undefined && own.isDirectory() && own.ino === held.ino) {
            holdSync = false;
            events.push("held fsync starts");
            await sleep(500);
            await realSync.call(this);
            events.push("held fsync done");
            return;
          }
        }
        return realSync.call(this);
      };
      try {
        await store.put("q/a/first", bytes("1"));
        await rm(join(root, removedDir), { recursive: true, force: true, maxRetries: 10 });
        holdTempOpen = true;
        const early = store.put("q/a/early", bytes("2")).then(
          () => events.push("early put answered"),
          () => events.push("early put failed"),
        );
        // This one finds the directory gone.
        await store.put("q/a/finder", bytes("3")).catch(() => {});
        holdSync = true;
        const late = store.put("q/a/late", bytes("4")).catch(() => {});
        await Promise.all([early, late]);
        assert.ok(events.includes(outcome), events.join(", "));
        const answered = events.indexOf("early put answered");
        if (answered >= 0) {
          const done = events.indexOf("held fsync done");
          assert.ok(done >= 0 && done < answered, events.join(", "));
        }
      } finally {
        fsPromises.open = realOpen;
        syncBuiltinESMExports();
        proto.sync = realSync;
        await store.close();
      }
    });
});

describe("FileStore: which removed directories may be a temp cleaner's doing", () => {
  it("those under the temp directory, /tmp and /var/tmp, and their macOS forms under /private", () => {
    // macOS: os.tmpdir() is under /var/folders, and /tmp and /var are links into /private, so a
    // store's path may come either way; its cleaners age files out of /private/tmp and
    // /private/var/folders.
    const macTemp = "/var/folders/zz/abc123/T";
    for (const removed of [
      "/var/folders/zz/abc123/T/store/q",
      "/private/var/folders/zz/abc123/T/store/q",
      "/private/tmp/store/q",
      "/private/var/tmp/store/q",
      "/tmp/store/q",
      "/var/tmp/store/q",
    ])
      assert.match(cleanerNote(removed, macTemp), /a temp cleaner may have removed it/, removed);
    assert.match(cleanerNote("/private/tmp/store/q", macTemp), /it is under \/private\/tmp:/);
    assert.match(
      cleanerNote("/srv/scratch/store/q", "/srv/scratch"),
      /it is under \/srv\/scratch:/,
    );
    for (const removed of ["/home/me/store/q", "/private/etc/store", "/tmpfs/store", "/private"])
      assert.equal(cleanerNote(removed, macTemp), "", removed);
  });
});
