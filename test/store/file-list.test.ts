/**
 * FileStore listings of directories that hold many objects (a WAL between
 * checkpoints, offloaded payloads): a page is read without holding the event
 * loop, and pages stay in key order where a directory among the first holds
 * fewer keys than the page needs (left empty by deletes).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { promises as fsPromises } from "node:fs";
import { mkdir, mkdtemp, opendir, rm } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FileStore } from "../../src/store/file.js";
import { encodeDirectory } from "../../src/store/file-keys.js";
import { listAll } from "../../src/store/types.js";
import { turnCounter } from "../turns.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * Counts the directory entries read in each turn of the event loop, through a `Dir`
 * (`opendir`) or by `readdir` (a whole directory at once), until `stop`, which says the
 * most read in one turn and the total.
 */
async function entriesPerTurn(
  probeDir: string,
): Promise<{ stop: () => { most: number; total: number } }> {
  const probe = await opendir(probeDir);
  const dirProto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => unknown };
  await probe.close();
  const read = dirProto.read;
  const readdir = fsPromises.readdir;
  let thisTurn = 0;
  let most = 0;
  let total = 0;
  const count = (entries: number): void => {
    thisTurn += entries;
    total += entries;
    most = Math.max(most, thisTurn);
  };
  dirProto.read = function (this: unknown, ...args: unknown[]): unknown {
    const result = read.apply(this, args);
    if (args.length === 0)
      (result as Promise<unknown>).then(
        (entry) => {
          if (entry !== null) count(1);
        },
        () => {},
      );
    return result;
  };
  fsPromises.readdir = (async (...args: Parameters<typeof readdir>) => {
    const entries = await readdir(...args);
    count(entries.length);
    return entries;
  }) as typeof readdir;
  syncBuiltinESMExports();
  const counter = turnCounter(() => {
    thisTurn = 0;
  });
  return {
    stop: () => {
      counter.stop();
      dirProto.read = read;
      fsPromises.readdir = readdir;
      syncBuiltinESMExports();
      return { most, total };
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

  it("reads a page of a large directory a batch at a time, not all in one turn", {
    skip: process.platform === "win32" ? "makes its files with sh, seq and xargs" : false,
  }, async () => {
    const root = join(dir, "many");
    const wal = join(root, encodeDirectory("wal"));
    await mkdir(wal, { recursive: true });
    // More than two batches of the listing's reads (1,024 entries) and more than a page.
    const count = 2_100;
    const name = (i: number): string => String(i).padStart(20, "0");
    // Made outside this process (the store's file names for such keys are the keys' own).
    execFileSync("sh", ["-c", `seq -f %020g 0 ${count - 1} | xargs touch`], { cwd: wal });
    const store = new FileStore(root);
    const pages = [
      { startAfter: undefined, first: 0 },
      { startAfter: `wal/${name(999)}`, first: 1000 },
      { startAfter: `wal/${name(count - 10)}`, first: count - 9 },
    ];
    const counting = await entriesPerTurn(dir);
    let read: { most: number; total: number };
    try {
      for (const { startAfter, first } of pages) {
        const page = await store.list("wal/", startAfter === undefined ? {} : { startAfter });
        assert.equal(page.objects[0]?.key, `wal/${name(first)}`);
        const expected = Math.min(1000, count - first);
        assert.equal(page.objects.length, expected);
        assert.equal(page.objects.at(-1)?.key, `wal/${name(first + expected - 1)}`);
        assert.equal(page.nextStartAfter, expected === 1000 ? page.objects.at(-1)?.key : undefined);
      }
    } finally {
      read = counting.stop();
    }
    // Each page reads the whole directory; reading it at once (and decoding and sorting every
    // entry in the same turn) held the event loop for 120–300 ms a page at 100,000 objects.
    assert.ok(read.total >= pages.length * count, `${read.total} entries read`);
    assert.ok(read.most <= 2 * 1024, `${read.most} directory entries read in one turn`);
  });
});
