/**
 * FileStore's writer thread: the thread that makes a put's or delete's system
 * calls in one hand-off. It may die and is replaced; two stores on one
 * directory still race for a key through the link; it never holds the
 * process open while idle; the caller's buffer is copied, not taken.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import { StorageError } from "../../src/errors.js";
import { FileStore } from "../../src/store/file.js";
import { ObjectExistsError } from "../../src/store/types.js";

const IDLE_WRITER = fileURLToPath(new URL("./fixtures/idle-writer.js", import.meta.url));

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

/** The next thread this process starts: a FileStore starts its writer thread on its first write. */
function nextThread(): Promise<Worker> {
  return new Promise((resolve) => process.once("worker", resolve));
}

/** Runs the idle-writer fixture; resolves with its exit code, stdout and how long it ran. */
function runChild(
  directory: string,
  mode: "idle" | "pending",
): Promise<{ code: number | null; stdout: string; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [IDLE_WRITER, directory, mode], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, ms: performance.now() - started });
    }),
  );
}

describe("FileStore writer thread", { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-writer-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("a thread that dies fails its pending writes as transient, and the next write starts a new one", async () => {
    const store = new FileStore(join(dir, "dies"));
    const thread = nextThread();
    await store.put("jobs/first", bytes("first"), { ifNoneMatch: "*" });
    const first = await thread;
    // Many writes in flight, then the thread is killed under them.
    const writes = Array.from({ length: 200 }, (_, i) =>
      store.put(`jobs/${i}`, bytes(`body ${i}`), { ifNoneMatch: "*" }).then(
        () => "written" as const,
        (err: unknown) => err,
      ),
    );
    const replacement = nextThread();
    await first.terminate();
    const outcomes = await Promise.all(writes);
    const failures = outcomes.filter((outcome) => outcome !== "written");
    assert.ok(failures.length > 0, "the thread died with writes pending");
    for (const err of failures) {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, false, "retried like any transient failure");
      assert.match(err.message, /put "jobs\/\d+" failed: .*writer thread exited/);
    }
    // The next write starts another thread and works, and so do retries of the failed ones.
    await store.put("jobs/after", bytes("after"), { ifNoneMatch: "*" });
    assert.notEqual(await replacement, first);
    assert.equal(text((await store.get("jobs/after"))?.body), "after");
    for (let i = 0; i < outcomes.length; i++) {
      if (outcomes[i] === "written") {
        assert.equal(text((await store.get(`jobs/${i}`))?.body), `body ${i}`);
        continue;
      }
      // Either it took effect before the thread died (exists, with this body) or it did not.
      await store.put(`jobs/${i}`, bytes(`body ${i}`), { ifNoneMatch: "*" }).catch((err) => {
        assert.ok(err instanceof ObjectExistsError, String(err));
      });
      assert.equal(text((await store.get(`jobs/${i}`))?.body), `body ${i}`);
    }
    await store.delete("jobs/after");
    assert.equal(await store.get("jobs/after"), null);
  });

  it("two stores on one directory creating the same keys at once: exactly one create of each wins", async () => {
    const root = join(dir, "race");
    const left = new FileStore(root);
    const right = new FileStore(root);
    const keys = Array.from({ length: 100 }, (_, i) => `wal/${String(i).padStart(4, "0")}`);
    const attempt = (store: FileStore, side: string, key: string) =>
      store.put(key, bytes(`${side} ${key}`), { ifNoneMatch: "*" }).then(
        () => side,
        (err: unknown) => {
          assert.ok(err instanceof ObjectExistsError, String(err));
          return undefined;
        },
      );
    const winners = await Promise.all(
      keys.map(async (key) => {
        const [a, b] = await Promise.all([
          attempt(left, "left", key),
          attempt(right, "right", key),
        ]);
        assert.ok((a === undefined) !== (b === undefined), `exactly one create of ${key} won`);
        return { key, winner: a ?? b };
      }),
    );
    for (const { key, winner } of winners) {
      const expected = `${winner} ${key}`;
      assert.equal(text((await left.get(key))?.body), expected);
      assert.equal(text((await right.get(key))?.body), expected);
    }
    // Losers removed their temp files.
    assert.deepEqual(await readdir(join(root, ".tmp")), []);
  });

  it("without fsync: creates, overwrites and deletes, with the same answers", async () => {
    const store = new FileStore(join(dir, "nosync"), { fsync: false });
    await store.put("a/b", bytes("one"), { ifNoneMatch: "*" });
    await assert.rejects(store.put("a/b", bytes("two"), { ifNoneMatch: "*" }), ObjectExistsError);
    assert.equal(text((await store.get("a/b"))?.body), "one");
    await store.put("a/b", bytes("three"));
    assert.equal(text((await store.get("a/b"))?.body), "three");
    await store.delete("a/b");
    await store.delete("a/b");
    assert.equal(await store.get("a/b"), null);
    assert.deepEqual(await readdir(join(dir, "nosync", ".tmp")), []);
  });

  it("copies the caller's body: its buffer is never detached, and only the body's bytes are written", async () => {
    const store = new FileStore(join(dir, "copies"));
    const whole = Buffer.from("xxhello worldxx");
    const body = whole.subarray(2, 13);
    await store.put("k", body);
    assert.equal(whole.buffer.byteLength >= 15, true, "not detached");
    assert.equal(whole.toString(), "xxhello worldxx");
    assert.equal(text((await store.get("k"))?.body), "hello world");
    // Still the caller's to reuse.
    body.fill(0x21);
    await store.put("k", body);
    assert.equal(text((await store.get("k"))?.body), "!!!!!!!!!!!");
  });

  it("a process whose store is idle exits at once; a pending write keeps it alive until written", async () => {
    const idle = await runChild(join(dir, "idle-child"), "idle");
    assert.equal(idle.code, 0);
    assert.equal(idle.stdout, "written\n");
    // Far less than the thread's idle time (5 min): the idle thread does not hold the process.
    assert.ok(idle.ms < 8_000, `exited after ${idle.ms} ms`);
    const written = new FileStore(join(dir, "idle-child"));
    assert.ok((await written.get("jobs/0")) !== null);
    assert.equal(await written.get("jobs/1"), null);
    const pending = await runChild(join(dir, "pending-child"), "pending");
    assert.equal(pending.code, 0);
    assert.equal(pending.stdout, "written\n", "the process waited for its pending put");
  });
});
