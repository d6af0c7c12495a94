/**
 * S3Store against a real S3 server that honours conditional writes: Ceph's
 * radosgw, started on 127.0.0.1 for this file (installed with apt-get when
 * missing; the file skips, saying why, only where that is impossible). Runs
 * the store conformance suite, the shared S3 tests, a queue through close and
 * reopen, two writer processes fencing each other, the ambiguous-create path,
 * permanent errors, and a frozen server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { StorageError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import { probeConditionalWrites } from "../../src/store/probe.js";
import { listAll, ObjectExistsError } from "../../src/store/types.js";
import { recordingLogger } from "../recording-logger.js";
import { runFencing } from "../reliability/lib/fencing.js";
import { type LossyProxy, startLossyProxy } from "../servers/lossy-proxy.js";
import { type RadosgwServer, radosgwAvailability, startRadosgw } from "../servers/radosgw.js";
import { runStoreConformance } from "./conformance.js";
import { describeS3Server, type S3Target, s3StoreOn } from "./s3-suite.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

const unavailable = await radosgwAvailability();
if (unavailable !== undefined) process.stderr.write(`# skipping radosgw tests: ${unavailable}\n`);
const skip = unavailable === undefined ? false : `radosgw unavailable: ${unavailable}`;
/** Generous: the first start may install the packages. */
const SUITE_TIMEOUT_MS = 240_000;

let started: Promise<RadosgwServer> | undefined;
const radosgw = (): Promise<RadosgwServer> => {
  started ??= startRadosgw();
  return started;
};
after(async () => {
  await (await started)?.stop();
});

const madeBuckets = new Map<string, Promise<void>>();
/** The server with `bucket` created on it (once). */
async function target(bucket: string): Promise<S3Target> {
  const server = await radosgw();
  let made = madeBuckets.get(bucket);
  if (made === undefined) {
    const client = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: server.credentials,
    });
    made = client.send(new CreateBucketCommand({ Bucket: bucket })).then(() => client.destroy());
    madeBuckets.set(bucket, made);
  }
  await made;
  return { endpoint: server.endpoint, bucket, credentials: server.credentials };
}

const queueOptions: OpenOptions = { logger: silentLogger, flushIntervalMs: 1 };

describe("radosgw", { skip, timeout: SUITE_TIMEOUT_MS }, () => {
  // Each group below uses its own bucket, so they run side by side; the freeze comes last.
  describe("radosgw, groups side by side", { concurrency: true }, () => {
    runStoreConformance("S3Store on radosgw", async () => ({
      store: s3StoreOn(await target("conformance"), { prefix: "suite" }),
    }));

    describeS3Server("radosgw", () => target("shared"));

    describe("S3Store on radosgw: conditional writes", () => {
      it("honours If-None-Match: * and passes the probe", async () => {
        const store = s3StoreOn(await target("conditional"));
        await store.put("once", bytes("first"), { ifNoneMatch: "*" });
        await assert.rejects(store.put("once", bytes("second"), { ifNoneMatch: "*" }), (err) => {
          assert.ok(err instanceof ObjectExistsError, String(err));
          return true;
        });
        assert.equal(text((await store.get("once"))?.body), "first");
        await probeConditionalWrites(store, "probe-check/");
        assert.deepEqual(await listAll(store, "probe-check/"), []);
      });
    });

    describe("Queue on radosgw", () => {
      it("enqueues, claims and acks; state survives close and reopen", async () => {
        const store = s3StoreOn(await target("queues"), { prefix: "tenant" });
        const first = await Queue.open(store, "app", queueOptions);
        const ids = [
          await first.enqueue("emails", "welcome"),
          await first.enqueue("emails", "digest"),
          await first.enqueue("emails", "urgent", { priority: 10 }),
        ];
        const claim = await first.claim("emails");
        assert.equal(claim?.id, ids[2], "the high-priority job is claimed first");
        assert.equal(text(claim?.payload), "urgent");
        await first.ack(claim!);
        await first.close();

        const objects = await listAll(store, "app/");
        assert.ok(
          objects.some((o) => o.key.startsWith("app/wal/")) &&
            objects.some((o) => o.key.startsWith("app/manifest/")),
          `the log lives in the bucket: ${objects.map((o) => o.key).join(", ")}`,
        );

        const reopened = await Queue.open(store, "app", queueOptions);
        const stats = await reopened.stats("emails");
        assert.equal(stats.pending, 2);
        assert.equal(stats.done, 1);
        const next = await reopened.claim("emails");
        assert.equal(next?.id, ids[0], "FIFO within a priority survives the restart");
        assert.equal(text(next?.payload), "welcome");
        await reopened.ack(next!);
        await reopened.close();
      });

      it("two writer processes: the older always ends FENCED, no acknowledged job lost", async () => {
        const server = await target("fencing");
        // The audit in this process reaches the bucket through the SDK's default credential chain.
        process.env.AWS_ACCESS_KEY_ID = server.credentials.accessKeyId;
        process.env.AWS_SECRET_ACCESS_KEY = server.credentials.secretAccessKey;
        const report = await runFencing(
          {
            url: `s3://${server.bucket}/reliability?endpoint=${server.endpoint}&region=us-east-1&forcePathStyle=true`,
            env: {
              AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
              AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
            },
          },
          3,
        );
        assert.deepEqual(report.violations, []);
        assert.equal(report.handovers, 3);
        assert.ok(report.acknowledged >= 60, `only ${report.acknowledged} acknowledged`);
      });
    });

    describe("ambiguous creates on radosgw", () => {
      let proxy: LossyProxy | undefined;
      after(async () => {
        await proxy?.close();
      });

      it("a WAL create that landed but whose answer was lost is recognised as ours", async () => {
        const server = await target("ambiguous");
        proxy = await startLossyProxy(Number(new URL(server.endpoint).port));
        // One SDK attempt: the log's own retry meets the landed create and reads it back.
        const viaProxy = s3StoreOn({ ...server, endpoint: proxy.endpoint }, { prefix: "p" });
        const logger = recordingLogger();
        const queue = await Queue.open(viaProxy, "q", {
          ...queueOptions,
          logger,
          log: { retry: { baseDelayMs: 10, maxDelayMs: 50, maxElapsedMs: 10_000 } },
        });
        const before = await queue.enqueue("jobs", "before");
        proxy.dropNextAnswer({
          method: "PUT",
          head: /\/p\/q\/wal\/\d{20}[? ][\s\S]*\r\nif-none-match: \*\r\n/i,
        });
        const ambiguous = await queue.enqueue("jobs", "answer lost");
        assert.equal(proxy.dropped().length, 1, "the proxy lost one create's answer");
        assert.match(proxy.dropped()[0]!, /^PUT \/ambiguous\/p\/q\/wal\/\d{20}(\?|$)/);
        const afterwards = await queue.enqueue("jobs", "after");
        assert.deepEqual(
          logger.messages("warn"),
          ["store request failed; retrying with backoff"],
          "one warning for the one retry sequence",
        );
        await queue.close();

        const direct = s3StoreOn(server, { prefix: "p" });
        const reopened = await Queue.open(direct, "q", queueOptions);
        const seen: string[] = [];
        for (
          let claim = await reopened.claim("jobs");
          claim;
          claim = await reopened.claim("jobs")
        ) {
          seen.push(text(claim.payload));
          await reopened.ack(claim);
        }
        assert.deepEqual(seen, ["before", "answer lost", "after"], "each job exactly once");
        assert.ok(before && ambiguous && afterwards);
        await reopened.close();
      });
    });

    describe("permanent errors on radosgw fail Queue.open at once", () => {
      const cases: Array<[string, (server: S3Target) => S3Target, RegExp]> = [
        [
          "a missing bucket",
          (server) => ({ ...server, bucket: "no-such-bucket" }),
          /NoSuchBucket.*bucket "no-such-bucket" does not exist: create it/,
        ],
        [
          "a wrong secret",
          (server) => ({
            ...server,
            credentials: { ...server.credentials, secretAccessKey: "not-the-secret" },
          }),
          /SignatureDoesNotMatch.*check the secret access key/,
        ],
        [
          "an unknown access key",
          (server) => ({
            ...server,
            credentials: { accessKeyId: "nobody", secretAccessKey: "nothing" },
          }),
          /InvalidAccessKeyId.*does not know this access key id/,
        ],
      ];
      for (const [name, broken, message] of cases)
        it(`${name}: a permanent StorageError at once, nothing retried`, async () => {
          const server = await target("permanent");
          const logger = recordingLogger();
          const started = performance.now();
          await assert.rejects(
            Queue.open(s3StoreOn(broken(server), { prefix: "p" }), "q", { logger }),
            (err) => {
              assert.ok(err instanceof StorageError, String(err));
              assert.equal(err.permanent, true);
              assert.match(err.message, message);
              assert.ok(!err.message.includes(server.credentials.secretAccessKey));
              return true;
            },
          );
          const elapsed = performance.now() - started;
          // Retrying would take minutes; a few requests to a busy server take well under 5 s.
          assert.ok(elapsed < 5_000, `took ${Math.round(elapsed)} ms`);
          assert.deepEqual(
            logger.messages("warn", "error").filter((m) => m.includes("retrying")),
            [],
            "nothing was retried",
          );
        });
    });
  });

  // Last, alone: it freezes the server.
  describe("a frozen radosgw (SIGSTOP)", () => {
    let server: RadosgwServer;
    before(async () => {
      server = await radosgw();
    });
    after(() => {
      server?.thaw();
    });

    it("every call ends within requestTimeoutMs with a transient StorageError; the queue recovers after", async () => {
      const bucket = await target("frozen");
      const store = s3StoreOn(bucket, { prefix: "p", requestTimeoutMs: 500 });
      const logger = recordingLogger();
      const queue = await Queue.open(store, "q", {
        ...queueOptions,
        logger,
        log: { retry: { baseDelayMs: 20, maxDelayMs: 200, maxElapsedMs: 60_000 } },
      });
      const kept = await queue.enqueue("jobs", "before the freeze");

      server.freeze();
      try {
        const calls: Array<[string, () => Promise<unknown>]> = [
          ["get", () => store.get("k")],
          ["head", () => store.head("k")],
          ["put", () => store.put("k", bytes("x"))],
          ["create", () => store.put("k", bytes("x"), { ifNoneMatch: "*" })],
          ["delete", () => store.delete("k")],
          ["list", () => store.list("")],
        ];
        await Promise.all(
          calls.map(async ([op, call]) => {
            const started = performance.now();
            await assert.rejects(call(), (err) => {
              assert.ok(err instanceof StorageError, `${op}: ${err}`);
              assert.equal(err.permanent, false, op);
              assert.match(err.message, /timed out after 500 ms without an answer/, op);
              return true;
            });
            const elapsed = performance.now() - started;
            assert.ok(elapsed >= 450 && elapsed < 2_000, `${op} took ${Math.round(elapsed)} ms`);
          }),
        );
      } finally {
        server.thaw();
      }
      // An enqueue while frozen waits, retrying with backoff, and lands after the thaw.
      const retryWarnings = () =>
        logger
          .at("warn")
          .filter((line) => line.message.includes("retrying"))
          .map((line) => line.fields?.what);
      server.freeze();
      let during: Promise<string>;
      let frozenFor: number;
      try {
        during = queue.enqueue("jobs", "during the freeze");
        // Frozen for at least 2 s (several 500 ms attempts), and until the outage is logged: on
        // a busy machine the first attempt may start late, so the thaw waits for its warning.
        const frozenAt = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        while (retryWarnings().length === 0 && performance.now() - frozenAt < 30_000)
          await new Promise((resolve) => setTimeout(resolve, 50));
        frozenFor = performance.now() - frozenAt;
      } finally {
        server.thaw();
      }
      const duringId = await during;
      const afterId = await queue.enqueue("jobs", "after the thaw");
      // Several attempts failed (500 ms each over 2 s or more), but each retry sequence warned once.
      const retried = retryWarnings();
      assert.ok(
        retried.length >= 1,
        `the outage was logged while frozen (${Math.round(frozenFor)} ms)`,
      );
      assert.equal(
        new Set(retried).size,
        retried.length,
        `one warning per retry sequence, not per attempt: ${JSON.stringify(retried)}`,
      );
      for (const id of [kept, duringId, afterId])
        assert.equal((await queue.getJob(id))?.status, "pending", id);
      await queue.close();
    });
  });
});
