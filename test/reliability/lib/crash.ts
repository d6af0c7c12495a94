/**
 * The crash suite's parent side: runs the crash-queue fixture in a child
 * process, SIGKILLs it at a random moment (or lets a poison job kill it),
 * then reads what the child recorded (its journal, `journal.ts`), reopens the
 * store and checks what the acknowledged operations promise.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ManualClock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/logger.js";
import { Queue } from "../../../src/queue/queue.js";
import { FileStore } from "../../../src/store/file.js";
import { seededRandom } from "../../../src/util/random.js";
import { auditPublicApi, auditState, liveState } from "./audit.js";
import { readJournal } from "./journal.js";
import { SimModel } from "./sim-model.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/crash-queue.js", import.meta.url));

export interface CrashReport {
  seed: number;
  rounds: number;
  kills: number;
  /** Rounds that ended because a poison job killed the process itself. */
  poisonCrashes: number;
  acknowledged: number;
  violations: string[];
}

interface Poison {
  attempts: number;
  maxAttempts: number;
}

/** How long {@link runCrashRounds} goes on past its rounds. */
export interface CrashRoundsOptions {
  /**
   * Keep going after `rounds` until more operations than this were
   * acknowledged: on a loaded machine a child does little before its kill.
   * @default 0
   */
  minAcknowledged?: number;
  /** Never more rounds than this. @default rounds */
  maxRounds?: number;
}

/**
 * Runs `rounds` kill-and-reopen rounds on a store in `dir` (an empty
 * directory, which also holds the journals), checking invariants after each.
 */
export async function runCrashRounds(
  dir: string,
  seed: number,
  rounds: number,
  options: CrashRoundsOptions = {},
): Promise<CrashReport> {
  const { minAcknowledged = 0, maxRounds = rounds } = options;
  const storeDir = join(dir, "store");
  const random = seededRandom(seed);
  const model = new SimModel();
  const poison = new Map<string, Poison>();
  const report: CrashReport = {
    seed,
    rounds: 0,
    kills: 0,
    poisonCrashes: 0,
    acknowledged: 0,
    violations: [],
  };
  const violation = (round: number, message: string): void => {
    report.violations.push(`round ${round}: ${message}`);
  };
  const more = (round: number): boolean =>
    round < rounds || (round < maxRounds && report.acknowledged <= minAcknowledged);
  for (let round = 0; more(round) && report.violations.length === 0; round++) {
    const killAfterMs = 30 + Math.floor(random() * 300);
    const childSeed = (seed + round * 104_729) >>> 0;
    const { lines, selfKilled } = await runChild(
      FIXTURE,
      [storeDir, String(childSeed)],
      join(dir, `journal-${round}.log`),
      killAfterMs,
    );
    report.rounds++;
    if (selfKilled) report.poisonCrashes++;
    else report.kills++;
    model.forgetPendingClaims(); // every claim the child made that was not made durable may be gone
    for (const line of lines) {
      const problem = apply(model, poison, line);
      if (problem !== null) violation(round, problem);
      if (/^(enq|ack|nack|dead|cancel|poison) /.test(line)) report.acknowledged++;
    }
    // Claims seen durable before the kill were promoted as lines arrived; drop the rest.
    model.forgetPendingClaims();
    // A clock that stands still: no timer changes the state while the audit reads it.
    const queue = await Queue.open(new FileStore(storeDir, { fsync: false }), "q", {
      logger: silentLogger,
      clock: new ManualClock(Date.now()),
    });
    try {
      // Reads answer once the writes before them are durable: let the open's writes land.
      await queue.flush();
      for (const p of auditState(liveState(queue))) violation(round, `state: ${p}`);
      for (const p of await auditPublicApi(queue)) violation(round, `api: ${p}`);
      for (const p of await model.check(queue, false, false)) violation(round, p);
      for (const [id, { attempts, maxAttempts }] of poison) {
        const job = await queue.getJob(id);
        if (attempts >= maxAttempts && job !== null && job.status !== "dead")
          violation(
            round,
            `poison job ${id} crashed the process ${attempts}/${maxAttempts} times and is ${job.status}`,
          );
      }
    } finally {
      await queue.close();
    }
  }
  return report;
}

/** Folds one line of the child's output into the model; returns a violation, if any. */
function apply(model: SimModel, poison: Map<string, Poison>, line: string): string | null {
  const [kind, seqText, id, ...rest] = line.split(" ");
  const seq = Number(seqText);
  if (id === undefined) return null;
  switch (kind) {
    case "enq":
      model.durableBefore(seq);
      model.enqueued(id);
      return null;
    case "claim": {
      const attempts = Number(rest[0]);
      const known = poison.get(id);
      if (known !== undefined && attempts > known.maxAttempts)
        return `poison job ${id} delivered for attempt ${attempts} of ${known.maxAttempts}`;
      return model.claimed({ id, attempts }, seq);
    }
    case "poison":
      poison.set(id, { attempts: Number(rest[0]), maxAttempts: Number(rest[1]) });
      model.durableBefore(seq);
      return null;
    case "ack":
      model.removing(id);
      model.durableBefore(seq);
      model.removed(id, null);
      return null;
    case "nack":
      model.durableBefore(seq);
      return null;
    case "dead":
      model.durableBefore(seq);
      if (!model.removalAttempted.has(id)) model.mustBeDead.add(id);
      return null;
    case "acking":
    case "cancelling":
      model.removing(id);
      return null;
    case "cancel":
      if (rest[0] === "removed") model.cancelledJob(id);
      return null;
    default:
      return null;
  }
}

/**
 * How a child ended: what its journal holds, whether it killed itself, and
 * whether `awaitJournal` (when given) held before the kill.
 */
export interface ChildRun {
  lines: string[];
  selfKilled: boolean;
  /** False when the wait for `awaitJournal` ran out, or the child died first. */
  awaited: boolean;
}

/** When {@link runChild} starts the time to the kill. */
export interface ChildKillOptions {
  /**
   * Start it only once the journal's lines so far pass this check (read every
   * {@link JOURNAL_POLL_MS} from "ready" on), or {@link awaitJournalMs} passed:
   * a round that must see some kind of operation acknowledged gets it however
   * slowly a loaded machine runs the child, and is still killed at a random
   * moment after it.
   */
  awaitJournal?: (lines: readonly string[]) => boolean;
  /**
   * Start it anyway after this long (the child ends itself later); the run
   * then reports `awaited: false`. @default 5_000
   */
  awaitJournalMs?: number;
}

const JOURNAL_POLL_MS = 10;

/**
 * Runs `fixture` with `args` and then `journal` as arguments until it is
 * killed: by us, `killAfterMs` after it prints "ready" on stdout (or after
 * `options.awaitJournal` held), or by itself. Resolves once it is gone, with
 * every line of its journal.
 */
export function runChild(
  fixture: string,
  args: readonly string[],
  journal: string,
  killAfterMs: number,
  options: ChildKillOptions = {},
): Promise<ChildRun> {
  const { awaitJournal, awaitJournalMs = 5_000 } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, ...args, journal], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let killedByUs = false;
    let awaited = awaitJournal === undefined;
    let failed: unknown;
    let ready = false;
    let timer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      killedByUs = true;
      child.kill("SIGKILL");
    };
    const arm = (): void => {
      timer = setTimeout(kill, killAfterMs);
    };
    const armOnceJournaled = (check: (lines: readonly string[]) => boolean, since: number) => {
      try {
        awaited = check(readJournal(journal));
      } catch (error) {
        // A journal that cannot be read fails the run once the child is gone.
        failed = error;
        kill();
        return;
      }
      if (awaited || Date.now() - since >= awaitJournalMs) arm();
      else timer = setTimeout(armOnceJournaled, JOURNAL_POLL_MS, check, since);
    };
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (ready) return;
      stdout += chunk;
      if (!stdout.split("\n").includes("ready")) return;
      ready = true;
      if (awaitJournal === undefined) arm();
      else armOnceJournaled(awaitJournal, Date.now());
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (_code, signal) => {
      clearTimeout(timer);
      if (failed !== undefined) reject(failed);
      else if (signal !== "SIGKILL") reject(new Error(`${fixture} exited on its own: ${stderr}`));
      else {
        try {
          resolve({ lines: readJournal(journal), selfKilled: !killedByUs, awaited });
        } catch (error) {
          reject(error);
        }
      }
    });
  });
}
