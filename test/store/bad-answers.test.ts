// What each cloud adapter does with answers that are not its service's: a proxy's HTML page
// served as 200, an empty 200, a JSON or XML document of the wrong shape, a 502 whose body is
// one byte longer than its Content-Length says, a 503 whose body is cut short. Each runs the
// real client library against a local HTTP server that plays the bad intermediary. A store
// call must then reject with a transient StorageError: never resolve (an empty listing, an
// HTML page read as an object's bytes, a missing object read as one that exists, a write
// acknowledged by the proxy), and never end the process with an exception thrown
// outside the call's promise.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { CRC32C } from "@google-cloud/storage";
import { StorageError } from "../../src/errors.js";
import { checkNotHtml, UnexpectedAnswerError } from "../../src/store/cloud/errors.js";
import type { ObjectStore } from "../../src/store/types.js";
import { azureStoreAt, gcsStoreAt, s3StoreAt } from "./sdk-stores.js";

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

const HTML = "<html><body>Please sign in to the proxy</body></html>";

/** One bad answer per mode, given to every request. */
const ANSWERS: Record<string, Answer> = {
  "an HTML page served as 200": (_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(HTML);
  },
  "an empty 200": (_req, res) => {
    res.writeHead(200, { "content-type": "application/xml", "content-length": "0" });
    res.end();
  },
  "an empty JSON object served as 200": (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  },
  "an XML document of another kind served as 200": (_req, res) => {
    res.writeHead(200, { "content-type": "application/xml" });
    res.end('<?xml version="1.0" encoding="UTF-8"?><Status><Healthy>true</Healthy></Status>');
  },
  "a 502 whose body is one byte longer than its Content-Length": (req, _res) => {
    const body = "<html><body>502 Bad Gateway</body></html>";
    req.socket.end(
      "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n" +
        `Content-Length: ${body.length - 1}\r\nConnection: close\r\n\r\n${body}`,
    );
  },
  "a 503 whose body is cut short": (req, _res) => {
    req.socket.write(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n" +
        "Content-Length: 500\r\n\r\n<html><body>Service Unava",
    );
    setTimeout(() => req.socket.destroy(), 20);
  },
};

const stores: Record<string, (endpoint: string) => ObjectStore> = {
  S3Store: s3StoreAt,
  AzureBlobStore: azureStoreAt,
  GcsStore: gcsStoreAt,
};

const calls: Record<string, (store: ObjectStore) => Promise<unknown>> = {
  get: (store) => store.get("q/wal/00000000000000000001"),
  list: (store) => store.list("q/manifest/"),
  // A proxy's 200 would otherwise read as "the object exists" (replay looks a WAL slot up so).
  head: (store) => store.head!("q/wal/00000000000000000001"),
  put: (store) =>
    store.put("q/wal/00000000000000000002", new Uint8Array([1, 2, 3]), { ifNoneMatch: "*" }),
};

describe("a bad answer from a proxy or a flaky server", { timeout: 120_000 }, () => {
  let answer: Answer = ANSWERS["an empty 200"]!;
  let server: Server;
  let endpoint = "";
  // Thrown outside any call's promise: without these listeners each would end the process.
  const escaped: unknown[] = [];
  const onEscape = (err: unknown): void => {
    escaped.push(err);
  };

  before(async () => {
    process.on("uncaughtException", onEscape);
    process.on("unhandledRejection", onEscape);
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => answer(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    process.off("uncaughtException", onEscape);
    process.off("unhandledRejection", onEscape);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const [storeName, makeStore] of Object.entries(stores))
    for (const [mode, give] of Object.entries(ANSWERS))
      for (const [op, call] of Object.entries(calls))
        it(`${storeName} ${op}: ${mode} is a transient failure`, async () => {
          answer = give;
          escaped.length = 0;
          const store = makeStore(endpoint);
          let outcome: unknown;
          try {
            outcome = { resolved: await call(store) };
          } catch (err) {
            outcome = err;
          }
          // What a client library throws outside the call comes a little later.
          await new Promise((resolve) => setTimeout(resolve, 100));
          assert.deepEqual(
            escaped.map((err) => String(err)),
            [],
            "nothing may escape the call's promise",
          );
          assert.ok(
            outcome instanceof StorageError,
            `expected a StorageError, got ${inspect(outcome)}`,
          );
          assert.equal(outcome.code, "STORAGE");
          assert.equal(outcome.permanent, false, outcome.message);
        });
});

describe("GcsStore with the client library still reads the service's own answers", () => {
  it("an object (with x-goog-generation), a missing object and a listing page", async () => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname.endsWith("/o/q%2Fobj") && url.searchParams.get("alt") === "media") {
        res.writeHead(200, {
          "content-type": "application/octet-stream",
          "x-goog-generation": "1700000000000001",
          etag: "CAE=",
        });
        res.end(Buffer.from([0, 1, 2, 255]));
      } else if (url.pathname.endsWith("/o/q%2Fgone")) {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("No such object: jobs/q/gone");
      } else if (url.pathname.endsWith("/b/jobs/o")) {
        assert.equal(url.searchParams.get("prefix"), "q/");
        assert.equal(url.searchParams.get("maxResults"), "3");
        res.writeHead(200, { "content-type": "application/json; charset=UTF-8" });
        res.end(
          JSON.stringify({
            kind: "storage#objects",
            items: ["q/a", "q/b", "q/c"].map((name) => ({ name, size: "4", etag: `e-${name}` })),
            nextPageToken: "t",
          }),
        );
      } else {
        res.writeHead(500);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const store = stores.GcsStore!(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const read = await store.get("q/obj");
      assert.deepEqual(read?.body, new Uint8Array([0, 1, 2, 255]));
      assert.equal(await store.get("q/gone"), null);
      assert.deepEqual(await store.list("q/", { limit: 2 }), {
        objects: [
          { key: "q/a", size: 4, etag: "e-q/a" },
          { key: "q/b", size: 4, etag: "e-q/b" },
        ],
        nextStartAfter: "q/b",
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("GcsStore with the client library reads emulators' answers", () => {
  // gcp-storage-emulator answers a listing with `kind: "storage#object"` (singular), and a
  // download with X-Goog-Hash but no x-goog-generation; fake-gcs-server leaves `items` out of
  // an empty listing. None of these is a proxy's page.
  let listing: unknown = {};
  let objectHeaders: Record<string, string> = {};
  let server: Server;
  let store: ObjectStore;

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      const url = new URL(req.url ?? "/", "http://x");
      if (url.searchParams.get("alt") === "media") {
        res.writeHead(200, { "content-length": "3", ...objectHeaders });
        res.end(Buffer.from([7, 8, 9]));
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(listing));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    store = stores.GcsStore!(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const item = { kind: "storage#object", name: "q/a", size: "3", etag: "CAE=" };
  const listings: Array<[string, unknown, unknown]> = [
    [
      'kind "storage#object" with items and prefixes',
      { kind: "storage#object", prefixes: [], items: [item] },
      { objects: [{ key: "q/a", size: 3, etag: "CAE=" }] },
    ],
    ['kind "storage#objects" and no items', { kind: "storage#objects" }, { objects: [] }],
    ["items and no kind", { items: [item] }, { objects: [{ key: "q/a", size: 3, etag: "CAE=" }] }],
  ];
  for (const [name, body, expected] of listings)
    it(`a listing with ${name} is read`, async () => {
      listing = body;
      assert.deepEqual(await store.list("q/"), expected);
    });

  it("a listing with neither items nor a listing's kind (a bucket's, one object's) is refused", async () => {
    for (const body of [
      { kind: "storage#bucket", name: "jobs" },
      { kind: "storage#object", name: "q/a", size: "3" },
      { kind: "storage#objectAccessControls" },
    ]) {
      listing = body;
      await assert.rejects(
        store.list("q/"),
        (err) => {
          assert.ok(err instanceof StorageError && !err.permanent, inspect(err));
          return true;
        },
        JSON.stringify(body),
      );
    }
  });

  const objectAnswers: Record<string, Record<string, string>> = {
    "x-goog-hash only": { "x-goog-hash": gcsHashes(Buffer.from([7, 8, 9])) },
    "x-goog-stored-content-length only": { "x-goog-stored-content-length": "3" },
    "x-goog-generation only": { "x-goog-generation": "1" },
  };
  for (const [name, headers] of Object.entries(objectAnswers))
    it(`an object's answer with ${name} is read`, async () => {
      objectHeaders = { "content-type": "application/octet-stream", ...headers };
      const read = await store.get("q/a");
      assert.deepEqual(read?.body, new Uint8Array([7, 8, 9]));
    });

  it("an object's answer with none of those headers, or typed as HTML, is refused", async () => {
    for (const headers of [
      { "content-type": "application/octet-stream" } as Record<string, string>,
      { "content-type": "TEXT/HTML ; charset=utf-8", "x-goog-generation": "1" },
    ]) {
      objectHeaders = headers;
      await assert.rejects(store.get("q/a"), (err) => {
        assert.ok(err instanceof StorageError && !err.permanent, inspect(err));
        return true;
      });
    }
  });
});

describe("checkNotHtml", () => {
  it("refuses text/html with or without parameters, in any case, and nothing else", () => {
    for (const type of [
      "text/html",
      "Text/HTML; charset=utf-8",
      " text/html;q=1",
      "text/html ",
      // Malformed parameters some servers send: still a page.
      "text/html,charset=utf-8",
      "text/html charset=utf-8",
    ])
      assert.throws(() => checkNotHtml("get", type), UnexpectedAnswerError, type);
    for (const type of ["text/html-fragment", "application/octet-stream", "text/plain", undefined])
      assert.doesNotThrow(() => checkNotHtml("get", type), String(type));
  });
});

/** The X-Goog-Hash header GCS sends with these bytes. */
function gcsHashes(body: Buffer): string {
  const crc = new CRC32C();
  crc.update(body);
  return `crc32c=${crc.toString()},md5=${createHash("md5").update(body).digest("base64")}`;
}

function inspect(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value, (_key, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString() : v,
    );
  } catch {
    return String(value);
  }
}
