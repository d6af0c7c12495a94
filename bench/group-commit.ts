/**
 * Group commit of the log engine on a simulated remote store: how many
 * records share one WAL PUT with N concurrent appenders (each appending in a
 * closed loop), the same at a fixed arrival rate (open loop: 1,000 appends/s),
 * and how many requests an idle log makes.
 *
 * Run: npx tsc -p tsconfig.json && node build/bench/group-commit.js [seconds]
 * (`--check-args`: check the command line, run nothing).
 */
import { performance } from "node:perf_hooks";
import { openLog } from "../src/log/index.js";
import { silentLogger } from "../src/logger.js";
import { MemoryStore } from "../src/store/memory.js";
import { CountingStore } from "../src/store/wrappers/counting.js";
import { LatencyStore } from "../src/store/wrappers/latency.js";
import { parseNumberArgument } from "./lib/args.js";

const seconds = parseNumberArgument(
  process.argv.slice(2),
  "seconds",
  3,
  (n) => n > 0,
  "a number > 0",
  "Measures group commit in the log: records per WAL PUT with N appenders, and an idle log's requests.",
);
const record = new Uint8Array(64);

interface Row {
  latencyMs: number;
  appenders: number;
  records: number;
  puts: number;
  perPut: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** How the appenders of one row append. */
interface Shape {
  /** Records per append call (all land in one batch). @default 1 */
  recordsPerAppend?: number;
  /** The log's `maxWritesInFlight`; the library default when absent. */
  maxWritesInFlight?: number;
  /** Start the appenders spread over one store latency instead of all at once. */
  staggered?: boolean;
}

async function measure(latencyMs: number, appenders: number, shape: Shape = {}): Promise<Row> {
  const counting = new CountingStore(new LatencyStore(new MemoryStore(), { latencyMs }));
  const { log } = await openLog(counting, "bench", {
    logger: silentLogger,
    ...(shape.maxWritesInFlight === undefined
      ? {}
      : { maxWritesInFlight: shape.maxWritesInFlight }),
  });
  counting.reset();
  const perAppend = shape.recordsPerAppend ?? 1;
  const records = Array.from({ length: perAppend }, () => record);
  const latencies: number[] = [];
  let appended = 0;
  const until = performance.now() + seconds * 1000;
  const loop = async (index: number): Promise<void> => {
    if (shape.staggered === true)
      await new Promise((resolve) => setTimeout(resolve, (latencyMs * index) / appenders));
    while (performance.now() < until) {
      const started = performance.now();
      await log.append(records);
      appended += perAppend;
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: appenders }, (_, i) => loop(i)));
  const elapsed = (performance.now() - started) / 1000;
  const puts = counting.snapshot().counts.put;
  await log.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.floor(q * (latencies.length - 1))] ?? 0;
  return {
    latencyMs,
    appenders,
    records: appended,
    puts,
    perPut: appended / puts,
    perSecond: appended / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

/** Appends arriving at `rate` per second regardless of completions (open loop). */
async function openLoop(latencyMs: number, rate: number): Promise<Row> {
  const counting = new CountingStore(new LatencyStore(new MemoryStore(), { latencyMs }));
  const { log } = await openLog(counting, "bench", { logger: silentLogger });
  counting.reset();
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent++) {
      const t0 = performance.now();
      pending.push(log.append(record).then(() => void latencies.push(performance.now() - t0)));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - started) / 1000;
  const puts = counting.snapshot().counts.put;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.floor(q * (latencies.length - 1))] ?? 0;
  return {
    latencyMs,
    appenders: 0,
    records: latencies.length,
    puts,
    perPut: latencies.length / puts,
    perSecond: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

async function idleRequests(idleMs: number): Promise<number> {
  const counting = new CountingStore(new LatencyStore(new MemoryStore(), { latencyMs: 25 }));
  const { log } = await openLog(counting, "bench", { logger: silentLogger });
  log.setSnapshotSource(() => new Uint8Array(16));
  await log.append(record);
  counting.reset();
  await new Promise((resolve) => setTimeout(resolve, idleMs));
  const requests = counting.snapshot().requests;
  await log.close();
  return requests;
}

/** Time to reopen (fence + recover) on a 25 ms store, with `batches` WAL batches to replay. */
async function reopenMs(batches: number): Promise<{ ms: number; requests: number }> {
  const inner = new MemoryStore();
  const { log } = await openLog(inner, "bench", { logger: silentLogger, flushIntervalMs: 0 });
  for (let i = 0; i < batches; i++) await log.append(record);
  const counting = new CountingStore(new LatencyStore(inner, { latencyMs: 25 }));
  const started = performance.now();
  const reopened = await openLog(counting, "bench", { logger: silentLogger });
  const ms = performance.now() - started;
  if (reopened.records.length !== batches) throw new Error("replay lost records");
  return { ms, requests: counting.snapshot().requests };
}

const rows: Row[] = [];
for (const [latencyMs, appenders] of [
  [25, 1],
  [25, 10],
  [25, 100],
  [25, 1000],
  [5, 1000],
  [100, 1000],
] as const) {
  rows.push(await measure(latencyMs, appenders));
}
console.log(`closed-loop appenders, 64-byte records, ${seconds} s each, default options`);
console.log(
  "| latency | appenders | records | WAL PUTs | records/PUT | records/s | p50 ms | p99 ms |",
);
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.latencyMs} ms | ${r.appenders} | ${r.records} | ${r.puts} | ${r.perPut.toFixed(1)} | ${Math.round(r.perSecond)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} |`,
  );
}
// The store's own PUT latency on this machine now (timers fire late under load).
const raw = new LatencyStore(new MemoryStore(), { latencyMs: 25 });
const putMs: number[] = [];
for (let i = 0; i < 60; i++) {
  const t0 = performance.now();
  await raw.put(`raw/${i}`, record, { ifNoneMatch: "*" });
  putMs.push(performance.now() - t0);
}
putMs.sort((a, b) => a - b);
const rawP50 = putMs[Math.floor(putMs.length / 2)] ?? 0;
const lone = rows.find((r) => r.latencyMs === 25 && r.appenders === 1)!;
console.log(
  `lone sequential producer on the 25 ms store: p50 ${lone.p50Ms.toFixed(1)} ms per append; ` +
    `the store's own PUT p50 ${rawP50.toFixed(1)} ms (ratio ${(lone.p50Ms / rawP50).toFixed(2)})`,
);
const open = await openLoop(25, 1_000);
console.log(
  `open loop, 1,000 appends/s on a 25 ms store: ${open.records} records, ${open.puts} WAL PUTs ` +
    `(${(open.puts / open.records).toFixed(3)} per record), p50 ${open.p50Ms.toFixed(1)} ms, p99 ${open.p99Ms.toFixed(1)} ms`,
);
// Pipelining: few producers, each appending batches big enough to go out as one more
// write in flight, started out of step (as requests arrive), one write in flight vs four.
console.log(
  "few producers on the 25 ms store, each appending 32 records per call, started out of step",
);
console.log("| writes in flight | producers | records | WAL PUTs | records/s | p50 ms | p99 ms |");
console.log("|---:|---:|---:|---:|---:|---:|---:|");
for (const producers of [2, 4, 8]) {
  for (const maxWritesInFlight of [1, 4]) {
    const r = await measure(25, producers, {
      recordsPerAppend: 32,
      maxWritesInFlight,
      staggered: true,
    });
    console.log(
      `| ${maxWritesInFlight} | ${producers} | ${r.records} | ${r.puts} | ${Math.round(r.perSecond)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} |`,
    );
  }
}
const idleMs = 5_000;
console.log(`requests made by an idle log over ${idleMs / 1000} s: ${await idleRequests(idleMs)}`);
for (const batches of [0, 100, 1000]) {
  const { ms, requests } = await reopenMs(batches);
  console.log(
    `reopen with ${batches} WAL batches to replay (25 ms store): ${Math.round(ms)} ms, ${requests} requests`,
  );
}
