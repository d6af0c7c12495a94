/**
 * The work of the one turn that commits a large flow, or removes its root
 * with its children, counted: the ids were parsed or found before that turn
 * (while the flow was encoded, or its removal walked, in slices), and the
 * commit takes them from there rather than parsing each again. What `apply`
 * makes of the records is the same as at replay, which has no such help.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator, writeIdBytes } from "../../src/queue/ids.js";
import { decodeRecord, encodeRecord, type QueueRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import { ID_BYTES } from "../../src/queue/table.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { flowOf } from "./flow-fixtures.js";
import { enqueueRecord, openTestQueue } from "./helpers.js";
import { countNamedParses } from "./named-parses.js";
import { enqueuer } from "./state-jobs.js";

const CHILDREN = 600;

describe("the turn that commits a large flow", { timeout: 30_000 }, () => {
  it("takes the flow's id bytes as they were encoded, in order, and its check, instead of checking and parsing its ids", async () => {
    const { queue, store } = await openTestQueue();
    await queue.enqueueBatch("other", ["a", "b"]);
    const state = liveState(queue);
    const taken: (Uint8Array | null)[] = [];
    const take = state.takePrechecked.bind(state);
    state.takePrechecked = (record) => {
      const pre = take(record);
      taken.push(pre === null ? null : pre.checked.ids.slice());
      return pre;
    };
    const flow = await queue.enqueueFlow(flowOf("root-1", CHILDREN));
    // One transaction, checked before its commit: the root (its log id, not its jobId) and each
    // child, in order.
    assert.equal(taken.length, 1);
    const ids = taken[0]!;
    assert.notEqual(ids, null);
    const rootLogId = state.idOf(state.findPublic(flow.id));
    const expected = new Uint8Array((CHILDREN + 1) * ID_BYTES);
    writeIdBytes(rootLogId, expected, 0);
    for (const [i, child] of flow.children.entries())
      writeIdBytes(child.id, expected, (i + 1) * ID_BYTES);
    assert.deepEqual(ids, expected);
    // A hint is for its transaction only: the next one has its own.
    await queue.enqueueFlow(flowOf("root-2", 3));
    assert.equal(taken.length, 2);
    assert.equal(taken[1]!.length, 4 * ID_BYTES);
    await queue.enqueue("other", "c");
    assert.deepEqual(auditState(state), []);
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(state));
    await queue.close();
  });

  it("checks the flow whole, with its id bytes as they were encoded, when its check before the commit refused it", async () => {
    const { queue, store } = await openTestQueue();
    const state = liveState(queue);
    const flow = queue.enqueueFlow(flowOf("root-1", CHILDREN));
    // The root's jobId is found taken by the check before the commit (as by an earlier call), and
    // free again at the commit: that check is dropped, and the commit turn checks the record whole.
    const has = state.jobIds.has.bind(state.jobIds);
    let takenBefore = true;
    state.jobIds.has = (id) => (takenBefore && id === "root-1") || has(id);
    const prechecked: unknown[] = [];
    const take = state.takePrechecked.bind(state);
    state.takePrechecked = (record) => {
      takenBefore = false;
      const pre = take(record);
      prechecked.push(pre);
      return pre;
    };
    const enqueueIds: (Uint8Array | null)[] = [];
    const takeIds = state.takeEnqueueIds.bind(state);
    state.takeEnqueueIds = (count) => {
      const ids = takeIds(count);
      enqueueIds.push(ids === null ? null : ids.slice());
      return ids;
    };
    const result = await flow;
    assert.deepEqual(prechecked, [null]);
    assert.equal(enqueueIds.length, 1);
    const expected = new Uint8Array((CHILDREN + 1) * ID_BYTES);
    writeIdBytes(state.idOf(state.findPublic(result.id)), expected, 0);
    for (const [i, child] of result.children.entries())
      writeIdBytes(child.id, expected, (i + 1) * ID_BYTES);
    assert.deepEqual(enqueueIds[0], expected);
    assert.equal(result.children.length, CHILDREN);
    assert.deepEqual(auditState(state), []);
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(state));
    await queue.close();
  });

  it("removing a flow's root applies its records with no id parsed, and replays the same", async () => {
    const { queue, store } = await openTestQueue();
    const flow = await queue.enqueueFlow(flowOf("root", CHILDREN));
    const claimed = await queue.claim("leaf");
    assert.ok(claimed !== null);
    const state = liveState(queue);
    const parses = countNamedParses(state);
    assert.equal(await queue.removeJob(flow.id), true);
    parses.stop();
    // The root, 599 removed children and the claimed one's cancel request: none parsed.
    assert.equal(parses.count(), 0);
    assert.equal(await queue.getJob(flow.children[5]!.id), null);
    assert.equal((await queue.stats("leaf")).pending, 0);
    assert.deepEqual(auditState(state), []);
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(state));
    await queue.close();
  });
});

/** Counts `state.queue` lookups (by name) until `stop()`. */
function countQueueLookups(state: State): { count: () => number; stop: () => void } {
  let n = 0;
  const lookup = state.queue.bind(state);
  state.queue = (name) => {
    n++;
    return lookup(name);
  };
  return {
    count: () => n,
    stop: () => {
      state.queue = lookup;
    },
  };
}

describe("the plain children of a flow's record", () => {
  it("are applied as one run: their queue is looked up once, not once per child", async () => {
    const { queue, store } = await openTestQueue();
    await queue.enqueue("leaf", "before");
    const state = liveState(queue);
    const lookups = countQueueLookups(state);
    const flow = await queue.enqueueFlow(flowOf("root", CHILDREN));
    lookups.stop();
    // The root's queue, and the children's once.
    assert.equal(lookups.count(), 2);
    assert.equal((await queue.stats("leaf")).pending, CHILDREN + 1);
    assert.equal(Object.keys(await queue.childResults(flow.id)).length, CHILDREN);
    assert.deepEqual(auditState(state), []);
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(state));
    await queue.close();
  });

  it("are applied as one run at replay too, and runs end where the parent or queue changes", () => {
    const gen = new IdGenerator(null, 1);
    const root = gen.next(1);
    const other = gen.next(1);
    const ops: QueueRecord[] = [
      enqueueRecord(root, { queue: "root", waitsForChildren: true }),
      enqueueRecord(other, { queue: "root", waitsForChildren: true }),
    ];
    const queues = ["a", "a", "b"];
    for (let k = 0; k < 3 * CHILDREN; k++)
      ops.push(
        enqueueRecord(gen.next(1), {
          queue: queues[Math.floor(k / CHILDREN)]!,
          flowParent: k < 2 * CHILDREN && k % CHILDREN < CHILDREN / 2 ? root : other,
        }),
      );
    const record = { tag: Tag.Transaction, ops } as QueueRecord;
    const decoded = new State();
    const lookups = countQueueLookups(decoded);
    apply(decoded, decodeRecord(encodeRecord(record)));
    lookups.stop();
    // The two parents, then a lookup per run, which ends where the parent or the queue
    // changes: root in a, other in a, root in a, other in a, other in b.
    assert.equal(lookups.count(), 2 + 5);
    const single = new State();
    for (const op of ops) apply(single, op);
    assert.equal(stateDigest(decoded), stateDigest(single));
    const live = new State();
    apply(live, record);
    assert.equal(stateDigest(live), stateDigest(single));
    assert.deepEqual(auditState(live), []);
  });
});

/** Counts `state.arena.write` calls until `stop()`. */
function countArenaWrites(state: State): { count: () => number; stop: () => void } {
  let n = 0;
  const arena = state.arena;
  const write = arena.write.bind(arena);
  arena.write = (...args) => {
    n++;
    return write(...args);
  };
  return {
    count: () => n,
    stop: () => {
      arena.write = write;
    },
  };
}

describe("the payloads of a flow's children", () => {
  it("that lie side by side are written in one go after a child whose payload is written on its own", async () => {
    const { queue, store } = await openTestQueue();
    await queue.enqueue("leaf", "before");
    const state = liveState(queue);
    // 8 bytes each from one buffer; `enqueueFlow` copies them side by side into shared buffers of
    // 1, 2 and 4 KB (128, 256 and 512 payloads). The first child's payload is empty and the
    // 301st is a string: each of those is written on its own.
    const bytes = Uint8Array.from({ length: CHILDREN * 8 }, (_, i) => i % 251);
    const children = Array.from({ length: CHILDREN }, (_, i) => ({
      queue: "leaf",
      payload: i === 0 ? new Uint8Array(0) : i === 300 ? "text" : bytes.subarray(i * 8, i * 8 + 8),
    }));
    const writes = countArenaWrites(state);
    const flow = await queue.enqueueFlow({ queue: "root", payload: "r", children });
    writes.stop();
    // The root's, the empty one's, children 1-128, 129-299, the string, 301-384 and 385-599.
    assert.equal(writes.count(), 7);
    for (const i of [1, 299, 301, 450]) {
      const job = await queue.getJob(flow.children[i]!.id);
      assert.deepEqual(Buffer.from(job!.payload), Buffer.from(bytes.subarray(i * 8, i * 8 + 8)));
    }
    assert.deepEqual(auditState(state), []);
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(state));
    await queue.close();
  });
});

describe("State.expect with the id found in the row", () => {
  it("a verified hint serves only the id it was found with; the enqueue-ids hint only its count", () => {
    const s = new State();
    const enqueue = enqueuer();
    const a = enqueue(s);
    const b = enqueue(s);
    const ha = s.find(a);
    const hb = s.find(b);
    const parses = countNamedParses(s);
    s.expect(ha, a);
    assert.equal(s.peekNamed(a), ha);
    assert.equal(s.findNamed(a), ha);
    assert.equal(parses.count(), 0);
    // Found with `a`, asked for `b`: the row is checked (it does not hold `b`), then the index.
    s.expect(ha, a);
    assert.equal(s.findNamed(b), hb);
    assert.equal(parses.count(), 1);
    s.expect(hb, b);
    s.forgetExpected();
    assert.equal(s.findNamed(b), hb);
    assert.equal(parses.count(), 2);
    parses.stop();
    s.expectEnqueueIds(new Uint8Array(2 * ID_BYTES));
    assert.equal(s.takeEnqueueIds(3), null, "a hint of another size is not used");
    assert.equal(s.takeEnqueueIds(2), null, "and is used up");
    s.expectEnqueueIds(new Uint8Array(2 * ID_BYTES));
    s.forgetExpected();
    assert.equal(s.takeEnqueueIds(2), null, "dropped with the other hints");
  });
});
