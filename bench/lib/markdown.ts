import type { BenchResult } from "./result.js";

interface Column {
  title: string;
  value(r: BenchResult): string | number | boolean | undefined;
}

/** Format a number for a table: integers with thousands separators, small values with 2–3 significant digits. */
export function fmt(value: string | number | boolean | undefined): string {
  if (value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (Number.isInteger(value) || abs >= 100) return Math.round(value).toLocaleString("en-US");
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return "0";
  return value.toPrecision(2);
}

const m = (name: string) => (r: BenchResult) => r.metrics[name];
const p = (name: string) => (r: BenchResult) => r.params[name];
const latency = (name: "p50" | "p95" | "p99") => (r: BenchResult) => r.latency[name];
const common = {
  store: { title: "store", value: (r: BenchResult) => r.target },
  rate: { title: "jobs/s", value: (r: BenchResult) => r.jobsPerSec },
  puts: { title: "PUTs/job", value: (r: BenchResult) => r.traffic?.putsPerJob },
  walPuts: { title: "WAL PUTs/job", value: (r: BenchResult) => r.traffic?.walPutsPerJob },
  walPutLatency: {
    title: "WAL PUT p50 / p99 ms",
    value: (r: BenchResult) =>
      r.traffic === undefined
        ? undefined
        : `${fmt(r.traffic.walPutP50Ms)} / ${fmt(r.traffic.walPutP99Ms)}`,
  },
  bytes: { title: "bytes written/job", value: (r: BenchResult) => r.traffic?.bytesWrittenPerJob },
  rss: { title: "peak RSS MiB", value: (r: BenchResult) => r.peakRssMb },
  load: { title: "load avg", value: (r: BenchResult) => r.loadAvg1m },
  elu: { title: "event loop busy", value: (r: BenchResult) => r.eventLoopUtilization },
};

const COLUMNS: Record<string, Column[]> = {
  claim_drain: [
    common.store,
    { title: "jobs", value: (r) => r.jobs },
    { title: "workers", value: p("workers") },
    { title: "drain jobs/s", value: (r) => r.jobsPerSec },
    { title: "claim p50 ms", value: latency("p50") },
    { title: "claim p95 ms", value: latency("p95") },
    { title: "claim p99 ms", value: latency("p99") },
    { title: "claim p99 first/last/worst tenth ms", value: (r) => sliceTriple(r) },
    {
      title: "claim() call p50 / p99 ms",
      value: (r) => pair(r, "claimCallP50Ms", "claimCallP99Ms"),
    },
    { title: "ack p99 ms", value: m("ackP99Ms") },
    common.puts,
    common.walPutLatency,
    common.bytes,
    common.rss,
    common.elu,
    common.load,
  ],
  claim_batch: [
    common.store,
    { title: "jobs", value: (r) => r.jobs },
    { title: "loops×batch", value: (r) => `${r.params.workers}×${r.params.batch}` },
    { title: "drain jobs/s", value: (r) => r.jobsPerSec },
    { title: "claimBatch p50 ms", value: latency("p50") },
    { title: "claimBatch p99 ms", value: latency("p99") },
    { title: "mean batch", value: m("meanBatchSize") },
    { title: "batch ack p99 ms", value: m("batchAckP99Ms") },
    common.puts,
    common.walPutLatency,
    common.bytes,
    common.rss,
    common.elu,
    common.load,
  ],
  steady_state: [
    common.store,
    { title: "schedule s:rate", value: p("schedule") },
    { title: "workers", value: p("workers") },
    { title: "offered/s", value: m("offeredPerSec") },
    { title: "achieved/s", value: m("achievedPerSec") },
    { title: "achieved/s per segment", value: (r) => segments(r) },
    { title: "e2e p50 ms", value: latency("p50") },
    { title: "e2e p95 ms", value: latency("p95") },
    { title: "e2e p99 ms", value: latency("p99") },
    { title: "enqueue p99 ms", value: m("enqueueP99Ms") },
    {
      title: "claim p99 ms",
      // No sample: every claim was served to a worker already waiting for a job.
      value: (r) =>
        r.metrics.claimSamples === 0 || (r.metrics.claimP50Ms === 0 && r.metrics.claimP99Ms === 0)
          ? undefined
          : r.metrics.claimP99Ms,
    },
    { title: "backlog max", value: m("backlogMax") },
    { title: "backlog at end", value: m("backlogAtPhaseEnd") },
    common.walPuts,
    common.walPutLatency,
    common.bytes,
    common.rss,
    common.elu,
    common.load,
  ],
  ceiling: [
    common.store,
    { title: "producers×batch", value: (r) => `${r.params.producers}×${r.params.batch}` },
    { title: "workers", value: p("workers") },
    { title: "sustained jobs/s", value: (r) => r.jobsPerSec },
    { title: "enqueued/s", value: m("enqueuedPerSec") },
    { title: "enq→handler p50 ms", value: latency("p50") },
    { title: "enq→handler p99 ms", value: latency("p99") },
    { title: "backlog at end", value: m("backlogEnd") },
    common.walPuts,
    common.walPutLatency,
    common.bytes,
    common.rss,
    common.elu,
    common.load,
  ],
  cold_start: [
    common.store,
    { title: "close", value: p("mode") },
    { title: "live jobs", value: p("live") },
    { title: "history", value: p("history") },
    { title: "open ms", value: m("openMs") },
    { title: "open CPU ms", value: m("openCpuMs") },
    { title: "first claim ms", value: m("firstClaimMs") },
    { title: "warm claim p50 ms", value: latency("p50") },
    { title: "warm claim p99 ms", value: latency("p99") },
    { title: "heap+buffers B/live job", value: m("heldBytesPerLiveJob") },
    { title: "RSS B/live job", value: m("rssBytesPerLiveJob") },
    { title: "GETs", value: (r) => r.traffic?.gets },
    { title: "stored MiB", value: m("storedMiB") },
    common.rss,
    common.elu,
    common.load,
  ],
  payload_sweep: [
    common.store,
    { title: "payload B", value: p("payloadBytes") },
    { title: "jobs", value: (r) => r.jobs },
    common.rate,
    { title: "MiB/s", value: m("enqueueMBps") },
    { title: "write amp", value: m("writeAmplification") },
    { title: "WAL amp", value: m("walWriteAmplification") },
    common.puts,
    common.bytes,
    { title: "e2e p50 ms", value: latency("p50") },
    { title: "e2e p99 ms", value: latency("p99") },
    { title: "ack p99 ms", value: m("ackP99Ms") },
    common.walPutLatency,
    common.rss,
    common.elu,
    common.load,
  ],
  end_to_end: [
    { title: "system", value: (r) => r.target },
    { title: "jobs", value: p("jobs") },
    { title: "concurrency", value: p("concurrency") },
    { title: "enqueue jobs/s", value: m("enqueuePerSec") },
    { title: "process jobs/s", value: m("processPerSec") },
    { title: "end-to-end jobs/s", value: (r) => r.jobsPerSec },
    common.puts,
    common.rss,
    common.elu,
    common.load,
  ],
};

function sliceTriple(r: BenchResult): string {
  return [
    r.metrics.claimP99FirstSliceMs,
    r.metrics.claimP99LastSliceMs,
    r.metrics.claimP99MaxSliceMs,
  ]
    .map(fmt)
    .join(" / ");
}

/** `segmentNAchievedPerSec` of a ramp, in order: "1,999 / 9,986 / 20,003". */
function segments(r: BenchResult): string | undefined {
  const rates: string[] = [];
  for (let i = 1; r.metrics[`segment${i}AchievedPerSec`] !== undefined; i++)
    rates.push(fmt(r.metrics[`segment${i}AchievedPerSec`]));
  return rates.length > 1 ? rates.join(" / ") : undefined;
}

function pair(r: BenchResult, a: string, b: string): string {
  return `${fmt(r.metrics[a])} / ${fmt(r.metrics[b])}`;
}

/** A markdown table of results of one workload. */
export function markdownTable(workload: string, results: readonly BenchResult[]): string {
  const columns = COLUMNS[workload];
  if (columns === undefined) return "";
  const header = `| ${columns.map((c) => c.title).join(" | ")} |`;
  const rule = `|${columns.map(() => "---").join("|")}|`;
  const rows = results.map((r) => `| ${columns.map((c) => fmt(c.value(r))).join(" | ")} |`);
  return [header, rule, ...rows].join("\n");
}

/** Tables for every workload present, in a fixed order, each under a heading. */
export function markdownReport(results: readonly BenchResult[]): string {
  const sections: string[] = [];
  for (const workload of Object.keys(COLUMNS)) {
    const mine = results.filter((r) => r.workload === workload);
    if (mine.length > 0) sections.push(`### ${workload}\n\n${markdownTable(workload, mine)}`);
  }
  return sections.join("\n\n");
}
