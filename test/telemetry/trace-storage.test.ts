import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { decodeRecord, encodeRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import {
  encodeTraceContext,
  formatTraceParent,
  isValidTraceContext,
  readTraceBytes,
  TRACE_BYTES,
  writeTraceBytes,
} from "../../src/queue/trace-context.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { mustClaim } from "../queue/helpers.js";
import { tracing } from "./helpers.js";

const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
after(() => {
  context.disable();
});

const TELEMETRY_OFF = {};

async function open(store: ObjectStore, telemetry: object = TELEMETRY_OFF, checkpointEvery = 0) {
  return Queue.open(store, "app", {
    clock: new ManualClock(1_780_000_000_000),
    logger: silentLogger,
    flushIntervalMs: 0,
    ...(checkpointEvery > 0 ? { log: { checkpointWalRecords: checkpointEvery } } : {}),
    ...telemetry,
  });
}

/** Every object of `store` under `prefix`, as text (binary parts as latin1). */
async function storedText(store: ObjectStore, prefix: string): Promise<string> {
  let text = "";
  for (const { key } of (await store.list(prefix)).objects)
    text += Buffer.from((await store.get(key))!.body).toString("latin1");
  return text;
}

/** The `process` span's link to its producer, or undefined. */
function linkOf(spans: ReadableSpan[], id: string) {
  const run = spans.find(
    (s) => s.name.startsWith("process ") && s.attributes["messaging.message.id"] === id,
  );
  assert.ok(run !== undefined, `no process span for ${id}`);
  return run.links[0]?.context;
}

/** Runs one claim of `name` through the queue's tracing (as `runWorker` does for a traced run) and acks it. */
async function handleOne(queue: Queue, name: string): Promise<string> {
  const { tracingOf } = await import("../../src/queue/instrument.js");
  const claim = await mustClaim(queue, name);
  await tracingOf(queue)!.handle(
    claim,
    async () => {},
    () => undefined,
  );
  await queue.ack(claim);
  return claim.id;
}

describe("stored trace context", { timeout: 60_000 }, () => {
  it("is kept as bytes, not header text, through the WAL, a checkpoint and a reopen, and still links", async () => {
    const store = new MemoryStore();
    const { exporter, tracerProvider } = tracing();
    const traced = { telemetry: { tracerProvider, metrics: false } };
    const writer = await open(store, traced, 3);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(await writer.enqueue("mail", `m${i}`, i === 0 ? { headers: { tenant: "a" } } : {}));
    await writer.close();
    const producers = exporter.getFinishedSpans().filter((s) => s.name === "enqueue mail");
    assert.equal(producers.length, 5);
    const expected = producers.map((s) => formatTraceParent(s.spanContext()));

    const checkpoints = await store.list("app/checkpoint/");
    assert.ok(checkpoints.objects.length > 0, "a checkpoint was written");
    const stored = await storedText(store, "app/");
    assert.ok(!stored.includes("traceparent"), "no traceparent text is stored");
    assert.ok(stored.includes("tenant"), "the caller's headers are");

    // Read back from the checkpoint and the WAL after it, by a reader and a writer.
    const reader = await QueueReader.open(store, "app");
    for (const [i, id] of ids.entries()) {
      const headers = reader.getJob(id)?.headers;
      assert.deepEqual(headers, {
        ...(i === 0 ? { tenant: "a" } : {}),
        traceparent: expected[i],
      });
    }
    const reopened = await open(store, traced);
    assert.equal((await reopened.getJob(ids[4]!))?.headers.traceparent, expected[4]);
    for (let i = 0; i < 5; i++) {
      const id = await handleOne(reopened, "mail");
      const link = linkOf(exporter.getFinishedSpans(), id);
      const producer = producers[ids.indexOf(id)]!.spanContext();
      assert.equal(link?.traceId, producer.traceId);
      assert.equal(link?.spanId, producer.spanId);
    }
    await reopened.close();
  });

  it("a job written with a traceparent header (as earlier releases stored it) still links", async () => {
    const store = new MemoryStore();
    const header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const old = await open(store);
    const id = await old.enqueue("mail", "x", { headers: { traceparent: header, tenant: "a" } });
    await old.close();
    const { exporter, tracerProvider } = tracing();
    const queue = await open(store, { telemetry: { tracerProvider, metrics: false } });
    assert.deepEqual((await queue.getJob(id))?.headers, { traceparent: header, tenant: "a" });
    assert.equal(await handleOne(queue, "mail"), id);
    const link = linkOf(exporter.getFinishedSpans(), id);
    assert.equal(link?.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(link?.spanId, "00f067aa0ba902b7");
    await queue.close();
  });

  it("a row handed to a new job carries no trace context of the job before it", async () => {
    const store = new MemoryStore();
    const { tracerProvider } = tracing();
    const traced = await open(store, { telemetry: { tracerProvider, metrics: false } });
    const first = await traced.enqueue("q", "traced");
    assert.ok((await traced.getJob(first))?.headers.traceparent !== undefined);
    assert.equal(await traced.removeJob(first), true);
    await traced.close();
    const plain = await open(store);
    const second = await plain.enqueue("q", "plain");
    assert.deepEqual((await plain.getJob(second))?.headers, {});
    await plain.close();
  });

  it("round-trips through the enqueue record's binary form", () => {
    const trace = {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
    };
    const base = {
      tag: Tag.Enqueue,
      id: "01JD0000000000000000000000",
      queue: "q",
      payload: new Uint8Array([1, 2]),
      headers: undefined,
      priority: 0,
      maxAttempts: 3,
      enqueuedAt: 1_780_000_000_000,
      runAt: undefined,
      dedupKey: undefined,
    } as const;
    const plain = encodeRecord(base);
    const bytes = encodeRecord({ ...base, trace });
    // The context's 25 bytes, and a second byte of the flags varint.
    assert.equal(bytes.byteLength, plain.byteLength + 26, "26 bytes per traced job");
    const decoded = decodeRecord(bytes);
    assert.equal(decoded?.tag, Tag.Enqueue);
    assert.deepEqual(decoded?.tag === Tag.Enqueue ? decoded.trace : null, trace);
    assert.equal(isValidTraceContext(trace), true);
    for (const bad of [
      { ...trace, spanId: "0".repeat(16) },
      { ...trace, traceId: "0".repeat(32) },
      { ...trace, traceId: trace.traceId.toUpperCase() },
      { ...trace, spanId: `${trace.spanId}0` },
      { ...trace, traceId: `${trace.traceId.slice(0, 31)}g` },
    ])
      assert.equal(isValidTraceContext(bad), false, JSON.stringify(bad));
  });

  it("is checked and encoded once, in one pass, with the same bytes and verdict as the hex path", () => {
    const trace = {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
    };
    const encoded = encodeTraceContext(trace);
    assert.ok(encoded?.bytes !== undefined);
    assert.equal(encoded.bytes.byteLength, TRACE_BYTES);
    const fromHex = new Uint8Array(TRACE_BYTES + 2);
    const fromBytes = new Uint8Array(TRACE_BYTES + 2);
    writeTraceBytes(trace, fromHex, 1);
    writeTraceBytes(encoded, fromBytes, 1);
    assert.deepEqual(fromBytes, fromHex);
    assert.deepEqual(readTraceBytes(fromBytes, 1), trace);
    // Records written from the encoded context are the records written from the hex.
    const base = {
      tag: Tag.Enqueue,
      id: "01JD0000000000000000000000",
      queue: "q",
      payload: new Uint8Array([1]),
      headers: undefined,
      priority: 0,
      maxAttempts: 3,
      enqueuedAt: 1_780_000_000_000,
      runAt: undefined,
      dedupKey: undefined,
    } as const;
    assert.deepEqual(encodeRecord({ ...base, trace: encoded }), encodeRecord({ ...base, trace }));
    // Every id the hex check rejects, the one-pass encoder rejects; random ids agree too.
    const bad = [
      { ...trace, spanId: "0".repeat(16) },
      { ...trace, traceId: "0".repeat(32) },
      { ...trace, traceId: trace.traceId.toUpperCase() },
      { ...trace, spanId: `${trace.spanId}0` },
      { ...trace, spanId: trace.spanId.slice(1) },
      { ...trace, traceId: `${trace.traceId.slice(0, 31)}g` },
      { ...trace, traceId: `${trace.traceId.slice(0, 31)}-` },
      // Non-ASCII codes whose low 7 bits are hex digits ("a" + 0x80, "1" + 0x100).
      { ...trace, traceId: `${trace.traceId.slice(0, 31)}\u00e1` },
      { ...trace, spanId: `${trace.spanId.slice(0, 15)}\u0131` },
    ];
    for (const context of bad) {
      assert.equal(isValidTraceContext(context), false, JSON.stringify(context));
      assert.equal(encodeTraceContext(context), undefined, JSON.stringify(context));
    }
    const hex = "0123456789abcdefABCDEFg";
    for (let n = 0; n < 2_000; n++) {
      const id = (length: number) =>
        Array.from(
          { length },
          () => hex[Math.floor(Math.random() * (n % 2 ? 16 : hex.length))],
        ).join("");
      const context = { traceId: id(32), spanId: id(16), traceFlags: n & 0xff };
      const valid = isValidTraceContext(context);
      assert.equal(encodeTraceContext(context) !== undefined, valid, JSON.stringify(context));
    }
  });
});
