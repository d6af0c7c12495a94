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
 * a fixed `--latency-ms` per request. The first reopen that brings records
 * also encodes the reader's state once (its lineage's base): it is printed
 * apart from the medians.
 *
 * Options: --jobs=100000 --new=5 --rounds=10 --latency-ms=0 --payload=100
 */
import { performance } from "node:perf_hooks";
import { Queue, QueueReader } from "../src/index.js";
import { silentLogger } from "../src/logger.js";
import { MemoryStore } from "../src/store/memory.js";
import type { ObjectStore } from "../src/store/types.js";
import { LatencyStore } from "../src/store/wrappers/latency.js";
import { Args } from "./lib/args.js";

const args = new Args(process.argv.slice(2));
const jobs = args.number("jobs", 100_000);
const fresh = args.number("new", 5);
const rounds = args.number("rounds", 10);
const latencyMs = args.number("latency-ms", 0);
const payloadBytes = args.number("payload", 100);

interface Sample {
  kind: "full" | "reopen" | "idle";
  round: number;
  ms: number;
  gets: number;
  lists: number;
  requests: number;
  bytesRead: number;
}

const memory = new MemoryStore();
const store: ObjectStore =
  latencyMs === 0 ? memory : new LatencyStore(memory, { latencyMs, ops: ["get", "list", "head"] });
const fill = await Queue.open(memory, "q", { logger: silentLogger });
const payload = new Uint8Array(payloadBytes).fill(7);
for (let i = 0; i < jobs; i += 1_000)
  await fill.enqueueMany(
    "work",
    Array.from({ length: Math.min(1_000, jobs - i) }, () => ({ payload })),
  );
await fill.close(); // a checkpoint of every job
const live = await Queue.open(memory, "q", { logger: silentLogger });

async function timed(
  kind: Sample["kind"],
  round: number,
  read: () => Promise<QueueReader>,
): Promise<QueueReader> {
  const started = performance.now();
  const reader = await read();
  const ms = performance.now() - started;
  const { counts, requests, bytesRead } = reader.storeRequests();
  const sample: Sample = {
    kind,
    round,
    ms: Math.round(ms * 10) / 10,
    gets: counts.get,
    lists: counts.list,
    requests,
    bytesRead,
  };
  samples.push(sample);
  console.log(JSON.stringify(sample));
  return reader;
}

const samples: Sample[] = [];
let reader = await QueueReader.open(store, "q");
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
await live.close();

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
console.log(
  `jobs=${jobs} new=${fresh} latencyMs=${latencyMs} rounds=${rounds} (round 0, the first hand-on, left out of the medians)`,
);
for (const kind of ["full", "reopen", "idle"] as const) {
  const of = samples.filter((s) => s.kind === kind && s.round > 0);
  console.log(
    `${kind.padEnd(6)} median ${median(of.map((s) => s.ms))} ms (${of.map((s) => s.ms).join(", ")}), GETs ${median(of.map((s) => s.gets))}, LISTs ${median(of.map((s) => s.lists))}, bytes read ${median(of.map((s) => s.bytesRead))}`,
  );
}
const first = samples.find((s) => s.kind === "reopen" && s.round === 0)!;
console.log(`first reopen (encodes the base): ${first.ms} ms, ${first.bytesRead} bytes read`);
