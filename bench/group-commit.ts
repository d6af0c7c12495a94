/**
 * Group commit of the log engine on a simulated remote store: how many
 * records share one WAL PUT with N concurrent appenders (each appending in a
 * closed loop), and how many requests an idle log makes.
 *
 * Run: npx tsc -p tsconfig.json && node build/bench/group-commit.js [seconds]
 */
import { performance } from "node:perf_hooks";
import { openLog } from "../src/log/index.js";
import { silentLogger } from "../src/logger.js";
import { MemoryStore } from "../src/store/memory.js";
import { CountingStore } from "../src/store/wrappers/counting.js";
import { LatencyStore } from "../src/store/wrappers/latency.js";

const seconds = Number(process.argv[2] ?? 3);
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

async function measure(latencyMs: number, appenders: number): Promise<Row> {
  const counting = new CountingStore(new LatencyStore(new MemoryStore(), { latencyMs }));
  const { log } = await openLog(counting, "bench", { logger: silentLogger });
  counting.reset();
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < until) {
      const started = performance.now();
      await log.append(record);
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: appenders }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const puts = counting.snapshot().counts.put;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.floor(q * (latencies.length - 1))] ?? 0;
  return {
    latencyMs,
    appenders,
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
const idleMs = 5_000;
console.log(`requests made by an idle log over ${idleMs / 1000} s: ${await idleRequests(idleMs)}`);
for (const batches of [0, 100, 1000]) {
  const { ms, requests } = await reopenMs(batches);
  console.log(
    `reopen with ${batches} WAL batches to replay (25 ms store): ${Math.round(ms)} ms, ${requests} requests`,
  );
}
