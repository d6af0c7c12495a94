/**
 * What `enqueueFlow` enqueues is the flow as it was passed: the call copies
 * it in its own turn, so a caller that changes or reuses its objects and
 * buffers once the call returned (while the flow is still checked and
 * encoded in later turns) changes nothing, live or at replay.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClosedError } from "../../src/errors.js";
import { copyFlow } from "../../src/queue/flow-copy.js";
import type { FlowJob } from "../../src/queue/flows.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { RecordEncoder } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { MemoryStore } from "../../src/store/memory.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import {
  memoryAndFileStores,
  openTestQueue,
  rejection,
  setSliceMs,
  text,
  turns,
  watch,
} from "./helpers.js";

describe("a flow is enqueued as it was passed", { timeout: 120_000 }, () => {
  for (const [name, makeStore] of memoryAndFileStores("taquba-flow-copy-")) {
    it(`${name}: a payload Buffer reused k turns after the call: the call-time bytes, live and at replay`, async () => {
      for (let k = 0; k < 40; k++) {
        const store = await makeStore();
        const { queue, clock } = await openTestQueue({}, store);
        setSliceMs(queue, 0);
        const buf = Buffer.from("original");
        const plain = new Uint8Array(Buffer.from("original"));
        const flow = queue.enqueueFlow({
          queue: "root",
          payload: buf,
          children: Array.from({ length: 300 }, (_, i) => ({
            queue: "leaf",
            payload: i % 2 === 0 ? buf : plain,
          })),
        });
        const settled = watch(flow);
        await turns(k);
        const done = settled.settled();
        buf.write("MUTATED!");
        plain.set(Buffer.from("MUTATED!"));
        const result = await flow;
        await queue.flush();
        for (const id of [result.id, result.children[0]!.id, result.children[299]!.id])
          assert.equal(text((await queue.getJob(id))!.payload), "original", `k=${k}`);
        const live = stateDigest(liveState(queue));
        assert.equal(stateDigest(await replayedState(store, "q")), live, `k=${k}: replay`);
        await queue.close();
        const reopened = (await openTestQueue({}, store, clock)).queue;
        assert.equal(text((await reopened.getJob(result.children[0]!.id))!.payload), "original");
        assert.equal(stateDigest(liveState(reopened)), live, `k=${k}: checkpoint`);
        await reopened.close();
        if (done) break;
      }
    });
  }

  it("a tree changed once the call returned: its children, options, headers and dates as passed", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    setSliceMs(queue, 0);
    const runAt = new Date(clock.now() + 60_000);
    const headers: Record<string, string> = { h: "v" };
    const children: FlowJob[] = Array.from({ length: 300 }, (_, i) => ({
      queue: "leaf",
      payload: `c${i}`,
      options: { headers, runAt, priority: 1 },
    }));
    const root: FlowJob = { queue: "root", payload: "r", children };
    const flow = queue.enqueueFlow(root);
    // Each of these, read by a later slice, would change the flow or refuse it.
    children.length = 0;
    children.push({ queue: 42 } as unknown as FlowJob);
    headers.h = "changed";
    headers.extra = "x";
    runAt.setTime(0);
    root.queue = "elsewhere";
    const result = await flow;
    assert.equal(result.children.length, 300);
    const job = (await queue.getJob(result.children[299]!.id))!;
    assert.equal(job.queue, "leaf");
    assert.equal(text(job.payload), "c299");
    assert.deepEqual({ ...job.headers }, { h: "v" });
    assert.equal(job.runAt, clock.now() + 60_000);
    assert.equal(job.priority, 1);
    assert.equal((await queue.getJob(result.id))!.queue, "root");
    assert.equal((await queue.stats("leaf")).scheduled, 300);
    assert.deepEqual(auditState(liveState(queue)), []);
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(liveState(queue)));
    await queue.close();
  });

  it("a queue closed while a flow is prepared stops preparing it", async () => {
    const { queue } = await openTestQueue({}, new MemoryStore());
    setSliceMs(queue, 0);
    // Ids are taken once the whole flow is checked, one per job: fewer are, when it stops
    // early (none, unless the close's own turns outlast the checks).
    let issued = 0;
    const next = IdGenerator.prototype.next;
    IdGenerator.prototype.next = function (this: IdGenerator, now: number) {
      issued++;
      return next.call(this, now);
    };
    try {
      const flow = queue.enqueueFlow({
        queue: "root",
        payload: "r",
        children: Array.from({ length: 5_000 }, (_, i) => ({ queue: "leaf", payload: `c${i}` })),
      });
      // Handled from the start: the flow may be refused while close() is awaited.
      const refused = rejection(flow);
      await turns(3);
      await queue.close();
      assert.ok((await refused) instanceof ClosedError);
      assert.ok(issued < 5_001, `ids issued: ${issued}`);
    } finally {
      IdGenerator.prototype.next = next;
    }
  });

  it("with an `enqueued` listener, the commit turn appends the bytes prepared (no second encoding)", async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue({}, store);
    setSliceMs(queue, 0);
    let heard = 0;
    queue.on("enqueued", () => {
      heard++;
    });
    const encoded: number[] = [];
    const encode = RecordEncoder.prototype.encode;
    RecordEncoder.prototype.encode = function (this: RecordEncoder, record) {
      encoded.push(record.tag);
      return encode.call(this, record);
    };
    try {
      const flow = queue.enqueueFlow({
        queue: "root",
        payload: "r",
        children: Array.from({ length: 300 }, (_, i) => ({ queue: "leaf", payload: `c${i}` })),
      });
      // A job enqueued meanwhile: the flow's ids are taken again in the commit turn.
      await turns(2);
      await queue.enqueue("other", "o");
      await flow;
      await queue.flush();
    } finally {
      RecordEncoder.prototype.encode = encode;
    }
    assert.ok(!encoded.includes(Tag.Transaction), `encoded ${encoded.join(",")}`);
    assert.equal(heard, 302);
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(liveState(queue)));
    await queue.close();
  });
});

describe("a flow's payload copies", () => {
  it("share buffers sized by what was copied: a small flow holds about its own bytes, a large one buffers of at most 256 KiB", () => {
    const payloadOf = (job: unknown): Uint8Array => (job as { payload: Uint8Array }).payload;
    const small = copyFlow(
      {
        queue: "a",
        payload: Buffer.from("x"),
        children: [{ queue: "b", payload: Buffer.from("y") }],
      },
      10_000,
      10,
    );
    const root = payloadOf(small.root);
    assert.equal(text(root), "x");
    // Was a whole 256 KiB buffer per flow, held until the commit was durable.
    assert.ok(root.buffer.byteLength <= 4096, `${root.buffer.byteLength} bytes`);
    const large = copyFlow(
      {
        queue: "a",
        payload: new Uint8Array(1000).fill(1),
        children: Array.from({ length: 2000 }, (_, i) => ({
          queue: "b",
          payload: new Uint8Array(1000).fill(i % 251),
        })),
      },
      10_000,
      10,
    );
    const buffers = new Set<ArrayBufferLike>();
    const walk = (job: { payload: Uint8Array; children?: unknown[] }): void => {
      buffers.add(job.payload.buffer);
      for (const child of job.children ?? []) walk(child as typeof job);
    };
    walk(large.root as { payload: Uint8Array; children?: unknown[] });
    for (const buffer of buffers) assert.ok(buffer.byteLength <= 256 * 1024);
    // 2 MB of payloads in a few dozen buffers, not one per job.
    assert.ok(buffers.size < 40, `${buffers.size} buffers`);
  });
});
