/**
 * FileStore keeps the directory part of recently written keys mapped to its
 * directory, so a later key under it needs only its last segment checked and
 * encoded. The mapping is bounded (entries and their length), filled only by
 * writes, and a path taken from it is the same path as one computed whole: a
 * read waits for a put of its key in flight however either path was found.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { FileStore } from "../../src/store/file.js";
import { encodeDirectory } from "../../src/store/file-keys.js";
import { THREAD_MAX_PENDING } from "../../src/store/file-writer.js";
import { listAll, type StoredObject } from "../../src/store/types.js";
import { until } from "../until.js";
import { holdWriter, postedPuts, storeOnThread } from "./writer-thread.js";

const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);
/** How many directory parts a store keeps at most (then it forgets them all). */
const KEPT = 256;

describe("FileStore: directory parts of keys kept", { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-key-dirs-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads keep nothing, and long directory parts are never kept", async () => {
    const store = new FileStore(join(dir, "reads"));
    // Keys that can never be stored (their paths are too long): each read fails.
    const long = (i: number) => `${i}/${"abcdefghij/".repeat(2_000)}x`;
    for (let i = 0; i < KEPT + 10; i++) {
      await assert.rejects(store.head(long(i)), InvalidArgumentError);
      await assert.rejects(store.get(long(i)), InvalidArgumentError);
      assert.equal(await store.get(`never/${i}/written`), null);
    }
    assert.equal(store.keyDirectoriesKept, 0, "reads keep nothing");
    await store.put("w/x", bytes("w"));
    await store.delete("gone/x");
    assert.equal(store.keyDirectoriesKept, 2, "a put and a delete keep their directory part");
    // A directory part over 512 characters is stored, read and refused as always, not kept.
    const deep = "ab/".repeat(200);
    await store.put(`${deep}x`, bytes("deep"));
    await store.delete(`${deep}y`);
    assert.equal(store.keyDirectoriesKept, 2);
    assert.equal(text((await store.get(`${deep}x`))?.body), "deep");
    await assert.rejects(store.put(`${deep}..`, bytes("x")), InvalidArgumentError);
    await assert.rejects(store.put(`${deep}${"y".repeat(256)}`, bytes("x")), /at most 255/);
    assert.deepEqual(
      (await listAll(store, "")).map((o) => o.key),
      [`${deep}x`, "w/x"],
    );
  });

  it(`forgets every part once ${KEPT} are kept, and places keys under them as before`, async () => {
    const root = join(dir, "evicted");
    const store = new FileStore(root, { fsync: false });
    for (let i = 0; i < KEPT; i++) await store.put(`p${i}/a`, bytes(`${i}`));
    assert.equal(store.keyDirectoriesKept, KEPT);
    await store.put(`p${KEPT}/a`, bytes(`${KEPT}`));
    assert.equal(store.keyDirectoriesKept, 1, "all forgotten, then the new one kept");
    // Parts forgotten and parts kept again place keys where the first key went.
    for (const i of [0, 1, KEPT - 1, KEPT]) {
      await store.put(`p${i}/b`, bytes(`${i}b`));
      assert.deepEqual((await readdir(join(root, encodeDirectory(`p${i}`)))).sort(), ["a", "b"]);
      assert.equal(text((await store.get(`p${i}/a`))?.body), `${i}`);
      assert.equal(text((await store.get(`p${i}/b`))?.body), `${i}b`);
    }
    assert.equal((await listAll(store, "")).length, KEPT + 1 + 4);
  });

  it("a key equal to a kept directory part is its own object beside that directory", async () => {
    const root = join(dir, "equal");
    const store = new FileStore(root);
    await store.put("d/e/x", bytes("under"));
    await store.put("d/e", bytes("file"));
    await store.put("d/e/y", bytes("under too"));
    assert.equal(text((await store.get("d/e"))?.body), "file");
    assert.equal(text((await store.get("d/e/x"))?.body), "under");
    assert.deepEqual((await readdir(join(root, encodeDirectory("d")))).sort(), ["e", "e%2F"]);
    assert.deepEqual(
      (await listAll(store, "d/")).map((o) => o.key),
      ["d/e", "d/e/x", "d/e/y"],
    );
    await store.delete("d/e");
    assert.equal(await store.get("d/e"), null);
    assert.equal(text((await store.get("d/e/y"))?.body), "under too");
  });

  it("a read waits for a put of its key in flight whether either path came from the kept parts or not", async () => {
    const { store, writer } = await storeOnThread(join(dir, "in-flight"), {}, true);
    await store.put("seed/x", bytes("seed"));
    const posted = postedPuts(writer);
    const create = { ifNoneMatch: "*" } as const;

    /**
     * Holds the thread with `put` on it and enough puts beside it that other
     * writes take the pool; `between` runs then, and a get of `key` is called
     * after it. The get must not answer while the put is held (its own calls
     * have had time to finish meanwhile), and answers the put's body after.
     */
    const readWhileHeld = async (
      key: string,
      between: () => Promise<void>,
      { fill }: { fill: string },
    ): Promise<void> => {
      const release = await holdWriter(writer);
      const count = posted.length;
      const put = store.put(key, bytes(key), create);
      const beside = Array.from({ length: THREAD_MAX_PENDING - 1 }, (_, i) =>
        store.put(`${fill}/${i}`, bytes("beside")),
      );
      let got: Promise<StoredObject | null> | undefined;
      try {
        await until(() => posted.length === count + THREAD_MAX_PENDING, "the thread full");
        await between();
        let answered = false;
        got = store.get(key).then((object) => {
          answered = true;
          return object;
        });
        // Reads of the same directory made after it, on the pool: a get that did not wait
        // would have answered (nothing: the held put has not placed its file) by their end.
        for (let i = 0; i < 3; i++) assert.equal(await store.head(`${key}-absent`), null);
        assert.equal(answered, false, "the get waits for the put");
      } finally {
        release();
        await Promise.all([put, ...beside, got]);
      }
      assert.equal(text((await got)?.body), key);
    };

    // The put finds the path whole ("e" never written); a delete on the pool then keeps "e",
    // and the get takes its path from there.
    const kept = store.keyDirectoriesKept;
    await readWhileHeld(
      "e/uncached-put",
      async () => {
        await store.delete("e/other");
        assert.equal(store.keyDirectoriesKept, kept + 1, "e kept once the delete succeeded");
      },
      { fill: "fill1" },
    );
    // The put takes its path from the kept "e"; writes of other parts on the pool then make
    // the store forget every part, and the get finds the path whole.
    await readWhileHeld(
      "e/cached-put",
      async () => {
        // Deletes of new parts until the store forgets them all (it keeps only the last).
        for (let i = 0, size = store.keyDirectoriesKept; i <= KEPT; i++) {
          await store.delete(`z${i}/k`);
          if (store.keyDirectoriesKept <= size) break;
          size = store.keyDirectoriesKept;
        }
        assert.equal(store.keyDirectoriesKept, 1, "every part forgotten, e among them");
      },
      { fill: "fill2" },
    );
  });
});
