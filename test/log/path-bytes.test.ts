/**
 * S3, Azure Blob Storage and GCS refuse object keys over 1,024 bytes, with an HTTP 400 at put
 * time: a queue whose path made its keys that long would fail at its first checkpoint, after
 * writing. So a path over `MAX_PATH_BYTES` (and a cloud store's prefix over
 * `MAX_STORE_PREFIX_BYTES`) is refused up front, on every store alike, with nothing written;
 * with both at their longest, every key a queue writes stays within 1,024 bytes.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { MAX_OBJECT_KEY_BYTES, MAX_PATH_BYTES } from "../../src/log/keys.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { MAX_STORE_PREFIX_BYTES, normalizePrefix } from "../../src/store/cloud/keys.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll } from "../../src/store/types.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-path-bytes-"));
  dirs.push(dir);
  return dir;
}

/** A path of exactly `bytes` UTF-8 bytes, of segments a FileStore takes (at most 60 bytes each). */
function pathOf(bytes: number): string {
  const segments: string[] = [];
  let left = bytes;
  while (left > 0) {
    if (segments.length > 0) left--; // the "/"
    const take = Math.min(left, 60);
    // Two-byte characters, with one ASCII letter when the count is odd.
    segments.push("é".repeat(Math.floor(take / 2)) + (take % 2 === 1 ? "a" : ""));
    left -= take;
  }
  return segments.join("/");
}

const utf8 = (text: string) => Buffer.byteLength(text, "utf8");

describe("the bytes of a path", { timeout: 60_000 }, () => {
  it("a path over MAX_PATH_BYTES is refused up front, naming it, on every store alike", async () => {
    const path = pathOf(MAX_PATH_BYTES + 1);
    assert.equal(utf8(path), MAX_PATH_BYTES + 1);
    const memory = new MemoryStore();
    const dir = await tempDir();
    for (const store of [memory, new FileStore(dir)]) {
      await assert.rejects(Queue.open(store, path, { logger: silentLogger }), (error) => {
        assert.ok(error instanceof InvalidArgumentError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `^Expected \`path\` to be at most ${MAX_PATH_BYTES} UTF-8 bytes .*, got ${MAX_PATH_BYTES + 1} bytes`,
          ),
        );
        return true;
      });
      await assert.rejects(QueueReader.open(store, path), InvalidArgumentError);
      // Slashes around it do not count: they are dropped.
      await assert.rejects(
        Queue.open(store, `/${pathOf(MAX_PATH_BYTES)}x/`, { logger: silentLogger }),
        InvalidArgumentError,
      );
    }
    assert.deepEqual(await listAll(memory, ""), [], "nothing was written");
    assert.deepEqual(await readdir(dir), [], "nothing was written");
  });

  it("at MAX_PATH_BYTES, with a cloud prefix at its longest, every key a queue writes fits", async () => {
    const path = `/${pathOf(MAX_PATH_BYTES)}/`;
    for (const store of [new MemoryStore(), new FileStore(await tempDir())]) {
      const queue = await Queue.open(store, path, {
        logger: silentLogger,
        heartbeatMs: 1_000,
        payloadOffloadBytes: 1,
      });
      await queue.enqueue("q", "a payload object");
      await queue.close();
      const reader = await QueueReader.open(store, path);
      assert.equal(reader.stats("q").pending, 1);
      const keys = (await listAll(store, "")).map((o) => o.key);
      assert.ok(keys.some((k) => k.includes("/checkpoint/")));
      assert.ok(keys.some((k) => k.includes("/payload/")));
      assert.ok(keys.some((k) => k.includes("/heartbeat/")));
      for (const key of keys)
        assert.ok(utf8(key) + MAX_STORE_PREFIX_BYTES + 1 <= MAX_OBJECT_KEY_BYTES, key);
    }
  });

  it("a cloud store's prefix over MAX_STORE_PREFIX_BYTES is refused", () => {
    const longest = pathOf(MAX_STORE_PREFIX_BYTES);
    assert.equal(normalizePrefix(longest, "options.prefix", "S3Store"), `${longest}/`);
    assert.throws(
      () => normalizePrefix(`${longest}a`, "options.prefix", "S3Store"),
      (error) => {
        assert.ok(error instanceof InvalidArgumentError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `^Expected \`options.prefix\` of S3Store to be at most ${MAX_STORE_PREFIX_BYTES} UTF-8 bytes .*, got ${MAX_STORE_PREFIX_BYTES + 1} bytes`,
          ),
        );
        return true;
      },
    );
  });
});
