/**
 * FileStore listings of directories that hold many objects (a WAL between
 * checkpoints, offloaded payloads): a page is read without holding the event
 * loop, and pages stay in key order where a directory among the first holds
 * fewer keys than the page needs (left empty by deletes).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FileStore } from "../../src/store/file.js";
import { encodeDirectory } from "../../src/store/file-keys.js";
import { listAll } from "../../src/store/types.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The longest time between two turns of the event loop while it runs. */
function turnGaps(): { stop: () => number } {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop: () => {
      running = false;
      return longest;
    },
  };
}

describe("FileStore listings", { timeout: 120_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-file-list-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("fills a page past directories that deletes left empty, in key order", async () => {
    const store = new FileStore(join(dir, "emptied"));
    const keys: string[] = [];
    for (let i = 0; i < 30; i++) {
      const key = `d/${String(i).padStart(2, "0")}/k`;
      await store.put(key, bytes(key));
      keys.push(key);
    }
    for (let i = 0; i < 30; i++) await store.put(`d/${String(i).padStart(2, "0")}z`, bytes("f"));
    // Every directory but a few is left empty.
    for (const key of keys) if (!/\/(07|19|28)\//.test(key)) await store.delete(key);
    const expected = (await listAll(store, "d/")).map((o) => o.key);
    assert.equal(expected.length, 33);
    assert.deepEqual(expected, [...expected].sort());
    for (const limit of [1, 2, 3, 5]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list("d/", {
          limit,
          ...(cursor === undefined ? {} : { startAfter: cursor }),
        });
        assert.ok(page.objects.length <= limit);
        seen.push(...page.objects.map((o) => o.key));
        cursor = page.nextStartAfter;
      } while (cursor !== undefined);
      assert.deepEqual(seen, expected, `limit ${limit}`);
    }
    assert.deepEqual(
      (await store.list("d/", { limit: 2 })).objects.map((o) => o.key),
      ["d/00z", "d/01z"],
    );
    assert.deepEqual(
      (await store.list("d/", { limit: 3, startAfter: "d/06z" })).objects.map((o) => o.key),
      ["d/07/k", "d/07z", "d/08z"],
    );
  });

  it("reads a page of a directory of 100,000 objects without holding the event loop", {
    skip: process.platform === "win32" ? "makes its files with sh, seq and xargs" : false,
  }, async () => {
    const root = join(dir, "many");
    const wal = join(root, encodeDirectory("wal"));
    await mkdir(wal, { recursive: true });
    const count = 100_000;
    const name = (i: number): string => String(i).padStart(20, "0");
    // Made outside this process (the store's file names for such keys are the keys' own):
    // quick, and no garbage of the setup is collected while the listings are timed.
    execFileSync("sh", ["-c", `seq -f %020g 0 ${count - 1} | xargs touch`], { cwd: wal });
    const store = new FileStore(root);
    await store.list("wal/", { limit: 1 }); // the directory's blocks in the page cache
    const pages = [
      { startAfter: undefined, first: 0 },
      { startAfter: `wal/${name(count / 2)}`, first: count / 2 + 1 },
      { startAfter: `wal/${name(count - 10)}`, first: count - 9 },
    ];
    let longest = 0;
    for (const { startAfter, first } of pages) {
      const gaps = turnGaps();
      const page = await store.list("wal/", startAfter === undefined ? {} : { startAfter });
      longest = Math.max(longest, gaps.stop());
      assert.equal(page.objects[0]?.key, `wal/${name(first)}`);
      const expected = Math.min(1000, count - first);
      assert.equal(page.objects.length, expected);
      assert.equal(page.objects.at(-1)?.key, `wal/${name(first + expected - 1)}`);
      assert.equal(page.nextStartAfter, expected === 1000 ? page.objects.at(-1)?.key : undefined);
    }
    execFileSync("rm", ["-rf", root]); // quicker than removing 100,000 files from here
    // Reading the directory at once and sorting it took 120–300 ms here, in one turn.
    assert.ok(longest < 100, `the longest turn of the event loop took ${longest.toFixed(1)} ms`);
  });
});
