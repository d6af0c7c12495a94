// Owns the check that the public API contract still holds: every name, argument order, option,
// result field, error code, event, default and CLI command it promises. Two halves: the types,
// by type-checking fixtures/api-contract.ts in strict mode against the package's declaration
// files as an app resolves `"taquba"` and `"taquba/dashboard"` (through package.json's
// exports); and what types cannot show (codes, events, defaults, CLI), at run time through the
// package's entry points. A rename or removal of a promised name fails one or the other.
import assert from "node:assert/strict";
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { dashboard } from "../../src/dashboard/index.js";
import * as taquba from "../../src/index.js";
import {
  type Claim,
  ClaimLostError,
  ClosedError,
  ConflictError,
  CorruptionError,
  DEFAULT_QUEUE_CONFIG,
  DuplicateJobIdError,
  FencedError,
  FileStore,
  InvalidArgumentError,
  JobNotFoundError,
  type JobRecord,
  ManualClock,
  MemoryStore,
  type ObjectStore,
  type OpenOptions,
  openStore,
  PermanentFailure,
  type PutOptions,
  Queue,
  type QueueEventName,
  QueueReader,
  runWorker,
  StorageError,
  silentLogger,
  TaqubaError,
  UnsupportedStoreError,
} from "../../src/index.js";
import { runBuiltCli, startBuiltCli } from "../cli/child.js";
import { repoRoot } from "../nodes.js";
import { killRunning, run } from "../process-group.js";
import { until } from "../until.js";

const root = repoRoot();
const FIXTURE = join(root, "test", "package", "fixtures", "api-contract.ts");
const TSC = join(root, "node_modules", "typescript", "bin", "tsc");
const START = 1_700_000_000_000;
const DAY_MS = 86_400_000;
/** The deadline of one tsc run (emitting the declarations, or checking one project). */
const TSC_TIMEOUT_MS = 100_000;

const temp: string[] = [];
after(async () => {
  // A run the suite's timeout cut short would otherwise go on, with all it started.
  killRunning();
  for (const dir of temp) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = realpathSync(await mkdtemp(join(tmpdir(), "taquba-api-contract-")));
  temp.push(dir);
  return dir;
}

/** Runs tsc in a process group of its own, killed whole at {@link TSC_TIMEOUT_MS}. */
async function tsc(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; killed: string | null; output: string }> {
  const { code, killed, stdout, stderr } = await run(process.execPath, [TSC, ...args], {
    cwd,
    env: process.env,
    timeoutMs: TSC_TIMEOUT_MS,
  });
  return { code, killed, output: stdout + stderr };
}

/**
 * An app with `taquba` installed in its node_modules as the package ships: its package.json
 * and the declaration files the build emits (tsconfig.build.json), written here rather than
 * read from dist/, which a concurrent `npm pack` may be rebuilding. The package's own
 * dependencies resolve from the repository, as do @types/node and the S3 SDK the contract
 * names.
 */
async function appWithPackage(): Promise<{ app: string; declarations: string }> {
  const app = await tempDir();
  const pkg = join(app, "node_modules", "taquba");
  mkdirSync(pkg, { recursive: true });
  mkdirSync(join(app, "node_modules", "@aws-sdk"));
  copyFileSync(join(root, "package.json"), join(pkg, "package.json"));
  symlinkSync(join(root, "node_modules"), join(pkg, "node_modules"), "dir");
  symlinkSync(
    join(root, "node_modules", "@aws-sdk", "client-s3"),
    join(app, "node_modules", "@aws-sdk", "client-s3"),
    "dir",
  );
  const emit = await tsc(
    [
      "-p",
      join(root, "tsconfig.build.json"),
      "--outDir",
      join(pkg, "dist"),
      "--emitDeclarationOnly",
      "--declarationMap",
      "false",
    ],
    root,
  );
  assert.equal(emit.code, 0, `emitting the declarations failed:\n${emit.output}`);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "contract-app", private: true, type: "module" }),
  );
  return { app, declarations: join(pkg, "dist") };
}

function writeProject(app: string, name: string, source: string): string {
  writeFileSync(join(app, `${name}.ts`), source);
  const config = join(app, `tsconfig.${name}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: {
        module: "NodeNext",
        moduleResolution: "NodeNext",
        target: "ES2022",
        lib: ["ES2022"],
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        noEmit: true,
        types: ["node"],
        typeRoots: [join(root, "node_modules", "@types")],
      },
      files: [`${name}.ts`],
    }),
  );
  return config;
}

const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString();

async function open(
  options: OpenOptions = {},
  store: ObjectStore = new MemoryStore(),
): Promise<{ queue: Queue; clock: ManualClock; store: ObjectStore }> {
  const clock = new ManualClock(START);
  const queue = await Queue.open(store, "app", { clock, logger: silentLogger, ...options });
  return { queue, clock, store };
}

async function mustClaim(queue: Queue, name: string, leaseMs?: number): Promise<Claim> {
  const claim = await queue.claim(name, leaseMs === undefined ? {} : { leaseMs });
  assert.ok(claim !== null, `nothing to claim in ${name}`);
  return claim;
}

/** Rejects with an error of `kind` whose `code` is `code`, and a TaqubaError. */
async function rejectsWith(
  call: Promise<unknown> | (() => Promise<unknown>),
  kind: abstract new (...args: never[]) => Error,
  code: string,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof kind, `expected a ${kind.name}, got ${String(error)}`);
    assert.ok(error instanceof TaqubaError);
    assert.equal((error as TaqubaError).code, code);
    if (message !== undefined) assert.match((error as Error).message, message);
    return true;
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("the API contract, type-checked as an app imports the package", {
  timeout: 120_000,
}, () => {
  it("every documented name and shape compiles in strict mode against the declarations", async () => {
    const { app, declarations } = await appWithPackage();
    const fixture = readFileSync(FIXTURE, "utf8");
    const good = writeProject(app, "contract", fixture);
    // The same code with one promised method renamed must not compile: the check bites.
    const renamed = fixture.replace("queue.enqueueMany(", "queue.enqueueManyRenamed(");
    assert.notEqual(renamed, fixture);
    const bad = writeProject(app, "renamed", renamed);
    const [passed, failed] = await Promise.all([
      tsc(["-p", good, "--listFiles"], app),
      tsc(["-p", bad], app),
    ]);
    // --listFiles prints absolute paths; everything else is tsc's diagnostics.
    const listed = passed.output.split("\n");
    const diagnostics = listed.filter((line) => !line.startsWith(app.slice(0, 1))).join("\n");
    assert.equal(passed.code, 0, `the contract does not type-check:\n${diagnostics}`);
    // "taquba" and "taquba/dashboard" resolved to the emitted declarations, through exports.
    assert.ok(listed.includes(join(declarations, "index.d.ts")), "taquba: other declarations");
    assert.ok(
      listed.includes(join(declarations, "dashboard", "index.d.ts")),
      "taquba/dashboard: other declarations",
    );
    // `Queue`'s classes name no internal type: its base classes' constructors take an opaque core.
    for (const file of ["queue.d.ts", "queue-management.d.ts", "queue-data.d.ts"])
      assert.doesNotMatch(
        readFileSync(join(declarations, "queue", file), "utf8"),
        /QueueCore/,
        file,
      );
    assert.equal(failed.killed, null, failed.output);
    assert.notEqual(failed.code, 0);
    assert.match(failed.output, /renamed\.ts\(\d+,\d+\): error TS\d+: .*enqueueManyRenamed/);
  });
});

describe("the API contract at run time", { timeout: 120_000 }, () => {
  it("exports every documented value, of the documented kind", () => {
    const exported = taquba as unknown as Record<string, unknown>;
    for (const name of [
      "MemoryStore",
      "FileStore",
      "S3Store",
      "AzureBlobStore",
      "GcsStore",
      "openStore",
      "Queue",
      "QueueReader",
      "ManualClock",
      "runWorker",
      "PermanentFailure",
      "TaqubaError",
      "InvalidArgumentError",
      "JobNotFoundError",
      "ClaimLostError",
      "FencedError",
      "ClosedError",
      "StorageError",
      "CorruptionError",
      "UnsupportedStoreError",
      "DuplicateJobIdError",
      "ConflictError",
    ])
      assert.equal(typeof exported[name], "function", name);
    assert.deepEqual(
      [exported.PRIORITY_HIGH, exported.PRIORITY_NORMAL, exported.PRIORITY_LOW],
      [100, 1_000, 10_000],
    );
    assert.equal(typeof dashboard, "function");
    for (const method of ["close", "on", "transaction", "kvScan", "schedule", "childResults"])
      assert.equal(
        typeof (Queue.prototype as unknown as Record<string, unknown>)[method],
        "function",
      );
  });

  it("error classes: each extends TaqubaError and carries its code", () => {
    const cause = new Error("disk");
    const errors: [TaqubaError, string][] = [
      [new InvalidArgumentError("m"), "INVALID_ARGUMENT"],
      [new JobNotFoundError("m"), "JOB_NOT_FOUND"],
      [new ClaimLostError("m"), "CLAIM_LOST"],
      [new FencedError("m"), "FENCED"],
      [new ClosedError("m"), "CLOSED"],
      [new StorageError("m", { cause }), "STORAGE"],
      [new CorruptionError("app/wal/1", "bad checksum"), "CORRUPTION"],
      [new UnsupportedStoreError("m"), "UNSUPPORTED_STORE"],
      [new DuplicateJobIdError("m"), "DUPLICATE_JOB_ID"],
      [new ConflictError("m"), "CONFLICT"],
    ];
    for (const [error, code] of errors) {
      assert.ok(error instanceof TaqubaError && error instanceof Error, code);
      assert.equal(error.code, code);
      assert.equal(error.name, error.constructor.name);
    }
    assert.equal(errors[5]![0].cause, cause);
    assert.match(errors[6]![0].message, /app\/wal\/1/);
    // Like the Error it extends, a PermanentFailure needs no message.
    assert.ok(new PermanentFailure() instanceof Error);
    assert.equal(new PermanentFailure("poison").message, "poison");
  });

  it("calls reject with the documented error class and code", async () => {
    const { queue } = await open({ maxPayloadBytes: 16 });
    const invalid = (call: () => Promise<unknown>): Promise<void> =>
      rejectsWith(call, InvalidArgumentError, "INVALID_ARGUMENT");
    await invalid(() => queue.enqueue("", "x"));
    await invalid(() => queue.enqueue("é".repeat(128), "x")); // 256 UTF-8 bytes
    await queue.enqueue(`${"é".repeat(127)}a`, "x"); // 255 bytes are fine
    await invalid(() => queue.claim("q", { leaseMs: -1 }));
    await invalid(() => queue.claim("q", { waitMs: Number.POSITIVE_INFINITY }));
    await invalid(() => queue.enqueue("q", "x", { priority: 1.5 }));
    await invalid(() => queue.enqueue("q", "x".repeat(17)));
    await invalid(() => queue.enqueue("q", "x", { jobId: "has space" }));
    await invalid(() => queue.enqueue("q", "x", { jobId: "a".repeat(129) }));
    await invalid(() => queue.enqueue("q", "x", { delayMs: 5, runAt: START + 5 }));

    const id = await queue.enqueue("q", "x", { jobId: "order-1_A" });
    assert.equal(id, "order-1_A");
    await rejectsWith(
      queue.enqueue("q", "y", { jobId: "order-1_A" }),
      DuplicateJobIdError,
      "DUPLICATE_JOB_ID",
    );
    await rejectsWith(queue.requeueDeadJob("01UNKNOWN"), JobNotFoundError, "JOB_NOT_FOUND");
    await rejectsWith(queue.requeueDeadJob(id), JobNotFoundError, "JOB_NOT_FOUND");

    const claim = await mustClaim(queue, "q");
    await queue.ack(claim);
    await rejectsWith(queue.ack(claim), ClaimLostError, "CLAIM_LOST");
    await rejectsWith(queue.renewLease(claim, 1_000), ClaimLostError, "CLAIM_LOST");
    const other = await queue.enqueue("q", "z");
    await mustClaim(queue, "q");
    const record = (await queue.getJob(other)) as Claim;
    await rejectsWith(queue.nack(record, "no"), ClaimLostError, "CLAIM_LOST");

    await rejectsWith(
      queue.transaction((tx) => tx.kvCheck("k", "expected")),
      ConflictError,
      "CONFLICT",
    );
    await queue.close();
    await queue.close(); // idempotent
    await rejectsWith(queue.enqueue("q", "x"), ClosedError, "CLOSED");

    // Fencing: opening the path again fences the older queue.
    const store = new MemoryStore();
    const first = await Queue.open(store, "app", { logger: silentLogger });
    const second = await Queue.open(store, "app", { logger: silentLogger });
    await rejectsWith(first.enqueue("q", "x"), FencedError, "FENCED");
    await first.close().catch(() => {});
    await second.close();

    // A store failure, with its cause.
    const dir = await tempDir();
    await writeFile(join(dir, "file"), "not a directory");
    await assert.rejects(Queue.open(new FileStore(join(dir, "file")), "app"), (error) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "STORAGE");
      assert.ok(error.cause !== undefined);
      return true;
    });

    // A damaged object, named.
    const damaged = new MemoryStore();
    const writer = await Queue.open(damaged, "app", { logger: silentLogger });
    await writer.enqueue("q", "x");
    await writer.close();
    const { objects } = await damaged.list("app/checkpoint/");
    const key = objects.at(-1)!.key;
    await damaged.put(key, new TextEncoder().encode("garbage"));
    await rejectsWith(
      Queue.open(damaged, "app", { logger: silentLogger }),
      CorruptionError,
      "CORRUPTION",
      new RegExp(key),
    );

    // A store that does not honour create-if-absent.
    class Lax extends MemoryStore {
      override put(key: string, body: Uint8Array, _options?: PutOptions): Promise<void> {
        return super.put(key, body);
      }
    }
    await rejectsWith(
      Queue.open(new Lax(), "app", { logger: silentLogger }),
      UnsupportedStoreError,
      "UNSUPPORTED_STORE",
    );
  });

  it("defaults of OpenOptions and QueueConfig", async () => {
    const documented = {
      maxAttempts: 3,
      leaseMs: 30_000,
      defaultPriority: 1_000,
      retryBackoffBaseMs: 1_000,
      retryBackoffMaxMs: 300_000,
      keepDoneJobsMs: null,
      deadRetentionMs: 7 * DAY_MS,
      resultRetentionMs: DAY_MS,
      rateLimit: null,
      groupConcurrency: null,
    };
    assert.deepEqual({ ...DEFAULT_QUEUE_CONFIG }, documented);
    const { queue, clock } = await open();
    assert.deepEqual({ ...queue.queueConfig("any") }, documented);

    // priority, lease, backoff, attempts, and no done job kept without a result.
    const id = await queue.enqueue("q", "x");
    for (let attempt = 1; attempt <= 3; attempt++) {
      const claim = await mustClaim(queue, "q");
      assert.equal(claim.priority, 1_000);
      assert.equal(claim.leaseExpiresAt! - claim.claimedAt!, 30_000);
      await queue.nack(claim, `failure ${attempt}`);
      if (attempt < 3) {
        const job = (await queue.getJob(id))!;
        assert.equal(job.status, "scheduled");
        assert.equal(job.runAt! - clock.now(), 1_000 * 2 ** (attempt - 1));
        clock.advance(job.runAt! - clock.now());
        await queue.promoteScheduledNow();
      }
    }
    assert.equal((await queue.getJob(id))?.status, "dead");
    const acked = await queue.enqueue("q", "x");
    await queue.ack(await mustClaim(queue, "q"));
    assert.equal(await queue.getJob(acked), null);
    const withResult = await queue.enqueue("q", "x");
    await queue.ack(await mustClaim(queue, "q"), { result: "answer" });
    assert.equal(text((await queue.getJob(withResult))?.result), "answer");

    // Retention: dead jobs for 7 days, results for 24 hours (both failed and acked now).
    clock.advance(DAY_MS);
    await queue.reapNow();
    assert.equal((await queue.getJob(withResult))?.status, "done");
    clock.advance(1);
    await queue.reapNow();
    assert.equal(await queue.getJob(withResult), null);
    clock.advance(6 * DAY_MS - 1); // 7 days since the job went dead
    await queue.reapNow();
    assert.equal((await queue.getJob(id))?.status, "dead");
    clock.advance(1);
    await queue.reapNow();
    assert.equal(await queue.getJob(id), null);

    // claim waits 0 ms by default: it answers on an empty queue without time passing.
    assert.equal(await queue.claim("empty"), null);

    // payloadOffloadBytes: 262_144.
    const small = await queue.enqueue("big", new Uint8Array(262_144));
    const large = await queue.enqueue("big", new Uint8Array(262_145));
    assert.equal((await queue.getJob(small))?.payloadRef, undefined);
    assert.notEqual((await queue.getJob(large))?.payloadRef, undefined);
    assert.equal((await queue.getJob(large))?.payload.length, 262_145);

    // Schedules: time zone UTC, catch-up "latest".
    await queue.schedule("tick", { everyMs: 60_000, queue: "ticks", payload: "t" });
    const [tick] = await queue.listSchedules();
    assert.equal(tick?.timezone, "UTC");
    assert.equal(tick?.catchUp, "latest");
    await queue.close();

    // reaperIntervalMs: 5_000 (an expired lease comes back at the next pass). A timer on the
    // ManualClock fires inside advance(), and the reaper expires due leases in its first,
    // synchronous slice, so the state right after an advance shows whether a pass ran: the
    // same check that sees no pass at 4 999 ms sees the one at 5 000 ms, without waiting.
    const reaped = await open();
    const job = await reaped.queue.enqueue("q", "x");
    await mustClaim(reaped.queue, "q", 10);
    reaped.clock.advance(4_999);
    assert.equal((await reaped.queue.getJob(job))?.status, "claimed", "no pass before 5 000 ms");
    reaped.clock.advance(1);
    assert.equal((await reaped.queue.getJob(job))?.status, "pending", "the pass at 5 000 ms");
    await reaped.queue.close();
  });

  it("listings: id order, exclusive cursors, default limit 100, at most 1000", async () => {
    const { queue } = await open({ defaultQueueConfig: { maxAttempts: 1 } });
    const ids = await queue.enqueueBatch(
      "q",
      Array.from({ length: 101 }, (_, n) => `${n}`),
    );
    assert.deepEqual(ids, [...ids].sort());
    for (const claim of await queue.claimBatch("q", 101)) await queue.nack(claim, "boom");
    const page = await queue.deadJobs("q");
    assert.deepEqual(
      page.map((j) => j.id),
      ids.slice(0, 100),
    );
    assert.deepEqual(
      (await queue.deadJobs("q", { after: ids[99]! })).map((j) => j.id),
      [ids[100]],
    );
    assert.deepEqual(
      (await queue.deadJobs("q", { after: ids[0]!, limit: 2 })).map((j) => j.id),
      ids.slice(1, 3),
    );
    const listed = await queue.listJobs("q", "dead");
    assert.equal(listed.jobs.length, 100);
    assert.ok(listed.nextCursor !== undefined);
    const rest = await queue.listJobs("q", "dead", { cursor: listed.nextCursor, limit: 1_000 });
    assert.deepEqual(
      rest.jobs.map((j) => j.id),
      [ids[100]],
    );
    await rejectsWith(
      queue.listJobs("q", "dead", { limit: 1_001 }),
      InvalidArgumentError,
      "INVALID_ARGUMENT",
    );
    assert.deepEqual(await queue.listQueues(), ["q"]);
    await queue.close();
  });

  it("queue methods: dedup, cancel, renewal, requeue, late settlement", async () => {
    const { queue, clock } = await open({ defaultQueueConfig: { maxAttempts: 1 } });
    const first = await queue.enqueue("q", "a", { dedupKey: "k" });
    assert.equal(await queue.enqueue("q", "b", { dedupKey: "k" }), first);
    assert.equal((await queue.stats("q")).pending, 1);
    assert.deepEqual(
      await queue
        .enqueueMany("q", [
          { payload: "c", options: { dedupKey: "k" } },
          { payload: "d", options: { priority: 5 } },
        ])
        .then((results) => results.map((r) => [r.id === first, r.created])),
      [
        [true, false],
        [false, true],
      ],
    );

    const scheduled = await queue.enqueue("s", "x", { delayMs: 60_000 });
    assert.equal((await queue.getJob(scheduled))?.runAt, START + 60_000);
    assert.equal(await queue.wakeScheduled(scheduled), "woken");
    assert.equal(await queue.wakeScheduled(scheduled), "not_scheduled");
    assert.equal(await queue.wakeScheduled("01UNKNOWN"), "not_found");
    const pending = await queue.enqueue("c", "x", { runAt: new Date(START + 1_000) });
    assert.equal(await queue.cancel(pending), "removed");
    assert.equal(await queue.cancel("01UNKNOWN"), "not_found");
    await queue.enqueue("c", "x");
    const claim = await mustClaim(queue, "c", 1_000);
    const extended = await queue.renewLease(claim, 5_000);
    assert.equal(extended, clock.now() + 5_000);
    assert.equal(claim.leaseExpiresAt, extended);
    assert.equal(await queue.cancel(claim.id), "requested");

    // A lease that expired but was not reaped can still be settled.
    await queue.enqueue("late", "x");
    const late = await mustClaim(queue, "late", 1_000);
    clock.advance(2_000);
    await queue.deadLetter(late, "gave up");
    const dead = (await queue.getJob(late.id))!;
    assert.equal(dead.status, "dead");
    assert.equal(dead.lastError, "gave up");
    assert.equal(typeof dead.failedAt, "number");
    clock.advance(1_000);
    await queue.requeueDeadJob(dead);
    const back = (await queue.getJob(late.id))!;
    assert.equal(back.status, "pending");
    assert.equal(back.attempts, 0);
    assert.equal(back.lastError, undefined);
    assert.equal(back.failedAt, undefined);
    assert.equal(back.enqueuedAt, dead.enqueuedAt);

    // Pause, remove, requeue in bulk.
    await queue.pauseQueue("late");
    assert.equal((await queue.stats("late")).paused, true);
    assert.equal(await queue.claim("late"), null);
    await queue.resumeQueue("late");
    assert.equal((await queue.stats("late")).paused, false);
    await queue.nack(await mustClaim(queue, "late"), "again");
    assert.equal(await queue.requeueDeadJobs("late", { limit: 5 }), 1);
    const history = await queue.attemptHistory(late.id);
    assert.deepEqual(
      history.map((a) => a.outcome),
      ["dead_lettered", "requeued", "dead_lettered", "requeued"],
    );
    assert.equal(await queue.removeJobs("late", "pending"), 1);
    assert.equal(await queue.removeJobs("q", "pending", { olderThanMs: 0 }), 2);
    await queue.close();
  });

  it("waitForCompletion reports each documented status", async () => {
    const { queue, clock } = await open({ defaultQueueConfig: { maxAttempts: 1 } });
    const done = await queue.enqueue("q", "x", { dedupKey: "once" });
    assert.equal((await queue.getJob(done))?.dedupKey, "once");
    const waitDone = queue.waitForCompletion(done);
    const claimed = await mustClaim(queue, "q");
    assert.equal(claimed.dedupKey, undefined); // cleared on claim
    await queue.ack(claimed, { result: "42" });
    const completion = await waitDone;
    assert.equal(completion.status, "done");
    assert.equal(completion.status === "done" ? text(completion.result) : "", "42");
    const dead = await queue.enqueue("q", "x");
    await queue.nack(await mustClaim(queue, "q"), "broken");
    assert.deepEqual(await queue.waitForCompletion(dead), { status: "dead", error: "broken" });
    const cancelled = await queue.enqueue("q", "x");
    const waitCancelled = queue.waitForCompletion(cancelled);
    await queue.cancel(cancelled);
    assert.deepEqual(await waitCancelled, { status: "cancelled" });
    assert.deepEqual(await queue.waitForCompletion("01UNKNOWN"), { status: "not_found" });
    assert.equal(await queue.getJob("01UNKNOWN"), null);
    const slow = await queue.enqueue("q", "x");
    const waitSlow = queue.waitForCompletion(slow, { timeoutMs: 1_000 });
    clock.advance(1_000);
    assert.deepEqual(await waitSlow, { status: "timeout" });
    await queue.close();
  });

  it("the worker: return → ack with result, throw → nack, PermanentFailure → dead", async () => {
    const { queue, clock } = await open({ defaultQueueConfig: { maxAttempts: 2 } });
    const ids = {
      text: await queue.enqueue("w", "text"),
      json: await queue.enqueue("w", "json"),
      fail: await queue.enqueue("w", "fail"),
      permanent: await queue.enqueue("w", "permanent"),
      bare: await queue.enqueue("w", "bare"),
      tx: await queue.enqueue("w", "tx"),
      timeout: await queue.enqueue("w", "timeout", { timeoutMs: 50 }),
    };
    const stop = new AbortController();
    let running = 0;
    let most = 0;
    let handled = 0;
    await runWorker(
      queue,
      "w",
      async (job, ctx) => {
        running++;
        most = Math.max(most, running);
        try {
          await sleep(5);
          const kind = text(job.payload);
          ctx.progress({ kind });
          switch (kind) {
            case "text":
              return "plain";
            case "json":
              return { answer: 42 };
            case "fail":
              throw new Error("try again");
            case "permanent":
              throw new PermanentFailure("poison");
            case "bare":
              throw new PermanentFailure();
            case "tx":
              await ctx.transaction((tx) => {
                tx.ack(job, { result: "in tx" });
                tx.kvPut("seen", "tx");
              });
              return undefined;
            default: {
              const aborted = new Promise((resolve) =>
                ctx.signal.addEventListener("abort", resolve),
              );
              clock.advance(50); // the job's timeoutMs passes
              await aborted;
              return undefined;
            }
          }
        } finally {
          running--;
          if (++handled === 7) stop.abort();
        }
      },
      { signal: stop.signal },
    );
    assert.equal(most, 1, "concurrency defaults to 1");
    const job = async (id: string): Promise<JobRecord> => (await queue.getJob(id))!;
    assert.equal(text((await job(ids.text)).result), "plain");
    assert.deepEqual(JSON.parse(text((await job(ids.json)).result)), { answer: 42 });
    assert.deepEqual((await job(ids.json)).progress, { kind: "json" });
    const retried = await job(ids.fail);
    assert.equal(retried.lastError, "try again");
    assert.notEqual(retried.status, "dead");
    assert.equal((await job(ids.permanent)).status, "dead");
    assert.equal((await job(ids.permanent)).lastError, "poison");
    assert.equal((await job(ids.bare)).status, "dead");
    assert.equal((await job(ids.bare)).lastError, "PermanentFailure");
    assert.equal(text((await job(ids.tx)).result), "in tx");
    assert.equal(text((await queue.kvGet("seen")) ?? undefined), "tx");
    assert.match((await job(ids.timeout)).lastError ?? "", /timed out/);
    await queue.close();
  });

  it("transactions, KV and flows", async () => {
    const { queue } = await open({ defaultQueueConfig: { maxAttempts: 1 } });
    // All or nothing: an invalid operation rejects the whole call.
    await rejectsWith(
      queue.transaction((tx) => {
        tx.enqueue("t", "x");
        tx.kvPut("k", "v");
        tx.enqueue("", "bad");
      }),
      InvalidArgumentError,
      "INVALID_ARGUMENT",
    );
    assert.equal((await queue.stats("t")).pending, 0);
    assert.equal(await queue.kvGet("k"), null);
    const { enqueued } = await queue.transaction((tx) => {
      tx.enqueue("t", "x", { jobId: "tx-job" });
      tx.kvPut("k", "v");
      tx.kvCheck("absent", null);
    });
    assert.deepEqual(enqueued, [{ id: "tx-job", created: true }]);

    assert.equal(text((await queue.kvGet("k")) ?? undefined), "v");
    assert.equal(await queue.kvCompareAndSet("k", "other", "w"), false);
    assert.equal(await queue.kvCompareAndSet("k", "v", "w"), true);
    await queue.kvPut("k2", new Uint8Array(256 * 1024));
    const scan = await queue.kvScan("k", { limit: 1 });
    assert.deepEqual(
      scan.entries.map((e) => e.key),
      ["k"],
    );
    assert.ok(scan.nextCursor !== undefined);
    assert.deepEqual(
      (await queue.kvScan("k", { cursor: scan.nextCursor })).entries.map((e) => e.key),
      ["k2"],
    );
    assert.equal(await queue.kvDelete("k2"), true);
    assert.equal(await queue.kvDelete("k2"), false);
    const invalid = (call: () => Promise<unknown>): Promise<void> =>
      rejectsWith(call, InvalidArgumentError, "INVALID_ARGUMENT");
    await invalid(() => queue.kvPut("", "v"));
    await invalid(() => queue.kvPut("k".repeat(1_025), "v"));
    await queue.kvPut("k".repeat(1_024), "v");
    await invalid(() => queue.kvPut("k", new Uint8Array(256 * 1024 + 1)));
    // Jobs are a separate namespace.
    assert.equal(await queue.kvGet("tx-job"), null);

    const flow = await queue.enqueueFlow({
      queue: "parent",
      payload: "p",
      children: [
        { queue: "child", payload: "a" },
        { queue: "child", payload: "b" },
      ],
    });
    assert.equal(flow.children.length, 2);
    assert.equal(await queue.claim("parent"), null);
    for (const child of await queue.claimBatch("child", 2))
      await queue.ack(child, { result: text(child.payload) });
    const parent = await mustClaim(queue, "parent");
    assert.equal(parent.id, flow.id);
    const results = await queue.childResults(flow.id);
    assert.deepEqual(Object.fromEntries(Object.entries(results).map(([id, r]) => [id, text(r)])), {
      [flow.children[0]!.id]: "a",
      [flow.children[1]!.id]: "b",
    });
    await queue.ack(parent);

    const doomed = await queue.enqueueFlow({
      queue: "parent",
      payload: "p",
      children: [{ queue: "child", payload: "c" }],
    });
    await queue.nack(await mustClaim(queue, "child"), "child broke");
    const deadParent = (await queue.getJob(doomed.id))!;
    assert.equal(deadParent.status, "dead");
    assert.match(deadParent.lastError ?? "", new RegExp(doomed.children[0]!.id));
    await queue.close();
  });

  it("schedules and flow control", async () => {
    const { queue, clock } = await open();
    const spec = { queue: "s", payload: "x" };
    const refused: [object, RegExp][] = [
      [{ ...spec, cron: "not a cron" }, /cron/],
      [{ ...spec, cron: "* * * * *", timezone: "Mars/Olympus" }, /timezone/],
      [{ ...spec, cron: "* * * * *", everyMs: 1_000 }, /cron|everyMs/],
      [{ ...spec }, /cron|everyMs/],
      [{ ...spec, everyMs: 1_000, startAt: START + 10, endAt: START + 10 }, /endAt/],
    ];
    for (const [bad, field] of refused)
      await rejectsWith(
        queue.schedule("bad", bad as never),
        InvalidArgumentError,
        "INVALID_ARGUMENT",
        field,
      );
    assert.deepEqual(await queue.listSchedules(), []);
    await queue.schedule("every", { ...spec, everyMs: 1_000 });
    assert.equal((await queue.listSchedules())[0]?.nextRunAt, START + 1_000);
    clock.advance(1_000);
    await until(async () => (await queue.stats("s")).pending === 1, "the schedule fired");
    assert.equal(await queue.unschedule("every"), true);
    assert.equal(await queue.unschedule("every"), false);

    // dedupReplace replaces the waiting job's payload.
    const id = await queue.enqueue("d", "old", { dedupKey: "k" });
    await queue.enqueue("d", "new", { dedupKey: "k", dedupReplace: true });
    assert.equal(text((await queue.getJob(id))?.payload), "new");
    await queue.close();

    const limited = await open({
      queueConfigs: {
        rated: { rateLimit: { max: 1, perMs: 60_000 } },
        grouped: { groupConcurrency: 1 },
      },
    });
    await limited.queue.enqueueBatch("rated", ["a", "b"]);
    assert.ok((await limited.queue.claim("rated")) !== null);
    assert.equal(await limited.queue.claim("rated"), null);
    await limited.queue.enqueue("grouped", "a", { groupKey: "g" });
    await limited.queue.enqueue("grouped", "b", { groupKey: "g" });
    await limited.queue.enqueue("grouped", "c", { groupKey: "h" });
    const groups = (await limited.queue.claimBatch("grouped", 3)).map((c) => c.groupKey);
    assert.deepEqual(groups.sort(), ["g", "h"]);
    await limited.queue.close();
  });

  it("events: each documented name, with the job id and queue", async () => {
    const { queue, clock } = await open({ defaultQueueConfig: { maxAttempts: 2 } });
    const names = [
      "enqueued",
      "claimed",
      "completed",
      "retried",
      "dead",
      "cancelled",
      "progress",
      "expired",
    ] as const satisfies readonly QueueEventName[];
    const seen = new Map<string, { id: string; queue: string }>();
    for (const name of names)
      queue.on(name, (event) => seen.set(name, { id: event.id, queue: event.queue }));
    const id = await queue.enqueue("e", "x");
    await mustClaim(queue, "e", 100);
    clock.advance(5_000); // expired at the reaper's pass, then retried
    await until(async () => (await queue.getJob(id))?.status === "pending", "reaped");
    await queue.deadLetter(await mustClaim(queue, "e"), "dead");
    const cancelled = await queue.enqueue("e", "x");
    await queue.cancel(cancelled);
    const stop = new AbortController();
    await queue.enqueue("e", "x");
    await runWorker(
      queue,
      "e",
      (_job, ctx) => {
        ctx.progress(1);
        stop.abort();
      },
      { signal: stop.signal },
    );
    await queue.close(); // tells every queued event
    assert.deepEqual([...seen.keys()].sort(), [...names].sort());
    for (const [name, event] of seen) {
      assert.equal(event.queue, "e", name);
      assert.match(event.id, /^[0-9A-Z]{26}$/, name);
    }
  });

  it("stores: the documented constructors and store URLs", async () => {
    const dir = await tempDir();
    assert.ok((await openStore("memory://")) instanceof MemoryStore);
    assert.ok((await openStore(`file://${dir}`)) instanceof FileStore);
    assert.ok((await openStore(dir)) instanceof FileStore);
    const s3 = await openStore("s3://bucket/prefix?endpoint=http://127.0.0.1:9&region=eu-west-1");
    assert.ok(s3 instanceof taquba.S3Store);
    const azure = await openStore("az://container/prefix", {
      env: { AZURE_STORAGE_CONNECTION_STRING: "UseDevelopmentStorage=true" },
    });
    assert.ok(azure instanceof taquba.AzureBlobStore);
    assert.ok((await openStore("gs://bucket/prefix")) instanceof taquba.GcsStore);
    const store = new FileStore(dir, { fsync: false });
    const queue = await Queue.open(store, "app", { logger: silentLogger, heartbeatMs: 60_000 });
    await queue.enqueue("q", "x");
    const reader = await QueueReader.open(store, "app");
    assert.equal(reader.stats("q").pending, 1);
    assert.ok(reader.writerHeartbeat() !== null);
    await queue.close();
  });

  it("the dashboard: a request handler over a Queue or a QueueReader, with authorize", async () => {
    const { queue, store } = await open();
    await queue.enqueue("mail", "x");
    await queue.flush();
    const reader = await QueueReader.open(store, "app");
    const handlers = [
      dashboard(queue),
      dashboard(reader),
      dashboard(queue, { authorize: (req) => req.headers.authorization === "Bearer ok" }),
    ];
    const servers: Server[] = [];
    const get = async (index: number, authorization?: string): Promise<number> => {
      const server = createServer(handlers[index]!);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      const headers = authorization === undefined ? undefined : { authorization };
      const response = await fetch(`http://127.0.0.1:${port}/`, { headers });
      await response.arrayBuffer();
      return response.status;
    };
    assert.equal(await get(0), 200);
    assert.equal(await get(1), 200);
    assert.notEqual(await get(2), 200);
    assert.equal(await get(2, "Bearer ok"), 200);
    for (const server of servers) server.close();
    for (const handler of handlers) handler.close();
    await queue.close();
  });

  it("the CLI: every documented command, with --store and --path", async () => {
    const dir = await tempDir();
    const where = ["--store", dir, "--path", "jobs"];
    const seed = await Queue.open(new FileStore(dir), "jobs", {
      logger: silentLogger,
      defaultQueueConfig: { maxAttempts: 1 },
    });
    const deadId = await seed.enqueue("mail", "x");
    await seed.nack((await seed.claim("mail"))!, "bounced");
    await seed.close();

    const help = await runBuiltCli(["--help"]);
    for (const command of [
      "demo",
      "stats",
      "queues",
      "dead",
      "requeue",
      "enqueue",
      "inspect",
      "dashboard",
    ]) {
      assert.match(help.stdout, new RegExp(`^ {2}${command} `, "m"), command);
      const own = await runBuiltCli([command, "--help"]);
      assert.equal(own.code, 0, command);
      assert.match(own.stdout, /--store <url>/, command);
      assert.match(own.stdout, /--path <prefix>/, command);
    }
    const ok = async (args: string[]): Promise<string> => {
      const out = await runBuiltCli([...args, ...where]);
      assert.equal(out.code, 0, `${args.join(" ")}: ${out.stderr}`);
      return out.stdout;
    };
    // Read commands leave a running writer alone.
    const writer = await Queue.open(new FileStore(dir), "jobs", { logger: silentLogger });
    assert.match(await ok(["stats"]), /^mail\s/m);
    assert.equal(await ok(["queues"]), "mail\n");
    assert.match(await ok(["dead"]), new RegExp(deadId));
    assert.match(await ok(["dead", "mail"]), new RegExp(deadId));
    assert.match(await ok(["inspect"]), /checkpoint/i);
    await writer.enqueue("mail", "still the writer");
    await writer.close();
    assert.match(await ok(["enqueue", "mail", "hello"]), /^[0-9A-Z]{26}\n$/);
    await ok(["requeue", deadId]);
    const reader = await QueueReader.open(new FileStore(dir), "jobs");
    assert.equal(reader.getJob(deadId)?.status, "pending");
    assert.equal(reader.stats("mail").pending, 3);

    const demoDir = await tempDir();
    const demo = await runBuiltCli([
      "demo",
      "--jobs",
      "20",
      "--json",
      "--store",
      demoDir,
      "--path",
      "demo",
    ]);
    assert.equal(demo.code, 0, demo.stderr);
    assert.equal(typeof JSON.parse(demo.stdout), "object");

    // dashboard: read-only, on 127.0.0.1, port 3000 unless told (or says that port is taken).
    const served = await startBuiltCli(["dashboard", ...where, "--port", "0", "--json"]);
    const line = JSON.parse(served.firstLine) as { url: string; readOnly: boolean };
    assert.match(line.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(line.readOnly, true);
    await served.stop();
    const fallback = await startBuiltCli(["dashboard", ...where, "--json"]).then(
      async ({ firstLine, stop }) => {
        await stop();
        return firstLine;
      },
      (error: Error) => error.message,
    );
    assert.match(fallback, /:3000\b|\b3000\b/);
  });
});
