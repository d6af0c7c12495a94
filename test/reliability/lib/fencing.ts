/**
 * The fencing suite's parent side: writer processes open one store (a local
 * directory, or Azurite through the cloud adapter) in turn,
 * each while the previous one is still writing. The older must always end
 * FENCED, and no job it had acknowledged may be missing afterwards.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../../../src/logger.js";
import { Queue } from "../../../src/queue/queue.js";
import { openStore } from "../../../src/store/open-store.js";
import { auditState, liveState } from "./audit.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/fence-writer.js", import.meta.url));

export interface FencingReport {
  handovers: number;
  /** Longest time from starting the newer writer to the older one's exit (open + fencing). */
  maxTakeoverMs: number;
  acknowledged: number;
  violations: string[];
}

export interface Writer {
  child: ChildProcessWithoutNullStreams;
  acks: string[];
  lines: string[];
  opened: Promise<void>;
  exited: Promise<void>;
  /** Resolves once `n` more acks arrived. */
  acksAfter(n: number): Promise<void>;
}

/** Where the writers meet: a store URL (or directory) and the environment it needs. */
export interface FencingTarget {
  url: string;
  env?: Record<string, string>;
}

/** Start a writer process on `target`; its stdout lines are collected as they arrive. */
export function startWriter(target: FencingTarget): Writer {
  const child = spawn(process.execPath, [FIXTURE, target.url], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...target.env },
  });
  const acks: string[] = [];
  const lines: string[] = [];
  const watchers: Array<{ count: number; resolve: () => void }> = [];
  let onOpened: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    onOpened = resolve;
  });
  let buffered = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (line === "opened") onOpened();
      if (line.startsWith("ack ")) acks.push(line.slice(4));
      for (const w of watchers.filter((w) => acks.length >= w.count)) w.resolve();
    }
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) =>
    child.on("close", (code, signal) => {
      lines.push(`exit ${code ?? signal}${stderr === "" ? "" : `: ${stderr.slice(0, 500)}`}`);
      resolve();
    }),
  );
  // A writer that dies before opening must not hang the suite.
  void exited.then(() => onOpened());
  return {
    child,
    acks,
    lines,
    opened,
    exited,
    acksAfter: (n) =>
      new Promise<void>((resolve) => {
        const count = acks.length + n;
        if (acks.length >= count) resolve();
        else watchers.push({ count, resolve });
        void exited.then(resolve);
      }),
  };
}

/** `handovers` times, a new writer process opens the store while the previous one writes. */
export async function runFencing(target: FencingTarget, handovers: number): Promise<FencingReport> {
  const report: FencingReport = { handovers: 0, maxTakeoverMs: 0, acknowledged: 0, violations: [] };
  const acked: string[] = [];
  let current = startWriter(target);
  await current.opened;
  for (let round = 0; round < handovers; round++) {
    await current.acksAfter(20);
    const started = performance.now();
    const next = startWriter(target);
    await next.opened;
    await current.exited;
    report.maxTakeoverMs = Math.max(report.maxTakeoverMs, performance.now() - started);
    report.handovers++;
    const last = current.lines.at(-2); // the line before "exit …"
    if (last !== "failed FENCED")
      report.violations.push(
        `round ${round}: the older writer ended with "${last}", expected "failed FENCED" (${current.lines.at(-1)})`,
      );
    acked.push(...current.acks);
    current = next;
  }
  await current.acksAfter(10);
  current.child.kill("SIGKILL");
  await current.exited;
  acked.push(...current.acks);
  report.acknowledged = acked.length;

  const store = await openStore(target.url, {
    env: { ...process.env, ...target.env },
    file: { fsync: false },
  });
  const queue = await Queue.open(store, "q", { logger: silentLogger });
  try {
    for (const p of auditState(liveState(queue))) report.violations.push(`state: ${p}`);
    const missing = [];
    for (const id of acked) if ((await queue.getJob(id)) === null) missing.push(id);
    if (missing.length > 0)
      report.violations.push(
        `${missing.length} acknowledged jobs lost, e.g. ${missing.slice(0, 3).join(", ")}`,
      );
    const stats = await queue.stats("jobs");
    if (stats.pending < acked.length)
      report.violations.push(`pending ${stats.pending} < ${acked.length} acknowledged enqueues`);
  } finally {
    await queue.close();
  }
  return report;
}
