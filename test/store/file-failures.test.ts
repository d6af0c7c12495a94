/**
 * FileStore failures that cannot heal (a file where the directory should be,
 * no permission) are permanent: Queue.open fails at once, saying what to fix,
 * instead of retrying for minutes.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { StorageError } from "../../src/errors.js";
import type { Logger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";

async function expectFastPermanentFailure(directory: string, message: RegExp): Promise<void> {
  const warnings: string[] = [];
  const logger: Logger = { warn: (line) => warnings.push(line), error: () => {} };
  const started = performance.now();
  await assert.rejects(Queue.open(new FileStore(directory), "q", { logger }), (err) => {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.permanent, true, err.message);
    assert.match(err.message, message);
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1_000, `took ${Math.round(elapsed)} ms`);
  assert.deepEqual(warnings, [], "nothing was retried");
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
    await expectFastPermanentFailure(path, /a file is where a directory is expected/);
  });

  it("a file where a parent directory should be (ENOTDIR)", async () => {
    const file = join(dir, "parent-file");
    await writeFile(file, "not a directory");
    await expectFastPermanentFailure(
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
      await expectFastPermanentFailure(join(locked, "store"), /EACCES.*permission denied/);
    } finally {
      await chmod(locked, 0o700);
    }
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
});
