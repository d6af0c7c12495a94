/**
 * Azure Blob Storage counts a blob name's 1,024 in characters, not UTF-8 bytes, and takes at
 * most 254 "/"-separated segments in it. A path (or store prefix) with too many segments would
 * fail at the queue's first write, with an HTTP 400; one of non-ASCII text that fits the 1,024
 * characters works there, and is not refused for its bytes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { checkedLogPrefix } from "../../src/log/keys.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { S3Store } from "../../src/store/s3.js";

/** A client any request through fails the test: a refused open must make none. */
const noRequests: never = new Proxy(
  {},
  {
    get(_target, name) {
      if (name === "then") return undefined;
      if (name === "url") return "https://account.blob.core.windows.net/c";
      throw new Error(`a request was made (${String(name)})`);
    },
  },
) as never;

const azure = (prefix = "") => new AzureBlobStore({ container: "c", prefix, client: noRequests });
/** A path of `count` "/"-separated segments. */
const segments = (count: number) => Array.from({ length: count }, () => "a").join("/");

describe("Azure blob names: characters and segments", () => {
  it("counts a path's length in characters, as Azure does: non-ASCII text within 1,024 characters is taken", () => {
    // 2 UTF-8 bytes each: over the 965 bytes a byte-counting store leaves, within Azure's characters.
    const path = "é".repeat(900);
    assert.equal(checkedLogPrefix(path, "path", azure()), `${path}/`);
    assert.throws(
      () => checkedLogPrefix(path, "path", new S3Store({ bucket: "b", client: noRequests })),
      InvalidArgumentError,
    );
    const prefix = "é".repeat(600);
    assert.equal(checkedLogPrefix("é".repeat(300), "path", azure(prefix)), `${"é".repeat(300)}/`);
  });

  it("refuses a path too long in characters, naming characters", async () => {
    const path = "é".repeat(966);
    await assert.rejects(QueueReader.open(azure(), path), (error) => {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, /^Expected `path` to be at most 965 characters on az:\/\/c\//);
      assert.match(error.message, /1,024 characters/);
      assert.match(error.message, /got 966 characters: use a shorter `path`/);
      return true;
    });
  });

  it("refuses, before any request, a path with more segments than a blob name leaves room for", async () => {
    for (const [prefix, most] of [
      ["", 252],
      [segments(100), 152],
    ] as const) {
      const store = azure(prefix);
      assert.equal(
        checkedLogPrefix(segments(most), "path", store),
        `${segments(most)}/`,
        "at the limit",
      );
      const refused = (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError, String(error));
        assert.match(
          error.message,
          new RegExp(`^Expected \`path\` to be at most ${most} "/"-separated segments on az://c/`),
        );
        assert.match(error.message, /254 segments/);
        assert.match(error.message, new RegExp(`got ${most + 1} segments`));
        assert.match(error.message, /fewer segments/);
        assert.match(error.message, /shorter `prefix`/);
        return true;
      };
      const path = `/${segments(most + 1)}/`;
      await assert.rejects(Queue.open(store, path, { logger: silentLogger }), refused);
      await assert.rejects(QueueReader.open(store, path), refused);
    }
    // S3 and GCS have no such limit.
    const s3 = new S3Store({ bucket: "b", client: noRequests });
    assert.equal(checkedLogPrefix(segments(400), "path", s3), `${segments(400)}/`);
  });

  it("refuses a store prefix that leaves no room for the segments a queue adds", () => {
    assert.doesNotThrow(() => azure(segments(252)));
    assert.throws(
      () => azure(segments(253)),
      (error) => {
        assert.ok(error instanceof InvalidArgumentError, String(error));
        assert.match(
          error.message,
          /^Expected `options.prefix` of AzureBlobStore to be at most 252 "\/"-separated segments \(blob names take at most 254 segments.*got 253 segments$/,
        );
        return true;
      },
    );
    assert.throws(
      () => checkedLogPrefix("a", "path", azure(segments(252))),
      (error) => {
        assert.ok(error instanceof InvalidArgumentError, String(error));
        assert.match(error.message, /^Expected `path` to be "" \(the store's root\)/);
        assert.match(error.message, /got 1 segments: use a shorter `prefix` for the store/);
        return true;
      },
    );
    assert.equal(checkedLogPrefix("", "path", azure(segments(252))), "");
  });
});
