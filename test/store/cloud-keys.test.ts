import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { GcsStore } from "../../src/store/gcs.js";
import { S3Store } from "../../src/store/s3.js";

// Names no request can carry are refused before anything is sent, so these
// stores point at a port where nothing listens: a refusal that came from a
// request would be a (transient) StorageError instead, retried for minutes.
const NOWHERE = "http://127.0.0.1:9";
type CloudStore = S3Store | AzureBlobStore | GcsStore;

const stores: Record<string, (prefix?: string) => CloudStore> = {
  S3Store: (prefix) =>
    new S3Store({
      bucket: "jobs",
      endpoint: NOWHERE,
      forcePathStyle: true,
      credentials: { accessKeyId: "id", secretAccessKey: "secret" },
      requestTimeoutMs: 2_000,
      ...(prefix === undefined ? {} : { prefix }),
    }),
  AzureBlobStore: (prefix) =>
    new AzureBlobStore({
      container: "jobs",
      connectionString: `DefaultEndpointsProtocol=http;AccountName=acc;AccountKey=a2V5;BlobEndpoint=${NOWHERE}/acc;`,
      requestTimeoutMs: 2_000,
      ...(prefix === undefined ? {} : { prefix }),
    }),
  GcsStore: (prefix) =>
    new GcsStore({
      bucket: "jobs",
      apiEndpoint: NOWHERE,
      projectId: "p",
      timeoutMs: 2_000,
      ...(prefix === undefined ? {} : { prefix }),
    }),
};

/**
 * The same stores over a client (see {@link recordingClient}): every request
 * would go through it, so a store that made none called it never.
 */
const overClient: Record<string, (client: never) => CloudStore> = {
  S3Store: (client) => new S3Store({ bucket: "jobs", client }),
  AzureBlobStore: (client) => new AzureBlobStore({ container: "jobs", client }),
  GcsStore: (client) => new GcsStore({ bucket: "jobs", client }),
};

/** A client that records each call made to it, and fails it (so no handle comes back). */
function recordingClient(): { client: never; calls: string[] } {
  const calls: string[] = [];
  const client = new Proxy(
    {},
    {
      get(_target, name) {
        if (name === "url") return `${NOWHERE}/acc/jobs`; // read by AzureBlobStore's describe()
        if (name === "then" || typeof name === "symbol") return undefined; // not a promise
        return (...args: unknown[]) => {
          calls.push(`${String(name)}(${args.map((a) => JSON.stringify(a)).join(", ")})`);
          throw new Error(`a call to the client: ${String(name)}`);
        };
      },
    },
  );
  return { client: client as never, calls };
}

/** Queue.open at `path` on a `name` store: refused at once, before anything reaches the client. */
async function openRefusedWithoutRequest(
  name: string,
  path: string,
  pattern: RegExp,
): Promise<void> {
  const { client, calls } = recordingClient();
  await assert.rejects(
    Queue.open(overClient[name]!(client), path, { logger: silentLogger }),
    (err) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.match(err.message, pattern);
      return true;
    },
  );
  // No request: nothing transient to retry, and nothing sent with a name the service would misread.
  assert.deepEqual(calls, [], "no store request was made");
}

async function refusedEverywhere(store: CloudStore, key: string, pattern: RegExp): Promise<void> {
  const calls = {
    get: () => store.get(key),
    head: () => store.head(key),
    put: () => store.put(key, new Uint8Array(1)),
    create: () => store.put(key, new Uint8Array(1), { ifNoneMatch: "*" }),
    delete: () => store.delete(key),
    list: () => store.list(key),
    "list after": () => store.list("", { startAfter: key }),
  };
  for (const [name, call] of Object.entries(calls)) {
    await assert.rejects(call(), (err) => {
      assert.ok(err instanceof InvalidArgumentError, `${name} ${JSON.stringify(key)}: ${err}`);
      assert.match(err.message, pattern);
      return true;
    });
  }
}

describe("cloud store names that no request can carry", { timeout: 30_000 }, () => {
  for (const [name, make] of Object.entries(stores)) {
    it(`${name} refuses an unpaired surrogate in a key, list argument, prefix or queue path at once`, async () => {
      await refusedEverywhere(make(), "jobs/a\uD800b", /unpaired UTF-16 surrogate/);
      assert.throws(() => make("app\uDC00"), InvalidArgumentError);
      await openRefusedWithoutRequest(name, "jobs\uD800", /`path`.*unpaired UTF-16 surrogate/s);
    });
  }

  it("AzureBlobStore refuses what its XML listings cannot carry: control characters, U+FFFE, U+FFFF", async () => {
    const store = stores.AzureBlobStore!();
    for (const char of ["\u0000", "\u0001", "\u000B", "\r", "\u001F", "\uFFFE", "\uFFFF"]) {
      await refusedEverywhere(store, `jobs/a${char}b`, /XML listings cannot carry/);
      assert.throws(() => stores.AzureBlobStore!(`app${char}`), InvalidArgumentError);
      await openRefusedWithoutRequest("AzureBlobStore", `jobs${char}`, /XML listings cannot carry/);
    }
  });

  it("tabs, line feeds and other characters stay ordinary names", async () => {
    for (const make of Object.values(stores)) {
      const store = make("app\tx");
      // Sent, so it fails at the unreachable endpoint instead: a StorageError, not a refusal.
      await assert.rejects(store.head("a\nb/\u007F\u0085\uFDD0😀"), (err) => {
        assert.ok(!(err instanceof InvalidArgumentError), String(err));
        return true;
      });
    }
  });
});
