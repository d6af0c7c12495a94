// Listing pages a service may send that hold no keys yet say more follow: S3's ListObjectsV2
// with IsTruncated and a NextContinuationToken but no Contents, GCS's objects.list with a
// nextPageToken but no items (or only the cursor's own object, which `startOffset` includes).
// Neither protocol forbids them. Each runs the real client library against a local HTTP
// server that plays the service: the store must go on to the keys that follow, never report
// the listing as complete without them (a replay would then miss WAL batches).
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Storage } from "@google-cloud/storage";
import { GcsStore } from "../../src/store/gcs.js";
import { listAll, type ObjectStore } from "../../src/store/types.js";
import { azureStoreAt, gcsStoreAt, s3StoreAt } from "./sdk-stores.js";

type Answer = (url: URL, res: ServerResponse) => void;

describe("a listing page without keys that says more follow", { timeout: 60_000 }, () => {
  let answer: Answer = () => {};
  const asked: URL[] = [];
  let server: Server;
  let endpoint = "";

  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      req.resume();
      const url = new URL(req.url ?? "/", "http://localhost");
      asked.push(url);
      req.on("end", () => answer(url, res));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const s3Page = (keys: string[], token: string | undefined): string =>
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Name>jobs</Name><Prefix>q/</Prefix><KeyCount>${keys.length}</KeyCount><MaxKeys>1000</MaxKeys>` +
    `<IsTruncated>${token !== undefined}</IsTruncated>` +
    (token === undefined ? "" : `<NextContinuationToken>${token}</NextContinuationToken>`) +
    keys
      .map((key) => `<Contents><Key>${key}</Key><Size>1</Size><ETag>"e"</ETag></Contents>`)
      .join("") +
    "</ListBucketResult>";

  const s3Answers =
    (pages: Record<string, { keys: string[]; next?: string }>): Answer =>
    (url, res) => {
      const page = pages[url.searchParams.get("continuation-token") ?? ""];
      assert.ok(page, `unexpected request ${url}`);
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(s3Page(page.keys, page.next));
    };

  const gcsAnswers =
    (pages: Record<string, { names: string[]; next?: string }>): Answer =>
    (url, res) => {
      const page = pages[url.searchParams.get("pageToken") ?? ""];
      assert.ok(page, `unexpected request ${url}`);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: "storage#objects",
          ...(page.names.length === 0
            ? {}
            : { items: page.names.map((name) => ({ name, size: "1", etag: "e" })) }),
          ...(page.next === undefined ? {} : { nextPageToken: page.next }),
        }),
      );
    };

  async function listed(store: ObjectStore, startAfter?: string): Promise<string[]> {
    return (await listAll(store, "q/", startAfter)).map((info) => info.key);
  }

  it("S3Store: an empty truncated page is followed by its continuation token", async () => {
    answer = s3Answers({ "": { keys: [], next: "t1" }, t1: { keys: ["q/a", "q/b"] } });
    asked.length = 0;
    assert.deepEqual(await listed(s3StoreAt(endpoint)), ["q/a", "q/b"]);
    assert.equal(asked.length, 2);
  });

  it("S3Store: a truncated page without keys or a token is refused as not the service's", async () => {
    answer = (_url, res) => {
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(s3Page([], undefined).replace("<IsTruncated>false", "<IsTruncated>true"));
    };
    await assert.rejects(s3StoreAt(endpoint).list("q/"), (err: Error & { permanent?: boolean }) => {
      assert.equal(err.name, "StorageError");
      assert.equal(err.permanent, false);
      assert.match(err.message, /truncated|IsTruncated/i);
      return true;
    });
  });

  it("S3Store: a page that repeats the continuation token it was asked with is refused, not followed until the limit", async () => {
    answer = (_url, res) => {
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(s3Page([], "same"));
    };
    asked.length = 0;
    await assert.rejects(s3StoreAt(endpoint).list("q/"), (err: Error & { permanent?: boolean }) => {
      assert.equal(err.name, "StorageError");
      assert.equal(err.permanent, false);
      assert.match(err.message, /s3:\/\/jobs\//);
      assert.match(err.message, /repeats the continuation token/);
      assert.doesNotMatch(err.message, /timed out|without an answer/);
      return true;
    });
    assert.equal(asked.length, 2, "the first page, then the one that repeats its token");
  });

  const azurePage = (names: string[], marker: string | undefined): string =>
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<EnumerationResults ServiceEndpoint="${endpoint}/acc/" ContainerName="jobs">` +
    "<Prefix>q/</Prefix><MaxResults>1001</MaxResults><Blobs>" +
    names
      .map(
        (name) =>
          `<Blob><Name>${name}</Name><Properties><Content-Length>1</Content-Length><Etag>0x1</Etag>` +
          "<BlobType>BlockBlob</BlobType></Properties></Blob>",
      )
      .join("") +
    `</Blobs><NextMarker>${marker ?? ""}</NextMarker></EnumerationResults>`;

  const azureAnswers =
    (pages: Record<string, { names: string[]; next?: string }>): Answer =>
    (url, res) => {
      const page = pages[url.searchParams.get("marker") ?? ""];
      assert.ok(page, `unexpected request ${url}`);
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(azurePage(page.names, page.next));
    };

  it("AzureBlobStore: an empty page with a NextMarker is followed by it", async () => {
    answer = azureAnswers({ "": { names: [], next: "m1" }, m1: { names: ["q/a", "q/b"] } });
    assert.deepEqual(await listed(azureStoreAt(endpoint)), ["q/a", "q/b"]);
  });

  it("AzureBlobStore: a page that repeats the marker it was asked with is refused, not followed until the limit", async () => {
    answer = (_url, res) => {
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(azurePage([], "same"));
    };
    asked.length = 0;
    await assert.rejects(
      azureStoreAt(endpoint).list("q/"),
      (err: Error & { permanent?: boolean }) => {
        assert.equal(err.name, "StorageError");
        assert.equal(err.permanent, false);
        assert.match(err.message, /az:\/\/jobs\//);
        assert.match(err.message, /repeats the marker/);
        assert.doesNotMatch(err.message, /timed out|without an answer/);
        return true;
      },
    );
    assert.equal(asked.length, 2, "the first page, then the one that repeats its marker");
  });

  it("GcsStore: an empty page with a nextPageToken is followed by it", async () => {
    answer = gcsAnswers({ "": { names: [], next: "t1" }, t1: { names: ["q/a", "q/b"] } });
    assert.deepEqual(await listed(gcsStoreAt(endpoint)), ["q/a", "q/b"]);
  });

  it("GcsStore: a page holding only the cursor's object, with a nextPageToken, is followed by it", async () => {
    answer = gcsAnswers({ "": { names: ["q/a"], next: "t1" }, t1: { names: ["q/b"] } });
    assert.deepEqual(await listed(gcsStoreAt(endpoint), "q/a"), ["q/b"]);
  });

  it("GcsStore: a page that repeats the page token it was asked with is refused, not followed forever", async () => {
    answer = (_url, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "storage#objects", nextPageToken: "same" }));
    };
    asked.length = 0;
    await assert.rejects(
      gcsStoreAt(endpoint).list("q/"),
      (err: Error & { permanent?: boolean }) => {
        assert.equal(err.name, "StorageError");
        assert.equal(err.permanent, false);
        assert.match(err.message, /gs:\/\/jobs\//);
        assert.match(err.message, /repeats the page token/);
        assert.doesNotMatch(err.message, /timed out/);
        return true;
      },
    );
    assert.equal(asked.length, 2, "the first page, then the one that repeats its token");
  });

  it("GcsStore: a listing of empty pages that never ends asks for no page after the call's limit", async () => {
    let pages = 0;
    answer = (_url, res) => {
      pages++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "storage#objects", nextPageToken: `t${pages}` }));
    };
    const store = new GcsStore({
      bucket: "jobs",
      client: new Storage({
        apiEndpoint: endpoint,
        projectId: "offline",
        retryOptions: { autoRetry: false, maxRetries: 0 },
      }),
      timeoutMs: 300,
    });
    await assert.rejects(store.list("q/"), /timed out after 300 ms/);
    // One request may still be under way when the limit passes; none may start after it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const atRejection = pages;
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.ok(atRejection > 1, `the pages were followed (${atRejection})`);
    assert.equal(pages, atRejection, "no request after the call failed");
  });
});
