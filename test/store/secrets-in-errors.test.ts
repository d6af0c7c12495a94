/**
 * No error a store option or store URL can cause shows a secret in it: not
 * in its message, its stack or its `cause`, and not on the CLI's stderr,
 * whatever the shape the secret came in (a query string, a bare SAS token,
 * a connection string's `AccountKey=`, `user:password@`).
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { inspect } from "node:util";
import { InvalidArgumentError } from "../../src/errors.js";
import { Queue } from "../../src/queue/queue.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { openStore } from "../../src/store/open-store.js";
import { S3Store } from "../../src/store/s3.js";
import { redactUrl } from "../../src/util/redact.js";
import { cli } from "../cli/capture.js";

/** Every secret below holds this; none may appear in an error. */
const SECRET = /s3cr3t/i;

/**
 * A value where an http(s) URL belongs, in each shape a secret arrives in;
 * none is an http(s) URL, so each is refused (and described).
 */
const NOT_HTTP_URLS: Record<string, string> = {
  "query string": "acct.blob.core.windows.net/?sv=2022-11-02&sp=r&sig=s3cr3tQuery",
  "bare sig=": "sig=s3cr3tBareSig&sv=2022-11-02&sp=r",
  "sig= not first": "sv=2022-11-02&sig=s3cr3tLaterSig",
  "bare token in the query": "acct.blob.core.windows.net?s3cr3tToken",
  "AccountKey=":
    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=s3cr3tKey==;EndpointSuffix=core.windows.net",
  "SharedAccessSignature=":
    "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2022&sig=s3cr3tSas",
  "AccountKey= with a space": "AccountKey= s3cr3tSpaced",
  "user:pass@ without a scheme": "minio:s3cr3tPass@127.0.0.1:9000",
  "user:pass@ with a scheme": "ftp://minio:s3cr3tFtp@127.0.0.1:9000/?token=s3cr3tFtpToken",
  fragment: "acct.blob.core.windows.net#sig=s3cr3tFragment",
};

/** Store URLs `openStore` and `--store` refuse, with a secret in each shape. */
const BAD_STORE_URLS: Record<string, string> = {
  "unknown parameter": "s3://b/p?sig=s3cr3tParam",
  "unknown parameter after a known one": "s3://b/p?region=x&X-Amz-Signature=s3cr3tAmz",
  "bare token in the query": "s3://b/p?s3cr3tBare",
  "Azure takes no query": "az://c/p?sv=2022&sig=s3cr3tAz",
  "bad forcePathStyle": "s3://b/p?forcePathStyle=s3cr3tForce",
  "repeated parameter": "s3://b/p?region=s3cr3tR1&region=s3cr3tR2",
  "credentials in the URL": "s3://AKIA:s3cr3tPass@b/p",
  "credentials and a port": "gs://u:s3cr3tGs@b:443/p",
  "unknown scheme": "https://u:s3cr3tHttps@h/p?sig=s3cr3tHttpsSig",
  fragment: "gs://b/p#access_token=s3cr3tFragment",
  "bad percent-encoding": "s3://b/%E0?sig=s3cr3tPct",
  "memory with more": "memory://sig=s3cr3tMemory",
  "file with a host": "file://u:s3cr3tFile@host/dir",
  ...Object.fromEntries(
    Object.entries(NOT_HTTP_URLS).map(([shape, value]) => [
      `S3 endpoint: ${shape}`,
      `s3://b/p?endpoint=${encodeURIComponent(value)}`,
    ]),
  ),
};

/** Everything printing `error` can show: message, stack, own properties and its `cause`s. */
const shown = (error: unknown): string => inspect(error, { depth: 10, showHidden: true });

function assertRefusedWithoutSecret(error: unknown, what: string): void {
  assert.ok(error instanceof InvalidArgumentError, `${what}: ${String(error)}`);
  assert.doesNotMatch(shown(error), SECRET, what);
}

function thrown(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    return error;
  }
  assert.fail("accepted");
}

const AZURE_ENV = "AZURE_STORAGE_CONNECTION_STRING";
const savedAzureEnv = process.env[AZURE_ENV];

describe("secrets in store options and URLs never reach an error", { timeout: 60_000 }, () => {
  afterEach(() => {
    if (savedAzureEnv === undefined) delete process.env[AZURE_ENV];
    else process.env[AZURE_ENV] = savedAzureEnv;
  });

  it("AzureBlobStore accountUrl and S3Store endpoint that are not http(s) URLs", () => {
    for (const [shape, value] of Object.entries(NOT_HTTP_URLS)) {
      const azure = thrown(() => new AzureBlobStore({ container: "c", accountUrl: value }));
      assertRefusedWithoutSecret(azure, `accountUrl, ${shape}`);
      assert.match((azure as Error).message, /`options\.accountUrl` of AzureBlobStore/);
      const s3 = thrown(() => new S3Store({ bucket: "b", endpoint: value }));
      assertRefusedWithoutSecret(s3, `endpoint, ${shape}`);
      assert.match((s3 as Error).message, /`options\.endpoint` of S3Store/);
    }
    // A value that is not a string is described by its type only.
    const object = { toString: () => "s3cr3tObject" } as never;
    assertRefusedWithoutSecret(
      thrown(() => new AzureBlobStore({ container: "c", accountUrl: object })),
      "accountUrl, object",
    );
    assertRefusedWithoutSecret(
      thrown(() => new S3Store({ bucket: "b", endpoint: object })),
      "endpoint, object",
    );
  });

  it("the value is still recognisable: scheme, host and path and the parameter names stay", () => {
    const cases: [string, string][] = [
      ["sig=s3cr3t&sv=2022&sp=r", "sig=…&sv=…&sp=…"],
      ["acct.blob.core.windows.net/?se=2030&sig=s3cr3t", "acct.blob.core.windows.net/?se=…&sig=…"],
      ["AccountName=a;AccountKey=s3cr3t==", "AccountName=…;AccountKey=…"],
      ["SharedAccessSignature=sv=1&sig=s3cr3t", "SharedAccessSignature=…&sig=…"],
      ["minio:s3cr3t@host:9000/x", "***@host:9000/x"],
      ["https://u:s3cr3t@host/x?token=s3cr3t#s3cr3t", "https://***@host/x?token=…#…"],
      ["s3://b/p?s3cr3t", "s3://b/p?…"],
      ["s3://b/p?endpoint=http://u:s3cr3t@h&region=x", "s3://b/p?endpoint=…&region=…"],
      ["https://host/a//u:s3cr3t@b", "https://host/a//***@b"],
      ["az://container/a/b", "az://container/a/b"],
      ["/var/lib/taquba", "/var/lib/taquba"],
      ["AccountKey=abc/s3cr3t==", "AccountKey=…"],
      [
        "BlobEndpoint=https://h/a;SharedAccessSignature=sv=1&sig=s3cr3t",
        "BlobEndpoint=…;SharedAccessSignature=…&sig=…",
      ],
      ["host.example/sig=s3cr3t", "host.example/sig=…"],
      ["a:s3cr3t@host/x=y", "***@host/x=…"],
      ["https://host/a=s3cr3t", "https://host/a=…"],
      ["file://u:s3cr3t@host/a=b", "file://***@host/a=…"],
    ];
    for (const [input, expected] of cases) assert.equal(redactUrl(input), expected, input);
  });

  it("a filesystem path is kept as it is, `=`, `@` and `;` included; only a query or fragment after it is not", () => {
    const paths = [
      "/data/a=b/queue",
      "/data/AccountKey=x;y@z",
      "/srv//u@host",
      "./a=b",
      "../a=b/c",
      ".",
      "~/queues/x=1",
      "data/a=b/queue",
      "taquba-data/tenant=a",
      "C:\\data\\a=b",
      "C:/data/a=b",
      "\\\\server\\share\\a=b",
      "file:///data/a=b/queue",
    ];
    for (const path of paths) assert.equal(redactUrl(path), path, path);
    assert.equal(redactUrl("/data/a=b?sig=s3cr3t#s3cr3t"), "/data/a=b?sig=…#…");
    assert.equal(redactUrl("file:///data/a=b?sig=s3cr3t"), "file:///data/a=b?sig=…");
  });

  it("openStore refusing a URL, or a store option taken from it", async () => {
    for (const [what, url] of Object.entries(BAD_STORE_URLS)) {
      const error = await openStore(url, { env: {} }).then(
        () => assert.fail(`${what}: accepted`),
        (e: unknown) => e,
      );
      assertRefusedWithoutSecret(error, what);
    }
  });

  it("a connection string the Azure SDK would reject, refused when the store is opened", async () => {
    for (const connectionString of [
      "garbage;AccountKey=s3cr3tGarbage",
      "AccountName=a;AccountKey=s3cr3tNoEndpoint;BlobEndpoint=not a url",
      "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=s3cr3tKey;BlobEndpoint=not a url",
      "BlobEndpoint=::;SharedAccessSignature=sv=2022&sig=s3cr3tSas",
      "s3cr3tBareKey==",
    ]) {
      const error = await openStore("az://c/p", { env: { [AZURE_ENV]: connectionString } }).then(
        () => assert.fail(`${connectionString}: accepted`),
        (e: unknown) => e,
      );
      assertRefusedWithoutSecret(error, connectionString);
      assertRefusedWithoutSecret(
        thrown(() => new AzureBlobStore({ container: "c", connectionString })),
        connectionString,
      );
    }
  });

  it("Queue.open refusing a path names the store without its SAS or user info", async () => {
    const azure = new AzureBlobStore({
      container: "c",
      accountUrl: "https://u:s3cr3tUser@127.0.0.1:9/acct?sv=2022&sig=s3cr3tSig",
    });
    const s3 = new S3Store({
      bucket: "b",
      endpoint: "http://u:s3cr3tUser@127.0.0.1:9/?X-Amz-Signature=s3cr3tSig",
    });
    for (const [store, path] of [
      [azure, "a\rb"],
      [s3, "a\ud800b"],
    ] as const) {
      const error = await Queue.open(store, path).then(
        () => assert.fail(`${store.describe()}: opened`),
        (e: unknown) => e,
      );
      assertRefusedWithoutSecret(error, store.describe());
      assert.match((error as Error).message, /127\.0\.0\.1:9/, "the endpoint is still named");
    }
  });

  it("the CLI's --store: every refused URL, and the environment's connection string", async () => {
    delete process.env[AZURE_ENV];
    for (const [what, url] of Object.entries(BAD_STORE_URLS)) {
      const out = await cli("stats", "--store", url);
      assert.equal(out.code, 2, `${what}: ${out.stderr}`);
      assert.doesNotMatch(out.stderr + out.stdout, SECRET, what);
    }
    process.env[AZURE_ENV] = "garbage;AccountKey=s3cr3tFromEnv";
    const out = await cli("stats", "--store", "az://c/p");
    assert.equal(out.code, 2, out.stderr);
    assert.doesNotMatch(out.stderr + out.stdout, SECRET);
    // Named as what the CLI user set, not blamed on --path.
    assert.match(
      out.stderr,
      /^taquba stats: Expected `AZURE_STORAGE_CONNECTION_STRING` to be an Azure Storage connection string .*, got one with AccountKey but without DefaultEndpointsProtocol/,
    );
  });
});
