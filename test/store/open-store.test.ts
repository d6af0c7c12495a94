import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { InvalidArgumentError } from "../../src/errors.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { FileStore } from "../../src/store/file.js";
import { GcsStore } from "../../src/store/gcs.js";
import { MemoryStore } from "../../src/store/memory.js";
import { openStore } from "../../src/store/open-store.js";
import { S3Store } from "../../src/store/s3.js";
import { redactSecrets } from "../../src/util/redact.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

/** Assert `openStore(url)` rejects with InvalidArgumentError matching `pattern` and listing the forms. */
async function rejectsUrl(url: string, pattern: RegExp, env = {}): Promise<InvalidArgumentError> {
  let caught: unknown;
  await openStore(url, { env }).then(
    () => assert.fail(`openStore(${JSON.stringify(url)}) should have failed`),
    (err: unknown) => {
      caught = err;
    },
  );
  assert.ok(caught instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${caught}`);
  assert.match(caught.message, pattern);
  assert.match(caught.message, /Supported forms: "memory:\/\/", "file:\/\/\/absolute\/dir"/);
  return caught;
}

describe("openStore", { timeout: 60_000 }, () => {
  it("memory:// opens a fresh MemoryStore each time", async () => {
    const a = await openStore("memory://");
    const b = await openStore("memory://");
    assert.ok(a instanceof MemoryStore && b instanceof MemoryStore);
    await a.put("k", bytes("v"));
    assert.equal(await b.get("k"), null);
    await rejectsUrl("memory://somewhere", /a memory store URL is exactly "memory:\/\/"/);
  });

  it("file:///abs/dir and plain paths open a FileStore on that directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-open-store-"));
    try {
      const byUrl = await openStore(pathToFileURL(dir).href, { file: { fsync: false } });
      assert.ok(byUrl instanceof FileStore);
      await byUrl.put("jobs/1", bytes("via file URL"));
      const byAbsolutePath = await openStore(dir);
      const byRelativePath = await openStore(relative(process.cwd(), dir) || ".");
      assert.ok(byAbsolutePath instanceof FileStore && byRelativePath instanceof FileStore);
      assert.equal(text((await byAbsolutePath.get("jobs/1"))?.body), "via file URL");
      assert.equal(text((await byRelativePath.get("jobs/1"))?.body), "via file URL");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await rejectsUrl("file://relative/dir", /expected "file:\/\/\/absolute\/dir"/);
    await rejectsUrl("file:///tmp/x?fsync=false", /expected "file:\/\/\/absolute\/dir"/);
  });

  it("s3://bucket/prefix takes endpoint, region and forcePathStyle from the query", async () => {
    const store = await openStore(
      "s3://jobs/prod/queue?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true",
    );
    assert.ok(store instanceof S3Store);
    assert.equal(store.describe(), "s3://jobs/prod/queue/ at http://127.0.0.1:9000");
    assert.equal((await openStore("s3://jobs")).describe(), "s3://jobs/");
    assert.equal((await openStore("s3://jobs/with%20space/")).describe(), "s3://jobs/with space/");
  });

  it("rejects malformed s3:// URLs, never echoing credentials", async () => {
    await rejectsUrl("s3://", /expected "s3:\/\/bucket\/prefix\?endpoint=/);
    await rejectsUrl("s3:///prefix-only", /with a bucket or container name/);
    await rejectsUrl("s3://jobs:9000/p", /a bucket name, not host:port/);
    await rejectsUrl(
      "s3://jobs/p?regoin=eu-west-1",
      /unknown query parameter "regoin"; expected "endpoint", "region", "forcePathStyle"/,
    );
    await rejectsUrl(
      "s3://jobs/p?forcePathStyle=yes",
      /got "s3:\/\/jobs\/p\?forcePathStyle=…": forcePathStyle must be "true" or "false"\. /,
    );
    await rejectsUrl("s3://jobs/p?region=a&region=b", /query parameter "region" given twice/);
    await assert.rejects(
      openStore("s3://jobs/p?endpoint=localhost:9000"),
      /^InvalidArgumentError: Expected `options.endpoint` of S3Store to be an http\(s\) URL such as "http:\/\/127\.0\.0\.1:9000", got "localhost:9000"$/,
    );
    const leaked = await rejectsUrl(
      "s3://AKIAKEY:wJalrSECRET@jobs/p",
      /credentials are not accepted in a store URL/,
    );
    assert.ok(!leaked.message.includes("wJalrSECRET") && !leaked.message.includes("AKIAKEY"));
    const tokenInQuery = await rejectsUrl(
      "s3://jobs/p?token=abc123SECRET",
      /unknown query parameter "token"/,
    );
    assert.ok(!tokenInQuery.message.includes("abc123SECRET"));
  });

  it("az://container/prefix needs a connection string, from options or AZURE_STORAGE_CONNECTION_STRING", async () => {
    await rejectsUrl(
      "az://jobs/prod",
      /az:\/\/ needs a connection string: set AZURE_STORAGE_CONNECTION_STRING/,
    );
    const connectionString =
      "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=S2VZU0VDUkVU;BlobEndpoint=http://127.0.0.1:9/acct;";
    const fromEnv = await openStore("az://jobs/prod", {
      env: { AZURE_STORAGE_CONNECTION_STRING: connectionString },
    });
    assert.ok(fromEnv instanceof AzureBlobStore);
    assert.equal(fromEnv.describe(), "az://jobs/prod/ at http://127.0.0.1:9/acct");
    assert.ok(!fromEnv.describe().includes("S2VZU0VDUkVU"));
    const fromOptions = await openStore("az://jobs", { env: {}, azure: { connectionString } });
    assert.equal(fromOptions.describe(), "az://jobs/ at http://127.0.0.1:9/acct");
    await rejectsUrl(
      "az://jobs/p?sig=SECRETSIG",
      /unexpected query parameter "sig": this scheme takes none/,
      {
        AZURE_STORAGE_CONNECTION_STRING: connectionString,
      },
    ).then((err) => assert.ok(!err.message.includes("SECRETSIG")));
  });

  it('refuses "." and ".." path segments as written, before the URL parser resolves them', async () => {
    const urls = [
      "s3://jobs/a/../b",
      "s3://jobs/..",
      "s3://jobs/a/./b?region=eu-west-1",
      "s3://jobs/a/%2e%2E/b",
      "s3://jobs/a/.%2e/b",
      "s3://jobs/a/.\t./b",
      "s3://jobs/a/.. ",
      "gs://jobs/a/../b",
      "gs://jobs/a\\..\\b",
      "az://jobs/a/../b",
      "file:///tmp/queues/../other",
      "file:///tmp/queues/%2e",
      "file:///tmp/queues\\..\\other",
    ];
    const env = { AZURE_STORAGE_CONNECTION_STRING: "UseDevelopmentStorage=true" };
    for (const url of urls)
      await rejectsUrl(
        url,
        /^Expected `url` of openStore to be a store URL, got ".*": its path has a "\.\.?" segment, which the URL parser resolves away/,
        env,
      );
    // Secrets in the refused URL are not printed.
    const withSecrets = await rejectsUrl(
      "s3://AKIAKEY:wJalrSECRET@jobs/a/../b?token=abc123SECRET",
      /its path has a "\.\." segment/,
    );
    assert.doesNotMatch(withSecrets.message, /SECRET|AKIAKEY/);
    // Dots inside a name are no segment of their own.
    const dotted = await openStore("s3://jobs/a..b/.c/d.?region=eu-west-1");
    assert.equal(dotted.describe(), "s3://jobs/a..b/.c/d./");
  });

  it('refuses "." and ".." path segments in an `endpoint` from the query, as the client would read it', async () => {
    const endpoints = [
      "http://h/a/../b",
      "http://h/a/./b",
      "http://h/..",
      "http://h/a/%2e%2E/b",
      "http://h/a/.%2e/b",
      "http://h/a\\..\\b",
      "http://h/a/.\t./b",
      "http://h/a/.. ",
      "https://s3.example/minio/../other?x=1",
    ];
    for (const endpoint of endpoints)
      for (const url of [
        `s3://jobs/p?endpoint=${endpoint}`,
        `s3://jobs/p?region=eu-west-1&endpoint=${encodeURIComponent(endpoint)}`,
        `gs://jobs/p?endpoint=${encodeURIComponent(endpoint)}`,
      ])
        await rejectsUrl(
          url,
          /^Expected `url` of openStore to be a store URL, got "[a-z0-9]+:\/\/jobs\/p\?[^"]*endpoint=…[^"]*": its `endpoint` has a "\.\.?" path segment, which the URL parser resolves away \(sending requests to another path than written\); expected an endpoint URL without "\." or "\.\." path segments\./,
        );
    // "%252e" is "%2e" once the query is decoded, which the endpoint's parser reads as ".".
    await rejectsUrl("s3://jobs/p?endpoint=http://h/a/%252e%252e/b", /its `endpoint` has a "\.\."/);
    // Secrets in the refused URL are not printed.
    const withSecret = await rejectsUrl(
      "s3://jobs/p?endpoint=http://u:s3cr3t@h/../b?X-Amz-Signature=s3cr3t",
      /its `endpoint` has a "\.\." path segment/,
    );
    assert.doesNotMatch(withSecret.message, /s3cr3t/);
    // Ordinary endpoints, dotted host names and names with dots in them still open.
    for (const [endpoint, shown] of [
      ["http://127.0.0.1:7480", "http://127.0.0.1:7480"],
      ["https://s3.eu-west-1.amazonaws.com", "https://s3.eu-west-1.amazonaws.com"],
      ["http://minio.local:9000/minio", "http://minio.local:9000/minio"],
      ["http://h/a..b/.c/d./", "http://h/a..b/.c/d./"],
    ] as const) {
      const store = await openStore(`s3://jobs/p?endpoint=${endpoint}`);
      assert.equal(store.describe(), `s3://jobs/p/ at ${shown}`);
      assert.ok((await openStore(`gs://jobs/p?endpoint=${endpoint}`)) instanceof GcsStore);
    }
  });

  it("a malformed Azure connection string is refused when the store is opened, named and not printed", async () => {
    for (const [connectionString, missing] of [
      ["AccountName=acct;AccountKey=S2VZU0VDUkVU", /without DefaultEndpointsProtocol/],
      [
        "DefaultEndpointsProtocol=https;AccountKey=S2VZU0VDUkVU;EndpointSuffix=x",
        /without AccountName/,
      ],
      [
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=S2VZU0VDUkVU",
        /neither BlobEndpoint nor EndpointSuffix/,
      ],
      [
        "BlobEndpoint=http://127.0.0.1:9/a;SharedAccessSignatureS2VZU0VDUkVU",
        /"SharedAccessSignature" but is not/,
      ],
    ] as const) {
      // Refused by openStore itself: no request is needed (nor any queue open) to find it.
      await assert.rejects(
        openStore("az://jobs/prod", { env: { AZURE_STORAGE_CONNECTION_STRING: connectionString } }),
        (err: unknown) => {
          assert.ok(err instanceof InvalidArgumentError);
          assert.equal(err.code, "INVALID_ARGUMENT");
          assert.match(
            err.message,
            /^Expected `options\.connectionString` of AzureBlobStore to be an Azure Storage connection string \(DefaultEndpointsProtocol=https;AccountName=\.\.\.;AccountKey=\.\.\.;EndpointSuffix=core\.windows\.net\), got one /,
          );
          assert.match(err.message, missing);
          assert.doesNotMatch(err.message, /S2VZU0VDUkVU|`path`/);
          return true;
        },
      );
    }
    // A ready client is used as it is: a connection string beside it (here from the
    // environment) is not read, so it is not refused either.
    const client = {
      url: "http://127.0.0.1:9/acct/jobs",
      getBlobClient: () => ({}),
      getBlockBlobClient: () => ({}),
      listBlobsFlat: () => ({ async *[Symbol.asyncIterator]() {} }),
    };
    const withClient = await openStore("az://jobs", {
      env: { AZURE_STORAGE_CONNECTION_STRING: "garbage" },
      azure: { client },
    });
    assert.equal(withClient.describe(), "az://jobs/ at http://127.0.0.1:9/acct/jobs");
  });

  it("gs://bucket/prefix opens a GcsStore, with an optional endpoint", async () => {
    const store = await openStore("gs://jobs/prod?endpoint=http://127.0.0.1:4443");
    assert.ok(store instanceof GcsStore);
    assert.equal(store.describe(), "gs://jobs/prod/");
    await rejectsUrl(
      "gs://jobs/p?region=x",
      /unknown query parameter "region"; expected "endpoint"/,
    );
  });

  it("rejects empty input and unknown schemes with the list of supported forms", async () => {
    await rejectsUrl(
      "",
      /^Expected `url` of openStore to be a store URL \(a non-empty string\), got ""\. Supported forms: /,
    );
    await rejectsUrl("ftp://host/dir", /unknown scheme "ftp:"/);
    await rejectsUrl("https://bucket.s3.amazonaws.com/x", /unknown scheme "https:"/);
  });
});

describe("optional SDKs", { timeout: 60_000 }, () => {
  it("importing taquba loads no cloud SDK; using a store without its SDK names the package to install", async () => {
    const indexUrl = new URL("../../src/index.js", import.meta.url).href;
    // A resolve hook that makes every cloud SDK unresolvable, as if it were not installed.
    const hooks = `export async function resolve(specifier, context, next) {
      if (/^(@aws-sdk|@azure|@google-cloud)\\//.test(specifier)) {
        const err = new Error("Cannot find package '" + specifier + "'");
        err.code = "ERR_MODULE_NOT_FOUND";
        throw err;
      }
      return next(specifier, context);
    }`;
    const script = `
      import { register } from "node:module";
      register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hooks)}));
      const taquba = await import(${JSON.stringify(indexUrl)});
      const results = { imported: Object.keys(taquba).includes("S3Store") };
      const stores = {
        s3: await taquba.openStore("s3://bucket/p?endpoint=http://127.0.0.1:9"),
        azure: new taquba.AzureBlobStore({ container: "cont", connectionString: "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/a" }),
        gcs: new taquba.GcsStore({ bucket: "bucket", apiEndpoint: "http://127.0.0.1:9" }),
      };
      // A malformed connection string is refused without the SDK, as the store is created.
      try {
        new taquba.AzureBlobStore({ container: "cont", connectionString: "AccountName=a;AccountKey=a2V5" });
      } catch (err) {
        results.malformedAzure = err.code;
      }
      for (const [name, store] of Object.entries(stores)) {
        try {
          await store.get("k");
          results[name] = "no error";
        } catch (err) {
          results[name] = { code: err.code, message: err.message, permanent: err.permanent };
        }
      }
      // The S3Store behind a wrapper that notes each failed request as "op key" (a probe
      // names its object anew on each attempt, so as "probe/*"): a retry shows as a repeat.
      const failed = [];
      const counted = { describe: () => stores.s3.describe() };
      for (const op of ["get", "put", "delete", "list", "head"]) {
        if (typeof stores.s3[op] !== "function") continue;
        counted[op] = async (key, ...rest) => {
          try {
            return await stores.s3[op](key, ...rest);
          } catch (err) {
            const probe = key.lastIndexOf("/probe/");
            failed.push(op + " " + (probe === -1 ? key : key.slice(0, probe) + "/probe/*"));
            throw err;
          }
        };
      }
      const warnings = [];
      const logger = { warn: (message) => warnings.push(message), error: () => {} };
      try {
        // A short retry budget: misread as transient, the open fails after it, not in minutes.
        await taquba.Queue.open(counted, "q", { logger, log: { retry: { maxElapsedMs: 2000 } } });
      } catch (err) {
        results.open = { code: err.code, permanent: err.permanent, failed, warnings };
      }
      console.log(JSON.stringify(results));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--no-warnings", "--input-type=module", "-e", script],
      { timeout: 20_000 },
    );
    const results = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.equal(results.imported, true, "the core imports with every SDK missing");
    assert.equal(results.malformedAzure, "INVALID_ARGUMENT", "checked without the SDK");
    const expected = {
      s3: ["S3Store", "@aws-sdk/client-s3"],
      azure: ["AzureBlobStore", "@azure/storage-blob"],
      gcs: ["GcsStore", "@google-cloud/storage"],
    };
    for (const [name, [adapter, pkg]] of Object.entries(expected)) {
      assert.equal(results[name].code, "STORAGE", `${name}: ${JSON.stringify(results[name])}`);
      assert.equal(
        results[name].message,
        `${adapter} needs the optional package "${pkg}", which is not installed: run \`npm install ${pkg}\``,
      );
      assert.equal(results[name].permanent, true, `${name}: retrying cannot install it`);
    }
    assert.equal(results.open?.code, "STORAGE", "Queue.open fails");
    // Failed at once: no failed request was made twice, and no retry was logged.
    const { failed, warnings } = results.open as { failed: string[]; warnings: string[] };
    assert.ok(failed.length > 0, "a request failed");
    assert.equal(new Set(failed).size, failed.length, `retried: ${failed}`);
    assert.deepEqual(warnings, [], "nothing was retried");
    assert.equal(results.open.permanent, true);
  });
});

describe("redactSecrets (used on every SDK error message)", { timeout: 60_000 }, () => {
  it("masks account keys, SAS and presigned-URL signatures, tokens and URL passwords", () => {
    const cases: [string, string][] = [
      [
        "AccountName=a;AccountKey=abc+/==;EndpointSuffix=x",
        "AccountName=a;AccountKey=***;EndpointSuffix=x",
      ],
      ["SharedAccessSignature=sv=2020&sig=xyz", "SharedAccessSignature=***"],
      [
        "GET https://a.blob.core.windows.net/c/b?sv=1&sig=SIGVALUE&se=2",
        "GET https://a.blob.core.windows.net/c/b?sv=1&sig=***&se=2",
      ],
      [
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=deadbeef",
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***",
      ],
      ["http://user:p4ss@127.0.0.1:9000/bucket", "http://***@127.0.0.1:9000/bucket"],
      ["nothing secret here", "nothing secret here"],
    ];
    for (const [input, expected] of cases) assert.equal(redactSecrets(input), expected, input);
  });
});
