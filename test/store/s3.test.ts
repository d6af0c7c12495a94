import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { InvalidArgumentError, StorageError, UnsupportedStoreError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { openStore } from "../../src/store/open-store.js";
import { probeConditionalWrites } from "../../src/store/probe.js";
import { S3Store, type S3StoreOptions } from "../../src/store/s3.js";
import { listAll, ObjectExistsError } from "../../src/store/types.js";
import { type S3rverServer, startS3rver } from "../servers/s3rver.js";
import { UNUSUAL_KEY_SEGMENTS } from "./conformance.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

// s3rver (the S3-protocol server on the npm registry) does not honour
// `If-None-Match: *` on PutObject, so the conformance suite cannot pass on it:
// these tests cover everything else against it, and check that the log's probe
// refuses it unless the caller opts out.
describe("S3Store on s3rver", { timeout: 180_000 }, () => {
  let server: S3rverServer;
  const stores: S3Store[] = [];
  const makeStore = (options: Partial<S3StoreOptions> = {}): S3Store => {
    const store = new S3Store({
      bucket: server.bucket,
      endpoint: server.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: server.credentials,
      maxAttempts: 1,
      ...options,
    });
    stores.push(store);
    return store;
  };

  before(async () => {
    server = await startS3rver();
  });
  after(async () => {
    await server?.stop();
  });

  it("puts, gets, heads, overwrites and deletes objects under its prefix", async () => {
    const store = makeStore({ prefix: "round-trip" });
    assert.equal(await store.get("a/b"), null);
    assert.equal(await store.head("a/b"), null);
    await store.put("a/b", bytes("hello"));
    const got = await store.get("a/b");
    assert.equal(text(got?.body), "hello");
    assert.ok(got?.etag, "get returns the etag");
    assert.equal(Object.getPrototypeOf(got.body), Uint8Array.prototype, "a plain Uint8Array");
    assert.deepEqual(await store.head("a/b"), { key: "a/b", size: 5, etag: got.etag });
    await store.put("a/b", bytes("bye"));
    assert.equal(text((await store.get("a/b"))?.body), "bye");
    await store.delete("a/b");
    await store.delete("a/b");
    assert.equal(await store.get("a/b"), null);
    await store.put("empty", new Uint8Array(0));
    assert.equal((await store.get("empty"))?.body.byteLength, 0);
  });

  it("openStore('s3://…?endpoint=…&forcePathStyle=true') reaches the same bucket", async () => {
    const url = `s3://${server.bucket}/from-url?endpoint=${server.endpoint}&region=us-east-1&forcePathStyle=true`;
    const store = await openStore(url, { s3: { credentials: server.credentials, maxAttempts: 1 } });
    assert.ok(store instanceof S3Store);
    await store.put("k", bytes("via URL"));
    assert.equal(text((await makeStore({ prefix: "from-url" }).get("k"))?.body), "via URL");
    assert.equal(store.describe(), `s3://${server.bucket}/from-url/ at ${server.endpoint}`);
  });

  it("keeps stores with different prefixes apart and strips the prefix from listed keys", async () => {
    const left = makeStore({ prefix: "tenant" });
    const right = makeStore({ prefix: "tenant2/" });
    const root = makeStore();
    await left.put("x", bytes("left"));
    await right.put("x", bytes("right"));
    assert.equal(text((await left.get("x"))?.body), "left");
    assert.deepEqual(
      (await listAll(left, "")).map((o) => o.key),
      ["x"],
    );
    assert.deepEqual(
      (await listAll(root, "tenant")).map((o) => o.key),
      ["tenant/x", "tenant2/x"],
    );
  });

  it("round-trips keys with unusual characters (URL-encoding of keys)", async () => {
    const store = makeStore({ prefix: "unusual keys" });
    for (const segment of UNUSUAL_KEY_SEGMENTS) {
      const key = `${segment}/${segment}`;
      await store.put(key, bytes(segment));
      assert.equal(text((await store.get(key))?.body), segment, `get ${key}`);
      assert.equal((await store.head(key))?.size, bytes(segment).byteLength, `head ${key}`);
      assert.deepEqual(
        (await listAll(store, `${segment}/`)).map((o) => o.key),
        [key],
        `list ${key}`,
      );
      await store.delete(key);
      assert.equal(await store.get(key), null, `deleted ${key}`);
    }
  });

  it("maps ListObjectsV2 pages to limit, startAfter and nextStartAfter", async () => {
    const store = makeStore({ prefix: "paging" });
    const keys = Array.from({ length: 25 }, (_, i) => `k/${String(i).padStart(2, "0")}`);
    await Promise.all(keys.map((key) => store.put(key, bytes(key))));
    await store.put("kz", bytes("outside the listed prefix"));

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list("k/", { limit: 7, ...(cursor ? { startAfter: cursor } : {}) });
      pages.push(page.objects.map((o) => o.key));
      assert.ok(page.objects.every((o) => o.size === 4));
      cursor = page.nextStartAfter;
    } while (cursor !== undefined);
    assert.deepEqual(
      pages.map((p) => p.length),
      [7, 7, 7, 4],
    );
    assert.deepEqual(pages.flat(), keys);
    assert.deepEqual(
      (await store.list("k/", { startAfter: "k/20" })).objects.map((o) => o.key),
      keys.slice(21),
    );
    assert.deepEqual(await store.list("k/", { startAfter: "k/24" }), { objects: [] });
  });

  it("sends If-None-Match, but s3rver ignores it: the probe refuses the store", async () => {
    const store = makeStore({ prefix: "probe" });
    await store.put("twice", bytes("one"), { ifNoneMatch: "*" });
    // A store that honours the condition would reject this with ObjectExistsError.
    await store.put("twice", bytes("two"), { ifNoneMatch: "*" });
    assert.equal(text((await store.get("twice"))?.body), "two");

    await assert.rejects(probeConditionalWrites(store, "queue/"), (err) => {
      assert.ok(err instanceof UnsupportedStoreError);
      assert.equal(err.code, "UNSUPPORTED_STORE");
      assert.match(err.message, /ignored a conditional create/);
      assert.match(err.message, /allowUnsafeStore: true/);
      assert.match(err.message, /s3:\/\/taquba-test\/probe\//);
      return true;
    });
    assert.deepEqual(await listAll(store, "queue/"), [], "the probe cleans up after itself");
  });

  it("Queue.open refuses s3rver unless allowUnsafeStore is set, and then works", async () => {
    const store = makeStore({ prefix: "unsafe-queue" });
    await assert.rejects(Queue.open(store, "app", { logger: silentLogger }), {
      code: "UNSUPPORTED_STORE",
    });
    assert.deepEqual(await listAll(store, ""), [], "a refused open leaves nothing behind");

    const unsafe = { logger: silentLogger, log: { allowUnsafeStore: true } };
    const first = await Queue.open(store, "app", unsafe);
    const id = await first.enqueue("emails", "hello");
    await first.close();
    const reopened = await Queue.open(store, "app", unsafe);
    const claim = await reopened.claim("emails");
    assert.equal(claim?.id, id);
    assert.equal(text(claim?.payload), "hello");
    await reopened.ack(claim!);
    await reopened.close();
  });

  it("reports server errors as StorageError without credentials; a missing bucket is not 'not found'", async () => {
    const secret = "SECRET-never-in-messages";
    const wrongKey = makeStore({
      prefix: "errors",
      credentials: { accessKeyId: "UNKNOWN-KEY-ID", secretAccessKey: secret },
    });
    await assert.rejects(wrongKey.put("k", bytes("x")), (err) => {
      assert.ok(err instanceof StorageError, `got ${err}`);
      assert.match(
        err.message,
        /^put "k" on s3:\/\/taquba-test\/errors\/ at http:\/\/127\.0\.0\.1:\d+ failed \(HTTP 403\)/,
      );
      assert.ok(!JSON.stringify(err).includes(secret) && !String(err.cause).includes(secret));
      assert.ok(!("$response" in (err.cause as object)), "the SDK's raw response is dropped");
      return true;
    });

    const noBucket = makeStore({ bucket: "no-such-bucket" });
    await assert.rejects(noBucket.get("k"), StorageError);
    await assert.rejects(noBucket.list(""), StorageError);
  });
});

/** A client whose `send` answers from a script: for the error paths a live server cannot produce. */
function scriptedClient(answers: (() => unknown)[]): { client: S3Client; calls: unknown[] } {
  const calls: unknown[] = [];
  const client = {
    send: async (command: { input: unknown }) => {
      calls.push(command.input);
      const answer = answers.shift();
      if (answer === undefined) throw new Error("unexpected request");
      return answer();
    },
  };
  return { client: client as unknown as S3Client, calls };
}

const s3Error = (name: string, status: number) => () => {
  throw Object.assign(new Error(`${name} from S3`), {
    name,
    $metadata: { httpStatusCode: status, requestId: "req-1" },
    $response: { headers: { authorization: "AWS4-HMAC-SHA256 Credential=AKIA/secret" } },
  });
};

describe("S3Store request building and error mapping (injected client)", {
  timeout: 180_000,
}, () => {
  it("a create sends IfNoneMatch and maps 412 PreconditionFailed to ObjectExistsError", async () => {
    const { client, calls } = scriptedClient([() => ({}), s3Error("PreconditionFailed", 412)]);
    const store = new S3Store({ bucket: "b", prefix: "p", client });
    await store.put("wal/1", bytes("x"), { ifNoneMatch: "*" });
    await assert.rejects(store.put("wal/1", bytes("y"), { ifNoneMatch: "*" }), (err) => {
      assert.ok(err instanceof ObjectExistsError);
      assert.equal(err.key, "wal/1");
      return true;
    });
    assert.deepEqual(
      calls.map((c) => {
        const { Bucket, Key, IfNoneMatch, ContentLength } = c as Record<string, unknown>;
        return { Bucket, Key, IfNoneMatch, ContentLength };
      }),
      [
        { Bucket: "b", Key: "p/wal/1", IfNoneMatch: "*", ContentLength: 1 },
        { Bucket: "b", Key: "p/wal/1", IfNoneMatch: "*", ContentLength: 1 },
      ],
    );
  });

  it("retries 409 ConditionalRequestConflict on a create, then reports the outcome", async () => {
    const conflict = s3Error("ConditionalRequestConflict", 409);
    const retried = scriptedClient([conflict, conflict, () => ({})]);
    await new S3Store({ bucket: "b", client: retried.client }).put("k", bytes("x"), {
      ifNoneMatch: "*",
    });
    assert.equal(retried.calls.length, 3);

    const lost = scriptedClient([conflict, s3Error("PreconditionFailed", 412)]);
    await assert.rejects(
      new S3Store({ bucket: "b", client: lost.client }).put("k", bytes("x"), { ifNoneMatch: "*" }),
      ObjectExistsError,
    );
  });

  it("a plain overwrite has no condition, and 412/409 there are storage errors", async () => {
    const { client, calls } = scriptedClient([s3Error("ConditionalRequestConflict", 409)]);
    const store = new S3Store({ bucket: "b", client });
    await assert.rejects(store.put("k", bytes("x")), (err) => {
      assert.ok(err instanceof StorageError);
      assert.equal((err.cause as { statusCode?: number }).statusCode, 409);
      assert.ok(!JSON.stringify(err.cause).includes("AKIA"), "request headers are not kept");
      return true;
    });
    assert.equal(calls.length, 1);
    assert.equal((calls[0] as { IfNoneMatch?: string }).IfNoneMatch, undefined);
  });

  it("NoSuchKey reads as null; other failures of get/list/delete are StorageErrors", async () => {
    const { client } = scriptedClient([
      s3Error("NoSuchKey", 404),
      s3Error("NotFound", 404),
      s3Error("InternalError", 500),
      s3Error("AccessDenied", 403),
      s3Error("SlowDown", 503),
    ]);
    const store = new S3Store({ bucket: "b", client });
    assert.equal(await store.get("k"), null);
    assert.equal(await store.head("k"), null);
    await assert.rejects(
      store.get("k"),
      /get "k" on s3:\/\/b\/ failed \(HTTP 500\): InternalError/,
    );
    await assert.rejects(store.list("x/"), StorageError);
    await assert.rejects(store.delete("k"), StorageError);
  });
});

describe("S3Store options", { timeout: 180_000 }, () => {
  it("rejects bad options with InvalidArgumentError naming them", () => {
    assert.throws(() => new S3Store({ bucket: "" }), /S3Store bucket: expected a non-empty string/);
    assert.throws(
      () => new S3Store({ bucket: "b", endpoint: "127.0.0.1:9000" }),
      /S3Store endpoint: expected an http\(s\) URL/,
    );
    assert.throws(() => new S3Store({ bucket: "b", prefix: "a//b" }), InvalidArgumentError);
    assert.throws(
      () => new S3Store({ bucket: "b", maxAttempts: 0 }),
      /maxAttempts: expected a positive integer/,
    );
  });

  it("describe() names bucket, prefix and endpoint but never credentials", () => {
    const store = new S3Store({
      bucket: "jobs",
      prefix: "/prod/queue/",
      endpoint: "https://user:pass@minio.local:9000/?token=abc",
      credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "very-secret" },
    });
    assert.equal(store.describe(), "s3://jobs/prod/queue/ at https://minio.local:9000");
    assert.equal(new S3Store({ bucket: "jobs" }).describe(), "s3://jobs/");
  });
});
