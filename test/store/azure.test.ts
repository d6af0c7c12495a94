import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { ContainerClient } from "@azure/storage-blob";
import { FencedError, InvalidArgumentError, StorageError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { CONNECTION_STRING_EXPECTED } from "../../src/store/azure-connection-string.js";
import { openStore } from "../../src/store/open-store.js";
import { probeConditionalWrites } from "../../src/store/probe.js";
import { listAll, ObjectExistsError } from "../../src/store/types.js";
import { modules } from "../docs/source-files.js";
import { recordingLogger } from "../recording-logger.js";
import { type AzuriteServer, startAzurite } from "../servers/azurite.js";
import { runStoreConformance } from "./conformance.js";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));
const README = fileURLToPath(new URL("../../../README.md", import.meta.url));
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

async function createContainer(connectionString: string, name: string): Promise<void> {
  await new ContainerClient(connectionString, name).create();
}

// One Azurite for the whole file: it takes a few seconds to start.
let started: Promise<AzuriteServer> | undefined;
const azurite = (): Promise<AzuriteServer> => {
  started ??= startAzurite();
  return started;
};
after(async () => {
  await (await started)?.stop();
});

runStoreConformance("AzureBlobStore on Azurite", async () => {
  const server = await azurite();
  await createContainer(server.connectionString, "conformance");
  return {
    store: new AzureBlobStore({
      container: "conformance",
      prefix: "suite",
      connectionString: server.connectionString,
    }),
  };
});

describe("AzureBlobStore on Azurite", { timeout: 180_000 }, () => {
  let server: AzuriteServer;
  const accountKey = (): string => server.accountKey;

  before(async () => {
    server = await azurite();
    await createContainer(server.connectionString, "jobs");
  });

  it("passes the conditional-write probe", async () => {
    const store = new AzureBlobStore({
      container: "jobs",
      connectionString: server.connectionString,
    });
    await probeConditionalWrites(store, "probe-check/");
    assert.deepEqual(await listAll(store, "probe-check/"), []);
  });

  it("openStore('az://container/prefix') takes the connection string from the environment", async () => {
    const env = { AZURE_STORAGE_CONNECTION_STRING: server.connectionString };
    const store = await openStore("az://jobs/tenant-a", { env });
    assert.ok(store instanceof AzureBlobStore);
    await store.put("x", bytes("from openStore"), { ifNoneMatch: "*" });
    await assert.rejects(store.put("x", bytes("again"), { ifNoneMatch: "*" }), ObjectExistsError);
    const direct = new AzureBlobStore({
      container: "jobs",
      connectionString: server.connectionString,
    });
    assert.equal(text((await direct.get("tenant-a/x"))?.body), "from openStore");
    assert.match(
      store.describe(),
      /^az:\/\/jobs\/tenant-a\/ at http:\/\/127\.0\.0\.1:\d+\/taquba$/,
    );
    assert.ok(!store.describe().includes(accountKey()));
  });

  it("works with accountUrl + credential, the keyless form", async () => {
    const { StorageSharedKeyCredential } = await import("@azure/storage-blob");
    const store = new AzureBlobStore({
      container: "jobs",
      prefix: "via-url",
      accountUrl: server.blobEndpoint,
      credential: new StorageSharedKeyCredential(server.accountName, accountKey()),
    });
    await store.put("k", bytes("v"));
    assert.equal(text((await store.get("k"))?.body), "v");
    assert.equal(store.describe(), `az://jobs/via-url/ at ${server.blobEndpoint}`);
  });

  it("works with a SAS connection string (BlobEndpoint and SharedAccessSignature, no key)", async () => {
    const sdk = await import("@azure/storage-blob");
    const sas = sdk
      .generateAccountSASQueryParameters(
        {
          expiresOn: new Date(Date.now() + 3_600_000),
          permissions: sdk.AccountSASPermissions.parse("rwdlc"),
          resourceTypes: sdk.AccountSASResourceTypes.parse("sco").toString(),
          services: sdk.AccountSASServices.parse("b").toString(),
        },
        new sdk.StorageSharedKeyCredential(server.accountName, accountKey()),
      )
      .toString();
    const connectionString = `BlobEndpoint=${server.blobEndpoint}/;SharedAccessSignature=${sas}`;
    const store = await openStore("az://jobs/via-sas", {
      env: { AZURE_STORAGE_CONNECTION_STRING: connectionString },
    });
    await store.put("k", bytes("v"), { ifNoneMatch: "*" });
    assert.equal(text((await store.get("k"))?.body), "v");
    assert.equal(store.describe(), `az://jobs/via-sas/ at ${server.blobEndpoint}`);
  });

  it("works with a ready ContainerClient of the SDK as `client`", async () => {
    // Also a compile-time check: the SDK's client fits the structural option type.
    const client = new ContainerClient(server.connectionString, "jobs");
    const store = new AzureBlobStore({ container: "jobs", prefix: "via-client", client });
    await store.put("k", bytes("v"));
    assert.equal(text((await store.get("k"))?.body), "v");
    assert.deepEqual(
      (await store.list("")).objects.map((o) => o.key),
      ["k"],
    );
    assert.equal(store.describe(), `az://jobs/via-client/ at ${server.blobEndpoint}/jobs`);
  });

  it("lists every key in UTF-8 byte order across small pages, where Azurite's UTF-16 order differs", async () => {
    const store = new AzureBlobStore({
      container: "jobs",
      prefix: "order",
      connectionString: server.connectionString,
    });
    // U+FF01 sorts before U+1F600 by bytes (and code points) but after it in UTF-16 units.
    const keys = ["😀a", "😀b", "😀c", "！a", "！b", "！c"];
    await Promise.all(keys.map((key) => store.put(key, bytes(key))));
    const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual(expected, ["！a", "！b", "！c", "😀a", "😀b", "😀c"]);
    for (const limit of [1, 2, 3, 5]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page = await store.list("", { limit, ...(cursor ? { startAfter: cursor } : {}) });
        assert.ok(page.objects.length <= limit);
        seen.push(...page.objects.map((o) => o.key));
        cursor = page.nextStartAfter;
        if (cursor === undefined) break;
      }
      assert.deepEqual(seen, expected, `page size ${limit}`);
    }
    // Resuming after a key that orders differently in UTF-16 keeps byte order too.
    assert.deepEqual(
      (await store.list("", { startAfter: "！c", limit: 2 })).objects.map((o) => o.key),
      ["😀a", "😀b"],
    );
  });

  it("a missing container or a wrong key fails Queue.open at once, saying what to fix", async () => {
    const wrongKey = Buffer.from("not the right key, but base64 all the same").toString("base64");
    const cases: Array<[string, AzureBlobStore, RegExp]> = [
      [
        "missing container",
        new AzureBlobStore({
          container: "no-such-container",
          connectionString: server.connectionString,
        }),
        /container "no-such-container" does not exist: create it/,
      ],
      [
        "unknown account",
        new AzureBlobStore({
          container: "jobs",
          connectionString: server.connectionString.replace(/taquba/g, "nobody"),
        }),
        /no such account or resource \(container "jobs"\): check the account name/,
      ],
      [
        "wrong key",
        new AzureBlobStore({
          container: "jobs",
          connectionString: server.connectionString.replace(accountKey(), wrongKey),
        }),
        /Authentication failed: check the account key/,
      ],
    ];
    for (const [name, store, message] of cases) {
      const logger = recordingLogger();
      const started = performance.now();
      await assert.rejects(Queue.open(store, "q", { logger }), (err) => {
        assert.ok(err instanceof StorageError, `${name}: ${err}`);
        assert.equal(err.permanent, true, name);
        assert.match(err.message, message);
        return true;
      });
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 2_000, `${name}: took ${Math.round(elapsed)} ms`);
      assert.deepEqual(logger.messages("warn"), [], `${name}: nothing retried`);
    }
  });

  it("a missing container is a StorageError, never 'not found'", async () => {
    const store = new AzureBlobStore({
      container: "no-such-container",
      connectionString: server.connectionString,
    });
    await assert.rejects(store.get("k"), (err) => {
      assert.ok(err instanceof StorageError);
      assert.match(
        err.message,
        /get "k" on az:\/\/no-such-container\/ .* failed \(HTTP 404\): .*ContainerNotFound|The specified container does not exist/,
      );
      return true;
    });
    await assert.rejects(store.head("k"), StorageError);
    await assert.rejects(store.put("k", bytes("x"), { ifNoneMatch: "*" }), StorageError);
    await assert.rejects(store.list(""), StorageError);
  });

  it("a wrong account key fails with a StorageError that does not contain the key", async () => {
    const wrongKey = Buffer.from("not the right key, but base64 all the same").toString("base64");
    const store = new AzureBlobStore({
      container: "jobs",
      connectionString: server.connectionString.replace(accountKey(), wrongKey),
      maxTries: 1,
    });
    await assert.rejects(store.put("k", bytes("x")), (err) => {
      assert.ok(err instanceof StorageError);
      assert.match(err.message, /HTTP 403/);
      const everything = `${err.message} ${err.stack} ${JSON.stringify(err.cause)} ${(err.cause as Error).stack}`;
      assert.ok(!everything.includes(wrongKey) && !everything.includes(accountKey()));
      return true;
    });
  });
});

describe("AzureBlobStore options", { timeout: 180_000 }, () => {
  it("rejects bad options with InvalidArgumentError naming them", () => {
    assert.throws(
      () => new AzureBlobStore({ container: "", connectionString: "x" }),
      /^InvalidArgumentError: Expected `options.container` of AzureBlobStore to be a non-empty string, got ""$/,
    );
    assert.throws(
      () => new AzureBlobStore({ container: "c" }),
      /^InvalidArgumentError: Expected `options` of AzureBlobStore to be an object with one of client, connectionString or accountUrl \(with credential\), got none of them$/,
    );
    assert.throws(
      () => new AzureBlobStore({ container: "c", accountUrl: "myaccount.blob.core.windows.net" }),
      /^InvalidArgumentError: Expected `options.accountUrl` of AzureBlobStore to be an http\(s\) URL such as "https:\/\/myaccount.blob.core.windows.net", got "myaccount.blob.core.windows.net"$/,
    );
    assert.throws(
      () => new AzureBlobStore({ container: "cont", connectionString: "x", tryTimeoutMs: -1 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new AzureBlobStore({ container: "cont", connectionString: "x", prefix: "a\\b" }),
      /^InvalidArgumentError: Expected `options.prefix` of AzureBlobStore to be "\/"-separated names without "\\", "\." or "\.\." segments, got "a\\\\b\/", with a backslash/,
    );
  });

  it("a malformed connection string is refused when the store is created, naming what is missing, never quoting it", () => {
    const secret = "VE9QU0VDUkVU";
    const malformed: [string, RegExp][] = [
      [
        `AccountName=acct;AccountKey=${secret};BlobEndpoint=http://127.0.0.1:9/acct`,
        /got one with AccountKey but without DefaultEndpointsProtocol \(which an account key needs\) or SharedAccessSignature$/,
      ],
      [
        `DefaultEndpointsProtocol=http;AccountKey=${secret};BlobEndpoint=http://127.0.0.1:9/acc`,
        /got one without AccountName$/,
      ],
      [
        "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=;BlobEndpoint=http://127.0.0.1:9/a",
        /got one whose AccountKey is empty or not base64$/,
      ],
      [
        `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${secret}`,
        /got one with neither BlobEndpoint nor EndpointSuffix$/,
      ],
      [
        `DefaultEndpointsProtocol=ftp;AccountName=a;AccountKey=${secret};EndpointSuffix=core.windows.net`,
        /got one without BlobEndpoint, and whose DefaultEndpointsProtocol is not "https" or "http"$/,
      ],
      [
        `DefaultEndpointsProtocol=https;AccountName=a b;AccountKey=${secret};EndpointSuffix=core.windows.net`,
        /make no http\(s\) URL$/,
      ],
      [
        `DefaultEndpointsProtocol=http;AccountName=a;AccountKey=${secret};BlobEndpoint=not a url`,
        /got one whose BlobEndpoint is not an http\(s\) URL$/,
      ],
      [
        `DefaultEndpointsProtocol=http;AccountName=a;AccountKey=${secret};BlobEndpoint=ftp://h/a`,
        /got one whose BlobEndpoint is not an http\(s\) URL$/,
      ],
      [
        `SharedAccessSignature=sv=2022&sig=${secret}`,
        /got one with SharedAccessSignature but without BlobEndpoint \(which a SAS needs\)$/,
      ],
      [
        `BlobEndpoint=::;SharedAccessSignature=sv=2022&sig=${secret}`,
        /got one whose BlobEndpoint is not an http\(s\) URL$/,
      ],
      [
        `BlobEndpointX=http://h/a;SharedAccessSignature=sig=${secret}`,
        /got one with a field that starts with "BlobEndpoint" but is not "BlobEndpoint=…"$/,
      ],
      // Field names are read as the SDK reads them: case-sensitive, which the message says when
      // a name is one of them in another case.
      [
        `defaultendpointsprotocol=https;accountname=a;accountkey=${secret};endpointsuffix=core.windows.net`,
        /got one with neither AccountKey \(with DefaultEndpointsProtocol\) nor SharedAccessSignature \(field names are case-sensitive: "defaultendpointsprotocol" must be "DefaultEndpointsProtocol", "accountname" must be "AccountName", "accountkey" must be "AccountKey", "endpointsuffix" must be "EndpointSuffix"\)$/,
      ],
      [
        `DefaultEndpointsProtocol=https;AccountName=a; accountKey =${secret};EndpointSuffix=core.windows.net`,
        /got one with neither AccountKey \(with DefaultEndpointsProtocol\) nor SharedAccessSignature \(field names are case-sensitive: "accountKey" must be "AccountKey"\)$/,
      ],
      [
        `BlobEndpoint=http://127.0.0.1:9/a;sharedaccesssignature=sig=${secret}`,
        /got one with neither AccountKey \(with DefaultEndpointsProtocol\) nor SharedAccessSignature \(field names are case-sensitive: "sharedaccesssignature" must be "SharedAccessSignature"\)$/,
      ],
      [secret, /got one with neither AccountKey/],
    ];
    for (const [connectionString, missing] of malformed) {
      assert.throws(
        () => new AzureBlobStore({ container: "cont", connectionString, maxTries: 1 }),
        (err: unknown) => {
          assert.ok(err instanceof InvalidArgumentError, `${connectionString}: ${err}`);
          assert.match(
            err.message,
            /^Expected `options.connectionString` of AzureBlobStore to be an Azure Storage connection string \(DefaultEndpointsProtocol=https;AccountName=\.\.\.;AccountKey=\.\.\.;EndpointSuffix=core\.windows\.net\), got one /,
          );
          assert.match(err.message, missing, connectionString);
          assert.ok(!inspect(err).includes(secret), connectionString);
          return true;
        },
      );
      // The SDK rejects each of them too (or, for an endpoint that is not http(s), could send nothing).
      if (!/ftp:/.test(connectionString))
        assert.throws(() => new ContainerClient(connectionString, "cont"), connectionString);
    }
    assert.throws(
      () => new AzureBlobStore({ container: "cont", connectionString: 5 as never }),
      /^InvalidArgumentError: Expected `options.connectionString` of AzureBlobStore to be an Azure Storage connection string .*, got 5$/,
    );
  });

  it("every connection string form the SDK takes is accepted, and named by its blob endpoint", () => {
    const forms: [string, string][] = [
      ["UseDevelopmentStorage=true", "http://127.0.0.1:10000/devstoreaccount1"],
      // Azurite's well-known development account, as Microsoft documents it.
      [
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
        "http://127.0.0.1:10000/devstoreaccount1",
      ],
      [
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net",
        "https://acct.blob.core.windows.net",
      ],
      [
        " DefaultEndpointsProtocol=https ; AccountName=acct ; AccountKey=a2V5 ; EndpointSuffix=core.chinacloudapi.cn ; ",
        "https://acct.blob.core.chinacloudapi.cn",
      ],
      [
        "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&sig=c2ln",
        "https://acct.blob.core.windows.net",
      ],
      [
        "BlobEndpoint=http://localhost:10000/acct;SharedAccessSignature=?sv=2022-11-02&sig=c2ln",
        "http://localhost:10000/acct",
      ],
    ];
    for (const [connectionString, endpoint] of forms) {
      const store = new AzureBlobStore({ container: "cont", prefix: "p", connectionString });
      assert.equal(store.describe(), `az://cont/p/ at ${endpoint}`, connectionString);
      // The SDK's client is at the same protocol, host and path.
      const client = new URL(new ContainerClient(connectionString, "cont").url);
      assert.equal(
        `${client.protocol}//${client.host}${client.pathname.replace(/\/cont$/, "")}`,
        endpoint,
        connectionString,
      );
    }
  });

  it("every example connection string in messages and docs is a form the store and the SDK accept", async () => {
    const texts = [CONNECTION_STRING_EXPECTED, await readFile(README, "utf8")];
    for (const file of await modules(SRC)) texts.push(await readFile(file, "utf8"));
    const examples = texts.flatMap(
      (text) =>
        text.match(
          /\b(?:DefaultEndpointsProtocol|AccountName|AccountKey|BlobEndpoint|SharedAccessSignature|UseDevelopmentStorage)=[^\s`)"']*;[^\s`)"']*/g,
        ) ?? [],
    );
    // The refusal's own example, and the one of the `connectionString` option.
    assert.ok(examples.length >= 2, examples.join("\n"));
    for (const example of examples) {
      // "..." stands for a value: an account name, or a (base64) key.
      const connectionString = example.replaceAll("...", "YWNjdA");
      assert.ok(new AzureBlobStore({ container: "cont", connectionString }), example);
      assert.ok(new ContainerClient(connectionString, "cont"), example);
    }
  });
});

const queueOptions: OpenOptions = { logger: silentLogger, flushIntervalMs: 1 };

// The whole stack (queue, log, fencing) on Azure's own emulator: the store that
// passes the conformance suite must also carry a queue through restart and fencing.
describe("Queue on Azurite", { timeout: 180_000 }, () => {
  let server: AzuriteServer;
  let store: AzureBlobStore;

  before(async () => {
    server = await azurite();
    await createContainer(server.connectionString, "queues");
    store = new AzureBlobStore({
      container: "queues",
      prefix: "tenant",
      connectionString: server.connectionString,
    });
  });

  it("enqueues, claims and acks; state survives close and reopen", async () => {
    const first = await Queue.open(store, "app", queueOptions);
    const ids = [
      await first.enqueue("emails", "welcome"),
      await first.enqueue("emails", "digest"),
      await first.enqueue("emails", "urgent", { priority: 10 }),
    ];
    const claim = await first.claim("emails");
    assert.equal(claim?.id, ids[2], "the high-priority job is claimed first");
    assert.equal(text(claim?.payload), "urgent");
    await first.ack(claim!);
    assert.deepEqual(await first.stats("emails"), {
      queue: "emails",
      pending: 2,
      claimed: 0,
      done: 1,
      dead: 0,
      scheduled: 0,
      paused: false,
    });
    await first.close();

    const objects = await listAll(store, "app/");
    assert.ok(
      objects.some((o) => o.key.startsWith("app/wal/")) &&
        objects.some((o) => o.key.startsWith("app/manifest/")),
      `the log lives in the container: ${objects.map((o) => o.key).join(", ")}`,
    );

    const reopened = await Queue.open(store, "app", queueOptions);
    assert.equal((await reopened.stats("emails")).pending, 2);
    const next = await reopened.claim("emails");
    assert.equal(next?.id, ids[0], "FIFO within a priority survives the restart");
    assert.equal(text(next?.payload), "welcome");
    await reopened.ack(next!);
    assert.equal((await reopened.getJob(ids[1]!))?.status, "pending");
    await reopened.close();
  });

  it("a second writer on the same path fences the first", async () => {
    const older = await Queue.open(store, "fenced", queueOptions);
    const kept = await older.enqueue("jobs", "before the takeover");

    const newer = await Queue.open(store, "fenced", queueOptions);
    await assert.rejects(older.enqueue("jobs", "from the zombie"), FencedError);
    await assert.rejects(older.claim("jobs"), FencedError);

    assert.equal((await newer.stats("jobs")).pending, 1, "the zombie's write never landed");
    const claim = await newer.claim("jobs");
    assert.equal(claim?.id, kept);
    await newer.ack(claim!);
    await newer.enqueue("jobs", "after the takeover");
    await newer.close();
    await older.close().catch(() => {});

    const reopened = await Queue.open(store, "fenced", queueOptions);
    const stats = await reopened.stats("jobs");
    assert.equal(stats.pending, 1);
    assert.equal(stats.done, 1);
    await reopened.close();
  });

  it("a path with a '.' or '..' segment, a backslash or a control character is refused, never written", async () => {
    // The SDK resolves "." and ".." in a blob URL and Azure reads "\\" as "/": "jobs/../q"
    // would write into "q/", and "jobs/./q" would write where its own listings never look.
    // A name Azure's XML listings cannot carry (Azurite answers such a listing with HTTP 500)
    // would make its whole folder unlistable, so it is refused too.
    for (const path of ["jobs/./q", "jobs/../q", "jobs\\q", "jobs\u0001q", "jobs\uFFFFq"]) {
      await assert.rejects(Queue.open(store, path, queueOptions), (err) => {
        assert.ok(err instanceof InvalidArgumentError, `${path}: ${err}`);
        assert.match(err.message, /backslash|"\." or "\.\." segment|XML listings cannot carry/);
        return true;
      });
    }
    const keys = (await listAll(store, "")).map((o) => o.key);
    assert.deepEqual(
      keys.filter((k) => k.startsWith("q/") || k.startsWith("jobs/")),
      [],
      "nothing was written",
    );
    for (const key of ["a/./b", "../b", "a/..", "a\\b"]) {
      await assert.rejects(store.put(key, bytes("x")), InvalidArgumentError);
      await assert.rejects(store.get(key), InvalidArgumentError);
      await assert.rejects(store.head(key), InvalidArgumentError);
      await assert.rejects(store.delete(key), InvalidArgumentError);
    }
    // Dots inside a name are ordinary characters.
    await store.put("a.b/..c/d.", bytes("dots"));
    assert.equal(text((await store.get("a.b/..c/d."))?.body), "dots");
    assert.ok((await listAll(store, "a.b/")).some((o) => o.key === "a.b/..c/d."));
  });
});
