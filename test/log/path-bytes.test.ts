/**
 * S3 and GCS refuse object keys over 1,024 bytes (Azure Blob Storage: characters), with an
 * HTTP 400 at put time: a queue whose path made its keys that long would fail at its first
 * checkpoint, after writing. So on a cloud store, a path that leaves no room, after the store's prefix, for the
 * longest name a queue adds under it is refused up front, with nothing written. File, memory
 * and custom stores have no such limit: a long path opens there as it always did.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { readLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { FileStore } from "../../src/store/file.js";
import { GcsStore } from "../../src/store/gcs.js";
import { keyRoomOf, LONGEST_NAME_BYTES, MAX_OBJECT_KEY_BYTES } from "../../src/store/key-room.js";
import { MemoryStore } from "../../src/store/memory.js";
import { S3Store } from "../../src/store/s3.js";
import type { ObjectStore } from "../../src/store/types.js";
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

/** A client any request through fails the test: a refused open must make none. */
const noRequests: never = new Proxy(
  {},
  {
    get(_target, name) {
      if (name === "then") return undefined;
      // What AzureBlobStore reads of its client to describe itself.
      if (name === "url") return "https://account.blob.core.windows.net/c";
      throw new Error(`a request was made (${String(name)})`);
    },
  },
) as never;

/**
 * The cloud stores that count a key's length in UTF-8 bytes, each with `prefix`, none of them
 * able to reach a server (Azure counts characters: see azure-path-room.test.ts).
 */
function cloudStores(prefix: string): ObjectStore[] {
  return [
    new S3Store({ bucket: "b", prefix, client: noRequests }),
    new GcsStore({ bucket: "b", prefix, client: noRequests }),
  ];
}

describe("the bytes of a path", { timeout: 60_000 }, () => {
  it("the longest name a queue adds under its path is a checkpoint's: 58 bytes", () => {
    assert.equal(LONGEST_NAME_BYTES, utf8(`checkpoint/${"0".repeat(20)}-${"0".repeat(26)}`));
  });

  it("a long path opens on a FileStore and a MemoryStore, as it did before", async () => {
    const path = pathOf(599);
    for (const store of [new MemoryStore(), new FileStore(await tempDir())]) {
      assert.equal(keyRoomOf(store), undefined);
      const queue = await Queue.open(store, path, { logger: silentLogger });
      await queue.enqueue("q", "x");
      await queue.close();
      const reader = await QueueReader.open(store, path);
      assert.equal(reader.stats("q").pending, 1);
    }
    const memory = new MemoryStore();
    await (await Queue.open(memory, pathOf(1_500), { logger: silentLogger })).close();
  });

  it("a cloud store knows its key room: 1,024 bytes less its prefix and separator", () => {
    for (const store of cloudStores(""))
      assert.deepEqual(keyRoomOf(store), {
        length: MAX_OBJECT_KEY_BYTES,
        unit: "UTF-8 bytes",
        segments: undefined,
      });
    const prefix = pathOf(300);
    for (const store of cloudStores(`/${prefix}/`))
      assert.equal(keyRoomOf(store)?.length, MAX_OBJECT_KEY_BYTES - 301);
    // Azure counts characters, and segments.
    const azure = new AzureBlobStore({ container: "c", prefix: `/${prefix}/`, client: noRequests });
    assert.deepEqual(keyRoomOf(azure), {
      length: MAX_OBJECT_KEY_BYTES - prefix.length - 1,
      unit: "characters",
      segments: 254 - prefix.split("/").length,
    });
  });

  it("on a cloud store, a path that leaves no room for the names a queue adds is refused up front, saying what to do", async () => {
    const prefix = pathOf(300);
    const limit = MAX_OBJECT_KEY_BYTES - 301 - 1 - LONGEST_NAME_BYTES;
    for (const store of cloudStores(prefix)) {
      for (const path of [pathOf(limit + 1), `/${pathOf(limit)}x/`]) {
        const refused = (error: unknown) => {
          assert.ok(error instanceof InvalidArgumentError, String(error));
          assert.match(
            error.message,
            new RegExp(`^Expected \`path\` to be at most ${limit} UTF-8 bytes`),
          );
          assert.match(error.message, new RegExp(`got ${limit + 1} bytes`));
          assert.match(error.message, /1,024/);
          assert.match(error.message, /shorter `path`/);
          assert.match(error.message, /shorter `prefix`/);
          return true;
        };
        await assert.rejects(Queue.open(store, path, { logger: silentLogger }), refused);
        await assert.rejects(QueueReader.open(store, path), refused);
        await assert.rejects(readLog(store, path), refused);
      }
    }
  });

  it("at the limit, with a payload object, a checkpoint and a heartbeat, every key fits the room", async () => {
    const room = MAX_OBJECT_KEY_BYTES - 301;
    const path = `/${pathOf(room - 1 - LONGEST_NAME_BYTES)}/`;
    const store = new MemoryStore();
    const queue = await Queue.open(store, path, {
      logger: silentLogger,
      heartbeatMs: 1_000,
      payloadOffloadBytes: 1,
    });
    await queue.enqueue("q", "a payload object");
    await queue.close();
    const keys = (await listAll(store, "")).map((o) => o.key);
    assert.ok(keys.some((k) => k.includes("/checkpoint/")));
    assert.ok(keys.some((k) => k.includes("/payload/")));
    assert.ok(keys.some((k) => k.includes("/heartbeat/")));
    for (const key of keys) assert.ok(utf8(key) <= room, key);
    assert.ok(
      keys.some((k) => utf8(k) === room),
      "the longest key fills the room",
    );
  });

  it("a cloud prefix is refused only when it leaves room for no path at all", () => {
    const most = MAX_OBJECT_KEY_BYTES - 1 - LONGEST_NAME_BYTES;
    for (const store of cloudStores(pathOf(most)))
      assert.equal(keyRoomOf(store)?.length, LONGEST_NAME_BYTES);
    assert.throws(
      () => new S3Store({ bucket: "b", prefix: pathOf(most + 1), client: noRequests }),
      (error) => {
        assert.ok(error instanceof InvalidArgumentError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `^Expected \`options.prefix\` of S3Store to be at most ${most} UTF-8 bytes .*got ${most + 1} bytes`,
          ),
        );
        return true;
      },
    );
  });

  it("under a prefix that leaves room for the store's root only, a path is refused naming that, not a limit of 0 or -1 bytes", async () => {
    const most = MAX_OBJECT_KEY_BYTES - 1 - LONGEST_NAME_BYTES;
    for (const prefixBytes of [most, most - 1])
      for (const store of cloudStores(pathOf(prefixBytes)))
        await assert.rejects(QueueReader.open(store, "a"), (error) => {
          assert.ok(error instanceof InvalidArgumentError, String(error));
          assert.match(error.message, /^Expected `path` to be "" \(the store's root\)/);
          assert.match(
            error.message,
            /got 1 bytes: use a shorter `prefix` for the store, or the path ""$/,
          );
          assert.doesNotMatch(error.message, /at most -?\d+ UTF-8/);
          return true;
        });
  });

  it("a refused path writes nothing", async () => {
    const memory = new MemoryStore();
    const dir = await tempDir();
    const file = new FileStore(dir);
    // A path a FileStore refuses itself: still nothing written.
    for (const store of [memory, file])
      await assert.rejects(
        Queue.open(store, "a/../b", { logger: silentLogger }),
        InvalidArgumentError,
      );
    assert.deepEqual(await listAll(memory, ""), [], "nothing was written");
    assert.deepEqual(await readdir(dir), [], "nothing was written");
  });
});
