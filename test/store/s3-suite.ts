/**
 * Tests of S3Store against a live S3-protocol server, shared by every server
 * the tests start (s3rver, Ceph radosgw). Nothing here depends on conditional
 * writes: a server that ignores them is refused by the probe, which the
 * s3rver file tests on its own.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { StorageError } from "../../src/errors.js";
import { openStore } from "../../src/store/open-store.js";
import { S3Store, type S3StoreOptions } from "../../src/store/s3.js";
import { listAll } from "../../src/store/types.js";
import { UNUSUAL_KEY_SEGMENTS } from "./conformance.js";

/** A live server and a bucket on it that exists. */
export interface S3Target {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

/** An S3Store on `target` (path-style, one SDK attempt per request). */
export function s3StoreOn(target: S3Target, options: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({
    bucket: target.bucket,
    endpoint: target.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: target.credentials,
    maxAttempts: 1,
    ...options,
  });
}

export function describeS3Server(name: string, target: () => Promise<S3Target>): void {
  describe(`S3Store on ${name}`, { timeout: 180_000 }, () => {
    let server: S3Target;
    const makeStore = (options: Partial<S3StoreOptions> = {}): S3Store =>
      s3StoreOn(server, options);

    before(async () => {
      server = await target();
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
      const store = await openStore(url, {
        s3: { credentials: server.credentials, maxAttempts: 1 },
      });
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
        const page = await store.list("k/", {
          limit: 7,
          ...(cursor ? { startAfter: cursor } : {}),
        });
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

    it("a wrong access key is a permanent StorageError that never shows the secret", async () => {
      const secret = "SECRET-never-in-messages";
      const wrongKey = makeStore({
        prefix: "errors",
        credentials: { accessKeyId: "UNKNOWN-KEY-ID", secretAccessKey: secret },
      });
      await assert.rejects(wrongKey.put("k", bytes("x")), (err) => {
        assert.ok(err instanceof StorageError, `got ${err}`);
        assert.match(
          err.message,
          new RegExp(
            `^put "k" on s3://${server.bucket}/errors/ at http://127\\.0\\.0\\.1:\\d+ failed \\(HTTP 403\\)`,
          ),
        );
        assert.equal(err.permanent, true);
        assert.ok(!JSON.stringify(err).includes(secret) && !String(err.cause).includes(secret));
        assert.ok(!("$response" in (err.cause as object)), "the SDK's raw response is dropped");
        return true;
      });
    });

    it("a missing bucket is a permanent StorageError for every operation, head included", async () => {
      const noBucket = makeStore({ bucket: "no-such-bucket" });
      const operations: Array<[string, () => Promise<unknown>]> = [
        ["get", () => noBucket.get("k")],
        ["head", () => noBucket.head("k")],
        ["put", () => noBucket.put("k", bytes("x"))],
        ["create", () => noBucket.put("k", bytes("x"), { ifNoneMatch: "*" })],
        ["delete", () => noBucket.delete("k")],
        ["list", () => noBucket.list("")],
      ];
      for (const [op, call] of operations)
        await assert.rejects(call(), (err) => {
          assert.ok(err instanceof StorageError, `${op}: got ${err}`);
          assert.equal(err.permanent, true, `${op}: ${err.message}`);
          assert.match(err.message, /bucket "no-such-bucket" does not exist: create it/, op);
          return true;
        });
    });
  });
}
