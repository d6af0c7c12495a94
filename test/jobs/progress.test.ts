import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import type { JsonValue } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import { runWorker } from "../../src/worker/run-worker.js";
import type { JobContext } from "../../src/worker/types.js";
import { runAndKill } from "./kill.js";
import { openOn, STORES, tempDir } from "./stores.js";

/** Runs one job of `name` under runWorker: `body` is its handler; the worker stops after it. */
async function runOne(
  queue: Queue,
  name: string,
  body: (ctx: JobContext, id: string) => Promise<unknown>,
): Promise<void> {
  const stop = new AbortController();
  await runWorker(
    queue,
    name,
    async (job, ctx) => {
      stop.abort();
      return body(ctx, job.id);
    },
    { signal: stop.signal, logger: silentLogger },
  );
}

const OPTIONS = {
  // The ManualClock never reaches a retry's backoff: a retried job stays scheduled.
  queueConfigs: {
    dead: { maxAttempts: 1 },
    kept: { keepDoneJobsMs: 60_000 },
  },
};

for (const kind of STORES) {
  describe(`progress on ${kind.name}`, { timeout: 60_000 }, () => {
    it("shows in getJob and the progress event while the job runs; bad values are typed errors that change nothing", async () => {
      const { queue } = await openOn(kind, OPTIONS);
      const id = await queue.enqueue("work", "x", { jobId: "report-7" });
      const events: { id: string; queue: string; progress: unknown }[] = [];
      queue.on("progress", (event) => events.push(event));
      await runOne(queue, "work", async (ctx) => {
        ctx.progress({ step: 1, of: 3 });
        assert.deepEqual((await queue.getJob(id))?.progress, { step: 1, of: 3 });
        assert.deepEqual(
          events.map((e) => [e.id, e.queue, e.progress]),
          [["report-7", "work", { step: 1, of: 3 }]],
        );
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        const bad: unknown[] = [
          undefined,
          Number.NaN,
          Number.POSITIVE_INFINITY,
          () => 1,
          new Date(0),
          { a: [1, undefined] },
          10n,
          Symbol("s"),
          cyclic,
        ];
        // Values whose reading throws (a revoked Proxy, a throwing getter), nesting deeper than the stack.
        const revoked = Proxy.revocable({}, {});
        revoked.revoke();
        let deep: unknown = 1;
        for (let i = 0; i < 1_000_000; i++) deep = [deep];
        bad.push(
          revoked.proxy,
          {
            get broken() {
              throw new Error("getter");
            },
          },
          deep,
        );
        for (const value of bad)
          assert.throws(() => ctx.progress(value as JsonValue), InvalidArgumentError);
        assert.throws(
          () => ctx.progress("x".repeat(70_000)),
          /Expected `value` to be a JSON value of at most 65536 bytes/,
        );
        assert.deepEqual((await queue.getJob(id))?.progress, { step: 1, of: 3 });
        assert.equal(events.length, 1);
        // The same value twice is still two reports; a shared object is copied, not kept.
        const shared = { n: 2 };
        ctx.progress(shared);
        shared.n = 3;
        assert.deepEqual((await queue.getJob(id))?.progress, { n: 2 });
        assert.equal(events.length, 2);
      });
      // Not kept (done jobs are not kept by default): the job and its progress are gone.
      assert.equal(await queue.getJob(id), null);
      await queue.close();
    });

    it("the latest value is kept with a retry, a dead-letter and a kept done job, across a reopen and in a QueueReader", async () => {
      const { queue, store, reopen } = await openOn(kind, OPTIONS);
      const retried = await queue.enqueue("retried", "r");
      const dead = await queue.enqueue("dead", "d");
      const kept = await queue.enqueue("kept", "k");
      await runOne(queue, "retried", async (ctx) => {
        ctx.progress("first");
        ctx.progress("half way");
        throw new Error("flaky");
      });
      await runOne(queue, "dead", async (ctx) => {
        ctx.progress([1, 2, 3]);
        throw new Error("broken");
      });
      await runOne(queue, "kept", async (ctx) => {
        ctx.progress({ nested: { deep: [true, null, 1.5] } });
        return "result";
      });
      const expect = async (q: Pick<Queue, "getJob">) => {
        const r = await q.getJob(retried);
        assert.deepEqual([r?.status, r?.progress], ["scheduled", "half way"]);
        const d = await q.getJob(dead);
        assert.deepEqual([d?.status, d?.progress], ["dead", [1, 2, 3]]);
        const k = await q.getJob(kept);
        assert.deepEqual(
          [k?.status, k?.progress],
          ["done", { nested: { deep: [true, null, 1.5] } }],
        );
      };
      await expect(queue);
      await queue.close();
      const reader = await QueueReader.open(store, "q");
      await expect({ getJob: async (id) => reader.getJob(id) });
      const again = await reopen();
      await expect(again);
      await again.close();
    });

    it("a settlement by the handler's ctx.transaction keeps the latest value too, across a reopen", async () => {
      const { queue, reopen } = await openOn(kind, OPTIONS);
      const ids = {
        retried: await queue.enqueue("retried", "r"),
        dead: await queue.enqueue("dead", "d"),
        kept: await queue.enqueue("kept", "k"),
      };
      for (const name of ["retried", "dead", "kept"] as const) {
        const stop = new AbortController();
        await runWorker(
          queue,
          name,
          async (job, ctx) => {
            stop.abort();
            ctx.progress({ step: name });
            await ctx.transaction((tx) => {
              if (name === "retried") tx.nack(job, "flaky");
              else if (name === "dead") tx.deadLetter(job, "broken");
              else tx.ack(job, { result: "r" });
            });
          },
          { signal: stop.signal, logger: silentLogger },
        );
      }
      const expect = async (q: Queue) => {
        for (const [name, status] of [
          ["retried", "scheduled"],
          ["dead", "dead"],
          ["kept", "done"],
        ] as const) {
          const job = await q.getJob(ids[name]);
          assert.deepEqual([job?.status, job?.progress], [status, { step: name }], name);
        }
      };
      await expect(queue);
      await queue.close();
      const again = await reopen();
      await expect(again);
      await again.close();
    });

    it("a lease that expires keeps the progress reported so far", async () => {
      const { queue, clock } = await openOn(kind, { defaultQueueConfig: { leaseMs: 1_000 } });
      const id = await queue.enqueue("work", "x");
      const stop = new AbortController();
      let release!: () => void;
      const worker = runWorker(
        queue,
        "work",
        async (_job, ctx) => {
          stop.abort();
          ctx.progress({ stage: "upload" });
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        },
        { signal: stop.signal, logger: silentLogger, autoRenew: false },
      );
      while (release === undefined) await new Promise((resolve) => setImmediate(resolve));
      try {
        clock.advance(1_001);
        await queue.reapNow();
        const job = await queue.getJob(id);
        assert.deepEqual([job?.status, job?.attempts], ["pending", 1]);
        assert.deepEqual(job?.progress, { stage: "upload" });
      } finally {
        release();
        await worker;
        await queue.close();
      }
    });
  });
}

describe("progress and SIGKILL", { timeout: 120_000 }, () => {
  it("progress written with an acknowledged settlement survives the process being killed", async () => {
    const dir = await tempDir();
    const [line] = (await runAndKill(dir, "progress")) as { retried: string; dead: string }[];
    const queue = await Queue.open(new FileStore(dir, { fsync: false }), "q", {
      logger: silentLogger,
    });
    assert.deepEqual((await queue.getJob(line!.retried))?.progress, { percent: 40 });
    assert.deepEqual((await queue.getJob(line!.dead))?.progress, "stuck at 90%");
    await queue.close();
  });
});
