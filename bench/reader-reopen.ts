/**
 * What a `QueueReader` refresh costs (a dashboard's `refreshMs`): requests,
 * bytes read and time per refresh of a reader over a store of `--jobs` jobs
 * while a live writer adds `--new` jobs (and settles one) between refreshes.
 *
 * - `full`: `QueueReader.open` again (what every refresh did before `reopen`
 *   went on from the snapshot): the checkpoint and the WAL after it.
 * - `reopen`: `reader.reopen()` of the previous snapshot.
 * - `idle`: `reader.reopen()` again with nothing new.
 *
 * The two kinds alternate within each round (full first in odd rounds,
 * reopen first in even ones). The store is a MemoryStore, optionally behind
 * a fixed `--latency-ms` per request. Each sample also gives the longest
 * turn of the event loop while it ran (`turnMs`: the longest gap between
 * ticks of a 1 ms timer, garbage-collection pauses included). After the
 * rounds, the writer adds `--burst` jobs at once and the reader is reopened over them (`burst`);
 * then the reader before it, whose state that reopen took on, is read again
 * (`old reader read`: it rebuilds its state at once, in one turn). Memory is
 * printed after the first open and at the end (with `--expose-gc`, after a
 * collection), holding the newest reader (before the old one is read again).
 *
 * `--backlog=N` leaves a long WAL folder: the live writer checkpoints every
 * 256 batches and collects nothing for an hour, and writes N batches of one
 * job before the rounds, so N WAL objects stay listed (covered by a newer
 * checkpoint, not yet collected). `keys` in a sample is how many object keys
 * its listings returned.
 *
 * Options: --jobs=100000 --new=5 --rounds=10 --latency-ms=0 --payload=100 --burst=100000 --backlog=0
 */
import { performance } from "node:perf_hooks";
import { Queue, QueueReader } from "../src/index.js";
import { silentLogger } from "../src/logger.js";
import { MemoryStore } from "../src/store/memory.js";
import type { ListOptions, ListPage, ObjectStore } from "../src/store/types.js";
import { LatencyStore } from "../src/store/wrappers/latency.js";
import { parseCommandLine } from "./lib/args.js";

const { jobs, fresh, rounds, latencyMs, payloadBytes, burst, backlog } = parseCommandLine(
  process.argv.slice(2),
  (args) => ({
    jobs: args.integer("jobs", 100_000, 1),
    fresh: args.integer("new", 5, 0),
    rounds: args.integer("rounds", 10, 1),
    latencyMs: args.number("latency-ms", 0),
    payloadBytes: args.integer("payload", 100, 0),
    burst: args.integer("burst", 100_000, 0),
    backlog: args.integer("backlog", 0, 0),
  }),
  "Measures how long a QueueReader takes to reopen and catch up with a writer.",
);

interface Sample {
  kind: "full" | "reopen" | "idle" | "burst";
  round: number;
  ms: number;
  turnMs: number;
  gets: number;
  lists: number;
  requests: number;
  bytesRead: number;
  keys: number;
}

/** Counts the keys the listings through it return. */
class KeyCounter implements ObjectStore {
  keys = 0;
  constructor(readonly inner: ObjectStore) {}
  get: ObjectStore["get"] = (key) => this.inner.get(key);
  put: ObjectStore["put"] = (key, body, options) => this.inner.put(key, body, options);
  delete: ObjectStore["delete"] = (key) => this.inner.delete(key);
  head: ObjectStore["head"] = (key) => this.inner.head!(key);
  describe = (): string => this.inner.describe();
  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    const page = await this.inner.list(prefix, options);
    this.keys += page.objects.length;
    return page;
  }
}

const memory = new MemoryStore();
const counter = new KeyCounter(
  latencyMs === 0 ? memory : new LatencyStore(memory, { latencyMs, ops: ["get", "list", "head"] }),
);
const store: ObjectStore = counter;
const fill = await Queue.open(memory, "q", { logger: silentLogger });
const payload = new Uint8Array(payloadBytes).fill(7);
for (let i = 0; i < jobs; i += 1_000)
  await fill.enqueueMany(
    "work",
    Array.from({ length: Math.min(1_000, jobs - i) }, () => ({ payload })),
  );
await fill.close(); // a checkpoint of every job
const live = await Queue.open(memory, "q", {
  logger: silentLogger,
  ...(backlog > 0 ? { log: { checkpointWalBatches: 256, gcMinAgeMs: 3_600_000 } } : {}),
});
for (let i = 0; i < backlog; i++) await live.enqueue("backlog", payload);

/** Starts timing the turns of the event loop; the returned function stops and gives the longest (ms). */
function longestTurn(): () => number {
  let last = performance.now();
  let longest = 0;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  };
  const timer = setInterval(tick, 1);
  return () => {
    tick();
    clearInterval(timer);
    return Math.round(longest * 10) / 10;
  };
}

const gc = (globalThis as { gc?: () => void }).gc;
const mb = (n: number): number => Math.round(n / 1e5) / 10;
function printMemory(label: string): void {
  gc?.();
  const m = process.memoryUsage();
  console.log(
    `memory ${label}: rss ${mb(m.rss)} MB, heapUsed ${mb(m.heapUsed)} MB, arrayBuffers ${mb(m.arrayBuffers)} MB${gc === undefined ? " (no --expose-gc)" : ""}`,
  );
}

async function timed(
  kind: Sample["kind"],
  round: number,
  read: () => Promise<QueueReader>,
): Promise<QueueReader> {
  const stop = longestTurn();
  const keysBefore = counter.keys;
  const started = performance.now();
  const reader = await read();
  const ms = performance.now() - started;
  const turnMs = stop();
  const { counts, requests, bytesRead } = reader.storeRequests();
  const sample: Sample = {
    kind,
    round,
    ms: Math.round(ms * 10) / 10,
    turnMs,
    gets: counts.get,
    lists: counts.list,
    requests,
    bytesRead,
    keys: counter.keys - keysBefore,
  };
  samples.push(sample);
  console.log(JSON.stringify(sample));
  return reader;
}

const samples: Sample[] = [];
let reader = await QueueReader.open(store, "q");
printMemory("after open");
for (let round = 0; round <= rounds; round++) {
  for (let i = 0; i < fresh; i++) await live.enqueue("work", payload);
  const claim = await live.claim("work");
  await live.ack(claim!);
  const full = () => timed("full", round, () => QueueReader.open(store, "q"));
  const reopen = async () => {
    reader = await timed("reopen", round, () => reader.reopen());
  };
  if (round % 2 === 1) {
    await full();
    await reopen();
  } else {
    await reopen();
    await full();
  }
  reader = await timed("idle", round, () => reader.reopen());
  if (reader.stats("work").pending !== jobs + (round + 1) * (fresh - 1))
    throw new Error(`round ${round}: the reader missed jobs`);
}
for (let i = 0; i < burst; i += 1_000)
  await live.enqueueMany(
    "work",
    Array.from({ length: Math.min(1_000, burst - i) }, () => ({ payload })),
  );
const before = reader;
reader = await timed("burst", rounds + 1, () => reader.reopen());
await live.close();
printMemory("after the burst reopen (newest reader held)");
let started = performance.now();
before.stats("work");
const rebuildMs = Math.round((performance.now() - started) * 10) / 10;
started = performance.now();
before.stats("work");
const againMs = Math.round((performance.now() - started) * 10) / 10;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
console.log(
  `jobs=${jobs} new=${fresh} latencyMs=${latencyMs} backlog=${backlog} rounds=${rounds} (round 0, the first hand-on, left out of the medians)`,
);
for (const kind of ["full", "reopen", "idle"] as const) {
  const of = samples.filter((s) => s.kind === kind && s.round > 0);
  console.log(
    `${kind.padEnd(6)} median ${median(of.map((s) => s.ms))} ms (${of.map((s) => s.ms).join(", ")}), longest turn median ${median(of.map((s) => s.turnMs))} ms max ${Math.max(...of.map((s) => s.turnMs))}, GETs ${median(of.map((s) => s.gets))}, LISTs ${median(of.map((s) => s.lists))}, keys listed ${median(of.map((s) => s.keys))}, bytes read ${median(of.map((s) => s.bytesRead))}`,
  );
}
const first = samples.find((s) => s.kind === "reopen" && s.round === 0)!;
console.log(
  `first reopen: ${first.ms} ms, longest turn ${first.turnMs} ms, ${first.bytesRead} bytes read`,
);
const burstSample = samples.find((s) => s.kind === "burst")!;
console.log(
  `burst reopen (${burst} new jobs): ${burstSample.ms} ms, longest turn ${burstSample.turnMs} ms, GETs ${burstSample.gets}, bytes read ${burstSample.bytesRead}`,
);
console.log(
  `old reader read after its state was taken on: ${rebuildMs} ms (one turn), then ${againMs} ms`,
);
if (reader.stats("work").pending !== before.stats("work").pending + burst)
  throw new Error("the burst reopen missed jobs");
