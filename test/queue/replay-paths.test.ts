import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { FileStore, MemoryStore, type Queue, silentLogger } from "../../src/index.js";
import { readLog } from "../../src/log/index.js";
import { encodeRecord, type QueueRecord, RecordDecoder } from "../../src/queue/records/codec.js";
import { DecodedEnqueue } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import { restoreState } from "../../src/queue/restore.js";
import type { ObjectStore } from "../../src/store/types.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { mustClaim, openTestQueue } from "./helpers.js";

/**
 * A replay decodes every top-level enqueue into one reused record object
 * (`RecordDecoder` with `reuseEnqueues`) and copies ids straight into the job
 * table. These tests hold that fast path to the reference: `apply` of a fresh
 * object per record (`replayedState`), and the live state that wrote the log.
 */
describe("replay: the reused-record path builds exactly the state of the reference path", () => {
  for (const kind of ["memory", "file"] as const) {
    it(`every kind of record, crash and reopen (${kind} store)`, async () => {
      const { store, cleanup } = await makeStore(kind);
      try {
        const { queue, clock } = await openTestQueue(
          {
            queueConfigs: { kept: { keepDoneJobsMs: 3_600_000 } },
            log: { checkpointIntervalMs: 3_600_000 },
          },
          store,
        );
        await busyLog(queue, "a", () => clock.advance(1_000));
        await queue.flush();
        const live = stateDigest(liveState(queue));
        // No close: the log is read as a crash leaves it, every record in the WAL tail.
        const contents = await readLog(store, "q", { logger: silentLogger });
        assert.ok(contents.tail.count > 100, `${contents.tail.count} records in the tail`);
        const fast = await restoreState("q", contents.checkpoint?.slice() ?? null, contents.tail);
        assert.deepEqual(auditState(fast), []);
        const reference = await replayedState(store, "q");
        assert.equal(stateDigest(fast), stateDigest(reference));
        assert.equal(stateDigest(fast), live);

        // The same on a checkpoint: a clean close writes one, and the tail starts after it.
        await queue.close();
        const { queue: second, clock: clock2 } = await openTestQueue({}, store);
        await busyLog(second, "b", () => clock2.advance(1_000));
        await second.flush();
        const again = await readLog(store, "q", { logger: silentLogger });
        assert.notEqual(again.checkpoint, null);
        const fastAgain = await restoreState("q", again.checkpoint!.slice(), again.tail);
        assert.equal(stateDigest(fastAgain), stateDigest(await replayedState(store, "q")));
        assert.equal(stateDigest(fastAgain), stateDigest(liveState(second)));
        await second.close();
      } finally {
        await cleanup();
      }
    });
  }

  it("a decoder asked to reuse enqueues refills one object; nested enqueues are new objects", () => {
    const ids = Array.from({ length: 6 }, (_, n) => ulid(1_000 + n));
    const enqueue = (queue: string, n: number) => ({
      tag: Tag.Enqueue,
      id: ids[n]!,
      queue,
      payload: new Uint8Array([n]),
      headers: n % 2 === 0 ? { h: String(n) } : undefined,
      priority: n,
      maxAttempts: 3,
      enqueuedAt: 5,
      runAt: undefined,
      dedupKey: n === 1 ? "d" : undefined,
    });
    const records: QueueRecord[] = [
      enqueue("a", 1),
      enqueue("b", 2),
      { tag: Tag.Transaction, ops: [enqueue("c", 3), enqueue("c", 4)] },
      enqueue("a", 5),
    ];
    // The records one after another in one buffer, as in a WAL batch.
    const encoded = records.map((rec) => encodeRecord(rec));
    const bytes = new Uint8Array(encoded.reduce((sum, e) => sum + e.byteLength, 0));
    const ranges: [number, number][] = [];
    let at = 0;
    for (const e of encoded) {
      bytes.set(e, at);
      ranges.push([at, at + e.byteLength]);
      at += e.byteLength;
    }
    const decoder = new RecordDecoder({ reuseEnqueues: true });
    const first = decoder.decode(bytes, ...ranges[0]!);
    assert.ok(first instanceof DecodedEnqueue);
    assert.equal(first.queue, "a");
    assert.equal(first.dedupKey, "d");
    assert.equal(first.id, ids[1]);
    const second = decoder.decode(bytes, ...ranges[1]!);
    assert.equal(second, first, "the same object, refilled");
    assert.equal(first.queue, "b");
    assert.equal(first.dedupKey, undefined);
    assert.deepEqual({ ...first.headers }, { h: "2" });
    assert.equal(first.id, ids[2], "the id is read anew");
    const tx = decoder.decode(bytes, ...ranges[2]!);
    assert.equal(tx.tag, Tag.Transaction);
    const ops = tx.tag === Tag.Transaction ? tx.ops : [];
    assert.equal(ops.length, 2);
    assert.notEqual(ops[0], first);
    assert.notEqual(ops[0], ops[1]);
    assert.deepEqual(
      ops.map((op) => (op.tag === Tag.Enqueue ? op.priority : -1)),
      [3, 4],
    );
    assert.equal(decoder.decode(bytes, ...ranges[3]!), first);
    assert.equal(first.priority, 5);
    // Without the option, every enqueue is an object of its own.
    const plain = new RecordDecoder();
    assert.notEqual(plain.decode(bytes, ...ranges[0]!), plain.decode(bytes, ...ranges[1]!));
  });
});

async function makeStore(
  kind: "memory" | "file",
): Promise<{ store: ObjectStore; cleanup: () => Promise<void> }> {
  if (kind === "memory") return { store: new MemoryStore(), cleanup: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), "taquba-replay-paths-"));
  return {
    store: new FileStore(dir, { fsync: false }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Writes a log with every kind of enqueue and the transitions that follow them. */
async function busyLog(queue: Queue, round: string, tick: () => void): Promise<void> {
  const payload = (n: number) => new Uint8Array(n % 7 === 0 ? 0 : 16 + (n % 50)).fill(n);
  await queue.enqueueBatch(
    "plain",
    Array.from({ length: 200 }, (_, n) => payload(n)),
  );
  for (let n = 0; n < 40; n++) {
    await queue.enqueue("opts", payload(n), {
      priority: n % 3,
      maxAttempts: 1 + (n % 4),
      ...(n % 2 === 0 ? { headers: { n: String(n), k: "v" } } : {}),
      ...(n % 3 === 0 ? { dedupKey: `${round}d${n}` } : {}),
      ...(n % 5 === 0 ? { jobId: `${round}job-${n}` } : {}),
      ...(n % 4 === 0 ? { timeoutMs: 1_000 + n } : {}),
      ...(n % 6 === 0 ? { delayMs: 5_000 + n } : {}),
      ...(n % 2 === 1 ? { groupKey: `g${n % 3}` } : {}),
    });
  }
  await queue.enqueue("opts", payload(1), { dedupKey: `${round}d0` }); // a dedup hit writes nothing
  await queue.enqueueFlow({
    queue: "flow",
    payload: payload(3),
    children: [
      { queue: "flow", payload: payload(4) },
      { queue: "flow", payload: payload(5), options: { headers: { c: "2" } } },
    ],
  });
  await queue.transaction((tx) => {
    tx.enqueue("tx", payload(8));
    tx.enqueue("tx", payload(9), { dedupKey: `${round}tx-d` });
    tx.kvPut("k1", payload(10));
  });
  await queue.kvPut("k2", payload(11));
  for (let n = 0; n < 30; n++) {
    const claim = await mustClaim(queue, "plain");
    if (n % 3 === 0) await queue.ack(claim);
    else if (n % 3 === 1) await queue.nack(claim, `failed ${n}`);
    else await queue.deadLetter(claim, `dead ${n}`);
  }
  for (const claim of await queue.claimBatch("opts", 10)) await queue.ack(claim);
  const kept = await queue.enqueue("kept", payload(12));
  await queue.ack(await mustClaim(queue, "kept"), { result: payload(13) });
  assert.ok(kept.length > 0);
  await queue.cancel(await queue.enqueue("plain", payload(14)));
  tick();
  await queue.promoteScheduledNow();
  await mustClaim(queue, "plain"); // left claimed: the open requeues it, the state holds it claimed
}
