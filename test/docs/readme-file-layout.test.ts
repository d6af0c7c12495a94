/**
 * The README's map of a FileStore root names exactly the folders a queue's FileStore
 * writes, under the names they have on disk.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { FileStore, Queue, silentLogger } from "../../src/index.js";

const README = fileURLToPath(new URL("../../../README.md", import.meta.url));

describe("README: FileStore on disk", () => {
  it("lists every folder a FileStore root holds, and only those", async () => {
    const readme = await readFile(README, "utf8");
    const start = readme.indexOf("### FileStore on disk");
    assert.ok(start > 0, "the README has the section");
    const block = /```\n([\s\S]*?)```/.exec(readme.slice(start))?.[1] ?? "";
    const documented = new Set(
      [...block.matchAll(/^<root>\/((?:jobs%2F\/)?[^/ ]+)\//gm)].map((m) => m[1]),
    );
    const dir = await mkdtemp(join(tmpdir(), "taquba-layout-"));
    try {
      const store = new FileStore(dir, { fsync: false });
      const queue = await Queue.open(store, "jobs", { logger: silentLogger, heartbeatMs: 60_000 });
      await queue.enqueue("q", "small");
      await queue.enqueue("q", new Uint8Array(300_000)); // offloaded
      await queue.close();
      await store.close();
      const found = new Set([
        ...(await readdir(dir)).filter((name) => name !== "jobs%2F"),
        ...(await readdir(join(dir, "jobs%2F"))).map((name) => `jobs%2F/${name}`),
      ]);
      assert.deepEqual([...documented].sort(), [...found].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
