/**
 * Every request of every adapter ends within its time limit with a transient
 * StorageError: against a TCP server that accepts connections and never
 * answers (S3, Azure, GCS through their real SDK clients), and a FileStore
 * whose file blocks every read (a FIFO, like a stalled network share).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { InvalidArgumentError, StorageError } from "../../src/errors.js";
import { Queue } from "../../src/queue/queue.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { FileStore } from "../../src/store/file.js";
import { GcsStore } from "../../src/store/gcs.js";
import { S3Store } from "../../src/store/s3.js";
import type { ObjectStore } from "../../src/store/types.js";
import { recordingLogger } from "../recording-logger.js";
import { type HungServer, startHungServer } from "../servers/hung-server.js";

const LIMIT_MS = 300;
/** Time allowed past the limit (a loaded machine, two test files at once). */
const SLACK_MS = 1_500;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Every operation of `store` must reject within the limit with a transient StorageError. */
async function expectEveryCallTimesOut(store: ObjectStore, label: string): Promise<void> {
  const calls: Array<[string, () => Promise<unknown>]> = [
    ["get", () => store.get("k")],
    ["put", () => store.put("k", bytes("x"))],
    ["create", () => store.put("k", bytes("x"), { ifNoneMatch: "*" })],
    ["delete", () => store.delete("k")],
    ["list", () => store.list("")],
  ];
  if (store.head !== undefined) {
    const head = store.head.bind(store);
    calls.push(["head", () => head("k")]);
  }
  await Promise.all(
    calls.map(async ([op, call]) => {
      const started = performance.now();
      await assert.rejects(call(), (err) => {
        assert.ok(err instanceof StorageError, `${label} ${op}: ${err}`);
        assert.equal(err.permanent, false, `${label} ${op}`);
        assert.match(err.message, new RegExp(`timed out after ${LIMIT_MS} ms`), `${label} ${op}`);
        assert.equal((err.cause as { code?: string }).code, "ETIMEDOUT");
        return true;
      });
      const elapsed = performance.now() - started;
      assert.ok(
        elapsed >= LIMIT_MS - 20 && elapsed < LIMIT_MS + SLACK_MS,
        `${label} ${op} took ${Math.round(elapsed)} ms`,
      );
    }),
  );
}

/**
 * Make one call through `store` until a request of it reached `server` (each call times
 * out): its first calls build the client, which on a loaded machine can take longer than
 * the limit, and then the timed calls would run out before sending anything.
 */
async function warmUp(store: ObjectStore, server: HungServer): Promise<void> {
  const before = server.connections();
  for (let attempt = 0; attempt < 20 && server.connections() === before; attempt++)
    await store.get("warm-up").catch(() => {});
  assert.ok(server.connections() > before, "no request reached the server");
}

describe("a server that accepts connections and never answers", { timeout: 60_000 }, () => {
  let server: HungServer;
  before(async () => {
    server = await startHungServer();
    // Load the SDKs up front: a store's first call imports its SDK, which on a busy machine
    // can take longer than the limit, and then no request would reach the server.
    await Promise.all([
      import("@aws-sdk/client-s3"),
      import("@azure/storage-blob"),
      import("@google-cloud/storage"),
    ]);
  });
  after(async () => {
    await server?.close();
  });

  it("S3Store: every call ends within requestTimeoutMs", async () => {
    const store = new S3Store({
      bucket: "jobs",
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "id", secretAccessKey: "secret" },
      requestTimeoutMs: LIMIT_MS,
    });
    await warmUp(store, server);
    const before = server.connections();
    await expectEveryCallTimesOut(store, "S3Store");
    assert.ok(server.connections() > before, "the requests reached the server");
  });

  it("AzureBlobStore: every call ends within requestTimeoutMs", async () => {
    const key = Buffer.from("not a real key").toString("base64");
    const store = new AzureBlobStore({
      container: "jobs",
      connectionString: `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=${key};BlobEndpoint=${server.endpoint}/acct;`,
      requestTimeoutMs: LIMIT_MS,
    });
    await warmUp(store, server);
    await expectEveryCallTimesOut(store, "AzureBlobStore");
  });

  it("GcsStore: every call ends within timeoutMs", async () => {
    const store = new GcsStore({
      bucket: "jobs",
      apiEndpoint: server.endpoint,
      projectId: "offline",
      timeoutMs: LIMIT_MS,
    });
    await warmUp(store, server);
    await expectEveryCallTimesOut(store, "GcsStore");
  });

  it("Queue.open keeps retrying with backoff, logs one line, and fails with STORAGE when the budget ends", async () => {
    const store = new S3Store({
      bucket: "jobs",
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "id", secretAccessKey: "secret" },
      requestTimeoutMs: LIMIT_MS,
    });
    const logger = recordingLogger();
    const started = performance.now();
    await assert.rejects(
      Queue.open(store, "q", {
        logger,
        log: { retry: { baseDelayMs: 10, maxDelayMs: 100, maxElapsedMs: 2_000 } },
      }),
      (err) => {
        assert.ok(err instanceof StorageError, String(err));
        assert.equal(err.permanent, false);
        assert.match(err.message, /failed after \d+ attempt\(s\)/);
        return true;
      },
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 1_500 && elapsed < 2_000 + 2 * LIMIT_MS + SLACK_MS, `${elapsed} ms`);
    // The probe and the manifest listing run side by side, each retrying: one outage, one line.
    assert.deepEqual(logger.messages("warn"), ["store request failed; retrying with backoff"]);
  });
});

describe("a time limit longer than a timer can hold", { timeout: 30_000 }, () => {
  // Node fires a timer set past 2^31 - 1 ms after 1 ms, so such a limit would fail every call at once.
  const tooLong = 2 ** 31;
  const azure =
    "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/a;";
  const cases: Array<[string, () => unknown, RegExp]> = [
    [
      "S3Store requestTimeoutMs",
      () => new S3Store({ bucket: "b", requestTimeoutMs: tooLong }),
      /^Expected `options.requestTimeoutMs` of S3Store to be a positive integer number of milliseconds up to 2147483647/,
    ],
    [
      "S3Store connectionTimeoutMs",
      () => new S3Store({ bucket: "b", connectionTimeoutMs: tooLong }),
      /^Expected `options.connectionTimeoutMs` of S3Store to be .* up to 2147483647/,
    ],
    [
      "AzureBlobStore requestTimeoutMs",
      () =>
        new AzureBlobStore({ container: "c", connectionString: azure, requestTimeoutMs: tooLong }),
      /^Expected `options.requestTimeoutMs` of AzureBlobStore to be .* up to 2147483647/,
    ],
    [
      "AzureBlobStore tryTimeoutMs",
      () => new AzureBlobStore({ container: "c", connectionString: azure, tryTimeoutMs: tooLong }),
      /^Expected `options.tryTimeoutMs` of AzureBlobStore to be .* up to 2147483647/,
    ],
    [
      "GcsStore timeoutMs",
      () => new GcsStore({ bucket: "b", timeoutMs: tooLong }),
      /^Expected `options.timeoutMs` of GcsStore to be .* up to 2147483647/,
    ],
    [
      "FileStore timeoutMs",
      () => new FileStore(join(tmpdir(), "never-created"), { timeoutMs: Number.MAX_SAFE_INTEGER }),
      /Expected `options.timeoutMs` of FileStore to be .* up to 2147483647/,
    ],
  ];
  for (const [name, make, message] of cases)
    it(`${name} is refused with InvalidArgumentError`, () => {
      assert.throws(make, (err) => {
        assert.ok(err instanceof InvalidArgumentError, String(err));
        assert.match(err.message, message);
        return true;
      });
    });

  it("the longest limit a timer can hold is accepted", () => {
    const longest = 2 ** 31 - 1;
    new S3Store({ bucket: "b", requestTimeoutMs: longest, connectionTimeoutMs: longest });
    new AzureBlobStore({
      container: "c",
      connectionString: azure,
      requestTimeoutMs: longest,
      tryTimeoutMs: longest,
    });
    new GcsStore({ bucket: "b", timeoutMs: longest });
  });
});

describe("a FileStore on a filesystem that stalls", { timeout: 30_000 }, () => {
  let dir: string;
  const fifos: string[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-stall-"));
  });
  after(async () => {
    // Opening the other end lets the abandoned read finish, so this process can exit.
    for (const fifo of fifos) {
      const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => null);
      await writer?.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("a read that blocks ends within timeoutMs with a transient StorageError", async () => {
    const store = new FileStore(join(dir, "store"), { timeoutMs: LIMIT_MS });
    // Written with the default limit: a durable put on a loaded machine may take longer.
    await new FileStore(join(dir, "store")).put("ready", bytes("x"));
    // A FIFO in place of the object: opening it blocks until a writer appears, as a read
    // from an unreachable network share blocks in the kernel.
    await mkdir(join(dir, "store"), { recursive: true });
    const fifo = join(dir, "store", "blocked");
    await promisify(execFile)("mkfifo", [fifo]);
    fifos.push(fifo);
    const started = performance.now();
    await assert.rejects(store.get("blocked"), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, false);
      assert.match(err.message, /get "blocked" on file:.* timed out after 300 ms/);
      return true;
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= LIMIT_MS - 20 && elapsed < LIMIT_MS + SLACK_MS, `${elapsed} ms`);
    // The store goes on serving other keys.
    assert.equal(new TextDecoder().decode((await store.get("ready"))?.body), "x");
  });

  it("accepts the longest limit a timer can hold, and works with it", async () => {
    const store = new FileStore(join(dir, "longest"), { timeoutMs: 2_147_483_647 });
    await store.put("k", bytes("x"));
    assert.equal(new TextDecoder().decode((await store.get("k"))?.body), "x");
  });

  it("rejects a timeoutMs that is not a positive integer", () => {
    for (const timeoutMs of [0, -1, 1.5, Number.NaN])
      assert.throws(
        () => new FileStore(dir, { timeoutMs }),
        /Expected `options.timeoutMs` of FileStore to be a positive integer number of milliseconds/,
      );
  });
});
