import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { Queue } from "../../src/queue/queue.js";
import type { ObjectStore } from "../../src/store/types.js";
import { memoryAndFileStores, mustClaim, openTestQueue, rejection, text } from "./helpers.js";

const STORES = memoryAndFileStores("taquba-payload-strings-");

/** What a refused payload's error says: its argument, the surrogate and where it is. */
function loneSurrogate(arg: string, unit: string, index: number): RegExp {
  return new RegExp(
    `^Expected \`${arg.replace(/[.[\]]/g, "\\$&")}\` to be a Uint8Array or a well-formed Unicode string \\(a string is stored as UTF-8\\), got a string with a lone surrogate U\\+${unit} at index ${index}$`,
  );
}

async function expectRefused(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await rejection(promise);
  assert.ok(error instanceof InvalidArgumentError, String(error));
  assert.match(error.message, message);
}

/** Every object key of `store` (an offloaded payload would be one of its own). */
async function keys(store: ObjectStore): Promise<string[]> {
  const all: string[] = [];
  let startAfter: string | undefined;
  for (;;) {
    const page = await store.list("", {
      limit: 1000,
      ...(startAfter === undefined ? {} : { startAfter }),
    });
    for (const o of page.objects) all.push(o.key);
    if (page.nextStartAfter === undefined) return all;
    startAfter = page.nextStartAfter;
  }
}

/** The queue's jobs and schedules, as a reader sees them. */
async function visible(queue: Queue): Promise<unknown> {
  const queues = await queue.listQueues();
  return {
    queues,
    stats: await Promise.all(queues.map((q) => queue.stats(q))),
    schedules: await queue.listSchedules(),
  };
}

for (const [storeName, makeStore] of STORES) {
  describe(`string payloads with a lone surrogate (${storeName})`, { timeout: 60_000 }, () => {
    it("are refused by every enqueue path, naming the payload and the position; nothing is written", async () => {
      const store = await makeStore();
      const { queue } = await openTestQueue({ payloadOffloadBytes: 1_024 }, store);
      await queue.enqueue("q", "held", { dedupKey: "k" });
      await queue.flush();
      const records = queue.logStats().recordsWritten;
      const before = await visible(queue);
      const objects = await keys(store);

      await expectRefused(queue.enqueue("q", "abc\uD800"), loneSurrogate("payload", "D800", 3));
      await expectRefused(queue.enqueue("q", "\uDC00abc"), loneSurrogate("payload", "DC00", 0));
      // A high surrogate followed by another high one: the first is lone.
      await expectRefused(
        queue.enqueue("q", "😀\uD83D\uD83D\uDE00"),
        loneSurrogate("payload", "D83D", 2),
      );
      // Past the offload size: refused before its object is written.
      await expectRefused(
        queue.enqueue("q", `${"x".repeat(4_000)}\uDBFF`),
        loneSurrogate("payload", "DBFF", 4_000),
      );
      // Replacing the waiting job's payload (debounce).
      await expectRefused(
        queue.enqueue("q", "new\uD800", { dedupKey: "k", dedupReplace: true }),
        loneSurrogate("payload", "D800", 3),
      );
      await expectRefused(
        queue.enqueueBatch("q", ["ok", "bad\uDFFF"]),
        loneSurrogate("payloads[1]", "DFFF", 3),
      );
      await expectRefused(
        queue.enqueueMany("q", [{ payload: "ok" }, { payload: "\uD800" }]),
        loneSurrogate("jobs[1].payload", "D800", 0),
      );
      await expectRefused(
        queue.transaction((tx) => {
          tx.enqueue("q", "ok");
          tx.enqueue("other", "a\uD800b");
        }),
        /payload` to be a Uint8Array or a well-formed Unicode string \(a string is stored as UTF-8\), got a string with a lone surrogate U\+D800 at index 1$/,
      );
      await expectRefused(
        queue.enqueueFlow({ queue: "root", payload: "r\uDC00", children: [] }),
        /payload` to be .* lone surrogate U\+DC00 at index 1$/,
      );
      await expectRefused(
        queue.enqueueFlow({
          queue: "root",
          payload: "r",
          children: [
            { queue: "leaf", payload: "ok" },
            { queue: "leaf", payload: "l\uD800" },
          ],
        }),
        /children\[1\]\.payload` to be .* lone surrogate U\+D800 at index 1$/,
      );
      await expectRefused(
        queue.schedule("s", { everyMs: 60_000, queue: "q", payload: "s\uD800" }),
        loneSurrogate("spec.payload", "D800", 1),
      );

      await queue.flush();
      assert.equal(queue.logStats().recordsWritten, records);
      assert.deepEqual(await visible(queue), before);
      assert.deepEqual(await keys(store), objects);
      const [held] = (await queue.listJobs("q", "pending")).jobs;
      assert.equal(text(held!.payload), "held");
      await queue.close();
    });

    it("a JSON text (JSON.stringify escapes lone surrogates) and surrogate pairs are stored exactly, across a reopen", async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      const json = JSON.stringify({ s: "a\uD800b\uDC00" });
      assert.equal(json, '{"s":"a\\ud800b\\udc00"}');
      const a = await queue.enqueue("q", json);
      const [b] = await queue.enqueueBatch("q", ["pair 😀"]);
      await queue.close();
      const { queue: reopened } = await openTestQueue({}, store, clock);
      assert.equal(text((await reopened.getJob(a))!.payload), json);
      assert.equal(JSON.parse(text((await reopened.getJob(a))!.payload)).s, "a\uD800b\uDC00");
      assert.equal(text((await reopened.getJob(b!))!.payload), "pair 😀");
      await reopened.close();
    });

    it("a KV value or expected value with a lone surrogate is refused; nothing is written", async () => {
      const { queue } = await openTestQueue({}, await makeStore());
      await queue.kvPut("k", "v");
      await queue.flush();
      const records = queue.logStats().recordsWritten;
      await expectRefused(queue.kvPut("k", "v\uD800"), loneSurrogate("value", "D800", 1));
      await expectRefused(queue.kvPut("new", "\uDC00"), loneSurrogate("value", "DC00", 0));
      // The expected value too: refused, not answered `false`.
      await expectRefused(
        queue.kvCompareAndSet("k", "v\uD800", "w"),
        loneSurrogate("expected", "D800", 1),
      );
      await expectRefused(
        queue.kvCompareAndSet("k", "v", "w\uDBFF"),
        loneSurrogate("value", "DBFF", 1),
      );
      await expectRefused(
        queue.transaction((tx) => {
          tx.kvPut("other", "ok");
          tx.kvPut("k", "x\uDFFF");
        }),
        loneSurrogate("tx.kvPut value", "DFFF", 1),
      );
      // A transaction's kvCheck: an InvalidArgumentError, not a ConflictError.
      await expectRefused(
        queue.transaction((tx) => {
          tx.kvCheck("k", "v\uD800");
          tx.kvPut("other", "ok");
        }),
        loneSurrogate("tx.kvCheck expected", "D800", 1),
      );
      await queue.flush();
      assert.equal(queue.logStats().recordsWritten, records);
      const page = await queue.kvScan("");
      assert.deepEqual(
        page.entries.map((e) => [e.key, text(e.value)]),
        [["k", "v"]],
      );
      await queue.close();
    });

    it("a string result with a lone surrogate is refused and leaves the claim live", async () => {
      const { queue } = await openTestQueue({}, await makeStore());
      const id = await queue.enqueue("q", "x");
      const claim = await mustClaim(queue, "q");
      await expectRefused(
        queue.ack(claim, { result: "r\uD800" }),
        loneSurrogate("options.result", "D800", 1),
      );
      assert.equal((await queue.getJob(id))?.status, "claimed");
      await queue.ack(claim, { result: "r" });
      assert.deepEqual(await queue.waitForCompletion(id), {
        status: "done",
        result: Buffer.from("r"),
      });
      await queue.close();
    });
  });
}
