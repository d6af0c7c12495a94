import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { openWriter, type ResolvedStore, readBeforeWriting } from "../../src/cli/store-args.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import type { ListOptions, ListPage, ObjectStore, StoredObject } from "../../src/store/types.js";
import { capture, tempDirs } from "./capture.js";

const temp = tempDirs("taquba-cli-store-args-");
after(temp.removeAll);

/** A store that notes which keys and folders were read. */
class ReadLog implements ObjectStore {
  readonly reads: string[] = [];
  constructor(readonly inner: ObjectStore) {}
  get(key: string): Promise<StoredObject | null> {
    this.reads.push(`get ${key}`);
    return this.inner.get(key);
  }
  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    this.reads.push(`list ${prefix}`);
    return this.inner.list(prefix, options);
  }
  put: ObjectStore["put"] = (key, body, options) => this.inner.put(key, body, options);
  delete: ObjectStore["delete"] = (key) => this.inner.delete(key);
  describe(): string {
    return this.inner.describe();
  }
}

describe("openWriter after a check before writing", { timeout: 60_000 }, () => {
  it("opens the store the check read, judging the writer by that read", async () => {
    const dir = await temp.make();
    const first = await Queue.open(new FileStore(dir), "taquba", { logger: silentLogger });
    await first.enqueue("mail", "hello");
    await first.close();

    const store = new ReadLog(new FileStore(dir));
    const at: ResolvedStore = { store, path: "taquba", where: "the test's store" };
    const io = capture();
    const { reader, checked } = await readBeforeWriting(at, io);
    assert.equal(reader.stats("mail").pending, 1);
    assert.deepEqual(checked.before, { kind: "closed", epoch: 1 });
    const beforeOpen = store.reads.length;
    // Values naming a place with no store: a writer resolved from them would refuse.
    const queue = await openWriter(
      { store: await temp.make(), path: "elsewhere" },
      io,
      "test",
      {},
      checked,
    );
    try {
      assert.equal((await queue.stats("mail")).pending, 1);
      const opening = store.reads.slice(beforeOpen);
      // Who wrote last came from the check's read: the writer's beat is not looked up again.
      assert.deepEqual(
        opening.filter((read) => read.includes("/heartbeat/")),
        [],
        opening.join("\n"),
      );
    } finally {
      await queue.close();
    }
    assert.equal(
      io.stderr,
      "taquba test: opened the queue store as its writer (epoch 2); writer epoch 1 had closed cleanly\n",
    );
  });
});
