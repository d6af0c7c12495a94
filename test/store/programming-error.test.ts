/**
 * Bugs and broken runtimes inside a store call (`ReferenceError: TextEncoder
 * is not defined`, `TypeError: x is not a function`) are told apart from
 * outages: a custom store's, and the FileStore's, fail at once as permanent
 * StorageErrors that say so, while network failures (`fetch`'s `TypeError:
 * fetch failed` with its cause), a `RangeError` (an allocation that failed),
 * a plain `Error` and whatever the cloud SDKs throw keep their classification.
 */
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import { describe, it } from "node:test";
import { runInNewContext } from "node:vm";
import { StorageError } from "../../src/errors.js";
import { isTransient } from "../../src/log/retry.js";
import { AzureBlobStore } from "../../src/store/azure.js";
import { baseVerdict, toStorageError } from "../../src/store/cloud/errors.js";
import { fileStoreError } from "../../src/store/file-errors.js";
import { GcsStore } from "../../src/store/gcs.js";
import { MemoryStore } from "../../src/store/memory.js";
import { probeConditionalWrites } from "../../src/store/probe.js";
import {
  describeThrown,
  FIX_FILESTORE,
  involvesProgrammingError,
  isProgrammingError,
  programmingFailure,
} from "../../src/store/programming-error.js";
import { S3Store } from "../../src/store/s3.js";
import type { ObjectStore } from "../../src/store/types.js";
import { azureStoreAt, s3StoreAt } from "./sdk-stores.js";

/** The error a thrown `fn()` threw (real ones: the runtime's own messages and fields). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail("expected a throw");
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail("expected a rejection"),
    (error: unknown) => error,
  );
}

const systemError = (code: string): Error =>
  Object.assign(new Error(`read ${code}`), { code, syscall: "read" });

/** Bugs and broken runtimes, each as the runtime throws it. */
const bugs: Record<string, () => unknown> = {
  "ReferenceError: TextEncoder is not defined": () =>
    thrownBy(() => runInNewContext("TextEncoder", {})),
  "TypeError: x is not a function": () =>
    thrownBy(() => (undefined as unknown as { x: () => void }).x()),
  "TypeError from a Node argument check (ERR_INVALID_ARG_TYPE)": () =>
    thrownBy(() => Buffer.from(5 as unknown as string)),
  "SyntaxError of code (eval)": () => thrownBy(() => new Function("return {")),
  EvalError: () => new EvalError("eval refused"),
  URIError: () => thrownBy(() => decodeURIComponent("%")),
  "TypeError of another realm": () => thrownBy(() => runInNewContext("null.x")),
  "TypeError whose cause is a bug too (fetch of a URL that does not parse)": () =>
    new TypeError("Failed to parse URL from nope", {
      cause: thrownBy(() => new URL("nope")),
    }),
  "a store's TypeError wrapping fetch's refusal of a scheme (nothing was sent)": () =>
    new TypeError("upload failed", {
      cause: new TypeError("fetch failed", { cause: new Error("unknown scheme") }),
    }),
};

/** Outages and everything else that stays transient. */
const outages: Record<string, () => unknown> = {
  "a plain Error": () => new Error("connection reset by peer"),
  "RangeError: Array buffer allocation failed (memory pressure, which passes)": () =>
    new RangeError("Array buffer allocation failed"),
  "RangeError: Maximum call stack size exceeded": () => {
    const recurse = (n: number): number => recurse(n + 1) + 1;
    return thrownBy(() => recurse(0));
  },
  "Azure's RangeError on a proxy's 200 without an ETag": () =>
    new RangeError("File download response doesn't contain valid etag header"),
  "TypeError: fetch failed, caused by ECONNRESET": () =>
    new TypeError("fetch failed", { cause: systemError("ECONNRESET") }),
  "TypeError: terminated, caused by an undici socket error": () =>
    new TypeError("terminated", {
      cause: Object.assign(new Error("other side closed"), {
        name: "SocketError",
        code: "UND_ERR_SOCKET",
      }),
    }),
  "a TypeError with a system error code (ETIMEDOUT)": () =>
    Object.assign(new TypeError("socket hang up"), { code: "ETIMEDOUT" }),
  "a TypeError with an undici code": () =>
    Object.assign(new TypeError("connect timeout"), { code: "UND_ERR_CONNECT_TIMEOUT" }),
  "a store's TypeError wrapping a plain Error (it may say anything: not known to be a bug)": () =>
    new TypeError("the upload failed", { cause: new Error("the gateway said no") }),
  "TypeError: fetch failed, its cause a code-less Error fetch does not give for a refusal": () =>
    new TypeError("fetch failed", { cause: new Error("redirect count exceeded") }),
  "a TypeError (not fetch's) caused by an Error with a refusal's words": () =>
    new TypeError("put failed", { cause: new Error("unknown scheme") }),
  "a store's TypeError wrapping fetch's network failure": () =>
    new TypeError("upload failed", {
      cause: new TypeError("fetch failed", { cause: systemError("ECONNRESET") }),
    }),
  "TypeError: fetch failed, caused by an AggregateError of refused connections": () =>
    new TypeError("fetch failed", {
      cause: new AggregateError([systemError("ECONNREFUSED"), systemError("ECONNREFUSED")]),
    }),
  "TypeError: fetch failed, caused by an HTTP parser error (HPE_ code)": () =>
    new TypeError("fetch failed", {
      cause: Object.assign(new Error("Response does not match the HTTP/1.1 protocol"), {
        name: "HTTPParserError",
        code: "HPE_INVALID_CONSTANT",
      }),
    }),
  "TypeError: fetch failed, caused by a TLS failure": () =>
    new TypeError("fetch failed", {
      cause: Object.assign(new Error("self-signed certificate"), {
        code: "DEPTH_ZERO_SELF_SIGNED_CERT",
      }),
    }),
  "a TypeError caused by a timeout (DOMException)": () =>
    new TypeError("request failed", {
      cause: new DOMException("The operation was aborted due to timeout", "TimeoutError"),
    }),
  "a TypeError caused by an SDK error that carries an answer": () =>
    new TypeError("request failed", {
      cause: Object.assign(new Error("Service Unavailable"), { statusCode: 503 }),
    }),
  "SyntaxError of a garbled answer (JSON.parse of a proxy's error page)": () =>
    thrownBy(() => JSON.parse("<html>502 Bad Gateway</html>")),
  "an SDK's TypeError that carries the answer it failed to read ($metadata)": () =>
    Object.assign(new TypeError("Cannot read properties of undefined (reading 'Contents')"), {
      $metadata: { httpStatusCode: 200 },
    }),
  "an Azure RestError (REQUEST_SEND_ERROR)": () =>
    Object.assign(new Error("connect ECONNREFUSED"), {
      name: "RestError",
      code: "REQUEST_SEND_ERROR",
    }),
  "a GaxiosError": () => Object.assign(new Error("request failed"), { name: "GaxiosError" }),
  "a value String() refuses": () => Object.create(null),
  "a string": () => "boom",
  "an error whose name getter throws": () =>
    Object.defineProperty(new Error("x"), "name", {
      get() {
        throw new Error("no name");
      },
    }),
};

describe("isProgrammingError", () => {
  for (const [what, make] of Object.entries(bugs))
    it(`a bug: ${what}`, () => {
      const error = make();
      assert.equal(isProgrammingError(error), true, String(error));
      assert.equal(isTransient(error), false, "not retried");
    });

  for (const [what, make] of Object.entries(outages))
    it(`not a bug: ${what}`, () => {
      const error = make();
      assert.equal(isProgrammingError(error), false);
      assert.equal(isTransient(error), true, "retried");
    });

  it("not a bug: a real fetch to a port where nothing listens (TypeError: fetch failed)", async () => {
    const port = await closedPort();
    const error = await rejectionOf(fetch(`http://127.0.0.1:${port}/`));
    assert.ok(error instanceof TypeError, String(error));
    assert.equal(error.message, "fetch failed");
    assert.equal(isProgrammingError(error), false);
    assert.equal(isTransient(error), true);
  });

  it("a bug: a real fetch of a scheme it does not know (TypeError: fetch failed, its cause without a code)", async () => {
    const error = await rejectionOf(fetch("ftp://127.0.0.1/"));
    assert.ok(error instanceof TypeError, String(error));
    assert.equal(error.message, "fetch failed");
    assert.equal(isProgrammingError(error), true);
    assert.equal(isTransient(error), false, "not retried");
  });

  it("a bug: a real fetch to a port fetch refuses (TypeError: fetch failed, bad port)", async () => {
    const error = await rejectionOf(fetch("http://127.0.0.1:6000/"));
    assert.equal((error as Error).message, "fetch failed");
    assert.equal(isProgrammingError(error), true);
  });

  it("the permanent error says fetch's reason, not only `fetch failed`", async () => {
    const error = await rejectionOf(fetch("http://127.0.0.1:6000/"));
    const failure = programmingFailure("put of jobs/x", error);
    assert.match(
      failure.message,
      /^put of jobs\/x failed with TypeError: fetch failed \(bad port\)\. /,
    );
  });

  it("not a bug: real fetch failures on an answer, whose cause has no code (a redirect loop, an unexpected redirect, a redirect to another scheme, a proxy's 407)", async () => {
    const server = createHttpServer((req, res) => {
      if (req.url === "/loop") res.writeHead(302, { location: "/loop" });
      else if (req.url === "/ftp") res.writeHead(302, { location: "ftp://127.0.0.1/x" });
      else if (req.url === "/moved") res.writeHead(302, { location: "/elsewhere" });
      else res.writeHead(407, { "proxy-authenticate": 'Basic realm="proxy"' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const requests: Record<string, () => Promise<unknown>> = {
        "redirect loop": () => fetch(`${base}/loop`),
        "redirect to another scheme": () => fetch(`${base}/ftp`),
        'a redirect with redirect: "error"': () => fetch(`${base}/moved`, { redirect: "error" }),
        "a proxy's 407": () => fetch(`${base}/proxy`),
      };
      for (const [what, request] of Object.entries(requests)) {
        const error = await rejectionOf(request());
        assert.equal((error as Error).message, "fetch failed", what);
        const cause = (error as Error).cause as { code?: unknown };
        assert.equal(cause.code, undefined, `${what}: fetch gives a code-less cause`);
        assert.equal(isProgrammingError(error), false, what);
        assert.equal(isTransient(error), true, what);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("not a bug: real fetch failures (a reset, a garbled answer, a cut body, an unknown host)", async () => {
    const behaviours: Record<string, (socket: Socket) => void> = {
      reset: (socket) => socket.destroy(),
      garbled: (socket) => socket.end("GARBAGE\r\n\r\n"),
      cut: (socket) => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
        setTimeout(() => socket.destroy(), 20);
      },
    };
    for (const [what, behave] of Object.entries(behaviours)) {
      const listener = createServer((socket) => socket.once("data", () => behave(socket)));
      await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
      const { port } = listener.address() as { port: number };
      try {
        const error = await rejectionOf(
          fetch(`http://127.0.0.1:${port}/`).then((answer) => answer.arrayBuffer()),
        );
        assert.ok(error instanceof TypeError, `${what}: ${String(error)}`);
        assert.equal(isProgrammingError(error), false, what);
        assert.equal(isTransient(error), true, what);
      } finally {
        await new Promise((resolve) => listener.close(resolve));
      }
    }
    const unknownHost = await rejectionOf(fetch("http://no-such-host.invalid/"));
    assert.ok(unknownHost instanceof TypeError, String(unknownHost));
    assert.equal(isProgrammingError(unknownHost), false);
  });

  it("a cause chain that loops ends", () => {
    const looped = new TypeError("fetch failed");
    const inner = new TypeError("terminated", { cause: looped });
    Object.defineProperty(looped, "cause", { value: inner });
    assert.equal(typeof isProgrammingError(looped), "boolean");
  });

  it("describeThrown names the class", () => {
    assert.equal(
      describeThrown(new ReferenceError("x is not defined")),
      "ReferenceError: x is not defined",
    );
    assert.equal(describeThrown(new Error("plain")), "Error: plain");
    assert.equal(describeThrown("a string"), "a string");
  });

  it("describeThrown masks the signed URL in fetch's parse error, and secrets in any URL", async () => {
    const error = await rejectionOf(
      fetch("https://acc.blob.core.windows.net:99999/c/k?sv=2024-01-01&sig=SECRET"),
    );
    assert.equal(isProgrammingError(error), true, String(error));
    assert.equal(
      describeThrown(error),
      "TypeError: Failed to parse URL from https://acc.blob.core.windows.net:99999/c/k?sv=…&sig=…",
    );
    assert.equal(
      describeThrown(new TypeError("cannot sign https://u:pw@host/p?X-Amz-Signature=abc (bad)")),
      "TypeError: cannot sign https://***@host/p?X-Amz-Signature=… (bad)",
    );
  });

  it("involvesProgrammingError finds a bug a store wrapped, and nothing in an outage", () => {
    const bug = new TypeError("x is not a function");
    assert.equal(involvesProgrammingError(bug), true);
    assert.equal(
      involvesProgrammingError(new StorageError("put failed", { cause: bug, permanent: true })),
      true,
    );
    assert.equal(
      involvesProgrammingError(new StorageError("503", { cause: new Error("503") })),
      false,
    );
    assert.equal(involvesProgrammingError(new RangeError("Array buffer allocation failed")), false);
  });
});

/** A port that was free a moment ago: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("the stores' error mapping", { timeout: 30_000 }, () => {
  it("cloud adapters: an SDK's TypeError, SyntaxError or RangeError without an answer stays transient", () => {
    // An SDK throws these on a garbled or cut answer (a proxy's page), which heals.
    for (const thrown of [
      new TypeError("Cannot read properties of undefined (reading 'Contents')"),
      new SyntaxError("Unexpected token < in XML"),
      new RangeError("File download response doesn't contain valid etag header"),
      new TypeError("fetch failed", { cause: systemError("ECONNRESET") }),
    ]) {
      assert.deepEqual(baseVerdict(thrown), { permanent: false });
      const error = toStorageError("s3://b/", "get", "k", thrown);
      assert.equal(error.permanent, false, error.message);
      assert.doesNotMatch(error.message, /not a store outage/);
    }
  });

  it("FileStore: a bug is permanent and says so; any other failure stays transient", () => {
    const cause = new TypeError("handle.sync is not a function");
    const error = fileStoreError("directory /d", "put", "k", cause);
    assert.ok(error instanceof StorageError);
    assert.equal(error.permanent, true);
    assert.equal(error.cause, cause);
    assert.equal(
      error.message,
      `directory /d: put "k" failed with TypeError: handle.sync is not a function. This is not a store outage, so it is not retried: ${FIX_FILESTORE}`,
    );
    const oom = fileStoreError(
      "directory /d",
      "put",
      "k",
      new RangeError("Array buffer allocation failed"),
    );
    assert.ok(oom instanceof StorageError);
    assert.equal(oom.permanent, false, "memory pressure passes: retried");
    const eio = fileStoreError("directory /d", "put", "k", systemError("EIO"));
    assert.ok(eio instanceof StorageError);
    assert.equal(eio.permanent, false);
  });

  it("the probe: a create that fails with a bug fails it at once, permanent", async () => {
    const inner = new MemoryStore();
    const cause = thrownBy(() => runInNewContext("TextEncoder", {}));
    const store: ObjectStore = {
      get: (key) => inner.get(key),
      put: () => Promise.reject(cause),
      delete: (key) => inner.delete(key),
      list: (prefix, options) => inner.list(prefix, options),
      describe: () => "a store of your own",
    };
    const error = await rejectionOf(probeConditionalWrites(store, "q/"));
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.permanent, true);
    assert.equal(error.cause, cause);
    assert.match(
      error.message,
      /^a store of your own: conditional-write probe on "q\/probe\/\w+" failed with ReferenceError: TextEncoder is not defined\. This is not a store outage, so it is not retried: fix the store's code/,
    );
  });

  /** Each cloud store over a client whose every method throws `make()`. */
  const overClient: Record<string, (client: never) => ObjectStore> = {
    S3Store: (client) => new S3Store({ bucket: "jobs", client }),
    AzureBlobStore: (client) => new AzureBlobStore({ container: "jobs", client }),
    GcsStore: (client) => new GcsStore({ bucket: "jobs", client }),
  };
  const throwingClient = (make: () => unknown): never =>
    new Proxy(
      {},
      {
        get(_target, name) {
          if (name === "url") return "http://127.0.0.1:9/acc/jobs"; // AzureBlobStore's describe()
          if (name === "then" || typeof name === "symbol") return undefined; // not a promise
          return () => {
            throw make();
          };
        },
      },
    ) as never;

  for (const [name, create] of Object.entries(overClient)) {
    it(`${name}: what the client throws without an answer (TypeError, RangeError, fetch failed) stays transient`, async () => {
      for (const thrown of [
        () => new TypeError("Cannot read properties of undefined (reading 'headers')"),
        () => new RangeError("File download response doesn't contain valid etag header"),
        () => new TypeError("fetch failed", { cause: systemError("ECONNRESET") }),
      ]) {
        const error = await rejectionOf(create(throwingClient(thrown)).get("k"));
        assert.ok(error instanceof StorageError, String(error));
        assert.equal(error.permanent, false, error.message);
        assert.equal(isTransient(error), true);
      }
    });
  }

  /** Real SDKs against a port where nothing listens: a refused connection, each SDK's own way. */
  const refusing: Record<string, (endpoint: string) => ObjectStore> = {
    S3Store: s3StoreAt,
    AzureBlobStore: azureStoreAt,
    // Not GcsStore: its client retries a refused connection until the call's time limit.
  };
  for (const [name, create] of Object.entries(refusing)) {
    it(`${name}: a refused connection through the real SDK stays transient`, async () => {
      const store = create(`http://127.0.0.1:${await closedPort()}`);
      const error = await rejectionOf(store.get("k"));
      assert.ok(error instanceof StorageError, String(error));
      assert.equal(error.permanent, false, error.message);
      assert.doesNotMatch(error.message, /timed out/, "the refusal itself, not a time limit");
      assert.equal(isTransient(error), true);
    });
  }
});
