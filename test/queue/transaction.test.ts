import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ClaimLostError,
  ConflictError,
  InvalidArgumentError,
  taqubaErrorCode,
} from "../../src/errors.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { auditState, liveState, stateDigest } from "../reliability/lib/audit.js";

import {
  FAIL_FAST,
  followingId,
  mustClaim,
  NO_BACKOFF,
  openTestQueue,
  rejection,
  text,
  turns,
  WAL,
  watch,
} from "./helpers.js";

describe("Queue.transaction", { timeout: 60_000 }, () => {
  it("acks, enqueues follow-ups and writes KV as one record", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    await queue.enqueue("charge", "order-1");
    await queue.kvPut("stale", "x");
    const claim = await mustClaim(queue, "charge");
    const before = queue.logStats().recordsWritten;
    const result = await queue.transaction((tx) => {
      tx.ack(claim);
      tx.enqueue("ship", "order-1", { jobId: "ship-order-1" });
      tx.enqueue("notify", "order-1", { delayMs: 1_000 });
      tx.kvPut("order/1", "charged");
      tx.kvDelete("stale");
    });
    assert.equal(queue.logStats().recordsWritten - before, 1);
    assert.deepEqual(
      result.enqueued.map((r) => r.created),
      [true, true],
    );
    assert.equal(result.enqueued[0]!.id, "ship-order-1");
    assert.deepEqual(result.cancelled, []);
    assert.equal(await queue.getJob(claim.id), null);
    assert.equal((await queue.getJob("ship-order-1"))?.status, "pending");
    assert.equal((await queue.getJob(result.enqueued[1]!.id))?.status, "scheduled");
    assert.equal(text((await queue.kvGet("order/1"))!), "charged");
    assert.equal(await queue.kvGet("stale"), null);
    assert.equal((await queue.stats("charge")).done, 1);
    // Everything survives a crash (no close: replay from the log).
    const digest = stateDigest(liveState(queue));
    const crashed = (await openTestQueue({}, store, clock)).queue;
    assert.equal(stateDigest(liveState(crashed)), digest);
    await crashed.close();
  });

  it("a lost claim anywhere rejects with ClaimLostError and changes nothing", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueueBatch("q", ["a", "b"]);
    const a = await mustClaim(queue, "q");
    const b = await mustClaim(queue, "q");
    await queue.ack(b);
    const digest = stateDigest(liveState(queue));
    const records = queue.logStats().recordsWritten;
    const error = await rejection(
      queue.transaction((tx) => {
        tx.ack(a);
        tx.enqueue("next", "x");
        tx.kvPut("k", "v");
        tx.ack(b);
      }),
    );
    assert.ok(error instanceof ClaimLostError, String(error));
    assert.equal(stateDigest(liveState(queue)), digest);
    assert.equal(queue.logStats().recordsWritten, records);
    // The live claim is still live: the transaction took nothing from it.
    await queue.ack(a);
    await queue.close();
  });

  it("a failed kvCheck rejects with ConflictError; checks see earlier writes of the transaction", async () => {
    const { queue } = await openTestQueue();
    await queue.kvPut("seat/1", "free");
    const digest = stateDigest(liveState(queue));
    const conflict = await rejection(
      queue.transaction((tx) => {
        tx.enqueue("q", "x");
        tx.kvCheck("seat/1", "taken");
      }),
    );
    assert.ok(conflict instanceof ConflictError, String(conflict));
    assert.equal(conflict.code, "CONFLICT");
    assert.equal(taqubaErrorCode(conflict), "CONFLICT");
    assert.equal(stateDigest(liveState(queue)), digest);
    await queue.transaction((tx) => {
      tx.kvCheck("seat/1", "free");
      tx.kvPut("seat/1", "taken");
      tx.kvCheck("seat/1", "taken");
      tx.kvDelete("seat/1");
      tx.kvCheck("seat/1", null);
      tx.kvCheck("never", null);
      tx.kvPut("seat/2", new Uint8Array([1]));
    });
    assert.equal(await queue.kvGet("seat/1"), null);
    assert.deepEqual([...(await queue.kvGet("seat/2"))!], [1]);
    await queue.close();
  });

  it("a kvCheck failing on a write in flight rejects once that write is durable, never over a lost one", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const put = queue.kvPut("lock", "mine");
    await hold.whenHeld();
    const refused = queue.transaction((tx) => {
      tx.kvCheck("lock", null);
      tx.kvPut("lock", "theirs");
    });
    refused.catch(() => {});
    const watched = watch(refused);
    await turns(10);
    assert.equal(watched.settled(), false, "the conflict is about a value not durable yet");
    hold.release();
    await put;
    assert.ok((await rejection(refused)) instanceof ConflictError);
    // A value whose write fails is never the reason for a conflict.
    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    const lost = queue.kvPut("other", "lost");
    lost.catch(() => {});
    const checked = rejection(queue.transaction((tx) => tx.kvCheck("other", null)));
    await assert.rejects(lost);
    assert.ok(!((await checked) instanceof ConflictError), "a conflict over a lost value");
    await queue.close().catch(() => {});
  });

  it("bad input anywhere rejects with InvalidArgumentError, even when build caught it", async () => {
    const { queue } = await openTestQueue();
    const claimed = await queue.enqueue("q", "x").then(() => mustClaim(queue, "q"));
    const digest = stateDigest(liveState(queue));
    const cases: [(tx: Parameters<Parameters<typeof queue.transaction>[0]>[0]) => void, RegExp][] =
      [
        [(tx) => tx.enqueue("", "x"), /^Expected `tx.enqueue queue` to be/],
        [(tx) => tx.enqueue("q", "x", { priority: -1 }), /^Expected `tx.enqueue options.priority`/],
        [(tx) => tx.kvPut("", "x"), /^Expected `tx.kvPut key` to be 1 to 1024 UTF-8 bytes/],
        [
          (tx) => tx.enqueue("q", "x", { dedupKey: "d", dedupReplace: true }),
          /^Expected `tx.enqueue options.dedupReplace` to be absent or false in a transaction/,
        ],
        [
          (tx) => tx.kvPut("k", new Uint8Array(262_145)),
          /^Expected `tx.kvPut value` to be at most 262144 bytes/,
        ],
        [
          (tx) => tx.nack(claimed, 5 as unknown as string),
          /^Expected `tx.nack error` to be a string/,
        ],
        [
          (tx) => {
            tx.ack(claimed);
            tx.deadLetter(claimed, "twice");
          },
          /^Expected `build` to be a function that acts on each job once per transaction, got job .* in operation 0 \(tx.ack\) and operation 1 \(tx.deadLetter\)$/,
        ],
        [
          (tx) => {
            tx.ack(claimed);
            tx.cancel(claimed.id);
          },
          /^Expected `build` to be a function that acts on each job once per transaction/,
        ],
        [
          (tx) => {
            tx.kvPut("ok", "fine");
            try {
              tx.kvDelete("");
            } catch {
              // swallowed: the transaction still fails
            }
          },
          /^Expected `tx.kvDelete key`/,
        ],
      ];
    for (const [build, message] of cases) {
      const error = await rejection(queue.transaction(build));
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, message);
      assert.equal(stateDigest(liveState(queue)), digest);
    }
    const notFn = await rejection(queue.transaction("nope" as never));
    assert.match(notFn.message, /^Expected `build` to be a function/);
    const asyncBuild = await rejection(
      queue.transaction((async () => {}) as unknown as () => void),
    );
    assert.match(asyncBuild.message, /^Expected `build` to be a synchronous function/);
    let leaked: Parameters<Parameters<typeof queue.transaction>[0]>[0] | undefined;
    await queue.transaction((tx) => {
      leaked = tx;
    });
    assert.throws(() => leaked!.kvPut("late", "x"), /used while its build function runs/);
    const thrown = await rejection(
      queue.transaction(() => {
        throw new Error("build failed");
      }),
    );
    assert.equal(thrown.message, "build failed");
    assert.equal(stateDigest(liveState(queue)), digest);
    await queue.ack(claimed);
    await queue.close();
  });

  it("refuses a write method of the queue called from build (it would commit outside), failing the transaction, writing nothing", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x", { jobId: "waiting" });
    await queue.kvPut("k", "before");
    const claimed = await queue.enqueue("q", "y").then(() => mustClaim(queue, "q"));
    await queue.flush();
    const digest = stateDigest(liveState(queue));
    const records = queue.logStats().recordsWritten;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", onUnhandled);
    const other = await openTestQueue();
    try {
      const calls: [string, string, () => Promise<unknown>][] = [
        ["kvPut", "use `tx.kvPut`", () => queue.kvPut("k", "inside")],
        ["kvDelete", "use `tx.kvDelete`", () => queue.kvDelete("k")],
        [
          "kvCompareAndSet",
          "use `tx.kvCheck` and `tx.kvPut`",
          () => queue.kvCompareAndSet("k", "before", "inside"),
        ],
        [
          "transaction",
          "add its operations to the outer `tx` instead",
          () => queue.transaction((inner) => inner.kvPut("k", "inside")),
        ],
        ["enqueue", "use `tx.enqueue`", () => queue.enqueue("q", "inside")],
        ["enqueueBatch", "use `tx.enqueue`", () => queue.enqueueBatch("q", ["inside"])],
        ["enqueueMany", "use `tx.enqueue`", () => queue.enqueueMany("q", [{ payload: "inside" }])],
        ["ack", "use `tx.ack`", () => queue.ack(claimed)],
        ["nack", "use `tx.nack`", () => queue.nack(claimed, "inside")],
        ["deadLetter", "use `tx.deadLetter`", () => queue.deadLetter(claimed, "inside")],
        ["cancel", "use `tx.cancel`", () => queue.cancel("waiting")],
        [
          "enqueueFlow",
          "a flow is an atomic call of its own",
          () => queue.enqueueFlow({ queue: "q", payload: "inside" }),
        ],
      ];
      for (const [method, instead, call] of calls) {
        let inner: Promise<unknown> | undefined;
        const outer = rejection(
          queue.transaction((tx) => {
            tx.kvPut("also", "not written");
            inner = call(); // dropped, as a synchronous build would
            // A write to another queue's store is not this transaction's to refuse.
            void other.queue.kvPut("elsewhere", "written");
          }),
        );
        const error = await outer;
        assert.ok(error instanceof InvalidArgumentError, `${method}: ${String(error)}`);
        assert.ok(
          error.message.startsWith(
            `Expected \`queue.${method}\` to be called outside a transaction's build function, got a call inside one (it would commit at once, outside the transaction): ${instead}`,
          ),
          error.message,
        );
        assert.equal(await rejection(inner!), error, method);
        await queue.flush();
        assert.equal(stateDigest(liveState(queue)), digest, method);
        assert.equal(queue.logStats().recordsWritten, records, method);
      }
      assert.equal(text((await other.queue.kvGet("elsewhere"))!), "written");
      // The same calls outside a build, and after a build that threw, write as usual.
      await rejection(
        queue.transaction(() => {
          throw new Error("build failed");
        }),
      );
      await queue.kvPut("k", "after");
      assert.equal(text((await queue.kvGet("k"))!), "after");
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await other.queue.close();
    }
    await queue.ack(claimed);
    await queue.close();
  });

  it("nacks and dead-letters inside a transaction; cancels report their outcome", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    await queue.enqueueBatch("q", ["retry", "dead", "claimed"]);
    const pending = await queue.enqueue("other", "pending");
    const retry = await mustClaim(queue, "q");
    const dead = await mustClaim(queue, "q");
    const claimed = await mustClaim(queue, "q");
    const result = await queue.transaction((tx) => {
      tx.nack(retry, "try again");
      tx.deadLetter(dead, "bad");
      tx.cancel(pending);
      tx.cancel(claimed.id);
      tx.cancel("no-such-job");
    });
    assert.deepEqual(result.cancelled, ["removed", "requested", "not_found"]);
    const again = await queue.getJob(retry.id);
    assert.deepEqual([again?.status, again?.lastError], ["pending", "try again"]);
    const gone = await queue.getJob(dead.id);
    assert.deepEqual([gone?.status, gone?.lastError], ["dead", "bad"]);
    assert.equal(await queue.getJob(pending), null);
    assert.equal(queue.claimSignal(claimed).aborted, true);
    await queue.close();
  });

  it("settles claims while producers are held behind a checkpoint; a transaction that enqueues waits", async () => {
    const store = new MemoryStore();
    const faults = new FaultStore(store);
    const { queue, clock } = await openTestQueue(
      { ...NO_BACKOFF, log: { checkpointWalRecords: 5 } },
      faults,
    );
    const stall = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
    for (let i = 0; i < 6; i++) await queue.enqueue("q", `job-${i}`);
    await stall.whenHeld(); // the sixth record started a checkpoint, which sticks at its put
    const claims = [await mustClaim(queue, "q"), await mustClaim(queue, "q")];
    const third = await mustClaim(queue, "q");
    for (let i = 0; i < 2; i++) await queue.enqueue("q", `more-${i}`);
    // Eleven records since the last checkpoint, past twice the bound of five: producers wait.
    let enqueued = false;
    const producer = queue.enqueue("q", "held").then(() => {
      enqueued = true;
    });
    let txEnqueued = false;
    const producingTx = queue
      .transaction((tx) => {
        tx.ack(third);
        tx.enqueue("next", "follow-up");
      })
      .then(() => {
        txEnqueued = true;
      });
    const settling = queue.transaction((tx) => {
      tx.ack(claims[0]!);
      tx.nack(claims[1]!, "again");
      tx.cancel("job-5");
    });
    const outcome = await Promise.race([
      settling.then(() => "committed"),
      new Promise((r) => setTimeout(() => r("held"), 2_000)),
    ]);
    assert.equal(outcome, "committed");
    assert.equal(await queue.getJob(claims[0]!.id), null);
    assert.equal((await queue.getJob(claims[1]!.id))?.status, "pending");
    assert.deepEqual([enqueued, txEnqueued], [false, false], "producers still held");
    stall.release();
    await Promise.all([producer, producingTx]);
    const digest = stateDigest(liveState(queue));
    await queue.close();
    const reopened = (await openTestQueue({}, store, clock)).queue;
    assert.equal(stateDigest(liveState(reopened)), digest);
    await reopened.close();
  });

  it("an enqueue with a taken jobId adds nothing and says created: false (a retried transaction)", async () => {
    const { queue } = await openTestQueue();
    const run = () =>
      queue.transaction((tx) => {
        tx.enqueue("ship", "order-7", { jobId: "ship-order-7" });
        tx.enqueue("ship", "order-7 again", { jobId: "ship-order-7" });
        tx.kvPut("order/7", "shipping");
      });
    const first = await run();
    assert.deepEqual(first.enqueued, [
      { id: "ship-order-7", created: true },
      { id: "ship-order-7", created: false },
    ]);
    const second = await run();
    assert.deepEqual(second.enqueued, [
      { id: "ship-order-7", created: false },
      { id: "ship-order-7", created: false },
    ]);
    assert.equal((await queue.stats("ship")).pending, 1);
    // A dedup hit works the same way.
    await queue.enqueue("mail", "x", { dedupKey: "d" });
    const hit = await queue.transaction((tx) => tx.enqueue("mail", "y", { dedupKey: "d" }));
    assert.equal(hit.enqueued[0]!.created, false);
    assert.equal((await queue.stats("mail")).pending, 1);
    await queue.close();
  });

  it("an empty transaction writes nothing", async () => {
    const { queue } = await openTestQueue();
    const records = queue.logStats().recordsWritten;
    assert.deepEqual(await queue.transaction(() => {}), { enqueued: [], cancelled: [] });
    assert.equal(queue.logStats().recordsWritten, records);
    await queue.close();
  });

  it("events follow each operation of a committed transaction", async () => {
    const { queue } = await openTestQueue();
    const seen: string[] = [];
    for (const event of ["enqueued", "completed", "dead", "cancelled"] as const)
      queue.on(event, (e) => seen.push(`${event}:${e.queue}`));
    await queue.enqueueBatch("a", ["1", "2"]);
    const one = await mustClaim(queue, "a");
    const two = await mustClaim(queue, "a");
    seen.length = 0;
    await queue.transaction((tx) => {
      tx.ack(one);
      tx.deadLetter(two, "no");
      tx.enqueue("b", "3");
    });
    assert.deepEqual(seen, ["completed:a", "dead:a", "enqueued:b"]);
    await queue.close();
  });

  it("refuses two operations on one job in either order: by jobId, by a dedup hit, an id no job has", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("a", "first", { jobId: "order-1" });
    const keyHolder = await queue.enqueue("a", "second", { dedupKey: "k" });
    await queue.enqueue("c", "claimed", { jobId: "claimed-1" });
    const claim = await mustClaim(queue, "c");
    const generated = liveState(queue).idOf(liveState(queue).findPublic("claimed-1"));
    assert.notEqual(generated, "claimed-1");
    type Build = (tx: Parameters<Parameters<typeof queue.transaction>[0]>[0]) => void;
    const pairs: [string, Build, string, Build, string][] = [
      // A job the enqueue adds: the cancel would not find it, the caller's intent lost.
      [
        "new-1",
        (tx) => tx.enqueue("a", "x", { jobId: "new-1" }),
        "tx.enqueue",
        (tx) => tx.cancel("new-1"),
        "tx.cancel",
      ],
      // A job that exists: "created: false" for a job the same transaction removes.
      [
        "order-1",
        (tx) => tx.enqueue("a", "x", { jobId: "order-1" }),
        "tx.enqueue",
        (tx) => tx.cancel("order-1"),
        "tx.cancel",
      ],
      [
        keyHolder,
        (tx) => tx.enqueue("a", "x", { dedupKey: "k" }),
        "tx.enqueue, a hit on its dedupKey",
        (tx) => tx.cancel(keyHolder),
        "tx.cancel",
      ],
      [
        "claimed-1",
        (tx) => tx.enqueue("a", "x", { jobId: "claimed-1" }),
        "tx.enqueue",
        (tx) => tx.ack(claim),
        "tx.ack",
      ],
      // An id no job has, cancelled twice: refused as for a job that exists.
      ["ghost", (tx) => tx.cancel("ghost"), "tx.cancel", (tx) => tx.cancel("ghost"), "tx.cancel"],
      // A job with its own id named by its generated id too: the same job.
      ["claimed-1", (tx) => tx.ack(claim), "tx.ack", (tx) => tx.cancel(generated), "tx.cancel"],
      [
        "claimed-1",
        (tx) => tx.cancel("claimed-1"),
        "tx.cancel",
        (tx) => tx.cancel(generated),
        "tx.cancel",
      ],
      [
        "claimed-1",
        (tx) => tx.ack(claim),
        "tx.ack",
        (tx) => tx.enqueue("a", "x", { jobId: generated }),
        "tx.enqueue",
      ],
    ];
    const before = stateDigest(liveState(queue));
    for (const [id, one, oneName, other, otherName] of pairs) {
      for (const [first, second, firstName, secondName] of [
        [one, other, oneName, otherName],
        [other, one, otherName, oneName],
      ] as const) {
        const error = await rejection(
          queue.transaction((tx) => {
            tx.kvPut("written", "no");
            first(tx);
            second(tx);
          }),
        );
        assert.ok(error instanceof InvalidArgumentError, String(error));
        assert.equal(
          error.message,
          `Expected \`build\` to be a function that acts on each job once per transaction, got job ${id} in operation 1 (${firstName}) and operation 2 (${secondName})`,
        );
        assert.equal(stateDigest(liveState(queue)), before);
      }
    }
    // Enqueues share a job: the later one is a hit.
    const twice = await queue.transaction((tx) => {
      tx.enqueue("a", "x", { jobId: "order-1" });
      tx.enqueue("a", "y", { dedupKey: "k" });
      tx.enqueue("a", "z", { jobId: keyHolder });
      tx.ack(claim);
    });
    assert.deepEqual(twice.enqueued, [
      { id: "order-1", created: false },
      { id: keyHolder, created: false },
      { id: keyHolder, created: false },
    ]);
    // In the next transaction the id is free again.
    await queue.transaction((tx) => tx.cancel("order-1"));
    const result = await queue.transaction((tx) => tx.enqueue("a", "again", { jobId: "order-1" }));
    assert.deepEqual(result.enqueued, [{ id: "order-1", created: true }]);
    assert.equal(text((await queue.getJob("order-1"))!.payload), "again");
    await queue.close();
  });
});

describe("transactions and a jobId spelt like an id the generator has yet to issue", () => {
  it("an earlier enqueue of the transaction, and enqueues after it, get other ids", async () => {
    const { queue } = await openTestQueue();
    const a = await queue.enqueue("q", "first");
    const taken = followingId(a);
    const { enqueued } = await queue.transaction((tx) => {
      tx.enqueue("q", "generated");
      tx.enqueue("q", "caller", { jobId: taken });
    });
    assert.equal(enqueued[1]!.id, taken);
    assert.notEqual(enqueued[0]!.id, taken);
    assert.equal(text((await queue.getJob(enqueued[0]!.id))!.payload), "generated");
    assert.equal(text((await queue.getJob(taken))!.payload), "caller");

    const b = await queue.enqueue("q", "second");
    const next = followingId(followingId(b)); // the transaction's record takes the id after `b`
    await queue.transaction((tx) => tx.enqueue("q", "caller 2", { jobId: next }));
    const c = await queue.enqueue("q", "generated 2");
    assert.notEqual(c, next);
    assert.equal(text((await queue.getJob(next))!.payload), "caller 2");
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });
});
