/**
 * FileStore failures that cannot heal (a file where the directory should be,
 * no permission, a symbolic link to nothing, a filesystem that refuses) are permanent: Queue.open fails at once, saying what to fix,
 * instead of retrying for minutes.
 */
import assert from "node:assert/strict";
import { promises as fsPromises } from "node:fs";
import {
  chmod,
  type FileHandle,
  mkdir,
  mkdtemp,
  open,
  readdir,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InvalidArgumentError, StorageError } from "../../src/errors.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { encodeDirectory } from "../../src/store/file-keys.js";
import { FailedRequests } from "../failed-requests.js";
import { recordingLogger } from "../recording-logger.js";

/**
 * `Queue.open` on a FileStore at `directory` fails with a permanent StorageError matching
 * `message`, and makes no failed request twice: nothing was retried.
 */
async function expectPermanentFailure(directory: string, message: RegExp): Promise<void> {
  const logger = recordingLogger();
  const store = new FailedRequests(new FileStore(directory));
  // A short retry budget: misread as transient, the open fails after it instead of in minutes.
  const open = Queue.open(store, "q", { logger, log: { retry: { maxElapsedMs: 2_000 } } });
  const error = await open.then(
    () => assert.fail("Queue.open should have failed"),
    (err: unknown) => err,
  );
  assert.ok(store.failed.length > 0, "a request failed");
  assert.deepEqual(store.repeated(), [], `retried: ${store.failed}`);
  assert.deepEqual(logger.messages("warn"), [], "nothing was retried");
  assert.ok(error instanceof StorageError, String(error));
  assert.equal(error.permanent, true, error.message);
  assert.match(error.message, message);
}

describe("FileStore: directories that cannot be used", { timeout: 30_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-unusable-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a file where the store's directory should be", async () => {
    const path = join(dir, "a-file");
    await writeFile(path, "not a directory");
    await expectPermanentFailure(path, /a file is where a directory is expected/);
  });

  it("a file where a parent directory should be (ENOTDIR)", async () => {
    const file = join(dir, "parent-file");
    await writeFile(file, "not a directory");
    await expectPermanentFailure(
      join(file, "store"),
      /ENOTDIR.*a file is where a directory is expected: move it away or choose another directory/,
    );
  });

  it("a directory this process may not write (EACCES)", {
    skip:
      process.getuid?.() === 0
        ? "running as root, which may write anywhere: EACCES cannot be produced"
        : false,
  }, async () => {
    const locked = join(dir, "locked");
    await mkdir(locked);
    await chmod(locked, 0o500);
    try {
      await expectPermanentFailure(join(locked, "store"), /EACCES.*permission denied/);
    } finally {
      await chmod(locked, 0o700);
    }
  });

  // Regression: mkdir's EEXIST was taken as "made by an earlier store" without looking, so the
  // file was remembered as a made directory: the put failed on the link, and once the file was
  // moved away every later put there failed for good with "removed while the store was in use".
  it("a file where an object's directory should be: permanent ENOTDIR, and a put after it is moved away succeeds", async () => {
    const root = join(dir, "file-as-dir");
    const store = new FileStore(root);
    await store.put("k", new Uint8Array([1]));
    const path = join(root, encodeDirectory("d"));
    await writeFile(path, "not a directory");
    await assert.rejects(store.put("d/x", new Uint8Array([2])), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, true, err.message);
      assert.match(
        err.message,
        /ENOTDIR.*file-as-dir.d%2F.*a file is where a directory is expected: move it away/,
      );
      return true;
    });
    await rm(path);
    await store.put("d/x", new Uint8Array([3]));
    assert.deepEqual((await store.get("d/x"))?.body, new Uint8Array([3]));
    await store.close();
  });

  it("a symbolic link to nothing where an object's directory should be: permanent, saying to create its target", async () => {
    const root = join(dir, "link-as-dir");
    const store = new FileStore(root);
    await store.put("k", new Uint8Array([1]));
    await symlink(join(dir, "nowhere"), join(root, encodeDirectory("d")));
    await assert.rejects(store.put("d/x", new Uint8Array([2])), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, true, err.message);
      assert.match(
        err.message,
        /link-as-dir.d%2F' is a symbolic link to '.*nowhere', which does not exist.*create the link's target/,
      );
      return true;
    });
    await store.close();
  });

  // At open: the queue's directory, and the temp folder (a dangling link there was retried as
  // transient ENOENT until the open's budget ran out).
  it("Queue.open with a file where the queue's directory should be, or a link to nothing as the temp folder", async () => {
    const fileThere = join(dir, "open-file-as-dir");
    await mkdir(fileThere);
    await writeFile(join(fileThere, encodeDirectory("q")), "not a directory");
    await expectPermanentFailure(
      fileThere,
      /ENOTDIR.*q%2F.*a file is where a directory is expected/,
    );
    const linkThere = join(dir, "open-link-as-temp");
    await mkdir(linkThere);
    await symlink(join(dir, "no-temp"), join(linkThere, ".tmp"));
    await expectPermanentFailure(
      linkThere,
      /\.tmp' is a symbolic link to .*create the link's target/,
    );
  });

  it("a name freed between mkdir's EEXIST and the look at it is made as a directory", async () => {
    const root = join(dir, "freed");
    const store = new FileStore(root);
    await store.put("k", new Uint8Array([1]));
    const path = join(root, encodeDirectory("d"));
    await writeFile(path, "removed before it is looked at");
    // The file goes away right after mkdir has found it there.
    const realMkdir = fsPromises.mkdir;
    let freed = false;
    fsPromises.mkdir = (async (...args: Parameters<typeof realMkdir>) => {
      try {
        return await realMkdir(...args);
      } finally {
        if (args[0] === path && !freed) {
          freed = true;
          await rm(path);
        }
      }
    }) as typeof realMkdir;
    syncBuiltinESMExports();
    try {
      await store.put("d/x", new Uint8Array([2]));
    } finally {
      fsPromises.mkdir = realMkdir;
      syncBuiltinESMExports();
    }
    assert.ok(freed, "the file was there at the first mkdir");
    assert.deepEqual((await store.get("d/x"))?.body, new Uint8Array([2]));
    await store.close();
  });

  it("a directory where an object's file should be (EISDIR) is permanent too", async () => {
    const store = new FileStore(join(dir, "ok"));
    await store.put("k", new Uint8Array([1]));
    // A foreign directory under an object's name: no retry makes it readable.
    await mkdir(join(dir, "ok", "dir-object"));
    await assert.rejects(store.get("dir-object"), (err) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.permanent, true);
      assert.match(err.message, /EISDIR/);
      return true;
    });
  });

  // Regression: the root was made with Node's recursive mkdir, which answers a bare ENOENT
  // for a symbolic link to a missing target (retried as transient for two minutes) and spins
  // forever where mkdir answers ENOENT below an existing directory (each attempt ran into the
  // 30 s time limit and left a busy call behind).
  it("a symbolic link to a missing target (an unmounted volume), as the directory or above it", async () => {
    const link = join(dir, "dangling");
    await symlink(join(dir, "missing-volume", "data"), link);
    const message =
      /symbolic link to '.*missing-volume.data', which does not exist.*create the link's target/;
    await expectPermanentFailure(link, message);
    await expectPermanentFailure(join(link, "store"), message);
  });

  it("a symbolic link to a directory is used as that directory", async () => {
    const target = join(dir, "real");
    await mkdir(target);
    await symlink(target, join(dir, "via-link"));
    const queue = await Queue.open(new FileStore(join(dir, "via-link", "a", "b")), "q", {
      logger: { warn: () => {}, error: () => {} },
    });
    await queue.enqueue("jobs", "x");
    await queue.close();
    assert.ok((await readdir(join(target, "a", "b"))).length > 0, "the objects are in the target");
  });

  it("a filesystem that refuses to create the directory (/proc)", {
    skip: process.platform === "linux" ? false : "needs Linux's /proc",
  }, async () => {
    await expectPermanentFailure(
      join("/proc", "taquba-store", "q"),
      /cannot create '\/proc\/taquba-store' although '\/proc' exists.*choose a directory on a writable filesystem/,
    );
  });

  it("a name in the path longer than a file name may be: InvalidArgumentError at once", () => {
    const long = join(dir, "d".repeat(300), "store");
    assert.throws(
      () => new FileStore(long),
      (err) => {
        assert.ok(err instanceof InvalidArgumentError, String(err));
        assert.match(
          err.message,
          /^Expected `directory` of FileStore to be a path whose names are at most 255 bytes each, got a name of 300 bytes/,
        );
        return true;
      },
    );
  });

  it("a bad directory or options: InvalidArgumentError naming it, in the library's message style", () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [
        () => new FileStore(""),
        /^Expected `directory` of FileStore to be a non-empty path, got ""$/,
      ],
      [
        () => new FileStore(42 as never),
        /^Expected `directory` of FileStore to be a non-empty path, got 42$/,
      ],
      [
        () => new FileStore(dir, null as never),
        /^Expected `options` of FileStore to be an options object, got null$/,
      ],
      // A string would have been taken as "on", so "false" silently meant fsync.
      [
        () => new FileStore(dir, { fsync: "false" as never }),
        /^Expected `options.fsync` of FileStore to be a boolean, got "false"$/,
      ],
      [
        () => new FileStore(dir, { fsync: 0 as never }),
        /^Expected `options.fsync` of FileStore to be a boolean, got 0$/,
      ],
    ];
    for (const [make, message] of cases)
      assert.throws(make, (err) => {
        assert.ok(err instanceof InvalidArgumentError, String(err));
        assert.match(err.message, message);
        return true;
      });
  });

  it("stores opened side by side create one fresh nested directory without tripping over each other", async () => {
    const root = join(dir, "race", "x", "y", "z");
    const stores = Array.from({ length: 8 }, () => new FileStore(root));
    await Promise.all(stores.map((store, i) => store.put(`k${i}`, new Uint8Array([i]))));
    assert.equal((await stores[0]!.list("")).objects.length, 8);
  });

  // A filesystem without hard links (FAT, exFAT, some network shares and FUSE mounts) or one
  // that cannot fsync a directory (some shared folders of virtual machines): nothing heals
  // it, so the open must fail at once saying so, not retry for two minutes (ENOTSUP, EINVAL)
  // or tell the user to fix permissions they already have (EPERM).
  for (const code of ["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"])
    it(`a filesystem without hard links (link fails with ${code})`, async () => {
      const root = join(dir, `no-links-${code}`);
      const link = fsPromises.link;
      fsPromises.link = async (existing, target) => {
        if (String(target).startsWith(root))
          throw Object.assign(
            new Error(`${code}: not supported, link '${existing}' -> '${target}'`),
            {
              code,
              syscall: "link",
              path: String(existing),
              dest: String(target),
            },
          );
        return link(existing, target);
      };
      syncBuiltinESMExports();
      try {
        await expectPermanentFailure(root, /does not support hard links/);
      } finally {
        fsPromises.link = link;
        syncBuiltinESMExports();
      }
    });

  for (const code of ["EINVAL", "ENOTSUP"])
    it(`a filesystem that cannot fsync a directory (fsync fails with ${code})`, async () => {
      const root = join(dir, `no-dir-fsync-${code}`);
      const handle = await open(dir, "r");
      const proto = Object.getPrototypeOf(handle) as { sync: (this: FileHandle) => Promise<void> };
      await handle.close();
      const sync = proto.sync;
      proto.sync = async function (this: FileHandle): Promise<void> {
        if ((await this.stat()).isDirectory())
          throw Object.assign(new Error(`${code}: invalid argument, fsync`), {
            code,
            syscall: "fsync",
          });
        return sync.call(this);
      };
      try {
        await expectPermanentFailure(root, /cannot fsync/);
      } finally {
        proto.sync = sync;
      }
    });
});
