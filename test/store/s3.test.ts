import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { InvalidArgumentError, StorageError, UnsupportedStoreError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { probeConditionalWrites } from "../../src/store/probe.js";
import { S3Store } from "../../src/store/s3.js";
import { listAll, ObjectExistsError } from "../../src/store/types.js";
import { type S3rverServer, startS3rver } from "../servers/s3rver.js";
import { describeS3Server, s3StoreOn } from "./s3-suite.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

// s3rver (the S3-protocol server on the npm registry) does not honour
// `If-None-Match: *` on PutObject, so the conformance suite cannot pass on it:
// it runs the S3 tests that need no conditional writes (shared with radosgw,
// which runs everything), and the refusal test below checks that the log's
// probe refuses it unless the caller opts out.
let started: Promise<S3rverServer> | undefined;
const s3rver = (): Promise<S3rverServer> => {
  started ??= startS3rver();
  return started;
};
after(async () => {
  await (await started)?.stop();
});

describeS3Server("s3rver", s3rver);

describe("s3rver refusal: a store that ignores If-None-Match", { timeout: 180_000 }, () => {
  let server: S3rverServer;
  before(async () => {
    server = await s3rver();
  });

  it("sends If-None-Match, but s3rver ignores it: the probe refuses the store", async () => {
    const store = s3StoreOn(server, { prefix: "probe" });
    await store.put("twice", bytes("one"), { ifNoneMatch: "*" });
    // s3rver-specific: a store that honours the condition rejects this with ObjectExistsError.
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
    const store = s3StoreOn(server, { prefix: "unsafe-queue" });
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
    const { client, calls } = scriptedClient([
      () => ({ ETag: '"e"' }),
      s3Error("PreconditionFailed", 412),
    ]);
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
    const retried = scriptedClient([conflict, conflict, () => ({ ETag: '"e"' })]);
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
    const { client, calls } = scriptedClient([
      s3Error("NoSuchKey", 404),
      s3Error("NotFound", 404),
      () => ({}),
      s3Error("InternalError", 500),
      s3Error("AccessDenied", 403),
      s3Error("SlowDown", 503),
    ]);
    const store = new S3Store({ bucket: "b", client });
    assert.equal(await store.get("k"), null);
    // A HEAD 404 has no body to say whether the key or the bucket is missing: the bucket is asked.
    assert.equal(await store.head("k"), null);
    assert.deepEqual(calls[2], { Bucket: "b" });
    await assert.rejects(store.get("k"), (err) => {
      assert.ok(err instanceof StorageError);
      assert.match(err.message, /get "k" on s3:\/\/b\/ failed \(HTTP 500\): InternalError/);
      assert.equal(err.permanent, false);
      return true;
    });
    await assert.rejects(store.list("x/"), { code: "STORAGE", permanent: true });
    await assert.rejects(store.delete("k"), { code: "STORAGE", permanent: false });
  });

  it("classifies answers that cannot heal as permanent, with what to fix", async () => {
    const cases: Array<[() => unknown, boolean, RegExp]> = [
      [s3Error("NoSuchBucket", 404), true, /bucket "b" does not exist: create it/],
      [s3Error("InvalidAccessKeyId", 403), true, /does not know this access key id/],
      [s3Error("SignatureDoesNotMatch", 403), true, /check the secret access key/],
      [s3Error("AccessDenied", 403), true, /allow these credentials to get, put, delete and list/],
      [s3Error("Unknown", 403), true, /Access denied: check the credentials/],
      [s3Error("PermanentRedirect", 301), true, /in another region: set `region`/],
      [s3Error("RequestTimeTooSkewed", 403), true, /fix the clock/],
      [s3Error("InvalidRequest", 400), true, /HTTP 400/],
      [
        () => {
          throw Object.assign(new Error("Could not load credentials from any providers"), {
            name: "CredentialsProviderError",
          });
        },
        true,
        /No AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*, or pass `credentials` to S3Store$/,
      ],
      [s3Error("InternalError", 500), false, /HTTP 500/],
      [s3Error("SlowDown", 503), false, /HTTP 503/],
      [s3Error("RequestTimeout", 400), false, /HTTP 400/],
      [s3Error("TooManyRequests", 429), false, /HTTP 429/],
      [
        () => {
          throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        },
        false,
        /socket hang up/,
      ],
    ];
    for (const [answer, permanent, message] of cases) {
      const store = new S3Store({ bucket: "b", client: scriptedClient([answer]).client });
      await assert.rejects(store.put("k", bytes("x")), (err) => {
        assert.ok(err instanceof StorageError, String(err));
        assert.equal(err.permanent, permanent, err.message);
        assert.match(err.message, message);
        return true;
      });
    }
  });

  it("an answer without an S3 error code or message says what answered, not the SDK's placeholders", async () => {
    const answer = (name: string, status: number, server?: string) => (): never => {
      // What the SDK makes of an answer without <Code> / <Message>.
      throw Object.assign(new Error("UnknownError"), {
        name,
        $metadata: { httpStatusCode: status },
        $response: { headers: server === undefined ? {} : { server } },
      });
    };
    const put = async (store: S3Store): Promise<Error> => {
      try {
        await store.put("k", bytes("x"));
      } catch (err) {
        return err as Error;
      }
      throw new Error("the put succeeded");
    };
    // radosgw sends a code but no message.
    const radosgw = await put(
      new S3Store({ bucket: "b", client: scriptedClient([answer("NoSuchBucket", 404)]).client }),
    );
    assert.match(
      radosgw.message,
      /^put "k" on s3:\/\/b\/ failed \(HTTP 404\): NoSuchBucket\. The bucket "b" does not exist/,
    );
    // An endpoint that is no S3 server (here Azurite) sends neither.
    const notS3 = await put(
      new S3Store({
        bucket: "b",
        endpoint: "http://127.0.0.1:10000",
        client: scriptedClient([answer("Unknown", 400, "Azurite-Blob/3.37.0")]).client,
      }),
    );
    assert.ok(notS3 instanceof StorageError);
    assert.equal(notS3.permanent, true);
    assert.match(
      notS3.message,
      /failed \(HTTP 400\)\. The server at http:\/\/127\.0\.0\.1:10000 answered HTTP 400 without an S3 error code \(its Server header: "Azurite-Blob\/3\.37\.0"\): check that the endpoint is an S3-compatible service/,
    );
    for (const error of [radosgw, notS3]) assert.doesNotMatch(error.message, /Unknown/);
  });

  it("head on a missing bucket throws a permanent StorageError, never null", async () => {
    const { client } = scriptedClient([s3Error("NotFound", 404), s3Error("NotFound", 404)]);
    await assert.rejects(new S3Store({ bucket: "gone", client }).head("k"), (err) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.permanent, true);
      assert.match(err.message, /head "k" on s3:\/\/gone\/ failed \(HTTP 404\): NoSuchBucket/);
      assert.match(err.message, /bucket "gone" does not exist/);
      return true;
    });
  });

  it("a ready client that never answers still ends every call within requestTimeoutMs", async () => {
    const signals: AbortSignal[] = [];
    const client = {
      send: (_command: unknown, options?: { abortSignal?: AbortSignal }) => {
        if (options?.abortSignal !== undefined) signals.push(options.abortSignal);
        return new Promise(() => {});
      },
    } as unknown as S3Client;
    const store = new S3Store({ bucket: "b", client, requestTimeoutMs: 50 });
    const started = performance.now();
    await assert.rejects(store.get("k"), (err) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.permanent, false);
      assert.match(err.message, /^get "k" on s3:\/\/b\/ timed out after 50 ms without an answer/);
      assert.equal((err.cause as { code?: string }).code, "ETIMEDOUT");
      return true;
    });
    assert.ok(performance.now() - started < 1_000);
    assert.equal(signals.length, 1);
    assert.equal(signals[0]?.aborted, true, "the request is aborted, not just abandoned");
  });
});

describe("S3Store options", { timeout: 180_000 }, () => {
  it("rejects bad options with InvalidArgumentError naming them", () => {
    assert.throws(
      () => new S3Store({ bucket: "" }),
      /^InvalidArgumentError: Expected `options.bucket` of S3Store to be a non-empty string, got ""$/,
    );
    assert.throws(
      () => new S3Store({ bucket: "b", endpoint: "127.0.0.1:9000" }),
      /^InvalidArgumentError: Expected `options.endpoint` of S3Store to be an http\(s\) URL/,
    );
    assert.throws(() => new S3Store({ bucket: "b", prefix: "a//b" }), InvalidArgumentError);
    assert.throws(
      () => new S3Store({ bucket: "b", maxAttempts: 0 }),
      /^InvalidArgumentError: Expected `options.maxAttempts` of S3Store to be a positive integer, got 0$/,
    );
    assert.throws(
      () => new S3Store({ bucket: "b", requestTimeoutMs: 0 }),
      /^InvalidArgumentError: Expected `options.requestTimeoutMs` of S3Store to be a positive integer/,
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
