/**
 * Bad input to the stores, `openStore` and the store wrappers is refused with
 * `InvalidArgumentError` (code `INVALID_ARGUMENT`) whose message is in the
 * one style of `src/validate.ts`: "Expected `x` (of where) to be …, got …".
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runInNewContext } from "node:vm";
import { InvalidArgumentError } from "../../src/errors.js";
import { Queue } from "../../src/queue/queue.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { FileStore } from "../../src/store/file.js";
import { GcsStore } from "../../src/store/gcs.js";
import { MemoryStore } from "../../src/store/memory.js";
import { openStore } from "../../src/store/open-store.js";
import { S3Store } from "../../src/store/s3.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { LatencyStore } from "../../src/store/wrappers/latency.js";
import { RANDOM_SOURCE } from "../../src/util/random.js";

const AZURE =
  "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/a;";

/** Escapes `text` for a RegExp. */
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Asserts `error` is an InvalidArgumentError whose message starts with `Expected \`arg\`` + `rest`. */
function refused(error: unknown, arg: string, rest: string | RegExp): true {
  assert.ok(error instanceof InvalidArgumentError, String(error));
  assert.equal(error.code, "INVALID_ARGUMENT");
  assert.match(error.message, /^Expected `[^`]+`( of .+?)? to be .+, got /);
  const tail = typeof rest === "string" ? literal(rest) : rest.source;
  assert.match(error.message, new RegExp(`^Expected \`${literal(arg)}\`${tail}`));
  return true;
}

const throwsArg = (make: () => unknown, arg: string, rest: string | RegExp): void =>
  assert.throws(make, (error) => refused(error, arg, rest));

const rejectsArg = (call: Promise<unknown>, arg: string, rest: string | RegExp): Promise<void> =>
  assert.rejects(call, (error) => refused(error, arg, rest));

describe("bad input to the stores names what was wrong in the one style", {
  timeout: 60_000,
}, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-argument-errors-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("FileStore: its constructor, put, list and keys", async () => {
    const bad = (value: unknown) => value as never;
    throwsArg(() => new FileStore(""), "directory", ' of FileStore to be a non-empty path, got ""');
    throwsArg(() => new FileStore(dir, bad(5)), "options", " of FileStore to be an options object");
    throwsArg(
      () => new FileStore(dir, { fsync: bad("yes") }),
      "options.fsync",
      ' of FileStore to be a boolean, got "yes"',
    );
    throwsArg(
      () => new FileStore(join(dir, "n".repeat(300))),
      "directory",
      " of FileStore to be a path whose names are at most 255 bytes each, got a name of 300 bytes",
    );
    throwsArg(
      () => new FileStore(dir, { timeoutMs: 0 }),
      "options.timeoutMs",
      " of FileStore to be a positive integer number of milliseconds",
    );
    const store = new FileStore(join(dir, "store"));
    await rejectsArg(
      store.put("k", bad("text")),
      "body",
      ' of put "k" to be a Uint8Array, got "text"',
    );
    const detached = new Uint8Array(4);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    await rejectsArg(
      store.put("k", detached),
      "body",
      ' of put "k" to be a Uint8Array with an attached buffer',
    );
    await rejectsArg(store.list(bad(5)), "prefix", " of list to be a string, got 5");
    await rejectsArg(
      store.list("", { limit: 0 }),
      "options.limit",
      " of list to be a number ≥ 1, got 0",
    );
    await rejectsArg(
      store.put(`${"s".repeat(300)}/x`, new Uint8Array(1)),
      "key",
      / to be a key whose segments each encode to a file name of at most 255 bytes, got "s+\/x", with a segment that encodes to 30\d bytes$/,
    );
    await rejectsArg(
      store.put(`a/${"abcdefghij/".repeat(500)}x`, new Uint8Array(1)),
      "key",
      / of put to be short enough for a file name, got "a\/abcdefghij\//,
    );
  });

  it("MemoryStore and FileStore: keys no store can hold", async () => {
    for (const store of [new MemoryStore(), new FileStore(join(dir, "keys"))]) {
      await rejectsArg(store.get(""), "key", ' to be a non-empty string, got ""');
      await rejectsArg(
        store.get("/jobs/1"),
        "key",
        ' to be a relative object key (no leading "/")',
      );
      await rejectsArg(
        store.get("a/../b"),
        "key",
        ' to be "/"-separated non-empty segments without "." or "..", NUL or backslash, got "a/../b", which contains a ".." path segment',
      );
    }
  });

  it("MemoryStore and FileStore: a Uint8Array from another realm is a body, other views are not", async () => {
    for (const store of [new MemoryStore(), new FileStore(join(dir, "realms"))]) {
      const foreign: Uint8Array = runInNewContext("new Uint8Array([1, 2])");
      assert.ok(!(foreign instanceof Uint8Array), "made in another realm");
      await store.put("k", foreign);
      assert.deepEqual([...((await store.get("k"))?.body ?? [])], [1, 2]);
      await store.put("c", runInNewContext("new Uint8Array([3])"), { ifNoneMatch: "*" });
      assert.deepEqual([...((await store.get("c"))?.body ?? [])], [3]);
      for (const other of ["new DataView(new ArrayBuffer(2))", "new Uint16Array(1)", "'text'"])
        await rejectsArg(
          store.put("k", runInNewContext(other)),
          "body",
          ' of put "k" to be a Uint8Array, got ',
        );
      const detached: Uint8Array<ArrayBuffer> = runInNewContext("new Uint8Array(4)");
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      await rejectsArg(
        store.put("k", detached),
        "body",
        ' of put "k" to be a Uint8Array with an attached buffer',
      );
    }
  });

  it("S3Store, GcsStore and AzureBlobStore: their options and keys", async () => {
    const bad = (value: unknown) => value as never;
    throwsArg(
      () => new S3Store(bad(null)),
      "options",
      " of S3Store to be an object with at least { bucket }, got null",
    );
    throwsArg(
      () => new S3Store({ bucket: "" }),
      "options.bucket",
      ' of S3Store to be a non-empty string, got ""',
    );
    throwsArg(
      () => new S3Store({ bucket: "b", prefix: bad(5) }),
      "options.prefix",
      " of S3Store to be a string, got 5",
    );
    throwsArg(
      () => new S3Store({ bucket: "b", prefix: "a//b" }),
      "options.prefix",
      ' of S3Store to be "/"-separated names without empty, "." or ".." segments, got "a//b"',
    );
    throwsArg(
      () => new S3Store({ bucket: "b", maxAttempts: 0 }),
      "options.maxAttempts",
      " of S3Store to be a positive integer, got 0",
    );
    throwsArg(
      () => new S3Store({ bucket: "b", endpoint: "h:9000?sig=SECRET" }),
      "options.endpoint",
      ' of S3Store to be an http(s) URL such as "http://127.0.0.1:9000", got "h:9000?sig=…"',
    );
    for (const endpoint of [
      "http://h/a/../b",
      "http://h/%2e",
      "https://h/minio\\..\\x",
      "http://h/a/.\n./b",
    ])
      throwsArg(
        () => new S3Store({ bucket: "b", endpoint }),
        "options.endpoint",
        / of S3Store to be an endpoint URL without "\." or "\.\." path segments, got ".*", with a "\.\.?" path segment, which the URL parser resolves away \(sending requests to another path than written\)$/,
      );
    for (const endpoint of [
      "http://127.0.0.1:7480",
      "https://s3.eu-west-1.amazonaws.com",
      "http://minio.local:9000/minio/",
      "http://h/a..b/.c",
    ])
      assert.ok(new S3Store({ bucket: "b", endpoint }).describe().startsWith("s3://b/ at http"));
    throwsArg(
      () => new GcsStore({ bucket: "b", apiEndpoint: "http://h/a/../b?sig=SECRET" }),
      "options.apiEndpoint",
      ' of GcsStore to be an endpoint URL without "." or ".." path segments, got "http://h/a/../b?sig=…", with a ".." path segment, which the URL parser resolves away (sending requests to another path than written)',
    );
    throwsArg(
      () => new GcsStore({ bucket: "b", apiEndpoint: bad(5) }),
      "options.apiEndpoint",
      " of GcsStore to be a URL string, got 5",
    );
    assert.ok(new GcsStore({ bucket: "b", apiEndpoint: "http://127.0.0.1:4443" }));
    assert.ok(new GcsStore({ bucket: "b", apiEndpoint: "storage.googleapis.com" }));
    throwsArg(
      () => new GcsStore(bad(undefined)),
      "options",
      " of GcsStore to be an object with at least { bucket }, got undefined",
    );
    throwsArg(
      () => new GcsStore({ bucket: "b", maxRetries: -1 }),
      "options.maxRetries",
      " of GcsStore to be an integer ≥ 0, got -1",
    );
    throwsArg(
      () => new AzureBlobStore(bad("c")),
      "options",
      " of AzureBlobStore to be an object with { container }",
    );
    throwsArg(
      () => new AzureBlobStore({ container: "c" }),
      "options",
      " of AzureBlobStore to be an object with one of client, connectionString or accountUrl (with credential), got none of them",
    );
    throwsArg(
      () =>
        new AzureBlobStore({ container: "c", accountUrl: "acct.blob.core.windows.net?sig=SECRET" }),
      "options.accountUrl",
      ' of AzureBlobStore to be an http(s) URL such as "https://myaccount.blob.core.windows.net", got "acct.blob.core.windows.net?sig=…"',
    );
    throwsArg(
      () => new AzureBlobStore({ container: "c", connectionString: AZURE, prefix: "a/./b" }),
      "options.prefix",
      " of AzureBlobStore to be",
    );
    throwsArg(
      () => new AzureBlobStore({ container: "c", connectionString: AZURE, tryTimeoutMs: -1 }),
      "options.tryTimeoutMs",
      " of AzureBlobStore to be a positive integer number of milliseconds",
    );
    throwsArg(
      () =>
        new AzureBlobStore({ container: "c", connectionString: "AccountName=a;AccountKey=SECRET" }),
      "options.connectionString",
      " of AzureBlobStore to be an Azure Storage connection string (DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net), got one with AccountKey but without DefaultEndpointsProtocol (which an account key needs) or SharedAccessSignature",
    );
    // Keys: refused before any SDK is loaded or request sent.
    const s3 = new S3Store({ bucket: "b" });
    await rejectsArg(s3.get(""), "key", ' to be a non-empty string, got ""');
    const azure = new AzureBlobStore({ container: "c", connectionString: AZURE });
    await rejectsArg(
      azure.get("a\\b"),
      "key",
      ' to be "/"-separated names without "\\", "." or ".." segments, got "a\\\\b", with a backslash',
    );
    await rejectsArg(azure.get("a/../b"), "key", ' to be "/"-separated names');
    // Bodies and listing arguments: the checks of every store (the conformance suite holds
    // Azure to them on Azurite; S3 and GCS have no server here that passes that suite).
    const gcs = new GcsStore({ bucket: "b" });
    for (const store of [s3, gcs, azure]) {
      await rejectsArg(store.put("k", bad("text")), "body", ' of put "k" to be a Uint8Array');
      await rejectsArg(store.list(bad(5)), "prefix", " of list to be a string, got 5");
      await rejectsArg(
        store.list("", { limit: 0 }),
        "options.limit",
        " of list to be a number ≥ 1, got 0",
      );
    }
  });

  it("openStore: the URL", async () => {
    await rejectsArg(
      openStore(""),
      "url",
      ' of openStore to be a store URL (a non-empty string), got ""',
    );
    await rejectsArg(
      openStore(5 as never),
      "url",
      " of openStore to be a store URL (a non-empty string), got 5",
    );
    await rejectsArg(
      openStore("ftp://host/x?token=SECRET"),
      "url",
      ' of openStore to be a store URL, got "ftp://host/x?token=…": unknown scheme "ftp:". Supported forms: ',
    );
  });

  it("LatencyStore: its options", () => {
    throwsArg(
      () => new LatencyStore(new MemoryStore(), { latencyMs: -1 }),
      "options.latencyMs",
      " of LatencyStore to be a finite number ≥ 0, got -1",
    );
    throwsArg(
      () => new LatencyStore(new MemoryStore(), { latencyMs: 0, jitterMs: Number.NaN }),
      "options.jitterMs",
      " of LatencyStore to be a finite number ≥ 0, got NaN",
    );
  });

  it("FaultStore, CountingStore and LatencyStore: what they wrap and every option", async () => {
    const bad = (value: unknown) => value as never;
    const memory = new MemoryStore();
    const objectStore =
      "an ObjectStore (an object with get, put, delete, list and describe methods)";
    throwsArg(
      () => new FaultStore(bad(null)),
      "inner",
      ` of FaultStore to be ${objectStore}, got null`,
    );
    throwsArg(() => new CountingStore(bad({})), "inner", ` of CountingStore to be ${objectStore}`);
    throwsArg(
      () => new LatencyStore(bad("memory://"), { latencyMs: 0 }),
      "inner",
      ` of LatencyStore to be ${objectStore}, got "memory://"`,
    );
    throwsArg(
      () => new FaultStore(memory, bad(null)),
      "options",
      " of FaultStore to be an options object, got null",
    );
    throwsArg(
      () => new FaultStore(memory, { random: bad(0.5) }),
      "options.random",
      " of FaultStore to be a function, got 0.5",
    );
    const faults = new FaultStore(memory);
    const rule = (fields: Record<string, unknown>) => () =>
      faults.addRule({ mode: "before", ...fields } as never);
    throwsArg(
      () => faults.addRule(bad(undefined)),
      "rule",
      " of FaultStore.addRule to be an options object, got undefined",
    );
    throwsArg(
      rule({ mode: "during" }),
      "rule.mode",
      ' of FaultStore.addRule to be "before" or "after", got "during"',
    );
    throwsArg(
      rule({ probability: 5 }),
      "rule.probability",
      " of FaultStore.addRule to be a number from 0 to 1, got 5",
    );
    throwsArg(
      rule({ probability: Number.NaN }),
      "rule.probability",
      " of FaultStore.addRule to be a number from 0 to 1, got NaN",
    );
    throwsArg(
      rule({ probability: "0.5" }),
      "rule.probability",
      ' of FaultStore.addRule to be a number from 0 to 1, got "0.5"',
    );
    throwsArg(
      rule({ times: 0 }),
      "rule.times",
      " of FaultStore.addRule to be a positive integer (or Infinity), got 0",
    );
    throwsArg(
      rule({ times: 1.5 }),
      "rule.times",
      " of FaultStore.addRule to be a positive integer (or Infinity), got 1.5",
    );
    throwsArg(
      rule({ op: "post" }),
      "rule.op",
      ' of FaultStore.addRule to be one of "get", "put", "delete", "list", "head", or an array of them, got "post"',
    );
    throwsArg(
      rule({ op: ["put", "write"] }),
      "rule.op",
      ' of FaultStore.addRule to be one of "get", "put", "delete", "list", "head", or an array of them, got an array with "write"',
    );
    throwsArg(
      rule({ keyPrefix: 5 }),
      "rule.keyPrefix",
      " of FaultStore.addRule to be a string, got 5",
    );
    throwsArg(
      rule({ keyPattern: "jobs/" }),
      "rule.keyPattern",
      ' of FaultStore.addRule to be a RegExp, got "jobs/"',
    );
    throwsArg(
      rule({ error: new Error("x") }),
      "rule.error",
      " of FaultStore.addRule to be a function, got an object",
    );
    // Refused rules are not added; good ones still are.
    faults.addRule({ mode: "before", probability: 0, times: Number.POSITIVE_INFINITY });
    faults.addRule({
      mode: "after",
      op: ["get", "head"],
      keyPattern: /x/,
      probability: 1,
      times: 2,
    });
    await memory.put("k", new Uint8Array(1));
    assert.ok(await faults.get("k"));
    throwsArg(
      () => faults.pause(bad(null)),
      "match",
      " of FaultStore.pause to be an options object, got null",
    );
    throwsArg(
      () => faults.pause({ mode: bad("later") }),
      "match.mode",
      ' of FaultStore.pause to be one of "before", "after", got "later"',
    );
    throwsArg(
      () => faults.pause({ op: bad(["got"]) }),
      "match.op",
      " of FaultStore.pause to be one of",
    );
    throwsArg(
      () => faults.pause({ keyPrefix: bad(/x/) }),
      "match.keyPrefix",
      " of FaultStore.pause to be a string, got an object",
    );
    const paused = faults.pause({ op: "put" });
    await rejectsArg(
      paused.whenHeld(0),
      "count",
      " of PauseHandle.whenHeld to be a positive integer, got 0",
    );
    paused.release();
    throwsArg(
      () => new LatencyStore(memory, bad(undefined)),
      "options",
      " of LatencyStore to be an options object, got undefined",
    );
    throwsArg(
      () => new LatencyStore(memory, { latencyMs: 0, random: bad(42) }),
      "options.random",
      " of LatencyStore to be a function, got 42",
    );
    throwsArg(
      () => new LatencyStore(memory, { latencyMs: 0, ops: bad("put") }),
      "options.ops",
      ' of LatencyStore to be an array of one of "get", "put", "delete", "list", "head", got "put"',
    );
  });

  it("a test-only random source that is none keeps its TypeError, in the one wording", async () => {
    await assert.rejects(
      Queue.open(new MemoryStore(), "q", { [RANDOM_SOURCE]: { bytes: 1 } } as never),
      (error) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(
          error.message,
          /^Expected `options\[Symbol\.for\("taquba\.randomSource"\)\]` to be a test-only random source \(an object with bytes, fraction and ulid methods\), got an object$/,
        );
        return true;
      },
    );
  });
});
