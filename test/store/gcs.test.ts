import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { Storage } from "@google-cloud/storage";
import { GaxiosError } from "gaxios";
import { forCliUser } from "../../src/cli/library-advice.js";
import { InvalidArgumentError, StorageError } from "../../src/errors.js";
import {
  type GcsBucket,
  type GcsClient,
  type GcsFile,
  type GcsListQuery,
  type GcsObjectMetadata,
  GcsStore,
  type GcsStoreOptions,
} from "../../src/store/gcs.js";
import { ObjectExistsError } from "../../src/store/types.js";

// There is no GCS emulator here: these tests check the requests GcsStore builds and how it
// maps the client's answers, through an injected client with the shape of `Storage`.

// Compile-time check that a real `Storage` can be injected (constructing it sends nothing).
const realClientFits: GcsClient = new Storage({ projectId: "offline" });

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const apiError = (code: number, message: string): Error =>
  Object.assign(new Error(message), { name: "ApiError", code, errors: [{ reason: "r" }] });

interface Call {
  method: string;
  file?: string;
  args: unknown[];
}

/** A Storage-shaped client that records calls and answers from per-method scripts. */
function scriptedClient(script: Partial<Record<string, (file: string) => unknown>>) {
  const calls: Call[] = [];
  const answer = async <T>(method: string, file: string, args: unknown[]): Promise<T> => {
    calls.push({ method, file, args });
    const handler = script[method];
    if (handler === undefined) throw new Error(`unexpected ${method}`);
    return handler(file) as T;
  };
  const makeFile = (name: string, metadata: GcsObjectMetadata = {}): GcsFile => ({
    name,
    metadata,
    download: (...args) => answer("download", name, args),
    save: (...args) => answer("save", name, args),
    // Like the client library: `ignoreNotFound` swallows every 404, a missing bucket's included.
    delete: (...args) =>
      answer("delete", name, args).catch((error: unknown) => {
        const ignoring = (args[0] as { ignoreNotFound?: boolean } | undefined)?.ignoreNotFound;
        if (ignoring === true && (error as { code?: unknown }).code === 404) return [{}];
        throw error;
      }),
    getMetadata: (...args) => answer("getMetadata", name, args),
  });
  const buckets: string[] = [];
  const bucket: GcsBucket = {
    file: (name) => makeFile(name),
    getFiles: async (query: GcsListQuery) => {
      calls.push({ method: "getFiles", args: [query] });
      const handler = script.getFiles;
      if (handler === undefined) throw new Error("unexpected getFiles");
      const { names, pageToken } = handler("") as { names: string[]; pageToken?: string };
      return [
        names.map((name) => makeFile(name, { size: String(name.length), etag: `e-${name}` })),
        pageToken === undefined ? null : { pageToken },
        {},
      ];
    },
  };
  const client: GcsClient = {
    bucket: (name) => {
      buckets.push(name);
      return bucket;
    },
  };
  return { client, calls, buckets };
}

describe("GcsStore request building and error mapping (injected client)", {
  timeout: 60_000,
}, () => {
  it("a create saves with ifGenerationMatch: 0 under the prefix; 412 means the object exists", async () => {
    let saves = 0;
    const { client, calls, buckets } = scriptedClient({
      save: () => {
        if (++saves === 2)
          throw apiError(412, "At least one of the pre-conditions you specified did not hold.");
      },
    });
    const store = new GcsStore({ bucket: "jobs", prefix: "prod/", client });
    await store.put("wal/00001", bytes("batch"), { ifNoneMatch: "*" });
    await assert.rejects(store.put("wal/00001", bytes("other"), { ifNoneMatch: "*" }), (err) => {
      assert.ok(err instanceof ObjectExistsError);
      assert.equal(err.key, "wal/00001");
      return true;
    });
    await store.put("checkpoint/x", bytes("overwrite"));
    assert.deepEqual(buckets, ["jobs"], "the bucket handle is made once");
    assert.deepEqual(
      calls.map((c) => [c.file, c.args[1]]),
      [
        ["prod/wal/00001", { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }],
        ["prod/wal/00001", { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }],
        ["prod/checkpoint/x", { resumable: false }],
      ],
    );
    assert.deepEqual(calls[0]?.args[0], bytes("batch"));
  });

  it("412 on a plain overwrite and other failures are StorageErrors with the status", async () => {
    const { client } = scriptedClient({
      save: () => {
        throw apiError(412, "precondition");
      },
      download: () => {
        throw apiError(503, "backend unavailable");
      },
    });
    const store = new GcsStore({ bucket: "jobs", client });
    await assert.rejects(store.put("k", bytes("x")), (err) => {
      assert.ok(err instanceof StorageError);
      assert.equal((err.cause as { statusCode?: number }).statusCode, 412);
      return true;
    });
    await assert.rejects(
      store.get("k"),
      /get "k" on gs:\/\/jobs\/ failed \(HTTP 503\): ApiError: backend unavailable/,
    );
  });

  it("get returns a plain Uint8Array, and 404 reads as null", async () => {
    const { client, calls } = scriptedClient({
      download: (file) => {
        if (file === "p/missing") throw apiError(404, "No such object");
        return [Buffer.from("payload")];
      },
    });
    const store = new GcsStore({ bucket: "b", prefix: "p", client });
    const got = await store.get("there");
    assert.deepEqual(got?.body, bytes("payload"));
    assert.equal(Object.getPrototypeOf(got?.body), Uint8Array.prototype);
    assert.equal(await store.get("missing"), null);
    assert.deepEqual(
      calls.map((c) => c.file),
      ["p/there", "p/missing"],
    );
  });

  it("head maps metadata (size arrives as a string); 404 reads as null", async () => {
    const { client } = scriptedClient({
      getMetadata: (file) => {
        if (file === "gone") throw apiError(404, "No such object");
        return [{ size: "12", etag: "CJ3f" }, {}];
      },
    });
    const store = new GcsStore({ bucket: "b", client });
    assert.deepEqual(await store.head("k"), { key: "k", size: 12, etag: "CJ3f" });
    assert.equal(await store.head("gone"), null);
  });

  it("delete of a missing object resolves; a missing bucket is a permanent StorageError", async () => {
    const { client, calls } = scriptedClient({
      delete: (file) => {
        if (file === "q/gone") throw apiError(404, "No such object: b/q/gone");
        return [{}];
      },
    });
    const store = new GcsStore({ bucket: "b", prefix: "q", client });
    await store.delete("k");
    await store.delete("gone");
    assert.deepEqual(
      calls.map((c) => c.file),
      ["q/k", "q/gone"],
    );
    const missingBucket = scriptedClient({
      delete: () => {
        throw apiError(404, "The specified bucket does not exist.");
      },
    });
    await assert.rejects(
      new GcsStore({ bucket: "nope", client: missingBucket.client }).delete("k"),
      {
        code: "STORAGE",
        permanent: true,
        message: /bucket "nope" does not exist: create it/,
      },
    );
  });

  it("list asks for one page from startOffset, drops the cursor itself, and sets nextStartAfter", async () => {
    const pages = [
      { names: ["p/a/1", "p/a/2", "p/a/3"] },
      { names: ["p/a/3", "p/a/4"] },
      { names: ["p/a/4"], pageToken: "more" },
    ];
    const { client, calls } = scriptedClient({ getFiles: () => pages.shift() });
    const store = new GcsStore({ bucket: "b", prefix: "p", client });

    assert.deepEqual(await store.list("a/", { limit: 2 }), {
      objects: [
        { key: "a/1", size: 5, etag: "e-p/a/1" },
        { key: "a/2", size: 5, etag: "e-p/a/2" },
      ],
      nextStartAfter: "a/2",
    });
    // startOffset is inclusive: the cursor comes back and is dropped.
    assert.deepEqual((await store.list("a/", { limit: 2, startAfter: "a/3" })).objects, [
      { key: "a/4", size: 5, etag: "e-p/a/4" },
    ]);
    // A page token means more may follow even when the page is short.
    assert.equal((await store.list("a/", { limit: 5 })).nextStartAfter, "a/4");
    assert.deepEqual(
      calls.map((c) => c.args[0]),
      [
        { prefix: "p/a/", maxResults: 3, autoPaginate: false },
        { prefix: "p/a/", maxResults: 3, autoPaginate: false, startOffset: "p/a/3" },
        { prefix: "p/a/", maxResults: 6, autoPaginate: false },
      ],
    );
  });

  it("a list failure is a StorageError naming the prefix", async () => {
    const { client } = scriptedClient({
      getFiles: () => {
        throw apiError(403, "caller does not have storage.objects.list access");
      },
    });
    await assert.rejects(
      new GcsStore({ bucket: "b", client }).list("wal/"),
      /list "wal\/" on gs:\/\/b\/ failed \(HTTP 403\)/,
    );
  });
});

describe("GcsStore error classification (injected client)", { timeout: 60_000 }, () => {
  it("a missing bucket throws a permanent StorageError from get and head, never null", async () => {
    const { client } = scriptedClient({
      download: () => {
        throw apiError(404, "The specified bucket does not exist.");
      },
      getMetadata: () => {
        throw apiError(404, "The specified bucket does not exist.");
      },
    });
    const store = new GcsStore({ bucket: "gone", client });
    for (const call of [() => store.get("k"), () => store.head("k")])
      await assert.rejects(call(), (err) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.permanent, true);
        assert.match(err.message, /bucket "gone" does not exist: create it/);
        return true;
      });
  });

  it("classifies 401, 403, 404 and missing credentials as permanent, 5xx, 429 and network errors as transient", async () => {
    const cases: Array<[Error, boolean, RegExp]> = [
      [apiError(401, "Invalid Credentials"), true, /Authentication failed: check the credentials/],
      [apiError(403, "no storage.objects.create access"), true, /Permission denied: allow/],
      [apiError(404, "The specified bucket does not exist."), true, /does not exist: create it/],
      [
        new Error("Could not load the default credentials. Browse to https://cloud.google.com"),
        true,
        /No Google Cloud credentials found: set GOOGLE_APPLICATION_CREDENTIALS.*, or pass `keyFilename` or `credentials` to GcsStore/,
      ],
      [apiError(400, "Invalid argument"), true, /HTTP 400/],
      [apiError(503, "backend unavailable"), false, /HTTP 503/],
      [apiError(429, "rate limited"), false, /HTTP 429/],
      [Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), false, /hang up/],
      [
        Object.assign(new Error("connect EACCES 10.0.0.1:443"), {
          code: "EACCES",
          syscall: "connect",
        }),
        false,
        /EACCES/,
      ],
    ];
    for (const [error, permanent, message] of cases) {
      const { client } = scriptedClient({
        save: () => {
          throw error;
        },
      });
      await assert.rejects(new GcsStore({ bucket: "b", client }).put("k", bytes("x")), (err) => {
        assert.ok(err instanceof StorageError, String(err));
        assert.equal(err.permanent, permanent, err.message);
        assert.match(err.message, message);
        return true;
      });
    }
  });

  it("a ready client that never answers still ends every call within timeoutMs", async () => {
    const { client } = scriptedClient({ download: () => new Promise(() => {}) });
    const started = performance.now();
    await assert.rejects(new GcsStore({ bucket: "b", client, timeoutMs: 50 }).get("k"), {
      code: "STORAGE",
      permanent: false,
      message: /get "k" on gs:\/\/b\/ timed out after 50 ms/,
    });
    assert.ok(performance.now() - started < 1_000);
  });
});

describe("GcsStore options", { timeout: 60_000 }, () => {
  it("rejects bad options with InvalidArgumentError naming them", () => {
    assert.throws(
      () => new GcsStore({ bucket: " " }),
      /^InvalidArgumentError: Expected `options.bucket` of GcsStore to be a non-empty string, got " "$/,
    );
    assert.throws(() => new GcsStore({ bucket: "b", prefix: "../x" }), InvalidArgumentError);
    assert.throws(
      () => new GcsStore({ bucket: "b", maxRetries: -1 }),
      /^InvalidArgumentError: Expected `options.maxRetries` of GcsStore to be an integer ≥ 0, got -1$/,
    );
    assert.throws(
      () => new GcsStore({ bucket: "b", timeoutMs: 0 }),
      /^InvalidArgumentError: Expected `options.timeoutMs` of GcsStore to be a positive integer/,
    );
  });

  it("describe() is the gs:// URL without credentials", () => {
    const store = new GcsStore({
      bucket: "jobs",
      prefix: "a/b",
      credentials: {
        client_email: "svc@example.iam",
        private_key: "-----BEGIN PRIVATE KEY-----secret",
      },
      client: realClientFits,
    });
    assert.equal(store.describe(), "gs://jobs/a/b/");
  });
});

describe("GcsStore with the client library, on a local server", { timeout: 60_000 }, () => {
  it("a service answering 503 or 429 at once is reported with that status when the time runs out", async () => {
    for (const [status, message, statusText] of [
      [503, "Backend Error", "Service Unavailable"],
      [429, "The rate of change requests exceeded", "Too Many Requests"],
    ] as const) {
      let requests = 0;
      const server = createServer((_req, res) => {
        requests++;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: status, message, errors: [{ message }] } }));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = server.address() as AddressInfo;
        // The client library backs off a second or more before its first retry: the limit falls inside.
        const store = new GcsStore({
          bucket: "b",
          apiEndpoint: `http://127.0.0.1:${port}`,
          projectId: "offline",
          timeoutMs: 500,
          // One retry: the abandoned calls' backoff then ends soon after the test.
          maxRetries: 1,
        });
        for (const call of [() => store.get("k"), () => store.list("q/")])
          await assert.rejects(call(), (err) => {
            assert.ok(err instanceof StorageError, String(err));
            assert.equal(err.permanent, false);
            assert.match(
              err.message,
              new RegExp(
                `timed out after 500 ms while the client library retried; the last answer was HTTP ${status}: ${statusText} \\(it may`,
              ),
            );
            assert.doesNotMatch(err.message, /without an answer|\n/);
            return true;
          });
        assert.ok(requests >= 2, String(requests));
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });
});

describe("GcsStore reading through createReadStream (injected file)", () => {
  /** A client whose one file is `file`; the other members are never called. */
  const clientOf = (file: GcsFile): GcsClient => ({
    bucket: () => ({
      file: () => file,
      getFiles: () => Promise.reject(new Error("unexpected getFiles")),
    }),
  });
  const unexpected = (): Promise<never> => Promise.reject(new Error("unexpected call"));
  /** A stream that says it is an object's and then gives `body`. */
  const objectStream = (body: Buffer): PassThrough => {
    const stream = new PassThrough();
    setImmediate(() => {
      stream.emit("response", { headers: { "x-goog-generation": "1" } });
      stream.end(body);
    });
    return stream;
  };

  it("a frozen file (its read of an error body cannot be wrapped) is still read", async () => {
    const file: GcsFile & { getBufferFromReadable(readable: unknown): Promise<Buffer> } =
      Object.freeze({
        name: "k",
        metadata: { etag: "e" },
        getBufferFromReadable: () => Promise.resolve(Buffer.alloc(0)),
        createReadStream: () => objectStream(Buffer.from("frozen")),
        download: unexpected,
        save: unexpected,
        delete: unexpected,
        getMetadata: unexpected,
      });
    const store = new GcsStore({ bucket: "b", client: clientOf(file) });
    assert.deepEqual((await store.get("k"))?.body, bytes("frozen"));
  });

  it("a failed read through the wrapped method never comes back as empty bytes", async () => {
    // As if a library read an object's bytes through the method it uses for error bodies:
    // the wrap turns the failure into an empty buffer, and the get must still fail.
    const file = {
      name: "k",
      metadata: { etag: "e" },
      getBufferFromReadable: (_readable: unknown): Promise<Buffer> =>
        Promise.reject(new Error("socket hang up")),
      createReadStream(this: { getBufferFromReadable(r: unknown): Promise<Buffer> }) {
        const stream = new PassThrough();
        void this.getBufferFromReadable(null).then((body) => {
          stream.emit("response", { headers: { "x-goog-generation": "1" } });
          stream.end(body);
        });
        return stream;
      },
      download: unexpected,
      save: unexpected,
      delete: unexpected,
      getMetadata: unexpected,
    };
    const store = new GcsStore({ bucket: "b", client: clientOf(file) });
    await assert.rejects(store.get("k"), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, false);
      assert.match(err.message, /could not be read whole: socket hang up/);
      return true;
    });
  });
});

describe("GcsStore with credentials it cannot use (the client library's own failures)", {
  timeout: 60_000,
}, () => {
  // Each fails inside the client library before any request is sent, so no network is needed.
  it("a key file that cannot be read, or credentials without a usable key, fail at once, permanent, saying what to fix", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-gcs-keys-"));
    try {
      const incomplete = join(dir, "incomplete.json");
      await writeFile(incomplete, JSON.stringify({ type: "service_account" }));
      const missing = join(dir, "missing.json");
      const cases: Array<[string, Partial<GcsStoreOptions>, RegExp]> = [
        [
          "a missing key file",
          { keyFilename: missing },
          new RegExp(
            `The key file "${escapeRegExp(missing)}" cannot be read \\(ENOENT\\): fix GOOGLE_APPLICATION_CREDENTIALS or the store's \`keyFilename\``,
          ),
        ],
        [
          "a directory as key file",
          { keyFilename: dir },
          new RegExp(`The key file "${escapeRegExp(dir)}" cannot be read \\(EISDIR\\)`),
        ],
        [
          "a key file without private_key and client_email",
          { keyFilename: incomplete },
          /The credentials lack a private_key or client_email: GOOGLE_APPLICATION_CREDENTIALS or the store's `keyFilename` must name a service-account key file/,
        ],
        [
          "a private key that does not parse",
          { credentials: { client_email: "queue@p.iam.gserviceaccount.com", private_key: "nope" } },
          /The credentials' private key cannot be read \(ERR_OSSL_\w+\): check the private_key/,
        ],
      ];
      for (const [what, options, message] of cases) {
        const store = new GcsStore({ bucket: "b", maxRetries: 0, timeoutMs: 20_000, ...options });
        await assert.rejects(store.get("k"), (err) => {
          assert.ok(err instanceof StorageError, `${what}: ${String(err)}`);
          assert.equal(err.permanent, true, `${what}: ${err.message}`);
          assert.match(err.message, message, what);
          return true;
        });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the same through GOOGLE_APPLICATION_CREDENTIALS (the CLI's way): fail at once, with advice a CLI user can follow", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-gcs-keys-"));
    const before = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    try {
      const incomplete = join(dir, "incomplete.json");
      await writeFile(incomplete, JSON.stringify({ type: "service_account" }));
      const noEmail = join(dir, "no-email.json");
      await writeFile(noEmail, JSON.stringify({ type: "service_account", private_key: "k" }));
      const missing = join(dir, "missing.json");
      const cases: Array<[string, string, RegExp]> = [
        [
          "a missing key file",
          missing,
          /The key file "[^"]*missing\.json" cannot be read \(ENOENT\)/,
        ],
        ["a directory", dir, new RegExp(`The key file "${escapeRegExp(dir)}" is not a file`)],
        ["a key file without any key", incomplete, /lack a private_key or client_email/],
        ["a key file without client_email", noEmail, /lack a private_key or client_email/],
      ];
      for (const [what, path, message] of cases) {
        process.env.GOOGLE_APPLICATION_CREDENTIALS = path;
        const store = new GcsStore({ bucket: "b", maxRetries: 0, timeoutMs: 20_000 });
        const started = Date.now();
        await assert.rejects(store.get("k"), (err) => {
          assert.ok(err instanceof StorageError, `${what}: ${String(err)}`);
          assert.equal(err.permanent, true, `${what}: ${err.message}`);
          assert.match(err.message, message, what);
          assert.match(err.message, /GOOGLE_APPLICATION_CREDENTIALS/, what);
          assert.doesNotMatch(err.message, /\.\s*\./, `${what}: one full stop between sentences`);
          const cli = forCliUser(err.message);
          assert.doesNotMatch(cli, /keyFilename|`credentials`/, `${what}: ${cli}`);
          return true;
        });
        assert.ok(Date.now() - started < 10_000, `${what}: at once`);
      }
    } finally {
      if (before === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = before;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the advice about a private key that does not parse names no option a CLI user lacks", async () => {
    const store = new GcsStore({
      bucket: "b",
      maxRetries: 0,
      timeoutMs: 20_000,
      credentials: { client_email: "queue@p.iam.gserviceaccount.com", private_key: "nope" },
    });
    await assert.rejects(store.get("k"), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.match(err.message, /check the private_key of the key file or of `credentials`/);
      assert.doesNotMatch(forCliUser(err.message), /`credentials`/);
      return true;
    });
  });
});

describe("GcsStore: a request's failure with a file's error code is not a key file problem", () => {
  const failingWith = (error: unknown): GcsStore => {
    const fail = (): never => {
      throw error;
    };
    return new GcsStore({
      bucket: "b",
      client: { bucket: () => ({ file: fail, getFiles: fail }) },
    });
  };

  it("a token request that fails with connect EACCES, as gaxios reports it, stays transient", async () => {
    const connect = Object.assign(new Error("connect EACCES 192.0.2.1:443"), {
      code: "EACCES",
      errno: -13,
      syscall: "connect",
      address: "192.0.2.1",
      port: 443,
    });
    const gaxiosError = new GaxiosError(
      "request to https://oauth2.googleapis.com/token failed, reason: connect EACCES 192.0.2.1:443",
      { url: "https://oauth2.googleapis.com/token" },
      undefined,
      connect,
    );
    // What the store is handed: gaxios copies the code, not the system call.
    assert.equal(gaxiosError.code, "EACCES");
    assert.equal((gaxiosError as { syscall?: unknown }).syscall, undefined);
    await assert.rejects(failingWith(gaxiosError).get("k"), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, false, err.message);
      assert.doesNotMatch(err.message, /key file/);
      return true;
    });
  });

  it("an EACCES or ENOENT without a file's system call stays transient", async () => {
    for (const code of ["EACCES", "ENOENT"]) {
      const error = Object.assign(new Error(`request failed: ${code}`), { code });
      await assert.rejects(failingWith(error).get("k"), (err) => {
        assert.ok(err instanceof StorageError, String(err));
        assert.equal(err.permanent, false, `${code}: ${err.message}`);
        return true;
      });
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
