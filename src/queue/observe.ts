/**
 * The observer seam at the commit boundary. `QueueCore.commit` is the one
 * place every transition passes; when observers are registered it records,
 * for each record it applies, the job as it was just before (the little the
 * record does not carry itself) and why the queue decided it, and hands the
 * list to every observer once the records are durable, in commit order.
 * Events, metrics and traces are observers: they read the applied record,
 * never re-derive a transition.
 *
 * Enqueues are most of the traffic. When no observer asks for a transition
 * per enqueue ({@link CommitObserver.eachEnqueue}), the commit boundary keeps
 * no record of them: it counts them by queue ({@link EnqueueCounts}), and the
 * observers get the counts with the batch's other transitions.
 *
 * Claims and acks are most of the rest. When no observer asks for a
 * transition per claim and ack ({@link CommitObserver.eachClaimAndAck}: the
 * metrics only need how long each waited or ran), the commit boundary keeps
 * them as a queue name and a time each ({@link ClaimAckTimes}; an ack also
 * as its record, for completion waiters): no object per job, no second
 * look-up of the job, no clock read (the records carry their time).
 *
 * Observers never read an enqueue record's payload: it may be the caller's
 * own bytes (a plain enqueue does not copy them), which the caller is free to
 * change once the call returns.
 *
 * A transition's shape is declared in `transition.ts`; `lifecycleOf`
 * (`lifecycle-steps.ts`) turns transitions into the job life-cycle steps
 * that events and metrics share. A new record kind adds its case there (and,
 * when it acts on an existing job, in {@link jobBefore}).
 */
import type { Logger } from "../logger.js";
import { messageOf } from "../util/message.js";
import { flowDeathReason } from "./flow-state.js";
import type { QueueRecord } from "./records/codec.js";
import type { AckRecord, ClaimRecord } from "./records/job.js";
import { Tag } from "./records/tags.js";
import { type State, Status } from "./state.js";
import { Flag, slot } from "./table.js";
import type { JobBefore, Transition } from "./transition.js";
import type { JobStatus } from "./types.js";

/** Enqueues of one log batch counted by queue, not kept as transitions. */
export class EnqueueCounts {
  readonly #counts = new Map<string, number>();
  /** The current run of enqueues into one queue (enqueues come in runs): not yet in the map. */
  #queue: string | undefined = undefined;
  #run = 0;

  /** One more durable enqueue into `queue`. */
  add(queue: string): void {
    if (queue === this.#queue) {
      this.#run++;
      return;
    }
    this.#settle();
    this.#queue = queue;
    this.#run = 1;
  }

  /** The count of each queue. */
  byQueue(): ReadonlyMap<string, number> {
    this.#settle();
    return this.#counts;
  }

  #settle(): void {
    const queue = this.#queue;
    if (queue === undefined) return;
    this.#counts.set(queue, (this.#counts.get(queue) ?? 0) + this.#run);
    this.#queue = undefined;
    this.#run = 0;
  }
}

/**
 * Claims and acks of one log batch kept as numbers, not as transitions (no
 * observer needs each): for each, its queue and how long it took, read from
 * the job's row just before the record applied and from the record's time
 * ({@link elapsedMs}); for each ack also its record (the job's id and result,
 * which completion waiters read) and its place among the batch's
 * transitions. Claims and acks with a cause, and those in transactions, are
 * transitions still.
 */
export class ClaimAckTimes {
  /** The queue of each claim. */
  readonly claimQueues: string[] = [];
  /** Each claim's wait (ms from the job's enqueue), at the same index as its queue. */
  readonly waitsMs: number[] = [];
  /** The queue of each ack. */
  readonly ackQueues: string[] = [];
  /** Each ack's duration (ms from the claim), at the same index as its queue. */
  readonly durationsMs: number[] = [];
  /** Each ack's record (already made: kept, not copied), at the same index as its queue. */
  readonly acks: AckRecord[] = [];
  /**
   * How many of the batch's transitions were committed before each ack, at
   * the same index: its place in commit order, so that an observer can tell
   * the acks and the transitions in the order they happened.
   */
  readonly acksAfter: number[] = [];

  /** One more claim into `queue` that waited `ms`. */
  addClaim(queue: string, ms: number): void {
    this.claimQueues.push(queue);
    this.waitsMs.push(ms);
  }

  /** One more ack, `record`, into `queue` that ran `ms`, committed after `after` of the batch's transitions. */
  addAck(record: AckRecord, queue: string, ms: number, after: number): void {
    this.ackQueues.push(queue);
    this.durationsMs.push(ms);
    this.acks.push(record);
    this.acksAfter.push(after);
  }
}

/**
 * How long the claim or ack `record` of the job in row `h` took, read before
 * the record applies: a claim's wait from the job's enqueue, an ack's
 * duration from its claim (`apply` acks only a claimed job, whose row's time
 * is its claim's), each to the record's own time.
 */
export function elapsedMs(state: State, h: number, record: ClaimRecord | AckRecord): number {
  const page = state.table.read(h);
  const i = slot(h);
  return record.at - (record.tag === Tag.Claim ? page.enqueuedAt[i]! : page.at[i]!);
}

/** Told about every transition once it is durable, in commit order. */
export interface CommitObserver {
  /**
   * `true` when it needs a transition for every enqueue (events); otherwise
   * a batch's enqueues may come as `enqueued` counts instead. Read when the
   * observer is added.
   */
  readonly eachEnqueue: boolean;
  /**
   * `true` when it needs a transition for every claim and ack (events);
   * otherwise a batch's plain claims and acks may come as `times` instead
   * (completion waiters read the acks' records there). Read when the
   * observer is added.
   */
  readonly eachClaimAndAck: boolean;
  /**
   * A durable batch: its transitions in commit order, and, when the commit
   * boundary kept them so instead (not among `transitions`), its enqueues
   * counted by queue and its claims' and acks' times.
   */
  committed(
    transitions: readonly Transition[],
    enqueued: EnqueueCounts | undefined,
    times: ClaimAckTimes | undefined,
  ): void;
}

const STATUS_NAMES: readonly JobStatus[] = ["pending", "scheduled", "claimed", "done", "dead"];

/** The job `record` acts on, read from `state` before the record applies. */
export function jobBefore(state: State, record: QueueRecord): JobBefore | undefined {
  switch (record.tag) {
    case Tag.Claim:
    case Tag.Ack:
    case Tag.Retry:
    case Tag.Dead:
    case Tag.Cancel:
    case Tag.CancelRequest:
    case Tag.RequeueDead:
    case Tag.Release:
    case Tag.Wake:
    case Tag.Remove: {
      // The row the live path told `state.expect` (its id compared; a removal's verified row
      // only checked not to be free), else a look-up: the row `apply` takes for this record.
      const h = state.peekNamed(record.id);
      if (h === -1) return undefined;
      const page = state.table.read(h);
      const i = slot(h);
      const status = page.status[i]!;
      return {
        // `find` matched the id only if it is the job's canonical generated id: its
        // string is at hand (no need to make it again from the row, as `publicIdOf` would).
        id: state.table.extras(h)?.jobId ?? record.id,
        queue: state.queueOf(h).name,
        status: STATUS_NAMES[status]!,
        attempts: page.attempts[i]!,
        enqueuedAt: page.enqueuedAt[i]!,
        claimedAt: status === Status.Claimed ? page.at[i] : undefined,
      };
    }
    default:
      return undefined;
  }
}

/**
 * The waiting flow parents that dead-letter or removal `record` makes dead
 * with its job (`apply` does so in the same step, without a record of their
 * own), each as the dead-letter transition it amounts to, nearest parent
 * first: waiters, events and metrics hear of their end like any other.
 * Empty for other records.
 */
export function cascadedDeaths(state: State, record: QueueRecord, at: number): Transition[] {
  if (record.tag !== Tag.Dead && record.tag !== Tag.Remove) return [];
  const deaths: Transition[] = [];
  const first = state.find(record.id);
  if (first === -1) return deaths;
  // As `apply` has it: a removal without a time (an earlier release's) counts from the enqueue.
  const diedAt =
    record.tag === Tag.Dead
      ? record.at
      : (record.at ?? state.table.read(first).enqueuedAt[slot(first)]!);
  let reason: string | null = record.tag === Tag.Dead ? record.reason : null;
  for (let h = first; h !== -1; ) {
    const parentId = state.table.extras(h)?.flowParent;
    const parent = parentId === undefined ? -1 : state.find(parentId);
    if (
      parent === -1 ||
      (state.table.read(parent).flags[slot(parent)]! & Flag.WaitingChildren) === 0
    )
      break;
    reason = flowDeathReason(state.publicIdOf(h), reason);
    const death: QueueRecord = { tag: Tag.Dead, id: parentId!, at: diedAt, reason };
    deaths.push({ record: death, job: jobBefore(state, death), cause: undefined, at });
    h = parent;
  }
  return deaths;
}

/**
 * The dead flow children that requeue `record` brings back with its job
 * (`apply` requeues them in the same step, without records of their own),
 * each as the requeue transition it amounts to, parents before their
 * children: waiters and events hear of them like any other. Empty for other
 * records.
 */
export function requeuedWith(state: State, record: QueueRecord, at: number): Transition[] {
  if (record.tag !== Tag.RequeueDead) return [];
  const requeued: Transition[] = [];
  // As `reopenDeadChildren` picks them: dead, ended in the list, still linked to the parent.
  const visit = (h: number): void => {
    const flow = state.table.extras(h)?.flow;
    if (flow === undefined) return;
    const id = state.idOf(h);
    for (const child of flow.children) {
      if (!child.ended) continue;
      const c = state.find(child.id);
      if (c === -1 || state.statusOf(c) !== Status.Dead || state.table.extras(c)?.flowParent !== id)
        continue;
      const requeue: QueueRecord = { tag: Tag.RequeueDead, id: child.id, at: record.at };
      requeued.push({ record: requeue, job: jobBefore(state, requeue), cause: undefined, at });
      visit(c);
    }
  };
  const top = state.find(record.id);
  if (top !== -1) visit(top);
  return requeued;
}

/** The registered observers, each guarded so one that throws cannot break the queue or the others. */
export class Observers {
  readonly #list: CommitObserver[] = [];
  readonly #logger: Logger;
  #eachEnqueue = false;
  #eachClaimAndAck = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Whether anyone listens (the commit path skips all bookkeeping when not). */
  get active(): boolean {
    return this.#list.length > 0;
  }

  /** Whether an observer needs a transition per enqueue (else enqueues are only counted). */
  get eachEnqueue(): boolean {
    return this.#eachEnqueue;
  }

  /** Whether an observer needs a transition per claim and ack (else they may come as times). */
  get eachClaimAndAck(): boolean {
    return this.#eachClaimAndAck;
  }

  add(observer: CommitObserver): void {
    if (this.#list.includes(observer)) return;
    this.#list.push(observer);
    this.#eachEnqueue ||= observer.eachEnqueue;
    this.#eachClaimAndAck ||= observer.eachClaimAndAck;
  }

  delete(observer: CommitObserver): void {
    const index = this.#list.indexOf(observer);
    if (index < 0) return;
    this.#list.splice(index, 1);
    this.#eachEnqueue = this.#list.some((o) => o.eachEnqueue);
    this.#eachClaimAndAck = this.#list.some((o) => o.eachClaimAndAck);
  }

  notify(
    transitions: readonly Transition[],
    enqueued: EnqueueCounts | undefined,
    times: ClaimAckTimes | undefined,
  ): void {
    for (const observer of [...this.#list]) {
      try {
        observer.committed(transitions, enqueued, times);
      } catch (error) {
        this.#logger.error(`an observer of committed transitions threw: ${messageOf(error)}`, {
          error,
        });
      }
    }
  }
}
