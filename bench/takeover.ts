/**
 * Takeover under a busy writer (`npm run bench:takeover`): a writer process
 * enqueues as fast as it can; this process opens the same queue, which fences
 * it. Reports how long `Queue.open` took, when the old writer stopped, and the
 * requests the opener made, on Ceph radosgw (S3) and Azurite (Azure), both
 * started on 127.0.0.1 for the run.
 *
 * Each round takes over a fresh queue path, so every round's old writer starts
 * from an empty state. `--warmup-acks` is how many enqueues the old writer has
 * acknowledged when the takeover starts (a list runs each in turn): the longer
 * it ran, the more WAL it wrote since its last checkpoint for the opener to
 * replay. `--in-flight` is the old writer's enqueues in flight (fewer make
 * smaller, more numerous WAL batches).
 *
 * Options: --stores=radosgw,azurite --rounds=10 --warmup-acks=300,5000 --in-flight=64
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { ContainerClient } from "@azure/storage-blob";
import { silentLogger } from "../src/logger.js";
import { Queue } from "../src/queue/queue.js";
import { openStore } from "../src/store/open-store.js";
import { CountingStore } from "../src/store/wrappers/counting.js";
import { startAzurite } from "../test/servers/azurite.js";
import { radosgwAvailability, startRadosgw } from "../test/servers/radosgw.js";
import { parseCommandLine, parseCount, UsageError } from "./lib/args.js";

const WRITER = fileURLToPath(new URL("./takeover/busy-writer.js", import.meta.url));

interface Target {
  name: string;
  version: string;
  url: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

interface Round {
  openMs: number;
  writerStoppedMs: number;
  writerEnded: string;
  puts: number;
  gets: number;
  lists: number;
}

async function radosgwTarget(bucket: string): Promise<Target> {
  const unavailable = await radosgwAvailability();
  if (unavailable !== undefined) throw new Error(unavailable);
  const server = await startRadosgw();
  const client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: server.credentials,
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return {
    name: "radosgw",
    version: `Ceph radosgw ${server.version}`,
    url: `s3://${bucket}/takeover?endpoint=${server.endpoint}&region=us-east-1&forcePathStyle=true`,
    env: {
      AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    },
    stop: server.stop,
  };
}

async function azuriteTarget(container: string): Promise<Target> {
  const server = await startAzurite();
  await new ContainerClient(server.connectionString, container).create();
  return {
    name: "azurite",
    version: "Azurite 3.37.0",
    url: `az://${container}/takeover`,
    env: { AZURE_STORAGE_CONNECTION_STRING: server.connectionString },
    stop: server.stop,
  };
}

interface Writer {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  /** Resolves with the first line matching `pattern` (or "exit" if the writer ended first). */
  waitFor(pattern: RegExp): Promise<string>;
  exited: Promise<number>;
}

function startWriter(target: Target, path: string, inFlight: number): Writer {
  const child = spawn(process.execPath, [WRITER, target.url, path, String(inFlight)], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...target.env },
  });
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let buffered = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  child.stderr.resume();
  const exited = new Promise<number>((resolve) =>
    child.on("close", () => resolve(performance.now())),
  );
  return {
    child,
    lines,
    exited,
    waitFor: (pattern) =>
      new Promise((resolve) => {
        const seen = lines.find((line) => pattern.test(line));
        if (seen !== undefined) return resolve(seen);
        waiters.push({ pattern, resolve });
        void exited.then(() => resolve("exit"));
      }),
  };
}

async function round(
  target: Target,
  path: string,
  warmupAcks: number,
  inFlight: number,
): Promise<Round> {
  const writer = startWriter(target, path, inFlight);
  if ((await writer.waitFor(/^opened$/)) !== "opened")
    throw new Error(`the busy writer did not open: ${writer.lines.join(" | ")}`);
  await writer.waitFor(new RegExp(`^acked ${warmupAcks}$`));
  // This process reaches the store through the same URL and environment as the writer.
  Object.assign(process.env, target.env);
  const store = new CountingStore(await openStore(target.url));
  const started = performance.now();
  const queue = await Queue.open(store, path, { logger: silentLogger });
  const openMs = performance.now() - started;
  const counts = store.snapshot().counts;
  const ended = await Promise.race([
    writer.exited,
    new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), 30_000)),
  ]);
  writer.child.kill("SIGKILL");
  await queue.close();
  return {
    openMs,
    writerStoppedMs: ended - started,
    writerEnded:
      [...writer.lines].reverse().find((line) => line.startsWith("failed")) ?? "still running",
    puts: counts.put,
    gets: counts.get,
    lists: counts.list,
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

const TAKEOVER_STORES = ["radosgw", "azurite"] as const;

async function main(): Promise<void> {
  const { stores, rounds, warmupAcks, inFlight } = parseCommandLine(
    process.argv.slice(2),
    (args) => ({
      stores: args.listOf("stores", TAKEOVER_STORES, TAKEOVER_STORES),
      rounds: args.integer("rounds", 10, 1),
      warmupAcks: args.list("warmup-acks", ["300"]).map((raw) => {
        const acks = parseCount(raw);
        if (acks === undefined)
          throw new UsageError(
            `Expected \`--warmup-acks\` to be a comma-separated list of numbers >= 0, got \`${raw}\``,
          );
        return acks;
      }),
      inFlight: args.integer("in-flight", 64, 1),
    }),
    "Measures how long a second writer takes to take a queue over from a busy one.",
  );
  console.log(
    `# takeover under a busy writer (${inFlight} enqueues in flight): ${rounds} rounds per store and acknowledged count, load ${loadavg()[0]?.toFixed(2)}`,
  );
  const rows: string[] = [];
  for (const name of stores) {
    const target =
      name === "radosgw" ? await radosgwTarget("takeover") : await azuriteTarget("takeover");
    try {
      for (const acks of warmupAcks) {
        const results: Round[] = [];
        for (let i = 0; i < rounds; i++) {
          const result = await round(target, `a${acks}-r${i}-${Date.now()}`, acks, inFlight);
          results.push(result);
          console.log(
            `# ${target.name} ${acks} acked, round ${i + 1}: open ${Math.round(result.openMs)} ms, ` +
              `${result.gets} GETs, old writer stopped ${Math.round(result.writerStoppedMs)} ms, load ${loadavg()[0]?.toFixed(2)}`,
          );
        }
        const ms = (v: number) => `${Math.round(v)} ms`;
        const ended = [...new Set(results.map((r) => r.writerEnded))].join(", ");
        rows.push(
          `| ${target.version} | ${acks} | ${ms(median(results.map((r) => r.openMs)))} | ${ms(Math.max(...results.map((r) => r.openMs)))} | ` +
            `${ms(median(results.map((r) => r.writerStoppedMs)))} | ` +
            `${median(results.map((r) => r.puts))}/${median(results.map((r) => r.gets))}/${median(results.map((r) => r.lists))} | ${ended} |`,
        );
      }
    } finally {
      await target.stop();
    }
  }
  console.log(
    "| store | acknowledged before the takeover | Queue.open median | max | old writer stopped (median) | opener requests (median PUT/GET/LIST) | old writer ended |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
  console.log(`# load after: ${loadavg()[0]?.toFixed(2)}`);
}

await main();
