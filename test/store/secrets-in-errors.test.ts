/**
 * No error a store option or store URL can cause shows a secret in it: not
 * in its message, its stack or its `cause`, and not on the CLI's stderr,
 * whatever the shape the secret came in (a query string, a bare SAS token,
 * a connection string's `AccountKey=`, `user:password@`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, describe, it } from "node:test";
import { inspect } from "node:util";
import { InvalidArgumentError } from "../../src/errors.js";
import { Queue } from "../../src/queue/queue.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { GcsStore } from "../../src/store/gcs.js";
import { openStore } from "../../src/store/open-store.js";
import { S3Store } from "../../src/store/s3.js";
import { redactStoreLocation, redactUrl } from "../../src/util/redact.js";
import { cli, tempDirs } from "../cli/capture.js";

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
  // Shaped like a filesystem path, which is no endpoint: redacted as any other value.
  "path-shaped connection string":
    "/DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=s3cr3tPathKey==",
  "path-shaped AccountKey=": "./AccountKey=s3cr3tDotKey==;AccountName=acct",
  "path-shaped sig=": "/sig=s3cr3tPathSig&sv=2022",
  "path with a connection string": "/tmp/x;AccountKey=s3cr3tTmpKey",
  "file URL with a SAS": "file:///x/sig=s3cr3tFileSig&sv=1",
  "URL in a path": "/x//user:s3cr3tNested@host",
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

const temp = tempDirs("taquba-secrets-in-errors-");
after(temp.removeAll);

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

  it("a store location that is a directory is kept as written, but for what looks like a secret", () => {
    const paths = [
      "/data/a=b/queue",
      "/data/tenant=a;b@c",
      "/srv/u@host:8080/q",
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
    for (const path of paths) assert.equal(redactStoreLocation(path), path, path);
    assert.equal(redactStoreLocation("/data/a=b?sig=s3cr3t#s3cr3t"), "/data/a=b?sig=…#…");
    assert.equal(redactStoreLocation("file:///data/a=b?sig=s3cr3t"), "file:///data/a=b?sig=…");
    assert.equal(redactStoreLocation("/data/AccountKey=s3cr3t;y@z"), "/data/AccountKey=***;y@z");
    assert.equal(
      redactStoreLocation("/q/X-Amz-Signature=s3cr3t&access_token=s3cr3t&x=1/Password=s3cr3t"),
      "/q/X-Amz-Signature=***&access_token=***&x=1/Password=***",
    );
    assert.equal(redactStoreLocation("/x/a@b:s3cr3t@host/y"), "/x/***@host/y");
    // A URL written into a path: its user info is hidden, token or user:password alike
    // (so a doubled slash before a name with "@" is hidden too).
    for (const [given, shown] of [
      ["/x/https://ghp_s3cr3t@github.com/y", "/x/https://***@github.com/y"],
      ["./https://s3cr3t@host/q", "./https://***@host/q"],
      ["file:///x/https://s3cr3t@host", "file:///x/https://***@host"],
      ["C:\\x\\https://s3cr3t@host", "C:\\x\\https://***@host"],
      ["/x//s3cr3t@host", "/x//***@host"],
      ["/srv//u@host", "/srv//***@host"],
    ])
      assert.equal(redactStoreLocation(given!), shown, given);
    // Secret-looking names beyond a fixed list, and spaces around "=".
    for (const given of [
      "/x/AWS_SECRET_ACCESS_KEY=s3cr3t",
      "/x/api_key=s3cr3t",
      "/x/SecretAccessKey=s3cr3t",
      "/x/private_key=s3cr3t",
      "/x/credentials=s3cr3t",
      "/x/Authorization=Bearer s3cr3t",
      "/x/passphrase=s3cr3t",
      "/x/AccountKey =s3cr3t",
      "/x/sig =s3cr3t",
      "/x/AccountKey= s3cr3t",
    ]) {
      const shown = redactStoreLocation(given);
      assert.ok(!shown.includes("s3cr3t"), `${given} → ${shown}`);
      assert.ok(shown.startsWith("/x/"), shown);
    }
    // Not a path: shown as any value where a URL belongs.
    assert.equal(redactStoreLocation("s3://b/p?sig=s3cr3t"), "s3://b/p?sig=…");
    assert.equal(redactStoreLocation("AccountKey=abc/s3cr3t=="), "AccountKey=…");
  });

  it("no secret main hid is shown, by redactUrl (as on main) or as a store location", () => {
    // Each value as given, as main's redactUrl showed it, and as a store location shows it.
    // Only a store location (openStore's URL, the CLI's --store) keeps a path as written.
    const cases: [string, string, string][] = [
      ["/data/a=b/queue", "/data/a=…", "/data/a=b/queue"],
      ["./q", "./q", "./q"],
      ["../q", "../q", "../q"],
      ["~/q", "~/q", "~/q"],
      ["C:\\data\\q", "C:\\data\\q", "C:\\data\\q"],
      ["\\\\server\\share\\q", "\\\\server\\share\\q", "\\\\server\\share\\q"],
      ["file:///tmp/q", "file:///tmp/q", "file:///tmp/q"],
      ["file:///tmp/q?sig=S", "file:///tmp/q?sig=…", "file:///tmp/q?sig=…"],
      ["data/q", "data/q", "data/q"],
      ["data/a=b", "data/a=…", "data/a=b"],
      ["data/AccountKey=s3cr3t", "data/AccountKey=…", "data/AccountKey=***"],
      ["data/sig=s3cr3t&sv=1", "data/sig=…&sv=…", "data/sig=***&sv=1"],
      ["/data/AccountKey=s3cr3tKEY==", "/data/AccountKey=…", "/data/AccountKey=***"],
      ["/tmp/x;AccountKey=s3cr3tKEY==", "/tmp/x;AccountKey=…", "/tmp/x;AccountKey=***"],
      [
        "/AccountKey=s3cr3t;AccountName=a",
        "/AccountKey=…;AccountName=…",
        "/AccountKey=***;AccountName=a",
      ],
      ["/sig=s3cr3t&sv=2020", "/sig=…&sv=…", "/sig=***&sv=2020"],
      ["./sig=s3cr3t&se=1", "./sig=…&se=…", "./sig=***&se=1"],
      ["~/AccountKey=s3cr3t", "~/AccountKey=…", "~/AccountKey=***"],
      [
        "C:\\AccountKey=s3cr3t;BlobEndpoint=x",
        "C:\\AccountKey=…;BlobEndpoint=…",
        "C:\\AccountKey=***;BlobEndpoint=x",
      ],
      ["/user:s3cr3t@host/x", "/user:s3cr3t@host/x", "/***@host/x"],
      ["./user:s3cr3t@host", "./user:s3cr3t@host", "./***@host"],
      ["/x/https://user:s3cr3t@host/y", "/x/https://***@host/y", "/x/https://***@host/y"],
      ["//user:s3cr3t@host/x", "//***@host/x", "//***@host/x"],
      ["file:///user:s3cr3t@host", "file:///***@host", "file:///***@host"],
      ["file://user:s3cr3t@host/x", "file://***@host/x", "file://***@host/x"],
      ["file:////server/share?sig=S", "file:////server/share?sig=…", "file:////server/share?sig=…"],
      ["FILE:///x/AccountKey=s3cr3t", "FILE:///x/AccountKey=…", "FILE:///x/AccountKey=***"],
      ["file:///x/sig=s3cr3t&sv=1", "file:///x/sig=…&sv=…", "file:///x/sig=***&sv=1"],
      ["file:///x#s3cr3tFRAG", "file:///x#…", "file:///x#…"],
      ["/x#s3cr3tFRAG", "/x#…", "/x#…"],
      ["/x?sig=s3cr3t", "/x?sig=…", "/x?sig=…"],
      ["/x?token", "/x?…", "/x?…"],
      ["a/b#frag=s3cr3t", "a/b#…", "a/b#…"],
      ["a\\AccountKey=s3cr3t", "a\\AccountKey=…", "a\\AccountKey=***"],
      ["a/b;AccountKey=s3cr3t", "a/b;AccountKey=…", "a/b;AccountKey=***"],
      ["a/b&sig=s3cr3t", "a/b&sig=…", "a/b&sig=***"],
      [
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=s3cr3t==;EndpointSuffix=core.windows.net",
        "DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…;EndpointSuffix=…",
        "DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…;EndpointSuffix=…",
      ],
      [
        "/DefaultEndpointsProtocol=https;AccountName=a;AccountKey=s3cr3t==",
        "/DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…",
        "/DefaultEndpointsProtocol=https;AccountName=a;AccountKey=***",
      ],
      [
        "BlobEndpoint=http://h/a;SharedAccessSignature=sv=1&sig=s3cr3t",
        "BlobEndpoint=…;SharedAccessSignature=…&sig=…",
        "BlobEndpoint=…;SharedAccessSignature=…&sig=…",
      ],
      [
        "/BlobEndpoint=http://h/a;SharedAccessSignature=sv=1&sig=s3cr3t",
        "/BlobEndpoint=…;SharedAccessSignature=…&sig=…",
        "/BlobEndpoint=http://h/a;SharedAccessSignature=***",
      ],
      [
        "/ BlobEndpoint=x;SharedAccessSignature=s3cr3t",
        "/ BlobEndpoint=…;SharedAccessSignature=…",
        "/ BlobEndpoint=x;SharedAccessSignature=***",
      ],
      [
        "s3://bucket/p?endpoint=http://user:s3cr3t@h",
        "s3://bucket/p?endpoint=…",
        "s3://bucket/p?endpoint=…",
      ],
      ["https://user:s3cr3t@host/x", "https://***@host/x", "https://***@host/x"],
      ["user:s3cr3t@host", "***@host", "***@host"],
      ["host.example/sig=s3cr3t", "host.example/sig=…", "host.example/sig=…"],
      [
        "/sv=2020-01-01&ss=b&srt=sco&sp=rwdlac&se=2030&st=2020&spr=https&sig=s3cr3t%3D",
        "/sv=…&ss=…&srt=…&sp=…&se=…&st=…&spr=…&sig=…",
        "/sv=2020-01-01&ss=b&srt=sco&sp=rwdlac&se=2030&st=2020&spr=https&sig=***",
      ],
      ["sv=2020-01-01&ss=b&sig=s3cr3t", "sv=…&ss=…&sig=…", "sv=…&ss=…&sig=…"],
      ["?sv=2020&sig=s3cr3t", "?sv=…&sig=…", "?sv=…&sig=…"],
      ["/?sv=2020&sig=s3cr3t", "/?sv=…&sig=…", "/?sv=…&sig=…"],
      [
        "/tmp/eyJhbGciOiJIUzI1NiJ9.s3cr3tJWT.sig",
        "/tmp/eyJhbGciOiJIUzI1NiJ9.s3cr3tJWT.sig",
        "/tmp/eyJhbGciOiJIUzI1NiJ9.s3cr3tJWT.sig",
      ],
      [
        "/tmp/AKIAIOSFODNN7EXAMPLE:wJalrs3cr3t@x",
        "/tmp/AKIAIOSFODNN7EXAMPLE:wJalrs3cr3t@x",
        "/tmp/***@x",
      ],
      ["/home/u/:s3cr3t@host", "/home/u/:s3cr3t@host", "/home/u/***@host"],
      ["/:s3cr3t@host", "/:s3cr3t@host", "/***@host"],
      ["\\\\user:s3cr3t@server\\share", "***@server\\share", "\\\\***@server\\share"],
      ["~/user:s3cr3t@host", "~/user:s3cr3t@host", "~/***@host"],
      ["C:/user:s3cr3t@host", "C:/user:s3cr3t@host", "C:/***@host"],
      ["c:\\x", "c:\\x", "c:\\x"],
      ["a:\\x", "a:\\x", "a:\\x"],
      ["/x\n?sig=s3cr3t", "/x\n?sig=…", "/x\n?sig=…"],
      ["\n/x/AccountKey=s3cr3t", "\n/x/AccountKey=…", "\n/x/AccountKey=***"],
      [" /AccountKey=s3cr3t", " /AccountKey=…", " /AccountKey=***"],
      ["\t./AccountKey=s3cr3t", "\t./AccountKey=…", "\t./AccountKey=…"],
      ["/x AccountKey=s3cr3t", "/x AccountKey=…", "/x AccountKey=***"],
      ["/https:/user:s3cr3t@host", "/https:/user:s3cr3t@host", "/https:/***@host"],
      ["/x//user:s3cr3t@host", "/x//***@host", "/x//***@host"],
      ["/x/user:s3cr3t@host", "/x/user:s3cr3t@host", "/x/***@host"],
      ["./Password=s3cr3t;", "./Password=…;", "./Password=***;"],
      ["/Password=s3cr3t", "/Password=…", "/Password=***"],
      ["./x/password=s3cr3t", "./x/password=…", "./x/password=***"],
      ["/x/token=s3cr3t", "/x/token=…", "/x/token=***"],
    ];
    for (const [input, onMain, asLocation] of cases) {
      assert.equal(redactUrl(input), onMain, input);
      assert.equal(redactStoreLocation(input), asLocation, input);
      // A bare secret with no name cannot be told from a directory name (main showed it too).
      if (!SECRET.test(onMain)) assert.doesNotMatch(asLocation, SECRET, input);
    }
  });

  it("GcsStore apiEndpoint refused for a dot segment, with a secret in a path-shaped value", () => {
    for (const apiEndpoint of [
      "/x/../AccountKey=s3cr3tKey==",
      "./../sig=s3cr3tSig&sv=1",
      "/x/..//u:s3cr3tPass@host",
    ])
      assertRefusedWithoutSecret(
        thrown(() => new GcsStore({ bucket: "b", apiEndpoint })),
        apiEndpoint,
      );
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

  it("the CLI's --store: a directory is named as written, but for what looks like a secret", async () => {
    const dir = join(
      await temp.make(),
      "tenant=a",
      "DefaultEndpointsProtocol=https;AccountKey=s3cr3tDir==",
    );
    const out = await cli("stats", "--store", dir);
    assert.equal(out.code, 1, out.stderr);
    assert.doesNotMatch(out.stderr + out.stdout, SECRET);
    assert.ok(
      out.stderr.includes(JSON.stringify(dir.replace("AccountKey=s3cr3tDir==", "AccountKey=***"))),
      out.stderr,
    );
  });
});
