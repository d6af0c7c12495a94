/**
 * A store an application writes itself, with only what the public entry exports: its
 * atomic create signals "exists" with the exported `ObjectExistsError` (or any error
 * whose `code` is `OBJECT_EXISTS`), and the queue opens on it, fences a second writer
 * and refuses a store that overwrites; a key it cannot hold, refused with the exported
 * `InvalidArgumentError`, fails the open at once. Stores of the package's other build (ESM vs
 * CommonJS: here a second copy of the whole compiled package, so every class is its
 * own) work with a queue of this build, and each build's guards recognise the other's
 * errors.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { taqubaErrorCode } from "../../src/errors.js";
import * as taquba from "../../src/index.js";
import {
  FencedError,
  FileStore,
  InvalidArgumentError,
  isObjectExistsError,
  type ListOptions,
  type ListPage,
  MemoryStore,
  ObjectExistsError,
  type ObjectStore,
  type PutOptions,
  Queue,
  QueueReader,
  StorageError,
  type StoredObject,
  silentLogger,
  UnsupportedStoreError,
} from "../../src/index.js";
import { isTransient } from "../../src/log/retry.js";
import { repoRoot } from "../nodes.js";

/** How a user's adapter says "the key exists" (`object`: a non-Error with the code, wrongly). */
type ExistsSignal = "class" | "code" | "object" | "none";

/** A store over a Map, as a user would write one against the public types. */
class MapStore implements ObjectStore {
  readonly #objects = new Map<string, Uint8Array>();
  /** `refuse`: how it refuses keys under `bad` (which it "cannot hold"), if it does. */
  constructor(
    readonly exists: ExistsSignal,
    readonly refuse?: "invalid" | "plain",
  ) {}

  #check(key: string): void {
    if (this.refuse === undefined || !key.startsWith("bad")) return;
    const message = `object key "${key}" is not one this store can hold`;
    throw this.refuse === "invalid" ? new InvalidArgumentError(message) : new Error(message);
  }

  async get(key: string): Promise<StoredObject | null> {
    this.#check(key);
    const body = this.#objects.get(key);
    return body === undefined ? null : { body: body.slice() };
  }
  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    this.#check(key);
    if (options?.ifNoneMatch === "*" && this.#objects.has(key) && this.exists !== "none") {
      if (this.exists === "class") throw new ObjectExistsError(key);
      if (this.exists === "object") throw { code: "OBJECT_EXISTS", key };
      throw Object.assign(new Error(`${key} exists`), { code: "OBJECT_EXISTS" });
    }
    this.#objects.set(key, body.slice());
  }
  async delete(key: string): Promise<void> {
    this.#check(key);
    this.#objects.delete(key);
  }
  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    this.#check(prefix);
    const order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    const keys = [...this.#objects.keys()]
      .filter((k) => k.startsWith(prefix))
      .filter((k) => options.startAfter === undefined || order(k, options.startAfter) > 0)
      .sort(order);
    const page = keys.slice(0, options.limit ?? 1_000);
    return {
      objects: page.map((key) => ({ key, size: this.#objects.get(key)?.length ?? 0 })),
      ...(page.length < keys.length ? { nextStartAfter: page.at(-1) } : {}),
    };
  }
  describe(): string {
    return "map://test";
  }
}

/** Enqueue, claim and ack a job on `store`, then a second queue on it fences the first. */
async function queueWorksAndFences(store: ObjectStore): Promise<void> {
  const first = await Queue.open(store, "app", { logger: silentLogger });
  const id = await first.enqueue("q", "payload");
  const claim = await first.claim("q");
  assert.equal(claim?.id, id);
  if (claim) await first.ack(claim);
  await first.enqueue("q", "second");
  await first.flush();
  const second = await Queue.open(store, "app", { logger: silentLogger });
  try {
    assert.equal((await second.stats("q")).pending, 1, "the second writer sees the first's jobs");
    await assert.rejects(first.enqueue("q", "late"), FencedError);
  } finally {
    await first.close().catch(() => {});
    await second.close();
  }
}

/** A second copy of the whole compiled package, as the other build would be. */
async function secondCopyOfPackage(): Promise<{ build: typeof taquba; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-store-second-build-"));
  await cp(fileURLToPath(new URL("../../src/", import.meta.url)), join(dir, "src"), {
    recursive: true,
    filter: (source) => !source.endsWith(".map"),
  });
  await writeFile(join(dir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  await symlink(join(repoRoot(), "node_modules"), join(dir, "node_modules"), "dir");
  const build = (await import(pathToFileURL(join(dir, "src", "index.js")).href)) as typeof taquba;
  return { build, dir };
}

describe("a store of your own", { timeout: 30_000 }, () => {
  it("the public entry exports what an adapter throws, and its guard", () => {
    assert.equal(typeof taquba.ObjectExistsError, "function");
    const error = new taquba.ObjectExistsError("a/b");
    assert.equal(error.code, "OBJECT_EXISTS");
    assert.equal(error.key, "a/b");
    assert.equal(taquba.isObjectExistsError(error), true);
    assert.equal(
      taquba.isObjectExistsError(Object.assign(new Error("x"), { code: "OBJECT_EXISTS" })),
      true,
    );
    assert.equal(taquba.isObjectExistsError(new Error("x")), false);
    assert.equal(taquba.isObjectExistsError({ code: "OBJECT_EXISTS" }), false, "not an Error");
    // The guard promises a `key` only as far as it checks one: an Error with the code has none.
    const coded: unknown = Object.assign(new Error("x"), { code: "OBJECT_EXISTS" });
    assert.ok(taquba.isObjectExistsError(coded));
    // @ts-expect-error: `key` is `unknown`, not `string`
    const key: string = coded.key;
    assert.equal(key, undefined);
  });

  it('the log and the probe take the same errors as "exists": not a non-Error with the code', async () => {
    // Both go by isObjectExistsError: the probe reports the store as failing, as the log would.
    const error = await Queue.open(new MapStore("object"), "app", {
      logger: silentLogger,
      log: { retry: { maxElapsedMs: 300, baseDelayMs: 10 } },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(isTransient({ code: "OBJECT_EXISTS" }), true, "the log retries it too");
    assert.equal(isTransient(new ObjectExistsError("k")), false);
    assert.equal(
      isTransient(Object.assign(new Error("x"), { code: "OBJECT_EXISTS" })),
      false,
      "an Error with the code is a lost create",
    );
  });

  for (const signal of ["class", "code"] as const)
    it(`opens, runs jobs and fences a second writer when "exists" is ${signal === "class" ? "an ObjectExistsError" : "an Error with code OBJECT_EXISTS"}`, async () => {
      await queueWorksAndFences(new MapStore(signal));
    });

  it("a store that overwrites on an atomic create is refused", async () => {
    await assert.rejects(
      Queue.open(new MapStore("none"), "app", { logger: silentLogger }),
      UnsupportedStoreError,
    );
  });

  it("a key refused with InvalidArgumentError fails the open at once, naming the path; a plain Error is retried", async () => {
    const started = performance.now();
    const refused = await Queue.open(new MapStore("class", "invalid"), "bad", {
      logger: silentLogger,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof InvalidArgumentError, String(refused));
    assert.match(refused.message, /`path` to be a path map:\/\/test takes in its object keys/);
    assert.ok(performance.now() - started < 1_000, "not retried");
    // The same refusal as a plain Error looks like an outage: retried until the budget is spent.
    const retried = await Queue.open(new MapStore("class", "plain"), "bad", {
      logger: silentLogger,
      log: { retry: { maxElapsedMs: 300, baseDelayMs: 10 } },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(retried instanceof StorageError, String(retried));
    assert.match(retried.message, /attempt\(s\)/);
  });

  it("a reader of a path the store refuses names the path once, though its read nests in another", async () => {
    // Refused only on listing the manifests: the log's read refuses the path, and the reader's then sees that refusal.
    class ListRefusingStore extends MemoryStore {
      override async list(prefix: string, options?: ListOptions): Promise<ListPage> {
        if (prefix === "bad/manifest/")
          throw new InvalidArgumentError(`object key "${prefix}" is not one this store can hold`);
        return super.list(prefix, options);
      }
    }
    const refused = await QueueReader.open(new ListRefusingStore(), "bad").then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof InvalidArgumentError, String(refused));
    assert.match(
      refused.message,
      /^Expected `path` to be a path memory:\/\/ takes in its object keys \(it refused one under it: object key "bad\/[^"]*" is not one this store can hold\), got "bad"$/,
    );
  });
});

describe("stores of the package's other build", { timeout: 60_000 }, () => {
  let other: typeof taquba;
  let otherDir = "";
  const dirs: string[] = [];
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-other-store-"));
    dirs.push(dir);
    return dir;
  };
  before(async () => {
    ({ build: other, dir: otherDir } = await secondCopyOfPackage());
    assert.notEqual(other.ObjectExistsError, ObjectExistsError, "a build of its own");
  });
  after(async () => {
    for (const dir of [...dirs, otherDir]) if (dir !== "") await rm(dir, { recursive: true });
  });

  it("each build's guard recognises the other's ObjectExistsError; instanceof does not", async () => {
    const theirs = new other.ObjectExistsError("k");
    assert.equal(theirs instanceof ObjectExistsError, false);
    assert.equal(isObjectExistsError(theirs), true);
    assert.equal(other.isObjectExistsError(new ObjectExistsError("k")), true);
    for (const store of [new other.MemoryStore(), new other.FileStore(await tempDir())]) {
      await store.put("k", new Uint8Array([1]), { ifNoneMatch: "*" });
      const error = await store.put("k", new Uint8Array([2]), { ifNoneMatch: "*" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.equal(isObjectExistsError(error), true, store.describe());
    }
    assert.equal(taqubaErrorCode(new other.StorageError("down")), "STORAGE");
    assert.equal(new other.StorageError("down") instanceof StorageError, false);
  });

  it("a MemoryStore and a FileStore of the other build run a queue of this build and fence", async () => {
    await queueWorksAndFences(new other.MemoryStore());
    await queueWorksAndFences(new other.FileStore(await tempDir()));
  });

  it("a queue of the other build runs on this build's stores", async () => {
    for (const store of [new MemoryStore(), new FileStore(await tempDir())]) {
      const queue = await other.Queue.open(store, "app", { logger: silentLogger });
      try {
        await queue.enqueue("q", "x");
        assert.equal((await queue.stats("q")).pending, 1);
      } finally {
        await queue.close();
      }
    }
  });

  it("a path the other build's store refuses is this build's InvalidArgumentError, naming the path", async () => {
    const store = new other.FileStore(await tempDir());
    const path = "x".repeat(300);
    const error = await Queue.open(store, path, { logger: silentLogger }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.match(error.message, /takes in its object keys/);
  });
});
