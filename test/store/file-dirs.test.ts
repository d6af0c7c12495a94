/**
 * A directory the store finds already made (by an earlier store or process,
 * which may have died between its mkdir and the fsync of the parent) has its
 * parent fsynced before the first write in it is acknowledged, once per store,
 * as a directory the store makes does; so does one the store made itself
 * whose parent's fsync failed, when a put in it is retried.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { StorageError } from "../../src/errors.js";
import type { FileStore } from "../../src/store/file.js";
import { encodeDirectory } from "../../src/store/file-keys.js";
import { DirectorySyncs } from "./directory-syncs.js";
import { storeOnPool, storeOnThread } from "./writer-thread.js";

const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

describe("FileStore: directories found made or made without their parent's fsync", {
  timeout: 30_000,
}, () => {
  let dir: string;
  let syncs: DirectorySyncs;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-found-dirs-"));
    syncs = await DirectorySyncs.install();
  });
  after(async () => {
    syncs.uninstall();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * After a put that makes the temp folder and a directory of its own (so
   * that only the root's fsyncs for "d" count from here), a create of `d/x`
   * whose fsync of the root fails: it fails with the fsync's error and is not
   * placed.
   */
  const failsItsParentSync = async (store: FileStore, root: string): Promise<void> => {
    await store.put("other/x", bytes("other"));
    await syncs.watch(root);
    const failed = syncs.failed;
    syncs.failures = 1;
    await assert.rejects(store.put("d/x", bytes("1"), { ifNoneMatch: "*" }), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.match(err.message, /EIO: i\/o error, fsync/);
      return true;
    });
    assert.equal(syncs.failed, failed + 1);
    assert.equal(await store.get("d/x"), null, "not placed: the put was not acknowledged");
  };

  const opens = {
    pool: async (root: string) => storeOnPool(root),
    thread: async (root: string) => (await storeOnThread(root)).store,
  };
  for (const [path, open] of Object.entries(opens)) {
    it(`fsyncs the parent of a directory made before the store, once, before a put in it is acknowledged (puts on the ${path})`, async () => {
      const root = join(dir, path);
      // As a store that died between its mkdir and the fsync of the root would leave it.
      await mkdir(join(root, encodeDirectory("d")), { recursive: true });
      const store = await open(root);
      await failsItsParentSync(store, root);
      const before = syncs.succeeded;
      await store.put("d/x", bytes("2"), { ifNoneMatch: "*" });
      assert.equal(syncs.succeeded, before + 1, "the root was fsynced before the put answered");
      await store.put("d/y", bytes("3"));
      await store.delete("d/y");
      assert.equal(syncs.succeeded, before + 1, "once per directory");
      assert.equal(text((await store.get("d/x"))?.body), "2");
      // A later store on the directory cannot know what happened before it: it fsyncs again.
      const next = await open(root);
      await next.put("d/z", bytes("4"));
      assert.equal(syncs.succeeded, before + 3, "the root, for the temp folder and for d");
    });

    it(`a directory the store made whose parent's fsync failed: the put fails, and its retry fsyncs the parent before it is acknowledged (puts on the ${path})`, async () => {
      const root = join(dir, `made-${path}`);
      const store = await open(root);
      await failsItsParentSync(store, root);
      assert.ok(
        (await stat(join(root, encodeDirectory("d")))).isDirectory(),
        "the mkdir succeeded: only the parent's fsync failed",
      );
      // The retry finds the directory there (EEXIST) but cannot know it is durable.
      const before = syncs.succeeded;
      await store.put("d/x", bytes("2"), { ifNoneMatch: "*" });
      assert.equal(syncs.succeeded, before + 1, "the root was fsynced before the put answered");
      await store.put("d/y", bytes("3"));
      assert.equal(syncs.succeeded, before + 1, "once per directory");
      assert.equal(text((await store.get("d/x"))?.body), "2");
    });
  }
});
