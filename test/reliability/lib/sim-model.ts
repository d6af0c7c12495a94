/**
 * What the simulation knows for sure about the store, learned only from
 * acknowledged operations, and the checks that follow from it.
 */
import { TaqubaError } from "../../../src/errors.js";
import { MissingPayloadError } from "../../../src/queue/payload-object.js";
import type { Queue } from "../../../src/queue/queue.js";
import type { Claim, JobAttempt, JobRecord } from "../../../src/queue/types.js";
import { FlowTrees } from "./sim-flow-model.js";

interface ClaimSeen {
  seq: number;
  id: string;
  attempts: number;
}

export class SimModel {
  /** Enqueue acknowledged; nothing attempted since that could remove the job. */
  readonly mustExist = new Set<string>();
  /** Ack (without keep) or cancel→removed acknowledged: must never come back. */
  readonly gone = new Set<string>();
  /** deadLetter acknowledged, no requeue attempted since. */
  readonly mustBeDead = new Set<string>();
  /** Ack or cancel attempted (outcome maybe unknown): never expected to exist again. */
  readonly removalAttempted = new Set<string>();
  /** Attempts a durable claim recorded; requeue of a dead job resets it. */
  readonly minAttempts = new Map<string, number>();
  /** Queues whose pause was acknowledged, with no resume attempted since. */
  readonly mustBePaused = new Set<string>();
  /** Acknowledged acks per queue: the cumulative done counter is at least this. */
  readonly ackedDone = new Map<string, number>();
  readonly ids: string[] = [];
  /** KV writes acknowledged (keys are written once), with no delete attempted since. */
  readonly kvMustHave = new Map<string, string>();
  /** KV keys a delete was attempted on. */
  readonly kvTouched = new Set<string>();
  /** KV keys that must be absent: deleted (acknowledged), or put by a transaction that was refused. */
  readonly kvGone = new Set<string>();
  /** Job ids of enqueues in transactions that were refused: they must never exist. */
  readonly neverJobs = new Set<string>();
  /** The flows known to exist (acknowledged, or found whole after a reopen): their trees and payloads. */
  readonly flows = new FlowTrees();
  /** Jobs a durable claim was handed out for (their enqueue is durable). */
  readonly everDelivered = new Set<string>();
  /** Jobs a requeue from dead was attempted on. */
  readonly requeueAttempted = new Set<string>();
  #claims: ClaimSeen[] = [];
  #seq = 0;

  /** Sequence number of an operation about to be issued. */
  nextSeq(): number {
    return ++this.#seq;
  }

  enqueued(id: string): void {
    if (!this.ids.includes(id)) this.ids.push(id);
    if (!this.removalAttempted.has(id)) this.mustExist.add(id);
  }

  /** A claim was handed out (at `seq`, default: now). Returns a violation, if any. */
  claimed(claim: Pick<Claim, "id" | "attempts">, seq = this.nextSeq()): string | null {
    const problem = this.gone.has(claim.id)
      ? `job ${claim.id} was delivered again after its ack/cancel was acknowledged`
      : null;
    this.#claims.push({ seq, id: claim.id, attempts: claim.attempts });
    return problem;
  }

  /**
   * A claim was handed out by `claim()`: it is durable (claims resolve only
   * then), so its attempt counts and its job's enqueue is durable too — the
   * job must exist from now on unless something tries to remove it.
   */
  delivered(claim: Pick<Claim, "id" | "attempts">): string | null {
    const problem = this.claimed(claim);
    this.everDelivered.add(claim.id);
    this.durableBefore(this.nextSeq());
    if (!this.removalAttempted.has(claim.id) && !this.gone.has(claim.id))
      this.mustExist.add(claim.id);
    return problem;
  }

  /** An awaited write issued at `seq` resolved: every claim seen before it is durable. */
  durableBefore(seq: number): void {
    const keep: ClaimSeen[] = [];
    for (const c of this.#claims) {
      if (c.seq < seq)
        this.minAttempts.set(c.id, Math.max(this.minAttempts.get(c.id) ?? 0, c.attempts));
      else keep.push(c);
    }
    this.#claims = keep;
  }

  /** The process went away: its claims not yet known durable may be lost, so expect nothing of them. */
  forgetPendingClaims(): void {
    this.#claims = [];
  }

  /**
   * A removal of `id` is attempted. Removing a flow job (a cancel, or a
   * removal by status) may take the jobs under it along: expect nothing of
   * them either.
   */
  removing(id: string): void {
    for (const each of this.flows.subtree(id)) {
      this.removalAttempted.add(each);
      this.mustExist.delete(each);
      this.mustBeDead.delete(each);
    }
  }

  /**
   * A flow job took the id of a job whose removal was attempted (so the
   * removal landed before the flow's commit): what the model knew of the
   * old job no longer holds, and the new one is not checked.
   */
  idReused(id: string): void {
    this.removalAttempted.add(id);
    this.mustExist.delete(id);
    this.gone.delete(id);
    this.cancelled.delete(id);
    this.results.delete(id);
    this.mustBeDead.delete(id);
    this.minAttempts.delete(id);
  }

  /** Acks with a result acknowledged: the job stays done with it (until its retention). */
  readonly results = new Map<string, string>();

  completedWithResult(id: string, queue: string, result: string): void {
    this.results.set(id, result);
    this.ackedDone.set(queue, (this.ackedDone.get(queue) ?? 0) + 1);
  }

  removed(id: string, queue: string | null): void {
    this.gone.add(id);
    if (queue !== null) this.ackedDone.set(queue, (this.ackedDone.get(queue) ?? 0) + 1);
  }

  /**
   * Cancels acknowledged as "removed": the job's tombstone answers
   * `waitForCompletion` with "cancelled" and keeps its history, ending with
   * the cancel. (Runs use the default resultRetentionMs of a day, which no
   * run lasts, and never reuse an id.)
   */
  readonly cancelled = new Set<string>();

  cancelledJob(id: string): void {
    this.removed(id, null);
    this.cancelled.add(id);
  }

  /** A claim is released: the attempt it counted is given back (the lower bound drops with it). */
  releasing(claim: Pick<Claim, "id" | "attempts">): void {
    this.#claims = this.#claims.filter((c) => c.id !== claim.id);
    const min = this.minAttempts.get(claim.id);
    if (min !== undefined) this.minAttempts.set(claim.id, Math.min(min, claim.attempts - 1));
  }

  kvPut(key: string, value: string): void {
    if (!this.kvTouched.has(key)) this.kvMustHave.set(key, value);
  }

  kvDeleting(key: string): void {
    this.kvTouched.add(key);
    this.kvMustHave.delete(key);
  }

  kvDeleted(key: string): void {
    this.kvGone.add(key);
  }

  /** A transaction was refused (nothing of it applied): its KV key and job ids never exist. */
  neverApplied(key: string, jobIds: readonly string[]): void {
    this.kvGone.add(key);
    for (const id of jobIds) this.neverJobs.add(id);
  }

  /** Requeues called that took job `id` along, by job. */
  readonly #requeueCalls = new Map<string, number>();

  /** How many requeues called so far took job `id` along. */
  requeueCalls(id: string): number {
    return this.#requeueCalls.get(id) ?? 0;
  }

  requeueing(id: string): void {
    this.#requeueCalls.set(id, this.requeueCalls(id) + 1);
    this.requeueAttempted.add(id);
    this.mustBeDead.delete(id);
    this.minAttempts.delete(id);
    this.#claims = this.#claims.filter((c) => c.id !== id);
  }

  /**
   * Job `id` through the public API; a read that fails other than by the
   * queue being closed, fenced or failed (a payload object gone, say) is a
   * violation, not a crash of the simulation: undefined then.
   */
  async #read(queue: Queue, id: string, problems: string[]): Promise<JobRecord | null | undefined> {
    try {
      return await queue.getJob(id);
    } catch (error) {
      const failed =
        error instanceof TaqubaError && ["FENCED", "STORAGE", "CLOSED"].includes(error.code);
      if (failed && !(error instanceof MissingPayloadError)) throw error;
      problems.push(`job ${id} cannot be read: ${String(error)}`);
      return undefined;
    }
  }

  /** Checks the facts against a live queue; one message per violation. */
  async check(queue: Queue, keepsDone: boolean, resultsKept: boolean): Promise<string[]> {
    const problems: string[] = [];
    for (const id of this.mustExist) {
      const job = await this.#read(queue, id, problems);
      if (job === undefined) continue;
      if (job === null) problems.push(`acknowledged job ${id} is lost`);
      const payload = this.flows.payloads.get(id);
      if (job !== null && payload !== undefined && Buffer.from(job.payload).toString() !== payload)
        problems.push(
          `flow job ${id} reads a ${job.payload.byteLength}-byte payload, not its ${payload.length} bytes`,
        );
    }
    for (const id of this.gone) {
      const job = await this.#read(queue, id, problems);
      if (job === undefined) continue;
      if (job !== null && !(keepsDone && job.status === "done"))
        problems.push(`job ${id} is back as ${job.status} after its ack/cancel was acknowledged`);
    }
    for (const id of this.cancelled) {
      // A tombstone answers at once (timeoutMs 0 only bounds a wait for a job that exists).
      const completion = await queue.waitForCompletion(id, { timeoutMs: 0 });
      if (completion.status !== "cancelled")
        problems.push(`cancelled job ${id} answers ${completion.status}`);
      const last = (await queue.attemptHistory(id)).at(-1);
      if (last?.outcome !== "cancelled")
        problems.push(`cancelled job ${id} has ${last?.outcome ?? "no"} history entry last`);
    }
    for (const [id, result] of this.results) {
      const job = await this.#read(queue, id, problems);
      if (job === undefined) continue;
      if (job === null) {
        if (resultsKept)
          problems.push(`job ${id} acked with a result is gone before its retention`);
        continue; // past its retention
      }
      if (job.status !== "done" || Buffer.from(job.result ?? []).toString() !== result)
        problems.push(`job ${id} acked with a result is ${job.status} with ${String(job.result)}`);
    }
    for (const id of this.mustBeDead) {
      const job = await this.#read(queue, id, problems);
      if (job === undefined) continue;
      if (job?.status !== "dead")
        problems.push(`dead-lettered job ${id} is ${job?.status ?? "gone"}`);
    }
    for (const [id, min] of this.minAttempts) {
      const job = await this.#read(queue, id, problems);
      if (job === undefined) continue;
      if (job !== null && job.attempts < min)
        problems.push(`job ${id} has ${job.attempts} attempts, a durable claim saw ${min}`);
    }
    for (const id of this.ids) {
      const job = await this.#read(queue, id, problems);
      if (job === undefined) continue;
      if (job === null) continue;
      const problem = historyProblem(id, job, await queue.attemptHistory(id));
      if (problem !== null) problems.push(problem);
    }
    for (const [key, value] of this.kvMustHave) {
      const found = await queue.kvGet(key);
      if (found === null || Buffer.from(found).toString() !== value)
        problems.push(`acknowledged KV write of ${key} is ${found === null ? "lost" : "changed"}`);
    }
    for (const key of this.kvGone)
      if ((await queue.kvGet(key)) !== null)
        problems.push(`KV key ${key} exists after its delete or a refused transaction`);
    for (const id of this.neverJobs)
      if (((await this.#read(queue, id, problems)) ?? null) !== null)
        problems.push(`job ${id} of a refused transaction exists: it was applied in part`);
    for (const name of this.mustBePaused)
      if (!(await queue.stats(name)).paused)
        problems.push(`queue ${name} lost its acknowledged pause`);
    for (const [name, acked] of this.ackedDone) {
      const stats = await queue.stats(name);
      if (stats.done < acked)
        problems.push(`queue ${name}: done ${stats.done} < ${acked} acknowledged acks`);
    }
    return problems;
  }
}

/**
 * What the attempt history of a job must look like: at most 100 entries; no
 * entry counts more attempts than the job has had since its last requeue
 * from dead; a dead job's newest entry is `dead_lettered` (or how its last
 * attempt ended: `lease_expired`, `interrupted`, `timed_out`), unless it is a
 * flow parent made dead by a child before any attempt of its own; a done
 * job's `completed`.
 */
const DEAD_OUTCOMES: ReadonlySet<string> = new Set([
  "dead_lettered",
  "lease_expired",
  "interrupted",
  "timed_out",
]);

function historyProblem(id: string, job: JobRecord, history: JobAttempt[]): string | null {
  if (history.length > 100) return `job ${id} has ${history.length} history entries`;
  const sinceRequeue = history.slice(history.map((e) => e.outcome).lastIndexOf("requeued") + 1);
  for (const entry of sinceRequeue)
    if (entry.attempt > job.attempts || entry.attempt < 1)
      return `job ${id} (${job.attempts} attempts) has a ${entry.outcome} entry for attempt ${entry.attempt}`;
  const last = history.at(-1)?.outcome;
  // A flow parent a dead child made dead ended no attempt of its own (it ran none since it
  // was added or requeued).
  const childDied = sinceRequeue.length === 0 && job.lastError?.startsWith("child ") === true;
  if (job.status === "dead" && !DEAD_OUTCOMES.has(last ?? "") && !childDied)
    return `dead job ${id} has ${last ?? "no"} history entry last`;
  if (job.status === "done" && last !== "completed")
    return `done job ${id} has ${last ?? "no"} history entry last`;
  return null;
}
