/**
 * `taquba demo`: enqueues a mix of jobs on a local file store and processes
 * them with a concurrent worker, printing what it does and live progress
 * (a bar on a terminal, plain lines otherwise: `progress.ts`);
 * a second run resumes what the first left unfinished.
 */
import { silentLogger } from "../logger.js";
import { MAX_TRANSACTION_OPS } from "../queue/options.js";
import type { Queue } from "../queue/queue.js";
import type { Claim, QueueStats } from "../queue/types.js";
import { MAX_TIMESTAMP_MS } from "../queue/validate.js";
import { redactStoreLocation } from "../util/redact.js";
import { storeUrlScheme } from "../util/store-url.js";
import { turnLater } from "../util/timers.js";
import { integerRange } from "../validate.js";
import { PermanentFailure } from "../worker/permanent-failure.js";
import { runWorker } from "../worker/run-worker.js";
import { badFlag, defineCommand, nonNegativeInt, positiveInt } from "./args.js";
import { DEFAULT_DATA_DIR, DEFAULT_STORE_PATH, DEMO_QUEUE } from "./defaults.js";
import { listenForInterrupt } from "./interrupt.js";
import { type CliIO, nowOf, UsageError } from "./io.js";
import { Progress } from "./progress.js";
import {
  HELP_OPTION_HELP,
  openWriter,
  positionals,
  STORE_OPTIONS,
  STORE_PATH_HELP,
  toJson,
} from "./store-args.js";
import { ansiCQuoted, holdsControlOrFormat, quoted, shown } from "./terminal-text.js";

const HELP = `Usage: taquba demo [options]

Runs a producer and a concurrent worker on a local file store (a directory)
and shows live progress. Run it again to resume from the same store. Ctrl-C
stops it soon, in any phase, and exits with status 130; output no longer read
(demo | head) stops it the same way, with status 0. Either way it closes the
store cleanly first.

With --json it prints no progress, only one JSON object at the end: the
store and path, what it enqueued and processed, whether it was interrupted,
what is left ("left": jobs still to enqueue and unfinished ones) and the
demo queue's final counters ("stats", as \`taquba stats --json\` prints them).

Options:
  --jobs <n>             jobs to enqueue when nothing is left to resume (default 5000)
  --concurrency <n>      jobs processed at once (default 32)
  --schedule-ms <ms>     how far ahead scheduled jobs run (default 3000)
  --store <url>          a directory or file:///abs/dir (default ${DEFAULT_DATA_DIR})
  --dir <dir>            the same as --store <dir>
${STORE_PATH_HELP}
  --json                 print one JSON summary at the end instead of text
  --take-over            run even when another writer of the store is live, fencing
                         it (it fails on its next write); without it the demo refuses
${HELP_OPTION_HELP}
`;

/** Job kinds, spread over the enqueued jobs by index. */
type Kind = "ok" | "scheduled" | "flaky" | "poison";

/** The job mix in percent (multiples of 5, adding up to 100) and what each kind does. */
const MIX: ReadonlyArray<{ kind: Kind; percent: number; does: (scheduleMs: number) => string }> = [
  { kind: "ok", percent: 75, does: () => "succeed at once" },
  { kind: "scheduled", percent: 10, does: (ms) => `run ${ms} ms after enqueue` },
  { kind: "flaky", percent: 10, does: () => "fail once, then succeed" },
  { kind: "poison", percent: 5, does: () => "fail permanently (dead-lettered)" },
];

/** One kind per 5 % slot: job `n` is of kind `SLOTS[n % 20]`. */
const SLOTS: readonly Kind[] = MIX.flatMap(({ kind, percent }) =>
  Array.from({ length: percent / 5 }, () => kind),
);

function kindOf(n: number): Kind {
  return SLOTS[n % SLOTS.length]!;
}

function describeMix(scheduleMs: number): string {
  return MIX.map((m) => `${m.percent}% ${m.does(scheduleMs)}`).join(", ");
}

/** Deliveries the demo's handler saw. */
interface Deliveries {
  processed: number;
  failures: number;
}

function unfinished(stats: QueueStats): number {
  return stats.pending + stats.scheduled + stats.claimed;
}

function formatStats(stats: QueueStats): string {
  return `done ${stats.done}  dead ${stats.dead}  pending ${stats.pending}  scheduled ${stats.scheduled}  claimed ${stats.claimed}`;
}

export const demoCommand = defineCommand({
  name: "demo",
  summary: "enqueue a few thousand jobs and process them with a concurrent worker",
  help: HELP,
  options: {
    ...STORE_OPTIONS,
    "take-over": { type: "boolean" },
    dir: { type: "string" },
    jobs: { type: "string" },
    concurrency: { type: "string" },
    "schedule-ms": { type: "string" },
  },
  async run(parsed, io) {
    const { values } = parsed;
    positionals(parsed.positionals, []);
    if (values.dir !== undefined && values.store !== undefined)
      throw new UsageError("--dir is the same as --store <dir>: give one of them");
    const jobs = positiveInt(values.jobs, "jobs", 5_000);
    const concurrency = positiveInt(values.concurrency, "concurrency", 32);
    const scheduleMs = scheduleMsFlag(values["schedule-ms"], nowOf(io));
    const storeUrl = values.store ?? values.dir ?? DEFAULT_DATA_DIR;
    // By its scheme, before any store is built (a remote one would want credentials first).
    // A one-letter scheme is a Windows drive, a path.
    const scheme = storeUrlScheme(storeUrl);
    if (scheme !== undefined && scheme !== "file")
      throw badFlag(
        values.store === undefined ? "dir" : "store",
        "a directory or a file:/// URL (the demo runs on a local file store)",
        redactStoreLocation(storeUrl),
      );
    const path = values.path ?? DEFAULT_STORE_PATH;
    // The flags that name this store, for the commands it suggests.
    const storeFlags = [
      ...(values.store === undefined && values.dir === undefined ? [] : ["--store", storeUrl]),
      ...(values.path === undefined ? [] : ["--path", path]),
    ];
    const command = (...args: string[]): string =>
      ["npx", "taquba", ...args, ...storeFlags].map(shellWord).join(" ");
    // With --json, only the summary at the end.
    const text: CliIO =
      values.json === true ? { out: () => {}, err: io.err, interactive: false } : io;

    const openedAt = performance.now();
    // As every writing command: refused while another writer is live, unless --take-over.
    const queue = await openWriter(
      { store: storeUrl, path: values.path, create: true, "take-over": values["take-over"] },
      io,
      "demo",
      { defaultQueueConfig: { retryBackoffBaseMs: 500, maxAttempts: 3 } },
    );
    const found = await queue.stats(DEMO_QUEUE);
    text.out(
      `Opened ${shown(storeUrl)} (path ${quoted(path)}) in ${Math.round(performance.now() - openedAt)} ms: ${formatStats(found)}\n`,
    );

    // Output no longer read (`demo | head`) stops it as Ctrl-C does, closing the store.
    const interrupt = listenForInterrupt(io.outputClosed);
    try {
      let plan = await readPlan(queue);
      if (plan !== null) {
        if (values.jobs !== undefined && jobs !== plan.total)
          io.err(
            `taquba demo: --jobs ${jobs} ignored: resuming the earlier run of ${plan.total} jobs\n`,
          );
        text.out(
          `Resuming: ${plan.total - plan.next} of ${plan.total} jobs still to enqueue, ${unfinished(found)} unfinished.\n`,
        );
      } else if (unfinished(found) > 0) {
        text.out(`Resuming: ${unfinished(found)} unfinished jobs from an earlier run.\n`);
      } else {
        plan = { next: 0, total: jobs };
        text.out(`Enqueuing ${jobs} jobs on queue "${DEMO_QUEUE}": ${describeMix(scheduleMs)}.\n`);
      }
      let enqueued = 0;
      let toEnqueue = 0;
      if (plan !== null) {
        const started = performance.now();
        const upTo = await enqueueDemoJobs(queue, plan, scheduleMs, interrupt.signal, text);
        const seconds = (performance.now() - started) / 1000;
        enqueued = upTo - plan.next;
        text.out(
          `Enqueued ${enqueued} jobs in ${seconds.toFixed(2)} s (${Math.round(enqueued / Math.max(seconds, 0.001))} jobs/s).\n`,
        );
        toEnqueue = plan.total - upTo;
      }
      let result: Awaited<ReturnType<typeof processAll>> | undefined;
      if (!interrupt.signal.aborted) {
        text.out(`Processing with a worker running ${concurrency} jobs at a time.\n`);
        result = await processAll(queue, concurrency, interrupt.signal, text);
      }
      const final = await queue.stats(DEMO_QUEUE);
      text.out(`Final: ${formatStats(final)}\n`);
      if (result !== undefined)
        text.out(
          `Processed ${result.progress.processed} deliveries (${result.progress.failures} failed) in ${result.seconds.toFixed(2)} s: ${Math.round(result.progress.processed / Math.max(result.seconds, 0.001))} deliveries/s.\n`,
        );
      const interrupted = interrupt.signal.aborted;
      const rest = unfinished(final);
      const resume = interrupted && toEnqueue + rest > 0 ? command("demo") : undefined;
      if (resume !== undefined) {
        const todo =
          toEnqueue > 0
            ? `${toEnqueue} jobs still to enqueue, ${rest} unfinished`
            : `${rest} unfinished jobs`;
        text.out(`Interrupted: ${todo}; run "${resume}" again to finish them.\n`);
      } else if (interrupted) text.out("Interrupted, with nothing left to do.\n");
      text.out(
        `Look at the store: ${command("stats")}, ${command("dead", DEMO_QUEUE)}, ${command("dashboard")}\n`,
      );
      if (values.json === true)
        io.out(
          toJson({
            store: storeUrl,
            path,
            queue: DEMO_QUEUE,
            enqueued,
            processed: result?.progress.processed ?? 0,
            failed: result?.progress.failures ?? 0,
            seconds: Math.round((result?.seconds ?? 0) * 1000) / 1000,
            interrupted,
            left: { toEnqueue, unfinished: rest },
            ...(resume === undefined ? {} : { resume }),
            stats: final,
          }),
        );
      return interrupted ? interrupt.exitCode : 0;
    } finally {
      interrupt.dispose();
      await queue.close();
    }
  },
});

/**
 * `--schedule-ms`: scheduled jobs run that long after they are enqueued, so
 * that time must be one a job can hold (within the `Date` range). Checked
 * before the store is opened, under the flag's name, as `enqueue --run-at` is.
 */
function scheduleMsFlag(value: string | undefined, now: number): number {
  const ms = nonNegativeInt(value, "schedule-ms", 3_000);
  // A day short of the end of the range: the jobs are enqueued a while after this check.
  const max = Math.max(0, MAX_TIMESTAMP_MS - 86_400_000 - now);
  if (ms > max) throw badFlag("schedule-ms", integerRange(0, max), value!);
  return ms;
}

/**
 * `word` as one shell word: as is when it is plain, else in single quotes, or
 * in ANSI-C quotes with escapes when it holds a control or format character
 * (which the terminal must not be given).
 */
function shellWord(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  if (holdsControlOrFormat(word)) return ansiCQuoted(word);
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * The enqueue phase in progress, kept in the queue store's KV namespace with
 * each chunk of jobs (in the same transaction), so a run interrupted while
 * enqueuing resumes exactly where it stopped. Absent once every job is in.
 */
interface Plan {
  /** Index of the next job to enqueue. */
  next: number;
  /** Jobs the run enqueues in all. */
  total: number;
}

const PLAN_KEY = "taquba-demo/enqueue";

async function readPlan(queue: Queue): Promise<Plan | null> {
  const value = await queue.kvGet(PLAN_KEY);
  return value === null ? null : (JSON.parse(Buffer.from(value).toString("utf8")) as Plan);
}

/**
 * Enqueues jobs `plan.next` up to `plan.total`, one transaction per chunk
 * that also records how far it got; stops after the chunk in flight once
 * `stop` aborts. Resolves with the index of the next job not enqueued.
 */
async function enqueueDemoJobs(
  queue: Queue,
  plan: Plan,
  scheduleMs: number,
  stop: AbortSignal,
  io: CliIO,
): Promise<number> {
  // A transaction holds at most MAX_TRANSACTION_OPS operations: the jobs and the plan.
  const chunk = MAX_TRANSACTION_OPS - 1;
  const progress = new Progress(io, { label: "Enqueuing", total: plan.total });
  let next = plan.next;
  if (next > 0) progress.update(next);
  while (next < plan.total && !stop.aborted) {
    const start = next;
    const end = Math.min(plan.total, start + chunk);
    const now = queue.clock.now();
    await queue.transaction((tx) => {
      for (let n = start; n < end; n++) {
        const kind = kindOf(n);
        const payload = JSON.stringify({ n, kind });
        tx.enqueue(
          DEMO_QUEUE,
          payload,
          kind === "scheduled"
            ? { runAt: now + scheduleMs, headers: { kind } }
            : { headers: { kind } },
        );
      }
      if (end < plan.total) tx.kvPut(PLAN_KEY, JSON.stringify({ next: end, total: plan.total }));
      else tx.kvDelete(PLAN_KEY);
    });
    next = end;
    progress.update(next);
  }
  progress.finish(next);
  return next;
}

async function processAll(
  queue: Queue,
  concurrency: number,
  shutdown: AbortSignal,
  io: CliIO,
): Promise<{ progress: Deliveries; seconds: number }> {
  const progress: Deliveries = { processed: 0, failures: 0 };
  const started = performance.now();
  // Stops when every job is settled, or at an interrupt (also one that came before this phase).
  const finished = new AbortController();
  const stop = (): void => finished.abort();

  const handler = async (job: Claim): Promise<void> => {
    progress.processed += 1;
    // Simulated work: yield to the event loop like real I/O would.
    await new Promise<void>((resolve) => turnLater(resolve));
    const kind = job.headers.kind;
    if (kind === "poison") {
      progress.failures += 1;
      throw new PermanentFailure("poison message (demo)");
    }
    if (kind === "flaky" && job.attempts === 1) {
      progress.failures += 1;
      throw new Error("transient failure (demo)");
    }
  };
  const worker = runWorker(queue, DEMO_QUEUE, handler, {
    concurrency,
    pollIntervalMs: 100,
    signal: AbortSignal.any([shutdown, finished.signal]),
    logger: silentLogger,
  });

  // Settled: done or dead. The bar runs to every job unfinished at the start.
  const atStart = await queue.stats(DEMO_QUEUE);
  const settledAtStart = atStart.done + atStart.dead;
  const bar = new Progress(io, { label: "Processing", total: unfinished(atStart) });
  let lastTick = { at: started, processed: 0 };
  let rate: number | undefined;
  const show = (stats: QueueStats, final: boolean): void => {
    // Rate over the last second or so, so the figure follows the work rather than averaging idle waits.
    const now = performance.now();
    if (now - lastTick.at >= 1_000) {
      rate = Math.round(((progress.processed - lastTick.processed) * 1000) / (now - lastTick.at));
      lastTick = { at: now, processed: progress.processed };
    }
    const settled = stats.done + stats.dead - settledAtStart;
    const detail = `done ${stats.done}  dead ${stats.dead}  scheduled ${stats.scheduled}  failed ${progress.failures}${rate === undefined ? "" : `  ${rate} jobs/s`}`;
    if (final) bar.finish(settled, detail);
    else bar.update(settled, detail);
  };
  const report = async (): Promise<void> => {
    const stats = await queue.stats(DEMO_QUEUE);
    if (unfinished(stats) === 0) stop();
    else show(stats, false);
  };
  const ticker = setInterval(() => void report().catch(stop), 250);
  try {
    await worker;
  } finally {
    clearInterval(ticker);
  }
  show(await queue.stats(DEMO_QUEUE), true);
  return { progress, seconds: (performance.now() - started) / 1000 };
}
